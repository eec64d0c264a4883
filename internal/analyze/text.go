package analyze

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// View is which report a command prints.
type View int

const (
	// ViewSummary is `albatross logs summary`.
	ViewSummary View = iota
	// ViewErrors is `albatross logs errors`.
	ViewErrors
)

// WriteJSON writes rep as one indented JSON document (docs/logs.md).
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the terminal report of view.
func WriteText(w io.Writer, rep *Report, view View) error {
	p := &printer{w: w}
	p.header(rep)
	switch view {
	case ViewSummary:
		p.summary(rep)
	case ViewErrors:
		p.errors(rep)
	}
	p.findings(rep)
	p.problems(rep)
	return p.err
}

// printer writes text and keeps the first error.
type printer struct {
	w      io.Writer
	err    error
	indent string // before each table row; "  " when empty
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// table writes aligned rows, the first being the header: names (the first
// column, and a PATH column) left-aligned, numbers right-aligned.
func (p *printer) table(rows [][]string) {
	indent := cmp.Or(p.indent, "  ")
	if len(rows) <= 1 {
		p.printf("%s(none)\n", indent)
		return
	}
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(indent)
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 0 || rows[0][i] == "PATH" {
				b.WriteString(c + pad)
			} else {
				b.WriteString(pad + c)
			}
		}
		p.printf("%s\n", strings.TrimRight(b.String(), " "))
		b.Reset()
	}
}

// count formats n with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func percent(n, of int64) string {
	if of == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// size formats a byte count in SI units.
func size(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < 1000 || u == "TB" {
			if u == "B" {
				return fmt.Sprintf("%d B", n)
			}
			return fmt.Sprintf("%.1f %s", f, u)
		}
		f /= 1000
	}
	return ""
}

func fsec(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

func (p *printer) header(rep *Report) {
	p.printf("Requests: %s", count(rep.Requests))
	if rep.TimeRange != nil {
		p.printf("  from %s to %s (%s)", rep.TimeRange.First.Format(time.RFC3339Nano), rep.TimeRange.Last.Format(time.RFC3339Nano),
			rep.TimeRange.Last.Sub(rep.TimeRange.First).Round(time.Second))
	}
	p.printf("\nLines: %s read, %s malformed, %s filtered out; %d input(s) in %.1f s\n",
		count(rep.Lines), count(rep.MalformedLines), count(rep.Filtered), rep.Stats.Inputs, rep.Stats.Seconds)
	for _, c := range rep.CutLines {
		p.printf("Note: %s %s after field %d (%s); the fields after it are unknown.\n", count(c.Count), plural(c.Count, "line ends", "lines end"), c.EndsAfterField, c.FieldName)
	}
	if rep.Approximate {
		p.printf("Note: some tables held more keys than are kept exactly; their smaller counts may be low (docs/logs.md).\n")
	}
}

// statusRows returns a status table sorted by code.
func statusRows(m map[string]int64, total int64) [][]string {
	rows := [][]string{{"STATUS", "REQUESTS", "%"}}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		rows = append(rows, []string{k, count(m[k]), percent(m[k], total)})
	}
	return rows
}

func (p *printer) summary(rep *Report) {
	p.printf("Bytes: %s received, %s sent\n", size(rep.Bytes.Received), size(rep.Bytes.Sent))
	p.printf("\nBy elb_status_code\n")
	p.table(statusRows(rep.ByELBStatus, rep.Requests))
	p.printf("\nBy target_status_code\n")
	p.table(statusRows(rep.ByTargetStatus, rep.Requests))

	p.printf("\nLatency (seconds)\n")
	rows := [][]string{{"FIELD", "COUNT", "NOT MEASURED", "P50", "P90", "P99", "MAX", "MEAN"}}
	for _, d := range []struct {
		name string
		d    *Dist
	}{
		{"request_processing_time", &rep.Latency.RequestProcessing},
		{"target_processing_time", &rep.Latency.TargetProcessing},
		{"response_processing_time", &rep.Latency.ResponseProcessing},
		{"elapsed (time - creation)", &rep.Latency.Elapsed},
	} {
		rows = append(rows, []string{d.name, count(d.d.Count), count(d.d.NotMeasured), fsec(d.d.P50), fsec(d.d.P90), fsec(d.d.P99), fsec(d.d.Max), fsec(d.d.Mean)})
	}
	p.table(rows)
	p.printf("\ntarget_processing_time histogram\n")
	p.histogram(&rep.Latency.TargetProcessing)

	if len(rep.ByNode) > 1 {
		p.printf("\nBy load balancer node (ip_address in the log file names)\n")
		rows := [][]string{{"NODE", "FILES", "REQUESTS", "%", "460", "ELB 5XX"}}
		for _, n := range rep.ByNode {
			rows = append(rows, []string{n.Node, strconv.Itoa(n.Files), count(n.Requests), fmt.Sprintf("%.1f%%", pct(n.Requests, rep.Requests)), count(n.ELB460), count(n.ELB5XX)})
		}
		p.table(rows)
	}
	p.printf("\nTop targets\n")
	p.keyRows("TARGET", rep.ByTarget)
	p.printf("\nTop paths (ids and numbers collapsed to {id})\n")
	p.keyRows("PATH", rep.ByPath)
}

