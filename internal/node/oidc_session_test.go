package node_test

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOIDCSessionShardsPast4KiB logs in a user whose claims make a session
// of about 11 KB: the load balancer sets it as AWSELBAuthSessionCookie-0,
// -1 and -2, none over 4 KiB, and reads it back joined. A later login of a
// user with a small session deletes the shards it no longer needs.
func TestOIDCSessionShardsPast4KiB(t *testing.T) {
	s := startOIDCStack(t)
	c := jarClient(t)
	v := s.login(t, c, s.web.base()+"/app/big?case=shards-login", bigUser)
	if !v.Verified || !strings.HasPrefix(v.Name, strings.Repeat("B", 2000)) {
		t.Fatalf("the target got %+v", v)
	}
	var shards []string
	for i, name := range []string{"AWSELBAuthSessionCookie-0", "AWSELBAuthSessionCookie-1", "AWSELBAuthSessionCookie-2", "AWSELBAuthSessionCookie-3"} {
		val := cookieValue(c, s.web.base(), name)
		if val == "" {
			break
		}
		if len(name)+1+len(val) > 4096 {
			t.Errorf("shard %d is %d bytes, over 4 KiB", i, len(name)+1+len(val))
		}
		shards = append(shards, val)
	}
	if len(shards) != 3 {
		t.Fatalf("session in %d shards (cookies %v), want 3", len(shards), cookieNames(c, s.web.base()))
	}
	// The joined shards are the session on other rules and paths too.
	v = getView(t, c, s.web.base()+"/deny/big?case=shards-deny")
	if !v.Verified || v.Sub != v.Identity || !strings.HasPrefix(v.Name, "BBBB") {
		t.Fatalf("/deny with the sharded session: %+v", v)
	}
	// Without its middle shard the session is not one.
	resp, _ := oidcGet(t, &http.Client{Transport: c.Transport}, s.web.base()+"/deny/x?case=shards-missing",
		"Cookie", "AWSELBAuthSessionCookie-0="+shards[0]+"; AWSELBAuthSessionCookie-2="+shards[2])
	if resp.StatusCode != 401 {
		t.Fatalf("a session without its -1 shard: %d, want 401", resp.StatusCode)
	}
	s.expect(s.web, "case=shards-missing", 401, "authenticate", "AuthInvalidCookie")

	// A forged -0 makes the default rule log in again; the new, small
	// session deletes -1 and -2.
	resp, _ = oidcGet(t, &http.Client{Transport: c.Transport}, s.web.base()+"/deny/x", "Cookie", "AWSELBAuthSessionCookie-0=AAAA"+shards[0][4:])
	if resp.StatusCode != 401 {
		t.Fatalf("a forged -0: %d, want 401", resp.StatusCode)
	}
	u, _ := url.Parse(s.web.base())
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "AWSELBAuthSessionCookie-0", Value: "AAAA" + shards[0][4:], Path: "/", Secure: true}})
	cb := s.callbackURL(t, c, s.startLogin(t, c, s.web.base()+"/app/small?case=shards-forged"), otherUser)
	s.expect(s.web, "case=shards-forged", 302, "authenticate", "AuthInvalidCookie")
	resp, _ = oidcGet(t, c, cb)
	var set []string
	for _, ck := range resp.Cookies() {
		if strings.HasPrefix(ck.Name, "AWSELBAuthSessionCookie-") {
			set = append(set, ck.Name+"="+map[bool]string{true: "(deleted)", false: "(set)"}[ck.MaxAge < 0])
		}
	}
	slices.Sort(set)
	want := []string{"AWSELBAuthSessionCookie-0=(set)", "AWSELBAuthSessionCookie-1=(deleted)", "AWSELBAuthSessionCookie-2=(deleted)"}
	if !slices.Equal(set, want) {
		t.Fatalf("the new session's callback set %v, want %v", set, want)
	}
}

