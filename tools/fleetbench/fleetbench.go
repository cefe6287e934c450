// Package fleetbench measures capiform at fleet scale the way a user runs
// it: each stage is its own process of the capiform binary, on a generated
// fleet committed to a real git repository, and it is compared with the
// loop a user would script instead, one `helm template` per cluster.
//
// The package never prints and never exits: Run returns a Result, and
// Result.WriteTable writes it as a plain text table.
package fleetbench

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/capiform/capiform/tools/pipeline"
	"github.com/capiform/capiform/tools/source"
)

// Options of Run.
type Options struct {
	// Capiform is the path of the capiform binary (required).
	Capiform string
	// Helm is the path of a helm binary for the per-cluster loop; empty
	// skips the loop.
	Helm string
	// Sites and ClustersPerSite size the generated fleet; default 10 x 100.
	Sites, ClustersPerSite int
	// Runs is how many times each stage runs; default 3.
	Runs int
	// Dir is the work folder, made when absent and required to be empty;
	// default a fresh temporary folder under /dev/shm when that exists,
	// else under os.TempDir().
	Dir string
	// Keep leaves the work folder in place at the end.
	Keep bool
	// Repo is the repository root that charts/ and platforms/ are copied
	// from; default ".".
	Repo string
	// Log, when set, is told what is happening (the run takes minutes).
	Log func(msg string)
}

// The targets capiform is built to meet: each stage's time and memory on a
// fleet of 1000 clusters on 2 CPUs. A stage over its target is a
// regression; on another fleet or machine they only indicate.
const (
	TargetClusters = 1000
	TargetCPUs     = 2
	// TargetSpeedup is how many times faster than the helm loop
	// `expand --all` must be.
	TargetSpeedup = 30.0
)

// Target is the most time and memory a stage may take.
type Target struct {
	// Wall is the longest median wall time.
	Wall time.Duration
	// RSS is the largest peak resident set size in bytes; 0 is no limit.
	RSS int64
}

// Met is true when a stage's median time and peak memory are within the
// target.
func (t Target) Met(wall time.Duration, rss int64) bool {
	return (t.Wall == 0 || wall <= t.Wall) && (t.RSS == 0 || rss <= t.RSS)
}

