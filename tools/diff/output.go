package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"

	"github.com/capiform/capiform/tools/diag"
)

// MaxComment is the most characters GitHub accepts in a comment.
const MaxComment = 65536

// Marker starts every markdown report, so that CI finds and updates its one
// comment on a pull request.
const Marker = "<!-- capiform-diff -->"

// maxValue bounds a value shown in text and markdown (JSON is complete).
const maxValue = 200

type counts struct {
	clusters, added, removed, cpRolls, groupRolls, replaced, replacedMax, scaled, inPlace, unsafe, warnings, addons int
}

func (r *Report) counts() counts {
	var c counts
	c.clusters = len(r.Clusters)
	for _, cl := range r.Clusters {
		switch cl.Action {
		case Added:
			c.added++
		case Removed:
			c.removed++
		}
		if cp := cl.ControlPlane; cp != nil && cp.Action == Changed {
			if cp.Replace {
				c.cpRolls++
				c.replaced += cp.Replaced
				c.replacedMax += max(cp.Replaced, cp.ReplacedMax)
			}
			if cp.Scale != nil {
				c.scaled++
			}
			if !cp.Replace && len(cp.InPlace) > 0 {
				c.inPlace++
			}
		}
		for _, g := range cl.NodeGroups {
			if g.Action != Changed {
				continue
			}
			if g.Replace {
				c.groupRolls++
				c.replaced += g.Replaced
				c.replacedMax += max(g.Replaced, g.ReplacedMax)
			}
			if g.Scale != nil {
				c.scaled++
			}
			// New autoscaling bounds alone change no replica count: Cluster
			// API leaves the replicas as they are and the autoscaler acts
			// within the new bounds (observed with the real controllers,
			// TestDiffPredictsTheControllers), so they are in place.
			boundsOnly := g.Scale == nil && g.Autoscale != nil
			if !g.Replace && (len(g.InPlace) > 0 || boundsOnly) {
				c.inPlace++
			}
		}
		for _, f := range cl.Findings {
			switch f.Severity {
			case Unsafe:
				c.unsafe++
			case Warning:
				c.warnings++
			}
		}
	}
	for _, f := range r.Findings {
		switch f.Severity {
		case Unsafe:
			c.unsafe++
		case Warning:
			c.warnings++
		}
	}
	for _, s := range r.Sites {
		c.addons += len(s.Addons)
	}
	return c
}

// Summary is the report in one line.
func (r *Report) Summary() string {
	if !r.Changed() {
		if len(r.Errors) > 0 {
			return fmt.Sprintf("no change found, but %d error(s): the comparison is incomplete", len(r.Errors))
		}
		return "no change"
	}
	c := r.counts()
	parts := []string{fmt.Sprintf("%d cluster(s) changed (%d created, %d deleted)", c.clusters, c.added, c.removed)}
	parts = append(parts,
		fmt.Sprintf("%d control plane(s) and %d node group(s) roll (%s machine(s) replaced)", c.cpRolls, c.groupRolls, countText(c.replaced, c.replacedMax)),
		fmt.Sprintf("%d scaled", c.scaled),
		fmt.Sprintf("%d changed in place", c.inPlace),
		fmt.Sprintf("%d addon change(s)", c.addons),
		fmt.Sprintf("%d unsafe", c.unsafe),
		fmt.Sprintf("%d warning(s)", c.warnings))
	if len(r.Errors) > 0 {
		parts = append(parts, fmt.Sprintf("%d error(s)", len(r.Errors)))
	}
	return strings.Join(parts, ", ")
}

func short(s string) string {
	if len(s) <= maxValue {
		return s
	}
	return s[:maxValue] + "…"
}

// display is the change on one line, safe for a CI log (diag.Line): the
// path and the values are the repository's, and the path starts the line.
func (f FieldChange) display() string {
	f.Old, f.New = short(f.Old), short(f.New)
	return diag.Line(f.String())
}

func intText(p *int) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprint(*p)
}

