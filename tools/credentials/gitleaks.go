package credentials

import (
	"context"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// The gitleaks detector with its default configuration, built once: its
// ~200 regular expressions take a third of a second to compile, so
// Warm lets a caller start that while it does other work.
var gitleaks = sync.OnceValues(func() (*detect.Detector, error) {
	// gitleaks logs to stderr through a global logger; a library of
	// capiform never prints.
	logging.Logger = zerolog.Nop()
	// A viper of our own: detect.NewDetectorDefaultConfig fills the global
	// one, which is not safe to share.
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(config.DefaultConfig)); err != nil {
		return nil, err
	}
	var vc config.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return nil, err
	}
	cfg, err := vc.Translate()
	if err != nil {
		return nil, err
	}
	d := detect.NewDetector(cfg)
	// No decoding passes, no archives, no git, no printing: one string in,
	// findings out.
	d.MaxDecodeDepth = 0
	d.Verbose = false
	d.Redact = 100
	return d, nil
})

// Warm builds the maintained rule set now, so that the first Scan does
// not wait for it. It is safe to call more than once and concurrently.
func Warm() { _, _ = gitleaks() }

// gitleaksRules returns the IDs of the gitleaks rules that find a secret in
// the value text under key. The value is given as a line "key: value", so
// that the rules that look for a secret next to a telling name (password,
// token...) see both.
func gitleaksRules(key, text string) []string {
	d, err := gitleaks()
	if err != nil {
		// The default configuration is compiled into gitleaks; it failing
		// to load is a build defect that TestGitleaksLoads catches.
		return nil
	}
	fragment := text
	if key != "" {
		fragment = key + ": " + text
	}
	var ids []string
	for _, f := range d.DetectContext(context.Background(), detect.Fragment{Raw: fragment}) {
		ids = append(ids, f.RuleID)
	}
	return ids
}
