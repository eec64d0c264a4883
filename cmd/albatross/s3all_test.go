package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/s3test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestThreeLogsToS3: a node whose configuration file turns on all three of
// ALB's S3 logs (access, connection, health-check) delivers them as ALB
// does, every interval (shortened by --log-interval), under ALB's keys, while
// it runs; every line parses with the parser of its log and matches what was
// sent: each request once, each TLS connection once (failed handshakes
// included), each health check. The S3 server is then killed while traffic
// goes on and started again: every line still arrives exactly once. Finally
// `albatross logs summary` and `albatross logs connections` read the bucket.
func TestThreeLogsToS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "alb-logs")
	s3test.SetEnv(t)
	dir := t.TempDir()
	writeCertificate(t, dir, "web", "web.example.test")
	target := namedTarget(t, "app", 0, nil)
	host, tport, _ := net.SplitHostPort(target)
	httpPort, tlsPort := testutil.FreePort(t), testutil.FreePort(t)
	cfg := fmt.Sprintf(`load_balancers:
  - name: web
    attributes:
      access_logs.s3.enabled: "true"
      access_logs.s3.bucket: alb-logs
      access_logs.s3.prefix: edge
      connection_logs.s3.enabled: "true"
      connection_logs.s3.bucket: alb-logs
      connection_logs.s3.prefix: edge
      health_check_logs.s3.enabled: "true"
      health_check_logs.s3.bucket: alb-logs
      health_check_logs.s3.prefix: edge
    listeners:
      - {port: %d, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: app}]}
      - port: %d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: web.crt, key: web.key}]
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    health_check: {path: /, interval_seconds: 5, timeout_seconds: 2}
    targets: [{id: %s, port: %s}]
`, httpPort, tlsPort, host, tport)
	cfgPath := filepath.Join(dir, "albatross.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := start(t, "serve", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", admin,
		"--s3-endpoint", srv.URL, "--s3-path-style", "--log-interval", "2s", "--shutdown-timeout", "5s")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node output:\n%s", p.stderr.String())
		}
	})
	eventually(t, "the node", func() bool { body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", httpPort)); return body == "app" })

	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "web.example.test"}}}
	sent := map[string]int{} // request path → times sent
	warmup := "/"            // the request that waited for the node
	sent[warmup]++
	sendHTTP := func(prefix string, n int) {
		for i := range n {
			path := fmt.Sprintf("/%s/%d", prefix, i)
			if body, err := get(fmt.Sprintf("http://127.0.0.1:%d%s", httpPort, path)); err != nil || body != "app" {
				t.Fatalf("GET %s: %q %v", path, body, err)
			}
			sent[path]++
		}
	}
	tlsOK, tlsFailed := 0, 0
	sendHTTPS := func(prefix string, n int) {
		for i := range n {
			path := fmt.Sprintf("/%s/%d", prefix, i)
			resp, err := tlsClient.Get(fmt.Sprintf("https://127.0.0.1:%d%s", tlsPort, path))
			if err != nil {
				t.Fatalf("GET https %s: %v", path, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			sent[path]++
			tlsOK++
		}
	}
	failHandshake := func(n int) {
		for range n {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort))
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // not a TLS ClientHello
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
			c.Close()
			tlsFailed++
		}
	}

	sendHTTP("h", 20)
	sendHTTPS("s", 10)
	failHandshake(3)
	got := waitForLogs(t, srv, len(sent)+0, tlsOK+tlsFailed, 1, sent)
	checkLogs(t, got, sent, tlsOK, tlsFailed, target)

	// The store killed mid-run: traffic goes on, lines wait in the spool.
	srv.Stop()
	sendHTTP("during", 15)
	sendHTTPS("during-tls", 5)
	spool := filepath.Join(dir, "data", "log-spool")
	testutil.WaitFor(t, 30*time.Second, "the outage's lines in completed spool files", func() bool { return spooledLines(spool, false) >= 20 })
	srv.Restart()
	sendHTTP("after", 5)
	got = waitForLogs(t, srv, len(sent), tlsOK+tlsFailed, 1, sent)
	checkLogs(t, got, sent, tlsOK, tlsFailed, target)

	// SIGTERM: the node uploads what it has, then exits.
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	got = collectLogs(t, srv)
	checkLogs(t, got, sent, tlsOK, tlsFailed, target)

	s3args := []string{"--since", "1h", "--s3-endpoint", srv.URL, "--s3-path-style", "s3://alb-logs/edge"}
	out, code := runBinary(t, append([]string{"logs", "summary", "--format", "json"}, s3args...)...)
	var sum struct {
		Requests int64 `json:"requests"`
	}
	if code != 0 || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &sum) != nil || sum.Requests != int64(len(sent)) {
		t.Errorf("logs summary s3://: exit %d, %d requests, want %d\n%s", code, sum.Requests, len(sent), out)
	}
	out, code = runBinary(t, append([]string{"logs", "connections", "--format", "json"}, s3args...)...)
	var conns struct {
		Connections, Succeeded, Failed int64
		FailuresByReason               []struct {
			Value string
			Count int64
		} `json:"failures_by_reason"`
		TLSProtocols []struct{ Value string } `json:"tls_protocols"`
	}
	if code != 0 || json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &conns) != nil {
		t.Fatalf("logs connections s3://: exit %d\n%s", code, out)
	}
	if conns.Succeeded != int64(tlsOK) || conns.Failed != int64(tlsFailed) || len(conns.FailuresByReason) != 1 ||
		conns.FailuresByReason[0].Value != "UnmappedConnectionError" || len(conns.TLSProtocols) == 0 {
		t.Errorf("logs connections s3://: %+v, want %d succeeded and %d failed (UnmappedConnectionError)\n%s", conns, tlsOK, tlsFailed, out)
	}
}

