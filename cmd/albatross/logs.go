package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"io"
	"os"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/analyze"
	"github.com/albatross-lb/albatross/internal/logship"
)

const logsUsage = `Usage:
  albatross logs summary [flags] [FILE|DIR|-|s3://BUCKET[/PREFIX]]...
  albatross logs errors  [flags] [FILE|DIR|-|s3://BUCKET[/PREFIX]]...
  albatross logs explain [--format text|json] [LINE... | -]
  albatross logs connections [flags] [FILE|DIR|-|s3://BUCKET[/PREFIX]]...

Reads ALB access logs (plain or .gz, directories recursively, "-" or a pipe for
stdin, or an S3 bucket in ALB's layout: only the objects of the --since/--until
window, the last hour by default, are listed and read) and reports counts,
latency and the errors with what caused them. "connections" reads ALB
connection logs instead (conn_log_ files): TLS handshake failures by reason
and client, and the TLS versions, ciphers and key exchanges in use; see
"albatross logs connections -h".
Flags (summary and errors):
`

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// runLogs is `albatross logs`: flag parsing and wiring around internal/analyze.
func runLogs(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		out := stderr
		if len(args) > 0 {
			out = stdout
		}
		fmt.Fprint(out, logsUsage)
		fs, _ := logsFlags(out, "summary")
		fs.PrintDefaults()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	var view analyze.View
	switch args[0] {
	case "explain":
		return runExplain(args[1:], stdin, stdout, stderr)
	case "connections":
		return runConnections(ctx, args[1:], stdin, stdout, stderr)
	case "summary":
		view = analyze.ViewSummary
	case "errors":
		view = analyze.ViewErrors
	default:
		fmt.Fprintf(stderr, "albatross logs: unknown command %q\n\n%s", args[0], logsUsage)
		return 2
	}
	fs, o := logsFlags(stderr, args[0])
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	opts, err := o.options(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "albatross logs %s: %v\n", args[0], err)
		return 2
	}
	names := fs.Args()
	if len(names) == 0 {
		if isTerminal(stdin) {
			fmt.Fprintf(stderr, "albatross logs %s: no input: name log files or directories, or pipe a log to stdin\n", args[0])
			return 2
		}
		names = []string{analyze.StdinName}
	}
	s3names := names
	names, cleanup, err := s3Inputs(ctx, names, accesslog.KindAccess, logship.S3Options{Endpoint: *o.s3Endpoint, Region: *o.s3Region, PathStyle: *o.s3PathStyle},
		&opts.Filter.Since, &opts.Filter.Until, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "albatross logs %s: %v\n", args[0], err)
		return 1
	}
	defer cleanup()
	if len(names) == 0 {
		fmt.Fprintf(stderr, "albatross logs %s: no access log objects in %s between %s and %s\n", args[0], strings.Join(s3names, " "),
			opts.Filter.Since.UTC().Format(time.RFC3339), orNow(opts.Filter.Until))
		return 2
	}
	srcs, skipped, err := analyze.Inputs(names)
	if err != nil {
		fmt.Fprintf(stderr, "albatross logs %s: %v\n", args[0], err)
		return 2
	}
	if len(srcs) == 0 {
		fmt.Fprintf(stderr, "albatross logs %s: no log files in %s\n", args[0], strings.Join(names, " "))
		return 2
	}
	for _, s := range skipped {
		fmt.Fprintf(stderr, "albatross logs: skipping %s (hidden, or not an access log)\n", s)
	}
	table := *o.table
	if table == "" {
		table = analyze.DefaultCSVTable(view)
	}
	opts.Stdin = stdin
	if isTerminal(stderr) {
		opts.Progress = analyze.NewProgressBar(stderr).Update
	}
	rep, err := analyze.Run(ctx, srcs, opts)
	if err != nil {
		fmt.Fprintf(stderr, "albatross logs %s: %v\n", args[0], err)
		return 1
	}
	switch *o.format {
	case "json":
		err = analyze.WriteJSON(stdout, rep)
	case "csv":
		err = analyze.WriteCSV(stdout, rep, table)
	default:
		err = analyze.WriteText(stdout, rep, view)
	}
	if err != nil {
		fmt.Fprintf(stderr, "albatross logs %s: %v\n", args[0], err)
		return 1
	}
	if len(rep.InputErrors) > 0 {
		return 1
	}
	return 0
}

// logsOptions are the parsed flags of a logs command.
type logsOptions struct {
	status, since, until, format, table *string
	targets, paths, lbs                 listFlag
	elbOnly                             *bool
	maxMalformed, workers               *int
	s3Endpoint, s3Region                *string
	s3PathStyle                         *bool
}

