package diff

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestScenarioNoChange(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.commit("nothing")
	rep := r.mustDiff()
	if rep.Changed() {
		t.Fatalf("want no change, got:\n%s", textOf(t, rep))
	}
}

func TestScenarioFlavorChangeRollsOneGroup(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "flavor: m1.xlarge", "flavor: m1.large")
	r.commit("bigger")
	rep := r.mustDiff()
	t.Log(textOf(t, rep))
	if len(rep.Clusters) != 1 {
		t.Fatalf("want one cluster changed, got %v", clusterNames(rep))
	}
	c := cluster(t, rep, "s1", "app")
	if c.ControlPlane != nil {
		t.Errorf("control plane touched: %+v", c.ControlPlane)
	}
	if len(c.NodeGroups) != 1 {
		t.Fatalf("want only group big, got %+v", c.NodeGroups)
	}
	g := c.NodeGroups[0]
	if g.Name != "big" || !g.Replace || g.Replaced != 2 {
		t.Errorf("want big rolling 2 machines, got %+v", g)
	}
	if !hasField(g.TemplateFields, "OpenStackMachineTemplate.spec.template.spec.flavor", "m1.xlarge", "m1.large") {
		t.Errorf("want the flavor named among the template fields, got %v", g.TemplateFields)
	}
	if !strings.Contains(strings.Join(g.Reasons, ";"), "infrastructure template app-big-") {
		t.Errorf("want the infrastructure template as reason, got %v", g.Reasons)
	}
	var kept int
	for _, o := range c.Objects {
		if o.Action == Removed && o.Kind == "OpenStackMachineTemplate" {
			t.Errorf("superseded template reported as deleted: %v", o)
		}
		if o.Action == Kept {
			kept++
		}
	}
	if kept != 1 {
		t.Errorf("want 1 kept template, got %d", kept)
	}
}

func hasField(fs []FieldChange, path, old, new string) bool {
	for _, f := range fs {
		if f.Path == path && f.Old == old && f.New == new {
			return true
		}
	}
	return false
}

func TestScenarioControlPlaneUpgradeRollsControlPlaneOnly(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	// Pin the node groups, then upgrade the control plane alone.
	for _, g := range []string{"general", "big", "burst"} {
		r.edit("clusters/s1/app.yaml", "- name: "+g+"\n", "- name: "+g+"\n      kubernetesVersion: v1.36.1\n")
	}
	r.commit("pin")
	r.edit("clusters/s1/app.yaml", "  kubernetesVersion: v1.36.1\n  controlPlane", "  kubernetesVersion: v1.36.2\n  controlPlane")
	r.commit("upgrade control plane")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	cp := c.ControlPlane
	if cp == nil || !cp.Replace || cp.VersionFrom != "v1.36.1" || cp.VersionTo != "v1.36.2" || cp.Replaced != 3 {
		t.Fatalf("want the control plane's 3 machines rolling to v1.36.2, got %+v", cp)
	}
	if !strings.Contains(strings.Join(cp.Reasons, ";"), "version v1.36.1 -> v1.36.2") {
		t.Errorf("reasons: %v", cp.Reasons)
	}
	if len(c.NodeGroups) != 0 {
		t.Errorf("node groups touched: %+v", c.NodeGroups)
	}
	if rep.Unsafe() != 0 {
		t.Errorf("unexpected unsafe findings: %v", rep.allFindings())
	}
}

func TestScenarioUpgradeTogetherIsUnsafe(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "kubernetesVersion: v1.36.1", "kubernetesVersion: v1.36.2")
	r.commit("upgrade all")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	if c.ControlPlane == nil || !c.ControlPlane.Replace || len(c.NodeGroups) != 3 {
		t.Fatalf("want control plane and 3 groups rolling, got %s", textOf(t, rep))
	}
	if !hasFinding(c.Findings, Unsafe, "upgraded together") {
		t.Errorf("want the concurrent upgrade flagged, got %v", c.Findings)
	}
}

func TestScenarioReplicasScaleOnly(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "replicas: 3\n    - name: big", "replicas: 5\n    - name: big")
	r.commit("scale")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	if c.ControlPlane != nil || len(c.NodeGroups) != 1 {
		t.Fatalf("want one group, got %s", textOf(t, rep))
	}
	g := c.NodeGroups[0]
	if g.Name != "general" || g.Replace || g.Scale == nil || deref(g.Scale.From) != 3 || deref(g.Scale.To) != 5 || len(g.InPlace) != 0 {
		t.Errorf("want general scaled 3 -> 5 and nothing else, got %+v", g)
	}
	for _, o := range c.Objects {
		if o.Kind != "MachineDeployment" {
			t.Errorf("unexpected object change %v", o)
		}
	}
}

