package render

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// Write replaces the generated trees of the given sites under the
// repository at root. Every tree is first written in full into a temporary
// folder beside its target; only when all are written are they renamed into
// place, so a failure leaves the old trees as they were.
func Write(root string, sites map[string]Files) error {
	names := make([]string, 0, len(sites))
	for s := range sites {
		names = append(names, s)
	}
	sort.Strings(names)
	tmps := map[string]string{}
	cleanup := func() {
		for _, t := range tmps {
			os.RemoveAll(t)
		}
	}
	for _, s := range names {
		parent := filepath.Join(root, filepath.FromSlash(path.Dir(Dir(s))))
		tmp, err := os.MkdirTemp(parent, ".generated-")
		if err != nil {
			cleanup()
			return fmt.Errorf("site %s: %w", s, err)
		}
		tmps[s] = tmp
		if err := os.Chmod(tmp, 0o755); err != nil {
			cleanup()
			return err
		}
		for _, p := range sites[s].Paths() {
			f := filepath.Join(tmp, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
				cleanup()
				return err
			}
			if err := os.WriteFile(f, sites[s][p], 0o644); err != nil {
				cleanup()
				return fmt.Errorf("site %s: %w", s, err)
			}
		}
	}
	for _, s := range names {
		target := filepath.Join(root, filepath.FromSlash(Dir(s)))
		old := tmps[s] + ".old"
		if err := os.Rename(target, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			cleanup()
			return fmt.Errorf("site %s: %w", s, err)
		}
		if err := os.Rename(tmps[s], target); err != nil {
			os.Rename(old, target)
			cleanup()
			return fmt.Errorf("site %s: %w", s, err)
		}
		delete(tmps, s)
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("site %s: removing the old tree: %w", s, err)
		}
	}
	return nil
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
// nothing. It also reports generated folders of sites that no longer exist.
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
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}
