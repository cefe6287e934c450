package render

import (
	"context"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/pkg/apis/kustomize"
	fluxcel "github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestClusterUpUnderFlux evaluates the cluster health check with
// Flux's own CEL library, the one kustomize-controller v1.9 builds its
// status reader with (fluxcd/pkg/runtime/cel.NewStatusReader), and feeds
// it the Cluster the way the poller does: the object as read from the API
// server, through ReadStatusForObject. An evaluation error is Unknown
// there, and Unknown holds the Kustomization until its timeout, so each
// case wants a definite status: only a control plane initialized and
// reachable is Current; Available does not matter (see ClusterUp).
func TestClusterUpUnderFlux(t *testing.T) {
	newReader, err := fluxcel.NewStatusReader([]kustomize.CustomHealthCheck{{
		APIVersion: "cluster.x-k8s.io/v1beta2", Kind: "Cluster", HealthCheckExpressions: ClusterUp,
	}})
	if err != nil {
		t.Fatal(err)
	}
	reader := newReader(nil)
	cond := func(typ, st string) any { return map[string]any{"type": typ, "status": st} }
	// As the API server returns it: managedFields name who wrote what,
	// the status subresource's writers with subresource: status.
	created := map[string]any{"manager": "helm-controller", "operation": "Apply", "apiVersion": "cluster.x-k8s.io/v1beta2", "fieldsType": "FieldsV1"}
	statusWritten := map[string]any{"manager": "manager", "operation": "Update", "apiVersion": "cluster.x-k8s.io/v1beta2", "fieldsType": "FieldsV1", "subresource": "status"}
	cluster := func(status map[string]any, managedFields ...any) *unstructured.Unstructured {
		meta := map[string]any{"name": "c1", "namespace": "ns", "generation": int64(1)}
		if managedFields != nil {
			meta["managedFields"] = managedFields
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
			"metadata": meta,
			"spec":     map[string]any{"paused": false},
		}}
		if status != nil {
			u.Object["status"] = status
		}
		return u
	}
	tests := []struct {
		name    string
		status  map[string]any
		written bool // the status subresource was written
		want    status.Status
	}{
		{"no status yet", nil, false, status.InProgressStatus},
		{"status without conditions", map[string]any{"phase": "Pending"}, true, status.InProgressStatus},
		{"empty conditions", map[string]any{"conditions": []any{}}, true, status.InProgressStatus},
		{"conditions without the two", map[string]any{"conditions": []any{cond("Paused", "False")}}, true, status.InProgressStatus},
		{"initialized, not yet reached", map[string]any{"observedGeneration": int64(1), "conditions": []any{cond("ControlPlaneInitialized", "True"), cond("RemoteConnectionProbe", "False")}}, true, status.InProgressStatus},
		{"initialized, probe unknown", map[string]any{"observedGeneration": int64(1), "conditions": []any{cond("ControlPlaneInitialized", "True"), cond("RemoteConnectionProbe", "Unknown")}}, true, status.InProgressStatus},
		{"reached, not initialized", map[string]any{"observedGeneration": int64(1), "conditions": []any{cond("ControlPlaneInitialized", "False"), cond("RemoteConnectionProbe", "True")}}, true, status.InProgressStatus},
		// A new cluster: nodes wait for the CNI, an addon, so the
		// Cluster is not Available; its addons must start now.
		{"up, workers not yet available", map[string]any{"observedGeneration": int64(1), "conditions": []any{cond("Available", "False"), cond("WorkersAvailable", "False"), cond("ControlPlaneInitialized", "True"), cond("RemoteConnectionProbe", "True")}}, true, status.CurrentStatus},
		{"up and Available", map[string]any{"observedGeneration": int64(1), "conditions": []any{cond("Paused", "False"), cond("Available", "True"), cond("ControlPlaneInitialized", "True"), cond("RemoteConnectionProbe", "True")}}, true, status.CurrentStatus},
		{"Available alone is not enough", map[string]any{"observedGeneration": int64(1), "conditions": []any{cond("Available", "True")}}, true, status.InProgressStatus},
		{"up for an older generation", map[string]any{"observedGeneration": int64(0), "conditions": []any{cond("ControlPlaneInitialized", "True"), cond("RemoteConnectionProbe", "True")}}, true, status.InProgressStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fields := []any{created}
			if tt.written {
				fields = append(fields, statusWritten)
			}
			objects := map[string]*unstructured.Unstructured{"from the API server": cluster(tt.status, fields...)}
			if tt.status != nil {
				// A reader that strips managedFields still sees the status.
				objects["managedFields stripped"] = cluster(tt.status)
			}
			for how, obj := range objects {
				got, err := reader.ReadStatusForObject(context.Background(), nil, obj)
				if err != nil {
					t.Fatal(err)
				}
				if got.Error != nil {
					t.Fatalf("%s: evaluation failed (Flux reports Unknown and waits for the timeout): %v", how, got.Error)
				}
				if got.Status != tt.want {
					t.Errorf("%s: status = %s, want %s", how, got.Status, tt.want)
				}
			}
		})
	}
}
