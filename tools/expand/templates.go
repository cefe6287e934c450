package expand

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
)

// parseTemplates parses every template of the chart and its subcharts with
// Helm's own engine (its parser and its functions) and executes none: a
// copy of the chart holds each template as a partial (a name starting with
// "_"), which Helm parses but does not render. So a chart whose template
// does not parse is a fault of the chart, found when it loads, and no
// template of an untrusted chart runs before a release is expanded.
func parseTemplates(c *chartv2.Chart) error {
	names := map[string]string{} // partial's full name -> template's
	cp := parseOnly(c, names)
	_, err := engine.Engine{}.Render(cp, common.Values{"Values": map[string]any{}})
	if err == nil {
		return nil
	}
	msg := err.Error()
	for partial, orig := range names {
		msg = strings.ReplaceAll(msg, partial, orig)
	}
	ce := &ChartError{File: "templates", Rule: RuleChartTemplate, Message: msg}
	// "parse error at (chart/templates/x.yaml:3): message" or
	// "parse error in (chart/templates/x.yaml): message".
	if m := parseErrorRE.FindStringSubmatch(msg); m != nil {
		ce.File = strings.TrimPrefix(m[1], c.ChartFullPath()+"/")
		ce.Line, _ = strconv.Atoi(m[2])
		ce.Message = m[3]
	}
	return ce
}

var parseErrorRE = regexp.MustCompile(`^parse error (?:at|in) \(([^():]+)(?::(\d+))?(?::\d+)?\): (?s)(.*)$`)

// parseOnly copies a chart with every template renamed to a partial, and
// records the renaming in names (by full template path).
func parseOnly(c *chartv2.Chart, names map[string]string) *chartv2.Chart {
	cp := &chartv2.Chart{Metadata: c.Metadata}
	taken := map[string]bool{}
	for _, t := range c.Templates {
		taken[t.Name] = true
	}
	for _, t := range c.Templates {
		name := t.Name
		base := path.Base(name)
		if !strings.HasPrefix(base, "_") {
			// A library chart's other templates are not even parsed.
			if c.Metadata != nil && c.Metadata.Type == "library" {
				continue
			}
			p := base
			for p = "_" + p; taken[path.Join(path.Dir(name), p)]; p = "_" + p {
			}
			renamed := path.Join(path.Dir(name), p)
			taken[renamed] = true
			names[path.Join(c.ChartFullPath(), renamed)] = path.Join(c.ChartFullPath(), name)
			name = renamed
		}
		cp.Templates = append(cp.Templates, &common.File{Name: name, Data: t.Data})
	}
	for _, dep := range c.Dependencies() {
		cp.AddDependency(parseOnly(dep, names))
	}
	return cp
}

// chartFault wraps an error of Helm's chart loader as a fault of the chart,
// naming the file Helm's message names (Chart.yaml when none).
func chartFault(err error) *ChartError {
	msg := err.Error()
	ce := &ChartError{File: "Chart.yaml", Rule: RuleChartLoad, Message: msg}
	if m := loadErrorRE.FindStringSubmatch(msg); m != nil {
		ce.File = m[1]
	}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		ce.Line, _ = strconv.Atoi(m[1])
	}
	return ce
}

var (
	loadErrorRE = regexp.MustCompile(`cannot load ([^\s:]+):`)
	yamlLineRE  = regexp.MustCompile(`yaml: line (\d+):`)
)
