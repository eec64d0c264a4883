package analyze

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// CSVTables are the tables `--format csv --table NAME` writes, each with its
// own header row (docs/logs.md).
var CSVTables = []string{
	"by_elb_status", "by_target_status", "by_target", "by_path", "latency",
	"errors_by_target", "errors_by_path", "errors_by_minute", "error_reasons",
	"findings", "offenders", "malformed",
}

// DefaultCSVTable is the table a view writes when none is named.
func DefaultCSVTable(v View) string {
	if v == ViewErrors {
		return "errors_by_minute"
	}
	return "by_path"
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// WriteCSV writes one table of rep as CSV.
func WriteCSV(w io.Writer, rep *Report, table string) error {
	var rows [][]string
	switch table {
	case "by_elb_status", "by_target_status":
		m := rep.ByELBStatus
		if table == "by_target_status" {
			m = rep.ByTargetStatus
		}
		rows = append(rows, []string{"status", "requests", "percent"})
		for _, k := range sortedKeys(m) {
			rows = append(rows, []string{k, itoa(m[k]), ftoa(pct(m[k], rep.Requests))})
		}
	case "by_target", "by_path":
		src := rep.ByTarget
		if table == "by_path" {
			src = rep.ByPath
		}
		rows = append(rows, []string{"key", "requests", "percent", "2xx", "3xx", "4xx", "5xx", "460", "502", "503", "504",
			"target_time_count", "target_time_mean_s", "target_time_max_s", "sent_bytes"})
		for _, r := range src {
			rows = append(rows, []string{r.Key, itoa(r.Requests), ftoa(r.Percent),
				itoa(r.ByClass["2xx"]), itoa(r.ByClass["3xx"]), itoa(r.ByClass["4xx"]), itoa(r.ByClass["5xx"]),
				itoa(r.Errors["460"]), itoa(r.Errors["502"]), itoa(r.Errors["503"]), itoa(r.Errors["504"]),
				itoa(r.TargetTime.Count), ftoa(r.TargetTime.Mean), ftoa(r.TargetTime.Max), itoa(r.SentBytes)})
		}
	case "latency":
		rows = append(rows, []string{"field", "count", "not_measured", "p50_s", "p90_s", "p99_s", "max_s", "mean_s"})
		for _, d := range []struct {
			name string
			d    *Dist
		}{
			{"request_processing_time", &rep.Latency.RequestProcessing},
			{"target_processing_time", &rep.Latency.TargetProcessing},
			{"response_processing_time", &rep.Latency.ResponseProcessing},
			{"elapsed", &rep.Latency.Elapsed},
		} {
			rows = append(rows, []string{d.name, itoa(d.d.Count), itoa(d.d.NotMeasured), ftoa(d.d.P50), ftoa(d.d.P90), ftoa(d.d.P99), ftoa(d.d.Max), ftoa(d.d.Mean)})
		}
	case "errors_by_target", "errors_by_path":
		src := rep.Errors.ByTarget
		if table == "errors_by_path" {
			src = rep.Errors.ByPath
		}
		rows = append(rows, []string{"key", "requests", "errors", "460", "502", "503", "504"})
		for _, r := range src {
			rows = append(rows, []string{r.Key, itoa(r.Requests), itoa(r.Total), itoa(r.Errors["460"]), itoa(r.Errors["502"]), itoa(r.Errors["503"]), itoa(r.Errors["504"])})
		}
	case "errors_by_minute":
		rows = append(rows, []string{"minute", "errors", "460", "502", "503", "504"})
		for _, m := range rep.Errors.ByMinute {
			rows = append(rows, []string{m.Minute.Format(time.RFC3339), itoa(m.Total), itoa(m.Errors["460"]), itoa(m.Errors["502"]), itoa(m.Errors["503"]), itoa(m.Errors["504"])})
		}
	case "error_reasons":
		rows = append(rows, []string{"error_reason", "elb_status_code", "count"})
		for _, r := range rep.Errors.ByReason {
			rows = append(rows, []string{r.Reason, strconv.Itoa(r.Status), itoa(r.Count)})
		}
	case "findings":
		rows = append(rows, []string{"code", "count", "summary", "fix"})
		for _, f := range rep.Findings {
			rows = append(rows, []string{f.Code, itoa(f.Count), f.Summary, f.Fix})
		}
	case "offenders":
		rows = append(rows, []string{"code", "target", "path", "count", "percent"})
		for _, f := range rep.Findings {
			for _, o := range f.TopOffenders {
				rows = append(rows, []string{f.Code, o.Target, o.Path, itoa(o.Count), ftoa(o.Percent)})
			}
		}
	case "malformed":
		rows = append(rows, []string{"file", "line", "error"})
		for _, m := range rep.Malformed {
			rows = append(rows, []string{m.File, strconv.Itoa(m.Line), m.Error})
		}
	default:
		return fmt.Errorf("no CSV table %q; tables: %v", table, CSVTables)
	}
	cw := csv.NewWriter(w)
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}
