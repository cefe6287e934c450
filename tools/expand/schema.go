package expand

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
)

// Rules of the faults of a chart itself, as diag names them.
const (
	// RuleChartMissing: the revision has no chart where one must be.
	RuleChartMissing = "chart.missing"
	// RuleChartLoad: the chart does not load (Chart.yaml, values.yaml,
	// a file that is not a regular file).
	RuleChartLoad = "chart.load"
	// RuleChartTemplate: a template does not parse.
	RuleChartTemplate = "chart.template"
	// RuleChartSchema: the values schema does not compile.
	RuleChartSchema = "chart.schema"
	// RuleChartSchemaRef: the values schema refers to something outside
	// the chart (a URL, a file of the machine, a path that leaves it).
	RuleChartSchemaRef = "chart.schema-ref"
)

// SchemaFile is the name of a chart's values schema.
const SchemaFile = "values.schema.json"

// ChartError is a fault of the chart itself, in one of its files, rather
// than of the values of a release.
type ChartError struct {
	// File is the file's path inside the chart, such as "Chart.yaml" or
	// "templates/cluster.yaml".
	File string
	// Line is the line in File, 0 when unknown.
	Line int
	// Rule names the check, one of the Rule* constants.
	Rule string
	// Message says what is wrong and what to do.
	Message string
}

func (e *ChartError) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("%s: %s [%s]", pos, e.Message, e.Rule)
}

// schemaRoot is where a chart's files are placed for the JSON schema
// compiler: the values schema is schemaRoot + "values.schema.json", and a
// relative reference resolves among the chart's files. A scheme of its own
// tells the chart's files from a file:// URL; the folder below the root
// makes a relative path that leaves the chart (../x) resolve outside it,
// where net/url would otherwise clamp it at the root.
const schemaRoot = "capiform-chart:///chart/"

// chartLoader is the JSON schema compiler's only loader: it reads the
// documents a values schema refers to from the chart's own files, already
// in memory, and refuses every other URL without touching it. Helm's own
// loader (pkg/chart/common/util) fetches http and https URLs and reads
// file:// URLs from the machine's file system; capiform never calls it.
type chartLoader struct {
	files map[string][]byte
	// refused is the first reference refused: the compiler's error does
	// not wrap the loader's.
	refused *refError
}

// refError is a reference the chart loader refused.
type refError struct {
	ref    string
	reason string
}

func (e *refError) Error() string { return fmt.Sprintf("$ref %q %s", e.ref, e.reason) }

func (l *chartLoader) Load(u string) (any, error) {
	refuse := func(ref, reason string) (any, error) {
		e := &refError{ref: ref, reason: reason}
		if l.refused == nil {
			l.refused = e
		}
		return nil, e
	}
	name, ok := chartPath(u)
	if !ok {
		return refuse(refName(u), "is outside the chart")
	}
	data, ok := l.files[name]
	if !ok {
		return refuse(name, "is not a file of the chart")
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		// The chart's own file; the message is about its syntax.
		return refuse(name, fmt.Sprintf("is not JSON: %v", err))
	}
	return doc, nil
}

// chartPath returns the chart file a URL names, if it names one.
func chartPath(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "capiform-chart" || p.Host != "" || p.User != nil || p.RawQuery != "" || p.Opaque != "" {
		return "", false
	}
	name, ok := strings.CutPrefix(p.Path, "/chart/")
	if !ok || name == "" || path.Clean(name) != name || strings.HasPrefix(name, "../") {
		return "", false
	}
	return name, true
}

// refName gives a refused URL back as the schema wrote it, as far as it
// can be known: a path that left the chart as such, anything else as is.
func refName(u string) string {
	if rest, ok := strings.CutPrefix(u, "capiform-chart:///"); ok {
		return "../" + rest
	}
	return u
}

// compiledSchemas are the compiled values schemas of a chart and its
// subcharts, by the chart's full path (Chart.ChartFullPath).
type compiledSchemas map[string]*jsonschema.Schema

// compileSchemas compiles the values schema of the chart and of each
// subchart with the chart loader over that chart's own files. dir is the
// chart's path inside the top chart, for messages ("" for the top chart).
func compileSchemas(c *chartv2.Chart, dir string, out compiledSchemas) error {
	if len(c.Schema) > 0 {
		sch, err := compileSchema(c)
		if err != nil {
			return err.withDir(dir)
		}
		out[c.ChartFullPath()] = sch
	}
	for _, dep := range c.Dependencies() {
		if err := compileSchemas(dep, path.Join(dir, "charts", dep.Name()), out); err != nil {
			return err
		}
	}
	return nil
}