func boundsText(b *Bounds) string {
	if b == nil {
		return "off"
	}
	return fmt.Sprintf("%d..%d", b.Min, b.Max)
}

// replacedText is how many machines a rollout replaces: a range for an
// autoscaled group (every machine it runs, between its bounds) and for a
// control plane whose joined machines alone roll.
func replacedText(g Rollout) string {
	if g.ReplacedMax > g.Replaced {
		return fmt.Sprintf("%d-%d", g.Replaced, g.ReplacedMax)
	}
	return fmt.Sprint(g.Replaced)
}

// peakText is ", up to N at once": the most machines a rolling group has
// at once, which its quota must hold (a range for an autoscaled group).
func peakText(g Rollout) string {
	if g.Peak == 0 && g.PeakMax == 0 {
		return ""
	}
	return fmt.Sprintf(", up to %s at once", countText(g.Peak, g.PeakMax))
}

// headline says in a few words what happens to a control plane or group.
func (g Rollout) headline() string {
	switch g.Action {
	case Added:
		return fmt.Sprintf("created with %s machine(s)", countText(g.Machines, g.MachinesMax))
	case Removed:
		return fmt.Sprintf("deleted with its %s machine(s)", countText(g.Machines, g.MachinesMax))
	}
	var parts []string
	if g.Replace {
		parts = append(parts, fmt.Sprintf("rolls, replacing %s machine(s)%s: %s", replacedText(g), peakText(g), strings.Join(g.Reasons, "; ")))
	}
	if g.Scale != nil {
		parts = append(parts, fmt.Sprintf("scales %s -> %s", intText(g.Scale.From), intText(g.Scale.To)))
	}
	if g.Autoscale != nil {
		parts = append(parts, fmt.Sprintf("autoscale %s -> %s", boundsText(g.Autoscale.From), boundsText(g.Autoscale.To)))
	}
	if len(g.InPlace) > 0 {
		if g.Replace {
			parts = append(parts, fmt.Sprintf("%d other change(s)", len(g.InPlace)))
		} else {
			parts = append(parts, fmt.Sprintf("%d change(s) in place, no machine replaced", len(g.InPlace)))
		}
	}
	return strings.Join(parts, "; ")
}

type palette struct{ red, yellow, green, bold, reset string }

func colors(on bool) palette {
	if !on {
		return palette{}
	}
	return palette{red: "\x1b[31m", yellow: "\x1b[33m", green: "\x1b[32m", bold: "\x1b[1m", reset: "\x1b[0m"}
}

func (p palette) severity(s Severity) string {
	switch s {
	case Unsafe:
		return p.red + "UNSAFE" + p.reset
	case Warning:
		return p.yellow + "WARNING" + p.reset
	}
	return "note"
}

func (p palette) action(a Action) string {
	switch a {
	case Added:
		return p.green + string(a) + p.reset
	case Removed:
		return p.red + string(a) + p.reset
	}
	return string(a)
}

