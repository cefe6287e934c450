package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	controlplanev1 "sigs.k8s.io/cluster-api/api/controlplane/kubeadm/v1beta2"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	clusterctlv1 "sigs.k8s.io/cluster-api/cmd/clusterctl/api/v1alpha3"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/capiform/capiform/tools/resolve"
)

// Roles of the two clusters, as passed to Options.InjectWrapTransport.
const (
	RoleEphemeral = "ephemeral"
	RoleTarget    = "target"
)

// scheme holds the types the pivot reads; it mirrors clusterctl's own so
// that clients we hand to clusterctl decode what it expects.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		apiextensionsv1.AddToScheme,
		clusterv1.AddToScheme,
		controlplanev1.AddToScheme,
		clusterctlv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}()

// cluster is one API server the pivot talks to.
type cluster struct {
	role   string
	config *rest.Config // transport wrapping applied
	client ctrlclient.Client
	// kubeconfig is a file with config's credentials, for clusterctl.
	kubeconfig string
}

type runner struct {
	opts     Options
	id       resolve.Identity
	timeouts Timeouts
	tmp      string

	ephemeral *cluster
	target    *cluster
	kind      KindProvider
	// kindOwned: kind was made here (not injected), so close closes it.
	kindOwned bool
}

func identityOf(opts Options) resolve.Identity {
	return resolve.ReleaseIdentity(opts.Site, opts.ManagementCluster)
}

func (r *runner) close() {
	if c, ok := r.kind.(io.Closer); ok && r.kindOwned {
		_ = c.Close()
	}
	if r.tmp != "" {
		_ = os.RemoveAll(r.tmp)
	}
}

func (r *runner) tempDir() (string, error) {
	if r.tmp == "" {
		d, err := os.MkdirTemp("", "capiform-bootstrap-")
		if err != nil {
			return "", err
		}
		r.tmp = d
	}
	return r.tmp, nil
}

func (r *runner) newCluster(role string, cfg *rest.Config) (*cluster, error) {
	cfg = rest.CopyConfig(cfg)
	if wrap := r.opts.InjectWrapTransport; wrap != nil {
		prev := cfg.WrapTransport
		cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			if prev != nil {
				rt = prev(rt)
			}
			return wrap(role, rt)
		}
	}
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	c, err := ctrlclient.New(cfg, ctrlclient.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("%s cluster: %w", role, err)
	}
	dir, err := r.tempDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, role+".kubeconfig")
	if err := clientcmd.WriteToFile(kubeconfigOf(cfg, role), path); err != nil {
		return nil, fmt.Errorf("%s cluster: writing kubeconfig for clusterctl: %w", role, err)
	}
	return &cluster{role: role, config: cfg, client: c, kubeconfig: path}, nil
}

// kubeconfigOf turns a rest.Config back into a kubeconfig (clusterctl only
// takes kubeconfig files).
func kubeconfigOf(cfg *rest.Config, name string) clientcmdapi.Config {
	k := clientcmdapi.NewConfig()
	k.Clusters[name] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
		CertificateAuthority:     cfg.CAFile,
		InsecureSkipTLSVerify:    cfg.Insecure,
		TLSServerName:            cfg.ServerName,
	}
	k.AuthInfos[name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientCertificate:     cfg.CertFile,
		ClientKeyData:         cfg.KeyData,
		ClientKey:             cfg.KeyFile,
		Token:                 cfg.BearerToken,
		TokenFile:             cfg.BearerTokenFile,
		Username:              cfg.Username,
		Password:              cfg.Password,
	}
	k.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	k.CurrentContext = name
	return *k
}

// ephemeralCluster connects to the ephemeral cluster; with create it makes
// the kind cluster when it does not exist. It returns nil, nil when the
// kind cluster does not exist and create is false.
func (r *runner) ephemeralCluster(ctx context.Context, create bool) (*cluster, error) {
	if r.ephemeral != nil {
		return r.ephemeral, nil
	}
	var cfg *rest.Config
	switch {
	case r.opts.InjectEphemeral != nil:
		cfg = r.opts.InjectEphemeral
	case r.opts.EphemeralKubeconfig != "":
		c, err := clientcmd.BuildConfigFromFlags("", r.opts.EphemeralKubeconfig)
		if err != nil {
			return nil, fmt.Errorf("ephemeral kubeconfig: %w", err)
		}
		cfg = c
	default:
		kind, err := r.kindProvider()
		if err != nil {
			return nil, err
		}
		name := r.opts.ephemeralName()
		exists, err := kindExists(kind, name)
		if err != nil {
			return nil, err
		}
		if !exists {
			if !create {
				return nil, nil
			}
			r.opts.logf("creating kind cluster %s", name)
			if err := kind.Create(name, r.opts.KindNodeImage, r.timeouts.Providers); err != nil {
				return nil, fmt.Errorf("creating kind cluster %s: %w", name, err)
			}
		}
		raw, err := kind.KubeConfig(name)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
		}
		c, err := clientcmd.RESTConfigFromKubeConfig([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("kubeconfig of kind cluster %s: %w", name, err)
		}
		cfg = c
	}
	c, err := r.newCluster(RoleEphemeral, cfg)
	if err != nil {
		return nil, err
	}
	r.ephemeral = c
	return c, nil
}

