// Package snapshot compiles a validated configuration, the resource ids assigned to
// it and the node's runtime resources (connection pools, access log writers) into
// the immutable form the data plane reads. A Snapshot is never modified after
// Compile returns it: a change compiles a new one and the node swaps an atomic
// pointer, so requests in flight finish on the snapshot they started with and the
// request path takes no lock.
package snapshot

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/auth"
	"github.com/albatross-lb/albatross/internal/balance"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/health"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/route"
	"github.com/albatross-lb/albatross/internal/state"
	"github.com/albatross-lb/albatross/internal/tlsconf"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// EntryLogger receives a finished request's access log entry. *accesslog.Writer
// implements it; Log must not block and must not retain e.
type EntryLogger interface {
	Log(e *accesslog.Entry)
}

// Snapshot is one compiled, immutable configuration.
type Snapshot struct {
	// Config is the configuration the snapshot was compiled from.
	Config        *config.Config
	LoadBalancers []*LoadBalancer
	TargetGroups  []*TargetGroup
	// Listeners are all listeners of all load balancers, keyed by bind address.
	Listeners map[netip.AddrPort]*Listener
}

// LoadBalancer is a compiled load balancer.
type LoadBalancer struct {
	Name string
	ID   string
	ARN  string
	// ResourceID is "app/NAME/ID", the access log's elb field and CloudWatch's
	// LoadBalancer dimension.
	ResourceID string
	// DNSName is the name the load balancer answers to; it stands in for Host on
	// HTTP/1.0 requests that carry none, as ALB's DNS name does.
	DNSName   string
	Attrs     config.LoadBalancerAttributes
	Listeners []*Listener
	// Log receives access log entries; nil when access logging is off.
	Log EntryLogger
	// ConnLog receives connection log entries; nil when connection logging is
	// off.
	ConnLog ConnLogger
	// TLSNegotiationErrors counts failed client TLS handshakes on the load
	// balancer's HTTPS listeners (CloudWatch's ClientTLSNegotiationErrorCount).
	// The counter outlives snapshots: every snapshot of the same load balancer
	// compiled with the same Resources shares it.
	TLSNegotiationErrors *atomic.Uint64
	// Cookies encodes and decodes stickiness cookies.
	Cookies *balance.Codec
	// Metrics counts the load balancer's connections and finished requests;
	// nil (counting nothing) when the node keeps no metrics.
	Metrics *metrics.LoadBalancer
}

// ConnLogger receives a client connection's connection log entry.
// *accesslog.Writer implements it; LogConn must not block or retain e.
type ConnLogger interface {
	LogConn(e *accesslog.ConnEntry)
}

// Listener is a compiled listener.
type Listener struct {
	LB       *LoadBalancer
	ARN      string
	Addr     netip.AddrPort
	Port     int
	Protocol string
	// Scheme is the URL scheme of the listener ("http" or "https"), used in the
	// access log's type and request fields and in X-Forwarded-Proto.
	Scheme string
	// TLS is an HTTPS listener's policy and certificates (and whether it
	// offers HTTP/2); nil on HTTP.
	TLS *tlsconf.Listener
	// PortText is Port in decimal, precomputed for the request path.
	PortText string
	// DefaultAction is the listener's default rule's action.
	DefaultAction *Action
	// Rules are the listener's compiled rules (nil: none); a matched rule's
	// action is RuleActions[rule.Index].
	Rules       *route.Table
	RuleActions []*Action
	// Callbacks are the listener's OIDC actions, which answer the identity
	// provider's redirect to /oauth2/idpresponse; nil when there are none.
	Callbacks []*auth.Action
	// Closed is set on the listener of a deleted listener's connections: they
	// finish the request in flight and close (see proxy.CloseConns).
	Closed bool
	// Headers is the listener's header modification (its attributes); the
	// zero value changes nothing.
	Headers ListenerHeaders
}

