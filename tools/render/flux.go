package render

import (
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/capiform/capiform/tools/api/v1alpha1"
	"github.com/capiform/capiform/tools/load"
	"github.com/capiform/capiform/tools/resolve"
)

// Names of the reconcile-on-merge objects, all in flux-system beside the
// site's GitRepository: under --no-cross-namespace-refs a Receiver may
// only reconcile, and an Alert only hear, objects of its own namespace.
const (
	// ReceiverName names the Receiver of the git host's push webhook. Its
	// webhook path is /hook/<sha256 of token, name and namespace>.
	ReceiverName = "git-host"
	// StatusProviderName and StatusAlertName name the commit status
	// Provider and its Alert.
	StatusProviderName = "commit-status"
	StatusAlertName    = "commit-status"
	// SiteSecretsName names the Kustomization that delivers the site's
	// own encrypted Secrets (the git host tokens) into flux-system.
	SiteSecretsName = "flux-system-secrets"
	// FluxControllerAccount is kustomize-controller's own ServiceAccount:
	// the site's root Kustomizations run as it under the lockdown, for
	// they apply the cluster-wide objects (namespaces, RBAC) and the
	// Kustomizations that are then locked down.
	FluxControllerAccount = "kustomize-controller"
	// ClusterRoleName names the Role, in a cluster's namespace, that its
	// ServiceAccount is bound to.
	ClusterRoleName = "capiform-reconciler"
)

// SiteSecretsDir is the folder of the generated tree, and the key of
// Options.Secrets, holding the site's own encrypted Secrets of flux-system.
const SiteSecretsDir = resolve.FluxNamespace

// ReceiverEvents are the webhook events a Receiver acts on, per git host:
// a push (GitHub also sends ping when the webhook is made).
var ReceiverEvents = map[string][]string{
	v1alpha1.GitHostGitHub: {"ping", "push"},
	v1alpha1.GitHostGitLab: {"Push Hook"},
}

// WebhookSecret and StatusSecret are the names of a git host's Secrets.
func WebhookSecret(g *v1alpha1.GitHost) string {
	return or(g.WebhookSecret, v1alpha1.DefaultWebhookSecret)
}

// StatusSecret is the Secret of the commit status token.
func StatusSecret(g *v1alpha1.GitHost) string {
	return or(g.StatusSecret, v1alpha1.DefaultStatusSecret)
}

// GitHost returns the site's git host settings, or nil.
func GitHost(s *load.Site) *v1alpha1.GitHost {
	if s.Spec.Flux == nil {
		return nil
	}
	return s.Spec.Flux.GitHost
}

// Tenancy returns the site's lockdown settings, or nil.
func Tenancy(s *load.Site) *v1alpha1.Tenancy {
	if s.Spec.Flux == nil {
		return nil
	}
	return s.Spec.Flux.Tenancy
}

// ReconcilerAccount names the ServiceAccount in flux-system that a
// cluster's Flux objects impersonate under the lockdown.
func ReconcilerAccount(t *v1alpha1.Tenancy, cluster string) string {
	return cluster + "-" + or(t.ServiceAccountSuffix, v1alpha1.DefaultReconcilerSuffix)
}

// CommitStatusExpr is the CEL expression naming each commit status (its
// context on GitHub, its name on GitLab): flux/<site>/<Kustomization>, the
// same on every commit and across re-creations of the Provider, so that a
// branch rule can require one. Flux's default puts part of the Provider's
// UID in it.
func CommitStatusExpr(site string) string {
	return "'flux/" + site + "/' + event.involvedObject.name"
}

