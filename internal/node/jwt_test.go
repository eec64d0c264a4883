package node_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/testop"
)

// claims returns the claims of a token, unverified (the test's own look).
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := p.UnsafeClaimsWithoutVerification(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

const jwtTemplate = `load_balancers:
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
                    - {format: single-string, name: client_id, values: [` + testop.ServiceClientID + `]}
                    - {format: string-array, name: aud, values: [` + testop.ServiceClientID + `, other]}
              - {type: forward, target_group: app, order: 2}
          - priority: 2
            conditions: [{path_pattern: [/wrong-issuer/*]}]
            actions:
              - {type: jwt-validation, order: 1, jwt_validation: {jwks_endpoint: %[3]s/keys, issuer: https://someone-else.example}}
              - {type: forward, target_group: app, order: 2}
          - priority: 3
            conditions: [{path_pattern: [/open/*]}]
            actions: [{type: forward, target_group: app}]
        default_actions:
          - {type: fixed-response, fixed_response: {status_code: "404", content_type: text/plain, message_body: none}}
target_groups:
  - name: app
    port: 80
    targets: [{id: 127.0.0.1, port: %[4]s}]
`

// jwtStack is a node whose HTTPS listener validates JWTs from a jwtOP
// before forwarding to a target that echoes what it got.
type jwtStack struct {
	*lbFixture
	op     *testop.OP
	target *httpTarget
	logs   *testutil.SyncBuffer
	client *http.Client
}

func startJWTStack(t *testing.T) *jwtStack {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	s := &jwtStack{lbFixture: &lbFixture{t: t, addr: addr.String(), port: int(addr.Port()), logPath: filepath.Join(dir, "access.log"), dir: dir}}
	writeCert(t, dir, "default", "127.0.0.1")
	s.op = testop.Start(t)
	s.target = startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		oidc := ""
		for name := range r.Header {
			if strings.HasPrefix(strings.ToLower(name), "x-amzn-oidc-") {
				oidc += name + " "
			}
		}
		json.NewEncoder(w).Encode(map[string]string{"authorization": r.Header.Get("Authorization"), "oidc": oidc})
	})
	s.logs = &testutil.SyncBuffer{}
	yaml := fmt.Sprintf(jwtTemplate, s.logPath, s.port, s.op.Issuer, portOf(s.target.addr))
	s.node = startNode(t, ln, dir, yaml, func(o *node.Options) {
		o.BaseDir = dir
		o.AllowInsecureIdP = true
		o.Logger = slog.New(slog.NewTextHandler(s.logs, nil))
	})
	s.client = browserClient(t)
	return s
}

// get sends GET path with an Authorization header (none when "") and
// returns the status, the WWW-Authenticate header and the body.
func (s *jwtStack) get(path, authorization string) (int, string, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", "https://"+s.addr+path, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), string(body)
}

// Albatross's challenges (ALB documents none; see docs/compatibility.md).
const (
	challengeMissing = `Bearer`
)

func challenge(desc string) string {
	return `Bearer error="invalid_token", error_description="` + desc + `"`
}