// ListenerHeaders is a listener's header modification, ready for the proxy.
type ListenerHeaders struct {
	// NoServer drops the load balancer's own Server header
	// (routing.http.response.server.enabled false).
	NoServer bool
	// Response holds the header lines set on every response ("Name:
	// value\r\n" each); ResponseNames their names, whose copies from the
	// target are dropped.
	Response      []byte
	ResponseNames []string
	// TLSVersion and TLSCipher are the names X-Amzn-Tls-Version and
	// X-Amzn-Tls-Cipher-Suite are sent under ("" for those).
	TLSVersion, TLSCipher string
	// MTLS is set on a listener whose mutual authentication is passthrough
	// or verify; MTLSNames are then the names its client certificate
	// headers are sent under, renamed or not, in the order of
	// config.MTLSHeaders.
	MTLS      bool
	MTLSNames [6]string
}

// Sets reports whether the listener sets response header name itself.
func (h *ListenerHeaders) Sets(name []byte) bool {
	for _, n := range h.ResponseNames {
		if http1.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// compileHeaders turns listener attributes into ListenerHeaders.
func compileHeaders(a config.ListenerAttributes) ListenerHeaders {
	h := ListenerHeaders{NoServer: !a.ServerHeader}
	for _, f := range a.ResponseHeaders {
		h.Response = append(h.Response, f.Name+": "+f.Value+"\r\n"...)
		h.ResponseNames = append(h.ResponseNames, f.Name)
	}
	h.TLSVersion = a.RequestHeaderNames["X-Amzn-Tls-Version"]
	h.TLSCipher = a.RequestHeaderNames["X-Amzn-Tls-Cipher-Suite"]
	for i, name := range config.MTLSHeaders {
		h.MTLSNames[i] = a.RequestHeaderName(name)
	}
	return h
}

// TargetGroup is a compiled target group.
type TargetGroup struct {
	Name    string
	ID      string
	ARN     string
	Attrs   config.TargetGroupAttributes
	Targets []*Target
	// Policy picks among the group's routable targets (Candidates).
	Policy balance.Policy[*Target]
	// StickyID is ID as 8 bytes, the group's identity in stickiness cookies.
	StickyID [8]byte
	// HealthCheck is the group's health check, defaults filled in.
	HealthCheck config.HealthCheck
	// DrainUntil is when each target deregistered through the API stops
	// draining, as the change recorded it (health.GroupSpec.DrainUntil).
	DrainUntil map[netip.AddrPort]time.Time
	// LoadBalancer is the name of the load balancer whose listeners forward to
	// the group; empty when none does (InUse is false).
	LoadBalancer string
	// InUse is whether a listener's default action or rule forwards to the
	// group. ALB checks the targets of a group only while it is in use.
	InUse bool
	// Health is the group's registrations in the health registry; it tells
	// when the states behind the routing candidates changed.
	Health *health.Group

	candidates atomic.Pointer[candidates] // see Candidates
	// ProtocolVersion is config.ProtocolVersionHTTP1, HTTP2 or GRPC.
	ProtocolVersion string
}

// Target is a compiled target.
type Target struct {
	Addr netip.AddrPort
	Pool *upstream.Pool
	// H2 sends requests to the target over HTTP/2; set for HTTP2 and GRPC
	// target groups.
	H2 *upstream.H2Client
	// ProtocolVersion is its target group's.
	ProtocolVersion string
	// Health is the target's live health, shared by every snapshot in which
	// the registration lasts (nil in a target built by hand: initial).
	Health *health.Status
	// Retry is whether a request that fails on a reused connection may be sent
	// again when that is provably safe: target_keep_alive.retry_mode is safe
	// (compat: never, as ALB).
	Retry bool
	// Mitigation is whether its group has anomaly mitigation on: the proxy
	// then records each request's outcome (health.Status.ObserveOutcome).
	Mitigation bool
	// rt is the target's balancing state in this group, shared by every
	// snapshot the target is in.
	rt *balance.Runtime
}

// NewTarget returns a compiled target with its runtime state (a fresh one
// when rt is nil).
func NewTarget(addr netip.AddrPort, pool *upstream.Pool, rt *balance.Runtime) *Target {
	if rt == nil {
		rt = &balance.Runtime{}
	}
	return &Target{Addr: addr, Pool: pool, rt: rt}
}

// Runtime returns the target's balancing state (slow start). A Target built as
// a literal rather than by NewTarget has none; it gets a throwaway state per
// call, so it works but never enters slow start.
func (t *Target) Runtime() *balance.Runtime {
	if t.rt == nil {
		return &balance.Runtime{}
	}
	return t.rt
}

// InFlight is the number of requests in flight on the target, as its health
// status counts them (0 for a target without one), for least outstanding
// requests.
func (t *Target) InFlight() int64 { return t.Health.InFlight() }

// Outcomes, SetAnomaly and Anomaly make the target a balance.Outcomes, from
// its health status (a target without one is never anomalous).
func (t *Target) Outcomes(now time.Time) (requests, failures int64) {
	if t.Health == nil {
		return 0, 0
	}
	return t.Health.Outcomes(now)
}

// SetAnomaly records the anomaly detector's verdict on the target.
func (t *Target) SetAnomaly(anomalous, mitigated bool) {
	if t.Health != nil {
		t.Health.SetAnomaly(anomalous, mitigated)
	}
}

// Anomaly is the last verdict recorded by SetAnomaly.
func (t *Target) Anomaly() (anomalous, mitigated bool) {
	if t.Health == nil {
		return false, false
	}
	return t.Health.Anomaly()
}

// ID keys, as stored by state.IDs.

// LoadBalancerKey is the id key of a load balancer.
func LoadBalancerKey(name string) string { return "loadbalancer/" + name }

// TargetGroupKey is the id key of a target group.
func TargetGroupKey(name string) string { return "targetgroup/" + name }

// ListenerKey is the id key of a listener: its load balancer and port identify it.
func ListenerKey(lb string, port int) string { return "listener/" + lb + "/" + strconv.Itoa(port) }

// IDKeys lists the id keys a configuration needs.
func IDKeys(cfg *config.Config) []string {
	var keys []string
	for _, lb := range cfg.LoadBalancers {
		keys = append(keys, LoadBalancerKey(lb.Name))
		for _, l := range lb.Listeners {
			keys = append(keys, ListenerKey(lb.Name, l.Port))
		}
	}
	for _, tg := range cfg.TargetGroups {
		keys = append(keys, TargetGroupKey(tg.Name))
	}
	return keys
}

// Resources are the node's long-lived runtime objects a snapshot points into.
type Resources struct {
	// IDs maps every key of IDKeys to its 16-hex-digit id.
	IDs map[string]string
	// Pools supplies the connection pool of each target.
	Pools *upstream.Pools
	// Logs maps a load balancer name to its access log writer (absent: no log).
	Logs map[string]EntryLogger
	// ConnLogs maps a load balancer name to its connection log (absent: none).
	ConnLogs map[string]ConnLogger
	// TLSErrors maps a load balancer name to its TLS negotiation error counter;
	// a load balancer missing from it gets a new counter.
	TLSErrors map[string]*atomic.Uint64
	// BaseDir resolves relative certificate file names.
	BaseDir string
	// Runtimes keeps targets' balancing state across snapshots (nil: every
	// snapshot starts afresh).
	Runtimes *balance.Registry
	// Cookies encodes stickiness cookies (nil: a codec with a random key, so
	// cookies do not survive the process).
	Cookies *balance.Codec
	// Auth runs authentication actions (nil: a service with a random key,
	// so sessions do not survive the process, and no insecure identity
	// providers).
	Auth *auth.Service
	// Health supplies each target's health status (nil: a private registry,
	// every target initial).
	Health *health.Registry
	// Metrics, when not nil, receives the counters of every load balancer
	// (see bindMetrics).
	Metrics *metrics.Registry
}

// Compile builds a snapshot of cfg. cfg must be validated (config.Parse does that);
// Compile fails only when res lacks an id.
func Compile(cfg *config.Config, res Resources) (*Snapshot, error) {
	id := func(key string) (string, error) {
		v, ok := res.IDs[key]
		if !ok {
			return "", fmt.Errorf("snapshot: no id for %s", key)
		}
		return v, nil
	}
	if res.Health == nil {
		res.Health = health.NewRegistry(health.Options{Disabled: true})
	}
	s := &Snapshot{Config: cfg, Listeners: make(map[netip.AddrPort]*Listener)}
	now := time.Now()
	if res.Auth == nil {
		var err error
		if res.Auth, err = auth.NewService(auth.Options{Key: randomKey()}); err != nil {
			return nil, err
		}
	}
	if res.Cookies == nil {
		var err error
		if res.Cookies, err = balance.NewCodec(randomKey()); err != nil {
			return nil, err
		}
	}
	groups := make(map[string]*TargetGroup, len(cfg.TargetGroups))
	for i := range cfg.TargetGroups {
		tg := &cfg.TargetGroups[i]
		tgID, err := id(TargetGroupKey(tg.Name))
		if err != nil {
			return nil, err
		}
		ctg := &TargetGroup{
			Name:   tg.Name,
			ID:     tgID,
			ARN:    state.TargetGroupARN(cfg.Region, cfg.AccountID, tg.Name, tgID),
			Attrs:  tg.Attrs,
			Policy: balance.New[*Target](tg.Attrs),

			HealthCheck: tg.HealthCheck,
			Health:      res.Health.Group(tg.Name),

			ProtocolVersion: tg.ProtocolVersion,
		}
		if ctg.ProtocolVersion == "" {
			ctg.ProtocolVersion = config.ProtocolVersionHTTP1
		}
		hex.Decode(ctg.StickyID[:], []byte(tgID))
		addrs := make([]netip.AddrPort, 0, len(tg.Targets))
		for _, t := range tg.Targets {
			ip, err := netip.ParseAddr(t.ID)
			if err != nil {
				return nil, fmt.Errorf("snapshot: target group %q: target %q: %w", tg.Name, t.ID, err)
			}
			addrs = append(addrs, netip.AddrPortFrom(ip, uint16(t.Port)))
		}
		rts := make([]*balance.Runtime, len(addrs))
		if res.Runtimes != nil {
			rts = res.Runtimes.Runtimes(tg.Name, tg.Attrs.SlowStart, addrs, now)
		}
		for i, addr := range addrs {
			pool := res.Pools.Pool(addr.String())
			if tg.Protocol == "HTTPS" {
				pool = res.Pools.TLSPool(addr.String())
			}
			t := NewTarget(addr, pool, rts[i])
			t.Health = ctg.Health.Target(addr)
			// Slow start runs from the moment the target turns healthy.
			t.Health.SetSlowStarter(t.Runtime())
			// The pool cuts the target's requests when its
			// deregistration delay ends.
			t.Health.SetConns(pool)
			t.Retry = tg.Attrs.RetryMode != config.RetryModeCompat
			t.Mitigation = tg.Attrs.AnomalyMitigation
			t.ProtocolVersion = ctg.ProtocolVersion
			if ctg.ProtocolVersion != config.ProtocolVersionHTTP1 {
				t.H2 = res.Pools.H2(addr.String(), tg.Protocol == "HTTPS")
			}
			ctg.Targets = append(ctg.Targets, t)
		}
		for _, d := range tg.Draining {
			if ip, err := netip.ParseAddr(d.ID); err == nil {
				if ctg.DrainUntil == nil {
					ctg.DrainUntil = make(map[netip.AddrPort]time.Time, len(tg.Draining))
				}
				ctg.DrainUntil[netip.AddrPortFrom(ip, uint16(d.Port))] = d.Until
			}
		}
		groups[tg.Name] = ctg
		s.TargetGroups = append(s.TargetGroups, ctg)
	}
	stores, err := compileTrustStores(cfg)
	if err != nil {
		return nil, err
	}
	for i := range cfg.LoadBalancers {
		lb := &cfg.LoadBalancers[i]
		lbID, err := id(LoadBalancerKey(lb.Name))
		if err != nil {
			return nil, err
		}
		clb := &LoadBalancer{
			Name:       lb.Name,
			ID:         lbID,
			ARN:        state.LoadBalancerARN(cfg.Region, cfg.AccountID, lb.Name, lbID),
			ResourceID: state.LoadBalancerResourceID(lb.Name, lbID),
			DNSName:    fmt.Sprintf("%s-%s.%s.elb.localhost", lb.Name, lbID, cfg.Region),
			Attrs:      lb.Attrs,
			Log:        res.Logs[lb.Name],
			ConnLog:    res.ConnLogs[lb.Name],
			Cookies:    res.Cookies,

			TLSNegotiationErrors: res.TLSErrors[lb.Name],
		}
		if clb.TLSNegotiationErrors == nil {
			clb.TLSNegotiationErrors = new(atomic.Uint64)
		}
		for _, l := range lb.Listeners {
			lID, err := id(ListenerKey(lb.Name, l.Port))
			if err != nil {
				return nil, err
			}
			ip, err := netip.ParseAddr(l.Address)
			if err != nil {
				return nil, fmt.Errorf("snapshot: load balancer %q: listener %d: address %q: %w", lb.Name, l.Port, l.Address, err)
			}
			cl := &Listener{
				LB:       clb,
				ARN:      state.ListenerARN(cfg.Region, cfg.AccountID, lb.Name, lbID, lID),
				Addr:     netip.AddrPortFrom(ip, uint16(l.Port)),
				Port:     l.Port,
				Protocol: l.Protocol,
				Scheme:   "http",
				PortText: strconv.Itoa(l.Port),
				Headers:  compileHeaders(l.Attrs),
			}
			if l.Attributes == nil {
				cl.Headers = ListenerHeaders{} // a listener built by hand: ALB's defaults
			}
			if l.Protocol == "HTTPS" {
				cl.Scheme = "https"
				if cl.TLS, err = compileTLS(cfg, l, lb.Attrs.HTTP2Enabled, res.BaseDir, stores); err != nil {
					return nil, fmt.Errorf("load balancer %q: listener %d: %w", lb.Name, l.Port, err)
				}
				if cl.TLS.MTLS != nil {
					cl.Headers.MTLS = true
					if l.Attributes == nil {
						for i, name := range config.MTLSHeaders {
							cl.Headers.MTLSNames[i] = name
						}
					}
				}
			}
			if err := compileRules(cl, l, groups, res.Auth); err != nil {
				return nil, fmt.Errorf("snapshot: load balancer %q: listener %d: %w", lb.Name, l.Port, err)
			}
			for _, tg := range cl.targetGroups() {
				tg.InUse, tg.LoadBalancer = true, lb.Name
			}
			clb.Listeners = append(clb.Listeners, cl)
			s.Listeners[cl.Addr] = cl
		}
		s.LoadBalancers = append(s.LoadBalancers, clb)
	}
	// Target connections obey the idle timeout of the load balancer in front of
	// them, or the group's shorter target_keep_alive.idle_timeout_seconds; a
	// target address shared by several groups or load balancers gets the
	// shortest. The pool trusts a limit the operator set for the target
	// (vouched) only when every group that uses the address set one.
	type limit struct {
		idle    time.Duration
		vouched bool
	}
	idle := make(map[*upstream.Pool]limit)
	for _, lb := range s.LoadBalancers {
		for _, l := range lb.Listeners {
			for _, tg := range l.targetGroups() {
				d := config.TargetIdleLimit(tg.Attrs, lb.Attrs)
				vouched := tg.Attrs.TargetIdleTimeout > 0
				for _, t := range tg.Targets {
					cur, ok := idle[t.Pool]
					if !ok {
						cur = limit{idle: d, vouched: vouched}
					}
					idle[t.Pool] = limit{idle: min(cur.idle, d), vouched: cur.vouched && vouched}
				}
			}
		}
	}
	for p, lim := range idle {
		p.SetIdleTimeout(lim.idle)
		p.SetVouched(lim.vouched)
	}
	bindMetrics(s, res.Metrics)
	return s, nil
}

// compileTLS loads an HTTPS listener's certificates and policy, and compiles
// its mutual TLS with the trust stores of the snapshot.
func compileTLS(cfg *config.Config, l config.Listener, http2 bool, baseDir string, stores map[string]*tlsconf.TrustStore) (*tlsconf.Listener, error) {
	p, err := tlsconf.Lookup(l.SSLPolicy)
	if err != nil {
		return nil, err
	}
	resolve := func(f string) string {
		if filepath.IsAbs(f) || baseDir == "" {
			return f
		}
		return filepath.Join(baseDir, f)
	}
	var certs []*tlsconf.Cert
	for i, c := range l.Certificates {
		cert, err := tlsconf.LoadCert(resolve(c.Cert), resolve(c.Key), c.ARN, cfg.Region, cfg.AccountID)
		if err != nil {
			return nil, fmt.Errorf("certificates[%d]: %w", i, err)
		}
		certs = append(certs, cert)
	}
	mtls, err := compileMTLS(l.MutualAuthentication, stores)
	if err != nil {
		return nil, err
	}
	return tlsconf.NewMutualListener(p, certs, http2, mtls)
}

// compileTrustStores compiles every trust store once per snapshot; the
// listeners that use one share it.
func compileTrustStores(cfg *config.Config) (map[string]*tlsconf.TrustStore, error) {
	if len(cfg.TrustStores) == 0 {
		return nil, nil
	}
	out := make(map[string]*tlsconf.TrustStore, len(cfg.TrustStores))
	for _, ts := range cfg.TrustStores {
		c, err := tlsconf.NewTrustStore(ts.Name, "", ts.CABundlePEM, ts.CRLs)
		if err != nil {
			return nil, fmt.Errorf("snapshot: %w", err)
		}
		out[ts.Name] = c
	}
	return out, nil
}

// compileMTLS compiles a listener's mutual authentication; nil when off.
func compileMTLS(ma *config.MutualAuthentication, stores map[string]*tlsconf.TrustStore) (*tlsconf.MutualAuth, error) {
	if !ma.Enabled() {
		return nil, nil
	}
	m := &tlsconf.MutualAuth{Mode: ma.Mode, IgnoreExpiry: ma.IgnoreClientCertificateExpiry, AdvertiseCANames: ma.AdvertiseTrustStoreCaNames}
	if ma.Mode == config.MTLSModeVerify {
		if m.Store = stores[ma.TrustStore]; m.Store == nil {
			return nil, fmt.Errorf("mutual authentication: trust store %q does not exist", ma.TrustStore)
		}
	}
	return m, nil
}

// TargetAddrs is the set of target pool keys the snapshot uses (addresses,
// prefixed for HTTPS targets), for retiring the pools of targets that left.
func (s *Snapshot) TargetAddrs() map[string]bool {
	m := make(map[string]bool)
	for _, tg := range s.TargetGroups {
		for _, t := range tg.Targets {
			m[t.Pool.Key()] = true
			if t.H2 != nil {
				m[t.H2.Key()] = true
			}
		}
	}
	return m
}
