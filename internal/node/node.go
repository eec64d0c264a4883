// Package node runs one Albatross node: it binds the listeners a configuration
// describes, opens the access logs, compiles configuration snapshots and swaps
// them in atomically, and stops gracefully. A configuration is applied whole or
// not at all: when any part fails (a port that cannot be bound, a log that cannot
// be opened), the node keeps serving the configuration it had.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/auth"
	"github.com/albatross-lb/albatross/internal/balance"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/health"
	"github.com/albatross-lb/albatross/internal/logship"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/proxy"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/state"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// logCloseTimeout bounds how long flushing an access log may take when it is
// closed.
const logCloseTimeout = 10 * time.Second

// Options configures a node.
type Options struct {
	// DataDir holds the node's durable state (resource ids); unused when IDs
	// is set.
	DataDir string
	// IDs is an id registry opened by the caller (state.Open, which shares it
	// with the Store, or state.OpenEtcd's); the node then neither opens nor
	// closes one.
	IDs state.IDRegistry
	// BaseDir resolves relative access log paths; normally the directory of the
	// configuration file.
	BaseDir string
	// NodeIP is the address written into access log file names (default 127.0.0.1).
	NodeIP string
	// LogInterval is how long each log file of Directory mode and of S3
	// delivery covers (default 5 minutes, as on ALB). Shorter, a divisor of
	// a minute, is for tests: files then share their end minute in their
	// names and differ by their random part.
	LogInterval time.Duration
	// Shipper, when set, delivers the logs of load balancers whose
	// access_logs.s3.* or connection_logs.s3.* attributes turn S3 delivery
	// on: they are written into its spool, which it uploads. Nil: those
	// attributes are stored only.
	Shipper *logship.Shipper
	// Listeners are already-bound sockets to use instead of binding, keyed by the
	// listener address they serve (socket activation, and race-free tests).
	Listeners map[netip.AddrPort]net.Listener
	// ConnectTimeout overrides ALB's 10 s target connect timeout (tests).
	ConnectTimeout time.Duration
	// HealthSecond is how long one second of health check and deregistration
	// delay settings lasts (default time.Second; tests shorten it).
	HealthSecond time.Duration
	// DisableHealthChecks turns active health checks off: targets stay
	// initial and receive requests because their group fails open. For tests
	// whose targets must see only the requests the test sends.
	DisableHealthChecks bool
	// Logger receives the node's own logs.
	Logger *slog.Logger
	// Metrics, when not nil, counts every load balancer's connections and
	// requests; the admin server reports it on /metrics and the dashboard.
	Metrics *metrics.Registry
	// AllowInsecureIdP lets authentication actions use identity providers
	// over plain http on 127.0.0.1 or [::1] (serve --allow-insecure-idp), for
	// tests and labs.
	AllowInsecureIdP bool
	// IdPClient, when set, is the HTTP client authentication actions use
	// (tests give one that trusts their provider's certificate).
	IdPClient *http.Client
}

// Node is a running Albatross node.
type Node struct {
	opts Options
	log  *slog.Logger
	ids  state.IDRegistry
	// ownIDs is the registry the node opened itself (closed at Shutdown).
	ownIDs *state.IDs
	pools  *upstream.Pools
	proxy  *proxy.Proxy
	// runtimes and cookies are the targets' balancing state and the
	// stickiness cookie codec, both outliving snapshots.
	runtimes *balance.Registry
	cookies  *balance.Codec
	// auth runs authentication actions with keys derived from the
	// stickiness cookie key, which a cluster shares.
	auth *auth.Service

	snap atomic.Pointer[snapshot.Snapshot]
	// healthLogs maps a load balancer's name to its health-check logs; set
	// with snap.
	healthLogs atomic.Pointer[map[string]*healthLog]

	// health checks the targets and tracks their lifecycle across snapshots.
	health *health.Registry

	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu        sync.Mutex // serialises Apply and Shutdown
	listeners map[netip.AddrPort]*boundListener
	logs      map[string]*openLog
	stopped   bool

	tlsMu     sync.Mutex
	tlsErrors map[string]*atomic.Uint64 // by load balancer name; never removed
}

// boundListener is one listening socket and the compiled listener it serves.
type boundListener struct {
	ln   net.Listener
	cfg  atomic.Pointer[snapshot.Listener]
	done chan struct{}
}

// openLog is an access log writer and what it was opened for.
type openLog struct {
	w   *accesslog.Writer
	key string
}

