package node_test

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/node"
)

// testOP is a real OpenID Provider (zitadel/oidc's example OP, in-memory
// storage) on 127.0.0.1.
type testOP struct {
	issuer  string
	storage *storage.Storage
	// autoLogin makes the login page submit itself with the test user's
	// credentials, for the browser (which no one types into).
	autoLogin atomic.Bool
	srv       *http.Server
}

const (
	opClientID     = "albatross"
	opClientSecret = "s3cret-of-the-client"
	opPassword     = "verysecure"
)

// startOP starts an OP whose web client may redirect to redirectURI.
func startOP(t *testing.T, redirectURI string) *testOP {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	op := &testOP{issuer: "http://" + ln.Addr().String()}
	clients := map[string]*storage.Client{opClientID: storage.WebClient(opClientID, opClientSecret, redirectURI)}
	op.storage = storage.NewStorageWithClients(storage.NewUserStore(op.issuer), clients)
	router := exampleop.SetupServer(op.issuer, op.storage, nil, false, zop.WithAllowInsecure())
	op.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if op.autoLogin.Load() && r.Method == http.MethodGet && r.URL.Path == "/login/username" {
			// The OP's own form, filled in and submitted by script, posts to
			// the OP's real login handler.
			fmt.Fprintf(w, `<!DOCTYPE html><html><body><form method="POST" action="/login/username">
<input type="hidden" name="id" value="%s"><input name="username" value="%s"><input name="password" type="password" value="%s">
<button type="submit">Login</button></form><script>document.forms[0].submit()</script></body></html>`,
				html.EscapeString(r.URL.Query().Get("authRequestID")), html.EscapeString(op.username()), opPassword)
			return
		}
		router.ServeHTTP(w, r)
	})}
	go op.srv.Serve(ln)
	t.Cleanup(func() { op.srv.Close() })
	return op
}

func (op *testOP) username() string {
	u, _ := url.Parse(op.issuer)
	return "test-user@" + u.Hostname()
}

// signingKey is the OP's own RSA key, which signs its tokens.
func (op *testOP) signingKey(t *testing.T) (string, *rsa.PrivateKey) {
	t.Helper()
	k, err := op.storage.SigningKey(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return k.ID(), k.Key().(*rsa.PrivateKey)
}

// authStack is a node with an HTTPS listener whose default action
// authenticates with the OP, an admin server serving the public keys, and
// a target that verifies x-amzn-oidc-data as AWS tells target owners to.
type authStack struct {
	*lbFixture
	op        *testOP
	adminURL  string
	target    *httpTarget
	lbBase    string
	verifyErr atomic.Value // string: the target's last verification problem
}

const authTemplate = `load_balancers:
  - name: web
    access_log: {path: %[1]s}
    listeners:
      - port: %[2]d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: default.crt, key: default.key}]
        rules:
          - priority: 1
            conditions: [{path_pattern: [/api/*]}]
            actions:
              - type: jwt-validation
                order: 1
                jwt_validation:
                  jwks_endpoint: %[3]s/keys
                  issuer: %[3]s
                  additional_claims:
                    - {format: space-separated-values, name: scope, values: [read]}
              - {type: forward, target_group: app, order: 2}
          - priority: 2
            conditions: [{path_pattern: [/wrong-issuer/*]}]
            actions:
              - {type: jwt-validation, order: 1, jwt_validation: {jwks_endpoint: %[3]s/keys, issuer: https://someone-else.example}}
              - {type: forward, target_group: app, order: 2}
          - priority: 3
            conditions: [{path_pattern: [/jwks-down/*]}]
            actions:
              - {type: jwt-validation, order: 1, jwt_validation: {jwks_endpoint: "http://%[5]s/keys", issuer: %[3]s}}
              - {type: forward, target_group: app, order: 2}
          - priority: 4
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
                  scope: openid email profile
                  on_unauthenticated_request: deny
              - {type: forward, target_group: app, order: 2}
          - priority: 5
            conditions: [{path_pattern: [/open/*]}]
            actions:
              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  <<: *oidc
                  on_unauthenticated_request: allow
              - {type: forward, target_group: app, order: 2}
        default_actions:
          - type: authenticate-oidc
            order: 1
            authenticate_oidc:
              <<: *oidc
              on_unauthenticated_request: authenticate
              authentication_request_extra_params: {prompt: login}
          - {type: forward, target_group: app, order: 2}
target_groups:
  - name: app
    port: 80
    targets: [{id: 127.0.0.1, port: %[4]s}]
`

func startAuthStack(t *testing.T) *authStack {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	s := &authStack{lbFixture: &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir}}
	s.lbBase = "https://" + s.addr
	s.verifyErr.Store("")
	writeCert(t, dir, "default", "127.0.0.1")
	s.op = startOP(t, s.lbBase+"/oauth2/idpresponse")

	// A closed port: the JWKS endpoint that is down.
	down := listenLoopback(t, "127.0.0.1:0")
	downAddr := down.Addr().String()
	down.Close()

	// The admin server's public-keys endpoint and the target that uses it.
	adminLn := listenLoopback(t, "127.0.0.1:0")
	s.adminURL = "http://" + adminLn.Addr().String()
	s.target = startHTTPTarget(t, s.serveTarget)

	yaml := fmt.Sprintf(authTemplate, s.logPath, s.port, s.op.issuer, portOf(s.target.addr), downAddr)
	var n *node.Node
	n = startNode(t, ln, dir, yaml, func(o *node.Options) { o.BaseDir = dir; o.AllowInsecureIdP = true })
	s.node = n
	adminSrv := &http.Server{Handler: admin.Handler(admin.Options{PublicKey: n.Auth().PublicKeyPEM})}
	go adminSrv.Serve(adminLn)
	t.Cleanup(func() { adminSrv.Close() })
	return s
}

