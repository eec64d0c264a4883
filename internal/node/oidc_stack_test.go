package node_test

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zop "github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/node"
)

// This file holds the fixture of the authenticate-oidc tests (browser,
// session, bad input, access log): a real OpenID Provider (zitadel/oidc's
// example OP) with extra users and a hook through which a test makes it
// misbehave, two load balancers with HTTPS listeners that authenticate
// with it, the admin server's public keys and a target that verifies what
// the load balancer tells it as AWS documents for target owners.

// Users of the provider besides the example's own (test-user@HOST, id1).
const (
	bigUser   = "big-user"   // claims of about 8 KB: a session cookie of three shards
	hugeUser  = "huge-user"  // claims over ALB's 11 KB limit
	otherUser = "other-user" // a second ordinary user
)

// idpUsers is the provider's user store: the example's users and the tests'.
type idpUsers struct {
	base  storage.UserStore
	extra map[string]*storage.User
}

func (u idpUsers) GetUserByID(id string) *storage.User {
	if x := u.extra[id]; x != nil {
		return x
	}
	return u.base.GetUserByID(id)
}

func (u idpUsers) GetUserByUsername(name string) *storage.User {
	for _, x := range u.extra {
		if x.Username == name {
			return x
		}
	}
	return u.base.GetUserByUsername(name)
}

func (u idpUsers) ExampleClientID() string { return u.base.ExampleClientID() }

func newIdPUsers(issuer string) idpUsers {
	user := func(id, first, last string) *storage.User {
		return &storage.User{ID: id, Username: id, Password: opPassword, FirstName: first, LastName: last,
			Email: id + "@example.com", EmailVerified: true, PreferredLanguage: language.English}
	}
	return idpUsers{base: storage.NewUserStore(issuer), extra: map[string]*storage.User{
		bigUser:   user(bigUser, strings.Repeat("B", 2000), strings.Repeat("b", 2000)),
		hugeUser:  user(hugeUser, strings.Repeat("H", 3200), strings.Repeat("h", 3200)),
		otherUser: user(otherUser, "Other", "User"),
	}}
}

// faultFunc may answer a request to the provider instead of it (true), or
// pass it to the provider's handler next.
type faultFunc func(w http.ResponseWriter, r *http.Request, next http.Handler) bool

// idp is the real OpenID Provider of the tests.
type idp struct {
	*testOP
	router http.Handler
	fault  atomic.Pointer[faultFunc]
	// loginAs is the user autoLogin logs in (the example's test user when
	// empty).
	loginAs atomic.Value
	mu      sync.Mutex
	grants  map[string]int // token endpoint calls by grant_type
}

