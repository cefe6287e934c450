package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	chart "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/capiform/capiform/tools/expand"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/platform"
)

// ClusterChartDir is the management cluster chart's folder in the
// repository.
const ClusterChartDir = "charts/openstack-cluster"

// SyncManifestsFile is the generated tree's file, relative to
// clusters/<site>/generated, holding Flux's GitRepository and root
// Kustomization.
const SyncManifestsFile = "flux-system/gotk-sync.yaml"

// BasePlatform is the platform whose components a node needs to become
// Ready; CloudControllerComponent is its cloud controller. Together with
// the catalogue's CNI they are what the pivot installs before waiting for
// the nodes. The rest of the platform (CSI, metrics) is left to Flux.
const (
	BasePlatform             = "base"
	CloudControllerComponent = "cloud-controller"
)

// ChartFetcher fetches a chart at an exact version from a Helm repository
// (https://) or an OCI registry (oci://).
type ChartFetcher interface {
	Fetch(ctx context.Context, repoURL, name, version string) (*chart.Chart, error)
}

// SiteInput is what SiteOptions needs to build a site's Options.
type SiteInput struct {
	// FS is the repository's root (the work tree or a git revision).
	FS fs.FS
	// RepoDir is the work tree's folder on disk when FS is the work tree:
	// the site's providerRepository and fluxManifests, relative to the
	// repository root, are resolved against it (clusterctl and kustomize
	// read them from disk). Empty: they are used as written, relative to
	// the working directory.
	RepoDir string
	// Site is the site's name.
	Site string
	// Charts fetches the base platform's charts. Not used in DryRun; nil
	// otherwise is an error when the site has base platform components.
	Charts ChartFetcher
	// DeployKeyFile and KnownHostsFile are Flux's SSH deploy key and the
	// git host's known_hosts.
	DeployKeyFile, KnownHostsFile string
	// AgeKeyFile is the site's age identity, for the sops-age Secret; a
	// site with spec.secrets needs it, and one of its identities must be
	// one of the site's recipients.
	AgeKeyFile string
	// EphemeralKubeconfig is an existing cluster to use instead of kind.
	EphemeralKubeconfig string
	// TargetKubeconfig is where the new cluster's kubeconfig is written
	// (mode 0600) and read back by a rerun. Empty: DefaultKubeconfigOut,
	// in the working directory.
	TargetKubeconfig string
	// KeepEphemeral keeps the kind cluster after a successful run.
	KeepEphemeral bool
	// DryRun fetches nothing: the base platform's releases have their
	// names, namespaces and values but no chart.
	DryRun bool
	// Log receives progress lines. Nil: discarded.
	Log func(format string, args ...any)
}