// notificationObjects are the Receiver, and unless the site reports
// nothing the commit status Provider and Alert, of a site.
func notificationObjects(s *load.Site) []Object {
	g := GitHost(s)
	if g == nil {
		return nil
	}
	meta0 := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: resolve.FluxNamespace, Labels: map[string]string{SiteLabel: s.Metadata.Name}}
	}
	out := []Object{&notificationv1.Receiver{
		TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1.GroupVersion.String(), Kind: notificationv1.ReceiverKind},
		ObjectMeta: meta0(ReceiverName),
		Spec: notificationv1.ReceiverSpec{
			Type:      g.Provider,
			Events:    ReceiverEvents[g.Provider],
			SecretRef: &meta.LocalObjectReference{Name: WebhookSecret(g)},
			Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{
				APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.GitRepositoryKind, Name: "flux-system",
			}}},
		},
	}}
	report := or(g.Report, v1alpha1.ReportAll)
	if report == v1alpha1.ReportNone {
		return out
	}
	// Commit statuses come from the Kustomizations' events only: theirs
	// carry the GitRepository's revision (<branch>@sha1:<commit>), the
	// commit the status is set on. A HelmRelease's revision is its chart
	// version, which a git host's commit status cannot be set on; a
	// release's outcome reaches the commit through the Kustomization that
	// applies or waits for it.
	severity := "info"
	if report == v1alpha1.ReportFailures {
		severity = "error"
	}
	out = append(out,
		&notificationv1beta3.Provider{
			TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1beta3.GroupVersion.String(), Kind: notificationv1beta3.ProviderKind},
			ObjectMeta: meta0(StatusProviderName),
			Spec: notificationv1beta3.ProviderSpec{
				Type:             g.Provider,
				Address:          g.Repository,
				SecretRef:        &meta.LocalObjectReference{Name: StatusSecret(g)},
				CommitStatusExpr: CommitStatusExpr(s.Metadata.Name),
			},
		},
		&notificationv1beta3.Alert{
			TypeMeta:   metav1.TypeMeta{APIVersion: notificationv1beta3.GroupVersion.String(), Kind: notificationv1beta3.AlertKind},
			ObjectMeta: meta0(StatusAlertName),
			Spec: notificationv1beta3.AlertSpec{
				ProviderRef:   meta.LocalObjectReference{Name: StatusProviderName},
				EventSeverity: severity,
				EventSources: []notificationv1.CrossNamespaceObjectReference{{
					Kind: kustomizev1.KustomizationKind, Name: "*",
				}},
			},
		},
	)
	return out
}

// siteSecretsKustomization delivers the site's own encrypted Secrets
// into flux-system, decrypted with the site's age key.
func siteSecretsKustomization(s *load.Site) *kustomizev1.Kustomization {
	ks := &kustomizev1.Kustomization{
		TypeMeta: metav1.TypeMeta{APIVersion: kustomizev1.GroupVersion.String(), Kind: kustomizev1.KustomizationKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: SiteSecretsName, Namespace: resolve.FluxNamespace, Labels: map[string]string{SiteLabel: s.Metadata.Name},
		},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  duration(KustomizationInterval),
			Path:      "./" + Dir(s.Metadata.Name) + "/secrets/" + SiteSecretsDir,
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "flux-system"},
			Decryption: &kustomizev1.Decryption{
				Provider:  "sops",
				SecretRef: &meta.LocalObjectReference{Name: DecryptionSecret},
			},
		},
	}
	if Tenancy(s) != nil {
		ks.Spec.ServiceAccountName = FluxControllerAccount
	}
	return ks
}

// tenancyObjects are what a cluster's locked-down Flux objects need,
// applied by the site's root Kustomization (as kustomize-controller),
// since the cluster's own account may change nothing outside its
// namespace, and all never pruned: the namespace itself; the ServiceAccount in
// flux-system, allowed HelmReleases there (the cluster's Kustomization
// applies the cluster's HelmRelease, which lives in flux-system); and in
// the cluster's namespace every right, and none elsewhere.
func tenancyObjects(t *v1alpha1.Tenancy, rel *resolve.Release) []Object {
	sa := ReconcilerAccount(t, rel.Cluster)
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: resolve.FluxNamespace}}
	// Never pruned: when the cluster leaves git, kustomize-controller
	// deletes what its Kustomizations applied (the cluster's HelmRelease,
	// whose uninstall deletes the cluster) as this account, and skips the
	// deletion when the account is already gone.
	om := func(name, ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels(rel),
			Annotations: map[string]string{PruneAnnotation: "disabled"}}
	}
	rbac := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kind}
	}
	return []Object{
		secretsNamespace(rel),
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: om(sa, resolve.FluxNamespace)},
		&rbacv1.Role{
			TypeMeta: rbac("Role"), ObjectMeta: om(sa, resolve.FluxNamespace),
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"helm.toolkit.fluxcd.io"}, Resources: []string{"helmreleases"}, Verbs: []string{"*"}}},
		},
		&rbacv1.RoleBinding{
			TypeMeta: rbac("RoleBinding"), ObjectMeta: om(sa, resolve.FluxNamespace),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: sa},
			Subjects: subject,
		},
		&rbacv1.Role{
			TypeMeta: rbac("Role"), ObjectMeta: om(ClusterRoleName, rel.TargetNamespace),
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
		},
		&rbacv1.RoleBinding{
			TypeMeta: rbac("RoleBinding"), ObjectMeta: om(ClusterRoleName, rel.TargetNamespace),
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: ClusterRoleName},
			Subjects: subject,
		},
	}
}