// startIdP starts the provider; its web client may redirect to any of
// redirectURIs.
func startIdP(t testing.TB, redirectURIs ...string) *idp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{testOP: &testOP{issuer: "http://" + ln.Addr().String()}, grants: map[string]int{}}
	p.loginAs.Store("")
	clients := map[string]*storage.Client{opClientID: storage.WebClient(opClientID, opClientSecret, redirectURIs...)}
	p.storage = storage.NewStorageWithClients(newIdPUsers(p.issuer), clients)
	p.router = exampleop.SetupServer(p.issuer, p.storage, nil, false, zop.WithAllowInsecure())
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *idp) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" && r.ParseForm() == nil {
		p.mu.Lock()
		p.grants[r.PostForm.Get("grant_type")]++
		p.mu.Unlock()
	}
	if f := p.fault.Load(); f != nil && (*f)(w, r, p.router) {
		return
	}
	if p.autoLogin.Load() && r.Method == http.MethodGet && r.URL.Path == "/login/username" {
		// The OP's own form, filled in and submitted by script, posts to the
		// OP's real login handler.
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><form method="POST" action="/login/username">
<input type="hidden" name="id" value="%s"><input name="username" value="%s"><input name="password" type="password" value="%s">
<button type="submit">Login</button></form><script>document.forms[0].submit()</script></body></html>`,
			html.EscapeString(r.URL.Query().Get("authRequestID")), html.EscapeString(p.user()), opPassword)
		return
	}
	p.router.ServeHTTP(w, r)
}

// user is the user logins are for.
func (p *idp) user() string {
	if u := p.loginAs.Load().(string); u != "" {
		return u
	}
	return p.username()
}

// setFault installs f (nil: none).
func (p *idp) setFault(f faultFunc) {
	if f == nil {
		p.fault.Store(nil)
		return
	}
	p.fault.Store(&f)
}

// grantCount is how many token requests of grant type g the provider got.
func (p *idp) grantCount(g string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.grants[g]
}

// rewriteJSON runs the provider on r and passes its JSON answer through
// edit before sending it.
func rewriteJSON(w http.ResponseWriter, r *http.Request, next http.Handler, edit func(map[string]any)) {
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	var m map[string]any
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	edit(m)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(m)
}

// oidcStack is a node with two load balancers ("web", with the rules of
// oidcTemplate, and "other", which authenticates with the same provider
// and configuration), the admin server's public keys, and a target that
// verifies x-amzn-oidc-data.
type oidcStack struct {
	t        *testing.T
	node     *node.Node
	idp      *idp
	web      *lbFixture
	other    *lbFixture
	adminURL string
	target   *httpTarget
	// webARN and otherARN are the load balancers' ARNs, the signers the
	// target expects.
	webARN, otherARN atomic.Value
	// expected are the access log lines the test expects, checked when it
	// ends (the log is flushed every second: one wait for all).
	expected []expectedEntry
}

type expectedEntry struct {
	f                *lbFixture
	marker           string
	status           int
	actions, reasons string
}

// expect records that the access log of f has a line for the request whose
// URL contains marker, with the ELB status, actions_executed and
// error_reason given.
func (s *oidcStack) expect(f *lbFixture, marker string, status int, actions, reason string) {
	s.expected = append(s.expected, expectedEntry{f, marker, status, actions, reason})
}

func (s *oidcStack) checkExpected() {
	for _, e := range s.expected {
		e.f.checkEntry(e.marker, e.status, e.actions, e.reasons)
	}
}

const oidcTemplate = `load_balancers:
  - name: web
    access_log: {path: %[1]s}
    listeners:
      - port: %[2]d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: default.crt, key: default.key}]
        rules:
          - priority: 1
            conditions: [{path_pattern: [/deny/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc: &oidc
                  issuer: %[3]s
                  authorization_endpoint: %[3]s/auth
                  token_endpoint: %[3]s/oauth/token
                  user_info_endpoint: %[3]s/userinfo
                  client_id: ` + opClientID + `
                  client_secret: ` + opClientSecret + `
                  scope: openid email profile offline_access
                  on_unauthenticated_request: deny
              - {type: forward, target_group: app, order: 2}
          - priority: 2
            conditions: [{path_pattern: [/open/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  <<: *oidc
                  on_unauthenticated_request: allow
              - {type: forward, target_group: app, order: 2}
          - priority: 3
            conditions: [{path_pattern: [/short/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  <<: *oidc
                  on_unauthenticated_request: authenticate
                  session_cookie_name: ShortSession
                  session_timeout: 1
              - {type: forward, target_group: app, order: 2}
          - priority: 4
            conditions: [{path_pattern: [/fixed/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  <<: *oidc
                  on_unauthenticated_request: deny
              - type: fixed-response
                order: 2
                fixed_response: {status_code: "200", content_type: text/plain, message_body: fixed for the signed-in}
          - priority: 5
            conditions: [{path_pattern: [/unreachable/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  <<: *oidc
                  on_unauthenticated_request: authenticate
                  session_cookie_name: UnreachableSession
                  token_endpoint: http://%[6]s/oauth/token
              - {type: forward, target_group: app, order: 2}
          - priority: 6
            conditions: [{path_pattern: [/userinfo-unreachable/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  <<: *oidc
                  on_unauthenticated_request: authenticate
                  session_cookie_name: UserinfoUnreachableSession
                  user_info_endpoint: http://%[6]s/userinfo
              - {type: forward, target_group: app, order: 2}
        default_actions:
          - type: authenticate-oidc
            order: 1
            authenticate_oidc:
              <<: *oidc
              on_unauthenticated_request: authenticate
          - {type: forward, target_group: app, order: 2}
  - name: other
    access_log: {path: %[4]s}
    listeners:
      - port: %[5]d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: default.crt, key: default.key}]
        default_actions:
          - type: authenticate-oidc
            order: 1
            authenticate_oidc:
              <<: *oidc
              on_unauthenticated_request: deny
          - {type: forward, target_group: app2, order: 2}
target_groups:
  - name: app
    port: 80
    targets: [{id: 127.0.0.1, port: %[7]s}]
  - name: app2
    port: 80
    targets: [{id: 127.0.0.1, port: %[7]s}]
`

func startOIDCStack(t *testing.T) *oidcStack {
	t.Helper()
	dir := t.TempDir()
	lnWeb := listenLoopback(t, "127.0.0.1:0")
	lnOther := listenLoopback(t, "127.0.0.1:0")
	fixture := func(ln net.Listener, log string) *lbFixture {
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		return &lbFixture{t: t, addr: ap.String(), port: int(ap.Port()), logPath: filepath.Join(dir, log), dir: dir}
	}
	s := &oidcStack{t: t, web: fixture(lnWeb, "web.log"), other: fixture(lnOther, "other.log")}
	writeCert(t, dir, "default", "127.0.0.1")
	s.idp = startIdP(t, "https://"+s.web.addr+"/oauth2/idpresponse", "https://"+s.other.addr+"/oauth2/idpresponse")
	adminLn := listenLoopback(t, "127.0.0.1:0")
	s.adminURL = "http://" + adminLn.Addr().String()
	s.target = startHTTPTarget(t, s.serveTarget)
	yaml := fmt.Sprintf(oidcTemplate, s.web.logPath, s.web.port, s.idp.issuer, s.other.logPath, s.other.port, closedPort(t), portOf(s.target.addr))
	s.node = startNode(t, lnWeb, dir, yaml, func(o *node.Options) {
		o.BaseDir = dir
		o.AllowInsecureIdP = true
		o.Listeners[lnOther.Addr().(*net.TCPAddr).AddrPort()] = lnOther
	})
	s.web.node, s.other.node = s.node, s.node
	t.Cleanup(s.checkExpected) // before the node shuts down
	for _, lb := range s.node.Snapshot().LoadBalancers {
		switch lb.Name {
		case "web":
			s.webARN.Store(lb.ARN)
		case "other":
			s.otherARN.Store(lb.ARN)
		}
	}
	adminSrv := &http.Server{Handler: admin.Handler(admin.Options{PublicKey: s.node.Auth().PublicKeyPEM})}
	go adminSrv.Serve(adminLn)
	t.Cleanup(func() { adminSrv.Close() })
	return s
}

// targetView is what the target saw of a request and verified.
type targetView struct {
	Path     string `json:"path"`
	Identity string `json:"identity"`
	Access   string `json:"accesstoken"`
	HasData  bool   `json:"has_data"`
	// Verified is true when x-amzn-oidc-data passed all the checks AWS
	// tells target owners to make, listed in Checks; Problem says why not.
	Verified bool     `json:"verified"`
	Checks   []string `json:"checks"`
	Problem  string   `json:"problem"`
	Kid      string   `json:"kid"`
	Signer   string   `json:"signer"`
	Sub      string   `json:"sub"`
	Email    string   `json:"email"`
	Name     string   `json:"name"`
	// AccessSub is the subject the provider's user info endpoint gives for
	// x-amzn-oidc-accesstoken.
	AccessSub string `json:"access_sub"`
	// Forged lists the x-amzn-oidc-* headers the target got that the load
	// balancer does not set.
	Forged []string `json:"forged"`
}

// serveTarget answers with a targetView, as JSON or, for a browser, as a
// page showing it.
func (s *oidcStack) serveTarget(w http.ResponseWriter, r *http.Request) {
	v := targetView{Path: r.URL.Path, Identity: r.Header.Get("X-Amzn-Oidc-Identity"), Access: r.Header.Get("X-Amzn-Oidc-Accesstoken")}
	for name := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-amzn-oidc-") {
			switch strings.ToLower(name) {
			case "x-amzn-oidc-identity", "x-amzn-oidc-accesstoken", "x-amzn-oidc-data":
				if len(r.Header[name]) > 1 {
					v.Forged = append(v.Forged, name+" (twice)")
				}
			default:
				v.Forged = append(v.Forged, name)
			}
		}
	}
	if data := r.Header.Get("X-Amzn-Oidc-Data"); data != "" {
		v.HasData = true
		expect := s.webARN.Load().(string)
		if r.Host == s.other.addr {
			expect = s.otherARN.Load().(string)
		}
		s.verify(&v, data, expect)
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		js, _ := json.Marshal(v)
		fmt.Fprintf(w, `<!DOCTYPE html><html><body><h1 id="verdict" data-verified="%v">x-amzn-oidc-data verified: %v</h1>
<ul id="checks">%s</ul><p id="identity">%s</p><p id="email">%s</p><pre id="view">%s</pre></body></html>`,
			v.Verified, v.Verified, checksHTML(v.Checks), html.EscapeString(v.Identity), html.EscapeString(v.Email), html.EscapeString(string(js)))
		return
	}
	json.NewEncoder(w).Encode(v)
}

func checksHTML(checks []string) string {
	var b strings.Builder
	for _, c := range checks {
		fmt.Fprintf(&b, "<li>%s</li>", html.EscapeString(c))
	}
	return b.String()
}

// verify checks x-amzn-oidc-data as AWS's documentation tells target owners
// to: kid and signer from the JWT header, signer the expected load balancer,
// the PEM public key fetched by kid from the keys URL (Albatross's admin
// /public-keys/KID, where ALB's is public-keys.auth.elb.REGION.amazonaws.com),
// the ES256 signature verified with go-jose; then x-amzn-oidc-identity is
// the token's sub, and the access token is the same user's at the
// provider's user info endpoint.
func (s *oidcStack) verify(v *targetView, data, expectSigner string) {
	claims, hdr, err := verifyALBData(s.adminURL, data)
	if err != nil {
		v.Problem = "signature: " + err.Error()
		return
	}
	v.Kid, _ = hdr["kid"].(string)
	v.Signer, _ = hdr["signer"].(string)
	v.Sub, _ = claims["sub"].(string)
	v.Email, _ = claims["email"].(string)
	v.Name, _ = claims["name"].(string)
	v.Checks = append(v.Checks, "ES256 signature by key "+v.Kid)
	if v.Signer != expectSigner {
		v.Problem = fmt.Sprintf("signer %q, want %q", v.Signer, expectSigner)
		return
	}
	v.Checks = append(v.Checks, "signer "+v.Signer)
	if exp, _ := hdr["exp"].(float64); time.Unix(int64(exp), 0).Before(time.Now()) {
		v.Problem = "expired"
		return
	}
	if v.Identity == "" || v.Identity != v.Sub {
		v.Problem = fmt.Sprintf("x-amzn-oidc-identity %q, token sub %q", v.Identity, v.Sub)
		return
	}
	v.Checks = append(v.Checks, "x-amzn-oidc-identity is sub "+v.Sub)
	if v.Access == "" {
		v.Problem = "no x-amzn-oidc-accesstoken"
		return
	}
	req, _ := http.NewRequest("GET", s.idp.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+v.Access)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.Problem = "user info: " + err.Error()
		return
	}
	defer resp.Body.Close()
	var info struct {
		Sub string `json:"sub"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != 200 {
		v.Problem = fmt.Sprintf("user info with the access token: status %d %v", resp.StatusCode, err)
		return
	}
	v.AccessSub = info.Sub
	if info.Sub != v.Sub {
		v.Problem = fmt.Sprintf("the access token is %q's, the data %q's", info.Sub, v.Sub)
		return
	}
	v.Checks = append(v.Checks, "x-amzn-oidc-accesstoken is sub's")
	v.Verified = true
}

// jarClient is a client with a cookie jar that does not follow redirects.
// It trusts the listeners' self-signed certificate.
func jarClient(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Jar:           jar,
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// oidcGet sends GET url with the headers given as name, value pairs and returns
// the response with its body read.
func oidcGet(t testing.TB, c *http.Client, u string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", u, err)
	}
	return resp, body
}

// view decodes the target's answer.
func view(t *testing.T, resp *http.Response, body []byte) targetView {
	t.Helper()
	var v targetView
	if resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil {
		t.Fatalf("GET %s: %d, not the target's answer: %s", resp.Request.URL, resp.StatusCode, body)
	}
	return v
}

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// startLogin follows u with a client that does not follow redirects, through
// the load balancer's redirect to the provider, up to the provider's login
// page, and returns the auth request's id.
func (s *oidcStack) startLogin(t testing.TB, c *http.Client, u string) string {
	t.Helper()
	for range 10 {
		resp, body := oidcGet(t, c, u)
		if resp.StatusCode/100 == 3 {
			loc, err := resp.Location()
			if err != nil {
				t.Fatalf("GET %s: %d without Location", u, resp.StatusCode)
			}
			u = loc.String()
			continue
		}
		id := authRequestID.FindSubmatch(body)
		if resp.StatusCode != 200 || id == nil || !strings.HasPrefix(u, s.idp.issuer+"/login/username") {
			t.Fatalf("GET %s: %d, not the provider's login page:\n%s", u, resp.StatusCode, body)
		}
		return string(id[1])
	}
	t.Fatal("more than 10 redirects before the login page")
	return ""
}

// callbackURL logs user in at the provider for the auth request id and
// returns the provider's redirect to the load balancer's
// /oauth2/idpresponse, not yet followed.
func (s *oidcStack) callbackURL(t testing.TB, c *http.Client, id, user string) string {
	t.Helper()
	resp, err := c.PostForm(s.idp.issuer+"/login/username", url.Values{"id": {id}, "username": {user}, "password": {opPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for range 10 {
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("login of %s: %d without a redirect", user, resp.StatusCode)
		}
		if strings.Contains(loc.Path, "/oauth2/idpresponse") {
			return loc.String()
		}
		resp, _ = oidcGet(t, c, loc.String())
	}
	t.Fatal("more than 10 redirects after the login")
	return ""
}

// login logs user in through the load balancer's redirects from u and
// returns the target's view of u after it.
func (s *oidcStack) login(t *testing.T, c *http.Client, u, user string) targetView {
	t.Helper()
	cb := s.callbackURL(t, c, s.startLogin(t, c, u), user)
	resp, body := oidcGet(t, c, cb)
	if resp.StatusCode != 302 {
		t.Fatalf("callback: %d, want 302:\n%s", resp.StatusCode, body)
	}
	loc, _ := resp.Location()
	want, _ := url.Parse(u)
	if loc == nil || loc.Host != want.Host || loc.RequestURI() != want.RequestURI() {
		t.Fatalf("callback redirects to %v, want %s", loc, u)
	}
	return getView(t, c, loc.String())
}

// entry polls the load balancer's access log for the line of the request
// whose URL contains marker, and returns it.
func (f *lbFixture) entry(marker string) accesslog.Entry {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(f.logPath)
		for _, l := range strings.Split(string(data), "\n") {
			if l == "" {
				continue
			}
			var e accesslog.Entry
			if err := accesslog.ParseLine([]byte(l), &e); err != nil {
				f.t.Fatalf("access log line does not parse: %v\n%s", err, l)
			}
			if bytes.Contains(e.Request, []byte(marker)) {
				return cloneEntry(e)
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no access log line for %q after 10 s:\n%s", marker, data)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// checkEntry checks the access log line of the request marked marker.
func (f *lbFixture) checkEntry(marker string, status int, actions, reason string) {
	f.t.Helper()
	e := f.entry(marker)
	if e.ELBStatusCode != status || e.ActionsExecuted != actions || e.ErrorReason != reason {
		f.t.Errorf("%s: logged elb_status_code %d actions_executed %q error_reason %q; want %d %q %q",
			marker, e.ELBStatusCode, e.ActionsExecuted, e.ErrorReason, status, actions, reason)
	}
}

func (f *lbFixture) base() string { return "https://" + f.addr }

// cookieValue is the value of the cookie name c holds for the load balancer
// at base, "" when none.
func cookieValue(c *http.Client, base, name string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// cookieNames lists the cookies c holds for base.
func cookieNames(c *http.Client, base string) []string {
	u, _ := url.Parse(base)
	var names []string
	for _, ck := range c.Jar.Cookies(u) {
		names = append(names, ck.Name)
	}
	return names
}

// getView sends GET u and decodes the target's answer.
func getView(t *testing.T, c *http.Client, u string, hdr ...string) targetView {
	t.Helper()
	resp, body := oidcGet(t, c, u, hdr...)
	return view(t, resp, body)
}
