// Package cloudconf writes cloud.conf, the configuration file of the
// OpenStack cloud controller manager and of Cinder CSI: an INI file read
// with gcfg. The file is made in two ways that must agree: as text
// (Write: Cinder CSI's files), and as the values of the cloud
// controller's chart, which writes each value with Helm's quote function
// (Go's %q). Value refuses what either cannot carry to gcfg.
package cloudconf

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Entry is one key = value line.
type Entry struct{ Key, Value string }

// Section is a [Name] section and its entries, in order.
type Section struct {
	Name    string
	Entries []Entry
}

// Value checks that v can be a cloud.conf value both ways: gcfg reads a
// quoted string with the escapes \\ \" \n \t \b only, and %q writes any
// other character that is not printable as an escape gcfg refuses (\x..,
// \u....). Its error never quotes v, which may be a credential.
func Value(v string) error {
	if !utf8.ValidString(v) {
		return errors.New("is not UTF-8 text")
	}
	for _, r := range v {
		switch {
		case r == '\n' || r == '\r':
			return errors.New("holds a line break, which cloud.conf cannot carry")
		case r != '\t' && !unicode.IsPrint(r):
			return errors.New("holds a control or non-printing character, which cloud.conf cannot carry")
		}
	}
	return nil
}

// Quote writes v as a quoted gcfg string: backslashes and quotes escaped.
func Quote(v string) (string, error) {
	if err := Value(v); err != nil {
		return "", err
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(v) + `"`, nil
}

// Write writes the sections as cloud.conf text, every value quoted. The
// error names the section and key, never the value.
func Write(sections []Section) ([]byte, error) {
	var b strings.Builder
	for _, s := range sections {
		b.WriteString("[" + s.Name + "]\n")
		for _, e := range s.Entries {
			q, err := Quote(e.Value)
			if err != nil {
				return nil, errors.New("[" + s.Name + "] " + e.Key + " " + err.Error())
			}
			b.WriteString(e.Key + "=" + q + "\n")
		}
	}
	return []byte(b.String()), nil
}
