package bootstrap

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

const fluxNamespace = "flux-system"

func stepFlux(ctx context.Context, r *runner) error {
	tgt, err := r.targetCluster(ctx)
	if err != nil {
		return err
	}
	manifests, err := r.fluxInstallManifests()
	if err != nil {
		return err
	}
	objs, err := decodeObjects(manifests)
	if err != nil {
		return fmt.Errorf("flux install manifests: %w", err)
	}
	if err := applyAll(ctx, tgt.client, objs, r.timeouts.Providers); err != nil {
		return fmt.Errorf("installing flux: %w", err)
	}
	r.opts.logf("flux: %d install object(s) applied", len(objs))

	if r.opts.Flux.DeployKeyFile != "" {
		if err := r.applyDeployKey(ctx, tgt.client); err != nil {
			return err
		}
	}

	if r.opts.Flux.AgeKeyFile != "" {
		if err := r.applyAgeKey(ctx, tgt.client); err != nil {
			return err
		}
	}

	// The site's GitRepository and root Kustomization are applied by
	// verify, after the adoption upgrade: from then on helm-controller
	// upgrades the same release.
	return nil
}

// applyFluxSync applies the site's flux-system objects (GitRepository,
// root Kustomization).
func (r *runner) applyFluxSync(ctx context.Context, tgt *cluster) error {
	sync, err := decodeObjects(r.opts.Flux.SyncManifests)
	if err != nil {
		return fmt.Errorf("flux-system objects of the generated tree: %w", err)
	}
	if err := applyAll(ctx, tgt.client, sync, r.timeouts.Providers); err != nil {
		return fmt.Errorf("applying the flux-system objects: %w", err)
	}
	r.opts.logf("flux: %d flux-system object(s) of the site applied", len(sync))
	return nil
}

func (r *runner) fluxInstallManifests() ([]byte, error) {
	opts := install.MakeDefaultOptions()
	opts.Namespace = fluxNamespace
	base := ""
	if dir := r.opts.Flux.ManifestsDir; dir != "" {
		// A local kustomization: Generate builds it and writes the result
		// under base, which must therefore be ours, not the working folder.
		opts.BaseURL = dir
		tmp, err := r.tempDir()
		if err != nil {
			return nil, err
		}
		base = tmp
	} else {
		opts.Version = r.opts.Flux.Version
	}
	m, err := install.Generate(opts, base)
	if err != nil {
		return nil, fmt.Errorf("generating flux install manifests: %w", err)
	}
	return []byte(m.Content), nil
}

func (r *runner) applyDeployKey(ctx context.Context, c ctrlclient.Client) error {
	key, err := os.ReadFile(r.opts.Flux.DeployKeyFile)
	if err != nil {
		return fmt.Errorf("deploy key: %w", err)
	}
	if st, err := os.Stat(r.opts.Flux.DeployKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		r.opts.logf("warning: the deploy key %s is readable by others (mode %04o); chmod 600 it", r.opts.Flux.DeployKeyFile, st.Mode().Perm())
	}
	data := map[string][]byte{"identity": key}
	if pub, err := os.ReadFile(r.opts.Flux.DeployKeyFile + ".pub"); err == nil {
		data["identity.pub"] = pub
	}
	if r.opts.Flux.KnownHostsFile != "" {
		kh, err := os.ReadFile(r.opts.Flux.KnownHostsFile)
		if err != nil {
			return fmt.Errorf("known hosts: %w", err)
		}
		data["known_hosts"] = kh
	}
	name := r.opts.Flux.DeployKeySecret
	if name == "" {
		name = fluxNamespace
	}
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: fluxNamespace, Name: name},
		Data:       data,
	}
	if err := apply(ctx, c, s); err != nil {
		return fmt.Errorf("deploy key secret: %w", err)
	}
	r.opts.logf("flux: deploy key secret %s/%s applied", fluxNamespace, name)
	return nil
}

