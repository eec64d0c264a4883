package proxy

import (
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"github.com/albatross-lb/albatross/internal/h2"
	"github.com/albatross-lb/albatross/internal/http1"
)

// orderOnly is the one method of a stream's response writer that rendering a
// request head uses: the order the client sent its fields in.
type orderOnly struct {
	streamWriter
	order []string
}

func (o orderOnly) HeaderOrder() []string { return o.order }

// streamRequest builds a request as internal/h2 hands it over: canonical
// names in a map, the order of first arrival beside it. fields holds one
// "name:value" per line, names in HTTP/2's lower case.
func streamRequest(method, target, host, fields string, contentLength int64) (*http.Request, []string) {
	r := &http.Request{Method: method, RequestURI: target, Host: host, Header: http.Header{}, ContentLength: contentLength}
	var order []string
	for _, line := range strings.Split(fields, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			continue
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if _, seen := r.Header[key]; !seen {
			order = append(order, key)
		}
		r.Header[key] = append(r.Header[key], value)
	}
	return r, order
}

// checkRenderedHead renders a stream's request head both ways and reports
// whether the fast way (renderHead) was taken; when it was, its bytes must be
// the ones the parser would have been given and its Request the one
// http1.ParseRequest parses from them.
func checkRenderedHead(t *testing.T, method, target, host, fields string, contentLength int64) bool {
	t.Helper()
	r, order := streamRequest(method, target, host, fields, contentLength)
	bytesWay := &streamConn{w: orderOnly{order: order}, r: r}
	bytesWay.headBytes()
	fast := &streamConn{w: orderOnly{order: order}, r: r}
	c := &conn{work: &work{buf: make([]byte, initialBufSize)}}
	if !fast.renderHead(c) {
		return false
	}
	head := c.buf[c.r:c.w]
	if string(head) != string(bytesWay.head) {
		t.Fatalf("rendered head\n%q\ndiffers from the bytes the parser gets\n%q", head, bytesWay.head)
	}
	var want http1.Request
	if err := http1.ParseRequest(bytesWay.head, &want); err != nil {
		t.Fatalf("rendered a head ParseRequest refuses (%v):\n%q", err, head)
	}
	if !reflect.DeepEqual(c.req, want) {
		t.Fatalf("head %q\nrendered as %+v\nparsed as   %+v", head, c.req, want)
	}
	if fast.chunked != bytesWay.chunked || fast.bodyDone.Load() != bytesWay.bodyDone.Load() {
		t.Fatalf("head %q: body framing differs between the two ways", head)
	}
	return true
}

// TestRenderedStreamHeadIsParsed: an HTTP/2 request's head, rendered into the
// read buffer with its parse filled in, is what the parser would have made of
// the same bytes, and the common requests take that way.
func TestRenderedStreamHeadIsParsed(t *testing.T) {
	cases := []struct {
		method, target, host, fields string
		contentLength                int64
		fast                         bool
	}{
		{"GET", "/", "example.com", "user-agent:h2load\naccept:*/*", 0, true},
		{"GET", "/a?b=c&d", "example.com:8443", "", 0, true},
		{"HEAD", "/x", "", "accept-encoding:gzip", 0, true},
		{"POST", "/upload", "h", "content-type:application/json\ncontent-length:12", 12, true},
		{"POST", "/stream", "h", "content-type:application/grpc\nte:trailers", -1, true},
		{"PUT", "/empty", "h", "content-length:0", 0, true},
		{"GET", "/", "h", "x-a: padded \t\nx-b:\nx-a:again\ncookie:a=1; b=2", 0, true},
		{"GET", "/", "h", "connection-token:x\nx-forwarded-for:10.0.0.1, 10.0.0.2", 0, true},
		{"GET", "/", "h", "x-obs:caf\xc3\xa9", 0, true},
		{"DELETE", "*", "h", "", 0, true},
		// Left to the parser.
		{"GET", "/a b", "h", "", 0, false},
		{"GE T", "/", "h", "", 0, false},
		{"GET", "/caf\xc3\xa9", "h", "", 0, false},
		{"GET", "/", "h", "x-big:" + strings.Repeat("v", initialBufSize), 0, false},
	}
	for _, tc := range cases {
		if got := checkRenderedHead(t, tc.method, tc.target, tc.host, tc.fields, tc.contentLength); got != tc.fast {
			t.Errorf("%s %s %q: rendered %v, want %v", tc.method, tc.target, tc.fields, got, tc.fast)
		}
	}
}

