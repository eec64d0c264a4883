// Package admin serves the node's administrative HTTP endpoints on the admin
// address: the liveness check (GET /healthz), the health of every target
// (GET /v1/target-health), the Prometheus metrics (GET /metrics) and the live
// dashboard (GET / and its data under /dashboard/). The dashboard is read-only
// and built from files embedded in the binary. The ELBv2 API (POST /) joins the
// same server; it is not served here.
package admin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// Options says what the admin server serves.
type Options struct {
	// Health serves GET /v1/target-health; nil: the endpoint is absent.
	Health TargetHealthSource
	// Metrics is the node's metrics registry; nil serves no /metrics and an
	// empty dashboard.
	Metrics *metrics.Registry
	// Snapshot returns the configuration in force (nil before the first one).
	Snapshot func() *snapshot.Snapshot
	// Public is whether the admin address is reachable from other hosts (not a
	// loopback address). The dashboard then asks for the API's credentials
	// (see Credentials), and is refused when there are none.
	Public bool
	// Credentials returns the secret access key of an API access key id. On a
	// public admin address the dashboard accepts those keys with HTTP Digest
	// authentication (user name the key id, password the secret).
	Credentials func(keyID string) (secret string, ok bool)
	// Now is the clock of the dashboard's authentication (time.Now when nil).
	Now func() time.Time
	// Version is shown on the dashboard.
	Version string
	// Logger receives the handler's own diagnostics.
	Logger *slog.Logger
	// Degraded, when set, says whether the node runs degraded (its state
	// store unreachable), why and since when; /healthz then says so.
	Degraded func() (reason string, since time.Time, degraded bool)
	// Node is this node's name in a cluster ("" for a node on its own):
	// the dashboard and /v1/target-health say whose view they show.
	Node string
	// Nodes, in a cluster, lists the nodes that announce themselves in the
	// shared store (their leases); the dashboard shows them.
	Nodes func(ctx context.Context) ([]NodeState, error)
	// PublicKey, when set, serves GET /public-keys/{kid}: the PEM public key
	// that verifies x-amzn-oidc-data, as ALB's
	// https://public-keys.auth.elb.REGION.amazonaws.com/KID does.
	PublicKey func(kid string) ([]byte, bool)
}

// NodeState is one node of a cluster as it announces itself in the shared
// store, every few seconds, under a lease that ends when it stops.
type NodeState struct {
	Name          string    `json:"name"`
	AdminAddr     string    `json:"admin_addr,omitempty"`
	ListenAddress string    `json:"listen_address"`
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Revision is the store revision of the state the node applied.
	Revision int64 `json:"revision"`
	// Status is "ok", or what /healthz says of a degraded node.
	Status string `json:"status"`
	// Listeners is how many listeners the node serves.
	Listeners int `json:"listeners"`
	// Self marks the node that answered.
	Self bool `json:"self,omitempty"`
}

// IsPublic reports whether an admin listener bound to addr accepts connections
// from other hosts: anything but a loopback address (an unspecified address
// such as 0.0.0.0 included).
func IsPublic(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	return !ok || !ip.Unmap().IsLoopback()
}

// Handler returns the admin HTTP handler.
func Handler(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Snapshot == nil {
		opts.Snapshot = func() *snapshot.Snapshot { return nil }
	}
	mux := http.NewServeMux()
	if opts.Health != nil {
		mux.HandleFunc("GET /v1/target-health", serveTargetHealth(opts.Health, opts.Node))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if opts.Degraded != nil {
			if reason, since, bad := opts.Degraded(); bad {
				// Still 200: the node serves its last configuration.
				fmt.Fprintf(w, "degraded: %s (since %s)\n", reason, since.UTC().Format(time.RFC3339))
				return
			}
		}
		io.WriteString(w, "ok\n")
	})
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", opts.Metrics.NodeHandler(opts.Node))
	}
	if opts.PublicKey != nil {
		mux.HandleFunc("GET /public-keys/{kid}", func(w http.ResponseWriter, r *http.Request) {
			pem, ok := opts.PublicKey(r.PathValue("kid"))
			if !ok {
				http.Error(w, "no such key", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/x-pem-file")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			w.Write(pem)
		})
	}
	d := &dashboard{opts: opts}
	if opts.Public && opts.Credentials != nil {
		d.auth = newDigestAuth(opts.Credentials, opts.Now)
	}
	mux.Handle("GET /{$}", d.guard(http.HandlerFunc(d.serveIndex)))
	mux.Handle("GET /dashboard/state", d.guard(http.HandlerFunc(d.serveState)))
	mux.Handle("GET /dashboard/", d.guard(http.HandlerFunc(d.serveAsset)))
	return mux
}
