package admin_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromium returns the path of Debian's chromium, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed, so the dashboard is not tested in a browser: `apt-get install chromium` (CI's .ci/run installs it)")
	return ""
}

// runChromium runs headless Chromium on url with extra flags and returns its
// standard output. The flags keep it off the network (this machine has none
// beyond loopback) and give it a fresh profile; the virtual time budget lets the
// page's script fetch and render before the DOM is dumped or the screenshot
// taken.
func runChromium(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + filepath.Join(t.TempDir(), "profile"),
		"--window-size=1280,1600", "--virtual-time-budget=3000",
	}
	args = append(append(args, extra...), url)
	cmd := exec.CommandContext(ctx, bin, args...)
	// Chromium starts helper processes: put them in one group and end the
	// whole group if the run outlives its deadline.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.Bytes())
	}
	return out
}

// TestDashboardInBrowser loads the dashboard in headless Chromium against a
// running node and checks that it shows the targets with their health and a 502
// provoked just before, then saves a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	bin := chromium(t)
	t.Parallel()
	s := startStack(t)
	s.waitHealth(map[string][2]float64{"web/app": {2, 0}, "down/gone": {0, 1}})
	for range 5 {
		resp, err := http.Get(s.url("web", "/ok"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(s.url("down", "/provoked-502?from=browser-test"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("the closed-port target answered %d, want 502", resp.StatusCode)
	}
	s.logEntries("down", 1)

	// One run both dumps the DOM and takes the screenshot: starting Chromium
	// is most of the time this test takes.
	shot := filepath.Join(t.TempDir(), "dashboard.png")
	dom := string(runChromium(t, bin, s.admin.URL+"/", "--dump-dom", "--screenshot="+shot))
	if !strings.Contains(dom, `data-loaded="true"`) {
		t.Fatalf("the page never loaded its data:\n%s", dom)
	}
	for _, target := range s.targets {
		li := regexp.MustCompile(`<li data-target="` + regexp.QuoteMeta(target) + `">.*?</li>`).FindString(dom)
		if !strings.Contains(li, `<span class="state healthy">healthy</span>`) {
			t.Errorf("target %s is not on the page as healthy: %q", target, li)
		}
	}
	if !regexp.MustCompile(`<span class="state unhealthy">unhealthy</span> Target\.\w+`).MatchString(dom) {
		t.Errorf("the closed-port target is not shown unhealthy with its reason")
	}
	row := regexp.MustCompile(`<tr data-code="502">.*?</tr>`).FindString(dom)
	if row == "" {
		t.Fatalf("no 502 in the latest errors:\n%s", dom)
	}
	if !strings.Contains(row, "/provoked-502?from=browser-test") || !strings.Contains(row, s.node.Snapshot().LoadBalancers[1].ResourceID) {
		t.Errorf("the 502 row does not show the request and its load balancer: %s", row)
	}
	// The counters reached the page too: web's 5 requests went to targets and
	// the status mix shows their 2xx (drawn through the CSSOM, which the
	// page's Content-Security-Policy allows, unlike style attributes).
	if !regexp.MustCompile(`requests [1-9]`).MatchString(dom) {
		t.Errorf("no target shows its requests:\n%s", dom)
	}
	if !regexp.MustCompile(`class="c2" style="width: [1-9]`).MatchString(dom) {
		t.Errorf("the status mix shows no 2xx:\n%s", dom)
	}

	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) || len(data) < 10<<10 {
		t.Fatalf("screenshot is %d bytes and not a PNG of a page", len(data))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(data))
}
