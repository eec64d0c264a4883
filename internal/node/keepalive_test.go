package node_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/proxy"
)

// racyTarget models a target across a real network, as ../shared/bench's racy
// backend does: when a connection has been idle for idle, the target stops
// reading it and decides to close, but its close (a reset, since a request may be
// unread) reaches the load balancer only finDelay later. A request sent in that
// window is never answered: the keep-alive race behind ALB's intermittent 502s.
type racyTarget struct {
	*rawTarget
	idle  time.Duration
	posts atomic.Int64
}

func startRacyTarget(t *testing.T, idle, finDelay time.Duration, keepAliveHeader string) *racyTarget {
	t.Helper()
	rt := &racyTarget{idle: idle}
	rt.rawTarget = startRawTarget(t, func(c *net.TCPConn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			c.SetReadDeadline(time.Now().Add(idle))
			if _, err := br.Peek(1); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					time.Sleep(finDelay) // the close is on its way
					c.SetLinger(0)
				}
				return
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == "POST" {
				rt.posts.Add(1)
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"+keepAliveHeader+"\r\nok"); err != nil {
				return
			}
		}
	})
	return rt
}

// raceClient sends requests on one keep-alive client connection.
type raceClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
	// last is when the latest response arrived.
	last time.Time
}

func dialRaceClient(t *testing.T, addr string) *raceClient {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &raceClient{t: t, c: c, br: bufio.NewReader(c)}
}

// do sends one request and returns the status it got (0 when the connection
// failed; the client then reconnects for the next request).
func (rc *raceClient) do(method string) int {
	rc.t.Helper()
	body := ""
	if method == "POST" {
		body = "payload"
	}
	req := fmt.Sprintf("%s / HTTP/1.1\r\nHost: race\r\nContent-Length: %d\r\n\r\n%s", method, len(body), body)
	rc.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(rc.c, req); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	rc.last = time.Now()
	return resp.StatusCode
}

// doAtClosingInstant sends a request just after the target has decided to close
// the connection that carried the previous response (idle after it), while its
// close is still on the wire. The wait is the scenario's timing, as in race.py,
// not a synchronisation: the target has stopped reading by then in any case.
func (rc *raceClient) doAtClosingInstant(method string, rt *racyTarget) int {
	rc.t.Helper()
	at := time.NewTimer(time.Until(rc.last.Add(rt.idle + 20*time.Millisecond)))
	defer at.Stop()
	<-at.C
	return rc.do(method)
}

// The keep-alive race: every request after the first is sent just after the
// target has decided to close the idle connection that carried the previous
// response, while its close is still on the wire (300 ms), as race.py does. GETs
// then POSTs: the first GET meets the race and is retried on a new connection;
// from then on the pool knows when the target closes and never reuses a
// connection that old, so no request fails, POSTs included.
func TestKeepAliveRaceIsNeverLost(t *testing.T) {
	rt := startRacyTarget(t, 200*time.Millisecond, 300*time.Millisecond, "")
	f := startLB(t, []string{rt.addr}, 60, nil)
	rc := dialRaceClient(t, f.addr)

	methods := []string{"GET", "GET", "GET", "POST", "POST", "POST"}
	if got := rc.do("GET"); got != 200 {
		t.Fatalf("first request: %d", got)
	}
	for i, m := range methods {
		if got := rc.doAtClosingInstant(m, rt); got != 200 {
			t.Errorf("request %d (%s) at the target's closing instant: status %d, want 200", i+2, m, got)
		}
	}
	if n := rt.posts.Load(); n != 3 {
		t.Errorf("the target read %d POSTs, want 3 (each once)", n)
	}
	es := f.logLines(1 + len(methods))
	// The race was real: the first GET at the closing instant failed on the
	// reused connection, and was retried on a new one.
	first := es[1]
	if first.ErrorReason != proxy.ReasonRetried || len(first.Attempts) != 2 ||
		first.Attempts[0].Status != 0 || first.Attempts[1].Status != 200 {
		t.Errorf("first racing GET: error_reason %q, attempts %+v; want %s and a failed then a 200 attempt",
			first.ErrorReason, first.Attempts, proxy.ReasonRetried)
	}
	// Afterwards nothing needed a retry.
	for i, e := range es[2:] {
		if e.ELBStatusCode != 200 || e.ErrorReason != "" {
			t.Errorf("request %d: status %d, error_reason %q; want 200 with no retry", i+3, e.ELBStatusCode, e.ErrorReason)
		}
	}
}

// With retry_mode compat the first racing request fails as on ALB (the control
// that shows the race above is real), and learning still protects the rest.
func TestKeepAliveRaceCompatModeDoesNotRetry(t *testing.T) {
	rt := startRacyTarget(t, 200*time.Millisecond, 300*time.Millisecond, "")
	yaml := strings.Replace(defaultTemplate, "    targets:", "    attributes: {target_keep_alive.retry_mode: compat}\n    targets:", 1)
	f := startLBFrom(t, yaml, fixtureData{Targets: []string{rt.addr}, Idle: 60})
	rc := dialRaceClient(t, f.addr)
	if got := rc.do("GET"); got != 200 {
		t.Fatalf("first request: %d", got)
	}
	if got := rc.doAtClosingInstant("GET", rt); got != 502 {
		t.Errorf("GET at the closing instant in compat mode: %d, want 502 (no retry, as ALB)", got)
	}
	for i := 0; i < 2; i++ {
		if got := rc.doAtClosingInstant("POST", rt); got != 200 {
			t.Errorf("POST %d after the pool learned: %d, want 200", i+1, got)
		}
	}
	es := f.logLines(4)
	if e := es[1]; e.ELBStatusCode != 502 || e.ErrorReason != "" || len(e.Attempts) > 1 {
		t.Errorf("compat 502: error_reason %q attempts %+v, want ALB's line (one attempt, no reason)", e.ErrorReason, e.Attempts)
	}
}

