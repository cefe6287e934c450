package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"time"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	releasecommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// ReleaseInstaller makes a Helm release exist with the given chart and
// values. The default is the Helm v4 SDK with server-side apply.
type ReleaseInstaller interface {
	// EnsureRelease installs the release, upgrades it when its chart or
	// values differ, and does nothing when they are the same.
	EnsureRelease(ctx context.Context, cfg *rest.Config, rel AddonRelease) error
}

// helmInstaller is the default ReleaseInstaller.
type helmInstaller struct {
	log func(string, ...any)
}

func (h helmInstaller) EnsureRelease(ctx context.Context, cfg *rest.Config, rel AddonRelease) error {
	_, _, err := ensureRelease(ctx, cfg, rel.Namespace, rel.ReleaseName, rel.Chart, rel.Values, h.log)
	return err
}

// restGetter adapts a rest.Config to the RESTClientGetter Helm wants.
type restGetter struct {
	config    *rest.Config
	namespace string
	mapper    meta.RESTMapper
	disco     discovery.CachedDiscoveryInterface
}

func newRESTGetter(cfg *rest.Config, namespace string) *restGetter {
	return &restGetter{config: cfg, namespace: namespace}
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	if g.disco == nil {
		dc, err := discovery.NewDiscoveryClientForConfig(g.config)
		if err != nil {
			return nil, err
		}
		g.disco = memory.NewMemCacheClient(dc)
	}
	return g.disco, nil
}

func (g *restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	if g.mapper == nil {
		dc, err := g.ToDiscoveryClient()
		if err != nil {
			return nil, err
		}
		g.mapper = restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, nil)
	}
	return g.mapper, nil
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	k := kubeconfigOf(g.config, "helm")
	k.Contexts["helm"].Namespace = g.namespace
	return clientcmd.NewDefaultClientConfig(k, &clientcmd.ConfigOverrides{})
}

// helmConfig is an action configuration whose release storage (Secrets) is
// in namespace.
func helmConfig(cfg *rest.Config, namespace string) (*action.Configuration, error) {
	ac := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	if err := ac.Init(newRESTGetter(cfg, namespace), namespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return ac, nil
}

// lastRelease returns the newest revision of a release, or nil.
func lastRelease(ac *action.Configuration, name string) (*releasev1.Release, error) {
	r, err := ac.Releases.Last(name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rel, ok := r.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("release %s: unexpected release type %T", name, r)
	}
	return rel, nil
}

// ensureRelease installs or upgrades a release so that it runs chart with
// values; it returns the deployed revision and whether it changed anything.
// The identity (name, namespace as target and storage namespace) is exactly
// what the Flux HelmRelease uses, so Flux upgrades this release later.
func ensureRelease(ctx context.Context, cfg *rest.Config, namespace, name string, ch *chart.Chart, values map[string]any, log func(string, ...any)) (int, bool, error) {
	logf := func(format string, args ...any) {
		if log != nil {
			log(format, args...)
		}
	}
	ac, err := helmConfig(cfg, namespace)
	if err != nil {
		return 0, false, err
	}
	last, err := lastRelease(ac, name)
	if err != nil {
		return 0, false, fmt.Errorf("release %s/%s: %w", namespace, name, err)
	}
	if last != nil && last.Info != nil && last.Info.Status.IsPending() {
		// A run killed during install or upgrade leaves the release
		// locked; mark it failed so that the upgrade below can take over, as
		// helm-controller does.
		logf("release %s/%s revision %d was left %s; marking it failed", namespace, name, last.Version, last.Info.Status)
		last.Info.Status = releasecommon.StatusFailed
		last.Info.Description = "interrupted; taken over by capiform bootstrap"
		if err := ac.Releases.Update(last); err != nil {
			return 0, false, fmt.Errorf("release %s/%s: unlocking: %w", namespace, name, err)
		}
	}
	if last != nil && last.Info != nil && last.Info.Status == releasecommon.StatusDeployed && sameRelease(last, ch, values) {
		logf("release %s/%s revision %d is up to date", namespace, name, last.Version)
		return last.Version, false, nil
	}
	if last == nil || (last.Version == 1 && last.Info != nil && last.Info.Status != releasecommon.StatusDeployed && last.Info.Status != releasecommon.StatusSuperseded) {
		if last != nil {
			// A first install that failed: start over, as helm install
			// --replace would.
			if _, err := ac.Releases.Delete(name, last.Version); err != nil {
				return 0, false, fmt.Errorf("release %s/%s: removing failed install: %w", namespace, name, err)
			}
		}
		in := action.NewInstall(ac)
		in.ReleaseName = name
		in.Namespace = namespace
		in.CreateNamespace = true
		in.ServerSideApply = true
		in.WaitStrategy = kube.HookOnlyStrategy
		in.Timeout = 5 * time.Minute
		r, err := in.RunWithContext(ctx, ch, values)
		if err != nil {
			return 0, false, fmt.Errorf("installing release %s/%s: %w", namespace, name, err)
		}
		rel := r.(*releasev1.Release)
		logf("installed release %s/%s revision %d", namespace, name, rel.Version)
		return rel.Version, true, nil
	}
	rel, err := upgradeRelease(ctx, ac, namespace, name, ch, values)
	if err != nil {
		return 0, false, err
	}
	logf("upgraded release %s/%s to revision %d", namespace, name, rel.Version)
	return rel.Version, true, nil
}

func upgradeRelease(ctx context.Context, ac *action.Configuration, namespace, name string, ch *chart.Chart, values map[string]any) (*releasev1.Release, error) {
	up := action.NewUpgrade(ac)
	up.Namespace = namespace
	up.ServerSideApply = "true"
	up.WaitStrategy = kube.HookOnlyStrategy
	up.Timeout = 5 * time.Minute
	up.MaxHistory = 10
	r, err := up.RunWithContext(ctx, name, ch, values)
	if err != nil {
		return nil, fmt.Errorf("upgrading release %s/%s: %w", namespace, name, err)
	}
	return r.(*releasev1.Release), nil
}

// sameRelease reports whether a release already runs this chart version
// with these values.
func sameRelease(rel *releasev1.Release, ch *chart.Chart, values map[string]any) bool {
	if rel.Chart == nil || rel.Chart.Metadata == nil || ch.Metadata == nil {
		return false
	}
	if rel.Chart.Metadata.Name != ch.Metadata.Name || rel.Chart.Metadata.Version != ch.Metadata.Version {
		return false
	}
	return reflect.DeepEqual(normalize(rel.Config), normalize(values))
}

// normalize round-trips values through JSON so that values read back from
// release storage compare equal to the caller's (numbers, empty maps).
func normalize(v map[string]any) map[string]any {
	out := map[string]any{}
	if len(v) == 0 {
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}
