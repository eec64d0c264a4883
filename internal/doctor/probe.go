package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Probe is what doctor measured of one target over the wire.
type Probe struct {
	// Target is the address probed ("host:port").
	Target string `json:"target"`
	// Error says why the target could not be probed; the other fields are then
	// empty.
	Error string `json:"error,omitempty"`
	// KeepAliveError says why the keep-alive probes could not run (a request
	// that got no response in time, say); KeepAlive and IdleCloseSeconds are
	// then unknown.
	KeepAliveError string `json:"keep_alive_error,omitempty"`
	// KeepAlive is whether the target kept the connection open after a response
	// (it did not answer Connection: close and did not close at once).
	KeepAlive bool `json:"keep_alive"`
	// IdleCloseSeconds is after how long the target closed an idle kept-alive
	// connection; null when it kept it past the probe timeout.
	IdleCloseSeconds *float64 `json:"idle_close_seconds"`
	// KeepAliveHeaderSeconds is the timeout= of the target's Keep-Alive header;
	// null when it sent none.
	KeepAliveHeaderSeconds *int `json:"keep_alive_header_seconds"`
	// HonoursConnectionClose is whether the target closed the connection after
	// answering a request that carried Connection: close.
	HonoursConnectionClose bool `json:"honours_connection_close"`
	// HeadersTimeoutSeconds is after how long the target closed (or answered)
	// a connection on which a request head was started and never finished;
	// null when it waited past the probe timeout.
	HeadersTimeoutSeconds *float64 `json:"headers_timeout_seconds"`
	// ProbeTimeoutSeconds bounds the two waits above.
	ProbeTimeoutSeconds float64 `json:"probe_timeout_seconds"`
	// Server is the target's Server header, when it sent one.
	Server string `json:"server,omitempty"`
	// Responses are the response times measured, one per path.
	Responses []Response `json:"responses"`
}

// Response is the time a target took to answer requests for one path.
type Response struct {
	Path string `json:"path"`
	// Status is the status of the last response (0 when none came).
	Status int `json:"status"`
	// Seconds is the median time from the request sent to the response head
	// received, over the samples taken; when TimedOut, the time waited.
	Seconds float64 `json:"seconds"`
	// TimedOut is true when no response came within the wait.
	TimedOut bool   `json:"timed_out,omitempty"`
	Error    string `json:"error,omitempty"`
}

// responseSamples is how many requests each response time is the median of.
const responseSamples = 3

// closedAtOnce is how soon after a response a close counts as the target not
// keeping connections alive at all.
const closedAtOnce = 100 * time.Millisecond

// closeAfterAnswer is how soon after answering a request with Connection: close
// the target must close the connection to count as honouring it.
const closeAfterAnswer = 500 * time.Millisecond

// probeRequest describes what to probe on one target.
type probeRequest struct {
	addr string
	// paths are the paths whose response time is measured (the health check
	// path first); the first one also serves the keep-alive probes.
	paths []string
	// responseWait bounds each response time sample.
	responseWait time.Duration
}

// progress reports what the probes found as they find it.
type progress func(format string, args ...any)

// probeTarget measures one target, running its probes at the same time: the
// idle close and the headers timeout each wait up to timeout.
func probeTarget(ctx context.Context, pr probeRequest, timeout time.Duration, say progress) *Probe {
	p := &Probe{Target: pr.addr, ProbeTimeoutSeconds: timeout.Seconds()}
	// One request first: can the target be reached and does it answer HTTP?
	c, err := dial(ctx, pr.addr)
	if err != nil {
		p.Error = err.Error()
		say("%s: cannot connect: %v", pr.addr, err)
		return p
	}
	c.Close()

	var wg sync.WaitGroup
	var mu sync.Mutex
	run := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	run(func() {
		ka, idle, hdr, server, err := measureIdleClose(ctx, pr.addr, pr.paths[0], pr.responseWait, timeout)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			p.KeepAliveError = err.Error()
			say("%s: keep-alive probe failed: %v", pr.addr, err)
			return
		}
		p.KeepAlive, p.IdleCloseSeconds, p.KeepAliveHeaderSeconds, p.Server = ka, idle, hdr, server
		switch {
		case !ka:
			say("%s: does not keep connections alive", pr.addr)
		case idle == nil:
			say("%s: kept an idle connection open for the whole probe (%v)", pr.addr, timeout)
		default:
			say("%s: closes idle connections after %.1fs", pr.addr, *idle)
		}
	})
	run(func() {
		honours := measureConnectionClose(ctx, pr.addr, pr.paths[0], pr.responseWait)
		mu.Lock()
		p.HonoursConnectionClose = honours
		mu.Unlock()
	})
	run(func() {
		d := measureHeadersTimeout(ctx, pr.addr, timeout)
		mu.Lock()
		p.HeadersTimeoutSeconds = d
		mu.Unlock()
		if d != nil {
			say("%s: gives up on an unfinished request head after %.1fs", pr.addr, *d)
		}
	})
	run(func() {
		for _, path := range pr.paths {
			r := measureResponse(ctx, pr.addr, path, pr.responseWait)
			mu.Lock()
			p.Responses = append(p.Responses, r)
			mu.Unlock()
			switch {
			case r.TimedOut:
				say("%s: %s: no response within %.1fs", pr.addr, path, r.Seconds)
			case r.Error != "":
				say("%s: %s: %s", pr.addr, path, r.Error)
			default:
				say("%s: %s: %d in %.3fs", pr.addr, path, r.Status, r.Seconds)
			}
		}
	})
	wg.Wait()
	sort.SliceStable(p.Responses, func(i, j int) bool {
		return indexOf(pr.paths, p.Responses[i].Path) < indexOf(pr.paths, p.Responses[j].Path)
	})
	return p
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return len(s)
}

