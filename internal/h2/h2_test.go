package h2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/tlsconf"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// testServer is a Server behind a real TLS listener on 127.0.0.1.
type testServer struct {
	addr  string
	pool  *x509.CertPool
	mu    sync.Mutex
	conns []*Conn
	wg    sync.WaitGroup
}

func startServer(t *testing.T, srv *Server) *testServer {
	t.Helper()
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), pool: pool}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			tc := nc.(*tls.Conn)
			if err := tc.Handshake(); err != nil {
				tc.Close()
				continue
			}
			hc := srv.NewConn(tc)
			ts.mu.Lock()
			ts.conns = append(ts.conns, hc)
			ts.mu.Unlock()
			ts.wg.Add(1)
			go func() { defer ts.wg.Done(); hc.Serve() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		ts.mu.Lock()
		for _, c := range ts.conns {
			c.mu.Lock()
			c.closeLocked()
			c.mu.Unlock()
			c.signal()
		}
		ts.mu.Unlock()
		done := make(chan struct{})
		go func() { ts.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("connections still serving 10 s after the test")
		}
	})
	return ts
}

// conn returns the i-th connection the server accepted, waiting for it.
func (ts *testServer) conn(t *testing.T, i int) *Conn {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ts.mu.Lock()
		if len(ts.conns) > i {
			c := ts.conns[i]
			ts.mu.Unlock()
			return c
		}
		ts.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no connection %d", i)
	return nil
}

// client is Go's HTTP/2 client for the server.
func (ts *testServer) client(t *testing.T) *http.Client {
	tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: ts.pool, ServerName: "127.0.0.1"}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func TestRequestAndResponse(t *testing.T) {
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Uri", r.RequestURI)
		w.Header().Set("X-Path", r.URL.Path)
		w.Header().Set("X-Query", r.URL.RawQuery)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Cookie", r.Header.Get("Cookie"))
		w.Header().Set("X-Proto", r.Proto)
		w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
		w.Header().Set("Connection", "close") // not sendable: dropped
		w.WriteHeader(201)
		w.Write([]byte("got " + string(body)))
		if r.Method == "POST" {
			w.Header().Set(http.TrailerPrefix+"X-Sum", "done")
		}
	})})
	c := ts.client(t)
	req, _ := http.NewRequest("POST", "https://"+ts.addr+"/a/b%20c?x=1&y=2", strings.NewReader("hello"))
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"X-Method": "POST", "X-Uri": "/a/b%20c?x=1&y=2", "X-Path": "/a/b c", "X-Query": "x=1&y=2",
		"X-Host": ts.addr, "X-Cookie": "a=1; b=2", "X-Proto": "HTTP/2.0", "X-Length": "5",
	}
	if resp.StatusCode != 201 || string(body) != "got hello" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if resp.Header.Get("Connection") != "" {
		t.Error("a Connection field was sent")
	}
	if got := resp.Trailer.Get("X-Sum"); got != "done" {
		t.Errorf("trailer X-Sum = %q (trailers %v)", got, resp.Trailer)
	}

	// A GET with no body gets a Content-Length the server worked out.
	resp, err = c.Get("https://" + ts.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ContentLength != int64(len("got ")) || resp.Header.Get("X-Length") != "0" {
		t.Errorf("GET: length %d, request length %q", resp.ContentLength, resp.Header.Get("X-Length"))
	}
}

// TestLargeBodiesBothWays sends and receives bodies larger than every
// flow-control window on either side, so that both directions wait for
// WINDOW_UPDATE frames.
func TestLargeBodiesBothWays(t *testing.T) {
	const size = 9 << 20
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("X-Got", fmt.Sprintf("%d %x", n, h.Sum(nil)))
		chunk := bytes.Repeat([]byte("abcdefgh"), 4096)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})})
	up := bytes.Repeat([]byte("0123456789"), size/10)
	resp, err := ts.client(t).Post("https://"+ts.addr+"/", "application/octet-stream", bytes.NewReader(up))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d %x", len(up), sha256.Sum256(up)); resp.Header.Get("X-Got") != want {
		t.Errorf("server read %q, want %q", resp.Header.Get("X-Got"), want)
	}
	if n < size {
		t.Errorf("read %d bytes of the response, want %d", n, size)
	}
}

