package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/state"
)

// storeOptions are the --store flags of serve and store migrate.
type storeOptions struct {
	url, prefix               string
	caFile, certFile, keyFile string
	logger                    *slog.Logger
	// allowUnavailable opens the store even when etcd does not answer.
	allowUnavailable bool
}

// etcdEndpoints parses etcd://HOST:PORT[,HOST:PORT...].
func etcdEndpoints(url string) ([]string, error) {
	rest, ok := strings.CutPrefix(url, "etcd://")
	if !ok {
		return nil, fmt.Errorf("--store: want etcd://HOST:PORT[,HOST:PORT...] (or nothing, for the bbolt file in --data-dir), got %q", url)
	}
	var eps []string
	for ep := range strings.SplitSeq(strings.TrimSuffix(rest, "/"), ",") {
		host, port, err := net.SplitHostPort(ep)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("--store: endpoint %q is not HOST:PORT (in %q)", ep, url)
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// check validates the flags before anything is opened.
func (o storeOptions) check() error {
	if o.url == "" {
		if o.caFile != "" || o.certFile != "" || o.keyFile != "" {
			return errors.New("--etcd-cacert, --etcd-cert and --etcd-key go with --store etcd://...")
		}
		return nil
	}
	if _, err := etcdEndpoints(o.url); err != nil {
		return err
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return errors.New("--etcd-cert and --etcd-key go together")
	}
	if !strings.HasPrefix(o.prefix, "/") {
		return fmt.Errorf("--etcd-prefix: must start with /, got %q", o.prefix)
	}
	return nil
}

// tlsConfig is the TLS configuration for the etcd members, nil without TLS.
func (o storeOptions) tlsConfig() (*tls.Config, error) {
	if o.caFile == "" && o.certFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-cacert: %s holds no PEM certificate", o.caFile)
		}
		cfg.RootCAs = pool
	}
	if o.certFile != "" {
		cert, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// openedStore is the store a node runs on.
type openedStore struct {
	st  state.Store
	ids state.IDRegistry
	// cache and prefix are set with etcd: the local copy of the state last
	// applied, and the cluster's prefix it is of.
	cache  *state.Cache
	prefix string
	etcd   *state.Etcd
	close  func() error
}

// openStore opens the store the flags name: the bbolt file in dataDir, or
// etcd with a local cache of the state in dataDir. When etcd cannot be
// reached and the cache exists, it opens anyway: the node serves the cache
// until etcd is back.
func openStore(ctx context.Context, o storeOptions, dataDir string) (*openedStore, error) {
	if o.url == "" {
		b, err := state.Open(dataDir)
		if err != nil {
			return nil, err
		}
		return &openedStore{st: b, ids: b.IDs(), close: b.Close}, nil
	}
	// The resources are in etcd; the data directory still holds what is the
	// node's own (its cache of the state, access logs by default).
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	o.allowUnavailable = state.HasCache(dataDir)
	e, err := openEtcdStore(ctx, o)
	if err != nil {
		if errors.Is(err, state.ErrUnavailable) {
			err = fmt.Errorf("%w (and %s holds no cached state to serve until it is reachable)", err, dataDir)
		}
		return nil, err
	}
	cache := state.OpenCache(filepath.Join(dataDir, state.CacheFile), o.logger)
	return &openedStore{st: e, ids: state.NewFallbackIDs(e.IDs()), cache: cache, prefix: e.Prefix(), etcd: e,
		close: func() error { return errors.Join(e.Close(), cache.Close()) }}, nil
}

// openEtcdStore opens the etcd store of o.url.
func openEtcdStore(ctx context.Context, o storeOptions) (*state.Etcd, error) {
	eps, err := etcdEndpoints(o.url)
	if err != nil {
		return nil, err
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	e, err := state.OpenEtcd(ctx, state.EtcdOptions{Endpoints: eps, Prefix: o.prefix, TLS: tc, Logger: o.logger, AllowUnavailable: o.allowUnavailable})
	if err != nil {
		return nil, fmt.Errorf("--store %s: %w", o.url, err)
	}
	return e, nil
}

// storeWatch follows whether the node reaches its state store: /healthz says
// "degraded" while it does not, albatross_store_up is 0, and the node's log
// says so once when it is lost and once when it is back.
type storeWatch struct {
	mu     sync.Mutex
	down   bool
	since  time.Time
	reason string
}

// pinger is a store that can be asked whether it answers.
type pinger interface {
	Ping(ctx context.Context) error
}

// storePingEvery is how often the store is checked.
const storePingEvery = time.Second

// run checks st every storePingEvery until ctx ends.
func (w *storeWatch) run(ctx context.Context, st pinger, log *slog.Logger, setUp func(bool)) {
	t := time.NewTicker(storePingEvery)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := st.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		switch {
		case err != nil && !w.down:
			w.down, w.since, w.reason = true, time.Now(), "state store unreachable: "+err.Error()
			log.Warn("the state store is unreachable: serving the last configuration applied; API writes are refused until it is back", "err", err)
		case err == nil && w.down:
			log.Info("the state store is reachable again", "was_down_for", time.Since(w.since).Round(time.Second))
			w.down = false
		}
		setUp(!w.down)
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// degraded is admin.Options.Degraded.
func (w *storeWatch) degraded() (string, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reason, w.since, w.down
}

// announceNode keeps this node's entry in the cluster's list of nodes (a
// lease in etcd) up to date until ctx ends, and returns when it has left the
// list.
func announceNode(ctx context.Context, e *state.Etcd, info func() admin.NodeState) {
	e.Announce(ctx, info().Name, func() []byte {
		b, _ := json.Marshal(info())
		return b
	})
}

// clusterNodes lists the nodes that announce themselves, by name.
func clusterNodes(ctx context.Context, e *state.Etcd) ([]admin.NodeState, error) {
	raw, err := e.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.NodeState, 0, len(raw))
	for name, b := range raw {
		var n admin.NodeState
		if err := json.Unmarshal(b, &n); err != nil {
			n = admin.NodeState{Name: name, Status: "unreadable announcement: " + err.Error()}
		}
		n.Name = name
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b admin.NodeState) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