// New opens the node's state and returns a node serving nothing yet; Apply gives
// it a configuration.
func New(opts Options) (*Node, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NodeIP == "" {
		opts.NodeIP = "127.0.0.1"
	}
	ids := opts.IDs
	var own *state.IDs
	if ids == nil {
		var err error
		if own, err = state.OpenIDs(opts.DataDir); err != nil {
			return nil, err
		}
		ids = own
	}
	cookies, authSvc, err := openCookieKeys(opts)
	if err != nil {
		if own != nil {
			own.Close()
		}
		return nil, err
	}
	n := &Node{
		opts:      opts,
		log:       opts.Logger,
		ids:       ids,
		ownIDs:    own,
		pools:     upstream.NewPools(upstream.Options{ConnectTimeout: opts.ConnectTimeout}),
		proxy:     proxy.New(proxy.Options{Logger: opts.Logger}),
		runtimes:  balance.NewRegistry(),
		cookies:   cookies,
		auth:      authSvc,
		listeners: make(map[netip.AddrPort]*boundListener),
		logs:      make(map[string]*openLog),
	}
	n.health = health.NewRegistry(health.Options{Logger: opts.Logger, Second: opts.HealthSecond, Disabled: opts.DisableHealthChecks,
		CheckLog: n.logHealthCheck})
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		n.pools.Run(n.ctx, time.Second)
	}()
	return n, nil
}

// Auth returns the service that runs the node's authentication actions; its
// PublicKeyPEM is what the admin server's /public-keys/KID serves.
func (n *Node) Auth() *auth.Service { return n.auth }

// Snapshot returns the configuration snapshot in force (nil before Apply).
func (n *Node) Snapshot() *snapshot.Snapshot { return n.snap.Load() }

// Addrs returns the addresses the node's listeners are bound to.
func (n *Node) Addrs() []net.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []net.Addr
	for _, bl := range n.listeners {
		out = append(out, bl.ln.Addr())
	}
	return out
}