// String is the target as the table shows it.
func (t Target) String() string {
	var parts []string
	if t.Wall > 0 {
		parts = append(parts, "<= "+seconds(t.Wall))
	}
	if t.RSS > 0 {
		parts = append(parts, "<= "+mib(t.RSS))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// Stage is one capiform command, measured.
type Stage struct {
	// Name is the stage's short name, e.g. "diff one".
	Name string
	// Args are capiform's arguments, without -C.
	Args []string
	// Times are the wall times of the runs, in order.
	Times []time.Duration
	// Median is the median of Times.
	Median time.Duration
	// PeakRSS is the largest peak resident set size of the runs, in bytes.
	PeakRSS int64
	// Target is the most time and memory the stage may take on
	// TargetClusters clusters and TargetCPUs CPUs.
	Target Target
	// Note is what the command said about its work (diff's -v line), or
	// what the stage did.
	Note string
}

// Command is the stage as a user types it.
func (s Stage) Command() string { return "capiform " + strings.Join(s.Args, " ") }

// OK is true when the stage met its target.
func (s Stage) OK() bool { return s.Target.Met(s.Median, s.PeakRSS) }

// HelmLoop is the per-cluster `helm template` loop, measured once.
type HelmLoop struct {
	// Clusters is the number of helm processes, one per cluster.
	Clusters int
	// Wall is the loop's wall time.
	Wall time.Duration
	// PeakRSS is the largest peak resident set size of the processes, in
	// bytes.
	PeakRSS int64
	// Speedup is Wall divided by the median time of `expand --all`.
	Speedup float64
}

// OK is true when expand --all was at least TargetSpeedup times faster.
func (h HelmLoop) OK() bool { return h.Speedup >= TargetSpeedup }

// Missed lists the targets the run missed, one line each: the stage, what
// was measured and the target, for example
// "validate: 2.23 s, 551 MiB (target <= 2 s, <= 1 GiB)". Empty when every
// target was met.
func (r *Result) Missed() []string {
	var out []string
	for _, s := range r.Stages {
		if !s.OK() {
			out = append(out, fmt.Sprintf("%s: %s, %s (target %s)", s.Name, seconds(s.Median), mib(s.PeakRSS), s.Target))
		}
	}
	if l := r.HelmLoop; l != nil && !l.OK() {
		out = append(out, fmt.Sprintf("speed-up over the helm loop: %.1fx (target >= %.0fx)", l.Speedup, TargetSpeedup))
	}
	return out
}

// Result of Run.
type Result struct {
	Sites, ClustersPerSite, Runs int
	// NumCPU and GOMAXPROCS are this machine's, which the capiform
	// processes share.
	NumCPU, GOMAXPROCS int
	// LoadAverage is the machine's 1, 5 and 15 minute load averages before
	// the run ("" when unknown): other work on it slows the stages.
	LoadAverage string
	// WorkDir is the work folder; Fleet the git repository in it.
	WorkDir, Fleet string
	// Tmpfs is true when the work folder is in memory.
	Tmpfs bool
	// Kept is true when the work folder was left in place.
	Kept bool
	// Capiform and Helm are the binaries' paths; CapiformVersion and
	// HelmVersion what they say they are.
	Capiform, CapiformVersion string
	Helm, HelmVersion         string
	// Stages are the capiform commands in the order they ran.
	Stages []Stage
	// HelmLoop is nil when no helm binary was given.
	HelmLoop *HelmLoop
}

// Clusters is the fleet's size.
func (r *Result) Clusters() int { return r.Sites * r.ClustersPerSite }

// Stage returns the named stage, or nil.
func (r *Result) Stage(name string) *Stage {
	for i := range r.Stages {
		if r.Stages[i].Name == name {
			return &r.Stages[i]
		}
	}
	return nil
}

// Stage names.
const (
	StageValidate = "validate"
	StageRender   = "render"
	StageExpand   = "expand all"
	StageDiffOne  = "diff one"
	StageDiffAll  = "diff all"
)

// ExitError is a process that ended with an exit code other than the one
// wanted.
type ExitError struct {
	// Command is the command line.
	Command string
	// Code is the exit code; Want the one that means success.
	Code, Want int
	// Stderr is what the process wrote on stderr.
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: exit code %d, want %d", e.Command, e.Code, e.Want)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += "; stderr:\n" + s
	}
	return msg
}

// Run generates the fleet, commits it with its two changes, runs each
// stage opts.Runs times and the helm loop once, and removes the work folder
// unless opts.Keep. The capiform processes run one at a time.
func Run(ctx context.Context, opts Options) (res *Result, err error) {
	if opts.Capiform == "" {
		return nil, errors.New("no capiform binary given")
	}
	if opts.Sites == 0 {
		opts.Sites = 10
	}
	if opts.ClustersPerSite == 0 {
		opts.ClustersPerSite = 100
	}
	if opts.Runs == 0 {
		opts.Runs = 3
	}
	if opts.Repo == "" {
		opts.Repo = "."
	}
	if opts.Sites < 1 || opts.ClustersPerSite < 1 || opts.Runs < 1 {
		return nil, fmt.Errorf("sites (%d), clusters per site (%d) and runs (%d) must be at least 1", opts.Sites, opts.ClustersPerSite, opts.Runs)
	}
	logf := func(format string, args ...any) {
		if opts.Log != nil {
			opts.Log(fmt.Sprintf(format, args...))
		}
	}
	capiform, err := absBinary(opts.Capiform)
	if err != nil {
		return nil, fmt.Errorf("capiform: %w", err)
	}
	res = &Result{
		Sites: opts.Sites, ClustersPerSite: opts.ClustersPerSite, Runs: opts.Runs,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), LoadAverage: loadAverage(),
		Capiform: opts.Capiform, CapiformVersion: binaryVersion(capiform),
	}
	helm := ""
	if opts.Helm != "" {
		if helm, err = absBinary(opts.Helm); err != nil {
			return nil, fmt.Errorf("helm: %w", err)
		}
		res.Helm = opts.Helm
		out, err := exec.CommandContext(ctx, helm, "version", "--short").Output()
		if err != nil {
			return nil, fmt.Errorf("%s version --short: %w", opts.Helm, err)
		}
		res.HelmVersion = strings.TrimSpace(string(out))
	}

	work, err := workFolder(opts.Dir)
	if err != nil {
		return nil, err
	}
	res.WorkDir, res.Tmpfs, res.Kept = work, isTmpfs(work), opts.Keep
	if !opts.Keep {
		defer func() {
			if rerr := os.RemoveAll(work); rerr != nil && err == nil {
				err = fmt.Errorf("removing the work folder: %w", rerr)
			}
		}()
	}
	fleet := filepath.Join(work, "fleet")
	res.Fleet = fleet
	logf("generating %d sites x %d clusters in %s", opts.Sites, opts.ClustersPerSite, fleet)
	if err := makeFleet(fleet, opts.Repo, opts.Sites, opts.ClustersPerSite); err != nil {
		return nil, err
	}

	cleanGenerated := func() error {
		dirs, err := filepath.Glob(filepath.Join(fleet, "clusters", "*", "generated"))
		if err != nil {
			return err
		}
		for _, d := range dirs {
			if err := os.RemoveAll(d); err != nil {
				return err
			}
		}
		return nil
	}
	stages := []struct {
		Stage
		before func() error
		want   int
		note   func(stderr string) string
	}{
		{Stage: Stage{Name: StageValidate, Args: []string{"validate"}, Target: Target{Wall: 2 * time.Second, RSS: 1 << 30}}},
		{
			Stage:  Stage{Name: StageRender, Args: []string{"render"}, Target: Target{Wall: 2 * time.Second, RSS: 1 << 30}},
			before: cleanGenerated,
			note: func(string) string {
				n, err := countFiles(filepath.Join(fleet, "clusters"), "generated")
				if err != nil {
					return "validates first"
				}
				return fmt.Sprintf("validates first; wrote %d files into clusters/*/generated", n)
			},
		},
		{
			Stage: Stage{Name: StageExpand, Args: []string{"expand", "--all"}, Target: Target{Wall: 5 * time.Second}},
			note:  func(stderr string) string { return lineWith(stderr, "expanded ") },
		},
		{
			Stage: Stage{Name: StageDiffOne, Args: []string{"diff", "--base", "main", "--head", "one", "-v", "-o", "json"}, Target: Target{Wall: time.Second}},
			want:  1,
			note:  func(stderr string) string { return strings.TrimPrefix(lineWith(stderr, "diff: rendered "), "diff: ") },
		},
		{
			Stage: Stage{Name: StageDiffAll, Args: []string{"diff", "--base", "main", "--head", "all", "-v", "-o", "json"}, Target: Target{Wall: 10 * time.Second}},
			want:  1,
			note:  func(stderr string) string { return strings.TrimPrefix(lineWith(stderr, "diff: rendered "), "diff: ") },
		},
	}
	for _, st := range stages {
		s := st.Stage
		var stderr string
		for i := 0; i < opts.Runs; i++ {
			if st.before != nil {
				if err := st.before(); err != nil {
					return nil, fmt.Errorf("%s: %w", s.Name, err)
				}
			}
			logf("%s, run %d of %d", s.Command(), i+1, opts.Runs)
			m, err := measure(ctx, fleet, st.want, capiform, append([]string{"-C", fleet}, s.Args...)...)
			if err != nil {
				return nil, err
			}
			s.Times = append(s.Times, m.wall)
			s.PeakRSS = max(s.PeakRSS, m.rss)
			stderr = m.stderr
		}
		s.Median = median(s.Times)
		if st.note != nil {
			s.Note = st.note(stderr)
		}
		res.Stages = append(res.Stages, s)
	}

	if helm != "" {
		loop, err := helmLoop(ctx, helm, fleet, filepath.Join(work, "values"), logf)
		if err != nil {
			return nil, err
		}
		if e := res.Stage(StageExpand); e != nil && e.Median > 0 {
			loop.Speedup = float64(loop.Wall) / float64(e.Median)
		}
		res.HelmLoop = loop
	}
	return res, nil
}

