package render

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Build builds a folder of a generated tree with kustomize's krusty, as
// kustomize-controller builds the path of a Flux Kustomization, and returns
// its objects. dir is relative to the generated folder ("" for the root).
func Build(files Files, dir string) ([]*unstructured.Unstructured, error) {
	mem := filesys.MakeFsInMemory()
	for _, p := range files.Paths() {
		if err := mem.WriteFile(path.Join("/generated", p), files[p]); err != nil {
			return nil, err
		}
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	target := path.Join("/generated", dir)
	rm, err := k.Run(mem, target)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", strings.TrimPrefix(target, "/"), err)
	}
	var out []*unstructured.Unstructured
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("kustomize build %s: %w", target, err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// BuildAll builds the root of a generated tree and every folder a Flux
// Kustomization of it points at; it returns the objects of each folder.
func BuildAll(site string, files Files) (map[string][]*unstructured.Unstructured, error) {
	out := map[string][]*unstructured.Unstructured{}
	root, err := Build(files, "")
	if err != nil {
		return nil, err
	}
	out[""] = root
	prefix := "./" + Dir(site)
	for _, o := range root {
		if o.GetKind() != "Kustomization" || o.GetAPIVersion() == "kustomize.config.k8s.io/v1beta1" {
			continue
		}
		p, _, _ := unstructured.NestedString(o.Object, "spec", "path")
		if p == prefix {
			continue
		}
		if !strings.HasPrefix(p, prefix+"/") {
			return nil, fmt.Errorf("Kustomization %s points at %s, outside the generated tree of site %s", o.GetName(), p, site)
		}
		dir := strings.TrimPrefix(p, prefix+"/")
		objs, err := Build(files, dir)
		if err != nil {
			return nil, err
		}
		out[dir] = objs
	}
	return out, nil
}
