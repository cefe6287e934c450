// Package scaffold lays out a new fleet repository: an example site with
// its management cluster, the chart and the base platform this capiform
// carries, a note on site policy and the CI that runs a pinned capiform on
// every pull request. It never overwrites: a path that exists is refused,
// and the tree appears whole or not at all.
package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"

	"github.com/capiform/capiform/charts"
	"github.com/capiform/capiform/ci"
	"github.com/capiform/capiform/platforms"
	"github.com/capiform/capiform/policies"
	"github.com/capiform/capiform/tools/about"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/policy"
)

// CI systems a fleet can be laid out for.
const (
	CIGitHub = "github"
	CIGitLab = "gitlab"
	CINone   = "none"
)

// Options of Files.
type Options struct {
	// Site names the example site; its management cluster is <Site>-mgmt.
	Site string
	// CI chooses the pipeline written: CIGitHub, CIGitLab or CINone.
	CI string
	// ToolVersion is the capiform version the pipeline installs (a tag such
	// as v0.3.0); "latest" when empty, which does not pin.
	ToolVersion string
	// GitURL is the repository the site's Flux syncs; a placeholder when
	// empty.
	GitURL string
}

// Files returns the tree of a new fleet, by slash-separated path.
func Files(opts Options) (map[string][]byte, error) {
	if opts.Site == "" {
		opts.Site = "example"
	}
	if !load.IsDNSLabel(opts.Site) || len(opts.Site) > 40 {
		return nil, fmt.Errorf("site name %q: use a DNS label of at most 40 characters (lower-case letters, digits, '-')", opts.Site)
	}
	if opts.ToolVersion == "" {
		opts.ToolVersion = "latest"
	}
	if opts.GitURL == "" {
		opts.GitURL = "ssh://git@git.example.org/platform/fleet.git"
	}
	files := map[string][]byte{}
	if err := copyTree(files, charts.FS, charts.OpenStackCluster, "charts/"+charts.OpenStackCluster); err != nil {
		return nil, err
	}
	if err := copyTree(files, platforms.FS, platforms.Base, "platforms/"+platforms.Base); err != nil {
		return nil, err
	}
	info, err := about.Read()
	if err != nil {
		return nil, err
	}
	data := templateData{Options: opts, Mgmt: opts.Site + "-mgmt", Info: info, PolicyVersion: policies.Version}
	for name, text := range map[string]string{
		"clusters/{{site}}/site.yaml":          siteYAML,
		"clusters/{{site}}/{{site}}-mgmt.yaml": mgmtYAML,
		"platforms/README.md":                  platformsREADME,
		"policies/README.md":                   policiesREADME,
	} {
		b, err := execute(text, data)
		if err != nil {
			return nil, err
		}
		files[strings.ReplaceAll(name, "{{site}}", opts.Site)] = b
	}
	schema, err := policy.Schema()
	if err != nil {
		return nil, err
	}
	files["policies/schema.json"] = schema
	switch opts.CI {
	case CIGitHub, "":
		if err := addCI(files, ci.GitHubFleet, ".github/workflows/capiform.yaml", opts.ToolVersion); err != nil {
			return nil, err
		}
	case CIGitLab:
		if err := addCI(files, ci.GitLabFleet, "ci/gitlab/capiform.gitlab-ci.yml", opts.ToolVersion); err != nil {
			return nil, err
		}
		if err := addCI(files, ci.GitLabNote, "ci/gitlab/sticky-note.sh", opts.ToolVersion); err != nil {
			return nil, err
		}
		files[".gitlab-ci.yml"] = []byte("include:\n  - local: ci/gitlab/capiform.gitlab-ci.yml\n")
	case CINone:
	default:
		return nil, fmt.Errorf("CI %q: use %s, %s or %s", opts.CI, CIGitHub, CIGitLab, CINone)
	}
	return files, nil
}

type templateData struct {
	Options
	Mgmt          string
	Info          about.Info
	PolicyVersion string
}

func execute(text string, data templateData) ([]byte, error) {
	t, err := template.New("").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// addCI copies a pipeline template, pinned to version.
func addCI(files map[string][]byte, src, dst, version string) error {
	b, err := fs.ReadFile(ci.FS, src)
	if err != nil {
		return err
	}
	if strings.HasSuffix(src, ".sh") {
		files[dst] = b
		return nil
	}
	if !bytes.Contains(b, []byte(ci.VersionVarLine)) {
		return fmt.Errorf("the template %s has no line %q to pin", src, ci.VersionVarLine)
	}
	files[dst] = bytes.Replace(b, []byte(ci.VersionVarLine), []byte("CAPIFORM_VERSION: "+version), 1)
	return nil
}

func copyTree(files map[string][]byte, fsys fs.FS, root, dst string) error {
	return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files[path.Join(dst, strings.TrimPrefix(p, root+"/"))] = b
		return nil
	})
}

// ExistsError names the paths Write refused to overwrite.
type ExistsError struct {
	Paths []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%d path(s) already exist, nothing was written: %s", len(e.Paths), strings.Join(e.Paths, ", "))
}

// Write writes files under dir, which may not exist yet. It refuses, with
// an *ExistsError naming every one and writing nothing, when any of the
// files exists already (or a folder stands where a file goes, or a file
// where a folder goes). The files are written into a temporary folder
// inside dir and renamed into place folder by folder: every new top-most
// folder (or file) appears at once, and a failure removes what appeared.
func Write(dir string, files map[string][]byte) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	// The shallowest path of each file that does not exist: what the
	// renames create.
	roots := map[string]bool{}
	var exists []string
	for _, n := range names {
		parts := strings.Split(n, "/")
		for i := range parts {
			p := strings.Join(parts[:i+1], "/")
			st, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p)))
			if errors.Is(err, fs.ErrNotExist) {
				roots[p] = true
				break
			}
			if err != nil {
				return err
			}
			if i == len(parts)-1 || !st.IsDir() {
				exists = append(exists, p)
				break
			}
		}
	}
	if len(exists) > 0 {
		return &ExistsError{Paths: slices.Compact(exists)}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(dir, ".capiform-init-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, n := range names {
		p := filepath.Join(tmp, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(n, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, files[n], mode); err != nil {
			return err
		}
	}
	order := make([]string, 0, len(roots))
	for r := range roots {
		order = append(order, r)
	}
	sort.Strings(order)
	var done []string
	for _, r := range order {
		dst := filepath.Join(dir, filepath.FromSlash(r))
		if err := os.Rename(filepath.Join(tmp, filepath.FromSlash(r)), dst); err != nil {
			for _, d := range done {
				os.RemoveAll(d)
			}
			return err
		}
		done = append(done, dst)
	}
	return nil
}