// probeConn is a probe's connection: when the run is cancelled (Ctrl-C), its
// deadline moves to the past so that whatever waits on it returns at once.
type probeConn struct {
	net.Conn
	ctx  context.Context
	stop func() bool
}

func (c *probeConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// SetDeadline, SetReadDeadline: a cancelled run keeps its deadline in the past.
func (c *probeConn) SetDeadline(t time.Time) error {
	if c.ctx.Err() != nil {
		t = time.Unix(1, 0)
	}
	return c.Conn.SetDeadline(t)
}

func (c *probeConn) SetReadDeadline(t time.Time) error {
	if c.ctx.Err() != nil {
		t = time.Unix(1, 0)
	}
	return c.Conn.SetReadDeadline(t)
}

func dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &probeConn{Conn: nc, ctx: ctx}
	c.stop = context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return c, nil
}

// request writes a GET for path and reads the whole response.
func request(c net.Conn, br *bufio.Reader, addr, path string, close bool, wait time.Duration) (*http.Response, time.Duration, error) {
	head := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: albatross-doctor\r\n"
	if close {
		head += "Connection: close\r\n"
	}
	head += "\r\n"
	c.SetDeadline(time.Now().Add(wait))
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		return nil, 0, err
	}
	if _, err := br.Peek(1); err != nil {
		return nil, time.Since(start), err
	}
	took := time.Since(start)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return nil, took, fmt.Errorf("reading the response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, took, fmt.Errorf("reading the response body: %w", err)
	}
	return resp, took, nil
}

// measureIdleClose sends one request, then holds the connection idle and times
// how long the target keeps it open (up to timeout).
func measureIdleClose(ctx context.Context, addr, path string, wait, timeout time.Duration) (keepAlive bool, idle *float64, header *int, server string, err error) {
	c, err := dial(ctx, addr)
	if err != nil {
		return false, nil, nil, "", err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	resp, _, err := request(c, br, addr, path, false, wait)
	if err != nil {
		return false, nil, nil, "", fmt.Errorf("GET %s: %w", path, err)
	}
	server = resp.Header.Get("Server")
	if v, ok := keepAliveTimeout(resp.Header.Values("Keep-Alive")); ok {
		header = &v
	}
	if resp.Close {
		return false, nil, header, server, nil // Connection: close, or HTTP/1.0
	}
	idleFrom := time.Now()
	c.SetReadDeadline(idleFrom.Add(timeout))
	var b [1]byte
	_, rerr := c.Read(b[:])
	held := time.Since(idleFrom)
	var ne net.Error
	if errors.As(rerr, &ne) && ne.Timeout() {
		return true, nil, header, server, nil
	}
	if held < closedAtOnce {
		return false, nil, header, server, nil
	}
	s := round3(held.Seconds())
	return true, &s, header, server, nil
}

// measureConnectionClose reports whether the target closes the connection after
// answering a request with Connection: close.
func measureConnectionClose(ctx context.Context, addr, path string, wait time.Duration) bool {
	c, err := dial(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, _, err := request(c, br, addr, path, true, wait); err != nil {
		return false
	}
	// A server that honours it closes as soon as it has answered; one that
	// does not keeps the connection until its idle timeout.
	c.SetReadDeadline(time.Now().Add(closeAfterAnswer))
	_, err = br.ReadByte()
	return errors.Is(err, io.EOF) || (err != nil && !isTimeout(err))
}

// measureHeadersTimeout starts a request head and never finishes it, and times
// how long the target waits before it closes or answers (a 408, say).
func measureHeadersTimeout(ctx context.Context, addr string, timeout time.Duration) *float64 {
	c, err := dial(ctx, addr)
	if err != nil {
		return nil
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n"); err != nil {
		return nil
	}
	c.SetReadDeadline(start.Add(timeout))
	var b [1]byte
	_, err = c.Read(b[:])
	if err != nil && isTimeout(err) {
		return nil
	}
	s := round3(time.Since(start).Seconds())
	return &s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// measureResponse times responseSamples requests for path on one keep-alive
// connection (a new one after a close) and keeps the median.
func measureResponse(ctx context.Context, addr, path string, wait time.Duration) Response {
	r := Response{Path: path}
	var times []time.Duration
	var c net.Conn
	var br *bufio.Reader
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for i := 0; i < responseSamples; i++ {
		if c == nil {
			var err error
			if c, err = dial(ctx, addr); err != nil {
				r.Error = err.Error()
				return r
			}
			br = bufio.NewReader(c)
		}
		resp, took, err := request(c, br, addr, path, false, wait)
		if err != nil {
			if isTimeout(err) {
				r.TimedOut, r.Seconds = true, round3(took.Seconds())
				return r
			}
			r.Error = fmt.Sprintf("GET %s: %v", path, err)
			return r
		}
		r.Status = resp.StatusCode
		times = append(times, took)
		if resp.Close {
			c.Close()
			c = nil
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	r.Seconds = math.Round(times[len(times)/2].Seconds()*1e6) / 1e6
	return r
}

// keepAliveTimeout returns the timeout= parameter of Keep-Alive header values.
func keepAliveTimeout(values []string) (int, bool) {
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			k, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "timeout") {
				continue
			}
			if n, err := strconv.Atoi(strings.TrimSpace(val)); err == nil && n >= 0 {
				return n, true
			}
		}
	}
	return 0, false
}