func logsFlags(out io.Writer, name string) (*flag.FlagSet, *logsOptions) {
	fs := flag.NewFlagSet("logs "+name, flag.ContinueOnError)
	fs.SetOutput(out)
	o := &logsOptions{
		status:       fs.String("status", "", "keep only these elb_status_code values or classes, comma-separated (460,502 or 5xx)"),
		since:        fs.String("since", "", "keep entries at or after this `time`: RFC 3339 or a duration before now (1h, 2d)"),
		until:        fs.String("until", "", "keep entries before this `time`: RFC 3339 or a duration before now"),
		format:       fs.String("format", "text", "output: text, json or csv"),
		table:        fs.String("table", "", "with --format csv, the `table` to write: "+strings.Join(analyze.CSVTables, ", ")),
		elbOnly:      fs.Bool("elb-only", false, "keep only statuses the load balancer generated (no target_status_code)"),
		maxMalformed: fs.Int("max-malformed", 100, "how many malformed lines to list by file and line (all are counted)"),
		workers:      fs.Int("workers", 0, "parsing goroutines (0: one per CPU)"),
		s3Endpoint:   fs.String("s3-endpoint", "", "for s3:// inputs: `URL` of an S3-compatible server (empty: AWS S3)"),
		s3Region:     fs.String("s3-region", "", "for s3:// inputs: the `region` that signs requests (default: the AWS environment's, else us-east-1)"),
		s3PathStyle:  fs.Bool("s3-path-style", false, "for s3:// inputs: address buckets as ENDPOINT/BUCKET"),
	}
	fs.Var(&o.targets, "target", "keep only this target `ip:port` (or IP, any port); repeatable or comma-separated")
	fs.Var(&o.paths, "path", "keep only request paths matching this `glob` (/api/*); repeatable")
	fs.Var(&o.lbs, "lb", "keep only this load balancer (app/NAME/ID or NAME); repeatable")
	return fs, o
}

func (o *logsOptions) options(now time.Time) (analyze.Options, error) {
	var opts analyze.Options
	f := &opts.Filter
	var err error
	if *o.status != "" {
		if f.Statuses, err = analyze.ParseStatuses(*o.status); err != nil {
			return opts, fmt.Errorf("--status: %w", err)
		}
	}
	for _, t := range o.targets {
		ap, err := analyze.ParseTarget(t)
		if err != nil {
			return opts, fmt.Errorf("--target: %w", err)
		}
		f.Targets = append(f.Targets, ap)
	}
	f.Paths = o.paths
	f.LoadBalancers = o.lbs
	f.ELBOnly = *o.elbOnly
	if *o.since != "" {
		if f.Since, err = analyze.ParseTime(*o.since, now); err != nil {
			return opts, fmt.Errorf("--since: %w", err)
		}
	}
	if *o.until != "" {
		if f.Until, err = analyze.ParseTime(*o.until, now); err != nil {
			return opts, fmt.Errorf("--until: %w", err)
		}
	}
	switch *o.format {
	case "text", "json", "csv":
	default:
		return opts, fmt.Errorf("--format %q: want text, json or csv", *o.format)
	}
	if *o.table != "" {
		if *o.format != "csv" {
			return opts, errors.New("--table needs --format csv")
		}
		known := false
		for _, t := range analyze.CSVTables {
			known = known || t == *o.table
		}
		if !known {
			return opts, fmt.Errorf("--table %q: want one of %s", *o.table, strings.Join(analyze.CSVTables, ", "))
		}
	}
	opts.MaxMalformed = *o.maxMalformed
	if opts.MaxMalformed == 0 {
		opts.MaxMalformed = -1
	}
	opts.Workers = *o.workers
	return opts, nil
}

// orNow formats t, or says "now" for the zero time.
func orNow(t time.Time) string {
	if t.IsZero() {
		return "now"
	}
	return t.UTC().Format(time.RFC3339)
}

// isTerminal reports whether v is a character device (a terminal).
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// maxExplainLine bounds one line read from stdin by logs explain (ALB's
// lines are at most a few kilobytes; a longer one is reported, not kept).
const maxExplainLine = 4 << 20

// runExplain is `albatross logs explain`: each line given as an argument (or
// each line of stdin, with "-" or no argument and a pipe) read field by field.
func runExplain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output: text or json")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: albatross logs explain [--format text|json] [LINE... | -]\n\n"+
			"Reads ALB access log lines (as arguments, or one per line on stdin) and explains each:\n"+
			"every field with its meaning, what happened, and what to change.\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "albatross logs explain: --format: want text or json, got %q\n", *format)
		return 2
	}
	var lines [][]byte
	fromStdin := fs.NArg() == 0 || (fs.NArg() == 1 && fs.Arg(0) == "-")
	if fromStdin {
		if fs.NArg() == 0 && isTerminal(stdin) {
			fmt.Fprintf(stderr, "albatross logs explain: no line: give one as an argument (quoted), or pipe lines to stdin\n")
			return 2
		}
		br := bufio.NewReader(stdin)
		for {
			line, err := readLine(br)
			if line != nil {
				lines = append(lines, line)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				fmt.Fprintf(stderr, "albatross logs explain: reading stdin: %v\n", err)
				return 1
			}
		}
		if len(lines) == 0 {
			fmt.Fprintf(stderr, "albatross logs explain: stdin held no line\n")
			return 2
		}
	} else {
		for _, a := range fs.Args() {
			// A pasted argument may hold several lines.
			for l := range strings.SplitSeq(strings.TrimRight(a, "\r\n"), "\n") {
				lines = append(lines, []byte(l))
			}
		}
	}
	xs := make([]analyze.Explanation, 0, len(lines))
	unreadable := 0
	for i, l := range lines {
		x := analyze.Explain(l, i+1)
		if x.Error != "" {
			unreadable++
		}
		xs = append(xs, x)
	}
	var err error
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(struct {
			Explanations []analyze.Explanation `json:"explanations"`
		}{xs})
	} else {
		err = analyze.WriteExplanations(stdout, xs)
	}
	if err != nil {
		fmt.Fprintf(stderr, "albatross logs explain: %v\n", err)
		return 1
	}
	if unreadable > 0 {
		return 1
	}
	return 0
}

// readLine reads one line of at most maxExplainLine bytes; a longer one is
// returned cut there (its explanation then says what was read) and the rest
// of it skipped.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line) < maxExplainLine {
			line = append(line, chunk[:min(len(chunk), maxExplainLine-len(line))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		return line, err
	}
}