// SiteOptions renders the repository and returns the Options that
// bootstrap the site's management cluster: the chart and values of its
// release, the cloud credentials secret, the pinned providers, kind node
// image and Flux, the site's flux-system objects and the base platform
// (CNI and cloud controller) under the identities of their Flux
// HelmReleases. Invalid definitions return the pipeline's diag.List.
func SiteOptions(ctx context.Context, in SiteInput) (Options, error) {
	logf := func(format string, args ...any) {
		if in.Log != nil {
			in.Log(format, args...)
		}
	}
	if in.FS == nil {
		return Options{}, errors.New("no repository given")
	}
	res, err := pipeline.Render(ctx, pipeline.Default(in.FS))
	if err != nil {
		return Options{}, err
	}
	site := res.Fleet.Site(in.Site)
	if site == nil {
		var names []string
		for _, s := range res.Fleet.Sites {
			names = append(names, s.Metadata.Name)
		}
		return Options{}, fmt.Errorf("no site %q in %s (sites: %v)", in.Site, load.ClustersDir, names)
	}
	mgmt := site.Management()
	if mgmt == nil {
		return Options{}, fmt.Errorf("%s: spec.managementCluster %q names no cluster of the site", site.File, site.Spec.ManagementCluster)
	}
	rel := res.Release(site.Metadata.Name, mgmt.Metadata.Name)
	if rel == nil {
		return Options{}, fmt.Errorf("the management cluster %s of site %s was not resolved", mgmt.Metadata.Name, site.Metadata.Name)
	}
	bs := site.Spec.Bootstrap
	if bs == nil {
		return Options{}, fmt.Errorf("%s: spec.bootstrap is missing: bootstrap needs the provider versions (spec.bootstrap.providers), the Flux version (spec.bootstrap.fluxVersion) and optionally the kind node image", site.File)
	}

	chartFS, err := fs.Sub(in.FS, ClusterChartDir)
	if err != nil {
		return Options{}, err
	}
	ch, err := expand.LoadChart(chartFS)
	if err != nil {
		return Options{}, fmt.Errorf("%s: %w", ClusterChartDir, err)
	}

	files := res.Sites[site.Metadata.Name]
	sync, ok := files[SyncManifestsFile]
	if !ok {
		return Options{}, fmt.Errorf("the generated tree of site %s has no %s", site.Metadata.Name, SyncManifestsFile)
	}
	if _, err := rootKustomization(sync); err != nil {
		return Options{}, fmt.Errorf("%s: %w", path.Join(load.ClustersDir, site.Metadata.Name, "generated", SyncManifestsFile), err)
	}

	opts := Options{
		Site:              site.Metadata.Name,
		ManagementCluster: mgmt.Metadata.Name,
		Providers: ProviderVersions{
			Core:           bs.Providers.Core,
			Bootstrap:      bs.Providers.Bootstrap,
			ControlPlane:   bs.Providers.ControlPlane,
			Infrastructure: bs.Providers.Infrastructure,
		},
		ProviderRepository: in.repoPath(bs.ProviderRepository),
		SyncMachineLabels:  slices.Clone(site.Spec.SyncMachineLabels),
		ClusterChart:       ch,
		ClusterValues:      rel.Values,
		CredentialsSecret:  site.Spec.Cloud.CredentialsSecret,
		Flux: FluxOptions{
			Version:         bs.FluxVersion,
			ManifestsDir:    in.repoPath(bs.FluxManifests),
			SyncManifests:   sync,
			DeployKeyFile:   in.DeployKeyFile,
			KnownHostsFile:  in.KnownHostsFile,
			DeployKeySecret: site.Spec.Git.SecretName,
			AgeKeyFile:      in.AgeKeyFile,
		},
		EphemeralKubeconfig: in.EphemeralKubeconfig,
		KindNodeImage:       bs.KindNodeImage,
		KeepEphemeral:       in.KeepEphemeral,
		TargetKubeconfig:    or(in.TargetKubeconfig, DefaultKubeconfigOut(site.Metadata.Name, mgmt.Metadata.Name)),
		DryRun:              in.DryRun,
		Log:                 in.Log,
	}
	if host, ok := sshGitHost(site.Spec.Git.URL); ok && in.DeployKeyFile != "" && in.KnownHostsFile == "" {
		return Options{}, fmt.Errorf("%s: spec.git.url %s is an SSH URL: Flux checks the git host's key against known_hosts, so the deploy key alone cannot work; pass --known-hosts FILE (for example from `ssh-keyscan %s`)", site.File, site.Spec.Git.URL, host)
	}
	if err := checkAgeKey(site, in); err != nil {
		return Options{}, err
	}
	if in.DeployKeyFile != "" && site.Spec.Git.SecretName == "" {
		logf("warning: %s: spec.git.secretName is not set, so the GitRepository names no secret and Flux will not use the deploy key (it is stored as flux-system/flux-system)", site.File)
	}
	if !in.DryRun {
		for field, dir := range map[string]string{"spec.bootstrap.providerRepository": opts.ProviderRepository, "spec.bootstrap.fluxManifests": opts.Flux.ManifestsDir} {
			if dir == "" {
				continue
			}
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return Options{}, fmt.Errorf("%s: %s: %s is not a folder", site.File, field, dir)
			}
		}
	}

	cat, err := platform.LoadCatalogue(in.FS)
	if err != nil {
		return Options{}, err
	}
	addons, err := cat.Resolve(site, mgmt, rel)
	if err != nil {
		return Options{}, err
	}
	for _, a := range addons {
		if a.Platform != BasePlatform || (a.Component != cat.CNI() && a.Component != CloudControllerComponent) {
			continue
		}
		ar := AddonRelease{
			ReleaseName: a.Identity.ReleaseName,
			Namespace:   a.Identity.TargetNamespace,
			Values:      a.Values,
			ChartRef:    ChartRef{Repository: a.Chart.Repository, Name: a.Chart.Name, Version: a.Chart.Version},
		}
		for _, vf := range a.ValuesFrom {
			if vf.Kind != "Secret" {
				return Options{}, fmt.Errorf("base platform component %s: valuesFrom %s %s: only Secrets are supported", a.Component, vf.Kind, vf.Name)
			}
			ar.ValuesFrom = append(ar.ValuesFrom, SecretValue{SecretName: vf.Name, Key: vf.ValuesKey, TargetPath: vf.TargetPath, Literal: vf.Literal})
		}
		if !in.DryRun {
			if in.Charts == nil {
				return Options{}, fmt.Errorf("base platform component %s: no chart fetcher given", a.Component)
			}
			logf("fetching chart %s %s from %s", a.Chart.Name, a.Chart.Version, a.Chart.Repository)
			c, err := in.Charts.Fetch(ctx, a.Chart.Repository, a.Chart.Name, a.Chart.Version)
			if err != nil {
				return Options{}, fmt.Errorf("base platform component %s: %w", a.Component, err)
			}
			ar.Chart = c
		}
		opts.BasePlatform = append(opts.BasePlatform, ar)
	}
	if len(opts.BasePlatform) < 2 {
		return Options{}, fmt.Errorf("%s: the management cluster %s lacks the %s platform's CNI and cloud controller (%s): without them no node becomes Ready", mgmt.File, mgmt.Metadata.Name, BasePlatform, CloudControllerComponent)
	}
	return opts, nil
}

