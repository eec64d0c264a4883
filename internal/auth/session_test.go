package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
)

func testService(t testing.TB, key byte, now time.Time) *Service {
	t.Helper()
	s, err := NewService(Options{Key: bytes.Repeat([]byte{key}, 32), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testAction(t testing.TB, s *Service, lb string, onUnauth string) *Action {
	t.Helper()
	a, err := s.Compile(config.Action{Type: config.ActionAuthenticateOIDC, AuthenticateOIDC: &config.AuthenticateOIDCConfig{
		Issuer: "https://idp.example", AuthorizationEndpoint: "https://idp.example/auth", TokenEndpoint: "https://idp.example/token",
		UserInfoEndpoint: "https://idp.example/userinfo", ClientID: "c", ClientSecret: "s", OnUnauthenticatedRequest: onUnauth,
	}}, Site{LoadBalancerARN: lb})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// cookieHeader seals sess for a and returns the Cookie header of its shards.
func cookieHeader(t testing.TB, a *Action, sess *session) []http1.Header {
	t.Helper()
	v, err := a.oidc.s.seal(a.oidc.id, sess)
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := appendSessionCookies(&r, &a.oidc.shards, v, 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for _, line := range strings.Split(strings.TrimSpace(string(r.Header)), "\r\n") {
		pair, _, _ := strings.Cut(strings.TrimPrefix(line, "Set-Cookie: "), ";")
		pairs = append(pairs, pair)
	}
	return []http1.Header{{Name: []byte("Cookie"), Value: []byte("other=1; " + strings.Join(pairs, "; "))}}
}

func testSession(sub string, now time.Time, claims string) *session {
	return &session{ID: []byte("id-" + sub), Subject: sub, Claims: json.RawMessage(claims), Access: "access-of-" + sub, Expires: now.Add(time.Hour).Unix()}
}

// upstreamHeader returns the value of the x-amzn-oidc header name in r.
func upstreamHeader(r *Result, name string) string {
	for _, line := range strings.Split(string(r.Upstream), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == name {
			return v
		}
	}
	return ""
}

// TestSessionCookieBelongsToItsAction checks that a session cookie is a
// session only for the action and key that sealed it: not for another
// load balancer with the same provider, not under another cluster's key,
// and never as the session of another cookie held in the cache.
func TestSessionCookieBelongsToItsAction(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := testService(t, 1, now)
	a := testAction(t, s, "arn:lb/one", config.UnauthenticatedDeny)
	alice := cookieHeader(t, a, testSession("alice", now, `{"sub":"alice"}`))
	bob := cookieHeader(t, a, testSession("bob", now, `{"sub":"bob"}`))
	run := func(a *Action, h []http1.Header) *Result {
		r := new(Result)
		a.Run(&Request{Host: []byte("lb.example"), Path: []byte("/"), Headers: h}, r)
		return r
	}
	for range 2 { // the second time from the cache
		if r := run(a, alice); r.Status != 0 || upstreamHeader(r, "x-amzn-oidc-identity") != "alice" {
			t.Fatalf("alice's cookie: status %d, identity %q", r.Status, upstreamHeader(r, "x-amzn-oidc-identity"))
		}
		if r := run(a, bob); r.Status != 0 || upstreamHeader(r, "x-amzn-oidc-identity") != "bob" {
			t.Fatalf("bob's cookie: status %d, identity %q", r.Status, upstreamHeader(r, "x-amzn-oidc-identity"))
		}
	}
	for name, other := range map[string]*Action{
		"another load balancer": testAction(t, s, "arn:lb/two", config.UnauthenticatedDeny),
		"another key":           testAction(t, testService(t, 2, now), "arn:lb/one", config.UnauthenticatedDeny),
	} {
		if r := run(other, alice); r.Status != 401 || r.ErrorReason != ReasonInvalidCookie || len(r.Upstream) != 0 {
			t.Errorf("alice's cookie on %s: status %d reason %q upstream %q; want 401 %s", name, r.Status, r.ErrorReason, r.Upstream, ReasonInvalidCookie)
		}
	}
	// A shard of bob's in alice's cookie is not a session.
	mixed := []http1.Header{{Name: []byte("Cookie"), Value: append(bytes.Clone(alice[0].Value[:len(alice[0].Value)-5]), bob[0].Value[len(bob[0].Value)-5:]...)}}
	if r := run(a, mixed); r.Status != 401 || r.ErrorReason != ReasonInvalidCookie {
		t.Errorf("a mixed cookie: status %d reason %q", r.Status, r.ErrorReason)
	}
}

// TestSessionShards checks the split into ALB's -0 ... -3 cookies of at
// most 4000 bytes, that the joined shards read back, and that a session
// too big for 4 shards is refused rather than cut.
func TestSessionShards(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := testService(t, 1, now)
	a := testAction(t, s, "arn:lb/one", config.UnauthenticatedDeny)
	big := testSession("carol", now, `{"sub":"carol","name":"`+strings.Repeat("x", 7000)+`"}`)
	h := cookieHeader(t, a, big)
	if n := countShards(h, &a.oidc.shards); n != 3 {
		t.Fatalf("a 7 KB session in %d shards, want 3: %s", n, h[0].Value)
	}
	for i := range 3 {
		if v := http1.CookieValue(h, a.oidc.shards[i]); len(v) == 0 || len(v) > shardSize {
			t.Errorf("shard %d is %d bytes", i, len(v))
		}
	}
	r := new(Result)
	a.Run(&Request{Host: []byte("lb.example"), Path: []byte("/"), Headers: h}, r)
	if r.Status != 0 || upstreamHeader(r, "x-amzn-oidc-identity") != "carol" {
		t.Fatalf("the sharded session: status %d reason %q", r.Status, r.ErrorReason)
	}
	var out Result
	if err := appendSessionCookies(&out, &a.oidc.shards, strings.Repeat("v", maxShards*shardSize+1), 0, now); err == nil {
		t.Fatal("a session over 4 shards was cut into cookies")
	}
}

// TestSessionData checks x-amzn-oidc-data: ES256, ALB's header fields, the
// public key served for its kid, the claims, and that it expires with the
// session at the latest.
func TestSessionData(t *testing.T) {
	now := time.Now()
	s := testService(t, 1, now)
	a := testAction(t, s, "arn:lb/one", config.UnauthenticatedDeny)
	sess := testSession("dave", now, `{"sub":"dave","email":"dave@example.com"}`)
	sess.Expires = now.Add(30 * time.Second).Unix()
	r := new(Result)
	a.Run(&Request{Host: []byte("lb.example"), Path: []byte("/"), Headers: cookieHeader(t, a, sess)}, r)
	data := upstreamHeader(r, "x-amzn-oidc-data")
	tok, err := jwt.ParseSigned(data, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("x-amzn-oidc-data %q: %v", data, err)
	}
	h := tok.Headers[0]
	if h.KeyID != s.KeyID() || h.ExtraHeaders["signer"] != "arn:lb/one" || h.ExtraHeaders["client"] != "c" || h.ExtraHeaders["iss"] != "https://idp.example" {
		t.Fatalf("header %+v", h)
	}
	pemBytes, ok := s.PublicKeyPEM(h.KeyID)
	block, _ := pem.Decode(pemBytes)
	if !ok || block == nil {
		t.Fatal("no public key for the kid")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		jwt.Claims
		Email string `json:"email"`
	}
	if err := tok.Claims(pub.(*ecdsa.PublicKey), &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if claims.Subject != "dave" || claims.Email != "dave@example.com" || claims.Expiry.Time().Unix() != sess.Expires {
		t.Fatalf("claims %+v, want dave's expiring with the session at %d", claims, sess.Expires)
	}
	if _, ok := s.PublicKeyPEM("other-kid"); ok {
		t.Fatal("a public key for another kid")
	}
}

// TestStateUsedOnce checks that a login's state passes once and that a
// state of another key or a session cookie does not pass for one.
func TestStateUsedOnce(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := testService(t, 1, now)
	st := &state{Action: []byte("a"), Nonce: "n", URL: "/", Until: now.Add(time.Minute).Unix(), Bind: "b"}
	v, err := s.sealState(st)
	if err != nil {
		t.Fatal(err)
	}
	got, nonce, err := s.openState(v)
	if err != nil || got.URL != "/" {
		t.Fatalf("openState: %+v %v", got, err)
	}
	if !s.states.use(nonce, got.Until, now.Unix()) || s.states.use(nonce, got.Until, now.Unix()) {
		t.Fatal("a state passed twice, or not once")
	}
	if _, _, err := testService(t, 2, now).openState(v); err == nil {
		t.Fatal("another key opened the state")
	}
	cookie, _ := s.seal([]byte("a"), testSession("eve", now, `{"sub":"eve"}`))
	if _, _, err := s.openState(cookie); err == nil {
		t.Fatal("a session cookie passed for a state")
	}
}

// BenchmarkSessionCheck measures the authenticate action's work for a
// request with a valid session cookie of one shard (claims of a typical
// user), once its x-amzn-oidc-data is cached: finding and joining the
// shards, base64 and AES-GCM, the cache lookup and the headers for the
// target.
func BenchmarkSessionCheck(b *testing.B) {
	now := time.Now()
	s := testService(b, 1, now)
	a := testAction(b, s, "arn:lb/one", config.UnauthenticatedDeny)
	sess := testSession("frank", now, `{"sub":"frank","name":"Frank Example","email":"frank@example.com","email_verified":true,"given_name":"Frank","family_name":"Example","locale":"en"}`)
	sess.Access = strings.Repeat("a", 900) // a JWT access token's size
	h := append([]http1.Header{{Name: []byte("User-Agent"), Value: []byte("bench")}}, cookieHeader(b, a, sess)...)
	req := &Request{Host: []byte("lb.example"), Path: []byte("/"), Headers: h}
	r := new(Result)
	a.Run(req, r)
	if r.Status != 0 {
		b.Fatalf("status %d", r.Status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Reset()
		a.Run(req, r)
	}
	b.ReportMetric(float64(len(h[1].Value)), "cookie-bytes")
}
