package render

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// checkFast compares fastYAML with yaml.v2 for v; it reports whether the
// fast path took it.
func checkFast(t testing.TB, v map[string]any) bool {
	t.Helper()
	want, err := yamlv2.Marshal(v)
	if err != nil {
		t.Fatalf("yaml.v2: %v", err)
	}
	got, ok := fastYAML(v)
	if ok && string(got) != string(want) {
		t.Fatalf("fastYAML differs from yaml.v2 for %#v\n--- yaml.v2\n%s--- fast\n%s", v, want, got)
	}
	return ok
}

// TestFastYAMLMatchesYAMLv2 holds the fast writer to yaml.v2's output, byte
// for byte, on shapes and strings chosen to hit every rule, and on many
// random values.
func TestFastYAMLMatchesYAMLv2(t *testing.T) {
	strs := []string{
		"", " ", "a", "y", "Y", "yes", "no", "on", "off", "true", "False", "null", "NULL", "~", "Yess", "nope", "onion",
		"0", "1", "-1", "+1", "1.5", ".5", "1e3", "0x1F", "0o17", "0b101", "1_000", "08", "1:20", "1:20:30.5", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
		".inf", "-.inf", ".nan", ".NaN", "10Gi", "500m", "v1.36.1", "1.36", "m1.large", "-", "--flag=x", "-x", "a-", "a:", "a:b", "http://x.org/y",
		"registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0", "clusterapi:namespace=site-a,clusterName=x", "a: b", "a #b", "a#b", "#a",
		"@a", "a@b", "`a", "a`", "'a'", "\"a\"", "a'b", "[a]", "{a}", "a,b", "*a", "&a", "!a", "|a", ">a", "%a", "?a", "a?", "<<",
		"with space", " leading", "trailing ", "two  spaces", "tab\there", "line\nbreak", "line\n", "\n", "ünïcode", "é", "a\u00a0b", "\x01",
		strings.Repeat("long words ", 12), strings.Repeat("x", 120), strings.Repeat("y ", 39) + "z", "kubeadm init --config /etc/kubeadm.yaml --skip-phases=addon/kube-proxy",
	}
	keys := []string{"a", "b", "B", "_x", "a1", "a10", "a2", "a01", "a001", "10", "9", "x.y/z", "cluster.x-k8s.io/cluster-name", "key with space", "y", "null", "", "é", "k:", "k:v", strings.Repeat("k", 130)}
	fast, total := 0, 0
	count := func(ok bool) {
		total++
		if ok {
			fast++
		}
	}
	for _, s := range strs {
		for _, k := range keys {
			count(checkFast(t, map[string]any{k: s}))
			count(checkFast(t, map[string]any{"spec": map[string]any{"template": map[string]any{k: s, "list": []any{s, map[string]any{k: s, "z": []any{s}}, []any{s, s}}}}}))
		}
		count(checkFast(t, map[string]any{"deep": map[string]any{"deeper": map[string]any{"deepest": map[string]any{"a-rather-long-key-name-here": s}}}}))
	}
	for _, v := range []any{nil, true, false, int64(0), int64(-7), int64(math.MaxInt64), 0.5, -2.25, 1e21, 1e-7, math.Inf(1), math.Inf(-1), math.NaN(), float64(3), map[string]any{}, []any{}, []any{nil, []any{}, map[string]any{}}} {
		count(checkFast(t, map[string]any{"v": v, "l": []any{v}, "m": map[string]any{"x": v}}))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		count(checkFast(t, randomMap(rng, 0)))
	}
	t.Logf("fast path took %d of %d values", fast, total)
	if fast < total/5 {
		t.Errorf("the fast path took only %d of %d values", fast, total)
	}
	if _, ok := fastYAML(map[string]any{}); !ok {
		t.Error("empty map")
	}
}

const alphabet = "abyYnNoO01_./-:=@ #'\"\n\tx9é"

func randomString(rng *rand.Rand) string {
	n := rng.IntN(12)
	if rng.IntN(10) == 0 {
		n = 60 + rng.IntN(60)
	}
	r := []rune(alphabet)
	var b strings.Builder
	for range n {
		b.WriteRune(r[rng.IntN(len(r))])
	}
	return b.String()
}