// Apply makes cfg the node's configuration, all or nothing.
func (n *Node) Apply(cfg *config.Config) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return errors.New("node is stopped")
	}
	ids, err := n.ids.Assign(snapshot.IDKeys(cfg))
	if err != nil {
		return fmt.Errorf("assign resource ids: %w", err)
	}

	// Open what the new configuration needs and the old one lacks; undo all of
	// it if anything fails.
	var newLogs []*openLog
	var newListeners []*boundListener
	undo := func() {
		for _, l := range newLogs {
			l.w.Close(context.Background())
		}
		for _, bl := range newListeners {
			bl.ln.Close()
		}
	}
	logs := make(map[string]*openLog)
	logOwner := make(map[string]string) // absolute log file path → load balancer
	for _, dest := range n.logDestinations(cfg) {
		lb := dest.lb
		opts := n.logOptions(cfg, lb, ids[snapshot.LoadBalancerKey(lb.Name)], dest.where)
		opts.FilePrefix = dest.prefix
		// A spool's lines reach the disk every second, for salvage after
		// kill -9.
		opts.SyncDirectory = dest.spooled
		// Directories may be shared (file names carry the load balancer id, as
		// in a shared S3 bucket); one file may not.
		if opts.Path != "" {
			target := opts.Path
			if abs, err := filepath.Abs(target); err == nil {
				target = abs
			}
			if other, dup := logOwner[target]; dup {
				undo()
				return fmt.Errorf("load balancers %q and %q: both write their access log to %s", other, lb.Name, target)
			}
			logOwner[target] = lb.Name
		}
		key := fmt.Sprintf("%+v", opts)
		if old := n.logs[dest.name]; old != nil && old.key == key {
			logs[dest.name] = old
			continue
		}
		w, err := accesslog.Open(opts)
		if err != nil {
			undo()
			return fmt.Errorf("load balancer %q: %s: %w", lb.Name, dest.what, err)
		}
		ol := &openLog{w: w, key: key}
		newLogs = append(newLogs, ol)
		logs[dest.name] = ol
		if dest.bucket != "" {
			n.writeTestFile(dest.bucket, dest.s3prefix, cfg.AccountID)
		}
	}
	listeners := make(map[netip.AddrPort]*boundListener)
	for _, lb := range cfg.LoadBalancers {
		for _, l := range lb.Listeners {
			ip, err := netip.ParseAddr(l.Address)
			if err != nil {
				undo()
				return fmt.Errorf("load balancer %q: listener %d: address %q: %w", lb.Name, l.Port, l.Address, err)
			}
			addr := netip.AddrPortFrom(ip, uint16(l.Port))
			if old := n.listeners[addr]; old != nil {
				listeners[addr] = old
				continue
			}
			ln, err := n.listen(addr)
			if err != nil {
				undo()
				return fmt.Errorf("load balancer %q: listener %d: %w", lb.Name, l.Port, err)
			}
			bl := &boundListener{ln: ln, done: make(chan struct{})}
			newListeners = append(newListeners, bl)
			listeners[addr] = bl
		}
	}
	loggers := make(map[string]snapshot.EntryLogger, len(logs))
	connLoggers := make(map[string]snapshot.ConnLogger)
	healthLogs := make(map[string]*healthLog)
	for name, l := range logs {
		if rest, ok := strings.CutPrefix(name, s3LogKey); ok {
			name = rest
		}
		if lb, ok := strings.CutPrefix(name, connLogKey); ok {
			connLoggers[lb] = teeConn(connLoggers[lb], l.w)
		} else if lb, ok := strings.CutPrefix(name, healthLogKey); ok {
			hl := healthLogs[lb]
			if hl == nil {
				hl = &healthLog{elb: "app/" + lb + "/" + ids[snapshot.LoadBalancerKey(lb)], nodeIP: n.nodeAddr()}
				healthLogs[lb] = hl
			}
			hl.w = append(hl.w, l.w)
		} else {
			loggers[name] = teeEntry(loggers[name], l.w)
		}
	}
	snap, err := snapshot.Compile(cfg, snapshot.Resources{IDs: ids, Pools: n.pools, Logs: loggers, Runtimes: n.runtimes, Cookies: n.cookies, Auth: n.auth, Health: n.health,
		ConnLogs: connLoggers, TLSErrors: n.tlsErrorCounters(cfg), BaseDir: n.opts.BaseDir, Metrics: n.opts.Metrics})
	if err != nil {
		undo()
		return err
	}

	// Commit: from here nothing fails.
	n.snap.Store(snap)
	n.healthLogs.Store(&healthLogs)
	for addr, bl := range listeners {
		bl.cfg.Store(snap.Listeners[addr])
	}
	for _, bl := range newListeners {
		n.bg.Add(1)
		go n.accept(bl)
	}
	for addr, bl := range n.listeners {
		if listeners[addr] == nil {
			bl.ln.Close()
			<-bl.done
			n.closeConns(bl)
		}
	}
	for name, l := range n.logs {
		if logs[name] != l {
			// Requests in flight may still log to it; Log after Close is safe
			// and counted as dropped.
			n.bg.Add(1)
			go func(w *accesslog.Writer) {
				defer n.bg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), logCloseTimeout)
				defer cancel()
				if err := w.Close(ctx); err != nil {
					n.log.Warn("closing a retired access log", "err", err)
				}
			}(l.w)
		}
	}
	n.listeners, n.logs = listeners, logs
	n.pools.Retain(snap.TargetAddrs())
	n.runtimes.Retain(snap.TargetsByGroup())
	n.health.Apply(healthSpecs(snap))
	if n.opts.Metrics != nil {
		n.opts.Metrics.Publish(snap.MetricsBindings())
	}
	n.log.Info("configuration applied", "load_balancers", len(cfg.LoadBalancers),
		"listeners", len(listeners), "target_groups", len(cfg.TargetGroups))
	return nil
}

// closeConns ends the connections of a listener the configuration no longer
// has, gracefully: they serve no request after the one in flight.
func (n *Node) closeConns(bl *boundListener) {
	if l := bl.cfg.Load(); l != nil {
		closed := *l
		closed.Closed = true
		bl.cfg.Store(&closed)
	}
	n.proxy.CloseConns(&bl.cfg)
}

// connLogKey and healthLogKey prefix a load balancer's name to key its
// connection log and its health-check log among the node's open logs.
const (
	connLogKey   = "conn_log/"
	healthLogKey = "health_check_log/"
)

// healthLog is where a load balancer's health checks are logged: its file
// log, its log to S3, or both.
type healthLog struct {
	w      []*accesslog.Writer
	elb    string     // app/NAME/ID
	nodeIP netip.Addr // the zero Addr writes "-"
}

// logHealthCheck is the health registry's CheckLog: it writes e to the
// health-check logs of load balancer lb, if it has any.
func (n *Node) logHealthCheck(lb string, e *accesslog.HealthEntry) {
	logs := n.healthLogs.Load()
	if logs == nil {
		return
	}
	hl := (*logs)[lb]
	if hl == nil {
		return
	}
	e.ELB, e.NodeIP = hl.elb, hl.nodeIP
	for _, w := range hl.w {
		w.LogHealth(e)
	}
}

