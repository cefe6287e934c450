package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
)

// Write replaces the generated trees of the given sites under the
// repository at root. Every tree is first written in full into a temporary
// folder beside its target; only when all are written are they renamed into
// place, so a failure leaves the old trees as they were. The generated
// trees of sites that no longer exist are removed last, unless they hold a
// file that capiform did not write.
func Write(root string, sites map[string]Files) error {
	orphans, err := Orphans(os.DirFS(root), sites)
	if err != nil {
		return err
	}
	if err := write(root, sites); err != nil {
		return err
	}
	for _, dir := range orphans {
		if err := os.RemoveAll(filepath.Join(root, filepath.FromSlash(dir))); err != nil {
			return fmt.Errorf("removing %s: %w", dir, err)
		}
	}
	return nil
}

// Orphans returns the generated folders of sites that are not rendered any
// more (their site.yaml is gone). It refuses to name a folder that holds a
// file without the generated header, so that nothing hand-written is lost.
func Orphans(fsys fs.FS, sites map[string]Files) ([]string, error) {
	entries, err := fs.ReadDir(fsys, "clusters")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, ok := sites[e.Name()]; ok {
			continue
		}
		dir := Dir(e.Name())
		if _, err := fs.Stat(fsys, dir); err != nil {
			continue
		}
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			if !IsGenerated(data) {
				return fmt.Errorf("%s belongs to no site and was not written by capiform: move it or remove it by hand", p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, dir)
	}
	return out, nil
}

func write(root string, sites map[string]Files) error {
	names := make([]string, 0, len(sites))
	for s := range sites {
		if !sameTree(filepath.Join(root, filepath.FromSlash(Dir(s))), sites[s]) {
			names = append(names, s)
		}
	}
	sort.Strings(names)
	// The temporary trees are written concurrently: the cost is in system
	// calls, thousands of files for a large fleet.
	tmps := make([]string, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(4, runtime.GOMAXPROCS(0)))
	for i, s := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tmps[i], errs[i] = writeTemp(root, s, sites[s])
		}()
	}
	wg.Wait()
	cleanup := func() {
		for _, t := range tmps {
			if t != "" {
				os.RemoveAll(t)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		cleanup()
		return err
	}
	for i, s := range names {
		target := filepath.Join(root, filepath.FromSlash(Dir(s)))
		old := tmps[i] + ".old"
		if err := os.Rename(target, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			cleanup()
			return fmt.Errorf("site %s: %w", s, err)
		}
		if err := os.Rename(tmps[i], target); err != nil {
			os.Rename(old, target)
			cleanup()
			return fmt.Errorf("site %s: %w", s, err)
		}
		tmps[i] = ""
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("site %s: removing the old tree: %w", s, err)
		}
	}
	return nil
}

// writeTemp writes a site's tree into a new temporary folder beside its
// target and returns the folder.
func writeTemp(root, site string, files Files) (string, error) {
	parent := filepath.Join(root, filepath.FromSlash(path.Dir(Dir(site))))
	tmp, err := os.MkdirTemp(parent, ".generated-")
	if err != nil {
		return "", fmt.Errorf("site %s: %w", site, err)
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("site %s: %w", site, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fail(err)
	}
	made := map[string]bool{tmp: true}
	for _, p := range files.Paths() {
		f := filepath.Join(tmp, filepath.FromSlash(p))
		if d := filepath.Dir(f); !made[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fail(err)
			}
			made[d] = true
		}
		if err := os.WriteFile(f, files[p], 0o644); err != nil {
			return fail(err)
		}
	}
	return tmp, nil
}

// errDiffers stops the walk of sameTree at the first difference.
var errDiffers = errors.New("the tree differs")

// sameTree reports whether dir holds exactly files, byte for byte, as
// regular files, and no other file, link or folder: such a tree is left
// alone.
func sameTree(dir string, files Files) bool {
	dirs := map[string]bool{".": true}
	for p := range files {
		for d := path.Dir(p); !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if !dirs[rel] {
				return errDiffers
			}
			return nil
		case !d.Type().IsRegular():
			return errDiffers
		}
		want, ok := files[rel]
		if !ok {
			return errDiffers
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, want) {
			return errDiffers
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}

// Drift is how a committed tree differs from a fresh render.
type Drift struct {
	// Path is relative to the repository root.
	Path string
	// State is "stale", "missing" or "extra".
	State string
}

// String formats the drift for a person.
func (d Drift) String() string {
	switch d.State {
	case "missing":
		return d.Path + ": missing (run capiform render)"
	case "extra":
		return d.Path + ": extra, not rendered from any definition (run capiform render)"
	default:
		return d.Path + ": stale (run capiform render)"
	}
}

// Check compares the generated trees in fsys with fresh renders, changing
// nothing. The files of generated folders of sites that no longer exist are
// extra.
func Check(fsys fs.FS, sites map[string]Files) ([]Drift, error) {
	var out []Drift
	for s, files := range sites {
		dir := Dir(s)
		have := map[string]bool{}
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == dir {
					return fs.SkipDir
				}
				return err
			}
			if !d.IsDir() {
				rel := p[len(dir)+1:]
				have[rel] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, p := range files.Paths() {
			full := path.Join(dir, p)
			if !have[p] {
				out = append(out, Drift{Path: full, State: "missing"})
				continue
			}
			got, err := fs.ReadFile(fsys, full)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(got, files[p]) {
				out = append(out, Drift{Path: full, State: "stale"})
			}
		}
		for p := range have {
			if _, ok := files[p]; !ok {
				out = append(out, Drift{Path: path.Join(dir, p), State: "extra"})
			}
		}
	}
	// The trees of sites that are gone are extra, file by file.
	entries, err := fs.ReadDir(fsys, "clusters")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if _, ok := sites[e.Name()]; ok || !e.IsDir() {
			continue
		}
		dir := Dir(e.Name())
		if _, err := fs.Stat(fsys, dir); err != nil {
			continue
		}
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				out = append(out, Drift{Path: p, State: "extra"})
			}
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
