package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/capiform/capiform/tools/diag"
)

// Formats of Format.
const (
	FormatText   = "text"
	FormatJSON   = "json"
	FormatGitHub = "github"
)

// Format writes diagnostics for people (text: file:line:col: message
// [rule]), for programs (json: an array) or as GitHub workflow commands
// (github: ::error file=F,line=L,col=C,title=RULE::message) that annotate a
// pull request. An unknown format is text.
func Format(l diag.List, format string) []byte {
	var b bytes.Buffer
	switch format {
	case FormatJSON:
		if l == nil {
			l = diag.List{}
		}
		data, _ := json.MarshalIndent(l, "", "  ") // a List always marshals
		b.Write(diag.JSON(data))
		b.WriteByte('\n')
	case FormatGitHub:
		for _, d := range l {
			level := "error"
			if d.Severity == diag.Warning {
				level = "warning"
			}
			fmt.Fprintf(&b, "::%s file=%s", level, ghProperty(d.File))
			if d.Line > 0 {
				fmt.Fprintf(&b, ",line=%d", d.Line)
			}
			if d.Col > 0 {
				fmt.Fprintf(&b, ",col=%d", d.Col)
			}
			fmt.Fprintf(&b, ",title=%s::%s\n", ghProperty(d.Rule), ghData(d.Message))
		}
	default:
		for _, d := range l {
			b.WriteString(d.String())
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// ghData escapes a workflow command's message: the runner decodes %0A to
// a line break of the annotation; what is left of other invisible characters
// and "##[" is escaped as in any line (diag.Inline).
func ghData(s string) string {
	return diag.Inline(strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s))
}

// ghProperty escapes a workflow command's property value.
func ghProperty(s string) string {
	return diag.Inline(strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s))
}