// helmLoop runs `helm template` once per cluster, one process after
// another, with the values capiform resolves for it. Resolving and writing
// the values files is not timed.
func helmLoop(ctx context.Context, helm, fleet, valuesDir string, logf func(string, ...any)) (*HelmLoop, error) {
	logf("resolving every cluster's values for the helm loop")
	opts := pipeline.Default(source.Worktree(fleet))
	opts.NoTrees = true
	rendered, err := pipeline.Render(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("resolving the fleet for the helm loop: %w", err)
	}
	if err := os.MkdirAll(valuesDir, 0o755); err != nil {
		return nil, err
	}
	chart := filepath.Join(fleet, filepath.FromSlash(pipeline.ChartDir))
	var runs [][]string
	for _, rel := range rendered.Releases {
		b, err := yaml.Marshal(rel.Values)
		if err != nil {
			return nil, fmt.Errorf("values of %s/%s: %w", rel.Site, rel.Cluster, err)
		}
		f := filepath.Join(valuesDir, rel.Site+"_"+rel.Cluster+".yaml")
		if err := os.WriteFile(f, b, 0o644); err != nil {
			return nil, err
		}
		args := []string{"template", rel.ReleaseName, chart, "-f", f, "--namespace", rel.TargetNamespace}
		if kv := rendered.ManagementVersion(rel.Site); kv != "" {
			args = append(args, "--kube-version", kv)
		}
		runs = append(runs, args)
	}
	logf("helm template, once per cluster: %d processes", len(runs))
	loop := &HelmLoop{Clusters: len(runs)}
	start := time.Now()
	for _, args := range runs {
		m, err := measure(ctx, fleet, 0, helm, args...)
		if err != nil {
			return nil, err
		}
		loop.PeakRSS = max(loop.PeakRSS, m.rss)
	}
	loop.Wall = time.Since(start)
	return loop, nil
}

