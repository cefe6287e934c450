package diff

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/capiform/capiform/tools/render"
)

// manifestChanges reports the manifests components (Flux Kustomizations
// that apply a folder of platforms/ into a workload cluster) whose folder
// changed between the revisions. Their objects are not in the generated
// tree, only their path, so the tree's diff alone would miss them.
func manifestChanges(rep *Report, base, head *side) {
	if base.res == nil || head.res == nil {
		return
	}
	sums := map[string][2]string{} // folder -> base, head digest
	sum := func(s *side, dir string, i int) {
		v := sums[dir]
		if v[i] != "" {
			return
		}
		files, err := readTree(s.fsys, dir)
		if err != nil {
			v[i] = "error: " + err.Error()
		} else {
			v[i] = treeSum(files)
		}
		sums[dir] = v
	}
	for site, files := range head.res.Sites {
		old := base.res.Sites[site]
		if old == nil {
			continue
		}
		oldPaths := manifestKustomizations(old)
		var changes []AddonChange
		for key, dir := range manifestKustomizations(files) {
			if oldDir, ok := oldPaths[key]; !ok || oldDir != dir {
				continue // added, removed or moved: the tree's diff says so
			}
			sum(base, dir, 0)
			sum(head, dir, 1)
			if v := sums[dir]; v[0] != v[1] {
				cluster, name, _ := strings.Cut(key, "/")
				changes = append(changes, AddonChange{Cluster: cluster, Name: name, Action: Changed, ManifestsChanged: dir})
			}
		}
		if len(changes) == 0 {
			continue
		}
		sort.Slice(changes, func(i, j int) bool {
			return changes[i].Cluster+"/"+changes[i].Name < changes[j].Cluster+"/"+changes[j].Name
		})
		var sr *SiteReport
		for _, s := range rep.Sites {
			if s.Site == site {
				sr = s
			}
		}
		if sr == nil {
			sr = &SiteReport{Site: site, Dir: render.Dir(site)}
			rep.Sites = append(rep.Sites, sr)
			sort.Slice(rep.Sites, func(i, j int) bool { return rep.Sites[i].Site < rep.Sites[j].Site })
		}
		sr.Addons = append(sr.Addons, changes...)
		sort.SliceStable(sr.Addons, func(i, j int) bool {
			if sr.Addons[i].Cluster != sr.Addons[j].Cluster {
				return sr.Addons[i].Cluster < sr.Addons[j].Cluster
			}
			return sr.Addons[i].Name < sr.Addons[j].Name
		})
	}
}

// manifestKustomizations maps "namespace/name" of every Kustomization of a
// generated tree that applies into a workload cluster to its folder.
func manifestKustomizations(files render.Files) map[string]string {
	out := map[string]string{}
	for _, p := range files.Paths() {
		// The tree is capiform's own output: a file without the line
		// holds no Kustomization, and need not be decoded.
		if !strings.HasPrefix(p, "addons/") || !bytes.Contains(files[p], []byte("\nkind: Kustomization\n")) {
			continue
		}
		objs, err := decodeObjects(files[p])
		if err != nil {
			continue
		}
		for _, o := range objs {
			if o.GetKind() != "Kustomization" || o.GetAPIVersion() == "kustomize.config.k8s.io/v1beta1" {
				continue
			}
			if _, ok := nestedMap(o, "spec", "kubeConfig")["secretRef"]; !ok {
				continue
			}
			dir := path.Clean(strings.TrimPrefix(nestedString(o, "spec", "path"), "./"))
			out[fmt.Sprintf("%s/%s", o.GetNamespace(), o.GetName())] = dir
		}
	}
	return out
}
