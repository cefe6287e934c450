//go:build unix

package cli

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/capiform/capiform/tools/internal/testrepo"
)

// Work that its input makes all but endless: a chart template that Helm's
// engine renders for hours, and a site policy that CUE evaluates for many
// minutes. Neither looks at a context.
var (
	endlessChart = map[string][]byte{
		"charts/openstack-cluster/templates/endless.yaml": []byte("{{- range until 100000 }}{{- range until 100000 }}{{- end }}{{- end }}\n"),
	}
	endlessPolicy = map[string][]byte{
		"clusters/lon/policy.cue": []byte(`package policies

#ClusterRules: {
	let ten = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
	let thousand = [for a in ten for b in ten for c in ten {0}]
	for i in thousand for j in thousand for k in thousand if i+j+k > 0 {
		violations: "spec": "lon.endless": "never"
	}
}
`),
	}
)

// TestBoundedWork runs the capiform binary on repositories whose chart or
// site policy makes it work for many minutes, and checks that a signal ends it
// within 2 seconds with 128 + the signal's number, and that --timeout ends
// it with exit 2 and names what it was working on. A render so ended
// writes nothing.
func TestBoundedWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := capiformBinary(t)
	tests := []struct {
		name  string
		files map[string][]byte
		// git makes the repository a git repository (for diff) before
		// files are written.
		git  bool
		args []string
		// signal is sent once the command has had time to reach the
		// endless work; none: the command ends on its own (--timeout).
		signal syscall.Signal
		code   int
		stderr string
	}{
		{name: "render --check, chart, SIGINT", files: endlessChart, args: []string{"render", "--check"}, signal: syscall.SIGINT, code: 130, stderr: "error: interrupted by SIGINT"},
		{name: "expand, chart, SIGTERM", files: endlessChart, args: []string{"expand", "lon/research"}, signal: syscall.SIGTERM, code: 143, stderr: "error: interrupted by SIGTERM"},
		{name: "expand --all, chart, SIGINT", files: endlessChart, args: []string{"expand", "--all"}, signal: syscall.SIGINT, code: 130, stderr: "error: interrupted by SIGINT"},
		{name: "diff, chart, SIGTERM", files: endlessChart, git: true, args: []string{"diff", "--base", "HEAD"}, signal: syscall.SIGTERM, code: 143, stderr: "error: interrupted by SIGTERM"},
		{name: "validate, site policy, SIGINT", files: endlessPolicy, args: []string{"validate"}, signal: syscall.SIGINT, code: 130, stderr: "error: interrupted by SIGINT"},
		{name: "render, site policy, SIGTERM", files: endlessPolicy, args: []string{"render"}, signal: syscall.SIGTERM, code: 143, stderr: "error: interrupted by SIGTERM"},
		{name: "summary, site policy, SIGINT", files: endlessPolicy, args: []string{"summary"}, signal: syscall.SIGINT, code: 130, stderr: "error: interrupted by SIGINT"},
		{
			name: "expand, chart, deadline", files: endlessChart, args: []string{"expand", "lon/research", "--timeout", "2s"}, code: 2,
			stderr: "error: timed out after 2s (--timeout) while expanding cluster lon/research: raise --timeout (0 for none), or find what makes it slow\n",
		},
		{
			name: "validate, site policy, deadline", files: endlessPolicy, args: []string{"validate", "--timeout", "2s"}, code: 2,
			stderr: "error: timed out after 2s (--timeout) while evaluating clusters/lon/policy.cue with site lon",
		},
		{
			name: "render, site policy, deadline", files: endlessPolicy, args: []string{"--timeout=2s", "render"}, code: 2,
			stderr: "error: timed out after 2s (--timeout) while evaluating clusters/lon/policy.cue with site lon",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One at a time: each leaves a core busy until it ends.
			var dir string
			if tt.git {
				dir = gitRepo(t)
			} else {
				dir = testrepo.New(t, true)
			}
			testrepo.WriteFiles(t, dir, tt.files)
			before := treeSums(t, dir)

			var stderr bytes.Buffer
			cmd := exec.Command(bin, append([]string{"-C", dir}, tt.args...)...)
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() {
				cmd.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})
			// Without the bound the command runs for many minutes: the
			// test gives up long before.
			const patience = 60 * time.Second
			if tt.signal != 0 {
				// Time to reach the endless work; sent earlier, the signal
				// must end the command all the same.
				select {
				case <-exited:
					t.Fatalf("ended before the signal: exit %d\n%s", cmd.ProcessState.ExitCode(), &stderr)
				case <-time.After(2 * time.Second):
				}
				sent := time.Now()
				if err := cmd.Process.Signal(tt.signal); err != nil {
					t.Fatal(err)
				}
				select {
				case <-exited:
					if d := time.Since(sent); d > 2*time.Second {
						t.Errorf("ended %s after the signal, want at most 2s", d.Round(time.Millisecond))
					}
				case <-time.After(patience):
					t.Fatalf("still running %s after %s", patience, tt.signal)
				}
			} else {
				select {
				case <-exited:
				case <-time.After(patience):
					t.Fatalf("still running after %s", patience)
				}
			}
			if got := cmd.ProcessState.ExitCode(); got != tt.code {
				t.Errorf("exit %d, want %d\n%s", got, tt.code, &stderr)
			}
			if !strings.HasPrefix(stderr.String(), tt.stderr) {
				t.Errorf("stderr:\n%s\nwant it to start with:\n%s", &stderr, tt.stderr)
			}
			// Nothing written: no generated file changed, no temporary
			// tree left behind.
			after := treeSums(t, dir)
			for p, sum := range after {
				if before[p] != sum {
					t.Errorf("%s written", p)
				}
			}
			for p := range before {
				if _, ok := after[p]; !ok {
					t.Errorf("%s removed", p)
				}
			}
		})
	}
}

// treeSums maps every file and folder under dir's clusters/ to a sum of
// its content ("dir" for a folder).
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	root := filepath.Join(dir, "clusters")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// capiformBinary builds the capiform command into the test's folder.
func capiformBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "capiform")
	cmd := exec.Command("go", "build", "-o", bin, "./tools/cmd/capiform")
	cmd.Dir = testrepo.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
