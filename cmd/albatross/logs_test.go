package main

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// Example lines of the data-plane spec §1.4 (a 200, a 460, a 502) and AWS's
// documented Lambda failure (an older 29-field line).
const (
	logs200        = `https 2025-11-03T14:22:07.531842Z app/my-alb/50dc6c495c0c9188 203.0.113.24:51234 10.0.1.15:8080 0.001 0.024 0.000 200 200 412 1834 "GET https://api.example.com:443/v1/items?limit=10 HTTP/1.1" "curl/8.5.0" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908ba8f-3c1a2b4d5e6f708192a3b4c5" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 10 2025-11-03T14:22:07.506000Z "forward" "-" "-" "10.0.1.15:8080" "200" "-" "-" TID_4f1c2e3d4b5a69788796a5b4c3d2e1f0 "-" "-" "-" 198.51.100.10`
	logs460        = `https 2025-11-03T14:25:31.219377Z app/my-alb/50dc6c495c0c9188 198.51.100.77:60412 10.0.1.16:8080 -1 -1 -1 460 - 1730 0 "POST https://api.example.com:443/v1/reports HTTP/1.1" "python-requests/2.32.3" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bb3d-9f0e1d2c3b4a59687766a5b4" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 10 2025-11-03T14:25:01.212000Z "forward" "-" "-" "10.0.1.16:8080" "-" "-" "-" TID_0a1b2c3d4e5f60718293a4b5c6d7e8f9 "-" "-" "-" 198.51.100.10`
	logs502        = `http 2025-11-03T14:26:02.121905Z app/my-alb/50dc6c495c0c9188 203.0.113.99:40022 10.0.1.15:8080 -1 -1 -1 502 - 389 277 "GET http://www.example.com:80/orders/42 HTTP/1.1" "Go-http-client/1.1" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/5a03cc723870f039 "Root=1-6908bb7a-11aa22bb33cc44dd55ee66ff" "-" "-" 3 2025-11-03T14:26:02.118000Z "forward" "-" "-" "10.0.1.15:8080" "-" "-" "-" TID_7c6b5a4938271605f4e3d2c1b0a99887 "-" "-" "-" 198.51.100.10`
	logsLambdaFail = `http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-"`
)