// FuzzRenderedStreamHead holds renderHead to ParseRequest for any request
// internal/h2 could hand over.
func FuzzRenderedStreamHead(f *testing.F) {
	f.Add("GET", "/", "example.com", "user-agent:x\naccept:*/*", int64(0))
	f.Add("POST", "/p?q", "h:1", "content-length:3\nx-a: b ", int64(3))
	f.Add("PATCH", "/c", "", "te:trailers", int64(-1))
	f.Fuzz(func(t *testing.T, method, target, host, fields string, contentLength int64) {
		if contentLength < -1 {
			contentLength = -1
		}
		for _, s := range []string{method, target, host, fields} {
			// What internal/h2 lets through: no NUL, CR or LF in a value
			// (LF separates the fields here), no other control bytes but
			// HTAB in a name, and names are lower-case tokens.
			if strings.ContainsAny(s, "\x00\r") {
				return
			}
		}
		if strings.ContainsAny(method+target+host, "\n\t") {
			return
		}
		for _, line := range strings.Split(fields, "\n") {
			name, _, _ := strings.Cut(line, ":")
			if name != "" && (!http1.IsToken(name) || strings.ToLower(name) != name) {
				return
			}
		}
		checkRenderedHead(t, method, target, host, fields, contentLength)
	})
}

// BenchmarkStreamHead compares the two ways an HTTP/2 request's head reaches
// the core: rendered as bytes that the parser then reads (parse), or
// rendered with its parse filled in (render).
func BenchmarkStreamHead(b *testing.B) {
	r, order := streamRequest("GET", "/index.html?x=1", "example.com",
		"user-agent:h2load nghttp2/1.52.0\naccept:*/*\naccept-encoding:gzip, deflate\ncookie:session=0123456789abcdef", 0)
	s := &streamConn{w: orderOnly{order: order}, r: r}
	c := &conn{work: &work{buf: make([]byte, initialBufSize)}}
	b.Run("parse", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.headBytes()
			n := copy(c.buf, s.head)
			if err := http1.ParseRequest(c.buf[:n], &c.req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("render", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !s.renderHead(c) {
				b.Fatal("not rendered")
			}
		}
	})
}

// recordingStream is the response side of a stream's writer: it keeps the
// head and body it is given.
type recordingStream struct {
	streamWriter
	status int
	fields []string
	body   []byte
}

func (w *recordingStream) WriteHead(status int, fields []h2.Field) {
	w.status = status
	for _, f := range fields {
		w.fields = append(w.fields, string(f.Name)+": "+string(f.Value))
	}
}

func (w *recordingStream) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *recordingStream) FlushError() error { return nil }

// TestStreamResponseInAnyParts: the HTTP/1.1 response the core writes
// reaches the stream the same whether it comes in one write, in two split
// at any byte, or after an interim response; and a head that is parsed
// where it was written is no longer needed once it has gone.
func TestStreamResponseInAnyParts(t *testing.T) {
	const head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\nConnection: keep-alive\r\n\r\n"
	for _, prefix := range []string{"", "HTTP/1.1 100 Continue\r\n\r\n"} {
		whole := prefix + head + "hello"
		for split := 0; split <= len(whole); split++ {
			w := &recordingStream{}
			s := &streamConn{w: w, method: methodGET}
			buf := []byte(whole)
			for _, part := range [][]byte{buf[:split], buf[split:]} {
				if len(part) == 0 {
					continue
				}
				if n, err := s.Write(part); n != len(part) || err != nil {
					t.Fatalf("split %d: Write = %d, %v", split, n, err)
				}
				if s.headDone {
					clear(part) // the core reuses its buffer
				}
			}
			got := strings.Join(w.fields, "|")
			if w.status != 200 || got != "Content-Length: 5|X-A: b" || string(w.body) != "hello" || !s.complete() {
				t.Fatalf("prefix %q, split %d: status %d, fields %q, body %q, complete %v",
					prefix, split, w.status, got, w.body, s.complete())
			}
		}
	}
}
