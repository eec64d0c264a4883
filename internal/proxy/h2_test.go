package proxy

import (
	"net/textproto"
	"strings"
	"testing"
)

// TestAppendCanonical checks appendCanonical, which makes the response
// header map's keys for HTTP/2, against net/textproto's rule.
func TestAppendCanonical(t *testing.T) {
	for _, name := range []string{
		"content-length", "Content-Type", "DATE", "x-amzn-trace-id", "set-cookie",
		"X-Custom--Double", "-leading", "trailing-", "a", "WWW-Authenticate",
		"x_underscore", "has space", "bad\x7fbyte", "ünïcode", "Grpc-Status", "",
	} {
		var sb strings.Builder
		appendCanonical(&sb, []byte(name))
		if got, want := sb.String(), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Errorf("appendCanonical(%q) = %q, want %q", name, got, want)
		}
	}
}
