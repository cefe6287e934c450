package credentials

import (
	"strings"
	"testing"
)

// FuzzCredentials: the detector never panics and ends on any key and
// value, and no finding carries the value (a Finding has no field for it;
// the path is the caller's).
func FuzzCredentials(f *testing.F) {
	f.Add("password", "hunter2")
	f.Add("DB_PASSWORD", "x")
	f.Add("url", "https://a:b@c/d")
	f.Add("key", pgpBlock)
	f.Add(".dockerconfigjson", `{"auths":{"r":{"auth":"YTpi"}}}`)
	f.Add("note", "ghp_0123456789abcdefghijABCDEFGHIJ012345")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, key, value string) {
		s := NewScanner()
		for _, env := range []bool{false, true} {
			for _, f := range s.Scan("f.yaml", Value{Path: "a." + key, Key: key, Env: env, Value: value}) {
				if f.Rule == "" || f.Path != "a."+key {
					t.Fatalf("bad finding %+v", f)
				}
			}
		}
		// The same text as a YAML document: any input, no panic.
		_, _ = s.ScanYAML("f.yaml", []byte(key+": "+value+"\n"+strings.Repeat(" ", len(key)%3)+value))
	})
}
