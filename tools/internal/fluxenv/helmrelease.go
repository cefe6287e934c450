package fluxenv

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/chartutil"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
)

// StandInMessage starts every status message of the helm-controller
// stand-in, so that no reader takes it for helm-controller.
const StandInMessage = "helm-controller stand-in (Helm SDK): "

// DependencyRequeue is how often the stand-in looks again at a
// HelmRelease whose dependencies are not Ready (helm-controller's
// --requeue-dependency default).
const DependencyRequeue = 5 * time.Second

// Finalizer is helm-controller's, which the stand-in sets as it does: a
// HelmRelease is uninstalled before it goes.
const Finalizer = "finalizers.fluxcd.io"

// helmReleaseStandIn is the helm-controller stand-in. What it does, as
// helm-controller does: the HelmChart <namespace>-<name> from spec.chart
// in the source's namespace (or spec.chartRef's HelmChart); nothing until
// each of spec.dependsOn is Ready at its generation (looked at again every
// DependencyRequeue); the release spec.releaseName in
// spec.targetNamespace with its storage in spec.storageNamespace, on the
// cluster of spec.kubeConfig.secretRef (the Secret's key, by default
// "value" then "value.yaml") or on this API server; values as
// helm-controller builds them, with its own code (Flux's chartutil):
// spec.valuesFrom in order (a targetPath set with Helm's strvals, or
// verbatim when literal) then spec.values merged over them;
// install.createNamespace; no wait when install/upgrade.disableWait;
// server-side apply unless install.serverSideApply is false; an upgrade
// when the chart's artifact or the values change; uninstall (keepHistory,
// deletionPropagation, no wait) on deletion, under helm-controller's
// finalizer, skipped as helm-controller skips it when the kubeconfig
// Secret is gone. What it does not: tests, remediation and rollback, drift
// detection, post-renderers, impersonation, kubeConfig.configMapRef and
// dependsOn[].readyExpr; a HelmRelease asking for one of these is marked
// not Ready saying so.
type helmReleaseStandIn struct {
	client client.Client
	config *rest.Config
	http   *http.Client
	helm   *slog.Logger
}

func startHelmStandIn(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, wg *sync.WaitGroup, logPath string) (chan error, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	logger := zap.New(zap.WriteTo(logf), zap.UseDevMode(true))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 logger,
		Client:                 client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
	})
	if err != nil {
		logf.Close()
		return nil, err
	}
	r := &helmReleaseStandIn{
		client: mgr.GetClient(), config: cfg, http: &http.Client{Timeout: time.Minute},
		helm: slog.New(logr.ToSlogHandler(logger.WithName("helm"))),
	}
	err = ctrl.NewControllerManagedBy(mgr).
		Named("helmrelease-stand-in").
		For(&helmv2.HelmRelease{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// As helm-controller: a new chart artifact upgrades the release.
		Watches(&sourcev1.HelmChart{}, handler.EnqueueRequestsFromMapFunc(r.releasesOfChart)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Complete(r)
	if err != nil {
		logf.Close()
		return nil, err
	}
	done := make(chan error, 1)
	wg.Go(func() {
		done <- mgr.Start(ctx)
		logf.Close()
	})
	return done, nil
}

// releasesOfChart maps a HelmChart to the HelmRelease it was made for.
func (r *helmReleaseStandIn) releasesOfChart(ctx context.Context, o client.Object) []reconcile.Request {
	var list helmv2.HelmReleaseList
	if err := r.client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, hr := range list.Items {
		if hr.Status.HelmChart == o.GetNamespace()+"/"+o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&hr)})
		}
	}
	return out
}

