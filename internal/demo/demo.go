// Package demo runs a self-contained Albatross: a load balancer in front of two
// in-process targets that answer with their own names, with the access log
// tailed to the terminal. It needs nothing but the binary.
package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// Options configures the demo.
type Options struct {
	// Addr is the load balancer's HTTP listener address (default
	// 127.0.0.1:8080).
	Addr string
	// TLSAddr is its HTTPS listener address (default 127.0.0.1:8443), served
	// with a self-signed certificate generated at start, HTTP/2 enabled.
	TLSAddr string
	// Out receives the banner and the access log tail.
	Out io.Writer
	// Logger receives the node's own logs.
	Logger *slog.Logger
	// Ready, when set, is called with the load balancer's URL once it serves.
	Ready func(url string)
	// ReadyTLS, when set, is called with the HTTPS listener's URL once it
	// serves.
	ReadyTLS func(url string)
	// AdminAddr, when set, serves the dashboard and /metrics there (a loopback
	// address); when it cannot be bound the demo runs without them.
	AdminAddr string
}

// Run serves the demo until ctx ends.
func Run(ctx context.Context, opts Options) error {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8080"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.TLSAddr == "" {
		opts.TLSAddr = "127.0.0.1:8443"
	}
	host, port, err := splitAddr(opts.Addr)
	if err != nil {
		return err
	}
	tlsHost, tlsPort, err := splitAddr(opts.TLSAddr)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "albatross-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"localhost", "127.0.0.1", "::1"}, 30*24*time.Hour)
	if err != nil {
		return fmt.Errorf("demo certificate: %w", err)
	}
	for name, data := range map[string][]byte{"demo.crt": certPEM, "demo.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}

	var targets [2]string
	for i := range targets {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo target: %w", err)
		}
		srv := &http.Server{Handler: targetHandler(fmt.Sprintf("target-%d", i+1)), ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		targets[i] = ln.Addr().String()
	}
	logPath := filepath.Join(dir, "access.log")
	cfg, err := config.Parse("demo.yaml", []byte(demoConfig(host, port, tlsHost, tlsPort, dir, logPath, targets)))
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	reg := metrics.NewRegistry()
	n, err := node.New(node.Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, Logger: opts.Logger, Metrics: reg})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(sctx)
	}()
	if err := n.Apply(cfg); err != nil {
		return err
	}
	url := "http://" + opts.Addr + "/"
	fmt.Fprintf(opts.Out, "Albatross demo: load balancer %q at %s\n", cfg.LoadBalancers[0].Name, url)
	fmt.Fprintf(opts.Out, "  round robin over target-1 (%s) and target-2 (%s)\n", targets[0], targets[1])
	tlsURL := "https://" + opts.TLSAddr + "/"
	fmt.Fprintf(opts.Out, "  and over HTTPS (self-signed certificate, HTTP/2) at %s\n", tlsURL)
	fmt.Fprintf(opts.Out, "  try: curl %s   (and %sslow?seconds=5 with curl -m 2 for a 460)\n", url, url)
	fmt.Fprintf(opts.Out, "       curl -k %s\n", tlsURL)
	if opts.AdminAddr != "" {
		ln, err := net.Listen("tcp", opts.AdminAddr)
		if err != nil {
			fmt.Fprintf(opts.Out, "  (no dashboard: %v)\n", err)
		} else {
			h := admin.Handler(admin.Options{Metrics: reg, Snapshot: n.Snapshot, Public: admin.IsPublic(ln.Addr()), Version: "demo", Logger: opts.Logger})
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(ln)
			defer srv.Close()
			fmt.Fprintf(opts.Out, "  dashboard: http://%s/   metrics: http://%s/metrics\n", ln.Addr(), ln.Addr())
		}
	}
	fmt.Fprintf(opts.Out, "Access log (%s), one ALB line per request:\n", logPath)
	if opts.Ready != nil {
		opts.Ready(url)
	}
	if opts.ReadyTLS != nil {
		opts.ReadyTLS(tlsURL)
	}
	return tail(ctx, logPath, opts.Out)
}

// splitAddr splits a listener address into its IP and port.
func splitAddr(addr string) (string, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("address %q: the port must be a number from 1 to 65535", addr)
	}
	return host, port, nil
}

func demoConfig(host string, port int, tlsHost string, tlsPort int, dir, logPath string, targets [2]string) string {
	t0, p0, _ := net.SplitHostPort(targets[0])
	t1, p1, _ := net.SplitHostPort(targets[1])
	return fmt.Sprintf(`load_balancers:
  - name: demo
    attributes:
      idle_timeout.timeout_seconds: 60
    access_log:
      path: %q
    listeners:
      - port: %d
        address: %q
        protocol: HTTP
        default_actions:
          - type: forward
            target_group: demo-targets
      - port: %d
        address: %q
        protocol: HTTPS
        certificates:
          - {cert: %q, key: %q}
        default_actions:
          - type: forward
            target_group: demo-targets
target_groups:
  - name: demo-targets
    protocol: HTTP
    port: 80
    health_check: {path: /health, interval_seconds: 5}
    targets:
      - {id: %s, port: %s}
      - {id: %s, port: %s}
`, logPath, port, host, tlsPort, tlsHost, filepath.Join(dir, "demo.crt"), filepath.Join(dir, "demo.key"), t0, p0, t1, p1)
}

// targetHandler answers every request with the target's name and what the
// load balancer added to the request.
func targetHandler(name string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		secs, _ := strconv.Atoi(r.URL.Query().Get("seconds"))
		select {
		case <-time.After(time.Duration(min(max(secs, 0), 300)) * time.Second):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, "%s answered after %d s\n", name, secs)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from %s\n", name)
		fmt.Fprintf(w, "  Host: %s\n  X-Forwarded-For: %s\n  X-Forwarded-Proto: %s\n  X-Forwarded-Port: %s\n  X-Amzn-Trace-Id: %s\n",
			r.Host, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"),
			r.Header.Get("X-Forwarded-Port"), r.Header.Get("X-Amzn-Trace-Id"))
	})
	return mux
}

// tail copies complete lines appended to path to out until ctx ends.
func tail(ctx context.Context, path string, out io.Writer) error {
	var f *os.File
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	var r *bufio.Reader
	var partial []byte
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if f == nil {
			var err error
			if f, err = os.Open(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			if f != nil {
				r = bufio.NewReader(f)
			}
		}
		for r != nil {
			line, err := r.ReadBytes('\n')
			partial = append(partial, line...)
			if err != nil {
				break
			}
			out.Write(partial)
			partial = partial[:0]
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
