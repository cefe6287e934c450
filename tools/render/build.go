package render

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/capiform/capiform/tools/kustomize"
)

// Build builds a folder of a generated tree with kustomize's krusty, as
// kustomize-controller builds the path of a Flux Kustomization, and returns
// its objects. dir is relative to the generated folder ("" for the root).
// The files are named generated/<path> in errors.
func Build(files Files, dir string) ([]*unstructured.Unstructured, error) {
	return build(tree("generated", files), "generated", dir)
}

// tree lays the files of a generated tree under root in an in-memory
// fs.FS (the standard library's fstest.MapFS): the build never touches
// the disk.
func tree(root string, files Files) fs.FS {
	fsys := fstest.MapFS{}
	for p, data := range files {
		fsys[path.Join(root, p)] = &fstest.MapFile{Data: data}
	}
	return fsys
}

// build builds folder dir of the tree under root through the safe
// build: a kustomization that refers to anything remote, to Helm, to a
// plugin or out of the tree is refused before kustomize runs.
func build(fsys fs.FS, root, dir string) ([]*unstructured.Unstructured, error) {
	t, err := kustomize.ReadTree(fsys, root)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", path.Join(root, dir), err)
	}
	return buildIn(t, root, dir)
}

// buildIn builds folder dir of a tree read once.
func buildIn(t *kustomize.Tree, root, dir string) ([]*unstructured.Unstructured, error) {
	target := path.Join(root, dir)
	rm, err := t.Build(target)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", target, err)
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
// Files are named clusters/<site>/generated/<path> in errors.
func BuildAll(site string, files Files) (map[string][]*unstructured.Unstructured, error) {
	out := map[string][]*unstructured.Unstructured{}
	// The tree is read and copied into kustomize's memory once; each
	// path's build checks its own kustomizations.
	t, err := kustomize.ReadTree(tree(Dir(site), files), Dir(site))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", Dir(site), err)
	}
	root, err := buildIn(t, Dir(site), "")
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
		objs, err := buildIn(t, Dir(site), dir)
		if err != nil {
			return nil, err
		}
		out[dir] = objs
	}
	return out, nil
}