type measurement struct {
	wall   time.Duration
	rss    int64
	stderr string
}

// measure runs a process in dir with stdout to the null device and returns
// its wall time, peak memory and stderr. An exit code other than want is
// an *ExitError.
func measure(ctx context.Context, dir string, want int, name string, args ...string) (measurement, error) {
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return measurement{}, err
	}
	defer devnull.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout = devnull
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	line := commandLine(name, args)
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return measurement{}, fmt.Errorf("%s: %w", line, ctx.Err())
			}
			return measurement{}, fmt.Errorf("%s: %w", line, err)
		}
		code = ee.ExitCode()
	}
	if code != want {
		return measurement{}, &ExitError{Command: line, Code: code, Want: want, Stderr: stderr.String()}
	}
	return measurement{wall: wall, rss: peakRSS(cmd.ProcessState), stderr: stderr.String()}, nil
}

func commandLine(name string, args []string) string {
	parts := append([]string{name}, args...)
	for i, p := range parts {
		if p == "" || strings.ContainsAny(p, " \t\n'\"\\$") {
			parts[i] = "'" + strings.ReplaceAll(p, "'", `'\''`) + "'"
		}
	}
	return strings.Join(parts, " ")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// lineWith returns the first line of s that starts with prefix, or "".
func lineWith(s, prefix string) string {
	for line := range strings.Lines(s) {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// countFiles counts the regular files under root inside folders named dir.
func countFiles(root, dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && slices.Contains(strings.Split(filepath.ToSlash(p), "/"), dir) {
			n++
		}
		return nil
	})
	return n, err
}

// absBinary checks that path is an executable file and makes it absolute
// (the processes run in the work folder).
func absBinary(path string) (string, error) {
	p, err := exec.LookPath(path)
	if err != nil {
		return "", err
	}
	return filepath.Abs(p)
}

// binaryVersion is the main module's version and the Go version a binary
// was built with, or "unknown".
func binaryVersion(path string) string {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	v := strings.Trim(bi.Main.Version, "()") // "(devel)" when not stamped
	if v == "" {
		v = "devel"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 && !strings.Contains(v, s.Value[:12]) {
			v += " " + s.Value[:12]
		}
	}
	return v + ", " + bi.GoVersion
}

// workFolder makes the work folder: dir, made when absent and required to
// be empty, or a fresh temporary folder in memory when /dev/shm exists.
func workFolder(dir string) (string, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		if len(entries) > 0 {
			return "", fmt.Errorf("work folder %s is not empty", dir)
		}
		return filepath.Abs(dir)
	}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "capiform-fleetbench-"); err == nil {
			return d, nil
		}
	}
	return os.MkdirTemp("", "capiform-fleetbench-")
}
