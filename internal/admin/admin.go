// Package admin serves the node's administrative HTTP endpoints on the admin
// address: for now the liveness check; the ELBv2 API, metrics and the dashboard
// join it as they are built.
package admin

import (
	"io"
	"net/http"
)

// Handler returns the admin HTTP handler.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return mux
}
