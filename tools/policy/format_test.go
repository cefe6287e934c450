package policy

import (
	"encoding/json"
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
			"charts/demo/Chart.yaml:3:1: 100% wrong,\nbump it [policy.chart-version]\n"},
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
