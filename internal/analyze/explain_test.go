package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The seed: the 460 line of the troubleshooting article, cut after
// the request field.
const seed460 = `h2 2026-03-02T10:30:00.000Z app/my-alb/abc123 192.168.1.50:443 10.0.0.5:8080 0.002 30.000 -1 460 - 125 0 "GET https://www.example.re/api/slow-report HTTP/1.1"`

// Whole lines of the access log parser's fixtures (internal/accesslog).
const (
	full200 = `https 2025-11-03T14:22:07.531842Z app/my-alb/50dc6c495c0c9188 203.0.113.24:51234 10.0.1.15:8080 0.001 0.024 0.000 200 200 412 1834 "GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1" "curl/8.5.0" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908ba8f-3c1a2b4d5e6f708192a3b4c5" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 10 2025-11-03T14:22:07.506000Z "forward" "-" "-" "10.0.1.15:8080" "200" "-" "-" TID_4f1c2e3d4b5a69788796a5b4c3d2e1f0 "-" "-" "-" 198.51.100.10`
	// race502 is the keep-alive race: the target closed the reused
	// connection as the request arrived (3 ms after it was received).
	race502 = `http 2025-11-03T14:26:02.121905Z app/my-alb/50dc6c495c0c9188 203.0.113.99:40022 10.0.1.15:8080 -1 -1 -1 502 - 389 277 "GET http://www.example.com:80/orders/42 HTTP/1.1" "Go-http-client/1.1" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/5a03cc723870f039 "Root=1-6908bb7a-11aa22bb33cc44dd55ee66ff" "-" "-" 3 2025-11-03T14:26:02.118000Z "forward" "-" "-" "10.0.1.15:8080" "-" "-" "-" TID_7c6b5a4938271605f4e3d2c1b0a99887 "-" "-" "-" 198.51.100.10`
	line504 = `h2 2025-11-03T14:27:50.432610Z app/my-alb/50dc6c495c0c9188 2001:db8:4006:812::200e:51844 10.0.2.61:8080 -1 -1 -1 504 - 57 202 "GET https://api.example.com:443/v1/items HTTP/2.0" "Mozilla/5.0 (X11; Linux x86_64)" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bbdc-0f1e2d3c4b5a69788796a5b4" "api.example.com" "session-reused" 10 2025-11-03T14:27:40.431000Z "forward" "-" "-" "10.0.2.61:8080" "-" "-" "-" TID_c0ffee00deadbeef0123456789abcdef "-" "-" "-" 198.51.100.10`
)

// withStatus is full200 answered by the load balancer itself with code.
func withStatus(code int, target string) string {
	l := strings.Replace(full200, " 200 200 ", fmt.Sprintf(" %d - ", code), 1)
	l = strings.Replace(l, " 0.001 0.024 0.000 ", " -1 -1 -1 ", 1)
	if target == "" {
		l = strings.Replace(l, " 10.0.1.15:8080 ", " - ", 1)
		l = strings.Replace(l, `"10.0.1.15:8080" "200"`, `"-" "-"`, 1)
	}
	return l
}

func cut(line string, n int) string {
	var fields []string
	for i, rest := 0, line; i < n && rest != ""; i++ {
		end := strings.IndexByte(rest, ' ')
		if rest[0] == '"' {
			end = strings.Index(rest[1:], `"`) + 2
		}
		if end < 0 || end > len(rest) {
			end = len(rest)
		}
		fields = append(fields, rest[:end])
		rest = strings.TrimPrefix(rest[end:], " ")
	}
	return strings.Join(fields, " ")
}

func joined(ss []string) string { return strings.Join(ss, "\n") }

func fixCommands(fs []Fix) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Command)
	}
	return strings.Join(out, "\n")
}

