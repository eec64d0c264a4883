package accesslog

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// AWS's documented connection log example (spec §1.5), which predates the
// last three fields, and the same line as ALB writes it today.
const (
	connExample2023 = `2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US" NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z FEF257372D5C14D4 Success TID_3180a73013c8ca4bac2f731159d4b0fe`
	connExample     = connExample2023 + ` x25519 app/my-lb/50dc6c495c0c9188 10.0.0.7`
	connFailed      = `2024-01-02T03:04:05.000006Z 2001:db8::1 50000 443 - - - - - - Failed:ClientCertUntrusted TID_00000000000000000000000000000001 - app/my-lb/50dc6c495c0c9188 -`
	// AWS's documented health-check log example (spec §1.6), and one with
	// the trailing fields.
	healthExample = `http 2025-10-31T12:44:58.901409Z 1.121980746 172.31.31.9:80 HCLogsTestIPs FAIL 502 TargetError`
	healthPass    = `https 2025-10-31T12:45:00.000001Z 0.000512000 [2001:db8::9]:443 web PASS 200 - app/my-lb/50dc6c495c0c9188 10.0.0.7`
)

func TestParseConnLineExamples(t *testing.T) {
	var e ConnEntry
	if err := ParseConnLine([]byte(connExample2023), &e); err != nil {
		t.Fatalf("2023 example: %v", err)
	}
	want := ConnEntry{
		Time:                       time.Date(2023, 10, 4, 17, 5, 15, 514108000, time.UTC),
		Client:                     netip.MustParseAddrPort("203.0.113.1:36280"),
		ListenerPort:               443,
		TLSProtocol:                "TLSv1.2",
		TLSCipher:                  "ECDHE-RSA-AES128-GCM-SHA256",
		HandshakeLatency:           4036 * time.Millisecond,
		LeafClientCertSubject:      "CN=amazondomains.com,O=endEntity,L=Seattle,ST=Washington,C=US",
		LeafClientCertValidity:     "NotBefore=2023-09-21T22:43:21Z;NotAfter=2026-06-17T22:43:21Z",
		LeafClientCertSerialNumber: "FEF257372D5C14D4",
		TLSVerifyStatus:            "Success",
		ConnTraceID:                "TID_3180a73013c8ca4bac2f731159d4b0fe",
	}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("2023 example parsed as\n%+v\nwant\n%+v", e, want)
	}
	if err := ParseConnLine([]byte(connExample+"\n"), &e); err != nil {
		t.Fatalf("current example: %v", err)
	}
	want.TLSKeyExchange, want.ELB, want.NodeIP = "x25519", "app/my-lb/50dc6c495c0c9188", netip.MustParseAddr("10.0.0.7")
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("current example parsed as\n%+v\nwant\n%+v", e, want)
	}
	// Newer lines with more fields parse; the extra ones are ignored.
	if err := ParseConnLine([]byte(connExample+` future "field"`), &e); err != nil || e.NodeIP != want.NodeIP {
		t.Fatalf("a line with later fields: %v (%+v)", err, e)
	}
}

func TestConnLineRoundTrip(t *testing.T) {
	for _, line := range []string{connExample, connFailed} {
		var e ConnEntry
		if err := ParseConnLine([]byte(line), &e); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if got := string(AppendConnLine(nil, &e)); got != line+"\n" {
			t.Errorf("re-encoded as\n%s\nwant\n%s", got, line)
		}
	}
	var e ConnEntry
	if err := ParseConnLine([]byte(connFailed), &e); err != nil {
		t.Fatal(err)
	}
	if e.HandshakeLatency >= 0 || e.TLSProtocol != "" || e.NodeIP.IsValid() || e.Client.Addr() != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("failed handshake line parsed as %+v", e)
	}
}

func TestParseConnLineErrors(t *testing.T) {
	for _, tc := range []struct {
		line, want string
	}{
		{"", "connection log line is empty"},
		{strings.Replace(connExample, "36280", "99999", 1), `field 3 client_port: "99999" is not a port number`},
		{strings.Replace(connExample, " 4.036 ", " fast ", 1), `field 7 tls_handshake_latency: "fast" is not seconds`},
		{strings.Replace(connExample, "203.0.113.1", "host", 1), `field 2 client_ip: "host" is not an IP address`},
		{`2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2`, "connection log line has 5 fields, want at least 12 (through conn_trace_id)"},
		{connExample[:strings.Index(connExample, "amazondomains")], `field 8 leaf_client_cert_subject: "\"CN=" has no closing quote`},
	} {
		var e ConnEntry
		err := ParseConnLine([]byte(tc.line), &e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConnLine(%.60q) = %v, want an error containing %q", tc.line, err, tc.want)
		}
	}
}

