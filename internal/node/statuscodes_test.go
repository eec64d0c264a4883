package node_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/node"
)

// checkErrorLine checks the fields ALB writes for a request the load balancer
// answered itself after choosing target (spec §1.3: -1 -1 -1, target status -).
func checkErrorLine(t *testing.T, e accesslog.Entry, code int, target string) {
	t.Helper()
	if e.ELBStatusCode != code {
		t.Errorf("elb_status_code %d, want %d", e.ELBStatusCode, code)
	}
	if e.TargetStatusCode != 0 {
		t.Errorf("target_status_code %d, want -", e.TargetStatusCode)
	}
	if e.RequestProcessingTime >= 0 || e.TargetProcessingTime >= 0 || e.ResponseProcessingTime >= 0 {
		t.Errorf("processing times %v %v %v, want -1 -1 -1", e.RequestProcessingTime, e.TargetProcessingTime, e.ResponseProcessingTime)
	}
	got := "-"
	if e.Target.IsValid() {
		got = e.Target.String()
	}
	if got != target {
		t.Errorf("target %s, want %s", got, target)
	}
	if e.Time.Before(e.RequestCreationTime.Truncate(time.Millisecond)) {
		t.Errorf("time %v before request_creation_time %v", e.Time, e.RequestCreationTime)
	}
}

