package auth

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/albatross-lb/albatross/internal/http1"
)

// Request is what an authentication action reads of a request.
type Request struct {
	// Ctx bounds the calls to the identity provider.
	Ctx context.Context
	// Host is the Host header (or :authority) as sent, port included.
	Host []byte
	// Path and Query are the request target's path and query (without '?').
	Path, Query []byte
	// Headers are the request's header fields.
	Headers []http1.Header
}

// Result is what an authentication action decided. The proxy keeps one per
// connection and resets it for each request.
type Result struct {
	// Status, when not 0, is the answer to send now (302 to the identity
	// provider, 401, 500, 561); 0 means go on to the next action.
	Status int
	// Header holds response header lines ("Name: value\r\n"): Location,
	// Set-Cookie, WWW-Authenticate. They go with the answer, or with the
	// target's response when the request goes on.
	Header []byte
	// Upstream holds the header lines added to the request to the target
	// (x-amzn-oidc-*).
	Upstream []byte
	// ErrorReason is the access log's error_reason ("" for none).
	ErrorReason string
}

// Reset empties r for the next request, keeping its buffers.
func (r *Result) Reset() {
	r.Status, r.ErrorReason = 0, ""
	r.Header, r.Upstream = r.Header[:0], r.Upstream[:0]
}

// maxKept bounds the buffers a Result keeps between requests.
const maxKept = 32 << 10

// Shrink drops buffers an unusual request grew.
func (r *Result) Shrink() {
	if cap(r.Header) > maxKept {
		r.Header = nil
	}
	if cap(r.Upstream) > maxKept {
		r.Upstream = nil
	}
}

func (r *Result) answer(status int, reason string) {
	r.Status, r.ErrorReason = status, reason
}

func (r *Result) header(name, value string) {
	r.Header = append(r.Header, name...)
	r.Header = append(r.Header, ": "...)
	r.Header = append(r.Header, value...)
	r.Header = append(r.Header, "\r\n"...)
}

func (r *Result) upstream(name string, value string) {
	r.Upstream = append(r.Upstream, name...)
	r.Upstream = append(r.Upstream, ": "...)
	r.Upstream = append(r.Upstream, value...)
	r.Upstream = append(r.Upstream, "\r\n"...)
}

// setCookie adds a Set-Cookie line; maxAge < 0 deletes the cookie, 0 leaves
// it a session cookie, and an expires time sets Expires.
func (r *Result) setCookie(name, value string, expires time.Time, maxAge int) {
	b := append(r.Header, "Set-Cookie: "...)
	b = append(b, name...)
	b = append(b, '=')
	b = append(b, value...)
	switch {
	case maxAge < 0:
		b = append(b, "; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0"...)
	case maxAge > 0:
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, int64(maxAge), 10)
	case !expires.IsZero():
		b = append(b, "; Expires="...)
		b = expires.UTC().AppendFormat(b, http.TimeFormat)
	}
	b = append(b, "; Path=/; Secure; HttpOnly; SameSite=Lax\r\n"...)
	r.Header = b
}

// header returns the value of the first header called name, or nil.
func header(headers []http1.Header, name string) []byte {
	for _, h := range headers {
		if http1.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return nil
}

// IsOIDCHeader reports whether a request header is one of the x-amzn-oidc-*
// headers the load balancer sets, which a client's copy never reaches a
// target as.
func IsOIDCHeader(name []byte) bool {
	const prefix = "x-amzn-oidc-"
	return len(name) >= len(prefix) && http1.EqualFold(name[:len(prefix)], prefix)
}