// TestExplainSeed460: the seed line is read, not rejected: the client left
// 30 s after the request went to the target, a round number that points at
// the client's timeout, no idle timeout involved, and the fixes in the
// seed's order with their commands.
func TestExplainSeed460(t *testing.T) {
	x := Explain([]byte(seed460), 1)
	if x.Error != "" || x.CutAfterField != 13 || x.Finding != CodeClientsGiveUp || len(x.Fields) != 13 {
		t.Fatalf("explanation %+v", x)
	}
	for _, want := range []string{"ends after field 13 (request)", "closed the connection 30 s after the load balancer sent the request to the target 10.0.0.5:8080",
		"round 30 s points at a timeout on the client's side", "idle timeout did not fire: had it, the line would be a 504"} {
		if !strings.Contains(joined(x.Reading), want) {
			t.Errorf("reading lacks %q:\n%s", want, joined(x.Reading))
		}
	}
	if len(x.Fixes) != 3 {
		t.Fatalf("fixes %+v", x.Fixes)
	}
	for i, want := range []string{
		`aws elbv2 modify-load-balancer-attributes --load-balancer-arn "$(aws elbv2 describe-load-balancers --names my-alb --query 'LoadBalancers[0].LoadBalancerArn' --output text)" --attributes Key=idle_timeout.timeout_seconds,Value=60`,
		"curl --max-time 50 https://www.example.re/api/slow-report",
		"",
	} {
		if x.Fixes[i].Command != want {
			t.Errorf("fix %d command %q, want %q", i+1, x.Fixes[i].Command, want)
		}
	}
	if !strings.Contains(x.Fixes[2].Text, "send bytes before 30 s") {
		t.Errorf("third fix: %s", x.Fixes[2].Text)
	}
	for _, f := range x.Fields {
		if f.Meaning == "" {
			t.Errorf("field %d %s has no meaning", f.Number, f.Name)
		}
	}
	if m := x.Fields[6].Meaning; !strings.Contains(m, "30 s from sending the request to the target") {
		t.Errorf("target_processing_time meaning %q", m)
	}
	if m := x.Fields[9].Meaning; !strings.Contains(m, "the target sent no status") {
		t.Errorf("target_status_code meaning %q", m)
	}
}

// TestExplainSharesLogsErrorsDefinitions: logs errors on the seed line,
// repeated as in an incident, gives the same finding and the same fixes as
// logs explain on one of its lines.
func TestExplainSharesLogsErrorsDefinitions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.log")
	if err := os.WriteFile(path, []byte(strings.Repeat(seed460+"\n", 5)), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, _, err := Inputs([]string{path})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), srcs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 5 || rep.MalformedLines != 0 || len(rep.CutLines) != 1 || rep.CutLines[0] != (CutLines{13, "request", 5}) {
		t.Fatalf("report: %d requests, %d malformed, cut %+v", rep.Requests, rep.MalformedLines, rep.CutLines)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Code != CodeClientsGiveUp {
		t.Fatalf("findings %+v", rep.Findings)
	}
	x := Explain([]byte(seed460), 1)
	f := rep.Findings[0]
	if f.Fixes[0] != x.Fixes[0] || f.Fixes[2] != x.Fixes[2] || f.Fixes[1].Text != x.Fixes[1].Text {
		t.Errorf("logs errors fixes:\n%+v\nlogs explain fixes:\n%+v", f.Fixes, x.Fixes)
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep, ViewErrors); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "Note: 5 lines end after field 13 (request); the fields after it are unknown.") ||
		strings.Count(text.String(), "end after field") != 1 {
		t.Errorf("text report does not say once that lines were cut:\n%s", text.String())
	}
}

// TestExplainFindings: the keep-alive race 502 and the idle-timeout 504 are
// read as the findings of logs errors, with their commands.
func TestExplainFindings(t *testing.T) {
	x := Explain([]byte(race502), 1)
	if x.Finding != CodeTargetClosesKeep || !strings.Contains(joined(x.Reading), "keep-alive race") ||
		!strings.Contains(fixCommands(x.Fixes), "albatross doctor --target 10.0.1.15:8080") {
		t.Errorf("502: %+v", x)
	}
	idle := strings.Replace(line504, "2025-11-03T14:27:40.431000Z", "2025-11-03T14:26:50.432000Z", 1) // 60 s after creation
	x = Explain([]byte(idle), 1)
	if x.Finding != CodeSlowerThanIdle || !strings.Contains(joined(x.Reading), "none came before its idle timeout") ||
		!strings.Contains(fixCommands(x.Fixes), "Key=idle_timeout.timeout_seconds,Value=") {
		t.Errorf("504: %+v", x)
	}
	if x = Explain([]byte(line504), 1); x.Finding != CodeTargetConnectTimout || !strings.Contains(fixCommands(x.Fixes), "curl -sv --connect-timeout 10") {
		t.Errorf("connect 504: %+v", x)
	}
	if x = Explain([]byte(withStatus(503, "")), 1); x.Finding != CodeNoHealthyTargets || !strings.Contains(fixCommands(x.Fixes), "aws elbv2 describe-target-health --target-group-arn arn:aws:") {
		t.Errorf("503: %+v", x)
	}
	if x = Explain([]byte(full200), 1); x.Finding != "" || !strings.Contains(joined(x.Reading), "The target answered 200") {
		t.Errorf("200: %+v", x)
	}
}

