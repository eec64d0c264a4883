package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/node"
)

// TestOIDCBadCookies sends session cookies that are not a session of this
// load balancer: forged, truncated, sealed for another load balancer with
// the same provider and client. Each is a 401 on a deny rule, logged as
// AuthInvalidCookie, and never the session of anyone.
func TestOIDCBadCookies(t *testing.T) {
	s := startOIDCStack(t)
	c := jarClient(t)
	v := s.login(t, c, s.web.base()+"/app/x", s.idp.username())
	if !v.Verified {
		t.Fatalf("after login the target got %+v", v)
	}
	good := cookieValue(c, s.web.base(), "AWSELBAuthSessionCookie-0")
	if good == "" {
		t.Fatalf("no session cookie after login: %v", cookieNames(c, s.web.base()))
	}
	flip := []byte(good)
	flip[len(flip)/2] ^= 1
	bare := &http.Client{Transport: c.Transport}
	for _, tc := range []struct{ name, cookie string }{
		{"forged", "AWSELBAuthSessionCookie-0=" + strings.Repeat("QUJD", 200)},
		{"truncated", "AWSELBAuthSessionCookie-0=" + good[:len(good)-7]},
		{"bit-flipped", "AWSELBAuthSessionCookie-0=" + string(flip)},
		{"not-base64", "AWSELBAuthSessionCookie-0=%%%%!!!!"},
		{"tiny", "AWSELBAuthSessionCookie-0=AA"},
	} {
		resp, body := oidcGet(t, bare, s.web.base()+"/deny/x?case=cookie-"+tc.name, "Cookie", tc.cookie)
		if resp.StatusCode != 401 {
			t.Errorf("%s cookie: %d, want 401\n%s", tc.name, resp.StatusCode, body)
			continue
		}
		s.expect(s.web, "case=cookie-"+tc.name, 401, "authenticate", "AuthInvalidCookie")
	}
	// The "other" load balancer has the same provider, client and cookie
	// name; the browser sends it web's cookie (cookies do not keep to a
	// port). It is not a session there.
	resp, body := oidcGet(t, c, s.other.base()+"/x?case=cookie-other-lb")
	if resp.StatusCode != 401 {
		t.Fatalf("web's session on the other load balancer: %d, want 401\n%s", resp.StatusCode, body)
	}
	s.expect(s.other, "case=cookie-other-lb", 401, "authenticate", "AuthInvalidCookie")
	// And web's session still is one on web.
	if v := getView(t, c, s.web.base()+"/deny/z"); !v.Verified {
		t.Fatalf("web's session after the bad ones: %+v", v)
	}
}

// TestOIDCCallbackAbuse replays a state, brings one browser's callback to
// another browser, and drops the code or state: each a 401 with ALB's
// error_reason, and no session cookie.
func TestOIDCCallbackAbuse(t *testing.T) {
	s := startOIDCStack(t)
	alice := jarClient(t)
	cb := s.callbackURL(t, alice, s.startLogin(t, alice, s.web.base()+"/app/alice"), s.idp.username())
	noSession := func(what string, resp *http.Response) {
		t.Helper()
		for _, ck := range resp.Cookies() {
			if strings.HasPrefix(ck.Name, "AWSELBAuthSessionCookie") && ck.MaxAge >= 0 {
				t.Errorf("%s set the session cookie %s", what, ck.Name)
			}
		}
	}

	// Another browser (mallory) gets alice's callback URL: it lacks the
	// nonce cookie of the login alice started.
	mallory := jarClient(t)
	resp, _ := oidcGet(t, mallory, cb+"&case=cb-other-browser")
	if resp.StatusCode != 401 {
		t.Fatalf("alice's callback in another browser: %d, want 401", resp.StatusCode)
	}
	noSession("alice's callback in another browser", resp)
	s.expect(s.web, "case=cb-other-browser", 401, "authenticate", "AuthInvalidStateParam")

	// Alice's own callback works, once.
	resp, _ = oidcGet(t, alice, cb+"&case=cb-first")
	if resp.StatusCode != 302 {
		t.Fatalf("the callback: %d, want 302", resp.StatusCode)
	}
	s.expect(s.web, "case=cb-first", 302, "authenticate", "")
	resp, _ = oidcGet(t, alice, cb+"&case=cb-replay")
	if resp.StatusCode != 401 {
		t.Fatalf("the same callback again: %d, want 401", resp.StatusCode)
	}
	noSession("the replayed callback", resp)
	s.expect(s.web, "case=cb-replay", 401, "authenticate", "AuthInvalidStateParam")

	// A fresh login whose callback lost its code, or its state, or whose
	// state was tampered with.
	cb = s.callbackURL(t, alice, s.startLogin(t, alice, s.web.base()+"/short/code"), s.idp.username())
	u, _ := url.Parse(cb)
	q := u.Query()
	// The tampered state differs from the real one in one character, chosen
	// so that it is never the character already there.
	state := q.Get("state")
	swap := byte('x')
	if state[20] == swap {
		swap = 'y'
	}
	tampered := state[:20] + string(swap) + state[21:]
	for _, tc := range []struct {
		name, query, reason string
	}{
		{"cb-no-state", "code=" + url.QueryEscape(q.Get("code")), "AuthMissingStateParam"},
		{"cb-bad-state", "code=" + url.QueryEscape(q.Get("code")) + "&state=" + url.QueryEscape(tampered), "AuthInvalidStateParam"},
		{"cb-bad-query", "state=%zz", "AuthInvalidStateParam"},
		{"cb-no-code", "state=" + url.QueryEscape(q.Get("state")), "AuthMissingCodeParam"},
	} {
		resp, body := oidcGet(t, alice, s.web.base()+"/oauth2/idpresponse?"+tc.query+"&case="+tc.name)
		if resp.StatusCode != 401 {
			t.Errorf("%s: %d, want 401\n%s", tc.name, resp.StatusCode, body)
		}
		noSession(tc.name, resp)
		s.expect(s.web, "case="+tc.name, 401, "authenticate", tc.reason)
	}
}