// serveTarget answers with what the load balancer told it, after verifying
// x-amzn-oidc-data the way AWS documents for targets: read the kid from the
// JWT header, fetch the PEM public key by kid, verify the ES256 signature.
func (s *authStack) serveTarget(w http.ResponseWriter, r *http.Request) {
	out := map[string]any{
		"identity":    r.Header.Get("X-Amzn-Oidc-Identity"),
		"accesstoken": r.Header.Get("X-Amzn-Oidc-Accesstoken") != "",
		"forged":      r.Header.Get("X-Amzn-Oidc-Forged"),
	}
	if data := r.Header.Get("X-Amzn-Oidc-Data"); data != "" {
		claims, hdr, err := verifyALBData(s.adminURL, data)
		if err != nil {
			s.verifyErr.Store(err.Error())
			out["verify_error"] = err.Error()
		} else {
			out["verified"] = true
			out["email"] = claims["email"]
			out["sub"] = claims["sub"]
			out["signer"] = hdr["signer"]
			out["client"] = hdr["client"]
			out["iss"] = hdr["iss"]
		}
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		fmt.Fprintf(w, `<html><body><p id="result">verified=%v identity=%s email=%v</p></body></html>`, out["verified"], out["identity"], out["email"])
		return
	}
	json.NewEncoder(w).Encode(out)
}

// verifyALBData is the verification AWS's documentation gives target
// owners, in Go with go-jose: the kid from the header, the key from the
// public-keys endpoint by kid, ES256.
func verifyALBData(keysURL, data string) (map[string]any, map[string]any, error) {
	parts := strings.Split(data, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("x-amzn-oidc-data has %d parts", len(parts))
	}
	rawHdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, nil, err
	}
	var hdr map[string]any
	if err := json.Unmarshal(rawHdr, &hdr); err != nil {
		return nil, nil, err
	}
	kid, _ := hdr["kid"].(string)
	resp, err := http.Get(keysURL + "/public-keys/" + kid)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	pemBytes, _ := io.ReadAll(resp.Body)
	block, _ := pem.Decode(pemBytes)
	if resp.StatusCode != 200 || block == nil {
		return nil, nil, fmt.Errorf("public key %s: status %d", kid, resp.StatusCode)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, nil, err
	}
	ecPub, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("public key is %T", pub)
	}
	tok, err := jwt.ParseSigned(data, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return nil, nil, err
	}
	var claims map[string]any
	if err := tok.Claims(ecPub, &claims); err != nil {
		return nil, nil, err
	}
	for _, k := range []string{"kid", "alg", "iss", "client", "signer", "exp"} {
		if _, ok := hdr[k]; !ok {
			return nil, nil, fmt.Errorf("header lacks %s: %v", k, hdr)
		}
	}
	return claims, hdr, nil
}

// browserClient is a Go client with a cookie jar that follows redirects,
// trusting the listener's self-signed certificate.
func browserClient(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		Timeout:   10 * time.Second,
	}
}

