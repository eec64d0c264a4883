package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/testutil/testop"
)

// A token remembered as verified is still checked for its time, issuer and
// claims on every request, by every action that shares the JWKS.
func TestVerifiedTokensAreStillChecked(t *testing.T) {
	op := testop.Start(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	s, err := NewService(Options{Key: make([]byte, 32), AllowInsecureIdP: true, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	compile := func(issuer string, claims ...config.JWTClaim) *Action {
		a, err := s.Compile(config.Action{Type: config.ActionJWTValidation, JWTValidation: &config.JWTValidationConfig{JWKSEndpoint: op.Issuer + "/keys", Issuer: issuer, AdditionalClaims: claims}}, Site{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	plain := compile(op.Issuer)
	other := compile("https://other.example")
	admin := compile(op.Issuer, config.JWTClaim{Format: config.ClaimSpaceSeparatedValues, Name: "scope", Values: []string{"admin"}})
	run := func(a *Action, tok string) string {
		var res Result
		a.Run(&Request{Headers: []http1.Header{{Name: []byte("Authorization"), Value: []byte("Bearer " + tok)}}}, &res)
		if res.Status == 0 {
			return "ok"
		}
		return res.ErrorReason
	}
	tok := op.Token("read") // valid for five minutes
	for range 3 {
		if got := run(plain, tok); got != "ok" {
			t.Fatalf("valid token: %s", got)
		}
	}
	if got := run(other, tok); got != ReasonJWTIssuer {
		t.Errorf("remembered token, other issuer: %s", got)
	}
	if got := run(admin, tok); got != ReasonJWTClaim {
		t.Errorf("remembered token, missing claim: %s", got)
	}
	if n := op.KeysHits(); n != 1 {
		t.Errorf("the JWKS was fetched %d times, want 1", n)
	}
	now.Add(int64(10 * time.Minute))
	if got := run(plain, tok); got != ReasonJWTExpired {
		t.Errorf("remembered token past its expiry: %s", got)
	}
	// A one-byte change is another token, verified afresh.
	forged := []byte(tok)
	if i := len(forged) - 2; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	now.Add(int64(-10 * time.Minute))
	if got := run(plain, string(forged)); got != ReasonJWTSignature {
		t.Errorf("altered token: %s", got)
	}
}

// A token without a key id verifies against whichever of the JWKS's keys
// signed it, not only the first.
func TestTokenWithoutKeyID(t *testing.T) {
	op := testop.Start(t)
	op.Rotate() // the JWKS now has the OP's first key, then the new one that signs
	s, err := NewService(Options{Key: make([]byte, 32), AllowInsecureIdP: true})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Compile(config.Action{Type: config.ActionJWTValidation, JWTValidation: &config.JWTValidationConfig{JWKSEndpoint: op.Issuer + "/keys", Issuer: op.Issuer}}, Site{})
	if err != nil {
		t.Fatal(err)
	}
	tok := op.SignWithoutKeyID(map[string]any{"iss": op.Issuer, "sub": "svc", "exp": time.Now().Add(time.Minute).Unix()})
	var res Result
	a.Run(&Request{Headers: []http1.Header{{Name: []byte("Authorization"), Value: []byte("Bearer " + tok)}}}, &res)
	if res.Status != 0 {
		t.Fatalf("token without a key id, signed by the JWKS's second key: %d %s", res.Status, res.ErrorReason)
	}
	forged := newForgedToken(t, map[string]any{"iss": op.Issuer, "sub": "svc", "exp": time.Now().Add(time.Minute).Unix()})
	res.Reset()
	a.Run(&Request{Headers: []http1.Header{{Name: []byte("Authorization"), Value: []byte("Bearer " + forged)}}}, &res)
	if res.Status != 401 || res.ErrorReason != ReasonJWTSignature {
		t.Fatalf("token without a key id signed by no key of the JWKS: %d %s", res.Status, res.ErrorReason)
	}
}

// newForgedToken signs claims with a key of its own, naming no key id.
func newForgedToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
