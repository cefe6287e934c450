package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	clusterctl "sigs.k8s.io/cluster-api/cmd/clusterctl/client"
	"sigs.k8s.io/cluster-api/cmd/clusterctl/client/config"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Provider is one Cluster API provider at a pinned version.
type Provider struct {
	// Type is clusterctl's provider type, for example "CoreProvider".
	Type clusterctlv1.ProviderType
	// Name is clusterctl's provider name, for example "kubeadm".
	Name string
	// Version is the release, for example "v1.14.2".
	Version string
}

// String is clusterctl's "name:version" notation.
func (p Provider) String() string { return p.Name + ":" + p.Version }

// ManifestLabel is clusterctl's label of the provider ("control-plane-kubeadm").
func (p Provider) ManifestLabel() string {
	return clusterctlv1.ManifestLabel(p.Name, p.Type)
}

// ProviderInstaller installs Cluster API providers on a cluster. The
// default runs clusterctl's Init.
type ProviderInstaller interface {
	// Init installs providers on the cluster of the kubeconfig file. It is
	// only called with providers the cluster does not have.
	Init(ctx context.Context, kubeconfig string, providers []Provider) error
}

// wantedProviders lists the site's providers in clusterctl's install order.
func wantedProviders(v ProviderVersions) []Provider {
	return []Provider{
		{clusterctlv1.CoreProviderType, config.ClusterAPIProviderName, v.Core},
		{clusterctlv1.BootstrapProviderType, config.KubeadmBootstrapProviderName, v.Bootstrap},
		{clusterctlv1.ControlPlaneProviderType, config.KubeadmControlPlaneProviderName, v.ControlPlane},
		{clusterctlv1.InfrastructureProviderType, config.OpenStackProviderName, v.Infrastructure},
	}
}

// siteField is the site's field that pins a provider of this type.
func siteField(t clusterctlv1.ProviderType) string {
	switch t {
	case clusterctlv1.CoreProviderType:
		return "core"
	case clusterctlv1.BootstrapProviderType:
		return "bootstrap"
	case clusterctlv1.ControlPlaneProviderType:
		return "controlPlane"
	default:
		return "infrastructure"
	}
}

// clusterctlFlag is clusterctl upgrade apply's flag for a provider type.
func clusterctlFlag(t clusterctlv1.ProviderType) string {
	switch t {
	case clusterctlv1.CoreProviderType:
		return "core"
	case clusterctlv1.BootstrapProviderType:
		return "bootstrap"
	case clusterctlv1.ControlPlaneProviderType:
		return "control-plane"
	default:
		return "infrastructure"
	}
}

// missingProviders reads clusterctl's inventory on a cluster (where names
// it in messages) and returns the wanted providers it lacks. A provider
// installed at another version is an error that says what to do: the pivot
// neither upgrades nor downgrades providers, and clusterctl's move needs
// the same providers on both sides.
func missingProviders(ctx context.Context, c ctrlclient.Client, where string, want []Provider) ([]Provider, error) {
	var list clusterctlv1.ProviderList
	if err := c.List(ctx, &list); err != nil {
		if meta.IsNoMatchError(err) {
			return want, nil
		}
		return nil, fmt.Errorf("reading clusterctl's provider inventory: %w", err)
	}
	var missing []Provider
	var errs []error
	for _, w := range want {
		found := false
		for _, p := range list.Items {
			if p.Type != string(w.Type) || p.ProviderName != w.Name {
				continue
			}
			found = true
			if w.Version != "" && p.Version != w.Version {
				errs = append(errs, fmt.Errorf("provider %s on %s is installed at %s (namespace %s), the site pins %s (spec.bootstrap.providers.%s): "+
					"bootstrap neither upgrades nor downgrades providers; pin %s in the site, or upgrade the provider there "+
					"(clusterctl upgrade apply --%s %s/%s:%s) and run again",
					w.Name, where, p.Version, p.Namespace, w.Version, siteField(w.Type), p.Version, clusterctlFlag(w.Type), p.Namespace, w.Name, w.Version))
			}
		}
		if !found {
			missing = append(missing, w)
		}
	}
	return missing, errors.Join(errs...)
}

// ClusterctlInstaller is the default ProviderInstaller: clusterctl's Init
// with pinned versions, from a local provider repository when one is given.
type ClusterctlInstaller struct {
	// ConfigFile is a clusterctl configuration file; empty: clusterctl's
	// default (~/.config/cluster-api/clusterctl.yaml if it exists).
	ConfigFile string
	// Repository is a local provider repository; when set, a configuration
	// that points each provider (and cert-manager) at it is written over
	// ConfigFile's.
	Repository string
	// Timeout bounds the wait for each provider's deployments.
	Timeout time.Duration
	// TempDir is where the generated configuration is written.
	TempDir string
}