// A target that announces Keep-Alive: timeout=1 is never raced, not even once:
// POSTs at its closing instant take a new connection from the start.
func TestKeepAliveTimeoutHeaderIsHonouredFromTheStart(t *testing.T) {
	rt := startRacyTarget(t, time.Second, 300*time.Millisecond, "Keep-Alive: timeout=1\r\n")
	f := startLB(t, []string{rt.addr}, 60, nil)
	rc := dialRaceClient(t, f.addr)
	if got := rc.do("POST"); got != 200 {
		t.Fatalf("first request: %d", got)
	}
	for i := 0; i < 2; i++ {
		if got := rc.doAtClosingInstant("POST", rt); got != 200 {
			t.Errorf("POST %d at the closing instant: %d, want 200", i+2, got)
		}
	}
	for i, e := range f.logLines(3) {
		if e.ErrorReason != "" || len(e.Attempts) > 1 {
			t.Errorf("request %d needed a retry (error_reason %q): the header should have prevented the race", i+1, e.ErrorReason)
		}
	}
}

// The retry rules end to end: a target that reads the second request on each
// connection and closes without answering. A GET is sent again on a new
// connection and succeeds; a POST that reached the target is not (502), and the
// target saw it exactly once.
func TestRequestThatReachedTheTargetIsRetriedOnlyIfIdempotent(t *testing.T) {
	var gets, posts atomic.Int64
	rt := startRawTarget(t, func(c *net.TCPConn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if req.Method == "POST" {
				posts.Add(1)
			} else {
				gets.Add(1)
			}
			if n == 2 {
				c.SetLinger(0)
				return // read, never answered
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	for _, tc := range []struct {
		method     string
		wantStatus int
		wantSeen   int64
		counter    *atomic.Int64
	}{
		{"GET", 200, 3, &gets},   // 1st, 2nd (dropped), 2nd again on a new connection
		{"POST", 502, 2, &posts}, // 1st, 2nd (dropped), never again
	} {
		t.Run(tc.method, func(t *testing.T) {
			f := startLB(t, []string{rt.addr}, 60, nil)
			rc := dialRaceClient(t, f.addr)
			if got := rc.do(tc.method); got != 200 {
				t.Fatalf("first request: %d", got)
			}
			if got := rc.do(tc.method); got != tc.wantStatus {
				t.Errorf("second request: %d, want %d", got, tc.wantStatus)
			}
			if n := tc.counter.Load(); n != tc.wantSeen {
				t.Errorf("the target read %d %ss, want %d", n, tc.method, tc.wantSeen)
			}
			e := f.logLines(2)[1]
			wantAttempts := map[string]string{"GET": "- 200", "POST": "-"}[tc.method]
			var got []string
			for _, a := range e.Attempts {
				got = append(got, map[bool]string{true: "-", false: fmt.Sprint(a.Status)}[a.Status == 0])
			}
			if len(e.Attempts) == 0 {
				got = []string{"-"}
			}
			if strings.Join(got, " ") != wantAttempts {
				t.Errorf("target_status_code_list %q, want %q", strings.Join(got, " "), wantAttempts)
			}
		})
	}
}

// A retry rides a new connection, never another pooled one: with two idle
// connections to a target that drops the second request on each, the retry of a
// GET that met one of them must not meet the other.
func TestRetryRidesANewConnection(t *testing.T) {
	var conns atomic.Int64
	bothOpen := make(chan struct{})
	rt := startRawTarget(t, func(c *net.TCPConn) {
		defer c.Close()
		if conns.Add(1) == 2 {
			close(bothOpen)
		}
		br := bufio.NewReader(c)
		for n := 1; ; n++ {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			if n == 2 {
				// Read, never answered, and closed after more than a second:
				// too late for the pool to take it for a keep-alive close
				// (upstream's closeObservationWindow), so nothing but the
				// retry rule keeps the retry off the other pooled connection.
				time.Sleep(1100 * time.Millisecond)
				c.SetLinger(0)
				return
			}
			select { // hold the first answers until two connections are open
			case <-bothOpen:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	a, b := dialRaceClient(t, f.addr), dialRaceClient(t, f.addr)
	done := make(chan int)
	go func() { done <- b.do("GET") }()
	if got := a.do("GET"); got != 200 {
		t.Fatalf("first request on client a: %d", got)
	}
	if got := <-done; got != 200 {
		t.Fatalf("first request on client b: %d", got)
	}
	if got := a.do("GET"); got != 200 {
		t.Errorf("GET whose reused connection was dropped: %d, want 200 from a retry on a new connection", got)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("the target saw %d connections, want 3 (two pooled, one new for the retry)", n)
	}
}
