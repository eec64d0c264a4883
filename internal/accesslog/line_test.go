package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The four example lines of spec §1.4, verbatim.
const (
	spec200 = `https 2025-11-03T14:22:07.531842Z app/my-alb/50dc6c495c0c9188 203.0.113.24:51234 10.0.1.15:8080 0.001 0.024 0.000 200 200 412 1834 "GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1" "curl/8.5.0" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908ba8f-3c1a2b4d5e6f708192a3b4c5" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 10 2025-11-03T14:22:07.506000Z "forward" "-" "-" "10.0.1.15:8080" "200" "-" "-" TID_4f1c2e3d4b5a69788796a5b4c3d2e1f0 "-" "-" "-" 198.51.100.10`
	spec460 = `https 2025-11-03T14:25:31.219377Z app/my-alb/50dc6c495c0c9188 198.51.100.77:60412 10.0.1.16:8080 -1 -1 -1 460 - 1730 0 "POST https://api.example.com:443/v1/reports HTTP/1.1" "python-requests/2.32.3" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bb3d-9f0e1d2c3b4a59687766a5b4" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 10 2025-11-03T14:25:01.212000Z "forward" "-" "-" "10.0.1.16:8080" "-" "-" "-" TID_0a1b2c3d4e5f60718293a4b5c6d7e8f9 "-" "-" "-" 198.51.100.10`
	spec502 = `http 2025-11-03T14:26:02.121905Z app/my-alb/50dc6c495c0c9188 203.0.113.99:40022 10.0.1.15:8080 -1 -1 -1 502 - 389 277 "GET http://www.example.com:80/orders/42 HTTP/1.1" "Go-http-client/1.1" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/5a03cc723870f039 "Root=1-6908bb7a-11aa22bb33cc44dd55ee66ff" "-" "-" 3 2025-11-03T14:26:02.118000Z "forward" "-" "-" "10.0.1.15:8080" "-" "-" "-" TID_7c6b5a4938271605f4e3d2c1b0a99887 "-" "-" "-" 198.51.100.10`
	spec504 = `h2 2025-11-03T14:27:50.432610Z app/my-alb/50dc6c495c0c9188 2001:db8:4006:812::200e:51844 10.0.2.61:8080 -1 -1 -1 504 - 57 202 "GET https://api.example.com:443/v1/items HTTP/2.0" "Mozilla/5.0 (X11; Linux x86_64)" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bbdc-0f1e2d3c4b5a69788796a5b4" "api.example.com" "session-reused" 10 2025-11-03T14:27:40.431000Z "forward" "-" "-" "10.0.2.61:8080" "-" "-" "-" TID_c0ffee00deadbeef0123456789abcdef "-" "-" "-" 198.51.100.10`
)

const (
	testTG   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067"
	testCert = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
)

// spec200Entry is spec200 as an Entry, written out by hand.
func spec200Entry() Entry {
	return Entry{
		Type:                   "https",
		Time:                   time.Date(2025, 11, 3, 14, 22, 7, 531842000, time.UTC),
		ELB:                    "app/my-alb/50dc6c495c0c9188",
		Client:                 netip.MustParseAddrPort("203.0.113.24:51234"),
		Target:                 netip.MustParseAddrPort("10.0.1.15:8080"),
		RequestProcessingTime:  time.Millisecond,
		TargetProcessingTime:   24 * time.Millisecond,
		ResponseProcessingTime: 0,
		ELBStatusCode:          200,
		TargetStatusCode:       200,
		ReceivedBytes:          412,
		SentBytes:              1834,
		Request:                []byte("GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1"),
		UserAgent:              []byte("curl/8.5.0"),
		SSLCipher:              "TLS_AES_128_GCM_SHA256",
		SSLProtocol:            "TLSv1.3",
		TargetGroupARN:         testTG,
		TraceID:                []byte("Root=1-6908ba8f-3c1a2b4d5e6f708192a3b4c5"),
		DomainName:             "api.example.com",
		ChosenCertARN:          testCert,
		MatchedRulePriority:    10,
		RequestCreationTime:    time.Date(2025, 11, 3, 14, 22, 7, 506000000, time.UTC),
		ActionsExecuted:        "forward",
		ConnTraceID:            "TID_4f1c2e3d4b5a69788796a5b4c3d2e1f0",
		NodeIP:                 netip.MustParseAddr("198.51.100.10"),
		Fields:                 34,
	}
}

