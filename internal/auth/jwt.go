package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
)

// The jwt-validation action: the bearer token's signature against the keys
// of a JWKS endpoint (cached; refreshed in the background when stale, and at
// once when a token names a key the cache lacks, then at most every
// jwksMinRefresh), iss, exp, nbf and iat, and the configured additional claims. A
// valid token goes to the target as it came; any failure is a 401 with an
// RFC 6750 WWW-Authenticate challenge.

// error_reason values of jwt-validation. ALB documents none (alb-data-plane.md
// §2.3); these are Albatross's, namespaced by the action.
const (
	ReasonJWTMissing     = "JwtValidationMissingToken"
	ReasonJWTMalformed   = "JwtValidationMalformedToken"
	ReasonJWTSignature   = "JwtValidationInvalidSignature"
	ReasonJWTExpired     = "JwtValidationExpired"
	ReasonJWTIssuer      = "JwtValidationInvalidIssuer"
	ReasonJWTClaim       = "JwtValidationInvalidClaim"
	ReasonJWKSUnavailble = "JwtValidationJwksUnavailable"
)

const (
	// jwksMaxAge is how long fetched keys are used before a refresh.
	jwksMaxAge = time.Hour
	// jwksMinRefresh bounds how often unknown key ids trigger a fetch.
	jwksMinRefresh = 30 * time.Second
	// maxJWKS and maxJWKSKeys are ALB's limits on the JWKS (150 KB, 10 keys).
	maxJWKS     = 150 << 10
	maxJWKSKeys = 10
	// maxBearer bounds the token looked at.
	maxBearer = 16 << 10
	// jwtLeeway tolerates clock skew on exp, nbf and iat.
	jwtLeeway = time.Minute
)

// jwtAlgorithms are the signature algorithms accepted: ALB's RS256, and the
// other asymmetric ones (an extension).
var jwtAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

type jwtAction struct {
	s      *Service
	c      config.JWTValidationConfig
	keys   *jwksCache
	claims []config.JWTClaim
}

func (s *Service) newJWT(c config.JWTValidationConfig) *jwtAction {
	s.mu.Lock()
	k := s.jwks[c.JWKSEndpoint]
	if k == nil {
		k = &jwksCache{s: s, url: c.JWKSEndpoint}
		s.jwks[c.JWKSEndpoint] = k
	}
	s.mu.Unlock()
	return &jwtAction{s: s, c: c, keys: k, claims: c.AdditionalClaims}
}

// jwksCache holds one JWKS endpoint's keys.
type jwksCache struct {
	s   *Service
	url string

	set atomic.Pointer[jwksSet]
	// fetches counts the fetches done, so that a request that waited for
	// another's fetch uses its result instead of fetching again.
	fetches atomic.Uint64
	mu      sync.Mutex // one fetch at a time
	// lastUnknown is when a token's unknown key id last caused a fetch.
	lastUnknown time.Time
	fetching    atomic.Bool

	// verified holds the tokens whose signature verified, by token, so that
	// a client that sends the same token again and again (as machines do
	// until it expires) costs a map look-up rather than a signature check.
	// An entry counts only with the key set it was verified against.
	vmu      sync.Mutex
	verified map[string]*verifiedToken
}

// verifiedToken is a token whose signature verified against set's keys, and
// its claims. It is immutable.
type verifiedToken struct {
	set *jwksSet
	std jwt.Claims
	all map[string]any
}

const (
	// maxVerified bounds the verified tokens remembered per JWKS endpoint,
	// and maxVerifiedLen the length of one (longer ones are verified each
	// time): at most 4 MiB of tokens.
	maxVerified    = 1024
	maxVerifiedLen = 4 << 10
)

type jwksSet struct {
	keys    jose.JSONWebKeySet
	fetched time.Time
}