func (r *runner) kindProvider() (KindProvider, error) {
	if r.kind != nil {
		return r.kind, nil
	}
	if r.opts.InjectKind != nil {
		r.kind = r.opts.InjectKind
		return r.kind, nil
	}
	k, err := NewKindProvider(r.opts.Log)
	if err != nil {
		return nil, err
	}
	r.kind, r.kindOwned = k, true
	return k, nil
}

// errNoTarget means the new cluster's kubeconfig is not known yet.
var errNoTarget = errors.New("the management cluster's kubeconfig is not available yet")

// targetCluster connects to the new management cluster: the injected
// config, else the kubeconfig Cluster API wrote into <cluster>-kubeconfig
// (on whichever cluster holds it now), else the TargetKubeconfig file.
func (r *runner) targetCluster(ctx context.Context) (*cluster, error) {
	if r.target != nil {
		return r.target, nil
	}
	cfg, err := r.targetConfig(ctx)
	if err != nil {
		return nil, err
	}
	c, err := r.newCluster(RoleTarget, cfg)
	if err != nil {
		return nil, err
	}
	r.target = c
	return c, nil
}

func (r *runner) targetConfig(ctx context.Context) (*rest.Config, error) {
	if r.opts.InjectTarget != nil {
		return r.opts.InjectTarget, nil
	}
	if eph, err := r.ephemeralCluster(ctx, false); err != nil {
		return nil, err
	} else if eph != nil {
		raw, err := kubeconfigSecret(ctx, eph.client, r.id.Cluster)
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if apierrors.IsNotFound(err) {
			// After the move the secret lives on the target; the pivot kept
			// a copy on the ephemeral cluster for reruns.
			raw, err = savedTargetKubeconfig(ctx, eph.client, r.id.Cluster)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		} else if err := saveTargetKubeconfig(ctx, eph.client, r.id.Cluster, raw); err != nil {
			return nil, err
		}
		if err == nil {
			cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
			if err != nil {
				return nil, fmt.Errorf("the management cluster's kubeconfig: %w", err)
			}
			if r.opts.TargetKubeconfig != "" {
				if err := writeFileAtomic(r.opts.TargetKubeconfig, raw, 0o600); err != nil {
					return nil, fmt.Errorf("writing the management cluster's kubeconfig: %w", err)
				}
				if err := r.mark(markerStarted, cfg.Host); err != nil {
					return nil, err
				}
			}
			return cfg, nil
		}
	}
	if r.opts.TargetKubeconfig != "" {
		if _, err := os.Stat(r.opts.TargetKubeconfig); err == nil {
			return clientcmd.BuildConfigFromFlags("", r.opts.TargetKubeconfig)
		}
	}
	return nil, errNoTarget
}

func kubeconfigSecret(ctx context.Context, c ctrlclient.Client, clusterName string) ([]byte, error) {
	var s corev1.Secret
	key := ctrlclient.ObjectKey{Namespace: resolve.ClusterNamespace(clusterName), Name: resolve.KubeconfigSecretName(clusterName)}
	if err := c.Get(ctx, key, &s); err != nil {
		return nil, err
	}
	raw := s.Data["value"]
	if len(raw) == 0 {
		return nil, fmt.Errorf("secret %s has no key \"value\"", key)
	}
	return raw, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func targetKubeconfigCopy(clusterName string) ctrlclient.ObjectKey {
	return ctrlclient.ObjectKey{Namespace: stateNamespace, Name: stateName(clusterName) + "-kubeconfig"}
}

// saveTargetKubeconfig keeps a copy of the management cluster's kubeconfig
// on the ephemeral cluster: <cluster>-kubeconfig moves away with the
// cluster, and a rerun still has to find the target.
func saveTargetKubeconfig(ctx context.Context, c ctrlclient.Client, clusterName string, raw []byte) error {
	ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: stateNamespace}}
	if err := apply(ctx, c, ns); err != nil {
		return err
	}
	key := targetKubeconfigCopy(clusterName)
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
		Data:       map[string][]byte{"value": raw},
	}
	if err := apply(ctx, c, s); err != nil {
		return fmt.Errorf("keeping a copy of the management cluster's kubeconfig: %w", err)
	}
	return nil
}

func savedTargetKubeconfig(ctx context.Context, c ctrlclient.Client, clusterName string) ([]byte, error) {
	var s corev1.Secret
	if err := c.Get(ctx, targetKubeconfigCopy(clusterName), &s); err != nil {
		return nil, err
	}
	return s.Data["value"], nil
}