// fieldsOf splits one of the lines above into its fields; it only has to handle
// quoted values without escapes.
func fieldsOf(line string) []string {
	var out []string
	for line != "" {
		var f string
		if line[0] == '"' {
			end := strings.IndexByte(line[1:], '"') + 2
			f, line = line[:end], line[end:]
		} else {
			f, line, _ = strings.Cut(line, " ")
		}
		out = append(out, f)
		line = strings.TrimPrefix(line, " ")
	}
	return out
}

func mustParse(t *testing.T, line string) Entry {
	t.Helper()
	var e Entry
	if err := ParseLine([]byte(line), &e); err != nil {
		t.Fatalf("ParseLine(%s): %v", line, err)
	}
	return e
}

// diffEntries names the fields in which two entries differ.
func diffEntries(got, want Entry) string {
	var b strings.Builder
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			fmt.Fprintf(&b, "\n  %s: got %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
	return b.String()
}

func TestSpecExamplesRoundTrip(t *testing.T) {
	for _, line := range []string{spec200, spec460, spec502, spec504} {
		e := mustParse(t, line+"\n")
		if e.Fields != 34 {
			t.Errorf("Fields = %d, want 34", e.Fields)
		}
		if got := string(AppendLine(nil, &e)); got != line+"\n" {
			t.Errorf("re-encoded line differs:\n got %s\nwant %s", got, line)
		}
	}
}

func TestSpecExampleFields(t *testing.T) {
	if d := diffEntries(mustParse(t, spec200), spec200Entry()); d != "" {
		t.Errorf("spec200:%s", d)
	}

	e := mustParse(t, spec460)
	if e.RequestProcessingTime != NotMeasured || e.TargetProcessingTime != NotMeasured || e.ResponseProcessingTime != NotMeasured {
		t.Errorf("460 processing times = %v %v %v, want NotMeasured", e.RequestProcessingTime, e.TargetProcessingTime, e.ResponseProcessingTime)
	}
	if e.ELBStatusCode != 460 || e.TargetStatusCode != 0 || e.SentBytes != 0 || e.ReceivedBytes != 1730 {
		t.Errorf("460 codes/bytes = %d %d %d %d", e.ELBStatusCode, e.TargetStatusCode, e.ReceivedBytes, e.SentBytes)
	}
	if e.Attempts != nil {
		t.Errorf("460 Attempts = %v, want nil (lists mirror fields 5 and 10)", e.Attempts)
	}

	e = mustParse(t, spec502)
	if e.SSLCipher != "" || e.SSLProtocol != "" || e.DomainName != "" || e.ChosenCertARN != "" || e.MatchedRulePriority != 3 {
		t.Errorf("502 TLS fields/priority = %q %q %q %q %d", e.SSLCipher, e.SSLProtocol, e.DomainName, e.ChosenCertARN, e.MatchedRulePriority)
	}

	e = mustParse(t, spec504)
	if want := netip.MustParseAddrPort("[2001:db8:4006:812::200e]:51844"); e.Client != want {
		t.Errorf("504 client = %v, want %v", e.Client, want)
	}
	if e.Type != "h2" || string(e.UserAgent) != "Mozilla/5.0 (X11; Linux x86_64)" || e.ChosenCertARN != "session-reused" {
		t.Errorf("504 type/ua/cert = %q %q %q", e.Type, e.UserAgent, e.ChosenCertARN)
	}
	// §1.4's consistency rule for this example: time is 10 s after creation.
	if d := e.Time.Sub(e.RequestCreationTime); d < 10*time.Second || d > 10*time.Second+2*time.Millisecond {
		t.Errorf("504 time - request_creation_time = %v, want ~10s", d)
	}
}

func TestAppendLineFields(t *testing.T) {
	base := fieldsOf(spec200)
	ipv6 := netip.MustParseAddrPort("[2001:db8::1]:51844")
	tests := []struct {
		name   string
		mutate func(*Entry)
		want   map[int]string // field number -> expected text; 34: "" means absent
	}{
		{"spec line as is", func(*Entry) {}, nil},
		{"empty type", func(e *Entry) { e.Type = "" }, map[int]string{1: "-"}},
		{"unknown type with space", func(e *Entry) { e.Type = "new type" }, map[int]string{1: `new\x20type`}},
		{"zero time", func(e *Entry) { e.Time = time.Time{} }, map[int]string{2: "-"}},
		{"time in another zone, nanoseconds", func(e *Entry) {
			e.Time = time.Date(2025, 11, 3, 16, 22, 7, 531842999, time.FixedZone("X", 2*3600))
		}, map[int]string{2: "2025-11-03T14:22:07.531842Z"}},
		{"IPv6 client without brackets", func(e *Entry) { e.Client = ipv6 }, map[int]string{4: "2001:db8::1:51844"}},
		{"IPv6 client with zone", func(e *Entry) { e.Client = netip.MustParseAddrPort("[fe80::1%eth0]:80") }, map[int]string{4: "fe80::1%eth0:80"}},
		{"zero target", func(e *Entry) { e.Target = netip.AddrPort{} }, map[int]string{5: "-", 26: `"-"`}},
		{"no target status", func(e *Entry) { e.TargetStatusCode = 0 }, map[int]string{10: "-", 27: `"-"`}},
		{"negative durations", func(e *Entry) {
			e.RequestProcessingTime, e.TargetProcessingTime, e.ResponseProcessingTime = -1, -5*time.Millisecond, NotMeasured
		}, map[int]string{6: "-1", 7: "-1", 8: "-1"}},
		{"durations truncate to ms", func(e *Entry) {
			e.RequestProcessingTime, e.TargetProcessingTime, e.ResponseProcessingTime = 30*time.Second, 1999*time.Microsecond, 999*time.Microsecond
		}, map[int]string{6: "30.000", 7: "0.001", 8: "0.000"}},
		{"long duration", func(e *Entry) { e.TargetProcessingTime = 4000*time.Second + 7*time.Millisecond }, map[int]string{7: "4000.007"}},
		{"invalid status codes", func(e *Entry) { e.ELBStatusCode, e.TargetStatusCode = 0, 1000 }, map[int]string{9: "-", 10: "-", 27: `"-"`}},
		{"zero and negative bytes", func(e *Entry) { e.ReceivedBytes, e.SentBytes = 0, -3 }, map[int]string{11: "0", 12: "-3"}},
		{"nil request", func(e *Entry) { e.Request = nil }, map[int]string{13: `"- - -"`}},
		{"empty request", func(e *Entry) { e.Request = []byte{} }, map[int]string{13: `"- - -"`}},
		{"partially parsed request", func(e *Entry) { e.Request = []byte("- http://host:80- -") }, map[int]string{13: `"- http://host:80- -"`}},
		{"request with quote and backslash", func(e *Entry) { e.Request = []byte(`GET /a"b\c HTTP/1.1`) }, map[int]string{13: `"GET /a\"b\\c HTTP/1.1"`}},
		{"request with control and UTF-8 bytes", func(e *Entry) { e.Request = []byte("GET /\n\x7fé HTTP/1.1") }, map[int]string{13: `"GET /\x0a\x7f\xc3\xa9 HTTP/1.1"`}},
		{"no user agent", func(e *Entry) { e.UserAgent = nil }, map[int]string{14: `"-"`}},
		{"long user agent", func(e *Entry) { e.UserAgent = bytes.Repeat([]byte("a"), 9000) }, map[int]string{14: `"` + strings.Repeat("a", 8192) + `"`}},
		{"plain HTTP", func(e *Entry) { e.SSLCipher, e.SSLProtocol, e.DomainName, e.ChosenCertARN = "", "", "", "" }, map[int]string{15: "-", 16: "-", 19: `"-"`, 20: `"-"`}},
		{"no target group", func(e *Entry) { e.TargetGroupARN = "" }, map[int]string{17: "-"}},
		{"no trace id", func(e *Entry) { e.TraceID = nil }, map[int]string{18: `"-"`}},
		{"default rule", func(e *Entry) { e.MatchedRulePriority = PriorityDefault }, map[int]string{21: "0"}},
		{"rule error", func(e *Entry) { e.MatchedRulePriority = PriorityEvalError }, map[int]string{21: "-1"}},
		{"no rule", func(e *Entry) { e.MatchedRulePriority = PriorityNone }, map[int]string{21: "-"}},
		{"highest rule", func(e *Entry) { e.MatchedRulePriority = 50000 }, map[int]string{21: "50000"}},
		{"creation time truncated to ms", func(e *Entry) {
			e.RequestCreationTime = time.Date(2025, 11, 3, 22, 22, 48, 364999999, time.UTC)
		}, map[int]string{22: "2025-11-03T22:22:48.364000Z"}},
		{"zero creation time", func(e *Entry) { e.RequestCreationTime = time.Time{} }, map[int]string{22: "-"}},
		{"several actions, redirect, error", func(e *Entry) {
			e.ActionsExecuted, e.RedirectURL, e.ErrorReason = "waf,forward", []byte("https://example.com:443/"), "LambdaInvalidResponse"
		}, map[int]string{23: `"waf,forward"`, 24: `"https://example.com:443/"`, 25: `"LambdaInvalidResponse"`}},
		{"no actions", func(e *Entry) { e.ActionsExecuted = "" }, map[int]string{23: `"-"`}},
		{"two attempts", func(e *Entry) {
			e.Attempts = []Attempt{{netip.MustParseAddrPort("10.0.1.16:8080"), 0}, {netip.MustParseAddrPort("10.0.1.15:8080"), 200}}
		}, map[int]string{26: `"10.0.1.16:8080 10.0.1.15:8080"`, 27: `"- 200"`}},
		{"IPv6 attempt and missing target", func(e *Entry) {
			e.Attempts = []Attempt{{ipv6, 502}, {netip.AddrPort{}, 0}}
		}, map[int]string{26: `"2001:db8::1:51844 -"`, 27: `"502 -"`}},
		{"classification", func(e *Entry) {
			e.Classification, e.ClassificationReason = "Ambiguous", "UndefinedContentLengthSemantics"
		},
			map[int]string{28: `"Ambiguous"`, 29: `"UndefinedContentLengthSemantics"`}},
		{"no conn trace id", func(e *Entry) { e.ConnTraceID = "" }, map[int]string{30: "-"}},
		{"transforms", func(e *Entry) {
			e.TransformedHost, e.TransformedURI, e.RequestTransformStatus = "new.example.com", "/v2/items?x=\"1\"", "TransformSuccess"
		}, map[int]string{31: `"new.example.com"`, 32: `"/v2/items?x=\"1\""`, 33: `"TransformSuccess"`}},
		{"no node IP", func(e *Entry) { e.NodeIP = netip.Addr{} }, map[int]string{34: ""}},
		{"IPv6 node IP", func(e *Entry) { e.NodeIP = netip.MustParseAddr("2001:db8::10") }, map[int]string{34: "2001:db8::10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := spec200Entry()
			tt.mutate(&e)
			fields := append([]string(nil), base...)
			for n, v := range tt.want {
				fields[n-1] = v
			}
			if fields[33] == "" {
				fields = fields[:33]
			}
			want := strings.Join(fields, " ") + "\n"
			if got := string(AppendLine(nil, &e)); got != want {
				t.Errorf("line differs:\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestAppendLineAppends(t *testing.T) {
	e := spec200Entry()
	got := AppendLine([]byte("prefix "), &e)
	if want := "prefix " + spec200 + "\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAppendLineAllocs(t *testing.T) {
	e := spec200Entry()
	e.Attempts = []Attempt{{e.Target, 0}, {netip.MustParseAddrPort("[2001:db8::2]:80"), 200}}
	e.Request = []byte(`GET /"quoted"\ HTTP/1.1`)
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { buf = AppendLine(buf[:0], &e) }); n != 0 {
		t.Errorf("AppendLine allocates %v times per line, want 0", n)
	}
}

func TestParseLineAllocs(t *testing.T) {
	line := []byte(spec504)
	var e Entry
	if n := testing.AllocsPerRun(100, func() {
		if err := ParseLine(line, &e); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ParseLine allocates %v times per line, want 0", n)
	}
}

// first returns the first n fields of a line.
func first(line string, n int) string {
	return strings.Join(fieldsOf(line)[:n], " ")
}

func TestParseOlderAndNewerLines(t *testing.T) {
	full := spec200Entry()
	upTo := func(n int) Entry { // full with the fields beyond n zeroed
		e := full
		e.Fields = n
		if n < 34 {
			e.NodeIP = netip.Addr{}
		}
		if n < 30 {
			e.ConnTraceID = ""
		}
		if n < 23 {
			e.ActionsExecuted = ""
		}
		if n < 22 {
			e.RequestCreationTime = time.Time{}
		}
		if n < 21 {
			e.MatchedRulePriority = 0
		}
		if n < 20 {
			e.ChosenCertARN = ""
		}
		if n < 19 {
			e.DomainName = ""
		}
		return e
	}
	tests := []struct {
		name string
		line string
		want Entry
	}{
		{"2016: 18 fields", first(spec200, 18), upTo(18)},
		{"2017: 20 fields", first(spec200, 20), upTo(20)},
		{"2018: 24 fields", first(spec200, 24), upTo(24)},
		{"2018: 25 fields", first(spec200, 25), upTo(25)},
		{"unquoted lists", first(spec200, 25) + " 10.0.1.15:8080 200", upTo(27)},
		{"unquoted lists, 2 attempts", first(spec200, 25) + " 10.0.1.16:8080 -", func() Entry {
			e := upTo(27)
			e.Attempts = []Attempt{{netip.MustParseAddrPort("10.0.1.16:8080"), 0}}
			return e
		}()},
		{"quoted lists and classification", first(spec200, 29), upTo(29)},
		{"conn_trace_id", first(spec200, 30), upTo(30)},
		{"33 documented fields", first(spec200, 33), upTo(33)},
		{"extra trailing fields", spec200 + ` - "future value" x`, upTo(37)},
		{"extra trailing field with odd quoting", spec200 + ` "unterminated`, upTo(34)},
		{"CRLF", spec200 + "\r\n", upTo(34)},
		{"unknown type", strings.Replace(spec200, "https", "quic", 1), func() Entry { e := upTo(34); e.Type = "quic"; return e }()},
		{"partly parsed request", strings.Replace(spec200, `"GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1"`, `"- http://api.example.com:80- -"`, 1),
			func() Entry { e := upTo(34); e.Request = []byte("- http://api.example.com:80- -"); return e }()},
		{"unparsed request", strings.Replace(spec200, `"GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1"`, `"- - -"`, 1),
			func() Entry { e := upTo(34); e.Request = nil; return e }()},
		{"escaped quote in user agent", strings.Replace(spec200, `"curl/8.5.0"`, `"say \"hi\" \\o/"`, 1),
			func() Entry { e := upTo(34); e.UserAgent = []byte(`say "hi" \o/`); return e }()},
		{"bracketed IPv6", strings.Replace(spec200, "203.0.113.24:51234", "[2001:db8::7]:51234", 1),
			func() Entry { e := upTo(34); e.Client = netip.MustParseAddrPort("[2001:db8::7]:51234"); return e }()},
		{"IPv4-mapped IPv6", strings.Replace(spec200, "203.0.113.24:51234", "::ffff:203.0.113.24:51234", 1),
			func() Entry {
				e := upTo(34)
				e.Client = netip.AddrPortFrom(netip.MustParseAddr("::ffff:203.0.113.24"), 51234)
				return e
			}()},
		{"lenient escapes", strings.Replace(spec200, `"curl/8.5.0"`, `"a\qb\x4A\x4a\xZZ"`, 1),
			func() Entry { e := upTo(34); e.UserAgent = []byte(`a\qbJJ\xZZ`); return e }()},
		{"node IP absent", spec200[:strings.LastIndexByte(spec200, ' ')] + " -", func() Entry { e := upTo(34); e.NodeIP = netip.Addr{}; return e }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.line)
			if d := diffEntries(got, tt.want); d != "" {
				t.Errorf("ParseLine(%s):%s", tt.line, d)
			}
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	sub := func(old, new string) string { return strings.Replace(spec200, old, new, 1) }
	tests := []struct {
		name    string
		line    string
		field   int // 0: not a FieldError
		wantErr error
		wantMsg string
	}{
		{"empty", "", 0, nil, "empty"},
		{"newline only", "\n", 0, nil, "empty"},
		{"12 fields", first(spec200, 12), 0, ErrTooFewFields, "has 12 fields, want at least 13 (through the request field)"},
		{"1 field", first(spec200, 1), 0, ErrTooFewFields, "has 1 fields, want at least 13"},
		{"status", sub(" 200 200 ", " abc 200 "), 9, ErrNotStatus, `field 9 elb_status_code: "abc" is not a status code`},
		{"status too long", sub(" 200 200 ", " 200 2000 "), 10, ErrNotStatus, `field 10 target_status_code: "2000"`},
		{"time", sub("2025-11-03T14:22:07.531842Z", "2025-11-03 14:22:07"), 2, ErrNotTime, "field 2 time:"},
		{"time day", sub("2025-11-03T14:22:07.531842Z", "2025-02-29T14:22:07.531842Z"), 2, ErrNotTime, ""},
		{"time hour", sub("2025-11-03T14:22:07.531842Z", "2025-11-03T24:22:07.531842Z"), 2, ErrNotTime, ""},
		{"time fraction", sub("2025-11-03T14:22:07.531842Z", "2025-11-03T14:22:07.Z"), 2, ErrNotTime, ""},
		{"creation time", sub("2025-11-03T14:22:07.506000Z", "yesterday"), 22, ErrNotTime, "field 22 request_creation_time:"},
		{"client without port", sub("203.0.113.24:51234", "203.0.113.24"), 4, ErrNotAddrPort, `field 4 client:port: "203.0.113.24" is not ip:port`},
		{"client port too big", sub("203.0.113.24:51234", "203.0.113.24:65536"), 4, ErrNotAddrPort, ""},
		{"client host name", sub("203.0.113.24:51234", "example.com:80"), 4, ErrNotAddrPort, ""},
		{"target", sub(" 10.0.1.15:8080 0.001", " 10.0.1:8080 0.001"), 5, ErrNotAddrPort, "field 5 target:port:"},
		{"duration", sub(" 0.024 ", " 24ms "), 7, ErrNotDuration, `field 7 target_processing_time: "24ms"`},
		{"duration dot", sub(" 0.024 ", " 0. "), 7, ErrNotDuration, ""},
		{"duration dash", sub(" 0.024 ", " - "), 7, ErrNotDuration, ""},
		{"bytes", sub(" 412 ", " 4k "), 11, ErrNotInteger, "field 11 received_bytes:"},
		{"priority", sub(" 10 2025", " ten 2025"), 21, ErrNotPriority, "field 21 matched_rule_priority:"},
		{"unterminated quote", first(spec200, 13) + ` "curl/8.5.0`, 14, ErrUnterminated, "field 14 user_agent:"},
		{"escaped closing quote", first(spec200, 13) + ` "curl/8.5.0\"`, 14, ErrUnterminated, ""},
		{"text after quote", sub(`"curl/8.5.0"`, `"curl/8.5.0"x`), 14, ErrAfterQuote, ""},
		{"double space", sub(" 200 200 ", " 200  200 "), 10, ErrEmptyField, "field 10 target_status_code:"},
		{"trailing space", first(spec200, 25) + " ", 26, ErrEmptyField, ""},
		{"target list", sub(`"10.0.1.15:8080"`, `"10.0.1.15:8080 lambda"`), 26, ErrNotTargetList, "field 26 target:port_list:"},
		{"status list", sub(`"200" "-"`, `"2xx" "-"`), 27, ErrNotStatusList, "field 27 target_status_code_list:"},
		{"node IP", sub("198.51.100.10", "node-1"), 34, ErrNotAddr, "field 34 ip_address:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Entry
			err := ParseLine([]byte(tt.line), &e)
			if err == nil {
				t.Fatalf("ParseLine(%q) succeeded", tt.line)
			}
			var fe *FieldError
			if errors.As(err, &fe) != (tt.field != 0) || fe != nil && fe.Field != tt.field {
				t.Errorf("error %v: want a FieldError for field %d", err, tt.field)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v: want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

// TestParseLineOverwrites checks that nothing of a previous line survives in a
// reused Entry, and that Attempts' backing array is reused.
func TestParseLineOverwrites(t *testing.T) {
	e := spec200Entry()
	e.Attempts = make([]Attempt, 0, 4)
	buf := e.Attempts
	line := strings.Replace(first(spec200, 27), `"10.0.1.15:8080" "200"`, `"10.0.1.16:8080 10.0.1.15:8080" "- 200"`, 1)
	if err := ParseLine([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if e.NodeIP.IsValid() || e.ConnTraceID != "" || e.Fields != 27 {
		t.Errorf("old values survived: %+v", e)
	}
	if len(e.Attempts) != 2 || &e.Attempts[0] != &buf[:1][0] {
		t.Errorf("Attempts = %v, want 2 items in the reused array", e.Attempts)
	}
}

// randomEntry returns an entry in the form AppendLine preserves: times in UTC
// at the written precision, durations in whole milliseconds or NotMeasured,
// status codes 0 or 100-999, no value that is exactly "-", nil for absent
// slices, and Attempts nil or different from fields 5 and 10.
func randomEntry(r *rand.Rand) Entry {
	e := Entry{
		Type:                   pick(r, "http", "https", "h2", "grpcs", "ws", "wss", "", randString(r, 8)),
		Time:                   randTime(r, time.Microsecond),
		ELB:                    pick(r, "app/my-alb/50dc6c495c0c9188", "", randString(r, 30)),
		Client:                 randAddrPort(r),
		Target:                 randAddrPort(r),
		RequestProcessingTime:  randDuration(r),
		TargetProcessingTime:   randDuration(r),
		ResponseProcessingTime: randDuration(r),
		ELBStatusCode:          randStatus(r),
		TargetStatusCode:       randStatus(r),
		ReceivedBytes:          r.Int64N(1 << 40),
		SentBytes:              r.Int64N(1<<40) - 5,
		Request:                randBytes(r, 200),
		UserAgent:              randBytes(r, MaxUserAgent),
		SSLCipher:              randString(r, 30),
		SSLProtocol:            pick(r, "TLSv1.2", "TLSv1.3", ""),
		TargetGroupARN:         pick(r, testTG, ""),
		TraceID:                randBytes(r, 60),
		DomainName:             randString(r, 40),
		ChosenCertARN:          pick(r, testCert, "session-reused", ""),
		MatchedRulePriority:    pick(r, PriorityNone, PriorityEvalError, PriorityDefault, 1+r.IntN(50000)),
		RequestCreationTime:    randTime(r, time.Millisecond),
		ActionsExecuted:        pick(r, "forward", "waf,forward", "", randString(r, 20)),
		RedirectURL:            randBytes(r, 100),
		ErrorReason:            randString(r, 30),
		Classification:         pick(r, "", "Acceptable", "Ambiguous", "Severe"),
		ClassificationReason:   randString(r, 30),
		ConnTraceID:            randString(r, 36),
		TransformedHost:        randString(r, 30),
		TransformedURI:         randString(r, 30),
		RequestTransformStatus: randString(r, 20),
		NodeIP:                 randAddrPort(r).Addr(),
	}
	if r.IntN(4) == 0 {
		e.Request = nil
	}
	for range r.IntN(3) * r.IntN(2) {
		e.Attempts = append(e.Attempts, Attempt{randAddrPort(r), randStatus(r)})
	}
	if len(e.Attempts) == 1 && e.Attempts[0] == (Attempt{e.Target, e.TargetStatusCode}) {
		e.Attempts = nil
	}
	e.Fields = 33
	if e.NodeIP.IsValid() {
		e.Fields = 34
	}
	return e
}

func pick[T any](r *rand.Rand, v ...T) T { return v[r.IntN(len(v))] }

// randBytes returns nil or up to max bytes, biased toward bytes that need
// escaping, never exactly "-".
func randBytes(r *rand.Rand, max int) []byte {
	if r.IntN(4) == 0 {
		return nil
	}
	n := 1 + r.IntN(min(max, 1+r.IntN(64)))
	if r.IntN(50) == 0 {
		n = max
	}
	b := make([]byte, n)
	const special = "\"\\ -\x00\n\x7f\xff%x"
	for i := range b {
		if r.IntN(4) == 0 {
			b[i] = special[r.IntN(len(special))]
		} else {
			b[i] = byte(r.IntN(256))
		}
	}
	if string(b) == "-" {
		b[0] = 'x'
	}
	return b
}

func randString(r *rand.Rand, max int) string { return string(randBytes(r, max)) }

func randTime(r *rand.Rand, unit time.Duration) time.Time {
	if r.IntN(10) == 0 {
		return time.Time{}
	}
	ns := r.Int64N(4e18) // 1970-2096
	return time.Unix(0, ns).Truncate(unit).UTC()
}

func randDuration(r *rand.Rand) time.Duration {
	if r.IntN(3) == 0 {
		return NotMeasured
	}
	return time.Duration(r.Int64N(5e6)) * time.Millisecond
}

func randStatus(r *rand.Rand) int {
	if r.IntN(3) == 0 {
		return 0
	}
	return 100 + r.IntN(900)
}

func randAddrPort(r *rand.Rand) netip.AddrPort {
	var a netip.Addr
	switch r.IntN(5) {
	case 0:
		return netip.AddrPort{}
	case 1:
		a = netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), 0, byte(r.IntN(256))})
	case 2:
		var b [16]byte
		b[0], b[1], b[15] = 0x20, 0x01, byte(r.IntN(256))
		a = netip.AddrFrom16(b)
	case 3:
		a = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: byte(r.IntN(256))}) // IPv4-mapped
	case 4:
		a = netip.MustParseAddr("fe80::1").WithZone(pick(r, "eth0", "a b", `q"\`))
	}
	return netip.AddrPortFrom(a, uint16(r.IntN(65536)))
}

// TestRoundTripEntries checks ParseLine(AppendLine(e)) == e for many entries.
func TestRoundTripEntries(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for i := range 20000 {
		want := randomEntry(r)
		buf = AppendLine(buf[:0], &want)
		var got Entry
		if err := ParseLine(buf, &got); err != nil {
			t.Fatalf("entry %d: ParseLine(%q): %v", i, buf, err)
		}
		if d := diffEntries(got, want); d != "" {
			t.Fatalf("entry %d: line %q:%s", i, buf, d)
		}
	}
}

// TestRoundTripCurrentLines checks AppendLine(ParseLine(line)) == line for lines
// in ALB's current format, built from the spec examples with each field varied.
func TestRoundTripCurrentLines(t *testing.T) {
	variants := []string{
		spec200, spec460, spec502, spec504,
		first(spec200, 33),
		strings.Replace(spec502, `"GET http://www.example.com:80/orders/42 HTTP/1.1"`, `"- - -"`, 1),
		strings.Replace(spec200, `"curl/8.5.0"`, `"curl \"quoted\" \\ back"`, 1),
		strings.Replace(spec200, " 10 2025-11-03T14:22:07.506000Z", " - 2025-11-03T14:22:07.506000Z", 1),
		strings.Replace(spec200, " 10 2025-11-03T14:22:07.506000Z", " -1 2025-11-03T14:22:07.506000Z", 1),
		strings.Replace(spec200, `"forward" "-" "-"`, `"waf,redirect" "https://example.com:443/x" "-"`, 1),
		strings.Replace(spec200, `"10.0.1.15:8080" "200"`, `"10.0.1.16:8080 10.0.1.15:8080" "- 200"`, 1),
		strings.Replace(spec200, `"-" "-" TID_`, `"Ambiguous" "UndefinedContentLengthSemantics" TID_`, 1),
		strings.Replace(spec200, `"-" "-" "-" 198`, `"new.example.com" "/v2?a=1" "TransformSuccess" 198`, 1),
		`http 2025-11-03T14:30:00.000001Z app/my-alb/50dc6c495c0c9188 2001:db8::1:40000 - -1 -1 -1 400 - 17 272 "- - -" "-" - - - "-" "-" "-" - 2025-11-03T14:30:00.000000Z "-" "-" "-" "-" "-" "Severe" "BadHeader" TID_00000000000000000000000000000000 "-" "-" "-"`,
	}
	for _, line := range variants {
		e := mustParse(t, line)
		if got := string(AppendLine(nil, &e)); got != line+"\n" {
			t.Errorf("round trip differs:\n got %s\nwant %s", got, line)
		}
	}
}

// TestParseCutLines: a line cut after any field from the request (13) on
// parses, keeping what it holds, Cut below 18; one cut earlier is refused
// saying how many fields it has.
func TestParseCutLines(t *testing.T) {
	full := mustParse(t, spec200)
	for n := 1; n <= 34; n++ {
		var e Entry
		err := ParseLine([]byte(first(spec200, n)), &e)
		if n < MinRequestFields {
			if !errors.Is(err, ErrTooFewFields) || !strings.Contains(err.Error(), fmt.Sprintf("has %d fields", n)) {
				t.Errorf("cut after field %d: error %v, want too few fields", n, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("cut after field %d: %v", n, err)
			continue
		}
		if e.Fields != n || e.Cut() != (n < MinFields) {
			t.Errorf("cut after field %d: Fields %d, Cut %v", n, e.Fields, e.Cut())
		}
		if e.ELBStatusCode != full.ELBStatusCode || string(e.Request) != string(full.Request) || e.Target != full.Target {
			t.Errorf("cut after field %d: lost fields before the cut: %+v", n, e)
		}
		if n < fUserAgent && e.UserAgent != nil {
			t.Errorf("cut after field %d: user agent %q, want unknown", n, e.UserAgent)
		}
	}
}