// AgeKeySecret and AgeKeyKey are where kustomize-controller finds the
// site's age identity: spec.decryption.secretRef of every Kustomization
// that delivers encrypted Secrets, and a key ending in .agekey.
const (
	AgeKeySecret = "sops-age"
	AgeKeyKey    = "age.agekey"
)

// applyAgeKey stores the site's age identity as flux-system/sops-age.
// Neither the key nor a part of it is ever logged.
func (r *runner) applyAgeKey(ctx context.Context, c ctrlclient.Client) error {
	key, err := ageKey(r.opts.Flux.AgeKeyFile)
	if err != nil {
		return err
	}
	if st, err := os.Stat(r.opts.Flux.AgeKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		r.opts.logf("warning: the age key %s is readable by others (mode %04o); chmod 600 it", r.opts.Flux.AgeKeyFile, st.Mode().Perm())
	}
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: fluxNamespace, Name: AgeKeySecret},
		Data:       map[string][]byte{AgeKeyKey: key},
	}
	if err := apply(ctx, c, s); err != nil {
		return fmt.Errorf("age key secret: %w", err)
	}
	r.opts.logf("flux: age key secret %s/%s applied", fluxNamespace, AgeKeySecret)
	return nil
}

// ageKey reads an age identity file and checks that it holds X25519
// identities only; its errors never quote the file.
func ageKey(file string) ([]byte, error) {
	key, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("age key: %w", err)
	}
	if _, err := age.ParseIdentities(bytes.NewReader(key)); err != nil {
		return nil, fmt.Errorf("age key %s: not an age identity file (one AGE-SECRET-KEY-1... line per key, as age-keygen writes)", file)
	}
	return key, nil
}

// AgeRecipients returns the public keys of the identities of an age
// identity file, sorted.
func AgeRecipients(file string) ([]string, error) {
	key, err := ageKey(file)
	if err != nil {
		return nil, err
	}
	ids, _ := age.ParseIdentities(bytes.NewReader(key))
	var out []string
	for _, id := range ids {
		if x, ok := id.(*age.X25519Identity); ok {
			out = append(out, x.Recipient().String())
		}
	}
	slices.Sort(out)
	return out, nil
}

// decodeObjects reads YAML documents into objects, skipping empty ones and
// kustomize's own configuration (a kustomization.yaml in the folder).
func decodeObjects(raw []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	rd := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := utilyaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, err
		}
		if len(u.Object) == 0 {
			continue
		}
		if strings.HasPrefix(u.GetAPIVersion(), "kustomize.config.k8s.io/") {
			continue
		}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("a document without kind or name: %.80q", doc)
		}
		out = append(out, u)
	}
	return out, nil
}

// applyAll applies objects server-side: namespaces and CRDs first (waiting
// for the CRDs to be served), then the rest.
func applyAll(ctx context.Context, c ctrlclient.Client, objs []*unstructured.Unstructured, timeout time.Duration) error {
	rank := func(u *unstructured.Unstructured) int {
		switch u.GetKind() {
		case "Namespace":
			return 0
		case "CustomResourceDefinition":
			return 1
		}
		return 2
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	var crds []string
	waited := false
	for _, u := range sorted {
		if rank(u) == 2 && !waited {
			if err := waitEstablished(ctx, c, crds, timeout); err != nil {
				return err
			}
			waited = true
		}
		if err := apply(ctx, c, u.DeepCopy()); err != nil {
			return fmt.Errorf("%s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
		if u.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, u.GetName())
		}
	}
	if !waited {
		return waitEstablished(ctx, c, crds, timeout)
	}
	return nil
}

func waitEstablished(ctx context.Context, c ctrlclient.Client, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, n := range names {
		for {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := c.Get(ctx, ctrlclient.ObjectKey{Name: n}, &crd); err != nil {
				return err
			}
			established := false
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					established = true
				}
			}
			if established {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CustomResourceDefinition %s is not established after %s", n, timeout)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}
