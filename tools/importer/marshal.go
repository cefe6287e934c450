package importer

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/diag"
)

// Marshal writes the cluster definition (and the site skeleton, nil when
// not asked for) as YAML, each headed by what it was imported from and,
// for the cluster, every warning: the file says itself what was left out.
// sources are the input names as given.
func Marshal(r *Result, sources []string) (cluster, site []byte, err error) {
	head := fmt.Sprintf("# yaml-language-server: $schema=../../policies/schema.json\n# Imported by capiform import from %s (%s).\n", strings.Join(sources, ", "), r.Format)
	var b bytes.Buffer
	b.WriteString(head)
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "# Review before committing; left out or changed (%d):\n", len(r.Warnings))
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "#   %s\n", diag.Line(w.String()))
		}
	}
	out, err := yaml.Marshal(r.Cluster)
	if err != nil {
		return nil, nil, err
	}
	b.Write(out)
	cluster = b.Bytes()
	if r.Site == nil {
		return cluster, nil, nil
	}
	out, err = yaml.Marshal(r.Site)
	if err != nil {
		return nil, nil, err
	}
	site = append([]byte(head+"# A skeleton: the flavors' sizes, the image names and the git URL are\n# placeholders unless the input named them; fill them in.\n"), out...)
	return cluster, site, nil
}
