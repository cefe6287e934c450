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
	if err != nil {
		if isMissing(err) {
			return "", nil
		}
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

// missingError marks a folder that does not exist.
type missingError struct{ error }

func (e missingError) Unwrap() error { return e.error }

func isMissing(err error) bool {
	var m missingError
	return errors.As(err, &m)
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
			// A link or a submodule where the folder should be is not a
			// missing folder, which would read as unchanged.
			if e, ferr := t.tree.FindEntry(dir); ferr == nil && e.Mode != filemode.Dir {
				return fmt.Errorf("reading %s: %w", dir, refusal(dir, e.Mode))
			}
			if merr := t.missing(dir); !errors.Is(merr, fs.ErrNotExist) {
				return fmt.Errorf("reading %s: %w", dir, merr)
			}
			if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
				return missingError{fs.ErrNotExist}
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
				// Named by the commit it records: a change of commit
				// is a change, which the render then refuses.
				out[rel] = plumbing.ComputeHash(plumbing.BlobObject, []byte("submodule\x00"+e.Hash.String()))
			default:
				out[rel] = e.Hash
			}
		}
		return nil
	}
	return walk(tree, "")
}

// fsBlobs lists the files under dir by the object names git would give
// their contents. A link is named by its target, as git names it, and never
// followed; anything else that is not a regular file (a pipe, a device, a
// submodule) by its type alone, unread.
func fsBlobs(fsys fs.FS, dir string, skip []string, out map[string]plumbing.Hash) error {
	if _, err := fs.Stat(fsys, dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return missingError{err}
		}
		return err
	}
	err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
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
		switch t := d.Type(); {
		case d.IsDir() && !IsSubmodule(t):
			return nil
		case t.IsRegular():
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			out[rel] = plumbing.ComputeHash(plumbing.BlobObject, data)
		case t&fs.ModeSymlink != 0:
			target, err := fs.ReadLink(fsys, p)
			if err != nil {
				return err
			}
			out[rel] = plumbing.ComputeHash(plumbing.BlobObject, []byte(target))
		case IsSubmodule(t):
			out[rel] = plumbing.ComputeHash(plumbing.BlobObject, []byte("submodule\x00"))
			return fs.SkipDir
		default:
			out[rel] = plumbing.ComputeHash(plumbing.BlobObject, []byte("special\x00"+t.String()))
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		// Something vanished or could not be followed while walking: not a
		// missing folder, which would read as unchanged.
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	return err
}

// refusal is the error for a tree entry that is not a folder where one was
// expected.
func refusal(p string, m filemode.FileMode) error {
	switch m {
	case filemode.Symlink:
		return &fs.PathError{Op: "open", Path: p, Err: ErrSymlink}
	case filemode.Submodule:
		return &fs.PathError{Op: "open", Path: p, Err: ErrSubmodule}
	}
	return &fs.PathError{Op: "open", Path: p, Err: errors.New("not a directory")}
}
