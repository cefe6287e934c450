// Package fluxloop holds the end-to-end test of the GitOps loop: a fleet's
// generated tree, pushed commit by commit to a git server, reconciled by
// Flux's own source-controller and kustomize-controller and by Cluster
// API's controllers on a test API server (see tools/internal/fluxenv for
// what runs for real and what stands in). It has no code of its own.
package fluxloop
