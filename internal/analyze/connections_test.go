package analyze

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// connLine is one connection log line as the node's writer encodes it.
func connLine(t *testing.T, at time.Time, client, status, proto, cipher string, latency time.Duration, elb string) string {
	t.Helper()
	e := accesslog.ConnEntry{Time: at, Client: netip.MustParseAddrPort(client), ListenerPort: 443, TLSProtocol: proto,
		TLSCipher: cipher, HandshakeLatency: latency, TLSVerifyStatus: status, ConnTraceID: "TID_0123456789abcdef0123456789abcdef",
		ELB: elb, NodeIP: netip.MustParseAddr("10.0.0.7")}
	if proto != "" {
		e.TLSKeyExchange = "x25519"
	}
	return string(accesslog.AppendConnLine(nil, &e))
}

func writeGzip(t *testing.T, path, content string) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(content))
	zw.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConnections(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	const web, api = "app/web/0123456789abcdef", "app/api/fedcba9876543210"
	var a, b strings.Builder
	for i := range 6 {
		a.WriteString(connLine(t, t0.Add(time.Duration(i)*time.Second), "192.0.2.1:40000", "Success", "TLSv1.3", "TLS_AES_128_GCM_SHA256", time.Duration(i+1)*time.Millisecond, web))
	}
	a.WriteString(connLine(t, t0, "192.0.2.1:40001", "Success", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", 3*time.Millisecond, web))
	for range 3 {
		a.WriteString(connLine(t, t0, "198.51.100.9:5000", "Failed:UnmappedConnectionError", "", "", -1, web))
	}
	a.WriteString(connLine(t, t0, "198.51.100.10:5000", "Failed:ClientCertUntrusted", "", "", -1, web))
	a.WriteString("not a connection log line\n")
	b.WriteString(connLine(t, t0, "198.51.100.9:5001", "Failed:ClientCertExpired", "", "", -1, web))
	b.WriteString(connLine(t, t0, "203.0.113.5:1", "Failed:UnmappedConnectionError", "", "", -1, api))                                       // another load balancer
	b.WriteString(connLine(t, t0.Add(-2*time.Hour), "203.0.113.6:1", "Success", "TLSv1.3", "TLS_AES_128_GCM_SHA256", time.Millisecond, web)) // before --since
	day := filepath.Join(dir, "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/12/06")
	writeGzip(t, filepath.Join(day, "conn_log_123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1005Z_10.0.0.7_abcdefgh.log.gz"), a.String())
	writeGzip(t, filepath.Join(day, "conn_log_123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1010Z_10.0.0.7_ijklmnop.log.gz"), b.String())
	// Access and health-check logs in the same layout are not read.
	writeGzip(t, filepath.Join(day, "123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1005Z_10.0.0.7_qrstuvwx.log.gz"), "http 2026-12-06T10:00:00.000000Z app/web/x 1.2.3.4:5 - -1 -1 -1 503 - 0 0 \"GET http://x:80/ HTTP/1.1\" \"-\" - - - \"-\"\n")

	files, err := ConnInputs([]string{dir})
	if err != nil || len(files) != 2 {
		t.Fatalf("ConnInputs = %q, %v; want the two conn_log_ files", files, err)
	}
	rep, err := Connections(context.Background(), files, ConnOptions{Since: t0.Add(-time.Hour), LoadBalancers: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lines != 15 || rep.Connections != 12 || rep.Succeeded != 7 || rep.Failed != 5 || rep.MalformedLines != 1 {
		t.Fatalf("lines %d connections %d succeeded %d failed %d malformed %d; want 15 12 7 5 1", rep.Lines, rep.Connections, rep.Succeeded, rep.Failed, rep.MalformedLines)
	}
	if m := rep.Malformed[0]; !strings.HasSuffix(m.File, "abcdefgh.log.gz") || m.Line != 12 {
		t.Errorf("malformed line reported at %s:%d", m.File, m.Line)
	}
	want := []ValueCount{{"UnmappedConnectionError", 3}, {"ClientCertExpired", 1}, {"ClientCertUntrusted", 1}}
	if got, _ := json.Marshal(rep.FailuresByReason); string(got) != mustJSON(t, want) {
		t.Errorf("failures by reason %s, want %s", got, mustJSON(t, want))
	}
	if c := rep.FailuresByClient; len(c) != 2 || c[0].ClientIP != "198.51.100.9" || c[0].Failed != 4 || c[1].ClientIP != "198.51.100.10" {
		t.Errorf("failures by client %+v", c)
	}
	if got := mustJSON(t, rep.TLSProtocols); got != `[{"value":"TLSv1.3","count":6},{"value":"TLSv1.2","count":1}]` {
		t.Errorf("TLS versions %s", got)
	}
	if rep.HandshakeLatency.Max != 0.006 || rep.HandshakeLatency.P50 != 0.003 {
		t.Errorf("handshake latency %+v, want p50 0.003 and max 0.006", rep.HandshakeLatency)
	}
	var text bytes.Buffer
	if err := WriteConnText(&text, rep); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"12 connections in 2 files", "5 failed (41.7%)", "UnmappedConnectionError  3", "198.51.100.9", "UnmappedConnectionError 3, ClientCertExpired 1"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
