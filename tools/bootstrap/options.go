// Package bootstrap brings up a site's self-managed management cluster with
// the kind-based pivot: an ephemeral cluster provisions the management
// cluster with Cluster API, then moves the Cluster API objects (and the Helm
// release that made them) into it and hands it over to Flux.
//
// Every step reads the state it needs from the clusters, so Run can be
// interrupted anywhere and run again: it resumes and ends in the same state.
// The package never prints and never exits; progress goes to Options.Log.
package bootstrap

import (
	"net/http"
	"time"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/client-go/rest"
)

// Options is everything Run and Plan need. The CLI fills it from the site's
// definitions; nothing here is read from the environment.
type Options struct {
	// Site is the site's name; it names the kind cluster and the state the
	// pivot records.
	Site string
	// ManagementCluster is the name of the site's self-managed management
	// cluster (the Cluster definition the site points at). Its namespace and
	// Helm release follow resolve.ReleaseIdentity.
	ManagementCluster string

	// Providers are the Cluster API provider versions installed on both the
	// ephemeral and the new management cluster.
	Providers ProviderVersions
	// ProviderRepository is a local clusterctl provider repository (layout
	// <dir>/<provider-label>/<version>/<components file>, as clusterctl's
	// local repositories) used instead of GitHub when the site is
	// air-gapped. Empty: clusterctl's default repositories.
	ProviderRepository string
	// ClusterctlConfig is an optional clusterctl configuration file
	// (provider overrides, variables). ProviderRepository takes precedence
	// for the four providers it holds.
	ClusterctlConfig string
	// SyncMachineLabels are the regular expressions of node labels the
	// Cluster API core controller copies from Machines to Nodes beyond its
	// default domains (the site's spec.syncMachineLabels). clusterctl has
	// no variable for the controller's --additional-sync-machine-labels, so
	// after the providers are installed, on the ephemeral and on the new
	// management cluster, the core provider's Deployment (found by
	// clusterctl's provider labels) is changed so that its manager
	// container has exactly one --additional-sync-machine-labels=<patterns
	// joined by commas>. Empty: the flag is removed. The Deployment is only
	// written when it differs, and a rerun of a completed bootstrap sets it
	// again on the management cluster (clusterctl upgrade drops it).
	SyncMachineLabels []string

	// ClusterChart is the loaded management cluster chart
	// (charts/openstack-cluster) and ClusterValues the values resolve
	// produced for the management cluster.
	ClusterChart  *chart.Chart
	ClusterValues map[string]any
	// CredentialsSecret is the name of the Secret with the cloud
	// credentials in the cluster's namespace; it is labelled to move with
	// the cluster. Empty: none.
	CredentialsSecret string

	// BasePlatform are the addon releases (CNI, cloud controller) installed
	// into the new cluster before its nodes can become Ready, under exactly
	// the identities of the Flux HelmReleases that will adopt them.
	BasePlatform []AddonRelease

	// Flux is how Flux is installed on the new management cluster.
	Flux FluxOptions

	// EphemeralKubeconfig is the kubeconfig file of an existing cluster to
	// use as the ephemeral cluster. Empty: a kind cluster named
	// EphemeralName is created (and deleted at the end).
	EphemeralKubeconfig string
	// EphemeralName is the kind cluster's name; default "capiform-<site>".
	EphemeralName string
	// KindNodeImage is the kind node image; empty: kind's default.
	KindNodeImage string
	// KeepEphemeral keeps the kind cluster after a successful run.
	KeepEphemeral bool

	// TargetKubeconfig is the file where Run writes the new management
	// cluster's admin kubeconfig as soon as Cluster API has made it, and
	// reads it back on a later run (when the ephemeral cluster is gone).
	// Empty: not written; a rerun after the ephemeral cluster was deleted
	// then cannot find the target.
	TargetKubeconfig string

	// DryRun makes Run log the plan and touch nothing.
	DryRun bool
	// StopAfter, when set to a step name, makes Run return ErrStopped after
	// that step has completed. For "capiform bootstrap --until" and tests.
	StopAfter string

	// Log receives progress lines. Nil: discarded.
	Log func(format string, args ...any)

	// Timeouts bound the steps that wait on the clusters.
	Timeouts Timeouts

	// SkipFluxReady skips waiting for Flux's root Kustomization to become
	// Ready during verify. Only for environments where Flux's controllers
	// cannot run (tests against bare API servers); a real bootstrap never
	// sets it.
	SkipFluxReady bool

	// SkipControlPlaneAvailable lets wait-ready pass without the Cluster's
	// ControlPlaneAvailable condition (it still waits for the
	// infrastructure, every MachineDeployment and every Machine's node).
	// Only for environments where nothing answers for etcd: Cluster API's
	// controllers in envtest (KubeadmControlPlane judges availability from
	// the etcd members it reaches through the workload cluster); a real
	// bootstrap never sets it.
	SkipControlPlaneAvailable bool

	// InjectEphemeral, when set, is the ephemeral cluster (no kind, no
	// kubeconfig file).
	InjectEphemeral *rest.Config
	// InjectTarget, when set, is the new management cluster instead of the
	// kubeconfig Cluster API writes into <cluster>-kubeconfig.
	InjectTarget *rest.Config
	// InjectKind replaces the kind adapter.
	InjectKind KindProvider
	// InjectProviderInstaller replaces clusterctl's Init.
	InjectProviderInstaller ProviderInstaller
	// InjectWorkloadInstaller replaces the Helm SDK for the base platform.
	InjectWorkloadInstaller ReleaseInstaller
	// InjectWrapTransport wraps the HTTP transport of every client of the
	// given role ("ephemeral" or "target"), clusterctl's included: a seam for
	// fault injection.
	InjectWrapTransport func(role string, rt http.RoundTripper) http.RoundTripper
}