func TestScenarioNodeGroupDeleted(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "    - name: big\n      flavor: m1.xlarge\n      replicas: 2\n", "")
	r.commit("drop big")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	g := group(t, c, "big")
	if g == nil || g.Action != Removed || g.Machines != 2 || len(c.NodeGroups) != 1 {
		t.Fatalf("want big deleted with 2 machines, got %+v", c.NodeGroups)
	}
	if !strings.Contains(textOf(t, rep), "node group big: deleted with its 2 machine(s)") {
		t.Errorf("text:\n%s", textOf(t, rep))
	}
	for _, o := range c.Objects {
		if o.Kind == "MachineDeployment" && o.Action != Removed {
			t.Errorf("MachineDeployment: %v", o)
		}
		if strings.HasSuffix(o.Kind, "Template") && o.Action != Kept {
			t.Errorf("templates must be kept: %v", o)
		}
	}
}

func TestScenarioClusterAdded(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.write("clusters/s1/extra.yaml", `apiVersion: capiform.dev/v1alpha1
kind: Cluster
metadata:
  name: extra
spec:
  kubernetesVersion: v1.36.2
  controlPlane: {flavor: m1.large, replicas: 1}
  nodeGroups:
    - {name: md-0, flavor: m1.medium, replicas: 4}
    - {name: auto, flavor: m1.medium, autoscale: {min: 2, max: 6}}
`)
	r.commit("add extra")
	rep := r.mustDiff()
	if len(rep.Clusters) != 1 {
		t.Fatalf("want one cluster, got %v", clusterNames(rep))
	}
	c := cluster(t, rep, "s1", "extra")
	if c.Action != Added || c.Machines != 1+4+2 {
		t.Errorf("want extra added with 7 machines, got %s %d", c.Action, c.Machines)
	}
	if len(rep.Sites) != 1 || len(rep.Sites[0].Objects) == 0 {
		t.Errorf("want the Flux tree change of s1, got %+v", rep.Sites)
	}
	if !hasFinding(c.Findings, Info, "the Secret s1-cloud-credentials (keys clouds.yaml and cloud.conf) exists in namespace extra") {
		t.Errorf("want the credentials reminder, got %v", c.Findings)
	}
}

func TestScenarioClusterDeletedWarns(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.remove("clusters/s1/app.yaml")
	r.commit("delete app")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	if c.Action != Removed || c.Machines != 3+3+2+1 {
		t.Errorf("want app deleted with 9 machines, got %s %d", c.Action, c.Machines)
	}
	// The deletion itself, at the top severity, with every machine (the
	// autoscaled group between its bounds).
	if !hasFinding(c.Findings, Unsafe, "cluster app is DELETED: every machine (9-13), its network and router and its API load balancer go") {
		t.Errorf("want the deletion as an unsafe finding, got %v", c.Findings)
	}
	if rep.Unsafe() != 1 {
		t.Errorf("want the deletion as the one unsafe finding, got %v", rep.allFindings())
	}
	if !hasFinding(c.Findings, Warning, "load balancers and volumes") {
		t.Errorf("want the debris warning, got %v", c.Findings)
	}
	if !hasFinding(c.Findings, Warning, "its addons go with it") {
		t.Errorf("want the addons warning, got %v", c.Findings)
	}
	if !hasFinding(c.Findings, Info, "Cluster API then deletes the workers, then the control plane, then the OpenStackCluster") ||
		!hasFinding(c.Findings, Info, "the namespace app and its Secret s1-cloud-credentials (the cloud credentials the teardown needs) stay") {
		t.Errorf("want the teardown order and what stays, got %v", c.Findings)
	}
	for _, o := range c.Objects {
		// Helm keeps what Cluster API deletes after the workers, and the
		// templates; it deletes the rest (the Cluster first of all).
		want := Removed
		if o.Kind == "KubeadmControlPlane" || o.Kind == "OpenStackCluster" || strings.HasSuffix(o.Kind, "Template") {
			want = Kept
		}
		if o.Action != want {
			t.Errorf("%s %s: %s, want %s", o.Kind, o.Name, o.Action, want)
		}
	}
	for _, out := range []string{textOf(t, rep), markdownOf(t, rep), jsonOf(t, rep)} {
		if !strings.Contains(out, "cluster app is DELETED: every machine (9-13)") {
			t.Errorf("output lacks the deletion:\n%s", out)
		}
	}
}

