package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"io"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/analyze"
	"github.com/albatross-lb/albatross/internal/logship"
)

const connectionsUsage = `Usage:
  albatross logs connections [flags] [FILE|DIR|-|s3://BUCKET[/PREFIX]]...

Reads ALB connection logs (conn_log_ files, plain or .gz; directories
recursively, "-" or a pipe for stdin, or an S3 bucket in ALB's layout, the
--since/--until window only, the last hour by default) and reports the TLS
handshakes: how many failed, why (tls_verify_status reasons) and from which
clients, and the TLS versions, ciphers and key exchanges of the ones that
succeeded.
Flags:
`

// runConnections is `albatross logs connections`.
func runConnections(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("logs connections", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), connectionsUsage)
		fs.PrintDefaults()
	}
	since := fs.String("since", "", "keep connections at or after this `time`: RFC 3339 or a duration before now (1h, 2d)")
	until := fs.String("until", "", "keep connections before this `time`: RFC 3339 or a duration before now")
	format := fs.String("format", "text", "output: text or json")
	top := fs.Int("top", 20, "how many clients with failed handshakes to list")
	maxMalformed := fs.Int("max-malformed", 100, "how many malformed lines to list by file and line (all are counted)")
	s3Endpoint := fs.String("s3-endpoint", "", "for s3:// inputs: `URL` of an S3-compatible server (empty: AWS S3)")
	s3Region := fs.String("s3-region", "", "for s3:// inputs: the `region` that signs requests (default: the AWS environment's, else us-east-1)")
	s3PathStyle := fs.Bool("s3-path-style", false, "for s3:// inputs: address buckets as ENDPOINT/BUCKET")
	var lbs listFlag
	fs.Var(&lbs, "lb", "keep only this load balancer (app/NAME/ID or NAME); repeatable")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "albatross logs connections: "+format+"\n", a...)
		return code
	}
	now := time.Now()
	opts := analyze.ConnOptions{LoadBalancers: lbs, Stdin: stdin, Top: *top, MaxMalformed: *maxMalformed}
	if opts.MaxMalformed == 0 {
		opts.MaxMalformed = -1
	}
	var err error
	if *since != "" {
		if opts.Since, err = analyze.ParseTime(*since, now); err != nil {
			return fail(2, "--since: %v", err)
		}
	}
	if *until != "" {
		if opts.Until, err = analyze.ParseTime(*until, now); err != nil {
			return fail(2, "--until: %v", err)
		}
	}
	if *format != "text" && *format != "json" {
		return fail(2, "--format %q: want text or json", *format)
	}
	names := fs.Args()
	if len(names) == 0 {
		if isTerminal(stdin) {
			return fail(2, "no input: name connection log files or directories, or pipe a log to stdin")
		}
		names = []string{analyze.StdinName}
	}
	given := names
	names, cleanup, err := s3Inputs(ctx, names, accesslog.KindConnection, logship.S3Options{Endpoint: *s3Endpoint, Region: *s3Region, PathStyle: *s3PathStyle},
		&opts.Since, &opts.Until, now)
	if err != nil {
		return fail(1, "%v", err)
	}
	defer cleanup()
	files, err := analyze.ConnInputs(names)
	if err != nil {
		return fail(2, "%v", err)
	}
	if len(files) == 0 {
		return fail(2, "no connection log files (conn_log_*) in %s", strings.Join(given, " "))
	}
	rep, err := analyze.Connections(ctx, files, opts)
	if err != nil {
		return fail(1, "%v", err)
	}
	if *format == "json" {
		err = analyze.WriteConnJSON(stdout, rep)
	} else {
		err = analyze.WriteConnText(stdout, rep)
	}
	if err != nil {
		return fail(1, "%v", err)
	}
	return 0
}