// TestOIDCProviderFailures makes the provider fail each way ALB names in
// its error reasons: the token endpoint answering an error (561
// AuthTokenEpRequestFailed), refusing the code (561 AuthInvalidGrantError),
// unreachable (500 AuthTokenEpRequestTimeout), returning an oversized ID
// token (500 AuthInvalidTokenResponse) or the ID token of an earlier login
// (401 AuthInvalidIdToken: its nonce is not this login's); the user info
// endpoint failing (561 AuthUserinfoEpRequestFailed), unreachable (500
// AuthUserinfoEpRequestTimeout), naming another user than the ID token
// (401 AuthInvalidUserinfoResponse), or claims over 11 KB (500
// AuthUserinfoResponseSizeExceeded).
func TestOIDCProviderFailures(t *testing.T) {
	s := startOIDCStack(t)
	tokenFault := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		io.WriteString(w, `{"error":"temporarily_unavailable"}`)
		return true
	}
	bigIDToken := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		rewriteJSON(w, r, next, func(m map[string]any) {
			id, _ := m["id_token"].(string)
			parts := strings.Split(id, ".")
			payload := strings.Repeat("A", 80<<10)
			m["id_token"] = parts[0] + "." + payload + "." + parts[len(parts)-1]
		})
		return true
	}
	userinfoFault := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/userinfo" {
			return false
		}
		http.Error(w, "upstream directory down", 502)
		return true
	}
	otherSub := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/userinfo" {
			return false
		}
		rewriteJSON(w, r, next, func(m map[string]any) { m["sub"] = "someone-else" })
		return true
	}
	// An ID token of an earlier login (its nonce is that login's).
	var captured atomic.Value // string, written by the provider's handler
	captured.Store("")
	s.idp.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		rewriteJSON(w, r, next, func(m map[string]any) { id, _ := m["id_token"].(string); captured.Store(id) })
		return true
	})
	earlier := ""
	if v := s.login(t, jarClient(t), s.web.base()+"/app/earlier", s.idp.username()); !v.Verified || captured.Load().(string) == "" {
		t.Fatalf("the earlier login: %+v, no ID token", v)
	}
	earlier = captured.Load().(string)
	s.idp.setFault(nil)
	otherIDToken := func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		rewriteJSON(w, r, next, func(m map[string]any) { m["id_token"] = earlier })
		return true
	}
	for _, tc := range []struct {
		name, path, user string
		fault            faultFunc
		// tamper changes the callback URL before it is followed.
		tamper func(string) string
		status int
		reason string
	}{
		{name: "token-error", path: "/app/a", fault: tokenFault, status: 561, reason: "AuthTokenEpRequestFailed"},
		{name: "bad-code", path: "/app/b", tamper: func(cb string) string {
			return strings.Replace(cb, "code=", "code=x", 1)
		}, status: 561, reason: "AuthInvalidGrantError"},
		{name: "token-unreachable", path: "/unreachable/c", status: 500, reason: "AuthTokenEpRequestTimeout"},
		{name: "big-id-token", path: "/app/d", fault: bigIDToken, status: 500, reason: "AuthInvalidTokenResponse"},
		{name: "id-token-of-another-login", path: "/app/h", fault: otherIDToken, status: 401, reason: "AuthInvalidIdToken"},
		{name: "userinfo-error", path: "/app/e", fault: userinfoFault, status: 561, reason: "AuthUserinfoEpRequestFailed"},
		{name: "userinfo-unreachable", path: "/userinfo-unreachable/i", status: 500, reason: "AuthUserinfoEpRequestTimeout"},
		{name: "userinfo-other-sub", path: "/app/f", fault: otherSub, status: 401, reason: "AuthInvalidUserinfoResponse"},
		{name: "claims-too-big", path: "/app/g", user: hugeUser, status: 500, reason: "AuthUserinfoResponseSizeExceeded"},
	} {
		func() {
			c := jarClient(t)
			user := tc.user
			if user == "" {
				user = s.idp.username()
			}
			cb := s.callbackURL(t, c, s.startLogin(t, c, s.web.base()+tc.path), user)
			if tc.tamper != nil {
				cb = tc.tamper(cb)
			}
			s.idp.setFault(tc.fault)
			defer s.idp.setFault(nil)
			resp, body := oidcGet(t, c, cb+"&case="+tc.name)
			if resp.StatusCode != tc.status {
				t.Errorf("%s: callback: %d, want %d\n%s", tc.name, resp.StatusCode, tc.status, body)
				return
			}
			for _, ck := range resp.Cookies() {
				if strings.Contains(ck.Name, "Session") {
					if ck.MaxAge >= 0 {
						t.Errorf("%s: a session cookie %s after the failure", tc.name, ck.Name)
					}
				}
			}
			s.expect(s.web, "case="+tc.name, tc.status, "authenticate", tc.reason)
		}()
	}
}