// logsDir writes a plain log (with a malformed third line) and a gzip log.
func logsDir(t *testing.T) (dir, plain string) {
	t.Helper()
	dir = t.TempDir()
	plain = filepath.Join(dir, "a.log")
	if err := os.WriteFile(plain, []byte(logs200+"\n"+logs460+"\nnot a log line\n"+logs502+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(logsLambdaFail + "\n" + logs200 + "\n"))
	zw.Close()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b.log.gz"), z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, plain
}

// albatross runs the binary with stdin and returns stdout, stderr and the
// exit status.
func albatross(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// TestLogsJSONSchema checks the documented JSON keys (a contract for
// scripts) and the figures of a small directory of logs.
func TestLogsJSONSchema(t *testing.T) {
	dir, _ := logsDir(t)
	out, stderr, code := albatross(t, nil, "logs", "summary", "--format", "json", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, key := range []string{"requests", "by_elb_status", "by_target", "by_path", "latency", "findings", "malformed_lines",
		"by_target_status", "time_range", "bytes", "errors", "malformed", "input_errors", "lines", "filtered_out", "approximate"} {
		if _, ok := doc[key]; !ok {
			t.Errorf("JSON lacks %q", key)
		}
	}
	var rep struct {
		Requests    int              `json:"requests"`
		ByELBStatus map[string]int   `json:"by_elb_status"`
		Malformed   int              `json:"malformed_lines"`
		Lines       []map[string]any `json:"malformed"`
		Findings    []struct {
			Code string `json:"code"`
		} `json:"findings"`
		Latency map[string]map[string]any `json:"latency"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 5 || rep.ByELBStatus["200"] != 2 || rep.ByELBStatus["460"] != 1 || rep.ByELBStatus["502"] != 2 || rep.Malformed != 1 {
		t.Errorf("figures: %+v", rep)
	}
	if len(rep.Lines) != 1 || rep.Lines[0]["line"] != 3.0 || !strings.HasSuffix(rep.Lines[0]["file"].(string), "a.log") {
		t.Errorf("malformed: %v", rep.Lines)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Code != "target-closes-keepalive" {
		t.Errorf("findings: %+v", rep.Findings)
	}
	for _, k := range []string{"request_processing_time", "target_processing_time", "response_processing_time", "elapsed"} {
		for _, q := range []string{"p50", "p90", "p99", "max"} {
			if _, ok := rep.Latency[k][q]; !ok {
				t.Errorf("latency.%s lacks %s", k, q)
			}
		}
	}
}

func TestLogsTextStdinAndFilters(t *testing.T) {
	_, plain := logsDir(t)
	data, err := os.ReadFile(plain)
	if err != nil {
		t.Fatal(err)
	}
	// stdin, named "-", with a malformed line reported by position.
	out, _, code := albatross(t, data, "logs", "summary")
	if code != 0 || !strings.Contains(out, "Requests: 3") || !strings.Contains(out, "-:3: field 2 time:") {
		t.Errorf("summary from stdin (exit %d):\n%s", code, out)
	}
	out, _, code = albatross(t, nil, "logs", "errors", "--status", "460", plain)
	if code != 0 || !strings.Contains(out, "Requests: 1 ") || !strings.Contains(out, "By minute") || !strings.Contains(out, "2025-11-03T14:25Z") {
		t.Errorf("errors --status 460 (exit %d):\n%s", code, out)
	}
	out, _, _ = albatross(t, nil, "logs", "summary", "--elb-only", "--target", "10.0.1.15:8080", "--path", "/orders/*", "--since", "2025-11-03T14:26:00Z", plain)
	if !strings.Contains(out, "Requests: 1 ") {
		t.Errorf("combined filters:\n%s", out)
	}
	out, _, _ = albatross(t, nil, "logs", "summary", "--lb", "other", plain)
	if !strings.Contains(out, "Requests: 0\n") {
		t.Errorf("--lb other:\n%s", out)
	}
}

func TestLogsCSV(t *testing.T) {
	_, plain := logsDir(t)
	out, stderr, code := albatross(t, nil, "logs", "summary", "--format", "csv", "--table", "by_elb_status", plain)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"status", "requests", "percent"}, {"200", "1", "33.333"}, {"460", "1", "33.333"}, {"502", "1", "33.333"}}
	if len(rows) != len(want) {
		t.Fatalf("csv rows %v, want %v", rows, want)
	}
	for i := range want {
		if strings.Join(rows[i], ",") != strings.Join(want[i], ",") {
			t.Errorf("row %d = %v, want %v", i, rows[i], want[i])
		}
	}
	out, _, code = albatross(t, nil, "logs", "errors", "--format", "csv", plain)
	if code != 0 || !strings.HasPrefix(out, "minute,errors,460,502,503,504\n") {
		t.Errorf("errors csv (exit %d):\n%s", code, out)
	}
}

func TestLogsBadUsage(t *testing.T) {
	_, plain := logsDir(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "summary", "--status", "abc", plain}, `--status: status "abc"`},
		{[]string{"logs", "summary", "--since", "yesterday", plain}, `--since: time "yesterday"`},
		{[]string{"logs", "summary", "--target", "web:80", plain}, `--target: target "web:80"`},
		{[]string{"logs", "summary", "--format", "xml", plain}, `--format "xml"`},
		{[]string{"logs", "summary", "--table", "by_path", plain}, "--table needs --format csv"},
		{[]string{"logs", "summary", "--format", "csv", "--table", "nope", plain}, `--table "nope"`},
		{[]string{"logs", "summary", filepath.Join(t.TempDir(), "missing.log")}, "no such file"},
		{[]string{"logs", "frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"logs"}, "Usage:"},
	} {
		_, stderr, code := albatross(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args[1:], code, stderr, tc.want)
		}
	}
}

// TestLogsTruncatedGzipExits1: a damaged input is reported, the rest of the
// report still printed, and the exit status says something went wrong.
func TestLogsTruncatedGzipExits1(t *testing.T) {
	dir := t.TempDir()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	for range 3000 {
		zw.Write([]byte(logs200 + "\n"))
	}
	zw.Close()
	name := filepath.Join(dir, "cut.log.gz")
	if err := os.WriteFile(name, z.Bytes()[:z.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := albatross(t, nil, "logs", "summary", name)
	if code != 1 || !strings.Contains(out, "Inputs not read to the end") || !strings.Contains(out, "cut.log.gz: unexpected EOF") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestLogsOnOwnAccessLog runs a real load balancer in front of a slow target,
// lets some clients give up before the target answers (460) and others wait
// (200), then reads the load balancer's own access log with `albatross logs`:
// the finding must name the clients' timeout and the time the target needs.
func TestLogsOnOwnAccessLog(t *testing.T) {
	dir := t.TempDir()
	const work = 1500 * time.Millisecond // what the target takes
	const patience = 500 * time.Millisecond
	target := namedTarget(t, "slow", work, nil)
	port := testutil.FreePort(t)
	cfg := filepath.Join(dir, "albatross.yaml")
	writeConfig(t, cfg, port, target)
	p := start(t, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", "")
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, "the listener", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := patience
			if i < 2 {
				timeout = 10 * time.Second // these wait for the answer
			}
			c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(fmt.Sprintf("http://%s/reports/%d?full=1", addr, 100+i))
			if err == nil {
				resp.Body.Close()
			}
			if (err == nil) != (i < 2) {
				errs <- fmt.Errorf("client %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	logPath := filepath.Join(dir, "access.log")
	eventually(t, "8 lines in the access log", func() bool {
		data, _ := os.ReadFile(logPath)
		return bytes.Count(data, []byte("\n")) == 8
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, p.stderr.String())
	}

	out, stderr, code := albatross(t, nil, "logs", "summary", "--format", "json", logPath)
	if code != 0 {
		t.Fatalf("logs exit %d: %s", code, stderr)
	}
	var rep struct {
		Requests    int            `json:"requests"`
		ByELBStatus map[string]int `json:"by_elb_status"`
		ByPath      []struct {
			Key      string `json:"key"`
			Requests int    `json:"requests"`
		} `json:"by_path"`
		Findings []struct {
			Code         string             `json:"code"`
			Summary      string             `json:"summary"`
			Values       map[string]float64 `json:"values"`
			TopOffenders []struct {
				Target string `json:"target"`
				Path   string `json:"path"`
				Count  int    `json:"count"`
			} `json:"top_offenders"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 8 || rep.ByELBStatus["200"] != 2 || rep.ByELBStatus["460"] != 6 {
		t.Fatalf("requests %d by status %v, want 2×200 and 6×460", rep.Requests, rep.ByELBStatus)
	}
	if len(rep.ByPath) != 1 || rep.ByPath[0].Key != "/reports/{id}" || rep.ByPath[0].Requests != 8 {
		t.Errorf("by_path %+v, want /reports/{id} × 8", rep.ByPath)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Code != "clients-give-up" {
		t.Fatalf("findings %+v, want clients-give-up", rep.Findings)
	}
	f := rep.Findings[0]
	if v := f.Values["client_timeout_seconds"]; v < patience.Seconds()-0.1 || v > patience.Seconds()+0.5 { // the client's clock starts before it connects
		t.Errorf("client timeout read as %v s, want about %v", v, patience.Seconds())
	}
	if v := f.Values["target_max_seconds"]; v < work.Seconds() || v > work.Seconds()+1 {
		t.Errorf("target needs %v s, want about %v", v, work.Seconds())
	}
	if len(f.TopOffenders) != 1 || f.TopOffenders[0].Target != target || f.TopOffenders[0].Count != 6 {
		t.Errorf("offenders %+v, want %s × 6", f.TopOffenders, target)
	}
	t.Logf("%s", f.Summary)
}

// seedLine is the 460 line of the troubleshooting article behind issue 22,
// cut after the request field.
const seedLine = `h2 2026-03-02T10:30:00.000Z app/my-alb/abc123 192.168.1.50:443 10.0.0.5:8080 0.002 30.000 -1 460 - 125 0 "GET https://www.example.re/api/slow-report HTTP/1.1"`

// TestLogsExplain: logs explain reads a line given as an argument or lines on
// stdin, as text or JSON, and says which lines it could not read (exit 1);
// logs errors reads the cut seed line as a request and says so once.
func TestLogsExplain(t *testing.T) {
	out, stderr, code := albatross(t, nil, "logs", "explain", seedLine)
	if code != 0 || !strings.Contains(out, " 7 target_processing_time    30.000") ||
		!strings.Contains(out, "round 30 s points at a timeout on the client's side") ||
		!strings.Contains(out, "What to change (finding clients-give-up of albatross logs errors)") ||
		!strings.Contains(out, "$ aws elbv2 modify-load-balancer-attributes --load-balancer-arn \"$(aws elbv2 describe-load-balancers --names my-alb") {
		t.Errorf("explain (exit %d, stderr %q):\n%s", code, stderr, out)
	}

	out, _, code = albatross(t, []byte(seedLine+"\n\n"+logs502+"\nnot a log line\n"), "logs", "explain", "--format", "json", "-")
	var doc struct {
		Explanations []struct {
			Line          int
			Error         string
			Finding       string
			CutAfterField int `json:"cut_after_field"`
			Fields        []struct{ Number int }
			Fixes         []struct{ Text, Command string }
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("explain --format json: %v\n%s", err, out)
	}
	x := doc.Explanations
	if code != 1 || len(x) != 4 || x[0].Finding != "clients-give-up" || x[0].CutAfterField != 13 || len(x[0].Fixes) != 3 ||
		!strings.Contains(x[1].Error, "empty") || x[2].Finding != "target-closes-keepalive" || len(x[2].Fields) != 34 ||
		!strings.Contains(x[3].Error, "field 2 time") {
		t.Errorf("explain json (exit %d): %+v", code, x)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "explain", "--format", "xml", seedLine}, `--format: want text or json, got "xml"`},
		{[]string{"logs", "explain", "-"}, "stdin held no line"},
	} {
		if _, stderr, code := albatross(t, []byte{}, tc.args...); code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args[1:], code, stderr, tc.want)
		}
	}

	path := filepath.Join(t.TempDir(), "seed.log")
	if err := os.WriteFile(path, []byte(strings.Repeat(seedLine+"\n", 3)+logs200+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code = albatross(t, nil, "logs", "errors", path)
	if code != 0 || !strings.Contains(out, "Requests: 4 ") || !strings.Contains(out, "Note: 3 lines end after field 13 (request); the fields after it are unknown.") ||
		!strings.Contains(out, "[clients-give-up]") || strings.Contains(out, "Malformed lines") {
		t.Errorf("logs errors on cut lines (exit %d):\n%s", code, out)
	}
}