// nodeAddr is the node's IP for the ip_address fields, the zero Addr when
// Options.NodeIP is not an IP address.
func (n *Node) nodeAddr() netip.Addr {
	a, _ := netip.ParseAddr(n.opts.NodeIP)
	return a
}

// logDestination is one log a load balancer writes: its access log or its
// connection log.
type logDestination struct {
	lb     config.LoadBalancer
	name   string // key in Node.logs
	what   string // for messages
	where  config.AccessLog
	prefix string // file name prefix in Directory mode
	// bucket and s3prefix are set for an access log delivered to S3;
	// spooled for every log written into the shipper's spool.
	bucket, s3prefix string
	spooled          bool
}

// s3LogKey prefixes the key of a log delivered to S3 (through the shipper's
// spool), which a load balancer writes beside its file log, if any.
const s3LogKey = "s3/"

// logDestinations lists the logs cfg asks for.
func (n *Node) logDestinations(cfg *config.Config) []logDestination {
	var out []logDestination
	for _, lb := range cfg.LoadBalancers {
		if lb.AccessLog.Path != "" || lb.AccessLog.Directory != "" {
			out = append(out, logDestination{lb: lb, name: lb.Name, what: "access log", where: lb.AccessLog})
		}
		if lb.ConnectionLog.Path != "" || lb.ConnectionLog.Directory != "" {
			out = append(out, logDestination{lb: lb, name: connLogKey + lb.Name, what: "connection log",
				where: lb.ConnectionLog, prefix: accesslog.ConnLogFilePrefix})
		}
		if lb.HealthCheckLog.Path != "" || lb.HealthCheckLog.Directory != "" {
			out = append(out, logDestination{lb: lb, name: healthLogKey + lb.Name, what: "health-check log",
				where: lb.HealthCheckLog, prefix: accesslog.HealthLogFilePrefix})
		}
		if n.opts.Shipper == nil {
			continue
		}
		if a := lb.Attrs.AccessLogsS3; a.Enabled && a.Bucket != "" {
			out = append(out, logDestination{lb: lb, name: s3LogKey + lb.Name, what: "access log to S3",
				where: config.AccessLog{Directory: n.opts.Shipper.Dir(a.Bucket, a.Prefix)}, bucket: a.Bucket, s3prefix: a.Prefix, spooled: true})
		}
		if a := lb.Attrs.ConnectionLogsS3; a.Enabled && a.Bucket != "" {
			out = append(out, logDestination{lb: lb, name: s3LogKey + connLogKey + lb.Name, what: "connection log to S3",
				where: config.AccessLog{Directory: n.opts.Shipper.Dir(a.Bucket, a.Prefix)}, prefix: accesslog.ConnLogFilePrefix, spooled: true})
		}
		if a := lb.Attrs.HealthCheckLogsS3; a.Enabled && a.Bucket != "" {
			out = append(out, logDestination{lb: lb, name: s3LogKey + healthLogKey + lb.Name, what: "health-check log to S3",
				where: config.AccessLog{Directory: n.opts.Shipper.Dir(a.Bucket, a.Prefix)}, prefix: accesslog.HealthLogFilePrefix, spooled: true})
		}
	}
	return out
}

// writeTestFile uploads ALB's ELBAccessLogTestFile for a load balancer
// whose access logs to bucket just began, in the background.
func (n *Node) writeTestFile(bucket, prefix, account string) {
	n.bg.Add(1)
	go func() {
		defer n.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := n.opts.Shipper.WriteTestFile(ctx, bucket, prefix, account); err != nil {
			n.log.Error("cannot write ALB's test object to the access log bucket: check the bucket, the S3 credentials and --s3-endpoint; the logs wait in the spool and uploads are retried",
				"bucket", bucket, "err", err)
		}
	}()
}

// teeEntry adds w to the access log(s) of a load balancer.
func teeEntry(have snapshot.EntryLogger, w snapshot.EntryLogger) snapshot.EntryLogger {
	switch h := have.(type) {
	case nil:
		return w
	case entryTee:
		return append(h, w)
	default:
		return entryTee{h, w}
	}
}

// entryTee writes each entry to every log.
type entryTee []snapshot.EntryLogger

