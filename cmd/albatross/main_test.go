package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// binary is the albatross binary built once for these tests.
var binary string

func TestMain(m *testing.M) {
	// The etcd members of the fault tests are this binary, re-executed.
	etcdtest.RunMemberIfAsked()
	dir, err := os.MkdirTemp("", "albatross-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "albatross")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building albatross: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running albatross process.
type proc struct {
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
	done   chan error
}

func start(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), stderr: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	p.cmd.Stdout = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t testing.TB) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatalf("process did not exit; output:\n%s", p.stderr.String())
	}
	return -1
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, what, cond)
}

// namedTarget answers every request with name after delay; each request's
// arrival is announced on hits (when not full).
func namedTarget(t testing.TB, name string, delay time.Duration, hits chan<- struct{}) string {
	t.Helper()
	return serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() == "ELB-HealthChecker/2.0" {
			return // health checks pass and are not counted
		}
		select {
		case hits <- struct{}{}:
		default:
		}
		time.Sleep(delay) // the target's work
		io.WriteString(w, name)
	}))
}

// serveHandler runs an HTTP target with h on 127.0.0.1 until the test ends
// and returns its address.
func serveHandler(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func writeConfig(t *testing.T, path string, port int, target string) {
	t.Helper()
	host, tport, _ := net.SplitHostPort(target)
	cfg := fmt.Sprintf(`load_balancers:
  - name: web
    access_log: {path: access.log}
    listeners:
      - port: %d
        address: 127.0.0.1
        protocol: HTTP
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    protocol: HTTP
    port: 80
    targets: [{id: %s, port: %s}]
`, port, host, tport)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeCertificate writes a self-signed certificate for host and its key as
// DIR/NAME.crt and DIR/NAME.key, creating DIR. In DATA-DIR/certificates they
// are the certificate an API listener names by the ARN
// arn:aws:iam::000000000000:server-certificate/NAME.
func writeCertificate(t testing.TB, dir, name, host string) {
	t.Helper()
	certPEM, keyPEM, err := tlsconf.SelfSigned([]string{host}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for file, b := range map[string][]byte{name + ".crt": certPEM, name + ".key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").Output()
	if err != nil || !regexp.MustCompile(`^albatross \S+ \(go1\.\d+`).Match(out) {
		t.Fatalf("version printed %q, %v", out, err)
	}
}

func TestUnknownCommand(t *testing.T) {
	err := exec.Command(binary, "frobnicate").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2", err)
	}
}

func TestServeRejectsBadConfigNamingFileAndKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	os.WriteFile(path, []byte(`load_balancers:
  - name: web
    attributes:
      idle_timeout.timeout_seconds: 0
    listeners:
      - port: 8080
        protocol: HTTP
        default_actions: [{type: forward, target_group: nope}]
target_groups: []
`), 0o644)
	p := start(t, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", "")
	if code := p.wait(t); code != 2 {
		t.Fatalf("exit %d, want 2; output:\n%s", code, p.stderr.String())
	}
	out := p.stderr.String()
	for _, want := range []string{"bad.yaml:4:", "idle_timeout.timeout_seconds", "bad.yaml:8:", `"nope"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestServeReloadStopAndStableIDs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "albatross.yaml")
	data := filepath.Join(dir, "data")
	port := testutil.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	a := namedTarget(t, "A", 0, nil)
	hitsB := make(chan struct{}, 1)
	b := namedTarget(t, "B", 300*time.Millisecond, hitsB)
	writeConfig(t, path, port, a)

	p := start(t, "serve", "--config", path, "--data-dir", data, "--admin-addr", "")
	eventually(t, "target A through the load balancer", func() bool { body, _ := get(url); return body == "A" })

	// SIGHUP applies a changed file.
	writeConfig(t, path, port, b)
	p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "target B after reload", func() bool { body, _ := get(url); return body == "B" })

	// A bad file is rejected and B keeps serving.
	os.WriteFile(path, []byte("load_balancers: [{name: -bad-}]\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	eventually(t, "the rejection logged", func() bool { return strings.Contains(p.stderr.String(), "reload rejected") })
	if body, err := get(url); body != "B" {
		t.Fatalf("after a bad reload got %q, %v; want B still", body, err)
	}

	// SIGTERM lets a request in flight finish.
	select {
	case <-hitsB: // forget earlier requests
	default:
	}
	res := make(chan string, 1)
	go func() { body, err := get(url); res <- fmt.Sprint(body, err) }()
	select {
	case <-hitsB:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached B")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if got := <-res; got != "B<nil>" {
		t.Errorf("in-flight request during SIGTERM: %s", got)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM; output:\n%s", code, p.stderr.String())
	}
	elbID := func() string {
		log, err := os.ReadFile(filepath.Join(dir, "access.log"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(` (app/web/[0-9a-f]{16}) `).FindSubmatch(log)
		if m == nil {
			t.Fatalf("no elb field in access log:\n%s", log)
		}
		return string(m[1])
	}
	first := elbID()

	// Restarted on the same data dir, the load balancer keeps its id.
	writeConfig(t, path, port, a)
	os.Remove(filepath.Join(dir, "access.log"))
	p2 := start(t, "serve", "--config", path, "--data-dir", data, "--admin-addr", "")
	eventually(t, "restart", func() bool { body, _ := get(url); return body == "A" })
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if code := p2.wait(t); code != 0 {
		t.Fatalf("second run exit %d:\n%s", code, p2.stderr.String())
	}
	if second := elbID(); second != first {
		t.Errorf("load balancer id changed across restarts: %s then %s", first, second)
	}
}

func TestServeAdminHealthz(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "albatross.yaml")
	writeConfig(t, path, testutil.FreePort(t), namedTarget(t, "A", 0, nil))
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := start(t, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", admin)
	eventually(t, "the admin server", func() bool { body, _ := get("http://" + admin + "/healthz"); return body == "ok\n" })
	body, err := get("http://" + admin + "/v1/target-health")
	if err != nil || !regexp.MustCompile(`"load_balancer": "web",\s+"target_group": "app",\s+"target": "127\.0\.0\.1:\d+",\s+"state": "(initial|healthy)"`).MatchString(body) {
		t.Errorf("GET /v1/target-health: %v\n%s", err, body)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
}

// TestServeMetricsAndDashboard: serve wires the node's metrics to /metrics and
// the dashboard on its admin address.
func TestServeMetricsAndDashboard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "albatross.yaml")
	port := testutil.FreePort(t)
	writeConfig(t, path, port, namedTarget(t, "A", 0, nil))
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := start(t, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", admin)
	eventually(t, "the admin server", func() bool { body, _ := get("http://" + admin + "/healthz"); return body == "ok\n" })
	eventually(t, "the load balancer", func() bool { body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", port)); return body == "A" })
	// The request is counted when it finishes, just after its response was
	// sent: poll.
	counted := regexp.MustCompile(`(?m)^albatross_request_count_total\{load_balancer="app/web/[0-9a-f]{16}",target="127\.0\.0\.1:\d+",target_group="targetgroup/app/[0-9a-f]{16}"\} [1-9]`)
	eventually(t, "the request counted on /metrics", func() bool { body, _ := get("http://" + admin + "/metrics"); return counted.MatchString(body) })
	page, _ := get("http://" + admin + "/")
	state, _ := get("http://" + admin + "/dashboard/state")
	if !strings.Contains(page, "<title>Albatross</title>") || !strings.Contains(state, `"name":"web"`) {
		t.Errorf("dashboard: page %q\nstate %q", page, state)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
}

// TestServeEmptyConfiguration: a node starts from a file with no load
// balancers (empty, or load_balancers: []), says that nothing is served yet,
// answers /healthz, and serves once a reload gives it a load balancer.
func TestServeEmptyConfiguration(t *testing.T) {
	for _, empty := range []string{"", "load_balancers: []\n"} {
		t.Run(fmt.Sprintf("%q", empty), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "albatross.yaml")
			if err := os.WriteFile(path, []byte(empty), 0o644); err != nil {
				t.Fatal(err)
			}
			admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			p := start(t, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", admin)
			eventually(t, "the admin server", func() bool { body, _ := get("http://" + admin + "/healthz"); return body == "ok\n" })
			eventually(t, "the log line saying nothing is served", func() bool {
				return strings.Contains(p.stderr.String(), "no listeners: nothing is served yet; create a load balancer and a listener through the ELBv2 API at http://"+admin)
			})
			port := testutil.FreePort(t)
			writeConfig(t, path, port, namedTarget(t, "A", 0, nil))
			p.cmd.Process.Signal(syscall.SIGHUP)
			url := fmt.Sprintf("http://127.0.0.1:%d/", port)
			eventually(t, "target A after the reload", func() bool { body, _ := get(url); return body == "A" })
			p.cmd.Process.Signal(syscall.SIGTERM)
			if code := p.wait(t); code != 0 {
				t.Fatalf("exit %d:\n%s", code, p.stderr.String())
			}
		})
	}
}

// TestServeCPUProfile: --cpu-profile writes a gzip-compressed pprof profile
// of the run when serve stops, and a path that cannot be created is refused
// before the node starts.
func TestServeCPUProfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "albatross.yaml")
	port := testutil.FreePort(t)
	writeConfig(t, path, port, namedTarget(t, "A", 0, nil))
	prof := filepath.Join(dir, "cpu.pprof")
	p := start(t, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", "", "--cpu-profile", prof)
	eventually(t, "the listener", func() bool { body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", port)); return body == "A" })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	f, err := os.Open(prof)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not gzip (pprof's format): %v", err)
	}
	if data, err := io.ReadAll(zr); err != nil || len(data) == 0 {
		t.Fatalf("profile: %d bytes, %v", len(data), err)
	}

	bad := start(t, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data2"), "--admin-addr", "", "--cpu-profile", filepath.Join(dir, "no-such-dir", "cpu.pprof"))
	if code := bad.wait(t); code != 2 || !strings.Contains(bad.stderr.String(), "--cpu-profile") {
		t.Errorf("unwritable profile path: exit %d:\n%s", code, bad.stderr.String())
	}
}