func (r *helmReleaseStandIn) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	hr := &helmv2.HelmRelease{}
	if err := r.client.Get(ctx, req.NamespacedName, hr); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !hr.DeletionTimestamp.IsZero() {
		if !controllerutil.ContainsFinalizer(hr, Finalizer) {
			return reconcile.Result{}, nil
		}
		if err := r.uninstall(ctx, hr); err != nil {
			return reconcile.Result{}, err
		}
		patch := client.MergeFrom(hr.DeepCopy())
		controllerutil.RemoveFinalizer(hr, Finalizer)
		return reconcile.Result{}, client.IgnoreNotFound(r.client.Patch(ctx, hr, patch))
	}
	if !controllerutil.ContainsFinalizer(hr, Finalizer) {
		patch := client.MergeFrom(hr.DeepCopy())
		controllerutil.AddFinalizer(hr, Finalizer)
		if err := r.client.Patch(ctx, hr, patch); err != nil {
			return reconcile.Result{}, err
		}
	}
	if hr.Spec.Suspend {
		return reconcile.Result{}, nil
	}
	base := hr.DeepCopy()
	requeue, err := r.reconcile(ctx, hr)
	hr.Status.ObservedGeneration = hr.Generation
	if v, ok := meta.ReconcileAnnotationValue(hr.GetAnnotations()); ok {
		hr.Status.LastHandledReconcileAt = v
	}
	if err != nil {
		apimeta.SetStatusCondition(&hr.Status.Conditions, metav1.Condition{
			Type: meta.ReadyCondition, Status: metav1.ConditionFalse, Reason: "StandInFailed",
			Message: StandInMessage + err.Error(), ObservedGeneration: hr.Generation,
		})
	}
	if perr := r.client.Status().Patch(ctx, hr, client.MergeFrom(base)); perr != nil {
		return reconcile.Result{}, perr
	}
	if err != nil {
		return reconcile.Result{RequeueAfter: 5 * time.Second}, nil
	}
	if requeue > 0 {
		return reconcile.Result{RequeueAfter: requeue}, nil
	}
	return reconcile.Result{RequeueAfter: hr.Spec.Interval.Duration}, nil
}

