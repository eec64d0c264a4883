package admin

import "net/http"

// WithAPI serves the ELBv2 API on POST / (the AWS Query protocol's one
// endpoint) and everything else, GET / included, with h.
func WithAPI(h, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /", api)
	mux.Handle("/", h)
	return mux
}