// TestScenarioDeletionByHelmIsUnsafe: a base chart that keeps the Cluster
// and lets Helm delete the control plane (chart 0.2.0's wreck) is
// reported: etcd goes at once, and nothing deletes the network and load
// balancer.
func TestScenarioDeletionByHelmIsUnsafe(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("charts/openstack-cluster/templates/cluster.yaml", "kind: Cluster\nmetadata:\n", "kind: Cluster\nmetadata:\n  annotations:\n    helm.sh/resource-policy: keep\n")
	r.edit("charts/openstack-cluster/templates/control-plane.yaml", "running workers.\n    helm.sh/resource-policy: keep\n", "running workers.\n    capiform.dev/not-kept: \"true\"\n")
	bumpChart(r)
	r.commit("the old teardown")
	r.remove("clusters/s1/app.yaml")
	r.commit("delete app")
	rep := r.mustDiff()
	c := cluster(t, rep, "s1", "app")
	if !hasFinding(c.Findings, Unsafe, "uninstalling the release deletes KubeadmControlPlane app-control-plane itself, at once") {
		t.Errorf("want Helm's deletion of the control plane flagged, got %v", c.Findings)
	}
	if !hasFinding(c.Findings, Unsafe, "the Cluster is kept") {
		t.Errorf("want the kept Cluster flagged, got %v", c.Findings)
	}
}

func TestScenarioChartChangeWithBumpReachesEveryCluster(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("charts/openstack-cluster/templates/_helpers.tpl", "nodeDrainTimeoutSeconds: 600", "nodeDrainTimeoutSeconds: 900")
	bumpChart(r)
	r.commit("longer drain")
	rep := r.mustDiff()
	if got := clusterNames(rep); strings.Join(got, ",") != "s1/app,s1/mgmt" {
		t.Fatalf("want every cluster, got %v", got)
	}
	if rep.Chart == nil || rep.Chart.VersionFrom == rep.Chart.VersionTo {
		t.Fatalf("want the chart bump, got %+v", rep.Chart)
	}
	if rep.Unsafe() != 0 {
		t.Errorf("unsafe: %v", rep.allFindings())
	}
	for _, c := range rep.Clusters {
		if c.ControlPlane == nil || c.ControlPlane.Replace || len(c.ControlPlane.InPlace) == 0 {
			t.Errorf("%s: want the control plane changed in place, got %+v", c.Cluster, c.ControlPlane)
		}
		for _, g := range c.NodeGroups {
			if g.Replace || !hasPath(g.InPlace, "spec.template.spec.deletion.nodeDrainTimeoutSeconds") {
				t.Errorf("%s/%s: want an in-place drain timeout change, got %+v", c.Cluster, g.Name, g)
			}
		}
	}
}

func TestScenarioChartChangeWithoutBumpIsUnsafe(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("charts/openstack-cluster/templates/_helpers.tpl", "nodeDrainTimeoutSeconds: 600", "nodeDrainTimeoutSeconds: 900")
	r.commit("longer drain, no bump")
	rep := r.mustDiff()
	if !hasFinding(rep.Findings, Unsafe, "without a version bump") {
		t.Errorf("want the missing bump flagged, got %v", rep.Findings)
	}
}

func TestScenarioSecretRedacted(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	secret := `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Values.clusterName }}-test-token
  namespace: {{ .Release.Namespace }}
type: Opaque
data:
  token: %s
stringData:
  password: %s
`
	r.write("charts/openstack-cluster/templates/test-secret.yaml", strings.NewReplacer("%s", "c3VwZXJzZWNyZXQtb2xk").Replace(strings.Replace(secret, "password: %s", "password: hunter2-old", 1)))
	bumpChart(r)
	r.commit("add secret")
	r.write("charts/openstack-cluster/templates/test-secret.yaml", strings.NewReplacer("%s", "c3VwZXJzZWNyZXQtbmV3").Replace(strings.Replace(secret, "password: %s", "password: hunter2-new", 1)))
	bumpChart(r)
	r.commit("rotate secret")
	rep := r.mustDiff()
	t.Log(textOf(t, rep))
	var out strings.Builder
	if err := rep.Text(&out, true); err != nil {
		t.Fatal(err)
	}
	if err := rep.Markdown(&out, 0); err != nil {
		t.Fatal(err)
	}
	if err := rep.JSON(&out); err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"c3VwZXJzZWNyZXQtb2xk", "c3VwZXJzZWNyZXQtbmV3", "hunter2", "supersecret"} {
		if strings.Contains(out.String(), leak) {
			t.Errorf("secret value %q leaked", leak)
		}
	}
	if !strings.Contains(out.String(), "data.token: value changed") || !strings.Contains(out.String(), "stringData.password: value changed") {
		t.Errorf("want the changed keys named:\n%s", textOf(t, rep))
	}
}

