package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/albatross-lb/albatross/internal/state"
)

// storeOptions are the --store flags of serve and store migrate.
type storeOptions struct {
	url, prefix               string
	caFile, certFile, keyFile string
	logger                    *slog.Logger
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

// openStore opens the store the flags name: the bbolt file in dataDir, or
// etcd. close releases it.
func openStore(ctx context.Context, o storeOptions, dataDir string) (state.Store, state.IDRegistry, func() error, error) {
	if o.url == "" {
		b, err := state.Open(dataDir)
		if err != nil {
			return nil, nil, nil, err
		}
		return b, b.IDs(), b.Close, nil
	}
	eps, err := etcdEndpoints(o.url)
	if err != nil {
		return nil, nil, nil, err
	}
	// The resources are in etcd; the data directory still holds what is the
	// node's own (the stickiness cookie key, access logs by default).
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, nil, nil, fmt.Errorf("data directory: %w", err)
	}
	tc, err := o.tlsConfig()
	if err != nil {
		return nil, nil, nil, err
	}
	e, err := state.OpenEtcd(ctx, state.EtcdOptions{Endpoints: eps, Prefix: o.prefix, TLS: tc, Logger: o.logger})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--store %s: %w", o.url, err)
	}
	return e, e.IDs(), e.Close, nil
}
