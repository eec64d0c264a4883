package node_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/node"
)

func TestRoundRobinWithKeepAliveBothSides(t *testing.T) {
	t.Parallel()
	a := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	b := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	f := startLB(t, []string{a.addr, b.addr}, 60, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	var got strings.Builder
	for i := 0; i < 10; i++ {
		resp, err := client.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got.Write(body)
	}
	if got.String() != "ababababab" {
		t.Errorf("targets in order %q, want strict alternation", got.String())
	}
	// Requests in sequence reuse one connection per target.
	if a.connCount() != 1 || b.connCount() != 1 {
		t.Errorf("target connections: a=%d b=%d, want 1 each (keep-alive to targets)", a.connCount(), b.connCount())
	}
	lines := f.logLines(10)
	for i, e := range lines {
		if e.ConnTraceID != lines[0].ConnTraceID {
			t.Errorf("line %d conn_trace_id %s, want %s (one client connection)", i, e.ConnTraceID, lines[0].ConnTraceID)
		}
	}
}

func TestAccessLogLineOfForwardedRequest(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		w.WriteHeader(201)
		io.WriteString(w, "hello")
	})
	f := startLB(t, []string{target.addr}, 60, nil)
	req := "PUT /items/42?x=1&y=%20z HTTP/1.1\r\nHost: Example.COM\r\nUser-Agent: test-agent/1.0 \"quoted\"\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
	before := time.Now()
	raw := rawExchange(t, f.addr, req, 5*time.Second)
	after := time.Now()
	if !strings.HasPrefix(raw, "HTTP/1.1 201 Created\r\n") || !strings.HasSuffix(raw, "\r\n\r\nhello") {
		t.Fatalf("response %q", raw)
	}
	e := f.logLines(1)[0]
	checks := []struct {
		field     string
		got, want any
	}{
		{"type", e.Type, "http"},
		{"client", e.Client.Addr().String(), "127.0.0.1"},
		{"target", e.Target.String(), target.addr},
		{"elb_status_code", e.ELBStatusCode, 201},
		{"target_status_code", e.TargetStatusCode, 201},
		{"received_bytes", e.ReceivedBytes, int64(len(req))},
		{"sent_bytes", e.SentBytes, int64(len(raw))},
		{"request", string(e.Request), fmt.Sprintf("PUT http://Example.COM:%d/items/42?x=1&y=%%20z HTTP/1.1", f.port)},
		{"user_agent", string(e.UserAgent), `test-agent/1.0 "quoted"`},
		{"ssl_cipher", e.SSLCipher, ""},
		{"matched_rule_priority", e.MatchedRulePriority, 0},
		{"actions_executed", e.ActionsExecuted, "forward"},
		{"error_reason", e.ErrorReason, ""},
		{"classification", e.Classification, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.field, c.got, c.want)
		}
	}
	if !regexp.MustCompile(`^app/web/[0-9a-f]{16}$`).MatchString(e.ELB) {
		t.Errorf("elb %q", e.ELB)
	}
	if !regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/app/[0-9a-f]{16}$`).MatchString(e.TargetGroupARN) {
		t.Errorf("target_group_arn %q", e.TargetGroupARN)
	}
	if !regexp.MustCompile(`^TID_[0-9a-f]{32}$`).MatchString(e.ConnTraceID) {
		t.Errorf("conn_trace_id %q", e.ConnTraceID)
	}
	m := regexp.MustCompile(`^Root=1-([0-9a-f]{8})-[0-9a-f]{24}$`).FindStringSubmatch(string(e.TraceID))
	if m == nil {
		t.Fatalf("trace_id %q", e.TraceID)
	}
	epoch, _ := strconv.ParseInt(m[1], 16, 64)
	if epoch != e.RequestCreationTime.Unix() {
		t.Errorf("trace id epoch %d, request_creation_time %d: ALB's Root carries the request's second", epoch, e.RequestCreationTime.Unix())
	}
	for _, d := range []time.Duration{e.RequestProcessingTime, e.TargetProcessingTime, e.ResponseProcessingTime} {
		if d < 0 || d > after.Sub(before) {
			t.Errorf("processing time %v out of [0, %v]", d, after.Sub(before))
		}
	}
	if e.RequestCreationTime.Before(before.Truncate(time.Millisecond)) || e.Time.After(after) || e.Time.Before(e.RequestCreationTime) {
		t.Errorf("times: created %v, time %v, window %v..%v", e.RequestCreationTime, e.Time, before, after)
	}
	// Fields 26 and 27 that only repeat fields 5 and 10 parse as no Attempts;
	// the raw line below shows them.
	if len(e.Attempts) != 0 {
		t.Errorf("target lists %+v, want them to repeat fields 5 and 10", e.Attempts)
	}
	// The line itself: ALB's field count and quoting.
	line := f.rawLogLines(1)[0]
	if !strings.HasPrefix(line, "http 2") || !strings.Contains(line, ` "forward" "-" "-" "`+target.addr+`" "201" "-" "-" TID_`) {
		t.Errorf("line %q lacks ALB's field layout", line)
	}
	if !strings.Contains(line, `"test-agent/1.0 \"quoted\""`) {
		t.Errorf("line %q: user agent quotes not escaped as ALB does", line)
	}
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startLB(t, []string{target.addr}, 60, nil)
	req := "GET /h HTTP/1.1\r\nHost: WWW.Example.com\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\n" +
		"Connection: close, X-Secret\r\nX-Secret: drop me\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nX-Custom: kept\r\n" +
		"X-Amzn-Trace-Id: Root=1-67891233-abcdef012345678912345678;CalledFrom=app\r\n\r\n"
	raw := rawExchange(t, f.addr, req, 5*time.Second)
	if !strings.HasPrefix(raw, "HTTP/1.1 200") {
		t.Fatalf("response %q", raw)
	}
	r := target.requests()[0]
	want := map[string]string{
		"X-Forwarded-For":   "203.0.113.9, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Port":  strconv.Itoa(f.port),
		"X-Custom":          "kept",
	}
	for k, v := range want {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want [%q]", k, got, v)
		}
	}
	for _, k := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection", "Te"} {
		if v := r.Header.Get(k); v != "" {
			t.Errorf("hop-by-hop %s forwarded as %q", k, v)
		}
	}
	if want := "www.example.com:" + strconv.Itoa(f.port); r.Host != want {
		t.Errorf("Host %q, want %q (lowercased, listener port appended)", r.Host, want)
	}
	if !regexp.MustCompile(`^Self=1-[0-9a-f]{8}-[0-9a-f]{24};Root=1-67891233-abcdef012345678912345678;CalledFrom=app$`).MatchString(r.Header.Get("X-Amzn-Trace-Id")) {
		t.Errorf("X-Amzn-Trace-Id %q, want a Self field in front of the client's", r.Header.Get("X-Amzn-Trace-Id"))
	}
	if e := f.logLines(1)[0]; string(e.TraceID) != r.Header.Get("X-Amzn-Trace-Id") {
		t.Errorf("logged trace_id %q, forwarded %q", e.TraceID, r.Header.Get("X-Amzn-Trace-Id"))
	}
}

func TestForwardedForModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		attrs map[string]string
		sent  string
		want  []string
	}{
		{nil, "", []string{"127.0.0.1"}},
		{map[string]string{"routing.http.xff_header_processing.mode": "preserve"}, "127.0.0.4", []string{"127.0.0.4"}},
		{map[string]string{"routing.http.xff_header_processing.mode": "preserve"}, "", nil},
		{map[string]string{"routing.http.xff_header_processing.mode": "remove"}, "127.0.0.4", nil},
		{map[string]string{"routing.http.xff_client_port.enabled": "true"}, "127.0.0.4", []string{"127.0.0.4, 127.0.0.1:"}},
	}
	for i, c := range cases {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
			f := startLB(t, []string{target.addr}, 60, c.attrs)
			req := "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			if c.sent != "" {
				req += "X-Forwarded-For: " + c.sent + "\r\n"
			}
			rawExchange(t, f.addr, req+"\r\n", 5*time.Second)
			got := target.requests()[0].Header.Values("X-Forwarded-For")
			if len(got) != len(c.want) || (len(got) == 1 && !strings.HasPrefix(got[0], c.want[0])) {
				t.Errorf("X-Forwarded-For %q, want %q", got, c.want)
			}
		})
	}
}

func TestHostOnPort80AndPreserve(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startLB(t, []string{target.addr}, 60, map[string]string{"routing.http.preserve_host_header.enabled": "true"})
	rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: Mixed.Case:1234\r\nConnection: close\r\n\r\n", 5*time.Second)
	if h := target.requests()[0].Host; h != "Mixed.Case:1234" {
		t.Errorf("preserved Host %q, want it unchanged", h)
	}
}

func TestStreamingOutlivesShortIdleTimeout(t *testing.T) {
	t.Parallel()
	// A target that sends a chunk every 150 ms for over 1.6 s behind a 1 s
	// idle timeout: every byte pushes the timeout forward, so the stream
	// lives. The pace leaves a loaded machine most of the timeout as margin.
	const ticks = 12
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < ticks; i++ {
			fmt.Fprintf(w, "tick %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond) // the target's pace, not synchronisation
		}
	})
	f := startLB(t, []string{target.addr}, 1, nil)
	resp, err := http.Get(f.url("/stream"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("stream cut: %v after %q", err, body)
	}
	if strings.Count(string(body), "tick") != ticks {
		t.Errorf("got %q, want %d ticks", body, ticks)
	}
	e := f.logLines(1)[0]
	if e.ELBStatusCode != 200 || e.TargetStatusCode != 200 {
		t.Errorf("logged %d/%d", e.ELBStatusCode, e.TargetStatusCode)
	}
	if d := e.Time.Sub(e.RequestCreationTime); d < 1600*time.Millisecond {
		t.Errorf("stream logged as lasting %v, want over 1.6 s", d)
	}
}

func TestStreamStallBeyondIdleTimeoutIsCut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	f := startLB(t, []string{target.addr}, 1, nil)
	resp, err := http.Get(f.url("/stall"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatalf("stream ended cleanly with %q, want it cut at the idle timeout", body)
	}
	if time.Since(start) > 8*time.Second {
		t.Errorf("cut after %v, want about 1 s", time.Since(start))
	}
}

func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	f := startLB(t, []string{target.addr}, 60, nil)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	for _, want := range []string{"/one", "/two", "/three"} {
		if _, body := readResponse(t, br, "GET"); body != want {
			t.Errorf("body %q, want %q", body, want)
		}
	}
}

func TestExpectContinueAnsweredByLoadBalancer(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s expect=%q", b, r.Header.Get("Expect"))
	})
	f := startLB(t, []string{target.addr}, 60, nil)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("first line %q, %v; want 100 Continue before the body is sent", line, err)
	}
	br.ReadString('\n')
	io.WriteString(c, "data")
	if _, body := readResponse(t, br, "POST"); body != `data expect=""` {
		t.Errorf("target saw %q, want the body and no Expect header", body)
	}
}

func TestBodiesBothWays(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/chunked":
			// No Content-Length and flushed: net/http answers chunked.
			w.Write(b[:len(b)/2])
			w.(http.Flusher).Flush()
			w.Header().Set("Trailer", "X-Sum")
			w.Write(b[len(b)/2:])
		case "/head":
			w.Header().Set("Content-Length", "1234")
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(304)
		default:
			w.Write(b)
		}
	})
	f := startLB(t, []string{target.addr}, 60, nil)
	big := strings.Repeat("0123456789", 300_000) // 3 MB: several buffers each way
	for _, path := range []string{"/echo", "/chunked"} {
		resp, err := http.Post(f.url(path), "text/plain", io.MultiReader(strings.NewReader(big))) // unknown length: chunked upload
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != big {
			t.Fatalf("%s: got %d bytes (%v), want the %d bytes sent", path, len(b), err, len(big))
		}
	}
	req, _ := http.NewRequest("POST", f.url("/echo"), strings.NewReader(big))
	resp, err := http.DefaultClient.Do(req) // known length
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != big {
		t.Fatalf("content-length upload: got %d bytes", len(b))
	}
	resp, err = http.Head(f.url("/head"))
	if err != nil || resp.ContentLength != 1234 {
		t.Fatalf("HEAD: %v, length %d", err, resp.ContentLength)
	}
	resp.Body.Close()
	resp, err = http.Get(f.url("/204"))
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("204: %v %v", err, resp)
	}
	resp.Body.Close()
	// 204 and 304 have no body whatever their headers say: the connection
	// stays in step for the next request.
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /304 HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	if r, body := readResponse(t, br, "GET"); r.StatusCode != 304 || body != "" || r.Header.Get("ETag") != `"v1"` {
		t.Fatalf("304: %d %q %q", r.StatusCode, body, r.Header.Get("ETag"))
	}
	if r, _ := readResponse(t, br, "GET"); r.StatusCode != 204 {
		t.Fatalf("after the 304: %d, want 204 on the same connection", r.StatusCode)
	}
	lines := f.logLines(7)
	if lines[0].ReceivedBytes < int64(len(big)) || lines[0].SentBytes < int64(len(big)) {
		t.Errorf("byte counts %d/%d, want at least the body sizes", lines[0].ReceivedBytes, lines[0].SentBytes)
	}
}

func TestTargetKeepAliveCloseIsHonoured(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	f := startLB(t, []string{target.addr}, 60, nil)
	for i := 0; i < 3; i++ {
		resp, err := http.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Errorf("request %d: %d close=%v; the target's close must not reach the client", i, resp.StatusCode, resp.Close)
		}
	}
	if n := target.connCount(); n != 3 {
		t.Errorf("target connections %d, want 3: a connection the target closes is not reused", n)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond) // the target's work
		io.WriteString(w, "done")
	})
	f := startLB(t, []string{target.addr}, 60, nil)
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(f.url("/work"))
		if err != nil {
			res <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- result{string(b), err}
	}()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.node.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	r := <-res
	if r.err != nil || r.body != "done" {
		t.Fatalf("in-flight request: %q, %v; want it finished", r.body, r.err)
	}
	if _, err := net.DialTimeout("tcp", f.addr, time.Second); err == nil {
		t.Error("listener still accepts after shutdown")
	}
	// The log was flushed by the shutdown.
	var e accesslog.Entry
	lines := f.rawLogLines(1)
	if err := accesslog.ParseLine([]byte(lines[0]), &e); err != nil || e.ELBStatusCode != 200 {
		t.Errorf("log after shutdown: %v %q", err, lines)
	}
}

func TestTwoLoadBalancersCannotShareALogFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yaml := `load_balancers:
  - name: a
    access_log: {path: shared.log}
    listeners: [{port: 1, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: ta}]}]
  - name: b
    access_log: {path: ` + dir + `/shared.log}
    listeners: [{port: 2, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: tb}]}]