// TestOIDCUnauthenticatedDenyAllow shows on_unauthenticated_request: deny
// answers 401 without a redirect, allow passes the request on without the
// x-amzn-oidc-* headers (and without the client's forged ones), and with a
// session both pass it on with the verified headers.
func TestOIDCUnauthenticatedDenyAllow(t *testing.T) {
	s := startOIDCStack(t)
	c := jarClient(t)
	forged := []string{"X-Amzn-Oidc-Identity", "admin", "x-amzn-oidc-data", "eyJhbGciOiJub25lIn0.e30.", "X-AMZN-OIDC-ACCESSTOKEN", "stolen", "X-Amzn-Oidc-Whatever", "yes"}

	resp, body := oidcGet(t, c, s.web.base()+"/deny/x?case=deny", forged...)
	if resp.StatusCode != 401 || resp.Header.Get("Location") != "" || len(s.target.requests()) != 0 {
		t.Fatalf("deny without a session: %d Location %q, target saw %d requests; want 401 and none\n%s", resp.StatusCode, resp.Header.Get("Location"), len(s.target.requests()), body)
	}
	s.expect(s.web, "case=deny", 401, "authenticate", "")

	v := getView(t, c, s.web.base()+"/open/x?case=allow", forged...)
	if v.Identity != "" || v.Access != "" || v.HasData || len(v.Forged) > 0 {
		t.Fatalf("allow without a session reached the target with %+v", v)
	}
	s.expect(s.web, "case=allow", 200, "authenticate,forward", "")

	// HTTP/1.0 without Host: no redirect URI can be built.
	tc, err := tls.Dial("tcp", s.web.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := io.WriteString(tc, "GET /app/nohost?case=no-host HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	status, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 401 ") && !strings.HasPrefix(status, "HTTP/1.0 401 ") {
		t.Fatalf("HTTP/1.0 without Host: %q %v, want 401", status, err)
	}
	s.expect(s.web, "case=no-host", 401, "authenticate", "AuthMissingHostHeader")

	v = s.login(t, c, s.web.base()+"/app/x?case=login", s.idp.username())
	if !v.Verified {
		t.Fatalf("after login the target got %+v", v)
	}
	sub := v.Sub
	for _, p := range []string{"/deny/y?case=deny-session", "/open/y?case=allow-session", "/app/y?case=default-session"} {
		v := getView(t, c, s.web.base()+p, forged...)
		if !v.Verified || v.Identity != sub || v.Access == "stolen" || len(v.Forged) > 0 {
			t.Errorf("%s with the session and forged headers: %+v", p, v)
		}
	}
	// A fixed-response after authentication: answered by the load
	// balancer for the signed-in, 401 for the others.
	resp, body = oidcGet(t, c, s.web.base()+"/fixed/x?case=fixed-session")
	if resp.StatusCode != 200 || string(body) != "fixed for the signed-in" {
		t.Fatalf("fixed-response with a session: %d %q", resp.StatusCode, body)
	}
	s.expect(s.web, "case=fixed-session", 200, "authenticate,fixed-response", "")
	resp, _ = oidcGet(t, &http.Client{Transport: c.Transport}, s.web.base()+"/fixed/x?case=fixed-none")
	if resp.StatusCode != 401 {
		t.Fatalf("fixed-response without a session: %d, want 401", resp.StatusCode)
	}
}

// TestOIDCSessionTimeoutAndRefresh shows the session's two clocks: at the
// end of session_timeout the load balancer sends the browser to log in
// again, and when the access token expires within the session it renews
// the session with the refresh token (a refresh_token grant at the
// provider, new cookies, a new access token for the target).
func TestOIDCSessionTimeoutAndRefresh(t *testing.T) {
	s := startOIDCStack(t)
	c := jarClient(t)

	// session_timeout 1 on /short/*.
	v := s.login(t, c, s.web.base()+"/short/x", s.idp.username())
	if !v.Verified {
		t.Fatalf("after login the target got %+v", v)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := oidcGet(t, c, s.web.base()+"/short/x")
		if resp.StatusCode == 302 {
			if loc, _ := resp.Location(); loc == nil || !strings.HasPrefix(loc.String(), s.idp.issuer+"/auth?") {
				t.Fatalf("after the session timeout: redirect to %v, want the provider", loc)
			}
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("before the session timeout: %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatal("the 1 s session still served requests after 10 s")
		}
		time.Sleep(100 * time.Millisecond) // polling with a deadline
	}

	// Access tokens of 1 s: the provider's token answers say so.
	s.idp.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		rewriteJSON(w, r, next, func(m map[string]any) { m["expires_in"] = 1 })
		return true
	})
	v = s.login(t, c, s.web.base()+"/app/refresh", s.idp.username())
	if !v.Verified {
		t.Fatalf("after login the target got %+v", v)
	}
	first := v.Access
	if s.idp.grantCount("refresh_token") != 0 {
		t.Fatal("a refresh before the access token expired")
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		resp, body := oidcGet(t, c, s.web.base()+"/app/refresh?case=refresh")
		v := view(t, resp, body)
		if !v.Verified {
			t.Fatalf("the target got %+v", v)
		}
		if v.Access != first {
			var renewed bool
			for _, ck := range resp.Cookies() {
				renewed = renewed || ck.Name == "AWSELBAuthSessionCookie-0" && ck.MaxAge >= 0
			}
			if !renewed || s.idp.grantCount("refresh_token") == 0 {
				t.Fatalf("a new access token without a refresh (cookie renewed %v, refresh grants %d)", renewed, s.idp.grantCount("refresh_token"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no refresh of the 1 s access token after 10 s")
		}
		time.Sleep(100 * time.Millisecond) // polling with a deadline
	}
	// The renewed session is the one the browser keeps: no more refresh
	// right away, and the same new token.
	grants := s.idp.grantCount("refresh_token")
	v2 := getView(t, c, s.web.base()+"/app/after")
	if !v2.Verified || s.idp.grantCount("refresh_token") > grants+1 {
		t.Fatalf("after the refresh: %+v, %d refresh grants", v2, s.idp.grantCount("refresh_token"))
	}
	js, _ := json.Marshal(v2.Checks)
	t.Logf("after the refresh the target checked %s", js)
}

// TestOIDCParallelRequestsAtRefresh sends several requests at once with a
// session whose access token has expired, as a browser loading a page does.
// The provider rotates refresh tokens (a used one is invalid), so only one
// refresh may be made: every request must still reach the target as the
// user, with one refresh_token grant at the provider.
func TestOIDCParallelRequestsAtRefresh(t *testing.T) {
	s := startOIDCStack(t)
	s.idp.setFault(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if r.URL.Path != "/oauth/token" {
			return false
		}
		rewriteJSON(w, r, next, func(m map[string]any) {
			if _, ok := m["refresh_token"]; ok && r.PostForm.Get("grant_type") == "authorization_code" {
				m["expires_in"] = 1
			}
		})
		return true
	})
	c := jarClient(t)
	loginAt := time.Now()
	v := s.login(t, c, s.web.base()+"/app/x", s.idp.username())
	if !v.Verified {
		t.Fatalf("after login the target got %+v", v)
	}
	var cookie []string
	for _, name := range cookieNames(c, s.web.base()) {
		if strings.HasPrefix(name, "AWSELBAuthSessionCookie-") {
			cookie = append(cookie, name+"="+cookieValue(c, s.web.base(), name))
		}
	}
	// Wait until the access token (1 s, from the login) has expired. The
	// requests below carry the cookie of the login, as a browser's requests
	// for one page do, without a jar.
	for time.Now().Unix() < loginAt.Unix()+2 {
		time.Sleep(50 * time.Millisecond) // polling the clock
	}
	bare := &http.Client{Transport: c.Transport, CheckRedirect: c.CheckRedirect}
	const n = 6
	type answer struct {
		status int
		v      targetView
	}
	answers := make(chan answer, n)
	for i := range n {
		go func() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/app/parallel-%d", s.web.base(), i), nil)
			req.Header.Set("Cookie", strings.Join(cookie, "; "))
			resp, err := bare.Do(req)
			if err != nil {
				answers <- answer{status: -1}
				return
			}
			defer resp.Body.Close()
			var v targetView
			json.NewDecoder(resp.Body).Decode(&v)
			answers <- answer{resp.StatusCode, v}
		}()
	}
	for range n {
		a := <-answers
		if a.status != 200 || !a.v.Verified {
			t.Errorf("a request at the refresh: status %d, target saw %+v", a.status, a.v)
		}
	}
	if g := s.idp.grantCount("refresh_token"); g != 1 {
		t.Errorf("%d refresh_token grants for one expired session, want 1", g)
	}
}
