package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"golang.org/x/tools/txtar"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// canaryMarker is the content of a file outside the repository that an
// attack tries to read; it must never reach stdout or stderr.
const canaryMarker = "CAPIFORM-CANARY-5e1f0b7d"

// trapped are the programs an attack might make capiform start; each is
// replaced on PATH by a script that leaves a trace outside the repository.
var trapped = []string{"git", "ssh", "helm", "kustomize", "kubectl", "sh", "bash", "curl", "wget"}

// TestAdversarial runs the adversarial corpus of testdata/security: each
// archive is a pull request an attacker could open against the test fleet
// of testdata/security/fleet (rendered first), and asserts, besides the
// exit code and the exact output, that nothing happened outside: no file
// appeared outside the repository (a command that ran would leave one), no
// program on PATH was started, the local HTTP listener received no
// request, the content of a file outside the repository never reached the
// output, and no file of the repository outside clusters/*/generated/
// changed.
//
// An archive's comment holds, one a line:
//
//	capiform ARGS...        the command ($OUTSIDE, $HTTP expand in args)
//	exit N                  its expected exit code
//	git                     commit the fleet first (the base revision is HEAD);
//	                        the archive's files are then work-tree changes
//	commit                  with git: commit the archive's files too
//	symlink PATH TARGET     make a link in the repository
//	remove PATH             remove a file or folder of the repository
//	contains STREAM TEXT    stdout or stderr holds TEXT (kept when rewriting)
//	lacks STREAM TEXT       stdout or stderr does not hold TEXT
//
// Files are laid over the repository; $OUTSIDE (a folder outside the
// repository holding secret.txt with a marker) and $HTTP (the listener's
// URL) expand in them. The expected stdout and stderr are the archive's
// stdout and stderr files, with the repository's folder written as $REPO
// and the outside folder as $OUTSIDE; CAPIFORM_UPDATE_SCRIPTS=1 rewrites
// them.
func TestAdversarial(t *testing.T) {
	names, _ := filepath.Glob(filepath.Join("testdata", "security", "*.txtar"))
	if len(names) == 0 {
		t.Fatal("no adversarial cases")
	}
	update := os.Getenv("CAPIFORM_UPDATE_SCRIPTS") != ""
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	// One PATH of traps for the whole corpus: the cases run one after
	// another (t.Setenv forbids t.Parallel).
	trapDir := t.TempDir()
	traceDir := t.TempDir()
	for _, p := range trapped {
		script := "#!/bin/sh\necho \"$0 $*\" > " + filepath.Join(traceDir, p) + "\n"
		if err := os.WriteFile(filepath.Join(trapDir, p), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", trapDir)
	for _, name := range names {
		t.Run(strings.TrimSuffix(filepath.Base(name), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(name)
			if err != nil {
				t.Fatal(err)
			}
			c := parseCase(t, name, string(ar.Comment))
			outside := t.TempDir()
			if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte(canaryMarker+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			expand := func(s string) string {
				return strings.NewReplacer("$OUTSIDE", outside, "$HTTP", srv.URL).Replace(s)
			}
			dir := securityFleet(t)
			var repo *git.Repository
			if c.git {
				// Paths of base-remove are missing from the base commit only.
				aside := t.TempDir()
				for i, p := range c.baseRemove {
					if err := os.Rename(filepath.Join(dir, p), filepath.Join(aside, strconv.Itoa(i))); err != nil {
						t.Fatal(err)
					}
				}
				repo = commitAll(t, dir, nil)
				for i, p := range c.baseRemove {
					if err := os.Rename(filepath.Join(aside, strconv.Itoa(i)), filepath.Join(dir, p)); err != nil {
						t.Fatal(err)
					}
				}
			}
			expect := map[string]*txtar.File{}
			for i := range ar.Files {
				f := &ar.Files[i]
				if f.Name == "stdout" || f.Name == "stderr" {
					expect[f.Name] = f
					continue
				}
				if rest, ok := strings.CutPrefix(f.Name, "$OUTSIDE/"); ok {
					testrepo.WriteFiles(t, outside, map[string][]byte{rest: []byte(expand(string(f.Data)))})
					continue
				}
				testrepo.WriteFiles(t, dir, map[string][]byte{f.Name: []byte(expand(string(f.Data)))})
			}
			for _, p := range c.remove {
				if err := os.RemoveAll(filepath.Join(dir, p)); err != nil {
					t.Fatal(err)
				}
			}
			for _, l := range c.symlinks {
				link := filepath.Join(dir, l[0])
				os.RemoveAll(link)
				os.MkdirAll(filepath.Dir(link), 0o755)
				if err := os.Symlink(expand(l[1]), link); err != nil {
					t.Fatal(err)
				}
			}
			if c.commit {
				commitAll(t, dir, repo)
			}
			before := repoHashes(t, dir)
			outsideBefore := listDir(t, outside)
			requestsBefore := requests.Load()

			args := []string{"-C", dir}
			for _, a := range c.args {
				args = append(args, expand(a))
			}
			var out, errOut bytes.Buffer
			code := Main(args, strings.NewReader(""), &out, &errOut)
			// A commit's name depends on every file of the repository
			// (the chart, the policies): the expectations name none.
			norm := func(s string) string {
				s = strings.NewReplacer(dir, "$REPO", outside, "$OUTSIDE", srv.URL, "$HTTP").Replace(s)
				return commitName.ReplaceAllString(s, "($$COMMIT)")
			}
			got := map[string]string{"stdout": norm(out.String()), "stderr": norm(errOut.String())}

			// What happened outside: the same for every case.
			if n := requests.Load() - requestsBefore; n != 0 {
				t.Errorf("the HTTP listener received %d request(s)", n)
			}
			if after := listDir(t, outside); !slices.Equal(after, outsideBefore) {
				t.Errorf("files appeared outside the repository: %v (before: %v)", after, outsideBefore)
			}
			if traces := listDir(t, traceDir); len(traces) > 0 {
				t.Errorf("programs were started: %v", traces)
				for _, tr := range traces {
					os.Remove(filepath.Join(traceDir, tr))
				}
			}
			for stream, s := range got {
				if strings.Contains(s, canaryMarker) {
					t.Errorf("%s holds the content of a file outside the repository:\n%s", stream, s)
				}
			}
			after := repoHashes(t, dir)
			for p, h := range before {
				if isGenerated(p) {
					continue
				}
				if after[p] != h {
					t.Errorf("%s was changed or removed", p)
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok && !isGenerated(p) {
					t.Errorf("%s was created", p)
				}
			}

			for _, p := range c.keeps {
				if _, err := os.Lstat(filepath.Join(dir, p)); err != nil {
					t.Errorf("%s is gone: %v", p, err)
				}
			}
			for _, p := range c.gone {
				if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
					t.Errorf("%s is still there", p)
				}
			}
			// Input never starts a line of its own: no line of stderr is a
			// workflow command, and on stdout only -o github's annotations
			// are, each of a file of the repository.
			github := slices.Contains(c.args, "github") || slices.Contains(c.args, "-o=github")
			for stream, s := range got {
				for _, line := range strings.Split(s, "\n") {
					if !strings.HasPrefix(line, "::") {
						continue
					}
					if stream == "stderr" || !github || !ownAnnotation.MatchString(line) {
						t.Errorf("%s has a line that is a workflow command: %q", stream, line)
					}
				}
			}

			if code != c.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.exit, got["stdout"], got["stderr"])
			}
			for _, w := range c.contains {
				if !strings.Contains(got[w[0]], w[1]) {
					t.Errorf("%s lacks %q:\n%s", w[0], w[1], got[w[0]])
				}
			}
			for _, w := range c.lacks {
				if strings.Contains(got[w[0]], expand(w[1])) {
					t.Errorf("%s holds %q:\n%s", w[0], w[1], got[w[0]])
				}
			}
			expectStreams(t, name, ar, expect, got, update)
		})
	}
}

type adversarialCase struct {
	args            []string
	exit            int
	git, commit     bool
	symlinks        [][2]string
	remove          []string
	contains, lacks [][2]string
	keeps, gone     []string
	baseRemove      []string
}

// commitName is a commit's abbreviated name as diff prints it.
var commitName = regexp.MustCompile(`\([0-9a-f]{12}\)`)

// ownAnnotation is the shape of capiform's own -o github annotations.
var ownAnnotation = regexp.MustCompile(`^::(error|warning) file=[^,:%\s]+(,line=\d+)?(,col=\d+)?,title=[a-z0-9.-]+::`)

func parseCase(t *testing.T, name, comment string) adversarialCase {
	t.Helper()
	c := adversarialCase{exit: -1}
	for _, line := range strings.Split(comment, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "capiform":
			c.args = f[1:]
		case "exit":
			if len(f) == 2 {
				c.exit, _ = strconv.Atoi(f[1])
			}
		case "git":
			c.git = true
		case "commit":
			c.commit = true
		case "symlink":
			if len(f) == 3 {
				c.symlinks = append(c.symlinks, [2]string{f[1], f[2]})
			}
		case "remove":
			c.remove = append(c.remove, f[1:]...)
		case "base-remove":
			c.baseRemove = append(c.baseRemove, f[1:]...)
		case "keeps":
			c.keeps = append(c.keeps, f[1:]...)
		case "gone":
			c.gone = append(c.gone, f[1:]...)
		case "contains", "lacks":
			if len(f) < 3 || (f[1] != "stdout" && f[1] != "stderr") {
				t.Fatalf("%s: %q: want `%s stdout|stderr TEXT`", name, line, f[0])
			}
			text := strings.TrimSpace(strings.SplitN(strings.TrimSpace(line), f[1], 2)[1])
			if f[0] == "contains" {
				c.contains = append(c.contains, [2]string{f[1], text})
			} else {
				c.lacks = append(c.lacks, [2]string{f[1], text})
			}
		}
	}
	if c.args == nil || c.exit < 0 {
		t.Fatalf("%s: the comment needs a `capiform ARGS` and an `exit N` line", name)
	}
	if (c.commit || len(c.baseRemove) > 0) && !c.git {
		t.Fatalf("%s: commit needs git", name)
	}
	return c
}