// TestConcurrentStreams runs more requests at once than the stream limit on
// one connection; every one is answered.
func TestConcurrentStreams(t *testing.T) {
	ts := startServer(t, &Server{MaxConcurrentStreams: 16, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	})})
	c := ts.client(t)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(fmt.Sprintf("https://%s/%d", ts.addr, i))
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != fmt.Sprintf("/%d", i) {
				errs <- fmt.Errorf("request %d: body %q", i, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestClientResetEndsContext checks that a reset from the client ends the
// request's context and contexts derived from it (through AfterFunc).
func TestClientResetEndsContext(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan error, 2)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		derived, cancel := context.WithCancel(r.Context())
		defer cancel()
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		close(started)
		select {
		case <-derived.Done():
			ended <- r.Context().Err()
		case <-time.After(10 * time.Second):
			ended <- errors.New("context still live 10 s after the reset")
		}
	})})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+ts.addr+"/", nil)
	resp, err := ts.client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	cancel() // the client resets the stream
	resp.Body.Close()
	if err := <-ended; err != context.Canceled {
		t.Errorf("request context: %v, want context.Canceled", err)
	}
}

// TestShutdownFinishesStreamsInFlight: after Shutdown the stream in flight
// completes, and the connection then closes.
func TestShutdownFinishesStreamsInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, "finished")
	})})
	c := ts.client(t)
	got := make(chan string, 1)
	go func() {
		resp, err := c.Get("https://" + ts.addr + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	hc := ts.conn(t, 0)
	hc.Shutdown()
	close(release)
	if s := <-got; s != "finished" {
		t.Fatalf("request in flight: %q", s)
	}
	select {
	case <-hc.wdone:
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open 5 s after its last stream")
	}
}

// TestIdleTimeout: a connection with no stream for IdleTimeout ends.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, &Server{IdleTimeout: 100 * time.Millisecond, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	resp, err := ts.client(t).Get("https://" + ts.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	select {
	case <-ts.conn(t, 0).wdone:
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection still open 5 s later")
	}
}

// rawClient speaks HTTP/2 frame by frame.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	fr *http2.Framer
}

func (ts *testServer) raw(t *testing.T, settings ...http2.Setting) *rawClient {
	t.Helper()
	nc, err := tls.Dial("tcp", ts.addr, &tls.Config{RootCAs: ts.pool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	rc := &rawClient{t: t, nc: nc, fr: http2.NewFramer(nc, nc)}
	rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	io.WriteString(nc, http2.ClientPreface)
	rc.fr.WriteSettings(settings...)
	return rc
}

// request sends a GET / head with fields on stream id.
func (rc *rawClient) request(id uint32, end bool, fields ...string) {
	rc.headers(id, end, encodeRequest("GET", "/", fields...))
}

// headers sends a header block on stream id.
func (rc *rawClient) headers(id uint32, end bool, block []byte) {
	if err := rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: end, EndHeaders: true}); err != nil {
		rc.t.Fatal(err)
	}
}

// encodeRequest HPACK-encodes a request head for https://x with method and
// path, then fields (name, value, ...). Each call has an encoder of its own:
// its literals add to the server's table and refer to nothing in it, so a
// block can be sent any number of times.
func encodeRequest(method, path string, fields ...string) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	all := append([]string{":method", method, ":scheme", "https", ":authority", "x", ":path", path}, fields...)
	for i := 0; i+1 < len(all); i += 2 {
		enc.WriteField(hpack.HeaderField{Name: all[i], Value: all[i+1]})
	}
	return b.Bytes()
}

// plainConn connects a client to a Conn of srv over loopback TCP through ln,
// without TLS; the caller serves the Conn (serveInBackground).
func plainConn(t testing.TB, ln net.Listener, srv *Server) (client net.Conn, hc *Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return client, srv.NewConn(sc)
}

// serveInBackground runs hc.Serve; the channel closes when it returns.
func serveInBackground(hc *Conn) <-chan struct{} {
	served := make(chan struct{})
	go func() { defer close(served); hc.Serve() }()
	return served
}

// listenLoopback listens on an ephemeral port of 127.0.0.1 until the test ends.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// next returns the next frame that is not SETTINGS, WINDOW_UPDATE or PING,
// acknowledging the server's SETTINGS.
func (rc *rawClient) next() http2.Frame {
	rc.t.Helper()
	for {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			rc.t.Fatalf("reading a frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				rc.fr.WriteSettingsAck()
			}
			continue
		case *http2.WindowUpdateFrame, *http2.PingFrame:
			continue
		}
		return f
	}
}

func fieldsOf(f http2.Frame) []string {
	mh, ok := f.(*http2.MetaHeadersFrame)
	if !ok {
		return []string{fmt.Sprintf("%T", f)}
	}
	var out []string
	for _, hf := range mh.Fields {
		out = append(out, hf.Name+": "+hf.Value)
	}
	return out
}