// s3Logs is what the bucket holds, line by line, by log.
type s3Logs struct {
	keys                  []string
	access, conn, healthc []string
}

// logKey is the key of any of the three logs of load balancer web in the
// bucket, as ALB names them (spec §1.1).
var logKey = regexp.MustCompile(`^edge/AWSLogs/000000000000/elasticloadbalancing/us-east-1/\d{4}/\d{2}/\d{2}/` +
	`(conn_log_|health_check_log_)?000000000000_elasticloadbalancing_us-east-1_app\.web\.[0-9a-f]{16}_\d{8}T\d{4}Z_\d+\.\d+\.\d+\.\d+_[a-z0-9]{8}\.log\.gz$`)

// collectLogs downloads and gunzips every log object of the bucket.
func collectLogs(t *testing.T, srv *s3test.Server) s3Logs {
	t.Helper()
	var got s3Logs
	c := srv.Client(t)
	for _, key := range srv.Keys(t, "alb-logs", "edge/AWSLogs/000000000000/elasticloadbalancing/") {
		m := logKey.FindStringSubmatch(key)
		if m == nil {
			t.Fatalf("object %q is not named as ALB names its logs", key)
		}
		got.keys = append(got.keys, key)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		obj, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("alb-logs"), Key: aws.String(key)})
		if err != nil {
			cancel()
			t.Fatalf("get %s: %v", key, err)
		}
		body, err := io.ReadAll(obj.Body)
		obj.Body.Close()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s is not gzip: %v", key, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(plain))
		for sc.Scan() {
			switch m[1] {
			case "":
				got.access = append(got.access, sc.Text())
			case "conn_log_":
				got.conn = append(got.conn, sc.Text())
			default:
				got.healthc = append(got.healthc, sc.Text())
			}
		}
	}
	return got
}

// waitForLogs polls the bucket until it holds at least the given numbers of
// access, connection and health-check lines.
func waitForLogs(t *testing.T, srv *s3test.Server, access, conn, health int, sent map[string]int) s3Logs {
	t.Helper()
	var got s3Logs
	testutil.WaitFor(t, 60*time.Second, fmt.Sprintf("%d access, %d connection and %d health-check lines in the bucket", access, conn, health), func() bool {
		got = collectLogs(t, srv)
		return len(got.access) >= access && len(got.conn) >= conn && len(got.healthc) >= health
	})
	return got
}

// checkLogs checks every line of every log against what was sent: each
// request exactly once, each TLS connection exactly once.
func checkLogs(t *testing.T, got s3Logs, sent map[string]int, tlsOK, tlsFailed int, target string) {
	t.Helper()
	seen := map[string]int{}
	for _, line := range got.access {
		var e accesslog.Entry
		if err := accesslog.ParseLine([]byte(line), &e); err != nil {
			t.Fatalf("access log line %q: %v", line, err)
		}
		req := strings.Fields(string(e.Request))
		if len(req) != 3 || e.ELBStatusCode != 200 || e.Target.String() != target {
			t.Fatalf("access log line %q: request %q status %d target %v", line, e.Request, e.ELBStatusCode, e.Target)
		}
		i := strings.Index(req[1], "://")
		path := req[1][i+3:]
		path = path[strings.IndexByte(path, '/'):]
		seen[path]++
	}
	for path, n := range sent {
		if seen[path] != n {
			t.Errorf("request %s: in the access log %d times, sent %d", path, seen[path], n)
		}
	}
	if len(got.access) != len(sent) {
		t.Errorf("%d access log lines, %d requests sent", len(got.access), len(sent))
	}
	ok, failed := 0, 0
	traces := map[string]bool{}
	for _, line := range got.conn {
		var e accesslog.ConnEntry
		if err := accesslog.ParseConnLine([]byte(line), &e); err != nil {
			t.Fatalf("connection log line %q: %v", line, err)
		}
		if traces[e.ConnTraceID] {
			t.Errorf("connection %s logged twice", e.ConnTraceID)
		}
		traces[e.ConnTraceID] = true
		switch e.TLSVerifyStatus {
		case "Success":
			ok++
			if !strings.HasPrefix(e.TLSProtocol, "TLSv1.") || e.TLSCipher == "" || e.HandshakeLatency < 0 {
				t.Errorf("successful handshake logged as %q", line)
			}
		case "Failed:UnmappedConnectionError":
			failed++
		default:
			t.Errorf("connection log line %q: unexpected status", line)
		}
	}
	if ok != tlsOK || failed != tlsFailed {
		t.Errorf("connection log: %d successful and %d failed handshakes, want %d and %d", ok, failed, tlsOK, tlsFailed)
	}
	for _, line := range got.healthc {
		var e accesslog.HealthEntry
		if err := accesslog.ParseHealthLine([]byte(line), &e); err != nil {
			t.Fatalf("health-check log line %q: %v", line, err)
		}
		if !e.Pass || e.StatusCode != 200 || e.Target.String() != target || e.TargetGroup != "app" || e.Type != "http" {
			t.Errorf("health-check log line %q", line)
		}
	}
}