// Text writes the report for a terminal: the summary first, then every
// cluster, the chart and the Flux trees. Colour only when asked.
func (r *Report) Text(w io.Writer, color bool) error {
	p := colors(color)
	var b strings.Builder
	// Every name, value and message below comes from the revisions under
	// review: each is escaped where it is embedded (diag.Inline), so that
	// none breaks its line or starts a workflow command in a CI log.
	esc := diag.Inline
	fmt.Fprintf(&b, "%scapiform diff%s %s -> %s\n", p.bold, p.reset, esc(r.Base.String()), esc(r.Head.String()))
	fmt.Fprintf(&b, "%s\n", r.Summary())
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%sERROR%s %s\n", p.red, p.reset, esc(e))
	}
	for _, f := range r.allFindings() {
		if f.Severity != Info {
			fmt.Fprintf(&b, "%s %s\n", p.severity(f.Severity), esc(f.Message))
		}
	}
	if c := r.Chart; c != nil {
		fmt.Fprintf(&b, "\n%schart %s%s %s -> %s\n", p.bold, esc(c.Path), p.reset, esc(c.VersionFrom), esc(c.VersionTo))
		for _, f := range c.Files {
			fmt.Fprintf(&b, "  %s %s\n", f.Action, esc(f.Path))
		}
	}
	for _, c := range r.Clusters {
		b.WriteString("\n")
		b.WriteString(c.text(p))
	}
	for _, s := range r.Sites {
		fmt.Fprintf(&b, "\n%ssite %s%s (%s)\n", p.bold, esc(s.Site), p.reset, esc(s.Dir))
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "  %sERROR%s %s\n", p.red, p.reset, esc(e))
		}
		for _, a := range s.Addons {
			fmt.Fprintf(&b, "  addon %s\n", esc(a.String()))
		}
		for _, o := range s.Objects {
			writeObject(&b, "  ", o)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// allFindings are the report's and every cluster's findings, prefixed with
// the cluster.
func (r *Report) allFindings() []Finding {
	out := append([]Finding(nil), r.Findings...)
	for _, c := range r.Clusters {
		for _, f := range c.Findings {
			out = append(out, Finding{f.Severity, c.Site + "/" + c.Cluster + ": " + f.Message})
		}
	}
	sortFindings(out)
	return out
}

// text is the cluster's part of Text; like Text it escapes what it quotes.
func (c *ClusterReport) text(p palette) string {
	esc := diag.Inline
	var b strings.Builder
	fmt.Fprintf(&b, "%scluster %s/%s%s: %s", p.bold, esc(c.Site), esc(c.Cluster), p.reset, p.action(c.Action))
	if c.Action == Added || c.Action == Removed {
		fmt.Fprintf(&b, " (%d machine(s))", c.Machines)
	}
	b.WriteString("\n")
	if c.Error != "" {
		fmt.Fprintf(&b, "  %sERROR%s %s\n", p.red, p.reset, esc(c.Error))
	}
	for _, f := range c.Findings {
		fmt.Fprintf(&b, "  %s %s\n", p.severity(f.Severity), esc(f.Message))
	}
	groups := c.NodeGroups
	if c.ControlPlane != nil {
		groups = append([]Rollout{*c.ControlPlane}, groups...)
	}
	for i, g := range groups {
		what := "node group " + esc(g.Name)
		if i == 0 && c.ControlPlane != nil {
			what = "control plane"
		}
		head := esc(g.headline())
		if g.Replace {
			head = p.yellow + head + p.reset
		}
		fmt.Fprintf(&b, "  %s: %s\n", what, head)
		if g.Action != Changed {
			continue
		}
		for _, f := range g.TemplateFields {
			fmt.Fprintf(&b, "      %s\n", f.display())
		}
		for _, f := range g.InPlace {
			fmt.Fprintf(&b, "      in place: %s\n", f.display())
		}
	}
	if len(c.Objects) > 0 {
		b.WriteString("  objects:\n")
		for _, o := range c.Objects {
			writeObject(&b, "    ", o)
		}
	}
	return b.String()
}

func writeObject(b *strings.Builder, indent string, o ObjectChange) {
	fmt.Fprintf(b, "%s%s\n", indent, diag.Line(o.summary()))
	for _, k := range o.Keys {
		fmt.Fprintf(b, "%s    key %s\n", indent, diag.Inline(k))
	}
	for _, f := range o.Fields {
		fmt.Fprintf(b, "%s    %s\n", indent, f.display())
	}
}

// JSON writes the report as indented JSON. JSON escapes line breaks and
// every line starts with a quote or a bracket; diag.JSON writes what is left
// that a CI log could read as a command, "##[", in a form that decodes to
// the same.
func (r *Report) JSON(w io.Writer) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(diag.JSON(b.Bytes()))
	return err
}

