package expand_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/source"
)

// TestChartFileThatIsALink: a chart file (a template, the values schema)
// that is a link fails the chart's load with the file's name and never
// reads what it points to.
func TestChartFileThatIsALink(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(outside, []byte("MARKER-outside: 1\n"), 0o644)
	for _, file := range []string{"templates/evil.yaml", "values.schema.json"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			copyDir(t, chartDir, dir)
			os.Remove(filepath.Join(dir, file))
			if err := os.Symlink(outside, filepath.Join(dir, file)); err != nil {
				t.Skip("no symbolic links here:", err)
			}
			_, err := expand.Load(source.Worktree(dir))
			if err == nil || !strings.Contains(err.Error(), file+": is a symbolic link") {
				t.Fatalf("err = %v, want it to name %s as a link", err, file)
			}
			if strings.Contains(err.Error(), "MARKER") {
				t.Errorf("read outside the chart: %v", err)
			}
		})
	}
}