func (t entryTee) Log(e *accesslog.Entry) {
	for _, l := range t {
		l.Log(e)
	}
}

// teeConn adds w to the connection log(s) of a load balancer.
func teeConn(have snapshot.ConnLogger, w snapshot.ConnLogger) snapshot.ConnLogger {
	switch h := have.(type) {
	case nil:
		return w
	case connTee:
		return append(h, w)
	default:
		return connTee{h, w}
	}
}

// connTee writes each connection entry to every log.
type connTee []snapshot.ConnLogger

func (t connTee) LogConn(e *accesslog.ConnEntry) {
	for _, l := range t {
		l.LogConn(e)
	}
}

// tlsErrorCounters returns the TLS negotiation error counter of each load
// balancer in cfg, keeping the counters of load balancers the node already
// had so that they count across reloads.
func (n *Node) tlsErrorCounters(cfg *config.Config) map[string]*atomic.Uint64 {
	n.tlsMu.Lock()
	defer n.tlsMu.Unlock()
	if n.tlsErrors == nil {
		n.tlsErrors = make(map[string]*atomic.Uint64)
	}
	for _, lb := range cfg.LoadBalancers {
		if n.tlsErrors[lb.Name] == nil {
			n.tlsErrors[lb.Name] = new(atomic.Uint64)
		}
	}
	return n.tlsErrors
}

// ClientTLSNegotiationErrors returns, per load balancer name, how many client
// TLS handshakes have failed on its HTTPS listeners since the node started
// (CloudWatch's ClientTLSNegotiationErrorCount, as a running total).
func (n *Node) ClientTLSNegotiationErrors() map[string]uint64 {
	n.tlsMu.Lock()
	defer n.tlsMu.Unlock()
	out := make(map[string]uint64, len(n.tlsErrors))
	for name, c := range n.tlsErrors {
		out[name] = c.Load()
	}
	return out
}

// logOptions returns the options of a log of load balancer lb written where
// says.
func (n *Node) logOptions(cfg *config.Config, lb config.LoadBalancer, id string, where config.AccessLog) accesslog.Options {
	opts := accesslog.Options{
		AccountID:      cfg.AccountID,
		Region:         cfg.Region,
		LoadBalancerID: "app/" + lb.Name + "/" + id,
		NodeIP:         n.opts.NodeIP,
		Interval:       n.opts.LogInterval,
		Logger:         n.log,
	}
	if p := where.Path; p != "" {
		opts.Path = n.resolve(p)
	} else {
		opts.Directory = n.resolve(where.Directory)
	}
	return opts
}

func (n *Node) resolve(p string) string {
	if filepath.IsAbs(p) || n.opts.BaseDir == "" {
		return p
	}
	return filepath.Join(n.opts.BaseDir, p)
}

func (n *Node) listen(addr netip.AddrPort) (net.Listener, error) {
	if ln, ok := n.opts.Listeners[addr]; ok {
		delete(n.opts.Listeners, addr)
		return ln, nil
	}
	return net.Listen("tcp", addr.String())
}

// accept serves a listening socket until it is closed.
func (n *Node) accept(bl *boundListener) {
	defer n.bg.Done()
	defer close(bl.done)
	backoff := 5 * time.Millisecond
	for {
		nc, err := bl.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and try again, as
			// net/http does, rather than spin or give up the port. The client
			// waiting in the backlog is not served meanwhile: ALB's
			// RejectedConnectionCount.
			if l := bl.cfg.Load(); l != nil {
				l.LB.Metrics.ConnRejected()
			}
			n.log.Warn("accept failed", "listener", bl.ln.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-n.ctx.Done():
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		go n.proxy.ServeConn(nc, &bl.cfg)
	}
}

// Shutdown stops the node: it stops accepting, lets requests in flight finish
// until ctx ends, flushes and closes the access logs and releases the state.
func (n *Node) Shutdown(ctx context.Context) error {
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.stopped = true
	for _, bl := range n.listeners {
		bl.ln.Close()
	}
	n.mu.Unlock()
	err := n.proxy.Shutdown(ctx)
	n.health.Close()
	n.cancel()
	n.bg.Wait()
	// The logs get their own time to flush: lines of requests that finished
	// within the grace period must not be lost because it ran out.
	lctx, cancel := context.WithTimeout(context.Background(), logCloseTimeout)
	defer cancel()
	for _, l := range n.logs {
		if cerr := l.w.Close(lctx); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	if n.ownIDs != nil {
		if cerr := n.ownIDs.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}
	return err
}
