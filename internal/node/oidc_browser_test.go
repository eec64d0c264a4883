package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// chromiumPath returns the path of Debian's chromium, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed, so the OIDC login is not tested in a browser: `apt-get install chromium` (CI's .ci/run installs it)")
	return ""
}

// TestOIDCLoginInBrowser sends headless Chromium to the HTTPS listener: it
// is redirected to the real OpenID Provider, logs in there (the provider's
// form, submitted by script), comes back through /oauth2/idpresponse and
// lands on the target, which verifies x-amzn-oidc-data as AWS documents and
// shows what it verified on the page the browser ends on.
func TestOIDCLoginInBrowser(t *testing.T) {
	bin := chromiumPath(t)
	s := startOIDCStack(t)
	s.idp.autoLogin.Store(true)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		// The listener's certificate is self-signed.
		"--ignore-certificate-errors",
		// Time for the redirects, the provider's self-submitting form and
		// the way back before the DOM is dumped.
		"--virtual-time-budget=10000",
		"--dump-dom", s.web.base()+"/app/dashboard?from=browser")
	// Chromium starts helper processes: put them in one group and end the
	// whole group if the run outlives its deadline.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.Bytes())
	}
	dom := string(out)
	if !strings.Contains(dom, `id="verdict" data-verified="true"`) {
		t.Fatalf("the browser did not end on a verified target page:\n%s\nchromium's log:\n%s", dom, stderr.Bytes())
	}
	m := regexp.MustCompile(`(?s)<pre id="view">(.*?)</pre>`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no view on the page:\n%s", dom)
	}
	var v targetView
	if err := json.Unmarshal([]byte(html.UnescapeString(m[1])), &v); err != nil {
		t.Fatalf("the page's view %q: %v", m[1], err)
	}
	lbARN := s.webARN.Load().(string)
	if v.Path != "/app/dashboard" || v.Signer != lbARN || v.Kid != s.node.Auth().KeyID() ||
		v.Email != "test-user@zitadel.ch" || v.Identity == "" || v.Identity != v.Sub || v.AccessSub != v.Sub || len(v.Forged) > 0 {
		t.Fatalf("the target verified %+v; want path /app/dashboard, signer %s, kid %s, the test user", v, lbARN, s.node.Auth().KeyID())
	}
	for _, want := range []string{"ES256 signature by key " + v.Kid, "signer " + lbARN, "x-amzn-oidc-identity is sub " + v.Sub, "x-amzn-oidc-accesstoken is sub's"} {
		if !strings.Contains(dom, "<li>"+want+"</li>") { // Chromium serialises text with ' as is
			t.Errorf("the page does not show the check %q", want)
		}
	}

	// The access log: the redirect to the provider, the callback, the
	// forwarded request, as ALB logs them.
	s.expect(s.web, "/app/dashboard?from=browser HTTP", 302, "authenticate", "")
	s.expect(s.web, "/oauth2/idpresponse?", 302, "authenticate", "")
	entries := s.web.logLines(3)
	var forwarded bool
	for _, e := range entries {
		forwarded = forwarded || e.ELBStatusCode == 200 && e.ActionsExecuted == "authenticate,forward" && strings.Contains(string(e.Request), "/app/dashboard") && strings.Contains(string(e.UserAgent), "Chrome")
	}
	if !forwarded {
		t.Errorf("no forwarded line of the browser's request:\n%s", dumpEntries(entries))
	}
	t.Logf("the browser's requests in the access log:\n%s", dumpEntries(entries))
}
