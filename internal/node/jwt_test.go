package node_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	zop "github.com/zitadel/oidc/v3/pkg/op"

	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// The service user of zitadel's example storage that may use the
// client-credentials grant.
const (
	serviceClientID     = "sid1"
	serviceClientSecret = "verysecret"
)

// jwtStorage is the example OP's in-memory storage, set up the way an OP
// that issues JWT access tokens to machines is: client-credentials tokens
// are JWTs, their lifetime and the client's clock skew are the test's to
// choose, and its signing key can be rotated.
type jwtStorage struct {
	*storage.Storage
	// lifetime is the access tokens' lifetime (negative: issued expired).
	lifetime atomic.Int64
	// skew is the client's clock skew, which the OP takes from iat and nbf
	// (negative: tokens not valid before some time from now).
	skew atomic.Int64

	mu      sync.Mutex
	rotated []*rotatedKey // newest last; none: the storage's own key signs
}

// rotatedKey is a signing key added by rotation.
type rotatedKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *rotatedKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rotatedKey) Algorithm() jose.SignatureAlgorithm          { return jose.RS256 }
func (k *rotatedKey) ID() string                                  { return k.id }
func (k *rotatedKey) Use() string                                 { return "sig" }

// Key is the private key when signing and the public key in the key set;
// pubKey wraps it for the latter.
func (k *rotatedKey) Key() any { return k.key }

type pubKey struct{ *rotatedKey }

func (k pubKey) Key() any { return &k.key.PublicKey }

// jwtClient is a service user whose access tokens are JWTs.
type jwtClient struct {
	zop.Client
	skew time.Duration
}

func (jwtClient) AccessTokenType() zop.AccessTokenType { return zop.AccessTokenTypeJWT }
func (c jwtClient) ClockSkew() time.Duration           { return c.skew }

func (s *jwtStorage) ClientCredentials(ctx context.Context, id, secret string) (zop.Client, error) {
	c, err := s.Storage.ClientCredentials(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	return jwtClient{Client: c, skew: time.Duration(s.skew.Load())}, nil
}

func (s *jwtStorage) CreateAccessToken(ctx context.Context, req zop.TokenRequest) (string, time.Time, error) {
	id, _, err := s.Storage.CreateAccessToken(ctx, req)
	return id, time.Now().Add(time.Duration(s.lifetime.Load())), err
}

func (s *jwtStorage) SigningKey(ctx context.Context) (zop.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.rotated); n > 0 {
		return s.rotated[n-1], nil
	}
	return s.Storage.SigningKey(ctx)
}

func (s *jwtStorage) KeySet(ctx context.Context) ([]zop.Key, error) {
	keys, err := s.Storage.KeySet(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.rotated {
		keys = append(keys, pubKey{k})
	}
	return keys, nil
}

// GetPrivateClaimsFromScopes puts the granted scopes in the access token's
// scope claim, as OPs that issue JWT access tokens do (RFC 9068 §2.2.3).
func (s *jwtStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	return map[string]any{"scope": strings.Join(scopes, " ")}, nil
}

// rotate makes a new key the signing key; the old ones stay in the key set.
func (s *jwtStorage) rotate(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := &rotatedKey{id: fmt.Sprintf("rotated-%d", len(s.rotated)+1), key: key}
	s.rotated = append(s.rotated, k)
	return k.id
}

// jwtOP is a real OpenID Provider (zitadel/oidc's example OP) issuing JWT
// access tokens by the client-credentials grant, and serving its keys at
// its own /keys endpoint, whose hits it counts. It can be stopped and
// started again on the same address.
type jwtOP struct {
	t        *testing.T
	issuer   string
	addr     string
	storage  *jwtStorage
	handler  http.Handler
	keysHits atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

func startJWTOP(t *testing.T) *jwtOP {
	t.Helper()
	ln := listenLoopback(t, "127.0.0.1:0")
	op := &jwtOP{t: t, addr: ln.Addr().String()}
	op.issuer = "http://" + op.addr
	op.storage = &jwtStorage{Storage: storage.NewStorage(storage.NewUserStore(op.issuer))}
	op.storage.lifetime.Store(int64(5 * time.Minute))
	router := exampleop.SetupServer(op.issuer, op.storage, nil, false, zop.WithAllowInsecure())
	op.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			op.keysHits.Add(1)
		}
		router.ServeHTTP(w, r)
	})
	op.serve(ln)
	t.Cleanup(op.stop)
	return op
}

func (op *jwtOP) serve(ln net.Listener) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.srv = &http.Server{Handler: op.handler}
	go op.srv.Serve(ln)
}

// stop stops the OP: its port refuses connections.
func (op *jwtOP) stop() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.srv != nil {
		op.srv.Close()
		op.srv = nil
	}
}

// restart serves the OP again on its address.
func (op *jwtOP) restart() {
	op.t.Helper()
	op.serve(listenLoopback(op.t, op.addr))
}

