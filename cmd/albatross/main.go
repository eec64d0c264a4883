// Command albatross is a self-hosted, AWS-compatible Application Load Balancer.
//
//	albatross serve [--config albatross.yaml] [--data-dir DIR] [--admin-addr 127.0.0.1:9090]
//	                [--listen-address 0.0.0.0] [--api-credentials FILE] [--certificates-dir DIR]
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
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/api/elbv2"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/demo"
	"github.com/albatross-lb/albatross/internal/logship"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/state"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `albatross: a self-hosted, AWS-compatible Application Load Balancer

Usage:
  albatross serve [--config FILE] [--data-dir DIR] [--admin-addr ADDR]
                  [--listen-address IP] [--api-credentials FILE] [--certificates-dir DIR]
                  [--store etcd://HOST:PORT[,...] [--etcd-prefix P] [--etcd-cacert F --etcd-cert F --etcd-key F]]
  albatross store migrate --from bbolt:DATA-DIR --to etcd://HOST:PORT[,...] [--etcd-prefix P]
  albatross demo [--addr 127.0.0.1:8080] [--tls-addr 127.0.0.1:8443] [--admin-addr 127.0.0.1:9090]
  albatross doctor --config FILE [--client-timeout 30s] [--format text|json]
  albatross doctor --target HOST:PORT [--idle-timeout 60s] [--probe-timeout 75s] [--path /p]
  albatross logs summary|errors [--format text|json|csv] [FILTERS] FILES...
  albatross logs explain [--format text|json] [LINE... | -]
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
	case "store":
		return runStore(ctx, args[1:], stdout, stderr)
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
	// SIGHUP is caught from the start: its default action ends the process,
	// and a reload requested while the node starts must not kill it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "albatross.yaml", "configuration `file` (empty: none; resources then come from the API and the data dir)")
	dataDir := fs.String("data-dir", "albatross-data", "`directory` for durable state (resources, resource ids)")
	adminAddr := fs.String("admin-addr", "127.0.0.1:9090", "admin server `address`: ELBv2 API on POST /, /healthz (empty: none)")
	listenAddr := fs.String("listen-address", config.DefaultListenerAddress, "IP `address` that listeners created through the API bind (with --store etcd://, also every listener whose address is 0.0.0.0)")
	credsPath := fs.String("api-credentials", "", "`file` of API access keys, one \"ACCESS_KEY_ID SECRET_ACCESS_KEY\" per line")
	certDir := fs.String("certificates-dir", "", "`directory` of the PEM files that API certificate ARNs name: arn:...:server-certificate/NAME or arn:...:certificate/NAME is NAME.crt and NAME.key (default DATA-DIR/certificates)")
	grace := fs.Duration("shutdown-timeout", 30*time.Second, "how long requests in flight may take to finish on SIGTERM")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	storeURL := fs.String("store", "", "where the resources live: empty for a bbolt file in --data-dir (one node), or etcd://HOST:PORT[,HOST:PORT...] for nodes sharing one configuration")
	etcdPrefix := fs.String("etcd-prefix", state.DefaultEtcdPrefix, "with --store etcd://: the key `prefix` of this cluster's state")
	etcdCA := fs.String("etcd-cacert", "", "with --store etcd://: PEM `file` of the CA that signed the etcd members' certificates (turns on TLS)")
	etcdCert := fs.String("etcd-cert", "", "with --store etcd://: PEM client certificate `file` (with --etcd-key)")
	etcdKey := fs.String("etcd-key", "", "with --store etcd://: PEM client key `file`")
	s3Endpoint := fs.String("s3-endpoint", "", "`URL` of an S3-compatible server for the logs that load balancer attributes send to S3 (access_logs.s3.*, connection_logs.s3.*); empty: AWS S3 as the SDK resolves it")
	s3Region := fs.String("s3-region", "", "`region` that signs S3 requests (default: the AWS environment's, else us-east-1)")
	s3PathStyle := fs.Bool("s3-path-style", false, "address S3 buckets as ENDPOINT/BUCKET (most S3-compatible servers want it)")
	s3SpoolMax := fs.Int64("s3-spool-max-bytes", logship.DefaultMaxSpool, "bound of the local spool of logs waiting for S3 (DATA-DIR/log-spool); past it the oldest files are dropped and counted")
	logInterval := fs.Duration("log-interval", accesslog.DefaultInterval, "for tests and labs: how long each log file written to a directory or delivered to S3 covers (ALB: 5m); a whole number of minutes, or of seconds dividing a minute")
	insecureIdP := fs.Bool("allow-insecure-idp", false, "let authentication actions use identity providers (issuer, endpoints, JWKS) over plain http on 127.0.0.1 or [::1]; for tests and labs only")
	cpuProfile := fs.String("cpu-profile", "", "for performance work: write a CPU profile (pprof) of the whole run to `file`, as cmd/albatross/default.pgo is made (docs/performance.md)")
	nodeName := fs.String("node-name", "", "this node's `name` in its log lines (node=NAME); with --store etcd:// the host name when not given")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := accesslog.CheckInterval(*logInterval); err != nil {
		fmt.Fprintf(stderr, "albatross serve: --log-interval: %v\n", err)
		return 2
	}
	if *cpuProfile != "" {
		stopProfile, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "albatross serve: --cpu-profile: %v\n", err)
			return 2
		}
		defer stopProfile()
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "albatross serve: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if *nodeName == "" && *storeURL != "" {
		*nodeName, _ = os.Hostname()
	}
	if *nodeName != "" {
		log = log.With("node", *nodeName)
	}
	if ip, err := netip.ParseAddr(*listenAddr); err != nil {
		fmt.Fprintf(stderr, "albatross serve: --listen-address must be an IP address such as 0.0.0.0 or 127.0.0.1, got %q\n", *listenAddr)
		return 2
	} else {
		*listenAddr = ip.Unmap().String()
	}

	var cfg *config.Config
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			fmt.Fprintf(stderr, "albatross serve: %v\n", err)
			return 2
		}
	}
	var creds elbv2.Credentials
	if *adminAddr != "" {
		var err error
		if creds, err = apiCredentials(*credsPath, *adminAddr, log); err != nil {
			fmt.Fprintf(stderr, "albatross serve: %v\n", err)
			return 2
		}
	}
	so := storeOptions{url: *storeURL, prefix: *etcdPrefix, caFile: *etcdCA, certFile: *etcdCert, keyFile: *etcdKey, logger: log}
	if err := so.check(); err != nil {
		fmt.Fprintf(stderr, "albatross serve: %v\n", err)
		return 2
	}
	opened, err := openStore(ctx, so, *dataDir)
	if err != nil {
		fmt.Fprintf(stderr, "albatross serve: %v\n", err)
		return 1
	}
	defer opened.close()
	st, ids := opened.st, opened.ids
	baseDir := ""
	if *configPath != "" {
		baseDir = filepath.Dir(*configPath)
	}
	if e := opened.etcd; e != nil {
		// Every node signs stickiness cookies with the cluster's key, so a
		// sticky client stays on its target whichever node it reaches.
		err := node.ShareCookieKey(*dataDir, func(local []byte) ([]byte, error) { return e.SharedSecret(ctx, "stickiness-key", local) })
		switch {
		case errors.Is(err, state.ErrUnavailable):
			log.Warn("the state store is unreachable: stickiness cookies are signed with the key in the data directory (the cluster's, if this node has reached the store before)", "err", err)
		case err != nil:
			fmt.Fprintf(stderr, "albatross serve: %v\n", err)
			return 1
		}
	}
	reg := metrics.NewRegistry()
	shipper, err := openShipper(ctx, *dataDir, logship.S3Options{Endpoint: *s3Endpoint, Region: *s3Region, PathStyle: *s3PathStyle}, *s3SpoolMax, reg, log)
	if err != nil {
		fmt.Fprintf(stderr, "albatross serve: %v\n", err)
		return 1
	}
	shipCtx, stopShipping := context.WithCancel(context.Background())
	defer stopShipping()
	// Files left in the spool by an earlier run (killed with kill -9) go first.
	go shipper.Run(shipCtx)
	n, err := node.New(node.Options{DataDir: *dataDir, IDs: ids, BaseDir: baseDir, Logger: log, Metrics: reg, NodeIP: nodeIP(*listenAddr), Shipper: shipper,
		LogInterval: *logInterval, AllowInsecureIdP: *insecureIdP})
	if err != nil {
		fmt.Fprintf(stderr, "albatross serve: %v\n", err)
		return 1
	}
	if *certDir == "" {
		*certDir = filepath.Join(*dataDir, "certificates")
	}
	if abs, err := filepath.Abs(*certDir); err == nil {
		*certDir = abs
	}
	copts := control.Options{Store: st, IDs: ids, Node: n, ListenAddress: *listenAddr, CertificateDir: *certDir, BaseDir: baseDir, Logger: log,
		Cache: opened.cache, CachePrefix: opened.prefix}
	if opened.etcd != nil {
		copts.FileOwner = *nodeName
	}
	if cfg != nil {
		copts.Region, copts.AccountID = cfg.Region, cfg.AccountID
	}
	ctrl, err := control.New(ctx, copts)
	if err == nil {
		err = ctrl.Start(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "albatross serve: %s: %v\n", orNone(*configPath), err)
		n.Shutdown(context.Background())
		return 1
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	go ctrl.Run(watchCtx)
	var sw *storeWatch
	if p, ok := st.(pinger); ok {
		sw = &storeWatch{}
		go sw.run(watchCtx, p, log, reg.SetStoreUp)
	}
	var adminSrv *http.Server
	if *adminAddr != "" {
		ln, err := net.Listen("tcp", *adminAddr)
		if err != nil {
			fmt.Fprintf(stderr, "albatross serve: admin address: %v\n", err)
			n.Shutdown(context.Background())
			return 1
		}
		api, err := elbv2.New(elbv2.Options{Controller: ctrl, Credentials: creds, Health: elbv2.RegistryHealth(n.Health()), Logger: log,
			CheckLogBucket: func(ctx context.Context, bucket, prefix string) error {
				return shipper.WriteTestFile(ctx, bucket, prefix, ctrl.Model().AccountID)
			}})
		if err != nil {
			fmt.Fprintf(stderr, "albatross serve: %v\n", err)
			n.Shutdown(context.Background())
			return 1
		}
		// The dashboard is read-only; on an address that is not loopback it
		// asks for the API's credentials (HTTP Digest).
		public := admin.IsPublic(ln.Addr())
		if public {
			log.Info("the admin address is not loopback: the dashboard asks for the API credentials (HTTP Digest: access key id and secret); /metrics and /healthz are open", "addr", ln.Addr().String())
		}
		aopts := admin.Options{Health: n.Health(), Metrics: reg, Snapshot: n.Snapshot, Public: public, Version: versionString(), Logger: log, PublicKey: n.Auth().PublicKeyPEM,
			Credentials: func(id string) (string, bool) { s, ok := creds[id]; return s, ok }}
		if sw != nil {
			aopts.Degraded = func() (string, time.Time, bool) { return degraded(sw, ctrl) }
		}
		aopts.Node = *nodeName
		if e := opened.etcd; e != nil {
			aopts.Nodes = func(ctx context.Context) ([]admin.NodeState, error) { return clusterNodes(ctx, e) }
		}
		h := admin.Handler(aopts)
		adminSrv = &http.Server{Handler: admin.WithAPI(h, api), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := adminSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				log.Error("the admin server stopped accepting connections", "err", err)
			}
		}()
		log.Info("admin server listening", "addr", ln.Addr().String(), "elbv2_endpoint", "http://"+ln.Addr().String())
	}
	announced := make(chan struct{})
	if e := opened.etcd; e != nil {
		started := time.Now().UTC()
		info := func() admin.NodeState {
			status := "ok"
			if sw != nil {
				if reason, _, bad := degraded(sw, ctrl); bad {
					status = "degraded: " + reason
				}
			}
			return admin.NodeState{Name: *nodeName, AdminAddr: *adminAddr, ListenAddress: *listenAddr, Version: versionString(),
				StartedAt: started, UpdatedAt: time.Now().UTC(), Revision: ctrl.Revision(), Status: status, Listeners: len(n.Addrs())}
		}
		go func() { announceNode(watchCtx, e, info); close(announced) }()
	} else {
		close(announced)
	}
	for _, a := range n.Addrs() {
		log.Info("listener ready", "addr", a.String())
	}
	if len(n.Addrs()) == 0 {
		// An empty configuration is valid (the resources come from the API,
		// or a later reload); say so, or a node that serves nothing looks
		// broken.
		how := "reload a configuration file that defines one (SIGHUP)"
		if *adminAddr != "" {
			how = "create a load balancer and a listener through the ELBv2 API at http://" + *adminAddr + ", or " + how
		}
		log.Info("no listeners: nothing is served yet; "+how, "config", orNone(*configPath))
	}

	for {
		select {
		case <-hup:
			reload(ctx, ctrl, *configPath, log)
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
	// The node leaves the cluster's list of nodes (its lease revoked) before
	// the store closes.
	stopWatch()
	select {
	case <-announced:
	case <-sctx.Done():
	}
	if err := n.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Error("shutdown", "err", err)
		return 1
	}
	// The logs are closed, their last files complete: upload them within
	// what is left of the grace period.
	stopShipping()
	if err := shipper.Flush(sctx); err != nil {
		log.Warn("logs left in the spool for the next start: uploading them to S3 did not finish", "spool", shipper.Spool(), "err", err)
	}
	log.Info("stopped")
	return 0
}