// Markdown writes the report as a pull request comment: the marker, the
// summary, the unsafe changes and warnings, a table of clusters, then the
// details of each in a <details> block. The comment never exceeds limit
// characters (MaxComment when limit <= 0): what does not fit is cut, and
// the comment says so.
func (r *Report) Markdown(w io.Writer, limit int) error {
	if limit <= 0 || limit > MaxComment {
		limit = MaxComment
	}
	m := &budget{limit: limit}
	m.reserve = 400
	// Every name and value of the revisions is escaped for where it goes: a
	// code span (mdCode), Markdown text (mdText, table cells included), the
	// HTML of a <summary> (mdHTML) or a fenced block (codeBlock), so that it
	// cannot change the comment's structure, link, mention or run markup.
	m.add(fmt.Sprintf("%s\n### capiform diff\n\n%s → %s\n\n**%s**\n\n", Marker, mdCode(r.Base.String()), mdCode(r.Head.String()), mdText(r.Summary())))
	for _, e := range r.Errors {
		m.add(fmt.Sprintf("> [!CAUTION]\n> %s\n\n", mdText(short(e))))
	}
	var notes []string
	for _, f := range r.allFindings() {
		if f.Severity == Info {
			continue
		}
		icon := "⚠️"
		if f.Severity == Unsafe {
			icon = "⛔"
		}
		notes = append(notes, fmt.Sprintf("- %s **%s** %s\n", icon, f.Severity, mdText(f.Message)))
	}
	m.addAll(notes, "\n")
	if c := r.Chart; c != nil {
		m.add(fmt.Sprintf("**chart** %s %s → %s (%d file(s) changed)\n\n", mdCode(c.Path), mdText(c.VersionFrom), mdText(c.VersionTo), len(c.Files)))
	}
	if len(r.Clusters) > 0 {
		rows := []string{"| cluster | change | control plane | node groups | findings |\n|---|---|---|---|---|\n"}
		for _, c := range r.Clusters {
			rows = append(rows, c.row())
		}
		m.addAll(rows, "\n")
	}
	var addons []string
	for _, s := range r.Sites {
		for _, a := range s.Addons {
			addons = append(addons, fmt.Sprintf("- addon %s (%s)\n", mdCode(a.String()), mdText(s.Site)))
		}
	}
	m.addAll(addons, "\n")
	var details []string
	for _, c := range r.Clusters {
		details = append(details, fmt.Sprintf("<details><summary>%s/%s: %s</summary>\n\n%s</details>\n\n", mdHTML(c.Site), mdHTML(c.Cluster), c.Action, codeBlock(c.text(palette{}))))
	}
	for _, s := range r.Sites {
		var b strings.Builder
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "ERROR %s\n", diag.Inline(e))
		}
		for _, o := range s.Objects {
			writeObject(&b, "", o)
		}
		details = append(details, fmt.Sprintf("<details><summary>Flux tree %s</summary>\n\n%s</details>\n\n", mdHTML(s.Dir), codeBlock(b.String())))
	}
	m.addAll(details, "")
	if m.cut > 0 {
		m.reserve = 0
		m.add(fmt.Sprintf("\n> [!NOTE]\n> The report is cut to fit a comment of %d characters: %d section(s) not shown. Run %s for all of it.\n", limit, m.cut, mdCode("capiform diff --base "+r.Base.Ref)))
	}
	_, err := io.WriteString(w, m.b.String())
	return err
}

// budget builds a text that never exceeds its limit, keeping reserve
// characters for the closing note.
type budget struct {
	b       strings.Builder
	limit   int
	reserve int
	// cut counts the pieces left out.
	cut int
}

func (m *budget) fits(s string) bool { return m.b.Len()+len(s)+m.reserve <= m.limit }

func (m *budget) add(s string) {
	if m.fits(s) {
		m.b.WriteString(s)
		return
	}
	m.cut++
}

// addAll adds pieces then the trailer, stopping at the first piece that
// does not fit.
func (m *budget) addAll(pieces []string, trailer string) {
	if len(pieces) == 0 {
		return
	}
	for i, p := range pieces {
		if m.cut > 0 || !m.fits(p+trailer) {
			m.cut += len(pieces) - i
			break
		}
		m.b.WriteString(p)
	}
	if m.fits(trailer) {
		m.b.WriteString(trailer)
	}
}

