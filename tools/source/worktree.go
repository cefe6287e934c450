package source

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"

	"github.com/capiform/capiform/tools/diag"
)

// ErrSymlink is why a path that is a symbolic link is not read: a link in a
// pull request can point anywhere on the machine that runs capiform, so
// capiform follows none, in the work tree and in git revisions alike.
var ErrSymlink = errors.New("is a symbolic link, which capiform never follows: put the file or folder itself in the repository")

// ErrSubmodule is why a path that is a git submodule is not read: its
// content is another repository's, not this revision's.
var ErrSubmodule = errors.New("is a git submodule, which capiform does not read: put the files themselves in the repository")

// ErrNotRegular is why a path that is neither a file nor a folder (a pipe, a
// device, a socket) is not read: reading it could block or read the machine.
var ErrNotRegular = errors.New("is not a regular file or folder: remove it")

// ModeSubmodule is the type of a git submodule in a directory listing of a
// revision or the work tree: a folder (so that a walk does not pass over it
// but fails on it) that is irregular (so that it can be told apart).
const ModeSubmodule = fs.ModeDir | fs.ModeIrregular

// IsSubmodule reports whether a listed entry's type is a submodule's.
func IsSubmodule(mode fs.FileMode) bool { return mode&ModeSubmodule == ModeSubmodule }

// Refused returns why capiform does not read the entry d listed at p (a
// PathError wrapping ErrSymlink or ErrSubmodule), or nil when it may read
// it.
func Refused(p string, d fs.DirEntry) error {
	switch t := d.Type(); {
	case IsSubmodule(t):
		return &fs.PathError{Op: "open", Path: p, Err: ErrSubmodule}
	case t&fs.ModeSymlink != 0:
		return &fs.PathError{Op: "open", Path: p, Err: ErrSymlink}
	}
	return nil
}

// Worktree returns the repository's work tree at dir, uncommitted changes
// included. It reads nothing outside dir and follows no symbolic link, not
// even one that stays inside: opening a path any part of which is a link
// fails with ErrSymlink, a path in a git submodule (a folder that git
// records as one, or that holds a .git of its own) with ErrSubmodule, and
// a pipe or device with ErrNotRegular, each naming the part at fault.
// Listings show links as links and submodules with ModeSubmodule.
func Worktree(dir string) fs.FS {
	w := &worktreeFS{dir: dir}
	w.root, w.rootErr = os.OpenRoot(dir)
	return w
}

// worktreeFS reads through an os.Root, so that nothing outside dir can be
// reached even if the tree changes while it is read; on top of that it
// checks every part of a path with Lstat and refuses links.
type worktreeFS struct {
	dir     string
	root    *os.Root
	rootErr error

	gitlinksOnce sync.Once
	gitlinks     map[string]bool // submodules recorded in git's index

	plainDirs sync.Map // folder -> true: checked, neither link nor submodule
}

var (
	_ fs.ReadDirFS  = (*worktreeFS)(nil)
	_ fs.StatFS     = (*worktreeFS)(nil)
	_ fs.ReadLinkFS = (*worktreeFS)(nil)
)

// submodules reads the paths that git's index records as submodules. A
// submodule that was not checked out is an empty folder in the work tree
// (CI systems check out without submodules by default): only the index
// tells it from an empty folder.
func (w *worktreeFS) submodules() map[string]bool {
	w.gitlinksOnce.Do(func() {
		w.gitlinks = map[string]bool{}
		repo, err := git.PlainOpenWithOptions(w.dir, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
		if err != nil {
			return // not the root of a git work tree: no index
		}
		idx, err := repo.Storer.Index()
		if err != nil {
			return
		}
		for _, e := range idx.Entries {
			if e.Mode == filemode.Submodule {
				w.gitlinks[e.Name] = true
			}
		}
	})
	return w.gitlinks
}

// check refuses a path any part of which is a link or a submodule, and
// returns what the path itself is.
func (w *worktreeFS) check(op, name string) (fs.FileInfo, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if w.rootErr != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: unwrapPath(w.rootErr)}
	}
	if name == "." {
		return w.root.Stat(".")
	}
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		last := i == len(parts)-1
		if !last {
			if _, ok := w.plainDirs.Load(p); ok {
				continue
			}
		}
		fi, err := w.root.Lstat(p)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: unwrapPath(err)}
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, &fs.PathError{Op: op, Path: p, Err: ErrSymlink}
		case fi.IsDir():
			if w.isSubmodule(p) {
				return nil, &fs.PathError{Op: op, Path: p, Err: ErrSubmodule}
			}
			w.plainDirs.Store(p, true)
		case !last:
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		case !fi.Mode().IsRegular():
			return nil, &fs.PathError{Op: op, Path: p, Err: ErrNotRegular}
		}
		if last {
			return fi, nil
		}
	}
	return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// isSubmodule reports whether the folder p is a submodule: recorded as one
