package policy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/capiform/capiform/tools/diag"
)

func TestFormat(t *testing.T) {
	l := diag.List{
		{Pos: diag.Pos{File: "clusters/dev/work.yaml", Line: 7, Col: 13}, Rule: "policy.flavor-offered", Message: "flavor \"huge\" is not offered: use one of small, large", Severity: diag.Error},
		{Pos: diag.Pos{File: "charts/demo/Chart.yaml", Line: 3, Col: 1}, Rule: "policy.chart-version", Message: "100% wrong,\nbump it", Severity: diag.Error},
	}
	for _, tc := range []struct{ format, want string }{
		{FormatText, "clusters/dev/work.yaml:7:13: flavor \"huge\" is not offered: use one of small, large [policy.flavor-offered]\n" +
			"charts/demo/Chart.yaml:3:1: 100% wrong,\\nbump it [policy.chart-version]\n"},
		{FormatGitHub, "::error file=clusters/dev/work.yaml,line=7,col=13,title=policy.flavor-offered::flavor \"huge\" is not offered: use one of small, large\n" +
			"::error file=charts/demo/Chart.yaml,line=3,col=1,title=policy.chart-version::100%25 wrong,%0Abump it\n"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			if got := string(Format(l, tc.format)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		var back diag.List
		if err := json.Unmarshal(Format(l, FormatJSON), &back); err != nil {
			t.Fatal(err)
		}
		if len(back) != 2 || back[0] != l[0] {
			t.Errorf("json does not round-trip: %v", back)
		}
		if got := string(Format(nil, FormatJSON)); got != "[]\n" {
			t.Errorf("empty list: %q", got)
		}
	})
}

// TestFormatHostile: diagnostics that quote hostile values print, in every
// format, one line each, and no line starts a workflow command but
// capiform's own annotations in the github format.
func TestFormatHostile(t *testing.T) {
	hostile := map[string]string{
		"newline and command": "\n::warning file=x::pwned",
		"encoded newline":     "%0A::warning file=x::pwned",
		"carriage return":     "\r::error::pwned",
		"legacy command":      "x ##[add-mask]secret",
		"Unicode line break":  "\u2028::warning::pwned",
	}
	for name, h := range hostile {
		t.Run(name, func(t *testing.T) {
			var l diag.List
			l.Add(diag.Pos{File: "clusters/lon/a.yaml", Line: 4, Col: 3}, "load.label", "label key %s is not valid", h)
			l = append(l, diag.Diagnostic{Pos: diag.Pos{File: "clusters/lon/" + h}, Rule: "policy.x", Message: h, Severity: diag.Warning})
			for _, format := range []string{FormatText, FormatGitHub, FormatJSON} {
				out := string(Format(l, format))
				if format != FormatJSON && strings.Count(out, "\n") != len(l) {
					t.Errorf("%s: %d diagnostics on %d lines:\n%s", format, len(l), strings.Count(out, "\n"), out)
				}
				for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
					own := format == FormatGitHub && (strings.HasPrefix(line, "::error file=clusters/lon/") || strings.HasPrefix(line, "::warning file=clusters/lon/"))
					if strings.ContainsAny(line, "\r\u2028") || strings.Contains(line, "##[") ||
						(!own && strings.HasPrefix(strings.TrimSpace(line), "::")) {
						t.Errorf("%s: line %q starts a workflow command", format, line)
					}
				}
				if format == FormatJSON {
					var back diag.List
					if err := json.Unmarshal([]byte(out), &back); err != nil || back[1].Message != h {
						t.Errorf("json does not round-trip %q: %v %v", h, back, err)
					}
				}
			}
		})
	}
}