// reconcile installs or upgrades the release; a positive duration asks to
// look again after it (the chart is not built yet).
func (r *helmReleaseStandIn) reconcile(ctx context.Context, hr *helmv2.HelmRelease) (time.Duration, error) {
	if err := unsupported(hr); err != nil {
		return 0, err
	}
	if msg, err := r.dependenciesReady(ctx, hr); err != nil || msg != "" {
		if err != nil {
			return 0, err
		}
		apimeta.SetStatusCondition(&hr.Status.Conditions, metav1.Condition{
			Type: meta.ReadyCondition, Status: metav1.ConditionFalse, Reason: meta.DependencyNotReadyReason,
			Message: StandInMessage + msg, ObservedGeneration: hr.Generation,
		})
		return DependencyRequeue, nil
	}
	hc, err := r.helmChart(ctx, hr)
	if err != nil {
		return 0, err
	}
	hr.Status.HelmChart = hc.Namespace + "/" + hc.Name
	ready := apimeta.FindStatusCondition(hc.Status.Conditions, meta.ReadyCondition)
	if hc.Status.Artifact == nil || hc.Status.ObservedGeneration != hc.Generation || ready == nil || ready.Status != metav1.ConditionTrue {
		msg := "HelmChart " + hr.Status.HelmChart + " has no artifact yet"
		if ready != nil {
			msg += ": " + ready.Message
		}
		apimeta.SetStatusCondition(&hr.Status.Conditions, metav1.Condition{
			Type: meta.ReadyCondition, Status: metav1.ConditionUnknown, Reason: "ArtifactNotReady",
			Message: StandInMessage + msg, ObservedGeneration: hr.Generation,
		})
		return 2 * time.Second, nil
	}
	values, err := r.values(ctx, hr)
	if err != nil {
		return 0, err
	}
	vb, err := json.Marshal(values)
	if err != nil {
		return 0, err
	}
	sum := sha256.Sum256(append([]byte(hc.Status.Artifact.Digest+"\n"), vb...))
	digest := "sha256:" + hex.EncodeToString(sum[:])

	cfg, err := r.restConfig(ctx, hr)
	if err != nil {
		return 0, err
	}
	ac, err := r.helmConfig(hr, cfg)
	if err != nil {
		return 0, err
	}
	last, err := lastRelease(ac, hr.GetReleaseName())
	if err != nil {
		return 0, err
	}
	if last != nil && last.Info != nil && last.Info.Status == "deployed" && hr.Status.LastAttemptedConfigDigest == digest {
		return 0, nil
	}
	ch, err := r.fetchChart(ctx, hc.Status.Artifact)
	if err != nil {
		return 0, err
	}
	hr.Status.LastAttemptedGeneration = hr.Generation
	hr.Status.LastAttemptedRevision = ch.Metadata.Version
	hr.Status.LastAttemptedRevisionDigest = hc.Status.Artifact.Digest
	hr.Status.LastAttemptedConfigDigest = digest
	hr.Status.StorageNamespace = hr.GetStorageNamespace()
	timeout := hr.GetTimeout().Duration
	ssa := true
	var rel *releasev1.Release
	var action_ helmv2.ReleaseAction
	if last == nil {
		in := hr.GetInstall()
		if in.ServerSideApply != nil {
			ssa = *in.ServerSideApply
		}
		i := action.NewInstall(ac)
		i.ReleaseName, i.Namespace = hr.GetReleaseName(), hr.GetReleaseNamespace()
		i.CreateNamespace = in.CreateNamespace
		i.ServerSideApply = ssa
		i.ForceConflicts = ssa
		i.Timeout = timeout
		i.WaitStrategy = waitStrategy(in.DisableWait)
		i.DisableHooks = in.DisableHooks
		i.SkipCRDs = in.CRDs == helmv2.Skip
		action_ = helmv2.ReleaseActionInstall
		res, err := i.RunWithContext(ctx, ch, values)
		if err != nil {
			hr.Status.InstallFailures++
			return 0, fmt.Errorf("install of %s/%s: %w", i.Namespace, i.ReleaseName, err)
		}
		rel, _ = res.(*releasev1.Release)
	} else {
		up := hr.GetUpgrade()
		u := action.NewUpgrade(ac)
		u.Namespace = hr.GetReleaseNamespace()
		// Helm's upgrade takes "true", "false" or "auto".
		switch up.ServerSideApply {
		case helmv2.ServerSideApplyEnabled:
			u.ServerSideApply = "true"
		case helmv2.ServerSideApplyDisabled:
			u.ServerSideApply = "false"
		default:
			u.ServerSideApply = "auto"
		}
		u.ForceConflicts = true
		u.Timeout = timeout
		u.WaitStrategy = waitStrategy(up.DisableWait)
		u.DisableHooks = up.DisableHooks
		u.MaxHistory = hr.GetMaxHistory()
		u.ResetValues = true
		action_ = helmv2.ReleaseActionUpgrade
		res, err := u.RunWithContext(ctx, hr.GetReleaseName(), ch, values)
		if err != nil {
			hr.Status.UpgradeFailures++
			return 0, fmt.Errorf("upgrade of %s/%s: %w", u.Namespace, hr.GetReleaseName(), err)
		}
		rel, _ = res.(*releasev1.Release)
	}
	hr.Status.LastAttemptedReleaseAction = action_
	msg := fmt.Sprintf("Helm %s succeeded for release %s/%s with chart %s@%s", action_, hr.GetReleaseNamespace(), hr.GetReleaseName(), ch.Metadata.Name, ch.Metadata.Version)
	if rel != nil {
		hr.Status.LastReleaseRevision = rel.Version
		msg = fmt.Sprintf("Helm %s succeeded for release %s/%s.v%d with chart %s@%s", action_, hr.GetReleaseNamespace(), hr.GetReleaseName(), rel.Version, ch.Metadata.Name, ch.Metadata.Version)
	}
	apimeta.SetStatusCondition(&hr.Status.Conditions, metav1.Condition{
		Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: string(action_) + "Succeeded",
		Message: StandInMessage + msg, ObservedGeneration: hr.Generation,
	})
	return 0, nil
}

// unsupported names what the stand-in does not do that the HelmRelease
// asks for.
func unsupported(hr *helmv2.HelmRelease) error {
	var what []string
	if kc := hr.Spec.KubeConfig; kc != nil && (kc.ConfigMapRef != nil || kc.SecretRef == nil) {
		what = append(what, "spec.kubeConfig without secretRef (a cloud provider's cluster)")
	}
	if hr.Spec.ServiceAccountName != "" {
		what = append(what, "spec.serviceAccountName")
	}
	if len(hr.Spec.PostRenderers) > 0 {
		what = append(what, "spec.postRenderers")
	}
	for _, d := range hr.Spec.DependsOn {
		if d.ReadyExpr != "" {
			what = append(what, "spec.dependsOn[].readyExpr")
			break
		}
	}
	if hr.Spec.Test != nil && hr.Spec.Test.Enable {
		what = append(what, "spec.test")
	}
	if len(what) == 0 {
		return nil
	}
	return fmt.Errorf("not done by the stand-in: %s", strings.Join(what, ", "))
}

