package source

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Digest sums the files under dir of fsys: their paths and contents, not
// their modes. The work tree and a git revision that hold the same files
// have the same digest; for a revision it is computed from git's object
// names, without reading a file. Folders named in skip (relative to dir)
// are left out. A dir that does not exist has the digest "".
func Digest(fsys fs.FS, dir string, skip ...string) (string, error) {
	blobs := map[string]plumbing.Hash{}
	var err error
	if t, ok := fsys.(*treeFS); ok {
		t.mu.Lock()
		err = treeBlobs(t, dir, skip, blobs)
		t.mu.Unlock()
	} else {
		err = fsBlobs(fsys, dir, skip, blobs)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(blobs))
	for n := range blobs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\n", n, blobs[n])
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

func skipped(rel string, skip []string) bool {
	for _, s := range skip {
		if rel == s || strings.HasPrefix(rel, s+"/") {
			return true
		}
	}
	return false
}

// treeBlobs lists the blobs under dir of a git tree by their object names.
func treeBlobs(t *treeFS, dir string, skip []string, out map[string]plumbing.Hash) error {
	tree := t.tree
	if dir != "." && dir != "" {
		sub, err := t.tree.Tree(dir)
		if err != nil {
			if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
				return fs.ErrNotExist
			}
			return err
		}
		tree = sub
	}
	var walk func(tree *object.Tree, prefix string) error
	walk = func(tree *object.Tree, prefix string) error {
		for _, e := range tree.Entries {
			rel := path.Join(prefix, e.Name)
			if skipped(rel, skip) {
				continue
			}
			switch e.Mode {
			case filemode.Dir:
				sub, err := tree.Tree(e.Name)
				if err != nil {
					return err
				}
				if err := walk(sub, rel); err != nil {
					return err
				}
			case filemode.Submodule:
			default:
				out[rel] = e.Hash
			}
		}
		return nil
	}
	return walk(tree, "")
}

// fsBlobs lists the files under dir by the object names git would give
// their contents.
func fsBlobs(fsys fs.FS, dir string, skip []string, out map[string]plumbing.Hash) error {
	if _, err := fs.Stat(fsys, dir); err != nil {
		return err
	}
	return fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p, dir), "/")
		if rel != "" && skipped(rel, skip) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out[rel] = plumbing.ComputeHash(plumbing.BlobObject, data)
		return nil
	})
}
