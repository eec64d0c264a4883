package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/doctor"
)

// runDoctor is `albatross doctor`: flags in, internal/doctor's report out. Exit
// status: 0 no warning, 1 warnings, 2 bad usage or a target that could not be
// probed.
func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration `file` whose paths to check")
	var targets []string
	fs.Func("target", "probe the target at `host:port` without a configuration (repeatable)", func(s string) error {
		targets = append(targets, s)
		return nil
	})
	idle := fs.Duration("idle-timeout", 60*time.Second, "with --target: the load balancer's idle timeout (ALB's idle_timeout.timeout_seconds)")
	clientTimeout := fs.Duration("client-timeout", 0, "the clients' request timeout, if known")
	probeTimeout := fs.Duration("probe-timeout", doctor.DefaultProbeTimeout, "how long to wait for a target to close an idle connection")
	path := fs.String("path", "", "a `path` whose response time to measure besides the health check path")
	format := fs.String("format", "text", "output format: text or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "albatross doctor: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected argument %q", fs.Arg(0))
	case *format != "text" && *format != "json":
		return fail("--format: want text or json, got %q", *format)
	case *configPath == "" && len(targets) == 0:
		return fail("give --config FILE, or --target host:port")
	case *configPath != "" && len(targets) > 0:
		return fail("give --config or --target, not both")
	case *clientTimeout < 0 || *probeTimeout <= 0 || *idle <= 0:
		return fail("timeouts must be positive")
	case *path != "" && !strings.HasPrefix(*path, "/"):
		return fail("--path %q: must start with /", *path)
	}
	var paths []*doctor.Path
	var err error
	if *configPath != "" {
		idleSet := false
		fs.Visit(func(f *flag.Flag) { idleSet = idleSet || f.Name == "idle-timeout" })
		if idleSet {
			return fail("--idle-timeout goes with --target; with --config the load balancers' idle_timeout.timeout_seconds applies")
		}
		var cfg *config.Config
		if cfg, err = config.Load(*configPath); err == nil {
			paths, err = doctor.PathsFromConfig(cfg)
		}
	} else {
		paths, err = doctor.PathsFromTargets(targets, *idle, *path)
	}
	if err != nil {
		return fail("%v", err)
	}
	if len(paths) == 0 {
		return fail("%s: no listener forwards to any target", *configPath)
	}
	r := doctor.Run(ctx, paths, doctor.Options{
		ClientTimeout: *clientTimeout, ProbeTimeout: *probeTimeout, Path: *path, Progress: stderr,
	})
	if *format == "json" {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		return fail("%v", err)
	}
	return r.ExitStatus()
}
