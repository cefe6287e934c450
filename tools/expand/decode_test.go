package expand

import (
	"errors"
	"io"
	"reflect"
	"sort"
	"strings"
	"testing"

	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// kubeDecode is how Kubernetes' YAML decoder reads a document.
func kubeDecode(doc string) (map[string]any, error) {
	var m map[string]any
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(doc), 4096)
	if err := dec.Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return m, nil
}

func checkDecode(t testing.TB, doc string) {
	t.Helper()
	want, werr := kubeDecode(doc)
	got, gerr := decodeDoc(doc)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%q: errors differ: kubernetes %v, decodeDoc %v", doc, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) && !(len(want) == 0 && len(got) == 0) {
		t.Fatalf("%q:\nkubernetes %#v\ndecodeDoc  %#v", doc, want, got)
	}
}

// TestDecodeDocMatchesKubernetes: decodeDoc reads documents as Kubernetes'
// YAML decoder does: numbers, keys of every type, YAML 1.1 words,
// timestamps, binary, anchors and merge keys, JSON documents, and fails
// where it fails.
func TestDecodeDocMatchesKubernetes(t *testing.T) {
	for _, doc := range []string{
		"", "# only a comment\n", "---\n", "null\n", "a: 1\n", "a: -1\nb: 1.5\nc: 1e3\nd: 0x1F\ne: 0o17\nf: 1_000\ng: 9223372036854775807\nh: 18446744073709551615\ni: 123456789012345678901234567890\n",
		"a: yes\nb: no\nc: on\nd: off\ne: y\nf: ~\ng: null\nh: true\ni: False\n",
		"1: a\n2.5: b\ntrue: c\n-3: d\n0.1: e\n", "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 1:20\n",
		"a: !!binary aGVsbG8=\n", "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n",
		"a: [1, 2, {b: [c, {d: e}]}]\n", "a: |\n  line\n  two\n", "a: >\n  folded\n  text\n", "a: 'quoted: yes'\nb: \"dq\\ttab\"\n",
		`{"a": 1, "b": [true, null, "x"], "c": {"d": 1.5}}`, "  {\"a\": {\"b\": 2}}\n",
		"\xfe\xff", "\xff\xfe", "\xef\xbb\xbfa: 1\n", "a: \xff\n", "\xfe\xff\x00a\x00:\x00 \x001", "a: .inf\n", "a: .nan\n", "- a\n- b\n", "just a string\n", "42\n", "a: b: c\n", "a: [\n", "a:\n\tb: 1\n", "? [a, b]\n: c\n",
	} {
		checkDecode(t, doc)
	}
}

// FuzzDecodeDoc: for any rendered template, each document that
// splitManifests gives (never a line that starts with "---", which
// Kubernetes' reader would take for a separator) decodes as Kubernetes'
// decoder decodes it.
//
//	go test ./tools/expand -run '^$' -fuzz FuzzDecodeDoc -fuzztime 60s
func FuzzDecodeDoc(f *testing.F) {
	for _, s := range []string{"a: 1\n", "a: [1, {b: yes}]\n", "1: 2\n", "a: 2001-12-14\n", "{\"a\": 1}", "a: &x 1\nb: *x\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, doc := range splitManifests(s) {
			checkDecode(t, doc)
		}
	})
}

// helmSplit is Helm's own split, in order.
func helmSplit(s string) []string {
	docs := releaseutil.SplitManifests(s)
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(names))
	out := []string{}
	for _, n := range names {
		out = append(out, docs[n])
	}
	return out
}

func checkSplit(t testing.TB, s string) {
	t.Helper()
	want := helmSplit(s)
	got := splitManifests(s)
	if got == nil {
		got = []string{}
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("%q:\nhelm  %q\nsplit %q", s, want, got)
	}
}

// TestSplitManifestsMatchesHelm: the split is Helm's, separator for
// separator.
func TestSplitManifestsMatchesHelm(t *testing.T) {
	for _, s := range []string{
		"", "---", "a: 1", "---\na: 1\n---\nb: 2\n", "a: 1\n---\n---\nb: 2", "  \n\n---  \t\na: 1\n--- # comment\nb: 2",
		"---apiVersion: v1\nkind: X", "a: |\n  ---\n  text\n", "a: 1\n----\nb", "a: 1\n ---\nb", "a\r\n---\r\nb", "\u00a0---\na", "x---y\n---",
		"# Source: t.yaml\napiVersion: v1\n---\n# Source: t.yaml\napiVersion: v2\n",
	} {
		checkSplit(t, s)
	}
}

// FuzzSplitManifests: for any text, the split is Helm's.
//
//	go test ./tools/expand -run '^$' -fuzz FuzzSplitManifests -fuzztime 60s
func FuzzSplitManifests(f *testing.F) {
	for _, s := range []string{"a: 1\n---\nb: 2\n", "---\n---", " --- \n-----\n\t---x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkSplit(t, s) })
}
