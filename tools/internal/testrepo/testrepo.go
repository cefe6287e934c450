// Package testrepo builds throw-away copies of this repository for tests:
// the chart, the platforms and policies as they are, with clusters/ of the
// test's choosing. The example fleet under clusters/ is the operator's and
// changes with their fleet; tests take the frozen copy under testdata/fleet
// instead, so a valid change to clusters/ never breaks a test.
package testrepo

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Root returns the repository's root folder.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Shared are the folders of the repository that a test repository copies.
var Shared = []string{"charts", "platforms", "policies"}

// FleetDir is the tests' fleet, relative to the repository's root: a
// frozen copy of the example fleet with its generated trees (rewrite them
// with `go test ./tools/pipeline -run TestTestFleetIsCurrent -update`).
const FleetDir = "testdata/fleet"

// New copies the shared folders and, when withTestFleet is set, the test
// fleet (testdata/fleet/clusters) as clusters/ into a temporary folder and
// returns it.
func New(tb testing.TB, withTestFleet bool) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, d := range Shared {
		if err := CopyDir(filepath.Join(Root(), d), filepath.Join(dir, d)); err != nil {
			tb.Fatal(err)
		}
	}
	if withTestFleet {
		if err := CopyDir(filepath.Join(Root(), FleetDir, "clusters"), filepath.Join(dir, "clusters")); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// FleetFS is the repository as tests read it in place: the shared folders
// and everything else from the repository's root, but clusters/ from the
// test fleet. It copies nothing; it is no link either, which the work-tree
// reader would refuse.
func FleetFS() fs.FS { return FleetFSOf(FleetDir) }

// FleetFSOf is FleetFS with clusters/ from another fleet of the
// repository, dir/clusters (dir relative to the root): a package's own
// fleet under testdata/.
func FleetFSOf(dir string) fs.FS {
	return overlay{root: os.DirFS(Root()), fleet: os.DirFS(filepath.Join(Root(), filepath.FromSlash(dir)))}
}

type overlay struct{ root, fleet fs.FS }

func (o overlay) pick(name string) fs.FS {
	if name == "clusters" || strings.HasPrefix(name, "clusters/") {
		return o.fleet
	}
	return o.root
}

func (o overlay) Open(name string) (fs.File, error) { return o.pick(name).Open(name) }

func (o overlay) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return fs.ReadDir(o.pick(name), name)
	}
	// The root lists the test fleet's clusters/, whatever the operator's is.
	root, err := fs.ReadDir(o.root, ".")
	if err != nil {
		return nil, err
	}
	fleet, err := fs.ReadDir(o.fleet, ".")
	if err != nil {
		return nil, err
	}
	var out []fs.DirEntry
	for _, e := range root {
		if e.Name() != "clusters" {
			out = append(out, e)
		}
	}
	for _, e := range fleet {
		if e.Name() == "clusters" {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

func (o overlay) ReadFile(name string) ([]byte, error) { return fs.ReadFile(o.pick(name), name) }

func (o overlay) Stat(name string) (fs.FileInfo, error) { return fs.Stat(o.pick(name), name) }

// CopyDir copies a folder tree; a missing source is not an error.
func CopyDir(src, dst string) error {
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// WriteFiles writes repository-relative files under dir.
func WriteFiles(tb testing.TB, dir string, files map[string][]byte) {
	tb.Helper()
	for p, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(f, data, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// Entry is one entry of a git tree that Commit writes: a file's content, a
// link's target, or a submodule's commit (40 hex digits).
type Entry struct {
	Mode filemode.FileMode
	Data string
}

// Commit makes dir a git repository if it is not one and commits a tree of
// exactly entries (repository-relative paths) on top of HEAD, whatever the
// work tree holds: links and submodules are written as git records them,
// without a link or a submodule on disk. It returns the commit.
func Commit(tb testing.TB, dir string, entries map[string]Entry) plumbing.Hash {
	tb.Helper()
	repo, err := git.PlainOpen(dir)
	if err != nil {
		if repo, err = git.PlainInit(dir, false); err != nil {
			tb.Fatal(err)
		}
	}
	st := repo.Storer
	var write func(prefix string) plumbing.Hash
	write = func(prefix string) plumbing.Hash {
		children := map[string]object.TreeEntry{}
		for p, e := range entries {
			rel, ok := strings.CutPrefix(p, prefix)
			if !ok {
				continue
			}
			name, _, sub := strings.Cut(rel, "/")
			if sub {
				if _, done := children[name]; !done {
					children[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: write(prefix + name + "/")}
				}
				continue
			}
			var h plumbing.Hash
			if e.Mode == filemode.Submodule {
				h = plumbing.NewHash(e.Data)
			} else {
				obj := st.NewEncodedObject()
				obj.SetType(plumbing.BlobObject)
				w, _ := obj.Writer()
				w.Write([]byte(e.Data))
				w.Close()
				if h, err = st.SetEncodedObject(obj); err != nil {
					tb.Fatal(err)
				}
			}
			children[name] = object.TreeEntry{Name: name, Mode: e.Mode, Hash: h}
		}
		t := &object.Tree{}
		for _, c := range children {
			t.Entries = append(t.Entries, c)
		}
		// git sorts a folder's entries as if folders' names ended in '/'.
		sortName := func(e object.TreeEntry) string {
			if e.Mode == filemode.Dir {
				return e.Name + "/"
			}
			return e.Name
		}
		sort.Slice(t.Entries, func(i, j int) bool { return sortName(t.Entries[i]) < sortName(t.Entries[j]) })
		obj := st.NewEncodedObject()
		if err := t.Encode(obj); err != nil {
			tb.Fatal(err)
		}
		h, err := st.SetEncodedObject(obj)
		if err != nil {
			tb.Fatal(err)
		}
		return h
	}
	tree := write("")
	sig := object.Signature{Name: "t", Email: "t@example.org", When: time.Unix(0, 0)}
	c := &object.Commit{Author: sig, Committer: sig, Message: "test", TreeHash: tree}
	if head, err := repo.Head(); err == nil {
		c.ParentHashes = []plumbing.Hash{head.Hash()}
	}
	obj := st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		tb.Fatal(err)
	}
	h, err := st.SetEncodedObject(obj)
	if err != nil {
		tb.Fatal(err)
	}
	branch := plumbing.Master
	if ref, err := st.Reference(plumbing.HEAD); err == nil && ref.Type() == plumbing.SymbolicReference {
		branch = ref.Target()
	}
	if err := st.SetReference(plumbing.NewHashReference(branch, h)); err != nil {
		tb.Fatal(err)
	}
	return h
}
