package credentials

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"gopkg.in/yaml.v3"
)

// MaxDepth bounds how deep ScanYAML walks a document: deeper nesting is
// not a definition anyone writes, and the bound keeps the walk finite on
// hostile input.
const MaxDepth = 100

// ScanYAML judges every scalar of every document of a YAML file and
// returns the findings with their line and column, in document order. The
// error is for a file that is not YAML; the findings of the documents
// before it are still returned.
func (s *Scanner) ScanYAML(file string, data []byte) ([]Finding, error) {
	var out []Finding
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", file, err)
		}
		for _, v := range Values(&doc) {
			for _, f := range s.Scan(file, v.Value) {
				f.Line, f.Col = v.Line, v.Col
				out = append(out, f)
			}
		}
	}
}

// NodeValue is a Value with where it is in its file.
type NodeValue struct {
	Value
	Line, Col int
}

// Values lists the scalars of a YAML node with their key paths, in the
// path syntax of capiform's positions (a.b[0].c, keys written as they are).
// An alias is judged under the key that uses it when it stands for a
// scalar; an aliased mapping or list was judged where it is anchored.
func Values(n *yaml.Node) []NodeValue {
	var out []NodeValue
	var walk func(n *yaml.Node, path, key string, depth int)
	walk = func(n *yaml.Node, path, key string, depth int) {
		if depth > MaxDepth {
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, key, depth+1)
			}
		case yaml.MappingNode:
			envName, envValue := envItem(n)
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if v == envValue {
					out = append(out, scalar(v, p, envName, true))
					continue
				}
				walk(v, p, k.Value, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, path+"["+strconv.Itoa(i)+"]", key, depth+1)
			}
		case yaml.ScalarNode:
			if n.Tag != "!!null" {
				out = append(out, scalar(n, path, key, false))
			}
		case yaml.AliasNode:
			if n.Alias != nil && n.Alias.Kind == yaml.ScalarNode && n.Alias.Tag != "!!null" {
				nv := scalar(n.Alias, path, key, false)
				nv.Line, nv.Col = n.Line, n.Column
				out = append(out, nv)
			}
		}
	}
	walk(n, "", "", 0)
	return out
}

// envItem recognises the env-list shape {name: NAME, value: VALUE} (also
// with valueFrom and other fields beside) and returns NAME and the VALUE
// node; the value is then judged under NAME, so that DB_PASSWORD's value
// is a credential like password's.
func envItem(n *yaml.Node) (string, *yaml.Node) {
	var name, value *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch n.Content[i].Value {
		case "name":
			name = n.Content[i+1]
		case "value":
			value = n.Content[i+1]
		}
	}
	if name == nil || value == nil || name.Kind != yaml.ScalarNode || value.Kind != yaml.ScalarNode || value.Tag == "!!null" {
		return "", nil
	}
	return name.Value, value
}

// scalar decodes a scalar node into a Value: strings stay strings, numbers
// and booleans become Go numbers and booleans, as a YAML decoder reads
// them.
func scalar(n *yaml.Node, path, key string, env bool) NodeValue {
	var v any = n.Value
	switch n.Tag {
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			v = i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
			v = f
		}
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			v = b
		}
	}
	return NodeValue{Value: Value{Path: path, Key: key, Env: env, Value: v}, Line: n.Line, Col: n.Column}
}
