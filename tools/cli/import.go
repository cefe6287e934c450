package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/capiform/capiform/tools/diag"
	"github.com/capiform/capiform/tools/importer"
	"github.com/capiform/capiform/tools/load"
)

func init() { extraCommands = append(extraCommands, newImportCommand) }

type importFlags struct {
	name, chartVersion, kubeVersion string
	into                            string
	site                            bool
}

func newImportCommand(s Streams) *cobra.Command {
	var f importFlags
	cmd := &cobra.Command{
		Use:   "import FILE... [--into SITE [--site]] [--name NAME] [--chart-version V]",
		Short: "Write a Cluster definition from capi-helm-charts values, Magnum or Azimuth",
		Long: `import reads what a cluster is made from today and writes its capiform Cluster
definition:

  capi-helm-charts   openstack-cluster values: a values file, the output of
                     helm get values, or a Flux HelmRelease; the addons section
                     becomes platforms (chart versions ` + importer.KnownChartVersions + `)
  Magnum             the cluster template and the cluster, as JSON:
                     openstack coe cluster template show -f json, and
                     openstack coe cluster show -f json (two files)
  Azimuth            the Cluster (kubectl get clusters.azimuth.stackhpc.com NAME
                     -o yaml) and its ClusterTemplate (a second file)

Each setting capiform cannot express is a warning with its file, line, key
and the reason; they are also written at the head of the definition. With
--into SITE the definition is written to clusters/SITE/<name>.yaml (never
over an existing file; written whole or not at all), and with --site a
skeleton clusters/SITE/site.yaml too; without --into it is printed.

Exit codes: 0 written with nothing left out; 1 written, but settings were
left out (listed), or nothing written because an input cannot be read or
names a chart version this capiform does not know; 2 could not run.`,
		Example: `  helm get values research -n clusters > research.yaml
  capiform import research.yaml --name research --chart-version 0.26.1 --into lon

  capiform import magnum-template.json magnum-cluster.json --into edi
  capiform import azimuth-cluster.yaml azimuth-template.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.site && f.into == "" {
				return &exitError{code: ExitCantRun, msg: "--site writes clusters/SITE/site.yaml: give --into SITE"}
			}
			if f.into != "" && !load.IsDNSLabel(f.into) {
				return &exitError{code: ExitCantRun, msg: fmt.Sprintf("--into %q: give a site's name", f.into)}
			}
			var inputs []importer.Input
			var unreadable []string
			for _, a := range args {
				b, err := os.ReadFile(a)
				if err != nil {
					unreadable = append(unreadable, fmt.Sprintf("%s: cannot be read: %v [import.unreadable]", a, errors.Unwrap(err)))
					continue
				}
				inputs = append(inputs, importer.Input{Name: a, Data: b})
			}
			if len(unreadable) > 0 {
				return failed("%s\nnothing written", strings.Join(unreadable, "\n"))
			}
			opts := importer.Options{Name: f.name, ChartVersion: f.chartVersion, KubernetesVersion: f.kubeVersion}
			if f.site {
				opts.Site = f.into
			}
			res, err := importer.Import(inputs, opts)
			if err != nil {
				var dl diag.List
				if errors.As(err, &dl) {
					return failed("%s\n%d problem(s): nothing written", dl.Error(), len(dl))
				}
				return failed("%s: nothing written", err)
			}
			cluster, site, err := importer.Marshal(res, args)
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(s.Err, "warning: %s\n", w)
			}
			var wrote []string
			if f.into == "" {
				if _, err := s.Out.Write(cluster); err != nil {
					return err
				}
			} else {
				dir := filepath.Join(rootDir(cmd), load.ClustersDir, f.into)
				files := map[string][]byte{res.Cluster.Metadata.Name + ".yaml": cluster}
				if site != nil {
					files["site.yaml"] = site
				}
				wrote, err = writeNew(dir, files)
				if err != nil {
					return err
				}
			}
			what := "printed the definition of " + res.Cluster.Metadata.Name
			if len(wrote) > 0 {
				what = "wrote " + strings.Join(wrote, " and ")
			}
			if len(res.Warnings) > 0 {
				return failed("%s (%s); %d setting(s) left out or changed, listed above and in its header: review them", what, res.Format, len(res.Warnings))
			}
			fmt.Fprintf(s.Err, "%s (%s)\n", what, res.Format)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.name, "name", "", "the cluster's name (default: the name the input gives; a values file gives none)")
	cmd.Flags().StringVar(&f.chartVersion, "chart-version", "", "the openstack-cluster chart version a values file was installed with (a HelmRelease names its own)")
	cmd.Flags().StringVar(&f.kubeVersion, "kubernetes-version", "", "the Kubernetes version, when the input names none (an Azimuth cluster without its template)")
	cmd.Flags().StringVar(&f.into, "into", "", "write clusters/SITE/<name>.yaml instead of printing it")
	cmd.Flags().BoolVar(&f.site, "site", false, "also write a Site skeleton, clusters/SITE/site.yaml, from what the input says of the cloud")
	return cmd
}

// writeNew writes files into dir, none of which may exist: each through a
// temporary file and a rename, so a definition is there whole or not at
// all; if one cannot be written, those written before are removed.
func writeNew(dir string, files map[string][]byte) ([]string, error) {
	var exists []string
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			exists = append(exists, filepath.Join(dir, n))
		}
	}
	if len(exists) > 0 {
		return nil, failed("%s exist(s) already: nothing written; remove it or import --into another site", strings.Join(exists, ", "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var wrote []string
	undo := func() {
		for _, w := range wrote {
			os.Remove(w)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		tmp, err := os.CreateTemp(dir, ".import-*")
		if err != nil {
			undo()
			return nil, err
		}
		_, werr := tmp.Write(files[n])
		cerr := tmp.Close()
		dst := filepath.Join(dir, n)
		if err := errors.Join(werr, cerr); err != nil {
			os.Remove(tmp.Name())
			undo()
			return nil, err
		}
		if err := os.Chmod(tmp.Name(), 0o644); err != nil {
			os.Remove(tmp.Name())
			undo()
			return nil, err
		}
		if err := os.Rename(tmp.Name(), dst); err != nil {
			os.Remove(tmp.Name())
			undo()
			return nil, err
		}
		wrote = append(wrote, dst)
	}
	return wrote, nil
}
