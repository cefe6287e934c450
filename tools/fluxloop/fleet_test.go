package fluxloop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/capiform/capiform/tools/internal/testrepo"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/render"
	"github.com/capiform/capiform/tools/secrets"
	"github.com/capiform/capiform/tools/source"
)

// site is the test fleet's site that Flux reconciles: edi, with its
// management cluster edi-mgmt and the cluster teaching.
const site = "edi"

// cloudsYAML is the site's cloud credentials, encrypted into the fleet
// and expected decrypted in each cluster's namespace. Its secret has what
// Helm's --set syntax would split or change (a comma, a backslash), so
// that the addons' values show cloud.conf reaching its chart verbatim.
var cloudsYAML = []byte("clouds:\n  openstack:\n    auth:\n      auth_url: https://keystone.example.org/v3\n      application_credential_id: fluxloop-id\n      application_credential_secret: fluxloop,se\\cret\n    region_name: RegionOne\n")

// fleet is the operators' repository: a copy of the test fleet (site edi
// only) with the repository's chart, platforms (their charts from the
// stand-in chart server, serveStandInCharts) and policies, committed
// with go-git and pushed to the git server, each change rendered first as
// an operator does.
type fleet struct {
	t    testing.TB
	dir  string
	repo *git.Repository
	auth *githttp.BasicAuth
	// id is the site's age identity: its recipient encrypts the
	// credentials, and it is the sops-age Secret's key.
	id *age.X25519Identity
	// charts are those the stand-in chart server serves.
	charts []chartRef
	n      int
}

// newFleet makes the repository whose site is served at url.
func newFleet(t testing.TB, url, user, password string) *fleet {
	t.Helper()
	dir := testrepo.New(t, true)
	if err := os.RemoveAll(filepath.Join(dir, "clusters", "lon")); err != nil {
		t.Fatal(err)
	}
	charts := serveStandInCharts(t, dir)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
	f := &fleet{t: t, dir: dir, repo: repo, id: id, auth: &githttp.BasicAuth{Username: user, Password: password}, charts: charts}
	siteFile := "clusters/" + site + "/site.yaml"
	// Reconcile on merge: the generated tree's own Receiver, its token
	// and the commit status token encrypted as the operator's are.
	f.edit(siteFile, "\nspec:\n", "\nspec:\n  secrets:\n    ageRecipients: ["+id.Recipient().String()+"]\n"+
		"  flux:\n    gitHost: {provider: github, repository: https://github.com/example/fleet}\n")
	f.edit(siteFile, "url: ssh://git@git.example.org/platform/fleet.git", "url: "+url)
	// The metadata service policy is Calico's or Cilium's custom
	// resource, whose CRDs come with the real CNI; the stand-in charts
	// bring none, so the loop's clusters leave it out.
	for _, c := range []string{mgmt, "teaching"} {
		f.edit("clusters/"+site+"/"+c+".yaml", "    - name: base\n", "    - name: base\n      values: {block-metadata: {enabled: false}}\n")
	}
	f.createSecrets()
	f.createFluxSecrets()
	return f
}

// createFluxSecrets encrypts the git host's two tokens into the site's
// flux-system Secrets, as `capiform secrets create SITE --cluster
// flux-system` does.
func (f *fleet) createFluxSecrets() {
	f.t.Helper()
	fl, err := load.LoadSites(source.Worktree(f.dir), []string{site})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string][]byte{}
	for name, token := range map[string]string{"webhook-token": receiverToken, "commit-status-token": "fluxloop-status-token"} {
		files, err := secrets.Create(secrets.CreateOptions{FS: source.Worktree(f.dir), Site: fl.Site(site), Clusters: []string{"flux-system"}, Name: name, Data: map[string][]byte{"token": []byte(token)}})
		if err != nil {
			f.t.Fatal(err)
		}
		for p, c := range files {
			out[p] = c
		}
	}
	testrepo.WriteFiles(f.t, f.dir, out)
}

func (f *fleet) path(name string) string { return filepath.Join(f.dir, filepath.FromSlash(name)) }

func (f *fleet) read(name string) string {
	f.t.Helper()
	b, err := os.ReadFile(f.path(name))
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

func (f *fleet) write(name, content string) {
	f.t.Helper()
	testrepo.WriteFiles(f.t, f.dir, map[string][]byte{name: []byte(content)})
}

// edit replaces old with new in a file, failing when old is absent.
func (f *fleet) edit(name, old, new string) {
	f.t.Helper()
	s := f.read(name)
	if !strings.Contains(s, old) {
		f.t.Fatalf("%s does not contain %q", name, old)
	}
	f.write(name, strings.Replace(s, old, new, 1))
}

func (f *fleet) remove(name string) {
	f.t.Helper()
	if err := os.Remove(f.path(name)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fleet) removeAll(name string) {
	f.t.Helper()
	if err := os.RemoveAll(f.path(name)); err != nil {
		f.t.Fatal(err)
	}
}

// createSecrets encrypts the cloud credentials for every cluster that has
// none yet, as `capiform secrets create` does.
func (f *fleet) createSecrets() {
	f.t.Helper()
	fl, err := load.LoadSites(source.Worktree(f.dir), []string{site})
	if err != nil {
		f.t.Fatal(err)
	}
	files, err := secrets.Create(secrets.CreateOptions{FS: source.Worktree(f.dir), Site: fl.Site(site), CloudsYAML: cloudsYAML})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string][]byte{}
	for p, c := range files {
		out[p] = c
	}
	testrepo.WriteFiles(f.t, f.dir, out)
}

// push renders the fleet as `capiform render` does, commits everything
// and pushes to the git server; it returns the commit.
func (f *fleet) push(msg string) string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := pipeline.Render(ctx, pipeline.Default(source.Worktree(f.dir)))
	if err != nil {
		f.t.Fatalf("render: %v", err)
	}
	if err := render.Write(f.dir, res.Sites); err != nil {
		f.t.Fatal(err)
	}
	wt, err := f.repo.Worktree()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		f.t.Fatal(err)
	}
	f.n++
	sig := &object.Signature{Name: "test", Email: "test@example.org", When: time.Date(2026, 1, 1, 0, f.n, 0, 0, time.UTC)}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.repo.PushContext(ctx, &git.PushOptions{RemoteName: "origin", Auth: f.auth}); err != nil {
		f.t.Fatalf("push: %v", err)
	}
	return h.String()
}
