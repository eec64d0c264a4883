package http1

import (
	"net/http"
	"testing"
)

func TestEqualFold(t *testing.T) {
	tests := []struct {
		b, s string
		want bool
	}{
		{"", "", true},
		{"Host", "host", true},
		{"HOST", "host", true},
		{"hOsT", "HoSt", true},
		{"Host", "Hos", false},
		{"Host", "Hosx", false},
		{"Content-Length", "content-length", true},
		{"Transfer-Encod\xc4\xb1ng", "transfer-encoding", false}, // dotless ı is not i
		{"K", "\u212a", false},                                   // nor Kelvin sign K
		{"@", "`", false},                                        // 0x40 and 0x60 differ by 0x20 but are not letters
		{"[", "{", false},
		{"\xc9", "\xe9", false}, // no Latin-1 folding
	}
	for _, tt := range tests {
		if got := EqualFold([]byte(tt.b), tt.s); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tt.b, tt.s, got, tt.want)
		}
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		value, token string
		want         bool
	}{
		{"close", "close", true},
		{"Close", "close", true},
		{" close ", "close", true},
		{"keep-alive, Upgrade", "upgrade", true},
		{"keep-alive,upgrade", "upgrade", true},
		{"keep-alive ,\tupgrade\t", "upgrade", true},
		{"keep-alive", "close", false},
		{"closed", "close", false},
		{"xclose", "close", false},
		{"close-ish, other", "close", false},
		{"", "close", false},
		{",,", "close", false},
		{", close,", "close", true},
		{"cl ose", "close", false},
	}
	for _, tt := range tests {
		if got := HasToken([]byte(tt.value), tt.token); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v, want %v", tt.value, tt.token, got, tt.want)
		}
	}
}

func TestIsHopByHop(t *testing.T) {
	for _, name := range []string{"Connection", "keep-alive", "PROXY-CONNECTION", "Proxy-Authenticate",
		"proxy-authorization", "TE", "te", "Trailer", "Transfer-Encoding", "upgrade"} {
		if !IsHopByHop([]byte(name)) {
			t.Errorf("IsHopByHop(%q) = false", name)
		}
	}
	for _, name := range []string{"", "Host", "Trailers", "Content-Length", "X-Forwarded-For", "Upgrade-Insecure-Requests",
		"Keep-Alive2", "T", "Proxy", "Transfer_Encoding", "Connectio"} {
		if IsHopByHop([]byte(name)) {
			t.Errorf("IsHopByHop(%q) = true", name)
		}
	}
}

func TestHeaderLookup(t *testing.T) {
	var req Request
	if err := ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	if v := req.Header("host"); string(v) != "a" {
		t.Errorf("Header(host) = %q", v)
	}
	if v := req.Header("X-DUP"); string(v) != "1" {
		t.Errorf("Header(X-DUP) = %q", v)
	}
	if v := req.Header("x-empty"); v == nil || len(v) != 0 {
		t.Errorf("Header(x-empty) = %#v, want empty non-nil", v)
	}
	if v := req.Header("Missing"); v != nil {
		t.Errorf("Header(Missing) = %q", v)
	}

	var resp Response
	if err := ParseResponse([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n"), &resp, nil); err != nil {
		t.Fatal(err)
	}
	if v := resp.Header("content-type"); string(v) != "text/plain" {
		t.Errorf("Header(content-type) = %q", v)
	}
	if v := resp.Header("Server"); v != nil {
		t.Errorf("Header(Server) = %q", v)
	}
}

func TestStatusText(t *testing.T) {
	// nginx's wording where ALB's pages show it (spec §2.4) or nginx has it.
	nginx := map[int]string{
		200: "OK", 302: "Moved Temporarily", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
		405: "Not Allowed", 408: "Request Time-out", 413: "Request Entity Too Large",
		414: "Request-URI Too Large", 416: "Requested Range Not Satisfiable", 500: "Internal Server Error",
		501: "Not Implemented", 502: "Bad Gateway", 503: "Service Temporarily Unavailable",
		504: "Gateway Time-out", 505: "HTTP Version Not Supported", 507: "Insufficient Storage",
	}
	for code, want := range nginx {
		if got := StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want %q", code, got, want)
		}
	}
	// ALB's own codes have no phrase anywhere.
	for _, code := range []int{460, 463, 464, 561, 0, 99, 600, 999} {
		if got := StatusText(code); got != "" {
			t.Errorf("StatusText(%d) = %q, want empty", code, got)
		}
	}
	// Everything nginx lacks reads as net/http has it.
	for code := 100; code < 600; code++ {
		if nginxStatusText(code) != "" {
			continue
		}
		if got, want := StatusText(code), http.StatusText(code); got != want {
			t.Errorf("StatusText(%d) = %q, want net/http's %q", code, got, want)
		}
	}
}