func (c *ClusterReport) row() string {
	cp := ""
	if c.ControlPlane != nil {
		cp = c.ControlPlane.short()
	}
	var groups []string
	for _, g := range c.NodeGroups {
		groups = append(groups, mdText(g.Name)+": "+g.short())
	}
	var unsafe, warn int
	for _, f := range c.Findings {
		switch f.Severity {
		case Unsafe:
			unsafe++
		case Warning:
			warn++
		}
	}
	var fs []string
	if unsafe > 0 {
		fs = append(fs, fmt.Sprintf("⛔ %d unsafe", unsafe))
	}
	if warn > 0 {
		fs = append(fs, fmt.Sprintf("⚠️ %d", warn))
	}
	if c.Error != "" {
		fs = append(fs, "error")
	}
	change := string(c.Action)
	if c.Action == Added || c.Action == Removed {
		change = fmt.Sprintf("%s (%d machines)", c.Action, c.Machines)
	}
	return fmt.Sprintf("| %s/%s | %s | %s | %s | %s |\n", mdText(c.Site), mdText(c.Cluster), change, cp, strings.Join(groups, "<br>"), strings.Join(fs, " "))
}

// short is a table cell's worth of a rollout, in Markdown: the versions it
// quotes are escaped.
func (g Rollout) short() string {
	switch g.Action {
	case Added:
		return fmt.Sprintf("created (%s)", countText(g.Machines, g.MachinesMax))
	case Removed:
		return fmt.Sprintf("deleted (%s)", countText(g.Machines, g.MachinesMax))
	}
	var parts []string
	if g.Replace {
		why := "template"
		if g.VersionTo != "" && g.VersionFrom != g.VersionTo {
			why = mdText(g.VersionFrom) + " → " + mdText(g.VersionTo)
		}
		parts = append(parts, fmt.Sprintf("**rolls %s**%s (%s)", replacedText(g), peakText(g), why))
	}
	if g.Scale != nil {
		parts = append(parts, fmt.Sprintf("scale %s → %s", intText(g.Scale.From), intText(g.Scale.To)))
	}
	if g.Autoscale != nil {
		parts = append(parts, fmt.Sprintf("autoscale %s → %s", boundsText(g.Autoscale.From), boundsText(g.Autoscale.To)))
	}
	if !g.Replace && len(g.InPlace) > 0 {
		parts = append(parts, "in place")
	}
	return strings.Join(parts, ", ")
}

// mdText escapes s for Markdown text, a table cell included: on one line
// (diag.Inline), with every character that could start markup (emphasis, a
// code span, a link or image, a table cell's end, strike-through) behind a
// backslash, HTML's own as entities, and a zero-width space after "@" so that
// no one is mentioned (as Renovate does).
func mdText(s string) string {
	s = diag.Inline(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '|', '~':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '@':
			b.WriteString(noMention)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// noMention is "@" that GitHub does not read as a mention.
const noMention = "@&#8203;"

// mdHTML escapes s for the text of an HTML element (a <summary>), where
// Markdown is not read: on one line, HTML-escaped, mentioning no one.
func mdHTML(s string) string {
	return strings.ReplaceAll(html.EscapeString(diag.Inline(s)), "@", noMention)
}

// mdCode is s as an inline code span: delimited by one backtick more than
// its longest run of backticks, padded with spaces when it starts or ends
// with one (CommonMark's rule), on one line. A code span shows its content
// as it is: no markup, no mention.
func mdCode(s string) string {
	s = diag.Inline(s)
	tick := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return tick + s + tick
}

// codeBlock is text as a fenced code block, its fence longer than any run of
// backticks inside, so that no line of the text can close it. The text's
// lines are already safe for a CI log (Text escapes them).
func codeBlock(text string) string {
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	f := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	return f + "\n" + text + f + "\n"
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	longest, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] != c {
			n = 0
			continue
		}
		n++
		longest = max(longest, n)
	}
	return longest
}