func TestJWTValidationWithTheOPsTokens(t *testing.T) {
	s := startJWTStack(t)
	op := s.op

	// A valid token, as the OP issues it: forwarded with the token as it
	// came, and nothing added.
	good := op.Token("read write")
	if c := claimsOf(t, good); c["iss"] != op.Issuer || c["client_id"] != testop.ServiceClientID || c["scope"] != "read write" {
		t.Fatalf("the OP's token has claims %v", c)
	}
	status, _, body := s.get("/api/x", "Bearer "+good)
	var got map[string]string
	if status != 200 || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("valid token: %d %s", status, body)
	}
	if got["authorization"] != "Bearer "+good || got["oidc"] != "" {
		t.Fatalf("the target got Authorization %q and x-amzn-oidc-* headers %q; want the token as sent and none", got["authorization"], got["oidc"])
	}
	// The scheme is case-insensitive (RFC 6750 §2.1).
	if status, _, body := s.get("/api/x", "bearer "+good); status != 200 {
		t.Fatalf("lower-case scheme: %d %s", status, body)
	}

	// The OP's tokens that fail: issued expired, not valid yet, without the
	// required scope or with another; and one the OP signed for another
	// issuer's rule.
	op.SetLifetime(-10 * time.Minute)
	expired := op.Token("read")
	op.SetLifetime(30 * time.Minute)
	op.SetSkew(-10 * time.Minute) // iat and nbf ten minutes ahead
	notYet := op.Token("read")
	if nbf, _ := claimsOf(t, notYet)["nbf"].(float64); time.Unix(int64(nbf), 0).Before(time.Now().Add(5 * time.Minute)) {
		t.Fatalf("the OP's token has nbf %v, want 10 minutes from now", nbf)
	}
	op.SetSkew(0)
	op.SetLifetime(5 * time.Minute)
	noScope := op.Token("")
	wrongScope := op.Token("write admin")

	// A token with the OP's key id and claims, signed by another key.
	forged := newForger(t)(good, "")

	cases := []struct {
		name, path, authorization string
		challenge, reason         string
	}{
		{"no Authorization header", "/api/x", "", challengeMissing, "JwtValidationMissingToken"},
		{"another scheme", "/api/x", "Basic " + good, challengeMissing, "JwtValidationMissingToken"},
		{"empty bearer", "/api/x", "Bearer ", challengeMissing, "JwtValidationMissingToken"},
		{"garbled token", "/api/x", "Bearer not.a.jwt", challenge("malformed token"), "JwtValidationMalformedToken"},
		{"truncated token", "/api/x", "Bearer " + good[:len(good)-20], challenge("invalid signature"), "JwtValidationInvalidSignature"},
		{"expired", "/api/x", "Bearer " + expired, challenge("token expired or not yet valid"), "JwtValidationExpired"},
		{"not yet valid", "/api/x", "Bearer " + notYet, challenge("token expired or not yet valid"), "JwtValidationExpired"},
		{"signed by another key", "/api/x", "Bearer " + forged, challenge("invalid signature"), "JwtValidationInvalidSignature"},
		{"missing claim", "/api/x", "Bearer " + noScope, challenge("claim scope not accepted"), "JwtValidationInvalidClaim"},
		{"wrong claim value", "/api/x", "Bearer " + wrongScope, challenge("claim scope not accepted"), "JwtValidationInvalidClaim"},
		{"wrong issuer", "/wrong-issuer/x", "Bearer " + good, challenge("invalid issuer"), "JwtValidationInvalidIssuer"},
	}
	for _, c := range cases {
		status, wwwAuth, body := s.get(c.path, c.authorization)
		if status != 401 || wwwAuth != c.challenge {
			t.Errorf("%s: %d WWW-Authenticate %q, want 401 %q (%s)", c.name, status, wwwAuth, c.challenge, body)
		}
	}
	if n := len(s.target.requests()); n != 2 {
		t.Errorf("the target got %d requests, want the 2 valid ones", n)
	}

	// The access log: the forwarded requests logged jwt-validation,forward,
	// the refused ones jwt-validation with the reason.
	entries := s.logLines(2 + len(cases))
	for i, e := range entries[:2] {
		if e.ELBStatusCode != 200 || e.ActionsExecuted != "jwt-validation,forward" || e.ErrorReason != "" {
			t.Errorf("valid request %d logged %d %q %q", i, e.ELBStatusCode, e.ActionsExecuted, e.ErrorReason)
		}
	}
	for i, c := range cases {
		e := entries[2+i]
		if e.ELBStatusCode != 401 || e.ActionsExecuted != "jwt-validation" || e.ErrorReason != c.reason || e.TargetStatusCode != 0 {
			t.Errorf("%s: logged %d %q %q target status %d; want 401 jwt-validation %s", c.name, e.ELBStatusCode, e.ActionsExecuted, e.ErrorReason, e.TargetStatusCode, c.reason)
		}
	}
	if t.Failed() {
		t.Log(dumpEntries(entries))
	}
}