// sshGitHost reports whether a git URL is reached over SSH (ssh://... or
// scp-like user@host:path) and returns its host.
func sshGitHost(u string) (string, bool) {
	if rest, ok := strings.CutPrefix(u, "ssh://"); ok {
		parsed, err := url.Parse(u)
		if err == nil && parsed.Hostname() != "" {
			return parsed.Hostname(), true
		}
		host, _, _ := strings.Cut(rest, "/")
		return host, true
	}
	if strings.Contains(u, "://") {
		return "", false
	}
	// scp-like: [user@]host:path
	hostPart, _, ok := strings.Cut(u, ":")
	if !ok || strings.Contains(hostPart, "/") {
		return "", false
	}
	if _, h, ok := strings.Cut(hostPart, "@"); ok {
		return h, true
	}
	return hostPart, hostPart != ""
}

func (in SiteInput) repoPath(p string) string {
	if p == "" || filepath.IsAbs(p) || in.RepoDir == "" {
		return p
	}
	return filepath.Join(in.RepoDir, filepath.FromSlash(p))
}

// DefaultKubeconfigOut is the file the new management cluster's kubeconfig
// is written to when none is named: <site>-<cluster>.kubeconfig.
func DefaultKubeconfigOut(site, cluster string) string {
	return site + "-" + cluster + ".kubeconfig"
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkAgeKey makes sure Flux will be able to decrypt the site's Secrets:
// a site with spec.secrets needs the age key, and the key must be one of
// the site's recipients.
func checkAgeKey(site *load.Site, in SiteInput) error {
	if site.Spec.Secrets == nil {
		if in.AgeKeyFile != "" {
			return fmt.Errorf("%s: an age key was given but the site has no spec.secrets.ageRecipients: add its public key there", site.File)
		}
		return nil
	}
	if in.AgeKeyFile == "" {
		if in.DryRun {
			return nil
		}
		return fmt.Errorf("%s: the site keeps encrypted Secrets (spec.secrets): pass --age-key FILE, the age identity of one of its recipients, for kustomize-controller to decrypt them", site.File)
	}
	rs, err := AgeRecipients(in.AgeKeyFile)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if slices.Contains(site.Spec.Secrets.AgeRecipients, r) {
			return nil
		}
	}
	return fmt.Errorf("%s: the age key %s is not for any of the site's spec.secrets.ageRecipients: Flux could not decrypt the site's Secrets; give the right key or run `capiform secrets updatekeys`", site.File, in.AgeKeyFile)
}