// TestWriteHeadKeepsOrderAndDropsConnectionFields checks HeadWriter's
// encoding as a client decodes it, and the table size update after the
// client shrinks its HPACK table.
func TestWriteHeadKeepsOrderAndDropsConnectionFields(t *testing.T) {
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(HeadWriter).WriteHead(503, []Field{
			{[]byte("Server"), []byte("awselb/2.0")},
			{[]byte("Connection"), []byte("keep-alive")},
			{[]byte("x-b"), []byte("2")},
			{[]byte("X-A"), []byte("1")},
			{[]byte("Transfer-Encoding"), []byte("chunked")},
			{[]byte("bad name"), []byte("v")},
			{[]byte("x-c"), []byte("no\r\nsplit")},
			{[]byte("Content-Type"), []byte("text/plain")},
		})
		io.WriteString(w, "body")
	})})
	rc := ts.raw(t, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0})
	rc.request(1, true)
	got := strings.Join(fieldsOf(rc.next()), "|")
	want := ":status: 503|server: awselb/2.0|x-b: 2|x-a: 1|content-type: text/plain"
	if got != want {
		t.Errorf("head %q, want %q", got, want)
	}
	if d, ok := rc.next().(*http2.DataFrame); !ok || string(d.Data()) != "body" || !d.StreamEnded() {
		t.Errorf("body frame %v", d)
	}
}

// TestDeadlines: a write that waits for a window the client never opens
// ends at the write deadline, and a body read the client never feeds at the
// read deadline; 100-continue is answered when the body is first read.
func TestDeadlines(t *testing.T) {
	results := make(chan error, 2)
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := w.(interface {
			SetReadDeadline(time.Time) error
			SetWriteDeadline(time.Time) error
		})
		if r.URL.Path == "/read" {
			rw.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, err := r.Body.Read(make([]byte, 10))
			results <- err
			return
		}
		rw.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		w.Write([]byte("more than nothing"))
		results <- w.(interface{ FlushError() error }).FlushError()
	})})
	rc := ts.raw(t, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	rc.request(1, true)
	if err := <-results; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write with no window: %v, want a deadline error", err)
	}
	if f := rc.next(); len(fieldsOf(f)) == 0 || fieldsOf(f)[0] != ":status: 200" {
		t.Errorf("first frame %v", fieldsOf(f))
	}

	rc.headers(3, false, encodeRequest("POST", "/read", "expect", "100-continue"))
	if err := <-results; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read of a silent body: %v, want a deadline error", err)
	}
	for {
		f := rc.next()
		if f.Header().StreamID != 3 {
			continue
		}
		if got := fieldsOf(f); len(got) == 0 || got[0] != ":status: 100" {
			t.Errorf("first frame on the stream: %v, want 100 Continue", got)
		}
		break
	}
}

// TestMalformedRequestsAreStreamErrors: requests RFC 9113 §8.2 calls
// malformed are reset with PROTOCOL_ERROR and the connection goes on.
func TestMalformedRequestsAreStreamErrors(t *testing.T) {
	ts := startServer(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
	rc := ts.raw(t)
	cases := [][]string{
		{"connection", "keep-alive"},
		{"keep-alive", "timeout=5"},
		{"proxy-connection", "keep-alive"},
		{"upgrade", "websocket"},
		{"te", "gzip"},
		{"te", "trailers", "te", "trailers"},
		{"transfer-encoding", "chunked"},
		{"host", "other"}, // differs from :authority
		{"content-length", "5"},
	}
	for i, fields := range cases {
		id := uint32(2*i + 1)
		rc.request(id, true, fields...)
		f := rc.next()
		rst, ok := f.(*http2.RSTStreamFrame)
		if !ok || rst.StreamID != id || rst.ErrCode != http2.ErrCodeProtocol {
			t.Errorf("%v: got %v, want RST_STREAM PROTOCOL_ERROR", fields, fieldsOf(f))
		}
	}
	rc.request(99, true)
	if got := fieldsOf(rc.next()); len(got) == 0 || got[0] != ":status: 200" {
		t.Errorf("after the malformed requests: %v", got)
	}
}

// TestShutdownBeforeServe: a connection shut down before it is served (the
// node stopping as it accepts) still starts with the server's SETTINGS,
// then GOAWAY, then closes.
func TestShutdownBeforeServe(t *testing.T) {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	client, hc := plainConn(t, listenLoopback(t), srv)
	hc.Shutdown()
	served := serveInBackground(hc)
	client.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(client, http2.ClientPreface)
	fr := http2.NewFramer(client, client)
	var types []string
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			break
		}
		types = append(types, f.Header().Type.String())
	}
	if len(types) < 2 || types[0] != "SETTINGS" || types[len(types)-1] != "GOAWAY" {
		t.Errorf("frames %v, want SETTINGS first and GOAWAY last", types)
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve still running")
	}
}