// histogram draws a bar per range, scaled to the largest.
func (p *printer) histogram(d *Dist) {
	if len(d.Histogram) == 0 {
		p.printf("  (no measured values)\n")
		return
	}
	const width = 40
	var most int64
	for _, b := range d.Histogram {
		most = max(most, b.Count)
	}
	rows := [][]string{{"RANGE (s)", "COUNT", "%", ""}}
	for _, b := range d.Histogram {
		to := "+"
		if b.To > 0 {
			to = "-" + strconv.FormatFloat(b.To, 'f', -1, 64)
		}
		bar := strings.Repeat("#", int((b.Count*width+most-1)/most))
		rows = append(rows, []string{strconv.FormatFloat(b.From, 'f', -1, 64) + to, count(b.Count), percent(b.Count, d.Count), bar + strings.Repeat(" ", width-len(bar))})
	}
	p.table(rows)
}

func errCell(m map[string]int64, code string) string {
	if n := m[code]; n > 0 {
		return count(n)
	}
	return "-"
}

func (p *printer) keyRows(what string, rows []KeyRow) {
	out := [][]string{{what, "REQUESTS", "%", "2XX", "3XX", "4XX", "5XX", "460", "502", "503", "504", "AVG TARGET S", "MAX TARGET S"}}
	for _, r := range rows {
		out = append(out, []string{r.Key, count(r.Requests), fmt.Sprintf("%.1f%%", r.Percent),
			errCell(r.ByClass, "2xx"), errCell(r.ByClass, "3xx"), errCell(r.ByClass, "4xx"), errCell(r.ByClass, "5xx"),
			errCell(r.Errors, "460"), errCell(r.Errors, "502"), errCell(r.Errors, "503"), errCell(r.Errors, "504"),
			fsec(r.TargetTime.Mean), fsec(r.TargetTime.Max)})
	}
	p.table(out)
}

func (p *printer) errors(rep *Report) {
	e := &rep.Errors
	var total int64
	for _, n := range e.Total {
		total += n
	}
	p.printf("Errors: %s of %s requests (%s)", count(total), count(rep.Requests), percent(total, rep.Requests))
	for _, c := range errorCodes {
		p.printf("  %d: %s", c, errCell(e.Total, strconv.Itoa(c)))
	}
	p.printf("\n  generated by the load balancer: %s; answered by the target itself: %s\n", count(total-e.FromTarget), count(e.FromTarget))
	errTable := func(what string, rows []ErrorRow) {
		out := [][]string{{what, "REQUESTS", "ERRORS", "%", "460", "502", "503", "504"}}
		for _, r := range rows {
			out = append(out, []string{r.Key, count(r.Requests), count(r.Total), percent(r.Total, r.Requests),
				errCell(r.Errors, "460"), errCell(r.Errors, "502"), errCell(r.Errors, "503"), errCell(r.Errors, "504")})
		}
		p.table(out)
	}
	p.printf("\nBy target\n")
	errTable("TARGET", e.ByTarget)
	p.printf("\nBy path\n")
	errTable("PATH", e.ByPath)
	p.printf("\nBy minute\n")
	out := [][]string{{"MINUTE (UTC)", "ERRORS", "460", "502", "503", "504"}}
	for _, m := range e.ByMinute {
		out = append(out, []string{m.Minute.Format("2006-01-02T15:04Z"), count(m.Total),
			errCell(m.Errors, "460"), errCell(m.Errors, "502"), errCell(m.Errors, "503"), errCell(m.Errors, "504")})
	}
	p.table(out)
	p.printf("\nBy error_reason\n")
	out = [][]string{{"ERROR_REASON", "STATUS", "COUNT"}}
	for _, r := range e.ByReason {
		out = append(out, []string{r.Reason, strconv.Itoa(r.Status), count(r.Count)})
	}
	p.table(out)
}

func (p *printer) findings(rep *Report) {
	p.printf("\nFindings\n")
	if len(rep.Findings) == 0 {
		p.printf("  (none)\n")
	}
	for _, f := range rep.Findings {
		p.printf("\n  [%s] %s (%s requests)\n", f.Code, f.Summary, count(f.Count))
		for _, e := range f.Evidence {
			p.printf("    - %s\n", e)
		}
		p.printf("    fix: %s\n", f.Fix)
		for _, fx := range f.Fixes {
			if fx.Command != "" {
				p.printf("      $ %s\n", fx.Command)
			}
		}
		rows := [][]string{{"TARGET", "PATH", "COUNT", "%"}}
		for _, o := range f.TopOffenders {
			rows = append(rows, []string{o.Target, o.Path, count(o.Count), fmt.Sprintf("%.1f%%", o.Percent)})
		}
		p.printf("    top offenders:\n")
		p.indent = "      "
		p.table(rows)
		p.indent = ""
	}
}

func (p *printer) problems(rep *Report) {
	if rep.MalformedLines > 0 {
		p.printf("\nMalformed lines: %s", count(rep.MalformedLines))
		if n := int64(len(rep.Malformed)); n < rep.MalformedLines {
			p.printf(" (the first %d listed)", n)
		}
		p.printf("\n")
		for _, m := range rep.Malformed {
			p.printf("  %s:%d: %s\n", m.File, m.Line, m.Error)
		}
	}
	if len(rep.InputErrors) > 0 {
		p.printf("\nInputs not read to the end\n")
		for _, e := range rep.InputErrors {
			p.printf("  %s: %s\n", e.File, e.Error)
		}
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.SortedFunc(maps.Keys(m), cmp.Compare[string])
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
