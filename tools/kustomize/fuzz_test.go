package kustomize

import (
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"sigs.k8s.io/kustomize/api/types"
)

// FuzzKustomizationCheck checks any kustomization at app/, beside a base
// that refers back to it (a cycle): the check never panics, ends, and
// never accepts a kustomization that kustomize's own decoder reads as
// having a remote, absolute or climbing reference, or a Helm chart.
func FuzzKustomizationCheck(f *testing.F) {
	for _, seed := range []string{
		"resources: [cm.yaml, base]\n",
		"resources:\n  - file:///tmp/x?ref=--upload-pack=touch /tmp/pwned\n",
		"bases: ['git::https://example.org/org/repo']\ncomponents: [github.com/org/repo]\n",
		"resources: [../secret.txt, /etc/passwd]\n",
		"generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: g}\n  files: [http://example.org/f]\n",
		"patchesStrategicMerge: [http://example.org/p.yaml]\nopenapi: {path: ../x}\n",
		"configMapGenerator: [{name: g, files: [k=../x], envs: [/e], env: 'https://h/e'}]\n",
		"helmCharts: [{name: x}]\n",
		"x: &r [https://example.org/x]\nresources: *r\n",
		"Resources: [ssh://git@h/r]\nRESOURCES: [a]\n",
		"transformers: [base]\nvalidators: [v.yaml]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"secret.txt":                  {Data: []byte("outside\n")},
			"app/cm.yaml":                 {Data: []byte(cm)},
			"app/base/kustomization.yaml": {Data: []byte("resources: [.., ../cm.yaml]\ntransformers: [..]\n")},
			"app/kustomization.yaml":      {Data: data},
		}
		done := make(chan error, 1)
		go func() { done <- Check(fsys, Options{Root: "app", Dir: "app"}) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Check did not end in 10s on %q", data)
		}
		if err != nil {
			diagnostics(t, err) // every refusal is diagnostics
			return
		}
		// Accepted: read it as kustomize does, and hold every reference
		// against kustomize's own notions of remote.
		var k types.Kustomization
		if k.Unmarshal(data) != nil {
			return // kustomize refuses it itself
		}
		if len(k.HelmCharts) > 0 || len(k.HelmChartInflationGenerator) > 0 || k.HelmGlobals != nil {
			t.Fatalf("accepted a Helm chart: %q", data)
		}
		var refs []string
		refs = append(refs, k.Resources...)
		refs = append(refs, k.Bases...)
		refs = append(refs, k.Components...)
		refs = append(refs, k.Crds...)
		refs = append(refs, k.Configurations...)
		refs = append(refs, k.OpenAPI["path"])
		for _, p := range append(k.Patches, k.PatchesJson6902...) {
			refs = append(refs, p.Path)
		}
		for _, r := range k.Replacements {
			refs = append(refs, r.Path)
		}
		var gens []types.KvPairSources
		for _, g := range k.ConfigMapGenerator {
			gens = append(gens, g.KvPairSources)
		}
		for _, g := range k.SecretGenerator {
			gens = append(gens, g.KvPairSources)
		}
		for _, g := range gens {
			for _, f := range g.FileSources {
				if _, p, ok := strings.Cut(f, "="); ok {
					f = p
				}
				refs = append(refs, f)
			}
			refs = append(refs, g.EnvSources...)
			refs = append(refs, g.EnvSource)
		}
		for _, r := range refs {
			if r == "" {
				continue
			}
			if gitRemote(r) || httpRemote(r) {
				t.Fatalf("accepted remote reference %q in %q", r, data)
			}
			if path.IsAbs(r) {
				t.Fatalf("accepted absolute path %q in %q", r, data)
			}
			if p := path.Join("app", r); p != "app" && !strings.HasPrefix(p, "app/") {
				t.Fatalf("accepted %q climbing out of app in %q", r, data)
			}
		}
		// Generators, transformers, validators and strategic merge
		// patches may be inline YAML, which kustomize tries as a path
		// too: none may be what its loaders take for remote.
		var entries []string
		entries = append(entries, k.Generators...)
		entries = append(entries, k.Transformers...)
		entries = append(entries, k.Validators...)
		for _, e := range entries {
			if gitRemote(e) || httpRemote(e) {
				t.Fatalf("accepted remote plugin entry %q in %q", e, data)
			}
		}
		for _, p := range k.PatchesStrategicMerge {
			if httpRemote(string(p)) {
				t.Fatalf("accepted remote patch %q in %q", p, data)
			}
		}
	})
}

// gitUser is the user@ that makes kustomize's git loader read a
// reference as an scp-style URL.
var gitUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// gitRemote is kustomize's git loader's notion of a repository URL,
// restated from its parsing rules (scheme, user@, github.com, after an
// optional git:: prefix), independently of the check's.
func gitRemote(s string) bool {
	low := strings.ToLower(s)
	low = strings.TrimPrefix(low, "git::")
	for _, scheme := range []string{"ssh://", "https://", "http://", "file://"} {
		if strings.HasPrefix(low, scheme) {
			return true
		}
	}
	return gitUser.MatchString(low) || strings.HasPrefix(low, "github.com/") || strings.HasPrefix(low, "github.com:")
}

// httpRemote is kustomize's file loader's notion of a URL it downloads.
func httpRemote(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}
