package auth

import (
	"sync/atomic"
	"testing"
	"time"

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