// Init implements ProviderInstaller.
func (c ClusterctlInstaller) Init(ctx context.Context, kubeconfig string, providers []Provider) error {
	client, err := c.client(ctx)
	if err != nil {
		return err
	}
	opts := clusterctl.InitOptions{
		Kubeconfig:          clusterctl.Kubeconfig{Path: kubeconfig},
		WaitProviders:       true,
		WaitProviderTimeout: c.Timeout,
	}
	for _, p := range providers {
		switch p.Type {
		case clusterctlv1.CoreProviderType:
			opts.CoreProvider = p.String()
		case clusterctlv1.BootstrapProviderType:
			opts.BootstrapProviders = append(opts.BootstrapProviders, p.String())
		case clusterctlv1.ControlPlaneProviderType:
			opts.ControlPlaneProviders = append(opts.ControlPlaneProviders, p.String())
		case clusterctlv1.InfrastructureProviderType:
			opts.InfrastructureProviders = append(opts.InfrastructureProviders, p.String())
		default:
			return fmt.Errorf("provider %s: unsupported type %s", p, p.Type)
		}
	}
	if _, err := client.Init(ctx, opts); err != nil {
		return fmt.Errorf("clusterctl init: %w", err)
	}
	return nil
}

// client builds the clusterctl client Init uses.
func (c ClusterctlInstaller) client(ctx context.Context) (clusterctl.Client, error) {
	path := c.ConfigFile
	if c.Repository != "" {
		p, err := c.writeRepositoryConfig()
		if err != nil {
			return nil, err
		}
		path = p
	}
	return clusterctl.New(ctx, path)
}

// writeRepositoryConfig writes a clusterctl configuration whose provider
// URLs point into the local repository; the entries of ConfigFile that it
// does not override (variables, other providers) are kept.
func (c ClusterctlInstaller) writeRepositoryConfig() (string, error) {
	repo, err := filepath.Abs(c.Repository)
	if err != nil {
		return "", err
	}
	cfg := map[string]any{}
	if c.ConfigFile != "" {
		raw, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			return "", fmt.Errorf("clusterctl config: %w", err)
		}
		if err := yaml.Unmarshal(raw, &cfg); err != nil {
			return "", fmt.Errorf("clusterctl config %s: %w", c.ConfigFile, err)
		}
	}
	var provs []map[string]any
	var errs []error
	for _, p := range LocalRepositoryProviders(repo) {
		if _, err := os.Stat(p.URL); err != nil {
			// Only the versions present are listed; a missing one fails
			// Init with clusterctl's own message about the version.
			continue
		}
		provs = append(provs, map[string]any{"name": p.Name, "type": string(p.Type), "url": p.URL})
	}
	if len(provs) == 0 {
		errs = append(errs, fmt.Errorf("local provider repository %s holds none of cluster-api, bootstrap-kubeadm, control-plane-kubeadm, infrastructure-openstack", c.Repository))
	}
	if cm, err := localCertManager(repo); err != nil {
		errs = append(errs, err)
	} else if cm != nil {
		cfg[config.CertManagerConfigKey] = cm
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	cfg["providers"] = provs
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	dir := c.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "clusterctl-*.yaml")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(raw); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// LocalProvider is a provider entry that points into a local repository.
type LocalProvider struct {
	Name string
	Type clusterctlv1.ProviderType
	// URL is the absolute path of the components file of the newest
	// version found; clusterctl picks the pinned version beside it.
	URL string
}

// LocalRepositoryProviders returns the provider entries for a local
// repository laid out as clusterctl's: <repo>/<label>/<version>/<file>.
func LocalRepositoryProviders(repo string) []LocalProvider {
	entries := []struct {
		name, file string
		typ        clusterctlv1.ProviderType
	}{
		{config.ClusterAPIProviderName, "core-components.yaml", clusterctlv1.CoreProviderType},
		{config.KubeadmBootstrapProviderName, "bootstrap-components.yaml", clusterctlv1.BootstrapProviderType},
		{config.KubeadmControlPlaneProviderName, "control-plane-components.yaml", clusterctlv1.ControlPlaneProviderType},
		{config.OpenStackProviderName, "infrastructure-components.yaml", clusterctlv1.InfrastructureProviderType},
	}
	var out []LocalProvider
	for _, e := range entries {
		label := clusterctlv1.ManifestLabel(e.name, e.typ)
		version := newestVersionDir(filepath.Join(repo, label))
		out = append(out, LocalProvider{Name: e.name, Type: e.typ, URL: filepath.Join(repo, label, version, e.file)})
	}
	return out
}

// newestVersionDir returns the last version folder (sorted) or "latest".
func newestVersionDir(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "latest"
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "latest"
	}
	sort.Strings(names)
	return names[len(names)-1]
}

func localCertManager(repo string) (map[string]any, error) {
	dir := filepath.Join(repo, "cert-manager")
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var versions []string
	for _, e := range ents {
		if e.IsDir() {
			versions = append(versions, e.Name())
		}
	}
	if len(versions) != 1 {
		return nil, fmt.Errorf("local provider repository: %s must hold exactly one version folder, found %d", dir, len(versions))
	}
	return map[string]any{
		"url":     filepath.Join(dir, versions[0], "cert-manager.yaml"),
		"version": versions[0],
	}, nil
}
