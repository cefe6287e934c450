// Package about says what a capiform binary is and carries: its module
// version, the version of the chart it lays out with `capiform init`, and
// the version and digest of the policies it validates with. A fleet that
// pins the tool (go install ...@vX.Y.Z) can so tell which rules its CI ran.
package about

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"runtime/debug"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/charts"
	"github.com/capiform/capiform/policies"
)

// Module is capiform's Go module path.
const Module = "github.com/capiform/capiform"

// Command is the package `go install` builds the binary from.
const Command = Module + "/tools/cmd/capiform"

// Devel is the version of a binary built from a checkout without version
// control information (go build's own word for it).
const Devel = "(devel)"

// Info is what a binary is and carries.
type Info struct {
	// Module is the module path, Version its version: a tag such as
	// v0.3.0 for `go install ...@v0.3.0`, a pseudo-version for a commit,
	// or (devel).
	Module  string `json:"module"`
	Version string `json:"version"`
	// Revision is the commit a checkout build was made from, with
	// Modified set when the work tree had changes; empty when unknown.
	Revision string `json:"revision,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string `json:"goVersion"`
	// Charts are the charts the binary carries, by name.
	Charts []Chart `json:"charts"`
	// Policies are the embedded base policies.
	Policies Policies `json:"policies"`
}

// Chart is one carried chart.
type Chart struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Policies identifies the embedded policies: their declared version and a
// digest of their files, which changes with any edit.
type Policies struct {
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// Read returns the binary's Info. Only a broken build (an unreadable
// embedded Chart.yaml) is an error.
func Read() (Info, error) {
	info := Info{Module: Module, Version: Devel}
	if bi, ok := debug.ReadBuildInfo(); ok {
		info = fromBuildInfo(bi)
	}
	chart, err := chartVersion(charts.FS, charts.OpenStackCluster)
	if err != nil {
		return Info{}, err
	}
	info.Charts = []Chart{{Name: charts.OpenStackCluster, Version: chart}}
	digest, err := Digest(policies.FS)
	if err != nil {
		return Info{}, err
	}
	info.Policies = Policies{Version: policies.Version, Digest: digest}
	return info, nil
}

// fromBuildInfo reads the module version and VCS stamp. A test binary or
// a binary of another main module (capiform used as a library) has no
// version of capiform's own: (devel).
func fromBuildInfo(bi *debug.BuildInfo) Info {
	info := Info{Module: Module, Version: Devel, GoVersion: bi.GoVersion}
	switch {
	case bi.Main.Path == Module && bi.Main.Version != "":
		info.Version = bi.Main.Version
	default:
		for _, d := range bi.Deps {
			if d.Path == Module && d.Version != "" {
				info.Version = d.Version
			}
		}
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}

// Released reports whether v is a version `go install ...@v` can fetch
// again: anything but (devel) and a dirty work tree's build.
func Released(v string) bool {
	return v != "" && v != Devel && !strings.HasSuffix(v, "+dirty")
}

func chartVersion(fsys fs.FS, name string) (string, error) {
	data, err := fs.ReadFile(fsys, path.Join(name, "Chart.yaml"))
	if err != nil {
		return "", fmt.Errorf("the embedded chart %s: %w", name, err)
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil || meta.Version == "" {
		return "", fmt.Errorf("the embedded chart %s has no version in Chart.yaml (%v)", name, err)
	}
	return meta.Version, nil
}

// Digest is the sha256 of the files of fsys, names and contents, in name
// order: "sha256:" and the first 12 hex digits, enough to tell builds apart.
func Digest(fsys fs.FS) (string, error) {
	var names []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:12], nil
}
