package importer_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/importer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func read(t *testing.T, names ...string) []importer.Input {
	t.Helper()
	var in []importer.Input
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join("testdata", "input", n))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, importer.Input{Name: n, Data: b})
	}
	return in
}

// TestGolden imports each source format and compares the definitions
// with the golden files (the warnings are in their header). That each
// golden cluster validates and renders in a fleet, with the real
// commands, is tools/cli's TestImportedClustersRender: this package's
// test binary stays small enough to fuzz.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name       string
		inputs     []string
		opts       importer.Options
		format     string
		wantWarned []string // keys that must be named in a warning
	}{
		{
			name:   "capi-values",
			inputs: []string{"values.yaml"},
			opts:   importer.Options{Name: "research", ChartVersion: "0.26.1"},
			format: importer.FormatValues,
			wantWarned: []string{"registryMirrors.quay.io.upstream", "registryMirrors.ghcr.io.mirrors[0].capabilities", "additionalPackages", "controlPlane.nodeDrainTimeout", "addons.certManager",
				"addons.monitoring.kubePrometheusStack", "cloudCredentialsSecretName", "clusterNetworking.externalNetworkId"},
		},
		{
			name:       "capi-values-site",
			inputs:     []string{"values.yaml"},
			opts:       importer.Options{Name: "research", ChartVersion: "0.26.1", Site: "imp"},
			format:     importer.FormatValues,
			wantWarned: []string{"registryMirrors.quay.io.upstream", "cloudCACert"},
		},
		{
			name:       "helmrelease",
			inputs:     []string{"helmrelease.yaml"},
			format:     importer.FormatHelmRelease,
			wantWarned: []string{"spec.valuesFrom"},
		},
		{
			name:   "helm-get-values",
			inputs: []string{"helm-get-values.txt"},
			opts:   importer.Options{Name: "batch", ChartVersion: "0.27.0"},
			format: importer.FormatValues,
		},
		{
			name:       "magnum",
			inputs:     []string{"magnum-template.json", "magnum-cluster.json"},
			format:     importer.FormatMagnum,
			wantWarned: []string{"labels.calico_tag", "labels.capi_helm_chart_version", "image_id", "docker_storage_driver"},
		},
		{
			name:   "azimuth",
			inputs: []string{"azimuth-cluster.yaml", "azimuth-template.yaml"},
			format: importer.FormatAzimuth,
			wantWarned: []string{"spec.addons.ingressControllerLoadBalancerIp", "spec.addons.monitoringPrometheusVolumeSize",
				"spec.cloudCredentialsSecretName", "spec.values.machineImageId"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importer.Import(read(t, tc.inputs...), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Format != tc.format {
				t.Errorf("format %q, want %q", res.Format, tc.format)
			}
			for _, key := range tc.wantWarned {
				found := false
				for _, w := range res.Warnings {
					if strings.HasPrefix(w.Message, key) || strings.Contains(w.Message, " "+key) || strings.HasPrefix(w.Message, "labels."+key) {
						found = found || w.File != "" && w.Severity == diag.Warning
					}
				}
				if !found {
					t.Errorf("no warning names %s:\n%s", key, res.Warnings.Error())
				}
			}
			cluster, site, err := importer.Marshal(res, tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".yaml", cluster)
			if tc.opts.Site != "" {
				golden(t, tc.name+".site.yaml", site)
			}

		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- want\n%s\n--- got\n%s", p, want, got)
	}
}

// TestRefused: what cannot be read, a chart version the importer does not
// know, and input it cannot make a definition of are errors naming the
// file and the key; nothing is returned.
func TestRefused(t *testing.T) {
	t.Parallel()
	values, _ := os.ReadFile(filepath.Join("testdata", "input", "values.yaml"))
	release, _ := os.ReadFile(filepath.Join("testdata", "input", "helmrelease.yaml"))
	for _, tc := range []struct {
		name   string
		inputs []importer.Input
		opts   importer.Options
		want   []string // each in the error
	}{
		{"not YAML", []importer.Input{{Name: "v.yaml", Data: []byte("a: [1, 2\nb: c\n")}}, importer.Options{Name: "x"}, []string{"v.yaml:", "import.unreadable"}},
		{"not a mapping", []importer.Input{{Name: "v.yaml", Data: []byte("- a\n- b\n")}}, importer.Options{Name: "x"}, []string{"v.yaml:1:1", "want a mapping"}},
		{"unknown chart version of a values file", []importer.Input{{Name: "values.yaml", Data: values}}, importer.Options{Name: "x", ChartVersion: "0.9.3"}, []string{"--chart-version", `"0.9.3"`, "import.chart-version"}},
		{"unknown chart version of a HelmRelease", []importer.Input{{Name: "hr.yaml", Data: bytes.Replace(release, []byte("version: 0.25.1"), []byte("version: 1.2.0"), 1)}}, importer.Options{}, []string{"hr.yaml:14", "spec.chart.spec.version", `"1.2.0"`}},
		{"a version range", []importer.Input{{Name: "hr.yaml", Data: bytes.Replace(release, []byte("version: 0.25.1"), []byte("version: '>=0.25.0'"), 1)}}, importer.Options{}, []string{"hr.yaml:14", "spec.chart.spec.version"}},
		{"no name", []importer.Input{{Name: "values.yaml", Data: values}}, importer.Options{ChartVersion: "0.26.1"}, []string{"values.yaml", "--name"}},
		{"bad name", []importer.Input{{Name: "values.yaml", Data: values}}, importer.Options{Name: "Research_1", ChartVersion: "0.26.1"}, []string{"--name", "DNS label"}},
		{"a count that is no number", []importer.Input{{Name: "v.yaml", Data: []byte("kubernetesVersion: 1.36.1\ncontrolPlane: {machineFlavor: a, machineCount: three}\nnodeGroups: [{name: md-0, machineFlavor: b}]\n")}}, importer.Options{Name: "x", ChartVersion: "0.26.1"}, []string{"v.yaml:2:", "controlPlane.machineCount", `"three"`}},
		{"autoscale without bounds", []importer.Input{{Name: "v.yaml", Data: []byte("kubernetesVersion: 1.36.1\ncontrolPlane: {machineFlavor: a}\nnodeGroups:\n  - {name: md-0, machineFlavor: b, autoscale: true}\n")}}, importer.Options{Name: "x", ChartVersion: "0.26.1"}, []string{"v.yaml:4:", "nodeGroups[0]", "machineCountMin"}},
		{"magnum without its template", read(t, "magnum-cluster.json"), importer.Options{}, []string{"cluster template"}},
		{"azimuth without its template", read(t, "azimuth-cluster.yaml"), importer.Options{}, []string{"azimuth-cluster.yaml:10", "spec.templateName", "--kubernetes-version"}},
		{"another kind", []importer.Input{{Name: "d.yaml", Data: []byte("apiVersion: apps/v1\nkind: Deployment\n")}}, importer.Options{}, []string{"d.yaml:2", "Deployment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := importer.Import(tc.inputs, tc.opts)
			if err == nil {
				t.Fatalf("no error; imported %+v", res.Cluster)
			}
			if res != nil {
				t.Errorf("a result beside the error")
			}
			var dl diag.List
			if len(tc.want) > 0 && !errors.As(err, &dl) && !strings.Contains(tc.name, "template") {
				t.Errorf("error is no diagnostic list: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
