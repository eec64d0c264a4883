package http1

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// parse runs ParseRequest on a private copy of s (the parser may rewrite folds).
func parse(t *testing.T, s string) (*Request, error) {
	t.Helper()
	var req Request
	err := ParseRequest([]byte(s), &req)
	return &req, err
}

// statusOf returns the status of an *Error, -1 for ErrIncomplete, 0 for nil and
// fails the test for anything else.
func statusOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	if err == ErrIncomplete {
		return -1
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is neither ErrIncomplete nor *Error", err, err)
	}
	return e.Status
}

func TestParseRequestAccepts(t *testing.T) {
	type want struct {
		method, target, proto string
		major, minor          int
		body                  BodyKind
		cl                    int64
		keep                  bool
		headLen               int // 0: the whole input
		headers               [][2]string
	}
	tests := []struct {
		name string
		in   string
		want want
	}{
		{"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"Host", "a"}}}},
		{"no headers", "GET / HTTP/1.1\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n",
			want{"GET", "/", "HTTP/1.0", 1, 0, BodyNone, 0, false, 0, nil}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want{"GET", "/", "HTTP/1.0", 1, 0, BodyNone, 0, true, 0, [][2]string{{"Connection", "Keep-Alive"}}}},
		{"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
			want{"GET", "/", "HTTP/1.0", 1, 0, BodyNone, 0, false, 0, [][2]string{{"Connection", "keep-alive, close"}}}},
		{"HTTP/1.1 close", "GET / HTTP/1.1\r\nConnection: foo\r\nconnection: CLOSE\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, false, 0, [][2]string{{"Connection", "foo"}, {"connection", "CLOSE"}}}},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", want{"GET", "/", "HTTP/1.2", 1, 2, BodyNone, 0, true, 0, nil}},
		{"HTTP/1.9", "GET / HTTP/1.9\r\n\r\n", want{"GET", "/", "HTTP/1.9", 1, 9, BodyNone, 0, true, 0, nil}},
		{"HTTP/0.9", "GET /path\r\n", want{"GET", "/path", "", 0, 9, BodyNone, 0, false, 0, nil}},
		{"HTTP/0.9 bare LF", "GET /path\nrest", want{"GET", "/path", "", 0, 9, BodyNone, 0, false, len("GET /path\n"), nil}},
		{"leading CRLF", "\r\n\r\nGET / HTTP/1.1\r\n\r\n", want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"leading LF", "\n\nGET / HTTP/1.1\r\n\r\n", want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"space in target", "GET /a b HTTP/1.1\r\n\r\n", want{"GET", "/a b", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"spaces around target", "GET  /a  HTTP/1.1\r\n\r\n", want{"GET", " /a ", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"control char in target", "GET /a\x01\tb HTTP/1.1\r\n\r\n", want{"GET", "/a\x01\tb", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"obs-text in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", want{"GET", "/caf\xc3\xa9", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"absolute-form", "GET http://example.com:8080/x?y=1 HTTP/1.1\r\nHost: other\r\n\r\n",
			want{"GET", "http://example.com:8080/x?y=1", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"Host", "other"}}}},
		{"authority-form", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", want{"CONNECT", "example.com:443", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"asterisk-form", "OPTIONS * HTTP/1.1\r\n\r\n", want{"OPTIONS", "*", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"extension method", "M-SEARCH* * HTTP/1.1\r\n\r\n", want{"M-SEARCH*", "*", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, nil}},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"Host", "a"}}}},
		{"mixed line ends", "GET / HTTP/1.1\r\nHost: a\n\r\n", want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"Host", "a"}}}},
		{"value whitespace trimmed", "GET / HTTP/1.1\r\nA: \t x y \t\r\nB:z\r\nC:\r\nD: \r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "x y"}, {"B", "z"}, {"C", ""}, {"D", ""}}}},
		{"control and obs-text in value", "GET / HTTP/1.1\r\nA: x\x01\x7f\xff y\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "x\x01\x7f\xff y"}}}},
		{"colon in value", "GET / HTTP/1.1\r\nA: b:c: d\r\n\r\n", want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "b:c: d"}}}},
		{"underscore name", "GET / HTTP/1.1\r\nTransfer_Encoding: chunked\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"Transfer_Encoding", "chunked"}}}},
		{"obs-fold", "GET / HTTP/1.1\r\nA: x\r\n  y\r\nB: z\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "x    y"}, {"B", "z"}}}},
		{"obs-fold twice, bare LF, tab", "GET / HTTP/1.1\nA: x \n\ty\r\n z\n\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "x  \ty   z"}}}},
		{"obs-fold after empty value", "GET / HTTP/1.1\r\nA:\r\n y\r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "y"}}}},
		{"whitespace-only continuation", "GET / HTTP/1.1\r\nA: x\r\n \r\n\r\n",
			want{"GET", "/", "HTTP/1.1", 1, 1, BodyNone, 0, true, 0, [][2]string{{"A", "x"}}}},
		{"Content-Length", "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyLength, 5, true, len("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"), [][2]string{{"Content-Length", "5"}}}},
		{"Content-Length 0", "POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyLength, 0, true, 0, [][2]string{{"content-length", "0"}}}},
		{"Content-Length leading zeros", "POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyLength, 7, true, 0, [][2]string{{"Content-Length", "007"}}}},
		{"Content-Length max", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyLength, 1<<63 - 1, true, 0, [][2]string{{"Content-Length", "9223372036854775807"}}}},
		{"duplicate Content-Length", "POST / HTTP/1.1\r\nContent-Length: 42\r\nContent-Length:  42 \r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyLength, 42, true, 0, [][2]string{{"Content-Length", "42"}, {"Content-Length", "42"}}}},
		{"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyChunked, 0, true, 0, [][2]string{{"Transfer-Encoding", "chunked"}}}},
		{"chunked any case", "POST / HTTP/1.1\r\ntransfer-encoding: ChUnKeD\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyChunked, 0, true, 0, [][2]string{{"transfer-encoding", "ChUnKeD"}}}},
		{"identity then chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: identity, chunked\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyChunked, 0, true, 0, [][2]string{{"Transfer-Encoding", "identity, chunked"}}}},
		{"chunked then identity field", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyChunked, 0, true, 0, [][2]string{{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "identity"}}}},
		{"empty list elements", "POST / HTTP/1.1\r\nTransfer-Encoding: , chunked ,\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyChunked, 0, true, 0, [][2]string{{"Transfer-Encoding", ", chunked ,"}}}},
		{"identity only", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyLength, 3, true, 0, [][2]string{{"Transfer-Encoding", "identity"}, {"Content-Length", "3"}}}},
		{"TE and CL: TE wins", "POST / HTTP/1.1\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
			want{"POST", "/", "HTTP/1.1", 1, 1, BodyChunked, 0, true, 0, [][2]string{{"Content-Length", "10"}, {"Transfer-Encoding", "chunked"}}}},
		{"TE in HTTP/1.0 closes", "POST / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
			want{"POST", "/", "HTTP/1.0", 1, 0, BodyChunked, 0, false, 0, [][2]string{{"Connection", "keep-alive"}, {"Transfer-Encoding", "chunked"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parse(t, tt.in)
			if err != nil {
				t.Fatalf("ParseRequest(%q) = %v", tt.in, err)
			}
			w := tt.want
			if w.headLen == 0 {
				w.headLen = len(tt.in)
			}
			if string(req.Method) != w.method || string(req.Target) != w.target || string(req.Proto) != w.proto {
				t.Errorf("request line = %q %q %q, want %q %q %q", req.Method, req.Target, req.Proto, w.method, w.target, w.proto)
			}
			if req.Major != w.major || req.Minor != w.minor {
				t.Errorf("version = %d.%d, want %d.%d", req.Major, req.Minor, w.major, w.minor)
			}
			if req.Body != w.body || req.ContentLength != w.cl {
				t.Errorf("body = %v %d, want %v %d", req.Body, req.ContentLength, w.body, w.cl)
			}
			if req.KeepAlive != w.keep {
				t.Errorf("KeepAlive = %v, want %v", req.KeepAlive, w.keep)
			}
			if req.HeadLen != w.headLen {
				t.Errorf("HeadLen = %d, want %d", req.HeadLen, w.headLen)
			}
			if got := headerPairs(req.Headers); !equalPairs(got, w.headers) {
				t.Errorf("headers = %q, want %q", got, w.headers)
			}
			if w.proto == "" && req.Proto != nil {
				t.Errorf("Proto = %q, want nil", req.Proto)
			}
		})
	}
}

func headerPairs(hs []Header) [][2]string {
	var out [][2]string
	for _, h := range hs {
		out = append(out, [2]string{string(h.Name), string(h.Value)})
	}
	return out
}

func equalPairs(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseRequestDerivedFields(t *testing.T) {
	tests := []struct {
		name                          string
		in                            string
		host                          string
		hostCount                     int
		expect, upgrade, fold, bareLF bool
	}{
		{"no host", "GET / HTTP/1.1\r\n\r\n", "", 0, false, false, false, false},
		{"two hosts", "GET / HTTP/1.1\r\nhost: a\r\nHOST: b\r\n\r\n", "a", 2, false, false, false, false},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", "", 1, false, false, false, false},
		{"100-continue", "PUT / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", "", 0, true, false, false, false},
		{"other expectation", "PUT / HTTP/1.1\r\nExpect: 100-continue, foo\r\n\r\n", "", 0, false, false, false, false},
		{"websocket upgrade", "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", "", 0, false, true, false, false},
		{"upgrade token in second field", "GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n", "", 0, false, true, false, false},
		{"Upgrade header without token", "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "", 0, false, false, false, false},
		{"token without Upgrade header", "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", "", 0, false, false, false, false},
		{"fold", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "", 0, false, false, true, false},
		{"bare LF in request line", "GET / HTTP/1.1\n\r\n", "", 0, false, false, false, true},
		{"bare LF in final line", "GET / HTTP/1.1\r\n\n", "", 0, false, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parse(t, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(req.Host) != tt.host || req.HostCount != tt.hostCount {
				t.Errorf("Host = %q ×%d, want %q ×%d", req.Host, req.HostCount, tt.host, tt.hostCount)
			}
			if tt.hostCount == 0 && req.Host != nil {
				t.Errorf("Host = %q, want nil", req.Host)
			}
			if req.ExpectContinue != tt.expect || req.Upgrade != tt.upgrade {
				t.Errorf("ExpectContinue, Upgrade = %v, %v, want %v, %v", req.ExpectContinue, req.Upgrade, tt.expect, tt.upgrade)
			}
			if req.ObsFold != tt.fold || req.BareLF != tt.bareLF {
				t.Errorf("ObsFold, BareLF = %v, %v, want %v, %v", req.ObsFold, req.BareLF, tt.fold, tt.bareLF)
			}
		})
	}
}

// requestErrorTests are malformed request heads with the status they get and the
// error expected (nil: any *Error with that status).
var requestErrorTests = []struct {
	name   string
	in     string
	status int
	err    *Error
}{
	// Line ends and bytes no head may contain.
	{"bare CR before request line", "\rGET / HTTP/1.1\r\n\r\n", 400, &requestErrors[errBareCR]},
	{"bare CR in request line", "GET /a\rb HTTP/1.1\r\n\r\n", 400, &requestErrors[errBareCR]},
	{"CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", 400, &requestErrors[errBareCR]},
	{"NUL in target", "GET /a\x00b HTTP/1.1\r\n\r\n", 400, &requestErrors[errNUL]},
	{"NUL in value", "GET / HTTP/1.1\r\nA: x\x00y\r\n\r\n", 400, &requestErrors[errNUL]},
	{"NUL in name", "GET / HTTP/1.1\r\nA\x00: x\r\n\r\n", 400, &requestErrors[errNUL]},
	{"bare CR in value", "GET / HTTP/1.1\r\nA: x\ry\r\n\r\n", 400, &requestErrors[errBareCR]},
	{"bare CR at value end", "GET / HTTP/1.1\r\nA: x\r\r\n\r\n", 400, &requestErrors[errBareCR]},
	{"bare CR as final line", "GET / HTTP/1.1\r\nA: x\r\n\rX", 400, &requestErrors[errBareCR]},

	// Request line.
	{"empty method", " / HTTP/1.1\r\n\r\n", 400, &requestErrors[errBadMethod]},
	{"method with separator", "GE(T / HTTP/1.1\r\n\r\n", 400, &requestErrors[errBadMethod]},
	{"method with tab", "GET\t/ HTTP/1.1\r\n\r\n", 400, &requestErrors[errBadMethod]},
	{"non-ASCII method", "G\xc9T / HTTP/1.1\r\n\r\n", 400, &requestErrors[errBadMethod]},
	{"method only", "GET\r\n\r\n", 400, &requestErrors[errMissingTarget]},
	{"junk line", "\x01\r\n\r\n", 400, &requestErrors[errBadMethod]},
	{"empty target", "GET  HTTP/1.1\r\n\r\n", 400, &requestErrors[errMissingTarget]},
	{"HTTP/0.9 empty target", "GET \r\n", 400, &requestErrors[errMissingTarget]},
	{"lowercase version", "GET / http/1.1\r\n\r\n", 400, &requestErrors[errBadVersion]},
	{"version suffix", "GET / HTTP/1.1x\r\n\r\n", 400, &requestErrors[errBadVersion]},
	{"HTTX", "GET / HTTX/1.1\r\n\r\n", 400, &requestErrors[errBadVersion]},
	{"two-digit major", "GET / HTTP/11.1\r\n\r\n", 400, &requestErrors[errBadVersion]},
	{"short version", "GET / HTTP/1\r\n\r\n", 400, &requestErrors[errBadVersion]},
	{"space in 0.9 target", "GET /a b\r\n", 400, &requestErrors[errBadVersion]},
	{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505, &requestErrors[errUnsupportedVersion]},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, &requestErrors[errUnsupportedVersion]},
	{"HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n\r\n", 505, &requestErrors[errUnsupportedVersion]},
	{"HTTP/3.0", "GET / HTTP/3.0\r\n\r\n", 505, &requestErrors[errUnsupportedVersion]},

	// Field lines.
	{"missing colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400, &requestErrors[errMissingColon]},
	{"missing colon bare LF", "GET / HTTP/1.1\nHost\n\n", 400, &requestErrors[errMissingColon]},
	{"NUL in name", "GET / HTTP/1.1\r\nA\x00b: x\r\n\r\n", 400, &requestErrors[errNUL]},
	{"bare CR in name", "GET / HTTP/1.1\r\nA\rb: x\r\n\r\n", 400, &requestErrors[errMissingColon]},
	{"whitespace line before first field", "GET / HTTP/1.1\r\n \r\n\r\n", 400, &requestErrors[errMissingColon]},

	// Content-Length.
	{"CL not a number", "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL plus", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL inner space", "POST / HTTP/1.1\r\nContent-Length: 1 0\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL list", "POST / HTTP/1.1\r\nContent-Length: 1000,1000\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL list with space", "POST / HTTP/1.1\r\nContent-Length: 42, 42\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL hex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL overflow", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL folded", "POST / HTTP/1.1\r\nContent-Length: 1\r\n 0\r\n\r\n", 400, &requestErrors[errBadContentLength]},
	{"CL conflicting", "POST / HTTP/1.1\r\nContent-Length: 1000\r\nContent-Length: 100\r\n\r\n", 400, &requestErrors[errConflictingContentLength]},
	{"CL same number, other spelling", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", 400, &requestErrors[errConflictingContentLength]},
	{"bad CL with chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: x\r\n\r\n", 400, &requestErrors[errBadContentLength]},

	// Transfer-Encoding.
	{"TE gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE chunked not last", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE chunked with parameter", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE empty", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE only commas", "POST / HTTP/1.1\r\nTransfer-Encoding: , ,\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE quoted", "POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE unknown in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: xchunked\r\n\r\n", 501, &requestErrors[errUnsupportedTransferEncoding]},
	{"TE chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400, &requestErrors[errChunkedTwice]},
	{"TE chunked in two fields", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400, &requestErrors[errChunkedTwice]},
}

func TestParseRequestErrors(t *testing.T) {
	for _, tt := range requestErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.in)
			if got := statusOf(t, err); got != tt.status {
				t.Fatalf("ParseRequest(%q) = %v (status %d), want status %d", tt.in, err, got, tt.status)
			}
			if tt.err != nil && err != error(tt.err) {
				t.Errorf("ParseRequest(%q) = %v, want %v", tt.in, err, tt.err)
			}
		})
	}
}

// TestParseRequestErrorPrefixes checks that every prefix of a malformed head is
// either incomplete or already the same error: never a different verdict.
func TestParseRequestErrorPrefixes(t *testing.T) {
	for _, tt := range requestErrorTests {
		_, full := parse(t, tt.in)
		for i := 0; i < len(tt.in); i++ {
			_, err := parse(t, tt.in[:i])
			if err != ErrIncomplete && err != full {
				t.Errorf("%s: prefix %q: %v, want ErrIncomplete or %v", tt.name, tt.in[:i], err, full)
			}
		}
	}
}

// validRequests are well-formed heads used by the split, pipelining and
// in-place tests.
var validRequests = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"\r\nGET /x?y HTTP/1.0\nUser-Agent: t\n\n",
	"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nX-Long: a\r\n  b\r\n\tc\r\nY: z\r\n\r\n",
	"GET /path\r\n",
	browserGET,
}

func TestParseRequestEverySplit(t *testing.T) {
	for _, in := range validRequests {
		var want Request
		if err := ParseRequest([]byte(in), &want); err != nil {
			t.Fatalf("ParseRequest(%q) = %v", in, err)
		}
		for i := 0; i < want.HeadLen; i++ {
			buf := []byte(in[:i])
			var req Request
			if err := ParseRequest(buf, &req); err != ErrIncomplete {
				t.Errorf("ParseRequest(%q) = %v, want ErrIncomplete", in[:i], err)
			}
			if string(buf) != in[:i] {
				t.Errorf("ParseRequest(%q) modified the buffer on ErrIncomplete: %q", in[:i], buf)
			}
		}
	}
}

func TestParseRequestPipelined(t *testing.T) {
	first := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
	body := "hello"
	second := "GET /b HTTP/1.1\r\nHost: y\r\n\r\n"
	third := "GET /c HTTP/1.1\r\nHost: z\r\nConnection: close\r\n\r\n"
	buf := []byte(first + body + second + third)

	var req Request
	if err := ParseRequest(buf, &req); err != nil {
		t.Fatal(err)
	}
	if req.HeadLen != len(first) || string(req.Target) != "/a" || req.ContentLength != 5 {
		t.Fatalf("first: HeadLen %d target %q CL %d", req.HeadLen, req.Target, req.ContentLength)
	}
	rest := buf[req.HeadLen+int(req.ContentLength):]
	if err := ParseRequest(rest, &req); err != nil {
		t.Fatal(err)
	}
	if req.HeadLen != len(second) || string(req.Target) != "/b" || string(req.Host) != "y" {
		t.Fatalf("second: HeadLen %d target %q host %q", req.HeadLen, req.Target, req.Host)
	}
	rest = rest[req.HeadLen:]
	if err := ParseRequest(rest, &req); err != nil {
		t.Fatal(err)
	}
	if req.HeadLen != len(third) || string(req.Target) != "/c" || req.KeepAlive {
		t.Fatalf("third: HeadLen %d target %q keep %v", req.HeadLen, req.Target, req.KeepAlive)
	}
}

// TestParseRequestReuse checks that a reused Request carries nothing over.
func TestParseRequestReuse(t *testing.T) {
	var req Request
	if err := ParseRequest([]byte("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nConnection: upgrade\r\nUpgrade: x\r\nContent-Length: 3\r\nA: b\r\n c\r\n\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	if err := ParseRequest([]byte("GET / HTTP/1.1\r\n\r\n"), &req); err != nil {
		t.Fatal(err)
	}
	want := Request{Method: []byte("GET"), Target: []byte("/"), Proto: []byte("HTTP/1.1"), Major: 1, Minor: 1,
		HeadLen: len("GET / HTTP/1.1\r\n\r\n"), KeepAlive: true}
	if len(req.Headers) != 0 || req.Host != nil || req.HostCount != 0 || req.Body != BodyNone || req.ContentLength != 0 ||
		req.ExpectContinue || req.Upgrade || req.ObsFold || req.BareLF || req.HeadLen != want.HeadLen || !req.KeepAlive {
		t.Errorf("reused request carries state: %+v", req)
	}
}

// TestParseRequestCapsSlices checks that appending to a parsed slice cannot
// overwrite the rest of the buffer.
func TestParseRequestCapsSlices(t *testing.T) {
	buf := []byte("GET /x HTTP/1.1\r\nA: b\r\n\r\n")
	var req Request
	if err := ParseRequest(buf, &req); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][]byte{req.Method, req.Target, req.Proto, req.Headers[0].Name, req.Headers[0].Value} {
		if cap(s) != len(s) {
			t.Errorf("slice %q has capacity %d beyond its length", s, cap(s))
		}
	}
}

func TestRequestLimits(t *testing.T) {
	// line returns a request line of exactly n bytes, CRLF included.
	line := func(n int) string {
		fixed := len("GET / HTTP/1.1\r\n")
		return "GET /" + strings.Repeat("a", n-fixed) + " HTTP/1.1\r\n"
	}
	// field returns a header line of exactly n bytes, CRLF included.
	field := func(n int) string {
		return "X-Pad: " + strings.Repeat("v", n-len("X-Pad: \r\n")) + "\r\n"
	}
	// head returns a head of exactly n bytes.
	head := func(n int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\n")
		for n-b.Len()-2 > 10000 {
			b.WriteString(field(10000))
		}
		b.WriteString(field(n - b.Len() - 2))
		b.WriteString("\r\n")
		return b.String()
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"request line at limit", line(MaxRequestLine) + "\r\n", nil},
		{"request line over limit", line(MaxRequestLine+1) + "\r\n", &requestErrors[errStartLineTooLong]},
		{"request line at limit, bare LF", line(MaxRequestLine + 1)[:MaxRequestLine-1] + "\n\n", nil},
		{"request line without end, at limit", line(MaxRequestLine + 10)[:MaxRequestLine], &requestErrors[errStartLineTooLong]},
		{"request line without end, under limit", line(MaxRequestLine + 10)[:MaxRequestLine-1], ErrIncomplete},
		{"request line CR at limit", line(MaxRequestLine + 1)[:MaxRequestLine], &requestErrors[errStartLineTooLong]},
		{"HTTP/0.9 line over limit", "GET /" + strings.Repeat("a", MaxRequestLine), &requestErrors[errStartLineTooLong]},
		{"field at limit", "GET / HTTP/1.1\r\n" + field(MaxHeaderLine) + "\r\n", nil},
		{"field over limit", "GET / HTTP/1.1\r\n" + field(MaxHeaderLine+1) + "\r\n", &requestErrors[errHeaderLineTooLong]},
		{"field without end, at limit", "GET / HTTP/1.1\r\n" + field(MaxHeaderLine + 10)[:MaxHeaderLine], &requestErrors[errHeaderLineTooLong]},
		{"field without end, under limit", "GET / HTTP/1.1\r\n" + field(MaxHeaderLine + 10)[:MaxHeaderLine-1], ErrIncomplete},
		{"name without colon, at limit", "GET / HTTP/1.1\r\n" + strings.Repeat("n", MaxHeaderLine), &requestErrors[errHeaderLineTooLong]},
		{"name without colon, under limit", "GET / HTTP/1.1\r\n" + strings.Repeat("n", MaxHeaderLine-1), ErrIncomplete},
		{"fold line over limit", "GET / HTTP/1.1\r\nA: b\r\n" + " " + field(MaxHeaderLine), &requestErrors[errHeaderLineTooLong]},
		{"head at limit", head(MaxRequestHead), nil},
		{"head over limit", head(MaxRequestHead + 1), &requestErrors[errHeadTooLarge]},
		{"head without end, at limit", head(MaxRequestHead + 100)[:MaxRequestHead], &requestErrors[errHeadTooLarge]},
		{"head without end, under limit", head(MaxRequestHead + 100)[:MaxRequestHead-1], ErrIncomplete},
		{"head at limit with leading CRLF", "\r\n" + head(MaxRequestHead-2), nil},
		{"head over limit with leading CRLF", "\r\n" + head(MaxRequestHead-1), &requestErrors[errHeadTooLarge]},
		{"only empty lines", strings.Repeat("\r\n", MaxRequestHead/2), &requestErrors[errHeadTooLarge]},
		{"only empty lines, under limit", strings.Repeat("\r\n", MaxRequestHead/2-1), ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req Request
			err := ParseRequest([]byte(tt.in), &req)
			if err != tt.want {
				t.Fatalf("ParseRequest = %v, want %v", err, tt.want)
			}
			if err == nil && req.HeadLen != len(tt.in) {
				t.Errorf("HeadLen = %d, want %d", req.HeadLen, len(tt.in))
			}
		})
	}
	if n := len(head(MaxRequestHead)); n != MaxRequestHead {
		t.Fatalf("test helper: head is %d bytes", n)
	}
}

func TestParseRequestManyHeaders(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("GET / HTTP/1.1\r\n")
	for i := range 1000 {
		b.WriteString("X-H" + strconv.Itoa(i) + ": v\r\n")
	}
	b.WriteString("\r\n")
	var req Request
	if err := ParseRequest(b.Bytes(), &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Headers) != 1000 || string(req.Headers[999].Name) != "X-H999" {
		t.Fatalf("got %d headers", len(req.Headers))
	}
}

// TestParseRequestKeepsRawNames checks that request header names that are not
// tokens reach the caller as received, for the desync classifier, while
// response heads still refuse them.
func TestParseRequestKeepsRawNames(t *testing.T) {
	tests := []struct {
		name, in, field string
	}{
		{"space before colon", "GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n", "Transfer-Encoding "},
		{"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "Host\t"},
		{"space in name", "GET / HTTP/1.1\r\nTransfer- Encoding: chunked\r\n\r\n", "Transfer- Encoding"},
		{"empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", ""},
		{"separator in name", "GET / HTTP/1.1\r\nA(b: x\r\n\r\n", "A(b"},
		{"non-ASCII name", "GET / HTTP/1.1\r\nTransfer-Encod\xc4\xb1ng: chunked\r\n\r\n", "Transfer-Encod\xc4\xb1ng"},
		{"control in name", "GET / HTTP/1.1\r\n\x01Transfer-Encoding: chunked\r\n\r\n", "\x01Transfer-Encoding"},
		{"underscore", "GET / HTTP/1.1\r\nContent_Length: 5\r\n\r\n", "Content_Length"},
		{"whitespace before the first name", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", " Host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := parse(t, tt.in)
			if err != nil {
				t.Fatalf("ParseRequest(%q) = %v", tt.in, err)
			}
			if len(req.Headers) != 1 || string(req.Headers[0].Name) != tt.field {
				t.Fatalf("%d headers (first %q), want one named %q", len(req.Headers), req.Headers[0].Name, tt.field)
			}
			// Look-alikes do not frame the message: only the real names do.
			if req.Body != BodyNone || req.HostCount != 0 {
				t.Errorf("Body %v, HostCount %d: a look-alike name was interpreted", req.Body, req.HostCount)
			}
			var resp Response
			in := "HTTP/1.1 200 OK" + tt.in[len("GET / HTTP/1.1"):]
			if err := ParseResponse([]byte(in), &resp, nil); err == nil && !isToken([]byte(tt.field)) {
				t.Errorf("ParseResponse accepted field name %q", tt.field)
			}
		})
	}
}

func TestParseRequestVersionTrailingSpace(t *testing.T) {
	req, err := parse(t, "GET /a b HTTP/1.1 \t\r\nHost: x\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if string(req.Target) != "/a b" || string(req.Proto) != "HTTP/1.1" || string(req.RawProto) != "HTTP/1.1 \t" || req.Minor != 1 {
		t.Errorf("target %q proto %q raw %q minor %d", req.Target, req.Proto, req.RawProto, req.Minor)
	}
	req, err = parse(t, "GET /a \r\n")
	if err != nil || req.Major != 0 || string(req.Target) != "/a" || req.RawProto != nil {
		t.Errorf("HTTP/0.9 with trailing space: %v, %d.%d target %q raw %q", err, req.Major, req.Minor, req.Target, req.RawProto)
	}
}

func TestParseRequestFoldedFlag(t *testing.T) {
	req, err := parse(t, "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n 3\r\nC: 4\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if req.Headers[0].Folded || !req.Headers[1].Folded || req.Headers[2].Folded || !req.ObsFold {
		t.Errorf("Folded = %v %v %v, ObsFold %v", req.Headers[0].Folded, req.Headers[1].Folded, req.Headers[2].Folded, req.ObsFold)
	}
}

// TestFramingErrorsKeepTheHead checks that an error about the body length comes
// after the whole head was parsed (Complete), so that it can be classified,
// while other errors are not Complete.
func TestFramingErrorsKeepTheHead(t *testing.T) {
	for _, tt := range requestErrorTests {
		req, err := parse(t, tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("%s: %v", tt.name, err)
		}
		framing := e == &requestErrors[errBadContentLength] || e == &requestErrors[errConflictingContentLength] ||
			e == &requestErrors[errChunkedTwice] || e == &requestErrors[errUnsupportedTransferEncoding]
		if e.Complete != framing {
			t.Errorf("%s: Complete = %v", tt.name, e.Complete)
		}
		if e.Complete && (req.HeadLen != len(tt.in) || len(req.Headers) == 0 || string(req.Method) == "") {
			t.Errorf("%s: Complete error but HeadLen %d of %d, %d headers", tt.name, req.HeadLen, len(tt.in), len(req.Headers))
		}
	}
}