// securityFleet is a repository with the test fleet of testdata/security,
// rendered.
func securityFleet(t *testing.T) string {
	t.Helper()
	dir := testrepo.New(t, false)
	if err := testrepo.CopyDir(filepath.Join(testrepo.Root(), "testdata", "security", "fleet"), dir); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main([]string{"-C", dir, "render"}, strings.NewReader(""), &out, &errOut); code != 0 {
		t.Fatalf("rendering the test fleet: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	return dir
}

// commitAll commits the whole work tree (making the repository first when
// repo is nil).
func commitAll(t *testing.T, dir string, repo *git.Repository) *git.Repository {
	t.Helper()
	var err error
	if repo == nil {
		if repo, err = git.PlainInit(dir, false); err != nil {
			t.Fatal(err)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "test", Email: "test@example.org", When: time.Unix(0, 0)}
	if _, err := wt.Commit("change", &git.CommitOptions{Author: sig, AllowEmptyCommits: true}); err != nil {
		t.Fatal(err)
	}
	return repo
}

// repoHashes maps every file and link of the repository (.git aside) to a
// hash of its content or target.
func repoHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		var data []byte
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			data = []byte("link:" + target)
		} else if data, err = os.ReadFile(p); err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// isGenerated says whether a repository path is in a site's generated
// tree (or a render's temporary folder beside it), which render may write.
func isGenerated(p string) bool {
	parts := strings.Split(p, "/")
	return len(parts) >= 3 && parts[0] == "clusters" && (parts[2] == "generated" || strings.HasPrefix(parts[2], ".generated"))
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}