func (j *jwtAction) run(req *Request, res *Result) {
	raw := bearer(header(req.Headers, "Authorization"))
	if len(raw) == 0 {
		j.fail(res, ReasonJWTMissing, "")
		return
	}
	if len(raw) > maxBearer {
		j.fail(res, ReasonJWTMalformed, "token too large")
		return
	}
	now := j.s.now()
	v := j.keys.lookup(raw)
	if v == nil {
		tok := string(raw)
		parsed, err := jwt.ParseSigned(tok, jwtAlgorithms)
		if err != nil || len(parsed.Headers) != 1 {
			j.fail(res, ReasonJWTMalformed, "malformed token")
			return
		}
		kid := parsed.Headers[0].KeyID
		key, set, reason := j.keys.key(req.Ctx, kid, now)
		if reason != "" {
			j.fail(res, reason, "signing keys unavailable")
			return
		}
		if key == nil {
			j.fail(res, ReasonJWTSignature, "unknown signing key")
			return
		}
		v = &verifiedToken{set: set}
		if !verifyToken(parsed, set, key, kid, v) {
			j.fail(res, ReasonJWTSignature, "invalid signature")
			return
		}
		j.keys.remember(tok, v, now)
	}
	std := &v.std
	all := v.all
	if std.Issuer != j.c.Issuer {
		j.fail(res, ReasonJWTIssuer, "invalid issuer")
		return
	}
	if std.Expiry == nil {
		j.fail(res, ReasonJWTExpired, "no expiry")
		return
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Time: now}, jwtLeeway); err != nil {
		j.fail(res, ReasonJWTExpired, "token expired or not yet valid")
		return
	}
	for _, c := range j.claims {
		if !claimMatches(all[c.Name], c) {
			j.fail(res, ReasonJWTClaim, "claim "+c.Name+" not accepted")
			return
		}
	}
}

