package http1

import (
	"strings"
	"testing"
)

// The hot path must not allocate (ARCHITECTURE.md principle 6). These tests
// pin it: parsing realistic heads with a warm Request/Response, scanning a
// chunked body, and the helpers the proxy calls per header.

func TestParseRequestAllocs(t *testing.T) {
	heads := []string{
		browserGET,
		"POST /api/v1/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n" +
			"Content-Length: 512\r\nAuthorization: Bearer abc.def.ghi\r\nX-Request-Id: 1234\r\n" +
			"X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\nAccept: */*\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n" +
			"User-Agent: curl/8.5.0\r\nX-Amzn-Trace-Id: Root=1-67891233-abcdef012345678912345678\r\n\r\n",
		"PUT /upload HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\nX-Folded: a\n b\n\n",
	}
	for _, head := range heads {
		// A fresh copy for every call: the parser rewrites obs-folds in place.
		orig, buf := []byte(head), make([]byte, len(head))
		var req Request
		copy(buf, orig)
		if err := ParseRequest(buf, &req); err != nil { // warm: Headers grows once
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			copy(buf, orig)
			if err := ParseRequest(buf, &req); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("ParseRequest allocates %v times per call on %q", allocs, head[:20])
		}
	}
}

func TestParseErrorsDoNotAllocate(t *testing.T) {
	var req Request
	var resp Response
	bad := [][]byte{
		[]byte("GET / HTTP/1.1\r\nTransfer-Encoding\r\n\r\n"),
		[]byte("GET / HTTP/2.0\r\n\r\n"),
		[]byte("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
		[]byte("GET / HTTP/1.1\r\nA: b"),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, b := range bad {
			if ParseRequest(b, &req) == nil {
				t.Fatal("accepted")
			}
			if ParseResponse(b, &resp, nil) == nil {
				t.Fatal("accepted")
			}
		}
	})
	if allocs != 0 {
		t.Errorf("rejecting heads allocates %v times", allocs)
	}
}

func TestParseResponseAllocs(t *testing.T) {
	buf := []byte(targetResponse)
	method := []byte("HEAD")
	var resp Response
	if err := ParseResponse(buf, &resp, method); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := ParseResponse(buf, &resp, method); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseResponse allocates %v times per call", allocs)
	}
}

func TestChunkedScannerAllocs(t *testing.T) {
	buf := []byte(strings.Repeat("400\r\n"+strings.Repeat("x", 1024)+"\r\n", 8) +
		strings.Repeat("7;x=\"y\";z=1\r\n1234567\r\n", 3) +
		"0\r\nA: b\r\nB: c\r\n\r\n")
	var s ChunkedScanner
	allocs := testing.AllocsPerRun(100, func() {
		s.Reset()
		for p := buf; len(p) > 0; {
			n, done, err := s.Scan(p[:min(len(p), 1000)])
			if err != nil {
				t.Fatal(err)
			}
			p = p[n:]
			if done {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("ChunkedScanner allocates %v times per body", allocs)
	}
}

func TestHelpersAllocs(t *testing.T) {
	var req Request
	if err := ParseRequest([]byte(browserGET), &req); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, h := range req.Headers {
			_ = IsHopByHop(h.Name)
			_ = EqualFold(h.Name, "X-Forwarded-For")
			_ = HasToken(h.Value, "close")
		}
		_ = req.Header("User-Agent")
		_ = StatusText(503)
	})
	if allocs != 0 {
		t.Errorf("helpers allocate %v times", allocs)
	}
}