// newForger returns a function that copies a token's claims into a token
// signed by another key (one per forger), whose header names kid ("": the
// token's own key id).
func newForger(t *testing.T) func(tok, kid string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return func(tok, kid string) string {
		t.Helper()
		p, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		if kid == "" {
			kid = p.Headers[0].KeyID
		}
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		forged, err := jwt.Signed(sig).Claims(claimsOf(t, tok)).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return forged
	}
}

func TestJWTValidationCachesAndRefreshesTheJWKS(t *testing.T) {
	s := startJWTStack(t)
	op := s.op
	tok := op.Token("read")
	for i := range 5 {
		if status, _, body := s.get("/api/x", "Bearer "+tok); status != 200 {
			t.Fatalf("request %d: %d %s\n%s", i, status, body, dumpEntries(s.logLines(1)))
		}
	}
	// The second rule names the same endpoint: one cache for both.
	if status, _, _ := s.get("/wrong-issuer/x", "Bearer "+tok); status != 401 {
		t.Fatalf("wrong issuer: %d", status)
	}
	if n := op.KeysHits(); n != 1 {
		t.Fatalf("the OP's /keys was fetched %d times for 6 requests, want 1 (cached)", n)
	}

	// The OP rotates its key: a token with the new kid makes the load
	// balancer fetch the keys again at once, and then they are cached.
	kid := op.Rotate()
	rotated := op.Token("read")
	if p, _ := jwt.ParseSigned(rotated, []jose.SignatureAlgorithm{jose.RS256}); p == nil || p.Headers[0].KeyID != kid {
		t.Fatalf("the OP did not sign with the rotated key %s", kid)
	}
	for i := range 3 {
		if status, _, body := s.get("/api/x", "Bearer "+rotated); status != 200 {
			t.Fatalf("token of the rotated key, request %d: %d %s", i, status, body)
		}
	}
	if status, _, _ := s.get("/api/x", "Bearer "+tok); status != 200 {
		t.Fatalf("token of the old key, still in the key set: %d", status)
	}
	if n := op.KeysHits(); n != 2 {
		t.Fatalf("the OP's /keys was fetched %d times, want 2 (once more for the new kid)", n)
	}

	// Tokens naming unknown key ids do not make it fetch again and again.
	forge := newForger(t)
	for i := range 3 {
		if status, _, _ := s.get("/api/x", "Bearer "+forge(tok, fmt.Sprintf("unknown-%d", i))); status != 401 {
			t.Fatalf("unknown kid %d: %d", i, status)
		}
	}
	if n := op.KeysHits(); n != 2 {
		t.Fatalf("the OP's /keys was fetched %d times after 3 unknown key ids just after a rotation, want still 2", n)
	}
}

func TestJWTValidationFailsClosedWhileTheJWKSIsDown(t *testing.T) {
	s := startJWTStack(t)
	tok := s.op.Token("read")
	s.op.Stop()

	status, wwwAuth, body := s.get("/api/x", "Bearer "+tok)
	if status != 401 || wwwAuth != challenge("signing keys unavailable") {
		t.Fatalf("JWKS down: %d WWW-Authenticate %q, want 401 %q (%s)", status, wwwAuth, challenge("signing keys unavailable"), body)
	}
	e := s.logLines(1)[0]
	if e.ActionsExecuted != "jwt-validation" || e.ErrorReason != "JwtValidationJwksUnavailable" {
		t.Fatalf("JWKS down logged %q %q", e.ActionsExecuted, e.ErrorReason)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "cannot fetch the JWKS") || !strings.Contains(logs, s.op.Issuer+"/keys") {
		t.Fatalf("no logged reason naming the JWKS endpoint:\n%s", logs)
	}
	if len(s.target.requests()) != 0 {
		t.Fatal("a request reached the target while the JWKS was down")
	}

	// The OP is back: the next request fetches the keys and goes through.
	s.op.Restart()
	if status, _, body := s.get("/api/x", "Bearer "+tok); status != 200 {
		t.Fatalf("JWKS back: %d %s", status, body)
	}
	if e := s.logLines(2)[1]; e.ActionsExecuted != "jwt-validation,forward" {
		t.Fatalf("JWKS back logged %q", e.ActionsExecuted)
	}
}