func randomValue(rng *rand.Rand, depth int) any {
	switch k := rng.IntN(9); {
	case k < 4 || depth > 3:
		return randomString(rng)
	case k == 4:
		return int64(rng.IntN(2000) - 1000)
	case k == 5:
		return []any{nil, true, false, 1.5}[rng.IntN(4)]
	case k == 6:
		return randomMap(rng, depth+1)
	default:
		n := rng.IntN(4)
		l := make([]any, n)
		for i := range l {
			l[i] = randomValue(rng, depth+1)
		}
		return l
	}
}

func randomMap(rng *rand.Rand, depth int) map[string]any {
	n := rng.IntN(5)
	m := make(map[string]any, n)
	for range n {
		m[randomString(rng)] = randomValue(rng, depth)
	}
	return m
}

// FuzzFastYAML: for any string, in any place of an object, the fast writer
// writes what yaml.v2 writes, or leaves it to yaml.v2.
//
//	go test ./tools/render -run '^$' -fuzz FuzzFastYAML -fuzztime 60s
func FuzzFastYAML(f *testing.F) {
	for _, s := range []string{"a", "a: b", "1:20", "yes", "x y z", strings.Repeat("ab ", 30), "é", "line\nbreak"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		checkFast(t, map[string]any{key: value})
		checkFast(t, map[string]any{"metadata": map[string]any{"labels": map[string]any{key: value}}, "items": []any{value, map[string]any{key: []any{value}}}})
	})
}

// TestFastYAMLOnRenderedObjects: on every object of the test fleet's trees, the
// fast writer is taken and matches sigs.k8s.io/yaml, which the trees were
// once written with.
func TestFastYAMLOnRenderedObjects(t *testing.T) {
	var files []string
	for _, g := range []string{"*", "*/*", "*/*/*"} {
		more, _ := filepath.Glob("../../testdata/fleet/clusters/*/generated/" + g + ".yaml")
		files = append(files, more...)
	}
	// and the chart's expansions, which expand --all writes
	more, _ := filepath.Glob("../expand/testdata/*.golden.yaml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no generated files")
	}
	fast, total := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(doc), &m); err != nil || len(m) == 0 {
				continue
			}
			want, err := yaml.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalObject(m)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s: MarshalObject differs from sigs.k8s.io/yaml\n--- want\n%s--- got\n%s", f, want, got)
			}
			total++
			if _, ok := fastYAML(numbers(copyJSON(m)).(map[string]any)); ok {
				fast++
			} else if testing.Verbose() {
				t.Logf("slow path: %s %v/%v", f, m["kind"], m["metadata"].(map[string]any)["name"])
			}
		}
	}
	// Objects with a string yaml.v2 folds over lines (the clusters'
	// health expressions, kubeadm's files, Cinder's cloud.conf) are left to
	// yaml.v2 whole; the rest, most objects, must take the fast path.
	t.Logf("%d of %d objects took the fast path", fast, total)
	if fast*100 < total*85 {
		t.Errorf("only %d of %d objects took the fast path", fast, total)
	}

}

// TestMarshalObjectMatchesSigsYAML: MarshalObject writes what
// sigs.k8s.io/yaml writes (which it replaced): numbers of every size, of
// unstructured (float64) and typed objects, and strings that are not
// UTF-8.
func TestMarshalObjectMatchesSigsYAML(t *testing.T) {
	var values []any
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 2.5, 1e-7, 1e20, 1e21, 1e22, 1e19, 123456789, 9.2e18, math.Ldexp(1, 63), -math.Ldexp(1, 63), math.Ldexp(1, 64), math.MaxFloat64, math.SmallestNonzeroFloat64} {
		values = append(values, f)
	}
	values = append(values, "a\xffb", "\xfe\xff", "ok", "é\xc3")
	for _, v := range values {
		for _, obj := range []any{
			map[string]any{"v": v, "l": []any{v}, "m": map[string]any{"x": v}},
			struct {
				V any `json:"v"`
			}{v},
		} {
			want, err := yaml.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalObject(obj)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%T %#v:\n got %q\nwant %q", obj, v, got, want)
			}
		}
	}
	if got, _ := MarshalObject(map[string]any{"k\xff": "v"}); string(got) != "k\uFFFD: v\n" {
		t.Errorf("a key that is not UTF-8: %q", got)
	}
}
