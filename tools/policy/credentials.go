package policy

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/credentials"
	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/internal/parallel"
	"github.com/capiform/capiform/tools/load"
)

// RuleNoCredentials is the rule of a credential in clear.
const RuleNoCredentials = "policy.no-credentials"

// Shared files whose values reach generated/ for every site: the platform
// catalogue's definitions and the charts' values files.
var credentialGlobs = []string{
	"platforms/*/platform.yaml", "charts/*/values.yaml", "charts/*/values-*.yaml",
	// The manifests of plain-manifests components: Flux applies them into
	// workload clusters as they are.
	"platforms/*/*/*.yaml", "platforms/*/*/*.yml", "platforms/*/*/*/*.yaml", "platforms/*/*/*/*.yml",
}

// credentialFile is one file the detector reads, with the sites whose
// allow-lists may let its values pass.
type credentialFile struct {
	name   string
	data   []byte
	sites  []*load.Site // the site of a site's own file; every site for a shared one
	shared bool
}

// checkCredentials runs the credential detector (tools/credentials: the
// maintained gitleaks rules and capiform's structural rules) over every
// definition of the fleet and, with head, over the platform catalogue and
// the chart values files. It is authoritative for policy.no-credentials,
// whether the Go checks are on or not: CUE's #NoCredentials judges the
// same keys and values (its expressions are the detector's, a test holds
// them together) and stays the hook a site policy extends, and where both
// report a value the detector's diagnostic, which names its rules, is
// kept. cueDiags are CUE's diagnostics; the result replaces them.
func checkCredentials(ctx context.Context, fleet *load.Fleet, head fs.FS, cueDiags diag.List) (diag.List, error) {
	var files []credentialFile
	for _, s := range fleet.Sites {
		own := []*load.Site{s}
		files = append(files, credentialFile{name: s.File, data: s.Source, sites: own})
		for _, c := range s.Clusters {
			files = append(files, credentialFile{name: c.File, data: c.Source, sites: own})
		}
	}
	if head != nil {
		for _, g := range credentialGlobs {
			names, _ := fs.Glob(head, g)
			for _, n := range names {
				// Only regular files: a link is never followed (another
				// check reports it).
				if fi, err := fs.Lstat(head, n); err != nil || !fi.Mode().IsRegular() {
					continue
				}
				data, err := fs.ReadFile(head, n)
				if err != nil {
					continue
				}
				files = append(files, credentialFile{name: n, data: data, sites: fleet.Sites, shared: true})
			}
		}
	}
	credentials.Warm()
	scanner := credentials.NewScanner()
	results := make([]diag.List, len(files))
	allowedAt := make([][]diag.Pos, len(files))
	err := parallel.For(ctx, len(files), 0, func(_, i int) {
		results[i], allowedAt[i] = scanCredentialFile(scanner, files[i])
	})
	if err != nil {
		return nil, err
	}
	var out diag.List
	covered := map[diag.Pos]bool{}
	for i := range files {
		for _, d := range results[i] {
			covered[d.Pos] = true
		}
		for _, p := range allowedAt[i] {
			covered[p] = true
		}
		out = append(out, results[i]...)
	}
	for _, d := range cueDiags {
		if d.Rule == RuleNoCredentials && covered[d.Pos] {
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

// scanCredentialFile returns the diagnostics of one file and the places of
// the findings its sites allow.
func scanCredentialFile(s *credentials.Scanner, f credentialFile) (diag.List, []diag.Pos) {
	// The loader has reported a file that is not YAML.
	findings, _ := s.ScanYAML(f.name, f.data)
	type place struct {
		pos  diag.Pos
		path string
	}
	rules := map[place][]string{}
	var order []place
	for _, fd := range findings {
		p := place{diag.Pos{File: f.name, Line: fd.Line, Col: fd.Col}, fd.Path}
		if _, ok := rules[p]; !ok {
			order = append(order, p)
		}
		rules[p] = append(rules[p], fd.Rule)
	}
	var out diag.List
	var allowed []diag.Pos
	for _, p := range order {
		if allowedBy(f, p.path) {
			allowed = append(allowed, p.pos)
			continue
		}
		r := rules[p]
		slices.Sort(r)
		r = slices.Compact(r)
		where := "spec.allowedCredentials of its site.yaml"
		if f.shared {
			where = "spec.allowedCredentials of every site's site.yaml"
		}
		out = append(out, diag.Diagnostic{
			Pos:  p.pos,
			Rule: RuleNoCredentials,
			Message: describeValue(p.path) + " holds a credential in clear (found by " + strings.Join(r, ", ") +
				"): put it in a Secret and reference the Secret by name (values reach addons through valuesFrom); if it is no credential, list its file and path with the reason in " + where,
			Severity: diag.Error,
		})
	}
	return out, allowed
}

func describeValue(p string) string {
	if p == "" {
		return "the document"
	}
	return p
}

// allowedBy reports whether the allow-lists of f's sites let the value at
// key path p of f pass: its own site's for a site's file, every site's for
// a shared file (so that no site loosens the check for another).
func allowedBy(f credentialFile, p string) bool {
	if len(f.sites) == 0 {
		return false
	}
	for _, s := range f.sites {
		if !slices.ContainsFunc(s.Spec.AllowedCredentials, func(a v1alpha1.AllowedCredential) bool {
			return allows(a, f.name, p)
		}) {
			return false
		}
	}
	return true
}

// allows reports whether one allow-list entry covers a value. An entry
// without a reason allows nothing (the schema reports it).
func allows(a v1alpha1.AllowedCredential, file, p string) bool {
	if strings.TrimSpace(a.Reason) == "" || a.File == "" || a.Path == "" {
		return false
	}
	return glob(a.File, file, '/') && glob(a.Path, p, '.')
}

// glob matches s against a pattern in which only * is special: * matches
// a run of characters without sep, ** any run at all. Key paths are full
// of brackets ([0]) that path.Match would take for character classes.
func glob(pattern, s string, sep byte) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case strings.HasPrefix(pattern[i:], "**"):
			re.WriteString(".*")
			i++
		case pattern[i] == '*':
			re.WriteString("[^" + regexp.QuoteMeta(string(sep)) + "]*")
		default:
			re.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	re.WriteString("$")
	ok, err := regexp.MatchString(re.String(), s)
	return err == nil && ok
}
