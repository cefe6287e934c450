package scaffold

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      Options
		want      []string
		wantNot   []string
		contains  map[string]string
		wantError string
	}{
		{
			name: "github, pinned",
			opts: Options{Site: "lab", ToolVersion: "v0.3.0"},
			want: []string{"clusters/lab/site.yaml", "clusters/lab/lab-mgmt.yaml", "charts/openstack-cluster/Chart.yaml",
				"charts/openstack-cluster/templates/_helpers.tpl", "platforms/base/platform.yaml", "policies/README.md",
				"policies/schema.json", ".github/workflows/capiform.yaml"},
			wantNot:  []string{".gitlab-ci.yml"},
			contains: map[string]string{".github/workflows/capiform.yaml": "CAPIFORM_VERSION: v0.3.0\n", "clusters/lab/site.yaml": "managementCluster: lab-mgmt\n"},
		},
		{
			name:     "gitlab",
			opts:     Options{CI: CIGitLab, ToolVersion: "v0.3.0"},
			want:     []string{"clusters/example/site.yaml", ".gitlab-ci.yml", "ci/gitlab/capiform.gitlab-ci.yml", "ci/gitlab/sticky-note.sh"},
			wantNot:  []string{".github/workflows/capiform.yaml"},
			contains: map[string]string{"ci/gitlab/capiform.gitlab-ci.yml": "CAPIFORM_VERSION: v0.3.0\n", ".gitlab-ci.yml": "local: ci/gitlab/capiform.gitlab-ci.yml"},
		},
		{
			name:    "no CI",
			opts:    Options{CI: CINone},
			want:    []string{"clusters/example/site.yaml"},
			wantNot: []string{".gitlab-ci.yml", ".github/workflows/capiform.yaml"},
		},
		{name: "unknown CI", opts: Options{CI: "jenkins"}, wantError: `CI "jenkins"`},
		{name: "bad site name", opts: Options{Site: "Lab_1"}, wantError: `site name "Lab_1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Files(tc.opts)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if _, ok := files[w]; !ok {
					t.Errorf("no %s", w)
				}
			}
			for _, w := range tc.wantNot {
				if _, ok := files[w]; ok {
					t.Errorf("unexpected %s", w)
				}
			}
			for f, s := range tc.contains {
				if !strings.Contains(string(files[f]), s) {
					t.Errorf("%s lacks %q:\n%s", f, s, files[f])
				}
			}
			// The chart is the repository's, file for file.
			for f, b := range files {
				if !strings.HasPrefix(f, "charts/") {
					continue
				}
				disk, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(f)))
				if err != nil || string(disk) != string(b) {
					t.Errorf("%s differs from the repository's (%v)", f, err)
				}
			}
		})
	}
}

// tree lists the files under dir.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestWrite(t *testing.T) {
	t.Parallel()
	files := map[string][]byte{
		"clusters/a/site.yaml":            []byte("site"),
		"charts/c/Chart.yaml":             []byte("chart"),
		".github/workflows/capiform.yaml": []byte("ci"),
	}
	for _, tc := range []struct {
		name    string
		before  map[string]string // file -> content; a trailing / is a folder
		exists  []string
		wantAdd []string
	}{
		{name: "new folder", wantAdd: []string{".github/workflows/capiform.yaml", "charts/c/Chart.yaml", "clusters/a/site.yaml"}},
		{name: "empty folder", before: map[string]string{"./": ""}, wantAdd: []string{".github/workflows/capiform.yaml", "charts/c/Chart.yaml", "clusters/a/site.yaml"}},
		{
			name:    "a repository with other files and workflows",
			before:  map[string]string{"README.md": "mine", ".github/workflows/other.yaml": "other", "clusters/b/site.yaml": "b"},
			wantAdd: []string{".github/workflows/capiform.yaml", "charts/c/Chart.yaml", "clusters/a/site.yaml"},
		},
		{
			name:   "a file that exists",
			before: map[string]string{"clusters/a/site.yaml": "mine", "README.md": "mine"},
			exists: []string{"clusters/a/site.yaml"},
		},
		{
			name:   "every file that exists is named",
			before: map[string]string{"clusters/a/site.yaml": "mine", ".github/workflows/capiform.yaml": "mine"},
			exists: []string{".github/workflows/capiform.yaml", "clusters/a/site.yaml"},
		},
		{
			name:   "a file where a folder goes",
			before: map[string]string{"charts": "a file"},
			exists: []string{"charts"},
		},
		{
			name:   "a folder where a file goes",
			before: map[string]string{"clusters/a/site.yaml/": ""},
			exists: []string{"clusters/a/site.yaml"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "fleet")
			for f, content := range tc.before {
				p := filepath.Join(dir, filepath.FromSlash(f))
				if strings.HasSuffix(f, "/") {
					os.MkdirAll(p, 0o755)
					continue
				}
				os.MkdirAll(filepath.Dir(p), 0o755)
				os.WriteFile(p, []byte(content), 0o644)
			}
			old := tree(t, dir)
			err := Write(dir, files)
			if tc.exists != nil {
				var ee *ExistsError
				if !errors.As(err, &ee) || !slices.Equal(ee.Paths, tc.exists) {
					t.Fatalf("error %v, want the existing paths %v", err, tc.exists)
				}
				if got := tree(t, dir); !slices.Equal(got, old) {
					t.Errorf("the folder changed though nothing was to be written:\nbefore %v\nafter  %v", old, got)
				}
				for f, content := range tc.before {
					if b, _ := os.ReadFile(filepath.Join(dir, f)); !strings.HasSuffix(f, "/") && string(b) != content {
						t.Errorf("%s was overwritten", f)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(old)
			want = append(want, tc.wantAdd...)
			sort.Strings(want)
			if got := tree(t, dir); !slices.Equal(got, want) {
				t.Errorf("files after Write:\n got %v\nwant %v", got, want)
			}
			for f, b := range files {
				if got, _ := os.ReadFile(filepath.Join(dir, f)); string(got) != string(b) {
					t.Errorf("%s = %q, want %q", f, got, b)
				}
			}
		})
	}
}
