package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as {"paths": [...], "findings": [...]}.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a person: a table of the paths and what was
// measured, the ordering rules checked on each, then the findings, worst first.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tLB IDLE\tCLIENT\tTARGET KEEP-ALIVE\tKEEP-ALIVE HEADER\tCONNECTION: CLOSE\tHEADERS TIMEOUT\tRESPONSE")
	for _, p := range r.Paths {
		client := "-"
		if p.ClientTimeoutSeconds != nil {
			client = fmt.Sprintf("%gs", *p.ClientTimeoutSeconds)
		}
		fmt.Fprintf(tw, "%s\t%gs\t%s\t%s\t%s\t%s\t%s\t%s\n", p.name(), p.IdleTimeoutSeconds, client,
			keepAliveText(p.Probe), headerText(p.Probe), closeText(p.Probe), headersTimeoutText(p.Probe), responsesText(p.Probe))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, p := range r.Paths {
		fmt.Fprintf(w, "\nOrdering on %s:\n", p.name())
		for _, c := range p.Checks {
			mark := "ok  "
			switch {
			case c.Skipped:
				mark = "--  "
			case !c.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  %s %s: %s\n", mark, c.Rule, c.Detail)
		}
	}
	fs := append([]Finding(nil), r.Findings...)
	rank := map[string]int{SeverityError: 0, SeverityWarning: 1, SeverityInfo: 2}
	sort.SliceStable(fs, func(i, j int) bool { return rank[fs[i].Severity] < rank[fs[j].Severity] })
	if len(fs) == 0 {
		_, err := fmt.Fprintln(w, "\nNo findings: every timeout on every path is in order.")
		return err
	}
	fmt.Fprintf(w, "\nFindings (%d):\n", len(fs))
	for _, f := range fs {
		fmt.Fprintf(w, "\n%s %s\n  on %s\n  %s\n", strings.ToUpper(f.Severity), f.Code, f.Path, f.Message)
		keys := make([]string, 0, len(f.Evidence))
		for k := range f.Evidence {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var ev []string
		for _, k := range keys {
			v := f.Evidence[k]
			if v == nil {
				v = "none"
			}
			ev = append(ev, fmt.Sprintf("%s=%v", k, v))
		}
		fmt.Fprintf(w, "  evidence: %s\n  fix: %s\n", strings.Join(ev, " "), f.Fix)
	}
	return nil
}

func keepAliveText(p *Probe) string {
	switch {
	case p == nil || p.Error != "":
		return "unreachable"
	case p.KeepAliveError != "":
		return "not probed"
	case !p.KeepAlive:
		return "no keep-alive"
	case p.IdleCloseSeconds == nil:
		return fmt.Sprintf("> %gs (kept)", p.ProbeTimeoutSeconds)
	}
	return fmt.Sprintf("closes after %.1fs", *p.IdleCloseSeconds)
}

func headerText(p *Probe) string {
	if p == nil || p.KeepAliveHeaderSeconds == nil {
		return "-"
	}
	return fmt.Sprintf("timeout=%d", *p.KeepAliveHeaderSeconds)
}

func closeText(p *Probe) string {
	switch {
	case p == nil || p.Error != "":
		return "-"
	case p.HonoursConnectionClose:
		return "honoured"
	}
	return "ignored"
}

func headersTimeoutText(p *Probe) string {
	switch {
	case p == nil || p.Error != "":
		return "-"
	case p.HeadersTimeoutSeconds == nil:
		return fmt.Sprintf("> %gs", p.ProbeTimeoutSeconds)
	}
	return fmt.Sprintf("%.1fs", *p.HeadersTimeoutSeconds)
}

func responsesText(p *Probe) string {
	if p == nil || p.Error != "" {
		return "-"
	}
	var parts []string
	for _, r := range p.Responses {
		switch {
		case r.Error != "":
			parts = append(parts, r.Path+" error")
		case r.TimedOut:
			parts = append(parts, fmt.Sprintf("%s none in %.1fs", r.Path, r.Seconds))
		default:
			parts = append(parts, fmt.Sprintf("%s %d in %.3fs", r.Path, r.Status, r.Seconds))
		}
	}
	return strings.Join(parts, ", ")
}
