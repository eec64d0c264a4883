// Command albatross is a self-hosted, AWS-compatible Application Load Balancer.
//
//	albatross serve --config albatross.yaml [--data-dir DIR] [--admin-addr 127.0.0.1:9090]
//	albatross demo [--addr 127.0.0.1:8080] [--tls-addr 127.0.0.1:8443] [--admin-addr 127.0.0.1:9090]
//	albatross doctor --config FILE | --target HOST:PORT [--client-timeout 30s] [--format text|json]
//	albatross version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/demo"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/node"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `albatross: a self-hosted, AWS-compatible Application Load Balancer

Usage:
  albatross serve --config FILE [--data-dir DIR] [--admin-addr ADDR]
  albatross demo [--addr 127.0.0.1:8080] [--tls-addr 127.0.0.1:8443] [--admin-addr 127.0.0.1:9090]
  albatross doctor --config FILE [--client-timeout 30s] [--format text|json]
  albatross doctor --target HOST:PORT [--idle-timeout 60s] [--probe-timeout 75s] [--path /p]
  albatross logs summary|errors [--format text|json|csv] [FILTERS] FILES...
  albatross version

Run "albatross COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the process exit status: 0 success,
// 1 failure at run time, 2 bad usage or configuration.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], stdout, stderr)
	case "logs":
		return runLogs(ctx, args[1:], os.Stdin, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "albatross: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return fmt.Sprintf("albatross %s (%s %s/%s)", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "albatross.yaml", "configuration `file`")
	dataDir := fs.String("data-dir", "albatross-data", "`directory` for durable state (resource ids)")
	adminAddr := fs.String("admin-addr", "127.0.0.1:9090", "admin server `address` (empty: none)")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish on SIGTERM")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "albatross serve: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := config.Load(*configPath)
	if err != nil {
		fmt.Fprintf(stderr, "albatross serve: %v\n", err)
		return 2
	}
	// SIGHUP is taken over before any listener opens: its default action ends
	// the process, so one sent as soon as traffic flows must find it handled.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reg := metrics.NewRegistry()
	n, err := node.New(node.Options{DataDir: *dataDir, BaseDir: filepath.Dir(*configPath), Logger: log, Metrics: reg})
	if err != nil {
		fmt.Fprintf(stderr, "albatross serve: %v\n", err)
		return 1
	}
	if err := n.Apply(cfg); err != nil {
		fmt.Fprintf(stderr, "albatross serve: %s: %v\n", *configPath, err)
		n.Shutdown(context.Background())
		return 1
	}
	var adminSrv *http.Server
	if *adminAddr != "" {
		ln, err := net.Listen("tcp", *adminAddr)
		if err != nil {
			fmt.Fprintf(stderr, "albatross serve: admin address: %v\n", err)
			n.Shutdown(context.Background())
			return 1
		}
		public := admin.IsPublic(ln.Addr())
		if public {
			log.Warn("the admin address is not loopback: /metrics is served, the dashboard is refused until the admin server authenticates requests", "addr", ln.Addr().String())
		}
		h := admin.Handler(admin.Options{Health: n.Health(), Metrics: reg, Snapshot: n.Snapshot, Public: public, Version: versionString(), Logger: log})
		adminSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go adminSrv.Serve(ln)
		log.Info("admin server listening", "addr", ln.Addr().String())
	}
	for _, a := range n.Addrs() {
		log.Info("listener ready", "addr", a.String())
	}

	for {
		select {
		case <-hup:
			reload(n, *configPath, log)
			continue
		case <-ctx.Done():
		}
		break
	}
	log.Info("shutting down", "grace", *grace)
	sctx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if adminSrv != nil {
		adminSrv.Shutdown(sctx)
	}
	if err := n.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// reload applies the configuration file again; a bad file leaves the running
// configuration in place.
func reload(n *node.Node, path string, log *slog.Logger) {
	cfg, err := config.Load(path)
	if err == nil {
		err = n.Apply(cfg)
	}
	if err != nil {
		log.Error("reload rejected; the previous configuration stays in force", "config", path, "err", err)
		return
	}
	log.Info("reloaded", "config", path)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "HTTP listener `address` of the demo load balancer")
	tlsAddr := fs.String("tls-addr", "127.0.0.1:8443", "HTTPS listener `address` of the demo load balancer (self-signed certificate)")
	adminAddr := fs.String("admin-addr", "127.0.0.1:9090", "`address` of the dashboard and /metrics (empty: none)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := demo.Run(ctx, demo.Options{Addr: *addr, TLSAddr: *tlsAddr, AdminAddr: *adminAddr, Out: stdout, Logger: log}); err != nil {
		fmt.Fprintf(stderr, "albatross demo: %v\n", err)
		return 1
	}
	return 0
}
