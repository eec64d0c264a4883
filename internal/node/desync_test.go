package node_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// headTarget is a target that records every request head it receives as
// bytes, reads the body a Content-Length announces, answers 200 with
// keep-alive, and counts its connections and those the load balancer closed.
type headTarget struct {
	*rawTarget
	mu     sync.Mutex
	heads  []string
	conns  int
	closed int
}

func startHeadTarget(t *testing.T) *headTarget {
	ht := &headTarget{}
	ht.rawTarget = startRawTarget(t, func(c *net.TCPConn) {
		ht.mu.Lock()
		ht.conns++
		ht.mu.Unlock()
		br := bufio.NewReader(c)
		for {
			head, err := readHeadFrom(br)
			if err != nil {
				if err == io.EOF && head == "" {
					ht.mu.Lock()
					ht.closed++
					ht.mu.Unlock()
				}
				return
			}
			ht.mu.Lock()
			ht.heads = append(ht.heads, head)
			ht.mu.Unlock()
			if n := contentLength(head); n > 0 {
				if _, err := io.CopyN(io.Discard, br, int64(n)); err != nil {
					return
				}
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	return ht
}

// contentLength returns the value of the head's Content-Length line, 0 if none.
func contentLength(head string) int {
	for _, line := range strings.Split(head, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(name, "Content-Length") {
			n, _ := strconv.Atoi(strings.TrimSpace(value))
			return n
		}
	}
	return 0
}

func (ht *headTarget) snapshot() (heads []string, conns, closed int) {
	ht.mu.Lock()
	defer ht.mu.Unlock()
	return append([]string(nil), ht.heads...), ht.conns, ht.closed
}

// waitClosed waits until the target has seen n of its connections closed by
// the load balancer.
func (ht *headTarget) waitClosed(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, closed := ht.snapshot(); closed >= n {
			return
		}
		if time.Now().After(deadline) {
			_, conns, closed := ht.snapshot()
			t.Fatalf("target saw %d of %d connections closed, want %d", closed, conns, n)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// exchange sends one request on c and reads the response.
func exchange(t *testing.T, c net.Conn, br *bufio.Reader, request string) *http.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	resp, _ := readResponse(t, br, "GET")
	return resp
}

// clientClosed reports whether the load balancer closes the client connection
// (EOF within the deadline).
func clientClosed(c net.Conn, br *bufio.Reader) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := br.ReadByte()
	return err == io.EOF
}

const compliantRequest = "GET /next HTTP/1.1\r\nHost: x\r\n\r\n"

// TestDesyncMitigationModes sends one request of each class to a load
// balancer in each mode and checks ALB's table (spec §9.1): the status, whether
// the client and target connections stay open, what reached the target, and
// the access log's classification fields.
func TestDesyncMitigationModes(t *testing.T) {
	t.Parallel()
	type outcome int
	const (
		forward      outcome = iota // 200, both connections reused
		forwardClose                // 200, then both connections closed
		reject                      // 400, client connection closed, nothing forwarded
	)
	requests := []struct {
		name, raw, class, reason string
	}{
		{"compliant", "GET /c HTTP/1.1\r\nHost: x\r\n\r\n", "", ""},
		{"acceptable", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "Acceptable", "SpaceInUri"},
		{"ambiguous", "GET /m HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", "Ambiguous", "MultilineHeader"},
		{"severe", "POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent_Length: 6\r\n\r\nhello", "Severe", "MultipleContentLength"},
	}
	modes := []struct {
		mode     string
		outcomes [4]outcome
	}{
		{"monitor", [4]outcome{forward, forward, forward, forward}},
		{"defensive", [4]outcome{forward, forward, forwardClose, reject}},
		{"strictest", [4]outcome{forward, reject, reject, reject}},
	}
	for _, m := range modes {
		t.Run(m.mode, func(t *testing.T) {
			t.Parallel()
			target := startHeadTarget(t)
			f := startLB(t, []string{target.addr}, 60, map[string]string{"routing.http.desync_mitigation_mode": m.mode})
			for i, r := range requests {
				c, err := net.Dial("tcp", f.addr)
				if err != nil {
					t.Fatal(err)
				}
				br := bufio.NewReader(c)
				headsBefore, _, closedBefore := target.snapshot()
				resp := exchange(t, c, br, r.raw)
				// The previous client connection's goroutine may still be
				// returning its target connection to the pool when this
				// request arrives, so this request may dial a new one; what
				// it then leaves in the pool is what the follow-up must reuse.
				_, connsAfter, _ := target.snapshot()
				want := m.outcomes[i]
				switch want {
				case forward, forwardClose:
					if resp.StatusCode != 200 {
						t.Fatalf("%s: status %d, want 200 (forwarded)", r.name, resp.StatusCode)
					}
					if heads, _, _ := target.snapshot(); len(heads) != len(headsBefore)+1 {
						t.Fatalf("%s: target got %d requests, want 1", r.name, len(heads)-len(headsBefore))
					}
				case reject:
					if resp.StatusCode != 400 || !resp.Close {
						t.Fatalf("%s: status %d close %v, want 400 and Connection: close", r.name, resp.StatusCode, resp.Close)
					}
				}
				switch want {
				case forward:
					// Both connections stay open: a follow-up request on the
					// same client connection is answered over the same target
					// connection.
					if resp := exchange(t, c, br, compliantRequest); resp.StatusCode != 200 {
						t.Fatalf("%s: follow-up status %d", r.name, resp.StatusCode)
					}
					if _, conns, _ := target.snapshot(); conns != connsAfter {
						t.Errorf("%s: target connections %d after a follow-up, want %d (reused)", r.name, conns, connsAfter)
					}
				default:
					if !clientClosed(c, br) {
						t.Errorf("%s: client connection still open, want closed", r.name)
					}
				}
				c.Close()
				if want == forwardClose {
					target.waitClosed(t, closedBefore+1)
				}
				if _, _, closed := target.snapshot(); want == forward && closed != closedBefore {
					t.Errorf("%s: the load balancer closed a target connection after a request it should reuse it after", r.name)
				}
			}
			// One log line per request (and per follow-up), in order.
			n := len(requests)
			for _, o := range m.outcomes {
				if o == forward {
					n++
				}
			}
			lines := f.logLines(n)
			var got []string
			for _, e := range lines {
				if string(e.Request) != "GET http://x:"+strconv.Itoa(f.port)+"/next HTTP/1.1" {
					got = append(got, e.Classification+"/"+e.ClassificationReason+"/"+strconv.Itoa(e.ELBStatusCode))
				}
			}
			var wantLog []string
			for i, r := range requests {
				status := "200"
				if m.outcomes[i] == reject {
					status = "400"
				}
				wantLog = append(wantLog, r.class+"/"+r.reason+"/"+status)
			}
			if strings.Join(got, " ") != strings.Join(wantLog, " ") {
				t.Errorf("logged classification/reason/status %q, want %q", got, wantLog)
			}
			// A blocked request was parsed whole: its line keeps the request.
			for _, e := range lines {
				if e.Classification == "Severe" && string(e.Request) != "POST http://x:"+strconv.Itoa(f.port)+"/s HTTP/1.1" {
					t.Errorf("request field %q of the Severe request", e.Request)
				}
			}
		})
	}
}

// TestTransferEncodingWhitespaceRejectedInEveryMode: ALB answers 400 to a
// Transfer-Encoding header with whitespace before its colon in every mode
// (spec §2.1), monitor included.
func TestTransferEncodingWhitespaceRejectedInEveryMode(t *testing.T) {
	t.Parallel()
	target := startHeadTarget(t)
	f := startLB(t, []string{target.addr}, 60, map[string]string{"routing.http.desync_mitigation_mode": "monitor"})
	raw := rawExchange(t, f.addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 400, "Bad Request", "close")
	e := f.logLines(1)[0]
	if e.Classification != "Ambiguous" || e.ClassificationReason != "SuspiciousHeader" || e.ELBStatusCode != 400 {
		t.Errorf("logged %q %q %d, want Ambiguous SuspiciousHeader 400", e.Classification, e.ClassificationReason, e.ELBStatusCode)
	}
	if heads, _, _ := target.snapshot(); len(heads) != 0 {
		t.Errorf("target got %q", heads)
	}
}

// TestUnframeableRequestsAreClassified: a head whose body length cannot be
// known is classified and logged; defensive mode blocks it as Severe, and
// monitor mode cannot forward it either (nothing says where its body ends),
// so it gets the codec's answer.
func TestUnframeableRequestsAreClassified(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"defensive", "monitor"} {
		f := startLB(t, []string{closedPort(t)}, 60, map[string]string{"routing.http.desync_mitigation_mode": mode})
		checkELBPage(t, rawExchange(t, f.addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 5*time.Second), 400, "Bad Request", "close")
		checkELBPage(t, rawExchange(t, f.addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, xchunked\r\n\r\n", 5*time.Second), map[string]int{"defensive": 400, "monitor": 501}[mode],
			map[string]string{"defensive": "Bad Request", "monitor": "Not Implemented"}[mode], "close")
		lines := f.logLines(2)
		if lines[0].Classification != "Severe" || lines[0].ClassificationReason != "MultipleContentLength" ||
			lines[1].Classification != "Severe" || lines[1].ClassificationReason != "BadTransferEncoding" {
			t.Errorf("%s: logged %q/%q and %q/%q", mode, lines[0].Classification, lines[0].ClassificationReason, lines[1].Classification, lines[1].ClassificationReason)
		}
	}
}

// TestDropInvalidHeaderFields: with routing.http.drop_invalid_header_fields
// .enabled, header names that are not [-A-Za-z0-9]+ are removed before
// forwarding (spec §7.8); without it they reach the target as received.
func TestDropInvalidHeaderFields(t *testing.T) {
	t.Parallel()
	const request = "GET / HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\nX Space: 2\r\nX-Ok: 3\r\nConnection: close\r\n\r\n"
	for _, drop := range []bool{false, true} {
		target := startHeadTarget(t)
		f := startLB(t, []string{target.addr}, 60, map[string]string{"routing.http.drop_invalid_header_fields.enabled": strconv.FormatBool(drop)})
		if raw := rawExchange(t, f.addr, request, 5*time.Second); !strings.HasPrefix(raw, "HTTP/1.1 200 ") {
			t.Fatalf("drop=%v: response %q", drop, raw)
		}
		heads, _, _ := target.snapshot()
		if len(heads) != 1 {
			t.Fatalf("drop=%v: target got %d requests", drop, len(heads))
		}
		for _, h := range []string{"\r\nX_Under: 1\r\n", "\r\nX Space: 2\r\n"} {
			if strings.Contains(heads[0], h) == drop {
				t.Errorf("drop=%v: forwarded head %q, %q present = %v", drop, heads[0], h, !drop)
			}
		}
		if !strings.Contains(heads[0], "\r\nX-Ok: 3\r\n") {
			t.Errorf("drop=%v: valid header missing from %q", drop, heads[0])
		}
		// "X Space" is not a token: the classifier grades it, whatever happens
		// to it afterwards.
		if e := f.logLines(1)[0]; e.Classification != "Acceptable" || e.ClassificationReason != "NonCompliantHeader" {
			t.Errorf("drop=%v: logged %q %q, want Acceptable NonCompliantHeader", drop, e.Classification, e.ClassificationReason)
		}
	}
}

// TestEmptyLinesBeyondTheHeadLimit: a client that sends only empty lines past
// ALB's 64 K head limit gets a 400, logged with the class of a head without a
// request line, and the load balancer goes on serving.
func TestEmptyLinesBeyondTheHeadLimit(t *testing.T) {
	t.Parallel()
	target := startHeadTarget(t)
	f := startLB(t, []string{target.addr}, 60, nil)
	checkELBPage(t, rawExchange(t, f.addr, strings.Repeat("\r\n", 20<<10)+strings.Repeat("\n", 30<<10+1), 5*time.Second), 400, "Bad Request", "close")
	if e := f.logLines(1)[0]; e.ELBStatusCode != 400 || e.Classification != "Ambiguous" || e.ClassificationReason != "MissingUri" {
		t.Errorf("logged %d %q %q, want 400 Ambiguous MissingUri", e.ELBStatusCode, e.Classification, e.ClassificationReason)
	}
	if raw := rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second); !strings.HasPrefix(raw, "HTTP/1.1 200 ") {
		t.Fatalf("after the oversized head: %q", raw)
	}
}