// fail answers 401 with the challenge of RFC 6750 §3.
func (j *jwtAction) fail(res *Result, reason, desc string) {
	res.answer(401, reason)
	if reason == ReasonJWTMissing {
		res.header("WWW-Authenticate", "Bearer")
		return
	}
	res.header("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+desc+`"`)
}

// verifyToken checks the token's signature with key and reads its claims
// into v. A token that names no key id may be signed by any signing key of
// the set: each is tried.
func verifyToken(parsed *jwt.JSONWebToken, set *jwksSet, key *jose.JSONWebKey, kid string, v *verifiedToken) bool {
	if parsed.Claims(key.Key, &v.std, &v.all) == nil {
		return true
	}
	if kid != "" {
		return false
	}
	for i := range set.keys.Keys {
		k := &set.keys.Keys[i]
		if k == key || k.Use == "enc" || !k.Valid() {
			continue
		}
		v.std, v.all = jwt.Claims{}, nil
		if parsed.Claims(k.Key, &v.std, &v.all) == nil {
			return true
		}
	}
	return false
}

// bearer returns the token of an Authorization: Bearer header (a slice of
// v), or nil.
func bearer(v []byte) []byte {
	const p = "bearer "
	if len(v) <= len(p) || !http1.EqualFold(v[:len(p)], p) {
		return nil
	}
	return bytes.TrimSpace(v[len(p):])
}

// lookup returns the verified token raw, if it was verified against the
// keys in use now.
func (k *jwksCache) lookup(raw []byte) *verifiedToken {
	k.vmu.Lock()
	v := k.verified[string(raw)]
	k.vmu.Unlock()
	if v == nil || v.set != k.set.Load() {
		return nil
	}
	return v
}

// remember keeps a verified token for lookup until it expires. When the
// cache is full, the expired tokens go, or all of them if none has expired.
func (k *jwksCache) remember(tok string, v *verifiedToken, now time.Time) {
	if len(tok) > maxVerifiedLen || v.std.Expiry == nil {
		return
	}
	k.vmu.Lock()
	defer k.vmu.Unlock()
	if k.verified == nil {
		k.verified = map[string]*verifiedToken{}
	}
	if len(k.verified) >= maxVerified {
		for t, e := range k.verified {
			if e.set != k.set.Load() || now.After(e.std.Expiry.Time().Add(jwtLeeway)) {
				delete(k.verified, t)
			}
		}
		if len(k.verified) >= maxVerified {
			clear(k.verified)
		}
	}
	k.verified[tok] = v
}

// claimMatches reports whether a claim's value is one the action accepts.
func claimMatches(v any, c config.JWTClaim) bool {
	switch c.Format {
	case config.ClaimSingleString:
		s, ok := v.(string)
		return ok && slices.Contains(c.Values, s)
	case config.ClaimSpaceSeparatedValues:
		s, ok := v.(string)
		if !ok {
			return false
		}
		for _, w := range strings.Fields(s) {
			if slices.Contains(c.Values, w) {
				return true
			}
		}
	case config.ClaimStringArray:
		list, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range list {
			if s, ok := e.(string); ok && slices.Contains(c.Values, s) {
				return true
			}
		}
	}
	return false
}

// key returns the key with id kid: from the cache, refreshed in the
// background when stale, fetched now when there is none or kid is unknown.
// reason is set when no keys could be had at all (fail closed).
func (k *jwksCache) key(ctx context.Context, kid string, now time.Time) (*jose.JSONWebKey, *jwksSet, string) {
	set := k.set.Load()
	if set != nil {
		if now.Sub(set.fetched) > jwksMaxAge && k.fetching.CompareAndSwap(false, true) {
			go func() {
				defer k.fetching.Store(false)
				fctx, cancel := context.WithTimeout(context.Background(), DefaultIdPTimeout)
				defer cancel()
				k.refresh(fctx, now, false)
			}()
		}
		if key := find(set, kid); key != nil {
			return key, set, ""
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	set = k.refresh(ctx, now, set != nil)
	if set == nil {
		return nil, nil, ReasonJWKSUnavailble
	}
	return find(set, kid), set, ""
}

func find(set *jwksSet, kid string) *jose.JSONWebKey {
	for i := range set.keys.Keys {
		key := &set.keys.Keys[i]
		if (kid == "" || key.KeyID == kid) && key.Use != "enc" && key.Valid() {
			return key
		}
	}
	return nil
}

// refresh fetches the keys and returns the set to use. A fetch that
// finished while this one waited for it stands for this one. unknownKID
// marks a fetch for a key id the cached keys lack: the first one fetches at
// once (a key rotation), later ones at most every jwksMinRefresh, so tokens
// naming made-up key ids cannot make the load balancer hammer the endpoint.
func (k *jwksCache) refresh(ctx context.Context, now time.Time, unknownKID bool) *jwksSet {
	seen := k.fetches.Load()
	k.mu.Lock()
	defer k.mu.Unlock()
	cur := k.set.Load()
	if k.fetches.Load() != seen {
		return cur
	}
	if unknownKID {
		if cur != nil && !k.lastUnknown.IsZero() && now.Sub(k.lastUnknown) < jwksMinRefresh {
			return cur
		}
		k.lastUnknown = now
	}
	set, err := k.fetch(ctx, now)
	k.fetches.Add(1)
	if err != nil {
		k.s.log.Warn("jwt-validation: cannot fetch the JWKS; tokens are refused until it can be", "jwks_endpoint", k.url, "err", err)
		return cur // the keys fetched before, if any, still verify
	}
	k.set.Store(set)
	return set
}

func (k *jwksCache) fetch(ctx context.Context, now time.Time) (*jwksSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKS {
		return nil, fmt.Errorf("JWKS over %d bytes", maxJWKS)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("JWKS has no keys")
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("JWKS has %d keys, over %d", len(set.Keys), maxJWKSKeys)
	}
	return &jwksSet{keys: set, fetched: now}, nil
}