// ProviderVersions pins the Cluster API providers (versions such as
// "v1.14.2"). The providers are Cluster API core, the kubeadm bootstrap and
// control plane providers and the OpenStack infrastructure provider.
type ProviderVersions struct {
	Core           string
	Bootstrap      string
	ControlPlane   string
	Infrastructure string
}

// AddonRelease is one Helm release installed into the workload cluster
// under the identity of the Flux HelmRelease that will own it.
type AddonRelease struct {
	// ReleaseName is the HelmRelease's releaseName.
	ReleaseName string
	// Namespace is its targetNamespace (and storage namespace) in the
	// workload cluster.
	Namespace string
	// Chart and Values are the chart and values Flux will apply. Chart is
	// nil in a dry run (ChartRef names it).
	Chart  *chart.Chart
	Values map[string]any
	// ChartRef is where the chart comes from; informational.
	ChartRef ChartRef
	// ValuesFrom completes Values from Secrets in the management cluster's
	// namespace of the cluster that holds it (first the ephemeral cluster),
	// as the HelmRelease's valuesFrom does: the cloud credentials never
	// pass through git or the options.
	ValuesFrom []SecretValue
}

// ChartRef names a chart at an exact version in a repository.
type ChartRef struct {
	Repository, Name, Version string
}

// SecretValue sets the chart value at TargetPath (Helm's --set path
// syntax, dots in keys escaped as \.) to the content of a Secret's key;
// without a TargetPath the key is a values document merged under the
// release's values.
type SecretValue struct {
	SecretName string
	Key        string
	TargetPath string
	// Literal sets the key's content at TargetPath verbatim (helm
	// --set-literal), not parsed as --set's syntax.
	Literal bool
}

// FluxOptions describes the Flux installation on the new management cluster.
type FluxOptions struct {
	// Version is the Flux release (for example "v2.7.3").
	Version string
	// ManifestsDir is a local folder with a kustomization of Flux's install
	// manifests (air-gapped sites). Empty: downloaded from Flux's GitHub
	// release of Version.
	ManifestsDir string
	// SyncManifests are the generated tree's flux-system objects (the
	// GitRepository and the root Kustomization), as YAML documents.
	SyncManifests []byte
	// DeployKeyFile is the SSH private key Flux uses to read the repository;
	// KnownHostsFile the known_hosts for the git host. The Secret is created
	// in flux-system as DeployKeySecret (default "flux-system").
	DeployKeyFile   string
	KnownHostsFile  string
	DeployKeySecret string
	// AgeKeyFile is the site's age identity file (age-keygen's), stored as
	// the sops-age Secret of flux-system, with which kustomize-controller
	// decrypts the site's SOPS-encrypted Secrets. Empty: none.
	AgeKeyFile string
}

// Timeouts bound the waits. Zero values take the defaults.
type Timeouts struct {
	// ControlPlaneInitialized waits for the first control plane node and
	// the kubeconfig secret; default 30m.
	ControlPlaneInitialized time.Duration
	// Ready waits for the control plane and every MachineDeployment to be
	// available; default 60m.
	Ready time.Duration
	// Providers waits for providers to be installed; default 10m.
	Providers time.Duration
	// Flux waits for the root Kustomization to become Ready; default 15m.
	Flux time.Duration
	// Move bounds clusterctl's move (which retries each write for about
	// 2.5 minutes); a move not finished by then is handled as a failed
	// move. Default 30m.
	Move time.Duration
	// Poll is the interval between reads while waiting; default 10s.
	Poll time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&t.ControlPlaneInitialized, 30*time.Minute)
	def(&t.Ready, 60*time.Minute)
	def(&t.Providers, 10*time.Minute)
	def(&t.Flux, 15*time.Minute)
	def(&t.Move, 30*time.Minute)
	def(&t.Poll, 10*time.Second)
	return t
}

func (o Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

func (o Options) ephemeralName() string {
	if o.EphemeralName != "" {
		return o.EphemeralName
	}
	return "capiform-" + o.Site
}
