// Package source reads the repository, either the work tree or a revision
// straight from git's object store, through one fs.FS so that every stage
// behaves the same on both.
package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Revision returns the tree of a git revision (a branch, tag, commit, or an
// expression such as HEAD~1 or origin/main) of the repository that holds
// dir, read from the object store without touching the work tree.
func Revision(dir, rev string) (fs.FS, plumbing.Hash, error) {
	repo, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("opening git repository at %s: %w", dir, err)
	}
	h, err := repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		hint := ""
		if shallow, _ := repo.Storer.Shallow(); len(shallow) > 0 {
			hint = " (this clone is shallow and lacks older commits: fetch with full history, e.g. git fetch --unshallow)"
		}
		return nil, plumbing.ZeroHash, fmt.Errorf("resolving revision %q: %w%s", rev, err, hint)
	}
	commit, err := repo.CommitObject(*h)
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", h, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, plumbing.ZeroHash, fmt.Errorf("reading tree of %s: %w", h, err)
	}
	return &treeFS{tree: tree, mu: &sync.Mutex{}}, *h, nil
}

// treeFS is a git tree as an fs.FS. It is safe for concurrent use: go-git's
// trees fill caches and read the object store without locks of their own,
// so every call into go-git holds mu (parsing what was read needs no lock).
type treeFS struct {
	tree *object.Tree
	mu   *sync.Mutex
}

var _ fs.ReadDirFS = (*treeFS)(nil)

func (t *treeFS) Open(name string) (fs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &dirFile{info: fileInfo{name: ".", mode: fs.ModeDir | 0o755}, tree: t.tree, mu: t.mu}, nil
	}
	entry, err := t.tree.FindEntry(name)
	if err != nil {
		return nil, t.missing(name)
	}
	switch entry.Mode {
	case filemode.Symlink:
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrSymlink}
	case filemode.Submodule:
		return nil, &fs.PathError{Op: "open", Path: name, Err: ErrSubmodule}
	}
	info := entryInfo(entry)
	if entry.Mode == filemode.Dir {
		sub, err := t.tree.Tree(name)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &dirFile{info: info, tree: sub, mu: t.mu}, nil
	}
	f, err := t.tree.File(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	r, err := f.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	info.size = int64(len(data))
	return &regFile{info: info, Reader: bytes.NewReader(data)}, nil
}

// missing is the error for a path that is not in the tree: ErrSymlink or
// ErrSubmodule naming the part of the path that is one (git stores no
// tree beneath it), or else fs.ErrNotExist. Called with mu held.
func (t *treeFS) missing(name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		e, err := t.tree.FindEntry(p)
		if err != nil {
			break
		}
		switch e.Mode {
		case filemode.Symlink:
			return &fs.PathError{Op: "open", Path: p, Err: ErrSymlink}
		case filemode.Submodule:
			return &fs.PathError{Op: "open", Path: p, Err: ErrSubmodule}
		case filemode.Dir:
			continue
		}
		break
	}
	return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (t *treeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := t.Open(name)
	if err != nil {
		return nil, err
	}
	d, ok := f.(*dirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return d.ReadDir(-1)
}

func entryInfo(e *object.TreeEntry) fileInfo {
	mode := fs.FileMode(0o644)
	switch e.Mode {
	case filemode.Dir:
		mode = fs.ModeDir | 0o755
	case filemode.Executable:
		mode = 0o755
	case filemode.Symlink:
		mode = fs.ModeSymlink | 0o777
	case filemode.Submodule:
		mode = ModeSubmodule | 0o755
	}
	return fileInfo{name: path.Base(e.Name), mode: mode}
}

type fileInfo struct {
	name string
	size int64
	mode fs.FileMode
}

func (i fileInfo) Name() string               { return i.name }
func (i fileInfo) Size() int64                { return i.size }
func (i fileInfo) Mode() fs.FileMode          { return i.mode }
func (i fileInfo) ModTime() time.Time         { return time.Time{} }
func (i fileInfo) IsDir() bool                { return i.mode.IsDir() }
func (i fileInfo) Sys() any                   { return nil }
func (i fileInfo) Type() fs.FileMode          { return i.mode.Type() }
func (i fileInfo) Info() (fs.FileInfo, error) { return i, nil }

type regFile struct {
	info fileInfo
	*bytes.Reader
}

func (f *regFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *regFile) Close() error               { return nil }

type dirFile struct {
	info    fileInfo
	tree    *object.Tree
	mu      *sync.Mutex   // the treeFS's
	entries []fs.DirEntry // sorted, read on first use
	read    bool
	offset  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.name, Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }

// ReadDir follows fs.ReadDirFile: n <= 0 returns the rest at once; n > 0
// at most n entries, and io.EOF at the end.
func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		d.read = true
		d.mu.Lock()
		for i := range d.tree.Entries {
			// Submodules are listed (as ModeSubmodule) so that whoever
			// reads the folder reports them instead of passing over them.
			info := entryInfo(&d.tree.Entries[i])
			if !info.IsDir() {
				if f, err := d.tree.TreeEntryFile(&d.tree.Entries[i]); err == nil {
					info.size = f.Size
				}
			}
			d.entries = append(d.entries, info)
		}
		d.mu.Unlock()
		sort.Slice(d.entries, func(i, j int) bool { return strings.Compare(d.entries[i].Name(), d.entries[j].Name()) < 0 })
	}
	rest := d.entries[d.offset:]
	if n <= 0 {
		d.offset = len(d.entries)
		return append([]fs.DirEntry(nil), rest...), nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(rest))
	d.offset += n
	return append([]fs.DirEntry(nil), rest[:n]...), nil
}