func TestMalformedRequestIs400(t *testing.T) {
	t.Parallel()
	f := startLB(t, []string{closedPort(t)}, 60, nil)
	raw := rawExchange(t, f.addr, "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 400, "Bad Request", "close")
	e := f.logLines(1)[0]
	checkErrorLine(t, e, 400, "-")
	if e.Request != nil {
		t.Errorf("request %q, want \"- - -\"", e.Request)
	}
	if e.MatchedRulePriority != accesslog.PriorityNone || e.ActionsExecuted != "" || e.TargetGroupARN != "" {
		t.Errorf("matched_rule_priority %d actions %q target_group_arn %q, want - - -", e.MatchedRulePriority, e.ActionsExecuted, e.TargetGroupARN)
	}
	if e.SentBytes != int64(len(raw)) {
		t.Errorf("sent_bytes %d, want %d (what the client received)", e.SentBytes, len(raw))
	}
	if e.ReceivedBytes == 0 {
		t.Error("received_bytes 0, want the bytes of the head")
	}
	// A NUL in the target: AWS's classifier grades it Severe (BadUri).
	if e.Classification != "Severe" || e.ClassificationReason != "BadUri" {
		t.Errorf("classification %q %q, want Severe BadUri", e.Classification, e.ClassificationReason)
	}
}

func TestMissingHostIs400AndCloses(t *testing.T) {
	t.Parallel()
	f := startLB(t, []string{closedPort(t)}, 60, nil)
	raw := rawExchange(t, f.addr, "GET / HTTP/1.1\r\nUser-Agent: t\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 400, "Bad Request", "close")
	checkErrorLine(t, f.logLines(1)[0], 400, "-")
}

func TestUnsupportedVersionAndCodings(t *testing.T) {
	t.Parallel()
	f := startLB(t, []string{closedPort(t)}, 60, nil)
	checkELBPage(t, rawExchange(t, f.addr, "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 5*time.Second), 505, "HTTP Version Not Supported", "close")
	checkELBPage(t, rawExchange(t, f.addr, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 5*time.Second), 501, "Not Implemented", "close")
	lines := f.logLines(2)
	if lines[0].ELBStatusCode != 505 || lines[1].ELBStatusCode != 501 {
		t.Errorf("logged %d and %d, want 505 and 501", lines[0].ELBStatusCode, lines[1].ELBStatusCode)
	}
}

func TestTraceIs405(t *testing.T) {
	t.Parallel()
	f := startLB(t, []string{closedPort(t)}, 60, nil)
	checkELBPage(t, rawExchange(t, f.addr, "TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second), 405, "Not Allowed", "close")
	if e := f.logLines(1)[0]; e.ELBStatusCode != 405 {
		t.Errorf("logged %d, want 405", e.ELBStatusCode)
	}
}

func TestTooManyForwardedForIs463(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startLB(t, []string{target.addr}, 60, nil)
	var ips []string
	for i := 0; i < 31; i++ {
		ips = append(ips, "10.0.0.1")
	}
	raw := rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: "+strings.Join(ips, ", ")+"\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(raw, "HTTP/1.1 463 ") {
		t.Fatalf("response %q, want 463", raw)
	}
	// 30 addresses are still fine.
	raw = rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Forwarded-For: "+strings.Join(ips[:30], ", ")+"\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(raw, "HTTP/1.1 200 ") {
		t.Fatalf("response %q, want 200 with 30 addresses", raw)
	}
	if n := len(target.requests()); n != 1 {
		t.Errorf("target got %d requests, want 1", n)
	}
}

func TestHeadTimeoutIs408(t *testing.T) {
	t.Parallel()
	f := startLB(t, []string{closedPort(t)}, 1, nil)
	start := time.Now()
	raw := rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: x\r\n", 10*time.Second)
	elapsed := time.Since(start)
	checkELBPage(t, raw, 408, "Request Time-out", "close")
	if elapsed < 900*time.Millisecond {
		t.Errorf("408 after %v, want the 1 s idle timeout", elapsed)
	}
	e := f.logLines(1)[0]
	checkErrorLine(t, e, 408, "-")
}

func TestIdleKeepAliveConnectionClosesSilently(t *testing.T) {
	t.Parallel()
	f := startLB(t, []string{closedPort(t)}, 1, nil)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil || len(b) != 0 {
		t.Fatalf("got %q, %v; want a silent close", b, err)
	}
	// A request after it is the first and only line: the idle connection
	// wrote none.
	rawExchange(t, f.addr, "GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	lines := f.rawLogLines(1)
	if len(lines) != 1 || !strings.Contains(lines[0], "/after HTTP/1.1") {
		t.Errorf("access log %q, want only the later request", lines)
	}
}

func TestNoTargetsIs503(t *testing.T) {
	t.Parallel()
	f := startLB(t, nil, 60, nil)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: example.com\r\n\r\n")
	br := bufio.NewReader(c)
	resp, body := readResponse(t, br, "GET")
	if resp.StatusCode != 503 || resp.Header.Get("Server") != "awselb/2.0" || len(body) != 162 {
		t.Fatalf("got %d %q body %d bytes, want ALB's 503 (162 bytes)", resp.StatusCode, resp.Header.Get("Server"), len(body))
	}
	// ALB keeps the client connection after a 503.
	io.WriteString(c, "GET /y HTTP/1.1\r\nHost: example.com\r\n\r\n")
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 503 {
		t.Fatalf("second request: %d, want 503 on the same connection", resp.StatusCode)
	}
	e := f.logLines(2)[0]
	checkErrorLine(t, e, 503, "-")
	if e.MatchedRulePriority != 0 || e.ActionsExecuted != "forward" || !strings.Contains(e.TargetGroupARN, ":targetgroup/app/") {
		t.Errorf("rule %d actions %q tg %q, want 0 forward and the group's ARN", e.MatchedRulePriority, e.ActionsExecuted, e.TargetGroupARN)
	}
}

func TestTargetRefusedIs502(t *testing.T) {
	t.Parallel()
	dead := closedPort(t)
	f := startLB(t, []string{dead}, 60, nil)
	resp, err := http.Get(f.url("/refused"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 || len(body) != 122 {
		t.Fatalf("got %d with %d bytes, want 502 with ALB's 122-byte page", resp.StatusCode, len(body))
	}
	checkErrorLine(t, f.logLines(1)[0], 502, dead)
}

func TestTargetClosesWithoutResponseIs502(t *testing.T) {
	t.Parallel()
	rt := startRawTarget(t, func(c *net.TCPConn) {
		readHead(c)
		c.Close() // FIN with the request outstanding
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	raw := rawExchange(t, f.addr, "GET /closed HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 502, "Bad Gateway", "close")
	checkErrorLine(t, f.logLines(1)[0], 502, rt.addr)
}

func TestTargetResetIs502(t *testing.T) {
	t.Parallel()
	rt := startRawTarget(t, func(c *net.TCPConn) {
		readHead(c)
		c.SetLinger(0) // close sends RST
		c.Close()
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	raw := rawExchange(t, f.addr, "GET /reset HTTP/1.1\r\nHost: x\r\n\r\n", 2*time.Second)
	checkELBPage(t, raw, 502, "Bad Gateway", "keep-alive")
	checkErrorLine(t, f.logLines(1)[0], 502, rt.addr)
}

func TestTargetGarbageIs502(t *testing.T) {
	t.Parallel()
	rt := startRawTarget(t, func(c *net.TCPConn) {
		readHead(c)
		io.WriteString(c, "THIS IS NOT HTTP\r\n\r\n")
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	raw := rawExchange(t, f.addr, "GET /garbage HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 502, "Bad Gateway", "close")
	checkErrorLine(t, f.logLines(1)[0], 502, rt.addr)
}

func TestOversizedResponseHeadIs502(t *testing.T) {
	t.Parallel()
	rt := startRawTarget(t, func(c *net.TCPConn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("a", 33<<10)+"\r\nContent-Length: 0\r\n\r\n")
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	raw := rawExchange(t, f.addr, "GET /big-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 5*time.Second)
	checkELBPage(t, raw, 502, "Bad Gateway", "close")
}

func TestTargetSilentIs504AtIdleTimeout(t *testing.T) {
	t.Parallel()
	rt := startRawTarget(t, func(c *net.TCPConn) {
		readHead(c)
		io.Copy(io.Discard, c) // hang until the load balancer gives up
	})
	f := startLB(t, []string{rt.addr}, 1, nil)
	start := time.Now()
	raw := rawExchange(t, f.addr, "GET /hang HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 10*time.Second)
	elapsed := time.Since(start)
	checkELBPage(t, raw, 504, "Gateway Time-out", "close")
	if elapsed < 900*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("504 after %v, want about the 1 s idle timeout", elapsed)
	}
	e := f.logLines(1)[0]
	checkErrorLine(t, e, 504, rt.addr)
	if d := e.Time.Sub(e.RequestCreationTime); d < 900*time.Millisecond {
		t.Errorf("time - request_creation_time = %v, want about 1 s", d)
	}
}

func TestConnectTimeoutIs504(t *testing.T) {
	t.Parallel()
	// A listener whose accept queue is full and never drained: further SYNs are
	// dropped by the kernel, so a connect hangs as it does towards a host that
	// does not answer.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	// Fill the queue.
	var fillers []net.Conn
	defer func() {
		for _, c := range fillers {
			c.Close()
		}
	}()
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		fillers = append(fillers, c)
	}
	f := startLB(t, []string{addr}, 60, nil, func(o *node.Options) { o.ConnectTimeout = 500 * time.Millisecond })
	raw := rawExchange(t, f.addr, "GET /connect HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 10*time.Second)
	checkELBPage(t, raw, 504, "Gateway Time-out", "close")
	e := f.logLines(1)[0]
	checkErrorLine(t, e, 504, addr)
	if d := e.Time.Sub(e.RequestCreationTime); d < 400*time.Millisecond {
		t.Errorf("time - request_creation_time = %v, want the 500 ms connect timeout", d)
	}
}

// TestClientGivesUpIs460 reproduces the seed incident: a client that gives up
// after 300 ms on a slow target is logged as 460 with target status -, the three
// processing times -1, sent_bytes 0, and time - request_creation_time ≈ 300 ms.
func TestClientGivesUpIs460(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	f := startLB(t, []string{target.addr}, 60, nil)
	const giveUp = 300 * time.Millisecond
	client := &http.Client{Timeout: giveUp}
	_, err := client.Get(f.url("/slow/report?id=7"))
	if err == nil {
		t.Fatal("request succeeded, want the client to time out")
	}
	e := f.logLines(1)[0]
	checkErrorLine(t, e, 460, target.addr)
	if e.SentBytes != 0 {
		t.Errorf("sent_bytes %d, want 0", e.SentBytes)
	}
	if e.ReceivedBytes == 0 {
		t.Error("received_bytes 0, want the request's bytes")
	}
	// The request lived as long as the client waited: not the target's time
	// (it never answers) nor the idle timeout (60 s). The client's timer starts
	// before it dials, so on a loaded machine the request arrives some way into
	// the 300 ms; the slack both ways allows for that.
	d := e.Time.Sub(e.RequestCreationTime)
	if d < giveUp/2 || d > giveUp+time.Second {
		t.Errorf("time - request_creation_time = %v, want about %v", d, giveUp)
	}
	if !strings.HasPrefix(string(e.Request), "GET http://127.0.0.1:") || !strings.HasSuffix(string(e.Request), "/slow/report?id=7 HTTP/1.1") {
		t.Errorf("request field %q", e.Request)
	}
}

// TestClientClosesMidBodyIs400 covers ALB's 400 for a client that closes before
// sending the whole body.
func TestClientClosesMidBodyIs400(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	rt := startRawTarget(t, func(c *net.TCPConn) {
		readHead(c)
		got <- struct{}{}
		io.Copy(io.Discard, c)
	})
	f := startLB(t, []string{rt.addr}, 60, nil)
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the target never got the request head")
	}
	c.Close()
	e := f.logLines(1)[0]
	if e.ELBStatusCode != 400 || e.TargetStatusCode != 0 || e.SentBytes != 0 {
		t.Errorf("logged %d/%d sent %d, want 400/- sent 0", e.ELBStatusCode, e.TargetStatusCode, e.SentBytes)
	}
}

func TestHeaderLimitsAre400(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {})
	f := startLB(t, []string{target.addr}, 60, nil)
	cases := map[string]string{
		"header line over 16 K":  "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 16<<10) + "\r\n\r\n",
		"request line over 16 K": "GET /" + strings.Repeat("a", 16<<10) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"head over 64 K":         "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Many: "+strings.Repeat("b", 8000)+"\r\n", 9) + "\r\n",
	}
	for name, req := range cases {
		raw := rawExchange(t, f.addr, req, 5*time.Second)
		if !strings.HasPrefix(raw, "HTTP/1.1 400 Bad Request\r\n") {
			t.Errorf("%s: got %.60q, want 400", name, raw)
		}
	}
	// Just under the limits is forwarded.
	raw := rawExchange(t, f.addr, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "+strings.Repeat("a", 15<<10)+"\r\n\r\n", 5*time.Second)
	if !strings.HasPrefix(raw, "HTTP/1.1 200 ") {
		t.Errorf("15 K header: got %.60q, want 200", raw)
	}
	if n := len(target.requests()); n != 1 {
		t.Errorf("target got %d requests, want only the one under the limits", n)
	}
}
