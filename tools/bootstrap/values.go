package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/chartutil"
	"github.com/go-logr/logr"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"
)

// withSecretValues returns the release with its ValuesFrom resolved from
// the Secrets of namespace on c, over a copy of its values, by the code
// helm-controller builds a HelmRelease's values with (Flux's chartutil):
// each Secret's key merged in order (a values document) or set at its
// target path, then the release's own values over them.
func withSecretValues(ctx context.Context, c ctrlclient.Client, namespace string, a AddonRelease) (AddonRelease, error) {
	if len(a.ValuesFrom) == 0 {
		return a, nil
	}
	refs := make([]meta.ValuesReference, 0, len(a.ValuesFrom))
	for _, vf := range a.ValuesFrom {
		refs = append(refs, meta.ValuesReference{Kind: "Secret", Name: vf.SecretName, ValuesKey: vf.Key, TargetPath: vf.TargetPath, Literal: vf.Literal})
	}
	values, err := chartutil.ChartValuesFromReferences(ctx, logr.Discard(), c, namespace, normalize(a.Values), refs...)
	if err != nil {
		// The reason, never the error beneath it: a parser's message may
		// quote the Secret's content.
		var ref *chartutil.ErrValuesReference
		if errors.As(err, &ref) && ref.Reason != nil {
			return a, fmt.Errorf("values from Secret %s key %s: %v (the content is not shown)", ref.Name, ref.Key, ref.Reason)
		}
		return a, fmt.Errorf("values from Secrets in %s: cannot read them", namespace)
	}
	a.Values = normalize(map[string]any(values))
	return a, nil
}