// login goes through the OP's login page as a user would: the redirect to
// the OP, its form posted with the test user's credentials, and the
// redirects back through /oauth2/idpresponse to path.
func (s *authStack) login(t *testing.T, c *http.Client, path string) map[string]any {
	t.Helper()
	resp, err := c.Get(s.lbBase + path)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Host != strings.TrimPrefix(s.op.issuer, "http://") || resp.Request.URL.Path != "/login/username" {
		t.Fatalf("GET %s ended at %s (status %d), not the OP's login page:\n%s", path, resp.Request.URL, resp.StatusCode, page)
	}
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(page)
	if id == nil {
		t.Fatalf("the login page has no auth request id:\n%s", page)
	}
	resp, err = c.PostForm(s.op.issuer+"/login/username", url.Values{"id": {string(id[1])}, "username": {s.op.username()}, "password": {opPassword}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Request.URL.Host != s.addr || resp.Request.URL.Path != path {
		t.Fatalf("after login: status %d at %s:\n%s", resp.StatusCode, resp.Request.URL, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("target answer %q: %v", body, err)
	}
	return out
}

func TestOIDCLoginWithGoClient(t *testing.T) {
	s := startAuthStack(t)
	c := browserClient(t)

	// deny: 401 without a session, and no redirect to the OP.
	resp, err := c.Get(s.lbBase + "/deny/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("deny without a session: %d, want 401", resp.StatusCode)
	}
	// allow: forwarded without claims; client-sent x-amzn-oidc-* dropped.
	req, _ := http.NewRequest("GET", s.lbBase+"/open/x", nil)
	req.Header.Set("X-Amzn-Oidc-Identity", "admin")
	req.Header.Set("X-Amzn-Oidc-Forged", "yes")
	out := doJSON(t, c, req)
	if out["identity"] != "" || out["forged"] != "" || out["verified"] != nil {
		t.Fatalf("allow without a session reached the target with %v", out)
	}

	out = s.login(t, c, "/app/page")
	if out["verified"] != true || out["identity"] == "" || out["identity"] != out["sub"] || out["email"] != "test-user@zitadel.ch" || out["accesstoken"] != true {
		t.Fatalf("the target got %v (last verification problem %q)", out, s.verifyErr.Load())
	}
	lbARN := s.node.Snapshot().LoadBalancers[0].ARN
	if out["signer"] != lbARN || out["client"] != opClientID || out["iss"] != s.op.issuer {
		t.Errorf("x-amzn-oidc-data header: signer %v client %v iss %v; want %s %s %s", out["signer"], out["client"], out["iss"], lbARN, opClientID, s.op.issuer)
	}
	// The session cookie, -0 sharded, serves the other rules too; a forged
	// identity header is still dropped.
	u, _ := url.Parse(s.lbBase)
	var names []string
	for _, ck := range c.Jar.Cookies(u) {
		names = append(names, ck.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "AWSELBAuthSessionCookie-0") {
		t.Fatalf("cookies after login: %v", names)
	}
	for _, p := range []string{"/deny/y", "/open/y", "/app/again"} {
		req, _ := http.NewRequest("GET", s.lbBase+p, nil)
		req.Header.Set("X-Amzn-Oidc-Identity", "admin")
		if out := doJSON(t, c, req); out["verified"] != true || out["identity"] == "admin" {
			t.Errorf("%s with the session: %v", p, out)
		}
	}

	// The access log: the login's redirect, the callback and the
	// forwarded requests.
	entries := s.logLines(8)
	var sawRedirect, sawCallback bool
	for _, e := range entries {
		switch {
		case e.ELBStatusCode == 302 && e.ActionsExecuted == "authenticate" && strings.Contains(string(e.Request), "/oauth2/idpresponse"):
			sawCallback = true
		case e.ELBStatusCode == 302 && e.ActionsExecuted == "authenticate":
			sawRedirect = true
		case e.ELBStatusCode == 200 && e.ActionsExecuted != "authenticate,forward":
			t.Errorf("forwarded request logged with actions %q", e.ActionsExecuted)
		}
	}
	if !sawRedirect || !sawCallback {
		t.Errorf("no redirect (%v) or callback (%v) line:\n%s", sawRedirect, sawCallback, dumpEntries(entries))
	}
}

func doJSON(t *testing.T, c *http.Client, req *http.Request) map[string]any {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, resp.StatusCode, body)
	}
	return out
}

func dumpEntries(es []accesslog.Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%d %q %q %s\n", e.ELBStatusCode, e.ActionsExecuted, e.ErrorReason, e.Request)
	}
	return b.String()
}