// dependenciesReady says which of spec.dependsOn is not Ready at its
// generation, as helm-controller checks them; "" when all are.
func (r *helmReleaseStandIn) dependenciesReady(ctx context.Context, hr *helmv2.HelmRelease) (string, error) {
	for _, d := range hr.Spec.DependsOn {
		key := client.ObjectKey{Namespace: d.Namespace, Name: d.Name}
		if key.Namespace == "" {
			key.Namespace = hr.Namespace
		}
		dep := &helmv2.HelmRelease{}
		if err := r.client.Get(ctx, key, dep); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Sprintf("dependency '%s' does not exist", key), nil
			}
			return "", err
		}
		if len(dep.Status.Conditions) == 0 || dep.Generation != dep.Status.ObservedGeneration ||
			!apimeta.IsStatusConditionTrue(dep.Status.Conditions, meta.ReadyCondition) {
			return fmt.Sprintf("dependency '%s' is not ready", key), nil
		}
	}
	return "", nil
}

// restConfig is the cluster the release goes to: spec.kubeConfig's
// Secret, or this API server. A kubeconfig Secret that does not exist is
// errKubeConfigGone.
func (r *helmReleaseStandIn) restConfig(ctx context.Context, hr *helmv2.HelmRelease) (*rest.Config, error) {
	kc := hr.Spec.KubeConfig
	if kc == nil {
		return r.config, nil
	}
	s := &corev1.Secret{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: hr.Namespace, Name: kc.SecretRef.Name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("kubeconfig Secret %s/%s: %w", hr.Namespace, kc.SecretRef.Name, errKubeConfigGone)
		}
		return nil, err
	}
	var raw []byte
	if key := kc.SecretRef.Key; key != "" {
		raw = s.Data[key]
	} else if raw = s.Data["value"]; raw == nil {
		raw = s.Data["value.yaml"]
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("kubeconfig Secret %s/%s has no key %q", hr.Namespace, kc.SecretRef.Name, cmp.Or(kc.SecretRef.Key, "value"))
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig Secret %s/%s: %w", hr.Namespace, kc.SecretRef.Name, err)
	}
	return cfg, nil
}

var errKubeConfigGone = errors.New("not found")

func waitStrategy(disableWait bool) kube.WaitStrategy {
	if disableWait {
		return kube.HookOnlyStrategy
	}
	return kube.StatusWatcherStrategy
}

// helmChart returns the chart source of a HelmRelease: spec.chartRef's
// HelmChart, or the HelmChart it makes from spec.chart as helm-controller
// does (named <namespace>-<name>, in the source's namespace).
func (r *helmReleaseStandIn) helmChart(ctx context.Context, hr *helmv2.HelmRelease) (*sourcev1.HelmChart, error) {
	hc := &sourcev1.HelmChart{}
	if ref := hr.Spec.ChartRef; ref != nil {
		if ref.Kind != sourcev1.HelmChartKind {
			return nil, fmt.Errorf("not done by the stand-in: spec.chartRef of kind %s", ref.Kind)
		}
		ns := ref.Namespace
		if ns == "" {
			ns = hr.Namespace
		}
		return hc, r.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, hc)
	}
	if hr.Spec.Chart == nil {
		return nil, errors.New("neither spec.chart nor spec.chartRef")
	}
	tpl := hr.Spec.Chart
	hc.Namespace = tpl.GetNamespace(hr.Namespace)
	hc.Name = hr.GetHelmChartName()
	_, err := controllerutil.CreateOrPatch(ctx, r.client, hc, func() error {
		version := tpl.Spec.Version
		if version == "" {
			version = "*"
		}
		hc.Spec = sourcev1.HelmChartSpec{
			Chart:   tpl.Spec.Chart,
			Version: version,
			SourceRef: sourcev1.LocalHelmChartSourceReference{
				APIVersion: tpl.Spec.SourceRef.APIVersion, Kind: tpl.Spec.SourceRef.Kind, Name: tpl.Spec.SourceRef.Name,
			},
			Interval:                 tpl.GetInterval(hr.Spec.Interval),
			ReconcileStrategy:        tpl.Spec.ReconcileStrategy,
			ValuesFiles:              tpl.Spec.ValuesFiles,
			IgnoreMissingValuesFiles: tpl.Spec.IgnoreMissingValuesFiles,
		}
		return nil
	})
	return hc, err
}

