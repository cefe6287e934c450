//go:build tools

// Package tools pins the modules that the stages of capiform build on.
package tools

import (
	_ "cuelang.org/go/cue/cuecontext"
	_ "github.com/fluxcd/flux2/v2/pkg/manifestgen/install"
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "github.com/fluxcd/kustomize-controller/api/v1"
	_ "github.com/fluxcd/pkg/apis/meta"
	_ "github.com/fluxcd/source-controller/api/v1"
	_ "github.com/go-git/go-git/v5"
	_ "github.com/homeport/dyff/pkg/dyff"
	_ "github.com/spf13/cobra"
	_ "gopkg.in/yaml.v3"
	_ "helm.sh/helm/v4/pkg/action"
	_ "helm.sh/helm/v4/pkg/chart/v2/loader"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/client-go/kubernetes"
	_ "sigs.k8s.io/cluster-api/api/core/v1beta2"
	_ "sigs.k8s.io/cluster-api/cmd/clusterctl/client"
	_ "sigs.k8s.io/controller-runtime/pkg/envtest"
	_ "sigs.k8s.io/kind/pkg/cluster"
	_ "sigs.k8s.io/kustomize/api/krusty"
	_ "sigs.k8s.io/yaml"
)
