package http1

import (
	"strings"
	"testing"
)

func parseResp(s, method string) (*Response, error) {
	var resp Response
	err := ParseResponse([]byte(s), &resp, []byte(method))
	return &resp, err
}

func TestParseResponseAccepts(t *testing.T) {
	tests := []struct {
		name, in, method string
		status           int
		reason           string
		minor            int
		body             BodyKind
		cl               int64
		keep             bool
		timeout          int
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 12, true, 0},
		{"length 0", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 0, true, 0},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n", "GET", 200, "OK", 1, BodyUntilClose, 0, false, 0},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "OK", 1, BodyChunked, 0, true, 0},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET", 200, "OK", 1, BodyChunked, 0, true, 0},
		{"gzip then chunked fields", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "OK", 1, BodyChunked, 0, true, 0},
		{"chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 5\r\n\r\n", "GET", 200, "OK", 1, BodyUntilClose, 0, false, 0},
		{"gzip only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET", 200, "OK", 1, BodyUntilClose, 0, false, 0},
		{"empty TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "GET", 200, "OK", 1, BodyUntilClose, 0, false, 0},
		{"identity only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 3, true, 0},
		{"TE and CL", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "OK", 1, BodyChunked, 0, true, 0},
		{"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD", 200, "OK", 1, BodyNone, 0, true, 0},
		{"HEAD chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", 200, "OK", 1, BodyNone, 0, true, 0},
		{"HEAD no length", "HTTP/1.1 200 OK\r\n\r\n", "HEAD", 200, "OK", 1, BodyNone, 0, true, 0},
		{"lowercase head is not HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", "head", 200, "OK", 1, BodyLength, 1, true, 0},
		{"100", "HTTP/1.1 100 Continue\r\n\r\n", "PUT", 100, "Continue", 1, BodyNone, 0, true, 0},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", "GET", 101, "Switching Protocols", 1, BodyNone, 0, true, 0},
		{"204", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", "GET", 204, "No Content", 1, BodyNone, 0, true, 0},
		{"304", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 304, "Not Modified", 1, BodyNone, 0, true, 0},
		{"empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", 200, "", 1, BodyLength, 0, true, 0},
		{"no reason, no SP", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 200, "", 1, BodyLength, 0, true, 0},
		{"reason with spaces", "HTTP/1.1 404 Not  Found \r\nContent-Length: 0\r\n\r\n", "GET", 404, "Not  Found ", 1, BodyLength, 0, true, 0},
		{"599", "HTTP/1.1 599 Whatever\r\nContent-Length: 0\r\n\r\n", "GET", 599, "Whatever", 1, BodyLength, 0, true, 0},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 0, false, 0},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 0, BodyLength, 0, false, 0},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 0, BodyLength, 0, true, 5},
		{"HTTP/1.0 keep-alive until close", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", "GET", 200, "OK", 0, BodyUntilClose, 0, false, 0},
		{"HTTP/1.0 chunked", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", 200, "OK", 0, BodyChunked, 0, false, 0},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 2, BodyLength, 0, true, 0},
		{"keep-alive timeout", "HTTP/1.1 200 OK\r\nKeep-Alive: max=10,  Timeout = 75 \r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 0, true, 75},
		{"keep-alive timeout invalid", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5s\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 0, true, 0},
		{"keep-alive timeout huge", "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=99999999999\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 0, true, 0},
		{"keep-alive first wins", "HTTP/1.1 200 OK\r\nKeep-Alive: max=3\r\nKeep-Alive: timeout=4\r\nKeep-Alive: timeout=9\r\nContent-Length: 0\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 0, true, 4},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\n", "GET", 200, "OK", 1, BodyLength, 2, true, 0},
		{"duplicate CL", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", "GET", 200, "OK", 1, BodyLength, 2, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := parseResp(tt.in, tt.method)
			if err != nil {
				t.Fatalf("ParseResponse(%q) = %v", tt.in, err)
			}
			if resp.Status != tt.status || string(resp.Reason) != tt.reason || resp.Major != 1 || resp.Minor != tt.minor {
				t.Errorf("status line = %d %q %d.%d", resp.Status, resp.Reason, resp.Major, resp.Minor)
			}
			if string(resp.Proto) != tt.in[:8] {
				t.Errorf("Proto = %q", resp.Proto)
			}
			if resp.Body != tt.body || resp.ContentLength != tt.cl {
				t.Errorf("body = %v %d, want %v %d", resp.Body, resp.ContentLength, tt.body, tt.cl)
			}
			if resp.KeepAlive != tt.keep || resp.KeepAliveTimeout != tt.timeout {
				t.Errorf("keep-alive = %v %d, want %v %d", resp.KeepAlive, resp.KeepAliveTimeout, tt.keep, tt.timeout)
			}
			if resp.HeadLen != len(tt.in) {
				t.Errorf("HeadLen = %d, want %d", resp.HeadLen, len(tt.in))
			}
		})
	}
}

var responseErrorTests = []struct {
	name, in string
	err      *Error
}{
	{"empty line first", "\r\nHTTP/1.1 200 OK\r\n\r\n", &responseErrors[errBadStatusLine]},
	{"HTTP/2", "HTTP/2 200\r\n\r\n", &responseErrors[errBadStatusLine]},
	{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n", &responseErrors[errUnsupportedVersion]},
	{"HTTP/0.9 version", "HTTP/0.9 200 OK\r\n\r\n", &responseErrors[errUnsupportedVersion]},
	{"lowercase", "http/1.1 200 OK\r\n\r\n", &responseErrors[errBadVersion]},
	{"ICY", "ICY 200 OK\r\n\r\n", &responseErrors[errBadStatusLine]},
	{"two spaces", "HTTP/1.1  200 OK\r\n\r\n", &responseErrors[errBadStatusCode]},
	{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", &responseErrors[errBadStatusCode]},
	{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", &responseErrors[errBadStatusLine]},
	{"status 099", "HTTP/1.1 099 X\r\n\r\n", &responseErrors[errBadStatusCode]},
	{"status 600", "HTTP/1.1 600 X\r\n\r\n", &responseErrors[errBadStatusCode]},
	{"status with sign", "HTTP/1.1 +20 X\r\n\r\n", &responseErrors[errBadStatusCode]},
	{"tab after status", "HTTP/1.1 200\tOK\r\n\r\n", &responseErrors[errBadStatusLine]},
	{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n", &responseErrors[errNUL]},
	{"CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n", &responseErrors[errBareCR]},
	{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", &responseErrors[errSpaceBeforeColon]},
	{"missing colon", "HTTP/1.1 200 OK\r\nfoo\r\n\r\n", &responseErrors[errMissingColon]},
	{"leading fold", "HTTP/1.1 200 OK\r\n foo: bar\r\n\r\n", &responseErrors[errLeadingFold]},
	{"bad CL", "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", &responseErrors[errBadContentLength]},
	{"bad CL on 304", "HTTP/1.1 304 Not Modified\r\nContent-Length: -1\r\n\r\n", &responseErrors[errBadContentLength]},
	{"bad CL on HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n", &responseErrors[errBadContentLength]},
	{"conflicting CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &responseErrors[errConflictingContentLength]},
	{"conflicting CL with chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", &responseErrors[errConflictingContentLength]},
	{"chunked twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", &responseErrors[errChunkedTwice]},
	{"NUL in value", "HTTP/1.1 200 OK\r\nX: \x00\r\n\r\n", &responseErrors[errNUL]},
}

func TestParseResponseErrors(t *testing.T) {
	for _, tt := range responseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if strings.Contains(tt.name, "HEAD") {
				method = "HEAD"
			}
			_, err := parseResp(tt.in, method)
			if err != error(tt.err) {
				t.Fatalf("ParseResponse(%q) = %v, want %v", tt.in, err, tt.err)
			}
			if tt.err.Status != 502 {
				t.Fatalf("status %d, want 502", tt.err.Status)
			}
			for i := 0; i < len(tt.in); i++ {
				if _, err := parseResp(tt.in[:i], method); err != ErrIncomplete && err != error(tt.err) {
					t.Errorf("prefix %q: %v, want ErrIncomplete or %v", tt.in[:i], err, tt.err)
				}
			}
		})
	}
}

func TestParseResponseEverySplit(t *testing.T) {
	for _, in := range []string{targetResponse, "HTTP/1.1 200\nA: b\n c\n\n", "HTTP/1.0 204 \r\n\r\n"} {
		for i := 0; i < len(in); i++ {
			if _, err := parseResp(in[:i], "GET"); err != ErrIncomplete {
				t.Errorf("ParseResponse(%q) = %v, want ErrIncomplete", in[:i], err)
			}
		}
		if _, err := parseResp(in, "GET"); err != nil {
			t.Errorf("ParseResponse(%q) = %v", in, err)
		}
	}
}

func TestParseResponseFollowedByBody(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n"
	resp, err := parseResp(in, "GET")
	if err != nil {
		t.Fatal(err)
	}
	rest := in[resp.HeadLen+int(resp.ContentLength):]
	if resp, err = parseResp(rest, "GET"); err != nil || resp.Status != 204 || resp.HeadLen != len(rest) {
		t.Fatalf("second response: %v %+v", err, resp)
	}
}

func TestResponseLimits(t *testing.T) {
	head := func(n int) string {
		start := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
		pad := n - len(start) - len("X: \r\n\r\n")
		return start + "X: " + strings.Repeat("v", pad) + "\r\n\r\n"
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"at limit", head(MaxResponseHead), nil},
		{"over limit", head(MaxResponseHead + 1), &responseErrors[errHeadTooLarge]},
		{"no end at limit", head(MaxResponseHead + 10)[:MaxResponseHead], &responseErrors[errHeadTooLarge]},
		{"no end under limit", head(MaxResponseHead + 10)[:MaxResponseHead-1], ErrIncomplete},
		{"status line over limit", "HTTP/1.1 200 " + strings.Repeat("r", MaxResponseHead), &responseErrors[errStartLineTooLong]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseResp(tt.in, "GET"); err != tt.want {
				t.Fatalf("ParseResponse = %v, want %v", err, tt.want)
			}
		})
	}
}