// TestRapidReset: a client that opens streams and resets them at once
// (CVE-2023-44487) never has more handlers running than the stream limit,
// and one that keeps at it loses the connection with ENHANCE_YOUR_CALM.
func TestRapidReset(t *testing.T) {
	release := make(chan struct{})
	var running, most atomic.Int32
	ts := startServer(t, &Server{MaxConcurrentStreams: 4, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release // a handler slow to notice the reset
		running.Add(-1)
	})})
	defer close(release)
	rc := ts.raw(t)
	var goAway *http2.GoAwayFrame
	block := encodeRequest("GET", "/")
	for id := uint32(1); id < 2*100; id += 2 {
		if rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true}) != nil ||
			rc.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break // the server has closed the connection
		}
	}
	for goAway == nil {
		f, err := rc.fr.ReadFrame()
		if err != nil {
			t.Fatalf("no GOAWAY before the connection ended: %v", err)
		}
		goAway, _ = f.(*http2.GoAwayFrame)
	}
	if goAway.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY %v, want ENHANCE_YOUR_CALM", goAway.ErrCode)
	}
	if m := most.Load(); m > 4 {
		t.Errorf("%d handlers ran at once, limit 4", m)
	}
}

// TestResetFloodFromAClientThatDoesNotRead: frames that each draw a
// RST_STREAM, from a client that reads none of them, end the connection
// (ENHANCE_YOUR_CALM) once the answers pile up, rather than growing the
// server's output without bound.
func TestResetFloodFromAClientThatDoesNotRead(t *testing.T) {
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	client, hc := plainConn(t, listenLoopback(t), srv)
	served := serveInBackground(hc)

	client.SetWriteDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(client, http2.ClientPreface)
	fr := http2.NewFramer(client, client)
	fr.WriteSettings()
	// Stream 1 is opened and reset by the client: from then on each DATA
	// frame on it is a stream error the server answers with RST_STREAM.
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: encodeRequest("POST", "/"), EndHeaders: true})
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	frame := []byte{0, 0, 0, byte(http2.FrameData), 0, 0, 0, 0, 1} // empty DATA on stream 1
	batch := bytes.Repeat(frame, 4096)
	// 2.5 million answers are 32 MB, far more than the socket buffers (a
	// few MB each way on loopback) and the server's bound on its output.
	sent := 0
	for ; sent < 2_500_000; sent += 4096 {
		if _, err := client.Write(batch); err != nil {
			break // the server closed the connection
		}
	}
	select {
	case <-served:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		hc.mu.Lock()
		state := fmt.Sprintf("pending %d, streams %d, max id %d, closed %v, going away %v", len(hc.pending), len(hc.streams), hc.maxClientID, hc.closed, hc.goingAway)
		hc.mu.Unlock()
		t.Fatalf("the connection of a client that reads nothing is still served (sent %d; %s)\n%s", sent, state, buf[:runtime.Stack(buf, true)])
	}
}

// goroutineID returns the calling goroutine's id, from its stack header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	return strings.Fields(string(buf))[1]
}

// TestWorkersServeRequestsOfEveryConnection checks that with Server.Workers
// a request runs on the goroutine an earlier request of another connection
// ran on, also after a handler panicked, and that Close stops the workers.
func TestWorkersServeRequestsOfEveryConnection(t *testing.T) {
	workers := NewWorkers()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Goroutine", goroutineID())
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	})
	a := startServer(t, &Server{Handler: handler, Workers: workers})
	b := startServer(t, &Server{Handler: handler, Workers: workers})
	get := func(ts *testServer, path string) (string, error) {
		resp, err := ts.client(t).Get("https://" + ts.addr + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.Header.Get("X-Goroutine"), nil
	}
	parked := func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for workers.pool.Idle() != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%d idle workers, want 1", workers.pool.Idle())
			}
			time.Sleep(time.Millisecond)
		}
	}
	first, err := get(a, "/")
	if err != nil {
		t.Fatal(err)
	}
	parked()
	second, err := get(b, "/")
	if err != nil {
		t.Fatal(err)
	}
	if second != first {
		t.Fatalf("request on the second connection ran on goroutine %s, want the worker %s", second, first)
	}
	parked()
	if _, err := get(a, "/panic"); err == nil {
		t.Fatal("a request whose handler aborted got a response")
	}
	parked()
	third, err := get(b, "/")
	if err != nil {
		t.Fatal(err)
	}
	if third != first {
		t.Fatalf("request after a handler panic ran on goroutine %s, want the worker %s", third, first)
	}
	parked()
	workers.Close()
	if n := workers.pool.Idle(); n != 0 {
		t.Fatalf("%d idle workers after Close", n)
	}
	if _, err := get(a, "/"); err != nil { // runs on a goroutine of its own
		t.Fatalf("request after Close: %v", err)
	}
}