// by git, or the root of a repository of its own.
func (w *worktreeFS) isSubmodule(p string) bool {
	if w.submodules()[p] {
		return true
	}
	_, err := w.root.Lstat(p + "/.git")
	return err == nil
}

// unwrapPath drops the os.Root's own PathError so that the caller's names
// the path relative to the repository.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (w *worktreeFS) Open(name string) (fs.File, error) {
	if _, err := w.check("open", name); err != nil {
		return nil, err
	}
	f, err := w.root.Open(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrapPath(err)}
	}
	return &worktreeFile{File: f, fsys: w, name: name}, nil
}

func (w *worktreeFS) Stat(name string) (fs.FileInfo, error) { return w.check("stat", name) }

// Lstat is Stat, but a link at name itself is described, not refused.
func (w *worktreeFS) Lstat(name string) (fs.FileInfo, error) {
	if err := w.checkParent("lstat", name); err != nil {
		return nil, err
	}
	fi, err := w.root.Lstat(name)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: unwrapPath(err)}
	}
	return fi, nil
}

// ReadLink returns a link's target, as text: it is never followed.
func (w *worktreeFS) ReadLink(name string) (string, error) {
	if err := w.checkParent("readlink", name); err != nil {
		return "", err
	}
	t, err := w.root.Readlink(name)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: unwrapPath(err)}
	}
	return t, nil
}

func (w *worktreeFS) checkParent(op, name string) error {
	if !fs.ValidPath(name) || name == "." {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if dir := path.Dir(name); dir != "." {
		fi, err := w.check(op, dir)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	} else if w.rootErr != nil {
		return &fs.PathError{Op: op, Path: name, Err: unwrapPath(w.rootErr)}
	}
	return nil
}

func (w *worktreeFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := w.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, ok := f.(fs.ReadDirFile)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	entries, err := d.ReadDir(-1)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, err
}

// worktreeFile marks the submodules in its listings.
type worktreeFile struct {
	*os.File
	fsys *worktreeFS
	name string
}

func (f *worktreeFile) ReadDir(n int) ([]fs.DirEntry, error) {
	entries, err := f.File.ReadDir(n)
	for i, e := range entries {
		if e.IsDir() && e.Type()&fs.ModeSymlink == 0 && f.fsys.isSubmodule(path.Join(f.name, e.Name())) {
			entries[i] = submoduleEntry{name: e.Name()}
		}
	}
	if n <= 0 && err == io.EOF {
		err = nil
	}
	return entries, err
}

// submoduleEntry is a submodule in a listing.
type submoduleEntry struct{ name string }

func (e submoduleEntry) Name() string      { return e.name }
func (e submoduleEntry) IsDir() bool       { return true }
func (e submoduleEntry) Type() fs.FileMode { return ModeSubmodule }
func (e submoduleEntry) Info() (fs.FileInfo, error) {
	return fileInfo{name: e.name, mode: ModeSubmodule}, nil
}

// Diagnostic turns a read that this package refused (a link, a submodule, a
// file that is not regular) into the problem it is with the revision: a
// diagnostic at the path at fault, with the rule load.symlink,
// load.submodule or load.not-regular. ok is false for any other error.
func Diagnostic(err error) (d diag.Diagnostic, ok bool) {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return d, false
	}
	var rule string
	switch {
	case errors.Is(err, ErrSymlink):
		rule = "load.symlink"
	case errors.Is(err, ErrSubmodule):
		rule = "load.submodule"
	case errors.Is(err, ErrNotRegular):
		rule = "load.not-regular"
	default:
		return d, false
	}
	var l diag.List
	l.Add(diag.Pos{File: pe.Path}, rule, "%s", pe.Err)
	return l[0], true
}
