// Package admin serves the node's administrative HTTP endpoints on the admin
// address: the liveness check and the health of every target; the ELBv2 API,
// metrics and the dashboard join it as they are built.
package admin

import (
	"io"
	"net/http"
)

// Options says what the admin server serves.
type Options struct {
	// Health serves GET /v1/target-health; nil: the endpoint is absent.
	Health TargetHealthSource
}

// Handler returns the admin HTTP handler.
func Handler(opts Options) http.Handler {
	mux := http.NewServeMux()
	if opts.Health != nil {
		mux.HandleFunc("GET /v1/target-health", serveTargetHealth(opts.Health))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}
