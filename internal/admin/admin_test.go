package admin

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/albatross-lb/albatross/internal/metrics"
)

func TestHealthz(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	resp, err = http.Post(srv.URL+"/healthz", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", resp.StatusCode)
	}
}

func TestIsPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9090": false, "127.0.0.2:9090": false, "[::1]:9090": false,
		"0.0.0.0:9090": true, "[::]:9090": true, "192.0.2.7:9090": true,
	} {
		ta, err := net.ResolveTCPAddr("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := IsPublic(ta); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestDashboardServedFromTheBinary(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Metrics: metrics.NewRegistry()}))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="dashboard/app.js"`) {
		t.Fatalf("GET /: %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy %q, want only the page's own files", csp)
	}
	// Nothing on the page comes from another origin.
	for _, name := range []string{"index.html", "app.js", "style.css"} {
		data, err := assets.ReadFile("dashboard/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "http://") || strings.Contains(string(data), "https://") || strings.Contains(string(data), "//cdn") {
			t.Errorf("%s refers to another origin", name)
		}
	}
	for path, ctype := range map[string]string{"/dashboard/app.js": "text/javascript", "/dashboard/style.css": "text/css", "/dashboard/state": "application/json"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, path := range []string{"/dashboard/index.html", "/dashboard/nope.js", "/dashboard/../admin.go", "/elsewhere"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
	// Read-only: POST / is the ELBv2 API's, not the dashboard's.
	resp, err := http.Post(srv.URL+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeLoadBalancers"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

func TestDashboardRefusedOnPublicAddress(t *testing.T) {
	srv := httptest.NewServer(Handler(Options{Metrics: metrics.NewRegistry(), Public: true}))
	defer srv.Close()
	for _, path := range []string{"/", "/dashboard/state", "/dashboard/app.js"} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "loopback") {
			t.Errorf("GET %s on a public address: %d %q, want 403 saying why", path, resp.StatusCode, body)
		}
	}
	// Metrics and liveness stay available to scrapers and probes.
	for _, path := range []string{"/metrics", "/healthz"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 200 {
			t.Errorf("GET %s on a public address: %d, want 200", path, resp.StatusCode)
		}
	}
}