// TestExplainEveryELBCode: a line of every status the spec says the load
// balancer generates is read with that status's meaning.
func TestExplainEveryELBCode(t *testing.T) {
	codes := []int{400, 401, 403, 405, 408, 413, 414, 460, 463, 464, 500, 501, 502, 503, 504, 505, 561}
	for _, code := range codes {
		if _, ok := elbCodes[code]; !ok {
			t.Errorf("no definition for ELB code %d", code)
		}
		for _, target := range []string{"", "10.0.1.15:8080"} {
			x := Explain([]byte(withStatus(code, target)), 1)
			if x.Error != "" || len(x.Reading) == 0 {
				t.Errorf("%d (target %q): %+v", code, target, x)
				continue
			}
			if !strings.Contains(x.Fields[8].Meaning, fmt.Sprintf("%d: ", code)) {
				t.Errorf("%d: elb_status_code meaning %q", code, x.Fields[8].Meaning)
			}
		}
	}
}

// TestExplainCutsAndFormats: a line cut after every field, and whole lines
// of every format version ALB has written, are explained; lines cut before
// the request field say why they cannot be read.
func TestExplainCutsAndFormats(t *testing.T) {
	for _, line := range []string{full200, race502, line504} {
		for n := 1; n <= 34; n++ {
			l := cut(line, n)
			x := Explain([]byte(l), 1)
			switch {
			case n < 13:
				if !strings.Contains(x.Error, fmt.Sprintf("has %d fields", n)) && !strings.Contains(x.Error, "field ") {
					t.Errorf("cut after %d: error %q", n, x.Error)
				}
				if !strings.Contains(x.Error, "to be read as a request") && !strings.Contains(x.Error, "is not") {
					t.Errorf("cut after %d: error %q does not say what is missing", n, x.Error)
				}
			case x.Error != "":
				t.Errorf("cut after %d: %s", n, x.Error)
			case len(x.Fields) != n || (x.CutAfterField != 0) != (n < 18):
				t.Errorf("cut after %d: %d fields, cut after %d", n, len(x.Fields), x.CutAfterField)
			case len(x.Reading) == 0:
				t.Errorf("cut after %d: no reading", n)
			}
		}
	}
}

// TestExplainBadInput: garbage, an empty line, a 1 MiB line and invalid
// UTF-8 each get a clear message, never a crash, and JSON stays valid.
func TestExplainBadInput(t *testing.T) {
	long := strings.Replace(full200, `"curl/8.5.0"`, `"`+strings.Repeat("a", 1<<20)+`"`, 1)
	for name, c := range map[string]struct {
		line, err string
	}{
		"garbage":          {"this is not an access log line", "field 2 time"},
		"empty":            {"", "empty"},
		"spaces":           {"   ", "empty (two spaces in a row"},
		"binary":           {"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", "not valid UTF-8"},
		"invalid UTF-8":    {strings.Replace(full200, "203.0.113.24:51234", "\xff\xfe:1", 1), "field 4 client:port"},
		"unterminated":     {cut(full200, 12) + ` "GET /`, "has no closing quote"},
		"1 MiB junk":       {strings.Repeat("x", 1<<20), "has 1 fields"},
		"1 MiB user agent": {long, ""},
	} {
		x := Explain([]byte(c.line), 1)
		if c.err == "" {
			if x.Error != "" || len(x.Fields[13].Value) > maxShownValue+40 {
				t.Errorf("%s: error %q, user agent shown in %d bytes", name, x.Error, len(x.Fields[13].Value))
			}
		} else if !strings.Contains(x.Error, c.err) {
			t.Errorf("%s: error %q, want it to contain %q", name, x.Error, c.err)
		}
		b, err := json.Marshal(x)
		if err != nil || !utf8.Valid(b) {
			t.Errorf("%s: JSON %v", name, err)
		}
		var text bytes.Buffer
		if err := WriteExplanations(&text, []Explanation{x}); err != nil || !utf8.Valid(text.Bytes()) && !slices.Contains([]string{"binary", "invalid UTF-8"}, name) {
			t.Errorf("%s: text %v", name, err)
		}
	}
}