target_groups:
  - {name: ta, protocol: HTTP, port: 80, targets: []}
  - {name: tb, protocol: HTTP, port: 80, targets: []}
`
	cfg, err := config.Parse("shared.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	// Written differently, the same file once the relative path is resolved
	// against the configuration's directory.
	n, err := node.New(node.Options{DataDir: dir + "/data", BaseDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	err = n.Apply(cfg)
	if err == nil || !strings.Contains(err.Error(), `load balancers "a" and "b": both write their access log to`) {
		t.Fatalf("Apply: %v, want the shared log file rejected", err)
	}
	if n.Snapshot() != nil || len(n.Addrs()) != 0 {
		t.Error("a rejected configuration left something applied")
	}
}

// TestManyConcurrentClients runs 64 keep-alive clients at once through one
// target group: every request is answered by a target and logged exactly once.
func TestManyConcurrentClients(t *testing.T) {
	t.Parallel()
	a := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	b := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	f := startLB(t, []string{a.addr, b.addr}, 60, nil)
	const clients, each = 64, 40
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		go func() {
			c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for j := 0; j < each; j++ {
				resp, err := c.Get(f.url("/c"))
				if err != nil {
					errs <- err
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(body) != "ok" || resp.StatusCode != 200 {
					errs <- fmt.Errorf("status %d body %q err %v", resp.StatusCode, body, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for i := 0; i < clients; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	lines := f.logLines(clients * each)
	if len(lines) != clients*each {
		t.Fatalf("%d log lines, want %d", len(lines), clients*each)
	}
	for _, e := range lines {
		if e.ELBStatusCode != 200 {
			t.Fatalf("logged %d", e.ELBStatusCode)
		}
	}
	if got := len(a.requests()) + len(b.requests()); got != clients*each {
		t.Errorf("targets got %d requests, want %d", got, clients*each)
	}
}

// TestMethodsAreCaseSensitive: "head" is not HEAD, so its response has a body.
func TestMethodsAreCaseSensitive(t *testing.T) {
	t.Parallel()
	rt := startRawTarget(t, func(c *net.TCPConn) {
		for {
			if _, err := readHead(c); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
		}
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	raw := rawExchange(t, f.addr, "head / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	if !strings.HasSuffix(raw, "\r\n\r\nhello") {
		t.Errorf("response %q, want the body of a method that is not HEAD", raw)
	}
}

// TestReloadKeepsWarmConnectionsAndMovesTheLog: applying a new configuration
// adds a target without closing the pooled connection to the one that stays,
// and a new access log path takes the lines from then on.
func TestReloadKeepsWarmConnectionsAndMovesTheLog(t *testing.T) {
	t.Parallel()
	a := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "a") })
	b := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b") })
	f := startLB(t, []string{a.addr}, 60, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	get := func() string {
		resp, err := client.Get(f.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body)
	}
	if got := get(); got != "a" {
		t.Fatalf("before reload: %q", got)
	}
	newLog := filepath.Join(f.dir, "second.log")
	yaml := renderConfig(t, defaultTemplate, fixtureData{Port: f.port, LogPath: newLog, Targets: []string{a.addr, b.addr}, Idle: 60})
	cfg, err := config.Parse("reload.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.node.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	seen := get() + get()
	if seen != "ab" && seen != "ba" {
		t.Fatalf("after reload the targets answered %q, want both", seen)
	}
	if n := a.connCount(); n != 1 {
		t.Errorf("target a saw %d connections, want 1: the reload closed its warm connection", n)
	}
	if lines := f.rawLogLines(1); len(lines) != 1 {
		t.Errorf("first log has %d lines, want only the request before the reload", len(lines))
	}
	second := &lbFixture{t: t, logPath: newLog}
	if lines := second.logLines(2); len(lines) != 2 {
		t.Errorf("second log has %d lines, want 2", len(lines))
	}
}

// TestIPv6Client: an IPv6 client is logged without brackets (split at the last
// colon, as ALB writes it) and appended to X-Forwarded-For as a bare address.
func TestIPv6Client(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(target.addr)
	yaml := fmt.Sprintf(`load_balancers:
  - name: v6
    access_log: {path: %s/access.log}
    listeners: [{port: %d, address: "::1", protocol: HTTP, default_actions: [{type: forward, target_group: app}]}]
target_groups:
  - {name: app, protocol: HTTP, port: 80, targets: [{id: %s, port: %s}]}
`, dir, addr.Port(), host, port)
	startNode(t, ln, dir, yaml)
	raw := rawExchange(t, addr.String(), "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(raw, "HTTP/1.1 200 ") {
		t.Fatalf("response %q", raw)
	}
	if xff := target.requests()[0].Header.Get("X-Forwarded-For"); xff != "::1" {
		t.Errorf("X-Forwarded-For %q, want ::1", xff)
	}
	f := &lbFixture{t: t, logPath: dir + "/access.log"}
	line := f.rawLogLines(1)[0]
	if !regexp.MustCompile(`^http \S+ app/v6/[0-9a-f]{16} ::1:\d+ 127\.0\.0\.1:\d+ `).MatchString(line) {
		t.Errorf("line %q: want the IPv6 client without brackets", line)
	}
	if e := f.logLines(1)[0]; e.Client.Addr().String() != "::1" {
		t.Errorf("parsed client %v", e.Client)
	}
}
