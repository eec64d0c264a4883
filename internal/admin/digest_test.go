package admin

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/metrics"
)

const (
	dashKeyID  = "AKIDDASHBOARD0001"
	dashSecret = "dashboard-secret/with+chars"
)

// digestGet answers the server's challenge for alg as a browser does, with
// user and password, and returns the status of the authenticated request.
// uri, when not empty, is put in the response instead of the real one.
func digestGet(t *testing.T, url, path, alg, user, password, uri string) *http.Response {
	t.Helper()
	resp, err := http.Get(url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET %s without credentials: %d, want 401", path, resp.StatusCode)
	}
	var params map[string]string
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		p := parseDigestParams(strings.TrimPrefix(c, "Digest "))
		if p["algorithm"] == alg {
			params = p
		}
	}
	if params == nil {
		t.Fatalf("no %s challenge in %q", alg, resp.Header.Values("WWW-Authenticate"))
	}
	newHash := map[string]func() hash.Hash{"SHA-256": sha256.New, "MD5": md5.New}[alg]
	hx := func(s string) string {
		h := newHash()
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil))
	}
	if uri == "" {
		uri = path
	}
	cnonce, nc := "0a4f113b", "00000001"
	response := hx(hx(user+":"+params["realm"]+":"+password) + ":" + params["nonce"] + ":" + nc + ":" + cnonce + ":auth:" + hx("GET:"+uri))
	req, _ := http.NewRequest("GET", url+path, nil)
	req.Header.Set("Authorization", fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s", response="%s"`,
		user, params["realm"], params["nonce"], uri, alg, nc, cnonce, response))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestDashboardDigestOnPublicAddress: on an admin address that is not
// loopback, the dashboard is served to clients that prove they hold an API
// key (HTTP Digest, SHA-256 or MD5), and to no one else; Basic is not
// accepted, so no client is led to send the secret in the clear.
func TestDashboardDigestOnPublicAddress(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().Unix())
	creds := map[string]string{dashKeyID: dashSecret}
	srv := httptest.NewServer(Handler(Options{Metrics: metrics.NewRegistry(), Public: true,
		Credentials: func(id string) (string, bool) { s, ok := creds[id]; return s, ok },
		Now:         func() time.Time { return time.Unix(clock.Load(), 0) }}))
	defer srv.Close()

	for _, path := range []string{"/", "/dashboard/state", "/dashboard/app.js"} {
		for _, alg := range []string{"SHA-256", "MD5"} {
			if resp := digestGet(t, srv.URL, path, alg, dashKeyID, dashSecret, ""); resp.StatusCode != 200 {
				t.Errorf("GET %s with %s digest: %d, want 200", path, alg, resp.StatusCode)
			}
		}
	}
	for what, resp := range map[string]*http.Response{
		"wrong secret":    digestGet(t, srv.URL, "/", "SHA-256", dashKeyID, "nope", ""),
		"unknown key":     digestGet(t, srv.URL, "/", "SHA-256", "AKIDUNKNOWN", dashSecret, ""),
		"another URI's":   digestGet(t, srv.URL, "/", "SHA-256", dashKeyID, dashSecret, "/dashboard/state"),
		"MD5, wrong user": digestGet(t, srv.URL, "/", "MD5", "x", dashSecret, ""),
	} {
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", what, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.SetBasicAuth(dashKeyID, dashSecret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic authentication: %v %v, want 401", resp, err)
	}

	// A nonce older than its lifetime is stale: 401 with stale=true, which
	// makes a browser retry with a fresh one without asking the user.
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	old := parseDigestParams(strings.TrimPrefix(resp.Header.Values("WWW-Authenticate")[0], "Digest "))["nonce"]
	clock.Add(int64(nonceLifetime/time.Second) + 1)
	hx := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	response := hx(hx(dashKeyID+":"+digestRealm+":"+dashSecret) + ":" + old + ":00000001:c:auth:" + hx("GET:/"))
	req, _ = http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Authorization", `Digest username="`+dashKeyID+`", realm="`+digestRealm+`", nonce="`+old+`", uri="/", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c", response="`+response+`"`)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "stale=true") {
		t.Errorf("expired nonce: %d %q, want 401 with stale=true", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	// Metrics and liveness stay open to scrapers and probes.
	for _, path := range []string{"/metrics", "/healthz"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 200 {
			t.Errorf("GET %s on a public address: %d, want 200", path, resp.StatusCode)
		}
	}

	// A real client: curl --digest.
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed (apt-get install curl; .ci/run installs it): the check with a real Digest client is skipped")
	}
	clock.Store(time.Now().Unix())
	out, err := exec.Command(curl, "-sS", "--digest", "-u", dashKeyID+":"+dashSecret, "-o", "/dev/null", "-w", "%{http_code}", srv.URL+"/dashboard/state").CombinedOutput()
	if err != nil || string(out) != "200" {
		t.Errorf("curl --digest: %s %v, want 200", out, err)
	}
	out, err = exec.Command(curl, "-sS", "--digest", "-u", dashKeyID+":wrong", "-o", "/dev/null", "-w", "%{http_code}", srv.URL+"/").CombinedOutput()
	if err != nil || string(out) != "401" {
		t.Errorf("curl --digest with a wrong secret: %s %v, want 401", out, err)
	}
}