// TestOIDCConfigErrors shows the configurations that cannot run: an
// authentication action with no action after it, and an identity provider
// over http (accepted only on loopback, and only with
// --allow-insecure-idp), each a clear error.
func TestOIDCConfigErrors(t *testing.T) {
	const tmpl = `load_balancers:
  - name: web
    listeners:
      - port: %d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: default.crt, key: default.key}]
        default_actions:
          - type: authenticate-oidc
            order: 1
            authenticate_oidc:
              issuer: %[2]s
              authorization_endpoint: %[2]s/auth
              token_endpoint: %[2]s/oauth/token
              user_info_endpoint: %[2]s/userinfo
              client_id: c
              client_secret: s
%[3]s
target_groups:
  - name: app
    port: 80
    targets: [{id: 127.0.0.1, port: 9}]
`
	const forward = "          - {type: forward, target_group: app, order: 2}"
	// Alone: rejected when the file is read.
	_, err := config.Parse("alone.yaml", []byte(fmt.Sprintf(tmpl, 8443, "https://idp.example", "")))
	if err == nil || !strings.Contains(err.Error(), "must be followed by a forward, redirect or fixed-response action") {
		t.Fatalf("an authenticate-oidc action alone: %v", err)
	}
	// An issuer over http on a public name: rejected even for labs.
	_, err = config.Parse("http.yaml", []byte(fmt.Sprintf(tmpl, 8443, "http://idp.example", forward)))
	if err == nil || !strings.Contains(err.Error(), `must be an https URL, got "http://idp.example`) {
		t.Fatalf("an http issuer: %v", err)
	}

	// http on 127.0.0.1 parses, but a node without --allow-insecure-idp
	// does not run it.
	ln := listenLoopback(t, "127.0.0.1:0")
	dir := t.TempDir()
	writeCert(t, dir, "default", "127.0.0.1")
	cfg, err := config.Parse("loop.yaml", []byte(fmt.Sprintf(tmpl, ln.Addr().(*net.TCPAddr).Port, "http://127.0.0.1:9", forward)))
	if err != nil {
		t.Fatalf("an http issuer on 127.0.0.1 does not parse: %v", err)
	}
	n, err := node.New(node.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DataDir: filepath.Join(dir, "data"), BaseDir: dir, DisableHealthChecks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(t.Context())
	ln.Close()
	err = n.Apply(cfg)
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1:9 is not https") || !strings.Contains(err.Error(), "--allow-insecure-idp") {
		t.Fatalf("an http issuer without --allow-insecure-idp: %v", err)
	}
	js, _ := json.Marshal(err.Error())
	t.Logf("refused: %s", js)
}