func TestParseHealthLineExamples(t *testing.T) {
	var e HealthEntry
	if err := ParseHealthLine([]byte(healthExample), &e); err != nil {
		t.Fatal(err)
	}
	want := HealthEntry{Type: "http", Time: time.Date(2025, 10, 31, 12, 44, 58, 901409000, time.UTC),
		Latency: 1121980746 * time.Nanosecond, Target: netip.MustParseAddrPort("172.31.31.9:80"),
		TargetGroup: "HCLogsTestIPs", StatusCode: 502, Reason: HealthReasonTargetError}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("AWS's example parsed as\n%+v\nwant\n%+v", e, want)
	}
	if err := ParseHealthLine([]byte(healthPass), &e); err != nil {
		t.Fatal(err)
	}
	if !e.Pass || e.Reason != "" || e.StatusCode != 200 || e.Target.Port() != 443 || e.NodeIP != netip.MustParseAddr("10.0.0.7") || e.Latency != 512*time.Microsecond {
		t.Fatalf("passing check parsed as %+v", e)
	}
}

func TestHealthLineRoundTrip(t *testing.T) {
	e := HealthEntry{Type: "h2", Time: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), Latency: 19584011,
		Target: netip.MustParseAddrPort("127.0.0.1:8080"), TargetGroup: "api", Reason: HealthReasonTimedOut,
		ELB: "app/web/0123456789abcdef", NodeIP: netip.MustParseAddr("127.0.0.2")}
	line := AppendHealthLine(nil, &e)
	const want = "h2 2026-01-02T03:04:05.123456Z 0.019584011 127.0.0.1:8080 api FAIL - TimedOut app/web/0123456789abcdef 127.0.0.2\n"
	if string(line) != want {
		t.Fatalf("AppendHealthLine = %q, want %q", line, want)
	}
	var back HealthEntry
	if err := ParseHealthLine(line, &back); err != nil {
		t.Fatal(err)
	}
	e.Time = e.Time.Truncate(time.Microsecond)
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("parsed back as\n%+v\nwant\n%+v", back, e)
	}
	// The AWS example without its trailing fields re-encodes with "-" for them.
	if err := ParseHealthLine([]byte(healthExample), &back); err != nil {
		t.Fatal(err)
	}
	if got := string(AppendHealthLine(nil, &back)); got != healthExample+" - -\n" {
		t.Errorf("AWS's example re-encoded as %q", got)
	}
}

func TestParseHealthLineErrors(t *testing.T) {
	for _, tc := range []struct {
		line, want string
	}{
		{strings.Replace(healthExample, "FAIL", "BAD", 1), `field 6 status: "BAD" is not PASS or FAIL`},
		{strings.Replace(healthExample, "502", "5021", 1), `field 7 status_code: "5021" is not a status code`},
		{strings.Replace(healthExample, "1.121980746", "1.1219807461", 1), `field 3 latency`},
		{strings.Replace(healthExample, "172.31.31.9:80", "172.31.31.9", 1), `field 4 target_addr: "172.31.31.9" is not ip:port`},
		{"http 2025-10-31T12:44:58.901409Z 1.1", "health-check log line has 3 fields, want at least 8 (through reason_code)"},
	} {
		var e HealthEntry
		err := ParseHealthLine([]byte(tc.line), &e)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseHealthLine(%q) = %v, want an error containing %q", tc.line, err, tc.want)
		}
		var fe *FieldError
		if strings.HasPrefix(tc.want, "field") && !errors.As(err, &fe) {
			t.Errorf("ParseHealthLine(%q): %T is not a *FieldError", tc.line, err)
		}
	}
}

func TestLogHealthWritesLines(t *testing.T) {
	path := t.TempDir() + "/health.log"
	w, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	e := HealthEntry{Type: "http", Time: time.Unix(1700000000, 0), Target: netip.MustParseAddrPort("127.0.0.1:1"), TargetGroup: "tg", Pass: true, StatusCode: 200}
	w.LogHealth(&e)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, path)
	if got != string(AppendHealthLine(nil, &e)) {
		t.Fatalf("file holds %q", got)
	}
}

func TestFileKind(t *testing.T) {
	const day = "p/AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/12/06/"
	for name, want := range map[string]string{
		day + "123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1005Z_10.0.0.7_abcdefgh.log.gz":          KindAccess,
		day + "conn_log_123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1005Z_10.0.0.7_abcdefgh.log.gz": KindConnection,
		"123456789012_conn_log.app.web.log.gz": KindConnection,
		day + "health_check_log_123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1005Z_10.0.0.7_x.log.gz": KindHealthCheck,
		"conn_log_dir/123456789012_elasticloadbalancing_us-east-1_app.web.0123456789abcdef_20261206T1005Z_10.0.0.7_abcdefgh.log.gz":    KindAccess,
	} {
		if got := FileKind(name); got != want {
			t.Errorf("FileKind(%q) = %q, want %q", name, got, want)
		}
	}
}