// bumpChart raises the chart's patch version.
func bumpChart(r *testRepo) {
	r.t.Helper()
	s := r.read("charts/openstack-cluster/Chart.yaml")
	i := strings.Index(s, "\nversion: ")
	if i < 0 {
		r.t.Fatal("Chart.yaml has no version")
	}
	line := s[i+1:]
	line = line[:strings.Index(line, "\n")]
	v := strings.TrimPrefix(line, "version: ")
	parts := strings.Split(v, ".")
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		r.t.Fatal(err)
	}
	parts[2] = strconv.Itoa(n + 1)
	r.write("charts/openstack-cluster/Chart.yaml", strings.Replace(s, line, "version: "+strings.Join(parts, "."), 1))
}

func hasFinding(fs []Finding, sev Severity, substr string) bool {
	for _, f := range fs {
		if f.Severity == sev && strings.Contains(f.Message, substr) {
			return true
		}
	}
	return false
}

func hasPath(fs []FieldChange, path string) bool {
	for _, f := range fs {
		if f.Path == path {
			return true
		}
	}
	return false
}

func TestScenarioAddons(t *testing.T) {
	t.Parallel()
	r := newPlatformsRepo(t, "base")
	r.edit("platforms/base/platform.yaml", "version: v3.32.1", "version: v3.32.2")
	r.edit("clusters/s1/app.yaml", "    - name: base\n", "    - name: base\n    - name: monitoring\n")
	r.commit("calico patch, monitoring")
	rep := r.mustDiffWithPlatforms()
	t.Log(textOf(t, rep))
	if len(rep.Clusters) != 0 {
		t.Errorf("addons do not change the cluster's own objects: %v", clusterNames(rep))
	}
	if len(rep.Sites) != 1 {
		t.Fatalf("want the site's Flux tree, got %d sites", len(rep.Sites))
	}
	var bumped, added bool
	for _, a := range rep.Sites[0].Addons {
		if a.Cluster != "app" {
			t.Errorf("addon of another cluster: %v", a)
		}
		if a.Action == Changed && a.VersionFrom == "v3.32.1" && a.VersionTo == "v3.32.2" {
			bumped = true
		}
		if a.Action == Added {
			added = true
		}
	}
	if !bumped || !added {
		t.Errorf("want the CNI chart bump and the monitoring addons added, got %v", rep.Sites[0].Addons)
	}
}

func TestScenarioHeadDoesNotRender(t *testing.T) {
	t.Parallel()
	r := newTestRepo(t)
	r.edit("clusters/s1/app.yaml", "  controlPlane:\n", "  flavour: typo\n  controlPlane:\n")
	r.edit("charts/openstack-cluster/templates/_helpers.tpl", "nodeDrainTimeoutSeconds: 600", "nodeDrainTimeoutSeconds: 900")
	bumpChart(r)
	r.commit("broken")
	rep, err := r.diff()
	if !errors.Is(err, ErrIncomplete) || rep == nil {
		t.Fatalf("want a report and ErrIncomplete, got %v, %v", rep, err)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "head HEAD") {
		t.Errorf("errors: %v", rep.Errors)
	}
	if rep.Chart == nil {
		t.Errorf("the chart change is still reported")
	}
	if len(rep.Clusters) != 0 {
		t.Errorf("no cluster can be compared with a revision that does not render: %v", clusterNames(rep))
	}
	if !strings.Contains(textOf(t, rep), "ERROR head HEAD") {
		t.Errorf("text:\n%s", textOf(t, rep))
	}
}

// TestScenarioManifestsChanged: a change to the files of a manifests
// component reaches every cluster that uses it, though the generated tree
// (which holds only the component's path) does not change.
func TestScenarioManifestsChanged(t *testing.T) {
	t.Parallel()
	r := newPlatformsRepo(t, "base", "monitoring")
	r.edit("platforms/monitoring/openstack-alerts/prometheusrule.yaml", "for: 15m", "for: 20m")
	r.commit("slower alert")
	rep := r.mustDiffWithPlatforms()
	if !rep.Changed() || len(rep.Sites) != 1 || len(rep.Sites[0].Addons) != 1 {
		t.Fatalf("want one addon change, got %s", textOf(t, rep))
	}
	a := rep.Sites[0].Addons[0]
	if a.Cluster != "app" || a.Name != "openstack-alerts" || a.ManifestsChanged != "platforms/monitoring/openstack-alerts" {
		t.Errorf("addon change = %+v", a)
	}
	if !strings.Contains(textOf(t, rep), "app/openstack-alerts: manifests in platforms/monitoring/openstack-alerts changed") {
		t.Errorf("text:\n%s", textOf(t, rep))
	}
}