// openShipper prepares the delivery of logs to S3: the spool in the data
// directory and the S3 client of the flags.
func openShipper(ctx context.Context, dataDir string, so logship.S3Options, maxSpool int64, reg *metrics.Registry, log *slog.Logger) (*logship.Shipper, error) {
	spool, err := filepath.Abs(filepath.Join(dataDir, "log-spool"))
	if err != nil {
		return nil, fmt.Errorf("log spool: %w", err)
	}
	client, err := logship.NewS3Client(ctx, so)
	if err != nil {
		return nil, err
	}
	sh, err := logship.New(logship.Options{Spool: spool, Client: client, MaxSpoolBytes: maxSpool, Dropped: reg.LogLinesDropped, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := sh.Salvage(); err != nil {
		return nil, err
	}
	return sh, nil
}

// nodeIP is the address the node writes into its access log file names, as
// each ALB node writes its own: --listen-address when it names one address,
// else the first non-loopback IPv4 address of an interface that is up, else
// 127.0.0.1. Nodes of a cluster that share a log bucket or directory so
// write apart, and `albatross logs` tells them apart.
func nodeIP(listen string) string {
	if ip, err := netip.ParseAddr(listen); err == nil && !ip.IsUnspecified() {
		return ip.String()
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil && pfx.Addr().Is4() && !pfx.Addr().IsLoopback() {
				return pfx.Addr().String()
			}
		}
	}
	return "127.0.0.1"
}

// degraded is what /healthz says of the store: unreachable (sw), and whether
// the node serves its cached state (ctrl).
func degraded(sw *storeWatch, ctrl *control.Controller) (string, time.Time, bool) {
	reason, since, down := sw.degraded()
	s, stale := ctrl.Stale()
	if !stale {
		return reason, since, down
	}
	cached := fmt.Sprintf("serving the cached state saved at %s (revision %d), which may be stale", s.SavedAt.UTC().Format(time.RFC3339), s.Revision)
	if down {
		return reason + "; " + cached, since, true
	}
	return cached, s.Since, true
}

// reload applies the configuration file again; a bad file leaves the running
// configuration in place.
func reload(ctx context.Context, ctrl *control.Controller, path string, log *slog.Logger) {
	if path == "" {
		log.Info("SIGHUP ignored: there is no configuration file")
		return
	}
	cfg, err := config.Load(path)
	if err == nil {
		err = ctrl.ImportFile(ctx, cfg)
	}
	if err != nil {
		log.Error("reload rejected; the previous configuration stays in force", "config", path, "err", err)
		return
	}
	log.Info("reloaded", "config", path)
}

func orNone(path string) string {
	if path == "" {
		return "stored state"
	}
	return path
}

// apiCredentials returns the access keys the ELBv2 API accepts: from the file,
// else from ALBATROSS_ACCESS_KEY_ID and ALBATROSS_SECRET_ACCESS_KEY, else (only
// when the admin address is loopback) the development keys, which it announces.
func apiCredentials(path, adminAddr string, log *slog.Logger) (elbv2.Credentials, error) {
	if path != "" {
		return elbv2.LoadCredentials(path)
	}
	id, secret := os.Getenv("ALBATROSS_ACCESS_KEY_ID"), os.Getenv("ALBATROSS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		return elbv2.Credentials{id: secret}, nil
	case id != "" || secret != "":
		return nil, errors.New("set both ALBATROSS_ACCESS_KEY_ID and ALBATROSS_SECRET_ACCESS_KEY, or neither")
	}
	host, _, err := net.SplitHostPort(adminAddr)
	if err != nil {
		return nil, fmt.Errorf("--admin-addr %q: %w", adminAddr, err)
	}
	ip, err := netip.ParseAddr(host)
	if host != "localhost" && (err != nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("the admin address %s is not a loopback address, so the ELBv2 API needs real credentials: give --api-credentials FILE or set ALBATROSS_ACCESS_KEY_ID and ALBATROSS_SECRET_ACCESS_KEY", adminAddr)
	}
	log.Warn("ELBv2 API accepts the development credentials (access key id \""+elbv2.DevAccessKeyID+"\", secret \""+elbv2.DevSecretAccessKey+"\") because the admin address is loopback and none were given",
		"admin_addr", adminAddr)
	return elbv2.Credentials{elbv2.DevAccessKeyID: elbv2.DevSecretAccessKey}, nil
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

// startCPUProfile starts a CPU profile written to path and returns what
// stops it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
