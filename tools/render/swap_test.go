package render

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/source"
)

// snapshot reads every file and link under root, by path.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.Type()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			out[filepath.ToSlash(rel)] = "link -> " + target
			return nil
		}
		data, _ := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	return out
}

// TestWriteRefusesForeignFiles: a file in generated/ that render did not
// write (no generated header, or a link) stops render before it writes
// anything, with an error naming the file that says to move it out; render
// --check reports it too.
func TestWriteRefusesForeignFiles(t *testing.T) {
	old := map[string]Files{
		"s": {"a.yaml": []byte(Header + "a: 1\n"), "b/c.yaml": []byte(Header + "c: 1\n")},
		"t": {"x.yaml": []byte(Header + "x: 1\n")},
	}
	// The new render changes both sites, so a write would show.
	next := map[string]Files{
		"s": {"a.yaml": []byte(Header + "a: 2\n")},
		"t": {"x.yaml": []byte(Header + "x: 2\n")},
	}
	for _, c := range []struct {
		name  string
		spoil func(root string) error
		want  string // the path named
	}{
		{"a hand-written NOTES.md", func(root string) error {
			return os.WriteFile(filepath.Join(root, "clusters/s/generated/NOTES.md"), []byte("my notes\n"), 0o644)
		}, "clusters/s/generated/NOTES.md"},
		{"a hand-written file deep down", func(root string) error {
			return os.WriteFile(filepath.Join(root, "clusters/s/generated/b/mine.yaml"), []byte("a: 1\n"), 0o644)
		}, "clusters/s/generated/b/mine.yaml"},
		{"a generated file whose header was removed", func(root string) error {
			return os.WriteFile(filepath.Join(root, "clusters/t/generated/x.yaml"), []byte("x: 1\n"), 0o644)
		}, "clusters/t/generated/x.yaml"},
		{"a link", func(root string) error {
			return os.Symlink("/etc/passwd", filepath.Join(root, "clusters/s/generated/passwd"))
		}, "clusters/s/generated/passwd"},
		{"a hand-written file in a leftover of an interrupted run", func(root string) error {
			os.MkdirAll(filepath.Join(root, "clusters/s/.generated-1"), 0o755)
			return os.WriteFile(filepath.Join(root, "clusters/s/.generated-1/NOTES.md"), []byte("mine\n"), 0o644)
		}, "clusters/s/.generated-1/NOTES.md"},
		{"a hand-written file in the tree of a removed site", func(root string) error {
			os.MkdirAll(filepath.Join(root, "clusters/gone/generated"), 0o755)
			return os.WriteFile(filepath.Join(root, "clusters/gone/generated/NOTES.md"), []byte("mine\n"), 0o644)
		}, "clusters/gone/generated/NOTES.md"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for s := range old {
				os.MkdirAll(filepath.Join(root, "clusters", s), 0o755)
			}
			if err := Write(root, old); err != nil {
				t.Fatal(err)
			}
			if err := c.spoil(root); err != nil {
				t.Skip(err)
			}
			before := snapshot(t, root)
			err := Write(root, next)
			var l diag.List
			if !errors.As(err, &l) || len(l) != 1 || l[0].File != c.want || l[0].Rule != "render.foreign-file" {
				t.Fatalf("err = %v, want one render.foreign-file at %s", err, c.want)
			}
			if !strings.Contains(l[0].Message, "move it out") {
				t.Errorf("the message does not say what to do: %s", l[0].Message)
			}
			if after := snapshot(t, root); !mapsEqual(before, after) {
				t.Errorf("render changed files although it refused:\nbefore %v\nafter  %v", before, after)
			}
			drift, err := Check(source.Worktree(root), next)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(drift, Drift{Path: c.want, State: "foreign"}) {
				t.Errorf("check = %v, want %s foreign", drift, c.want)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestSwapNeverLeavesGeneratedMissing: with the atomic exchange and with
// the file-by-file fallback, generated/ holds a tree at every step of the
// swap; a run interrupted at any step leaves generated/ in place and
// perhaps a .generated-* folder, which render --check reports as a
// leftover and the next render removes.
func TestSwapNeverLeavesGeneratedMissing(t *testing.T) {
	old := map[string]Files{"s": {"a.yaml": []byte(Header + "a: 1\n"), "gone/b.yaml": []byte(Header + "b: 1\n")}}
	next := map[string]Files{"s": {"a.yaml": []byte(Header + "a: 2\n"), "new/c.yaml": []byte(Header + "c: 1\n")}}
	gen := func(root string) string { return filepath.Join(root, "clusters/s/generated") }

	// Whether this system swaps folders at once.
	probe := t.TempDir()
	os.Mkdir(filepath.Join(probe, "a"), 0o755)
	os.Mkdir(filepath.Join(probe, "b"), 0o755)
	atomic := exchange(filepath.Join(probe, "a"), filepath.Join(probe, "b")) == nil

	for _, mode := range []struct {
		name     string
		exchange func(a, b string) error
		steps    []string
	}{
		{"exchange", exchange, []string{"exchange", "remove-old"}},
		{"file by file", func(a, b string) error { return errNoExchange }, []string{"exchange", "move", "remove-old"}},
	} {
		if mode.name == "exchange" && !atomic {
			t.Log("this system cannot swap two folders at once: only the fallback is tested")
			continue
		}
		t.Run(mode.name+"/generated is there at every step", func(t *testing.T) {
			root := t.TempDir()
			os.MkdirAll(filepath.Join(root, "clusters/s"), 0o755)
			if err := Write(root, old); err != nil {
				t.Fatal(err)
			}
			w := newWriter(root)
			w.exchange = mode.exchange
			var seen []string
			w.step = func(site, step string) error {
				if st, err := os.Stat(gen(root)); err != nil || !st.IsDir() {
					t.Errorf("at %s: generated/ is missing: %v", step, err)
				}
				if len(seen) == 0 || seen[len(seen)-1] != step {
					seen = append(seen, step)
				}
				return nil
			}
			if err := w.write(next); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seen, mode.steps) {
				t.Errorf("steps = %v, want %v", seen, mode.steps)
			}
			if got := snapshot(t, gen(root)); !mapsEqual(got, map[string]string{"a.yaml": Header + "a: 2\n", "new/c.yaml": Header + "c: 1\n"}) {
				t.Errorf("tree = %v", got)
			}
			if left := leftoversOf(root); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
		for _, stop := range mode.steps {
			t.Run(mode.name+"/interrupted at "+stop, func(t *testing.T) {
				root := t.TempDir()
				os.MkdirAll(filepath.Join(root, "clusters/s"), 0o755)
				if err := Write(root, old); err != nil {
					t.Fatal(err)
				}
				w := newWriter(root)
				w.exchange = mode.exchange
				killed := errors.New("killed")
				w.step = func(_, step string) error {
					if step == stop {
						return killed
					}
					return nil
				}
				if err := w.write(next); !errors.Is(err, killed) {
					t.Fatalf("err = %v", err)
				}
				// What a kill at this step leaves: generated/ and, but
				// for a kill before the swap began, the temporary folder.
				if st, err := os.Stat(gen(root)); err != nil || !st.IsDir() {
					t.Fatalf("generated/ is missing after an interruption: %v", err)
				}
				if len(leftoversOf(root)) == 0 {
					t.Error("an interrupted swap left no folder behind")
				}
				// A run killed while it wrote its temporary tree leaves
				// files cut short, which are render's too.
				os.MkdirAll(filepath.Join(root, "clusters/s/.generated-killed/sub"), 0o755)
				os.WriteFile(filepath.Join(root, "clusters/s/.generated-killed/sub/x.yaml"), []byte(Header), 0o644)
				os.WriteFile(filepath.Join(root, "clusters/s/.generated-killed/cut.yaml"), []byte(Header[:7]), 0o644)
				left := leftoversOf(root)
				if len(left) == 0 {
					t.Fatal("no leftover to test with")
				}
				drift, err := Check(source.Worktree(root), next)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range left {
					if !slices.Contains(drift, Drift{Path: l, State: "leftover"}) {
						t.Errorf("check = %v, want %s as a leftover", drift, l)
					}
				}
				if err := Write(root, next); err != nil {
					t.Fatal(err)
				}
				if left := leftoversOf(root); len(left) > 0 {
					t.Errorf("the next render left %v", left)
				}
				if got := snapshot(t, gen(root)); !mapsEqual(got, map[string]string{"a.yaml": Header + "a: 2\n", "new/c.yaml": Header + "c: 1\n"}) {
					t.Errorf("tree after the next render = %v", got)
				}
				if drift, _ := Check(source.Worktree(root), next); len(drift) > 0 {
					t.Errorf("check after the next render = %v", drift)
				}
			})
		}
	}
}

// leftoversOf lists the .generated-* folders beside clusters/s/generated.
func leftoversOf(root string) []string {
	entries, _ := os.ReadDir(filepath.Join(root, "clusters/s"))
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			out = append(out, "clusters/s/"+e.Name())
		}
	}
	return out
}