// fetchChart downloads a chart artifact from source-controller and
// checks its digest.
func (r *helmReleaseStandIn) fetchChart(ctx context.Context, a *meta.Artifact) (*chart.Chart, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", a.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); a.Digest != "" && got != a.Digest {
		return nil, fmt.Errorf("artifact %s: digest %s, want %s", a.URL, got, a.Digest)
	}
	return loader.LoadArchive(bytes.NewReader(b))
}

// values are spec.valuesFrom in order, then spec.values, each merged over
// what came before, as helm-controller composes them.
func (r *helmReleaseStandIn) values(ctx context.Context, hr *helmv2.HelmRelease) (map[string]any, error) {
	values, err := chartutil.ChartValuesFromReferences(ctx, logr.Discard(), r.client, hr.Namespace, hr.GetValues(), hr.Spec.ValuesFrom...)
	if err != nil {
		return nil, err
	}
	return values, nil
}

// uninstall removes a HelmRelease's release as spec.uninstall says, and the
// HelmChart it made.
func (r *helmReleaseStandIn) uninstall(ctx context.Context, hr *helmv2.HelmRelease) error {
	cfg, err := r.restConfig(ctx, hr)
	switch {
	case errors.Is(err, errKubeConfigGone):
		// As helm-controller: the cluster's kubeconfig gone (the
		// cluster deleted), there is nothing left to uninstall from.
		r.helm.Info("skipping uninstall: " + err.Error())
	case err != nil:
		return err
	default:
		ac, err := r.helmConfig(hr, cfg)
		if err != nil {
			return err
		}
		last, err := lastRelease(ac, hr.GetReleaseName())
		if err != nil {
			return err
		}
		if last != nil && last.Info != nil && last.Info.Status != "uninstalled" {
			spec := hr.GetUninstall()
			u := action.NewUninstall(ac)
			u.KeepHistory = spec.KeepHistory
			u.DisableHooks = spec.DisableHooks
			u.DeletionPropagation = spec.GetDeletionPropagation()
			u.WaitStrategy = waitStrategy(spec.DisableWait)
			u.Timeout = hr.GetTimeout().Duration
			u.IgnoreNotFound = true
			if _, err := u.Run(hr.GetReleaseName()); err != nil {
				return fmt.Errorf("uninstall of %s/%s: %w", hr.GetReleaseNamespace(), hr.GetReleaseName(), err)
			}
		}
	}
	if hr.Spec.Chart != nil {
		hc := &sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Namespace: hr.Spec.Chart.GetNamespace(hr.Namespace), Name: hr.GetHelmChartName()}}
		if err := r.client.Delete(ctx, hc); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// helmConfig is a Helm action configuration on the cluster cfg whose
// objects go to the release's namespace and whose storage is in its
// storage namespace.
func (r *helmReleaseStandIn) helmConfig(hr *helmv2.HelmRelease, cfg *rest.Config) (*action.Configuration, error) {
	ac := action.NewConfiguration(action.ConfigurationSetLogger(r.helm.Handler()))
	if err := ac.Init(&restGetter{config: cfg, namespace: hr.GetReleaseNamespace()}, hr.GetStorageNamespace(), "secret"); err != nil {
		return nil, err
	}
	return ac, nil
}

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
		return nil, fmt.Errorf("release %s: unexpected type %T", name, r)
	}
	return rel, nil
}

// restGetter adapts a rest.Config to the RESTClientGetter Helm wants, with
// the namespace of objects that name none.
type restGetter struct {
	config    *rest.Config
	namespace string
	once      sync.Once
	disco     discovery.CachedDiscoveryInterface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	err       error
}

func (g *restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g *restGetter) init() {
	g.once.Do(func() {
		dc, err := discovery.NewDiscoveryClientForConfig(g.config)
		if err != nil {
			g.err = err
			return
		}
		g.disco = memory.NewMemCacheClient(dc)
		g.mapper = restmapper.NewDeferredDiscoveryRESTMapper(g.disco)
	})
}

func (g *restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	g.init()
	return g.disco, g.err
}

func (g *restGetter) ToRESTMapper() (apimeta.RESTMapper, error) {
	g.init()
	return g.mapper, g.err
}

func (g *restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	c := g.config
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.BearerToken}
	cfg.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest", Namespace: g.namespace}
	cfg.CurrentContext = "envtest"
	return clientcmd.NewDefaultClientConfig(*cfg, &clientcmd.ConfigOverrides{})
}