// token gets an access token from the OP's token endpoint by the
// client-credentials grant, asking for scope.
func (op *jwtOP) token(scope string) string {
	op.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {serviceClientID}, "client_secret": {serviceClientSecret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	resp, err := http.PostForm(op.issuer+"/oauth/token", form)
	if err != nil {
		op.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if resp.StatusCode != 200 || json.Unmarshal(body, &out) != nil || strings.Count(out.AccessToken, ".") != 2 {
		op.t.Fatalf("token endpoint: %d %s", resp.StatusCode, body)
	}
	return out.AccessToken
}

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
                    - {format: single-string, name: client_id, values: [` + serviceClientID + `]}
                    - {format: string-array, name: aud, values: [` + serviceClientID + `, other]}
              - {type: forward, target_group: app, order: 2}
          - priority: 2
            conditions: [{path_pattern: [/wrong-issuer/*]}]
            actions:
              - {type: jwt-validation, order: 1, jwt_validation: {jwks_endpoint: %[3]s/keys, issuer: https://someone-else.example}}
              - {type: forward, target_group: app, order: 2}
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
	op     *jwtOP
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
	s.op = startJWTOP(t)
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
	yaml := fmt.Sprintf(jwtTemplate, s.logPath, s.port, s.op.issuer, portOf(s.target.addr))
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
	good := op.token("read write")
	if c := claimsOf(t, good); c["iss"] != op.issuer || c["client_id"] != serviceClientID || c["scope"] != "read write" {
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
	op.storage.lifetime.Store(int64(-10 * time.Minute))
	expired := op.token("read")
	op.storage.lifetime.Store(int64(30 * time.Minute))
	op.storage.skew.Store(int64(-10 * time.Minute)) // iat and nbf ten minutes ahead
	notYet := op.token("read")
	if nbf, _ := claimsOf(t, notYet)["nbf"].(float64); time.Unix(int64(nbf), 0).Before(time.Now().Add(5 * time.Minute)) {
		t.Fatalf("the OP's token has nbf %v, want 10 minutes from now", nbf)
	}
	op.storage.skew.Store(0)
	op.storage.lifetime.Store(int64(5 * time.Minute))
	noScope := op.token("")
	wrongScope := op.token("write admin")

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
	tok := op.token("read")
	for i := range 5 {
		if status, _, body := s.get("/api/x", "Bearer "+tok); status != 200 {
			t.Fatalf("request %d: %d %s\n%s", i, status, body, dumpEntries(s.logLines(1)))
		}
	}
	// The second rule names the same endpoint: one cache for both.
	if status, _, _ := s.get("/wrong-issuer/x", "Bearer "+tok); status != 401 {
		t.Fatalf("wrong issuer: %d", status)
	}
	if n := op.keysHits.Load(); n != 1 {
		t.Fatalf("the OP's /keys was fetched %d times for 6 requests, want 1 (cached)", n)
	}

	// The OP rotates its key: a token with the new kid makes the load
	// balancer fetch the keys again at once, and then they are cached.
	kid := op.storage.rotate(t)
	rotated := op.token("read")
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
	if n := op.keysHits.Load(); n != 2 {
		t.Fatalf("the OP's /keys was fetched %d times, want 2 (once more for the new kid)", n)
	}

	// Tokens naming unknown key ids do not make it fetch again and again.
	forge := newForger(t)
	for i := range 3 {
		if status, _, _ := s.get("/api/x", "Bearer "+forge(tok, fmt.Sprintf("unknown-%d", i))); status != 401 {
			t.Fatalf("unknown kid %d: %d", i, status)
		}
	}
	if n := op.keysHits.Load(); n != 2 {
		t.Fatalf("the OP's /keys was fetched %d times after 3 unknown key ids just after a rotation, want still 2", n)
	}
}

func TestJWTValidationFailsClosedWhileTheJWKSIsDown(t *testing.T) {
	s := startJWTStack(t)
	tok := s.op.token("read")
	s.op.stop()

	status, wwwAuth, body := s.get("/api/x", "Bearer "+tok)
	if status != 401 || wwwAuth != challenge("signing keys unavailable") {
		t.Fatalf("JWKS down: %d WWW-Authenticate %q, want 401 %q (%s)", status, wwwAuth, challenge("signing keys unavailable"), body)
	}
	e := s.logLines(1)[0]
	if e.ActionsExecuted != "jwt-validation" || e.ErrorReason != "JwtValidationJwksUnavailable" {
		t.Fatalf("JWKS down logged %q %q", e.ActionsExecuted, e.ErrorReason)
	}
	if logs := s.logs.String(); !strings.Contains(logs, "cannot fetch the JWKS") || !strings.Contains(logs, s.op.issuer+"/keys") {
		t.Fatalf("no logged reason naming the JWKS endpoint:\n%s", logs)
	}
	if len(s.target.requests()) != 0 {
		t.Fatal("a request reached the target while the JWKS was down")
	}

	// The OP is back: the next request fetches the keys and goes through.
	s.op.restart()
	if status, _, body := s.get("/api/x", "Bearer "+tok); status != 200 {
		t.Fatalf("JWKS back: %d %s", status, body)
	}
	if e := s.logLines(2)[1]; e.ActionsExecuted != "jwt-validation,forward" {
		t.Fatalf("JWKS back logged %q", e.ActionsExecuted)
	}
}