// schemaError is a ChartError about a chart's values schema, before the
// subchart's folder is put in front of its file.
type schemaError struct{ ChartError }

func (e *schemaError) withDir(dir string) error {
	ce := e.ChartError
	ce.File = path.Join(dir, ce.File)
	return &ce
}

// compileSchema compiles one chart's values schema as Helm does (the same
// library, its defaults), but with the chart loader: a reference to
// anything but the chart's own files is an error, and nothing else is
// read. Messages never hold what a refused reference points to.
func compileSchema(c *chartv2.Chart) (*jsonschema.Schema, *schemaError) {
	fail := func(rule, format string, args ...any) *schemaError {
		return &schemaError{ChartError{File: SchemaFile, Rule: rule, Message: fmt.Sprintf(format, args...)}}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.Schema))
	if err != nil {
		return nil, fail(RuleChartSchema, "not JSON: %v", err)
	}
	loader := &chartLoader{files: map[string][]byte{}}
	for _, f := range c.Raw {
		loader.files[f.Name] = f.Data
	}
	comp := jsonschema.NewCompiler()
	comp.UseLoader(loader)
	root := schemaRoot + SchemaFile
	if err := comp.AddResource(root, doc); err != nil {
		return nil, fail(RuleChartSchema, "%s", schemaMessage(err))
	}
	sch, err := compileSafely(comp, root)
	if err != nil {
		if re := loader.refused; re != nil {
			return nil, fail(RuleChartSchemaRef, "%s: a values schema may refer only to its own definitions (#/...) and to other JSON files of the chart by a relative path; copy what it needs into the chart", re)
		}
		return nil, fail(RuleChartSchema, "does not compile: %s", schemaMessage(err))
	}
	return sch, nil
}

// compileSafely compiles, a panic of the compiler being an error.
func compileSafely(comp *jsonschema.Compiler, loc string) (sch *jsonschema.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the schema compiler failed: %v", r)
		}
	}()
	return comp.Compile(loc)
}

// schemaMessage is the compiler's message with the chart's files named as
// they are in the chart.
func schemaMessage(err error) string {
	return strings.ReplaceAll(err.Error(), schemaRoot, "")
}

// validateValues checks values, coalesced with the chart's, against the
// compiled schemas of the chart and its subcharts, as Helm's
// util.ValidateAgainstSchema does (the same walk and the same message;
// TestValidateMatchesHelm), but with the schemas compiled by
// compileSchemas.
func (s compiledSchemas) validate(c *chartv2.Chart, values map[string]any) error {
	var sb strings.Builder
	if sch := s[c.ChartFullPath()]; sch != nil {
		if err := validateOne(sch, values); err != nil {
			fmt.Fprintf(&sb, "%s:\n", c.Name())
			sb.WriteString(err.Error())
		}
	}
	for _, sub := range c.Dependencies() {
		raw, ok := values[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subValues, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(&sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		if err := s.validate(sub, subValues); err != nil {
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

// validateOne validates against one schema and words the failure as Helm
// does (util.JSONSchemaValidationError).
func validateOne(sch *jsonschema.Schema, values common.Values) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("unable to validate schema: %s", r)
		}
	}()
	if verr := sch.Validate(values.AsMap()); verr != nil {
		msg := verr.Error()
		if first, rest, ok := strings.Cut(msg, "\n"); ok && strings.HasPrefix(first, "jsonschema validation failed with ") {
			msg = rest
		}
		// The library lists sibling causes in map order: sorted, the
		// message is a pure function of the values.
		return errors.New(strings.Join(sortCauses(strings.Split(msg, "\n")), "\n") + "\n")
	}
	return nil
}

// sortCauses sorts the causes of a validation message at each level of
// indentation, keeping each cause's nested lines with it.
func sortCauses(lines []string) []string {
	if len(lines) == 0 {
		return lines
	}
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }
	top := indent(lines[0])
	var blocks [][]string
	for _, l := range lines {
		if len(blocks) == 0 || indent(l) <= top {
			blocks = append(blocks, []string{l})
			continue
		}
		blocks[len(blocks)-1] = append(blocks[len(blocks)-1], l)
	}
	for _, b := range blocks {
		copy(b[1:], sortCauses(b[1:]))
	}
	sort.SliceStable(blocks, func(i, j int) bool { return strings.Join(blocks[i], "\n") < strings.Join(blocks[j], "\n") })
	var out []string
	for _, b := range blocks {
		out = append(out, b...)
	}
	return out
}

// schemaFailed wraps a validation failure as Helm's
// ToRenderValuesWithSchemaValidation does.
func schemaFailed(err error) error {
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%w", err)
}
