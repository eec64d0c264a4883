// Package auth runs ALB's authentication actions for the proxy:
// authenticate-oidc (and authenticate-cognito, run as OIDC against the user
// pool), with ALB's login flow, session cookie and x-amzn-oidc-* headers, and
// jwt-validation, which checks a bearer token against a JWKS.
//
// A Service holds what outlives a configuration snapshot: the keys (derived
// from the key the cluster shares for stickiness cookies, so every node
// reads every node's sessions and signs with the same key), the JWKS caches
// and the HTTP client that talks to identity providers. Compile turns a
// configured action into an *Action the proxy runs with Run; the proxy
// calls into this package only for requests whose rule has such an action.
package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
)

// Options configure a Service.
type Options struct {
	// Key is the secret the cluster's nodes share (the stickiness cookie
	// key); the session cookie key and the x-amzn-oidc-data signing key are
	// derived from it. At least 32 bytes.
	Key []byte
	// AllowInsecureIdP lets actions talk to identity providers over plain
	// http on 127.0.0.1 or [::1] (serve --allow-insecure-idp), for tests and
	// labs; without it such actions fail to compile.
	AllowInsecureIdP bool
	// Client talks to identity providers and JWKS endpoints (nil: a client
	// with DefaultIdPTimeout).
	Client *http.Client
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultIdPTimeout bounds each call to an identity provider's token,
// user info or JWKS endpoint.
const DefaultIdPTimeout = 5 * time.Second

// Service is the shared state of authentication actions.
type Service struct {
	aead          cipher.AEAD
	sign          *ecdsa.PrivateKey
	kid           string
	pubPEM        []byte
	client        *http.Client
	allowInsecure bool
	now           func() time.Time
	log           *slog.Logger

	mu   sync.Mutex
	jwks map[string]*jwksCache // by endpoint URL

	data      dataCache    // signed x-amzn-oidc-data by session
	states    stateGuard   // states already used
	refreshes refreshGuard // sessions being (or just) renewed
}

// NewService returns a Service with keys derived from opts.Key.
func NewService(opts Options) (*Service, error) {
	if len(opts.Key) < 32 {
		return nil, fmt.Errorf("auth: key: want at least 32 bytes, got %d", len(opts.Key))
	}
	s := &Service{
		client:        opts.Client,
		allowInsecure: opts.AllowInsecureIdP,
		now:           opts.Now,
		log:           opts.Logger,
		jwks:          map[string]*jwksCache{},
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: DefaultIdPTimeout}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	sessionKey, err := hkdf.Key(sha256.New, opts.Key, nil, "albatross auth session cookie", 32)
	if err != nil {
		return nil, fmt.Errorf("auth: session key: %w", err)
	}
	block, err := aes.NewCipher(sessionKey)
	if err != nil {
		return nil, fmt.Errorf("auth: session key: %w", err)
	}
	if s.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("auth: session key: %w", err)
	}
	if s.sign, err = signingKey(opts.Key); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&s.sign.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("auth: signing key: %w", err)
	}
	s.pubPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	sum := sha256.Sum256(der)
	// A key id in the form of ALB's (a UUID).
	s.kid = fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	return s, nil
}

// signingKey derives the P-256 key that signs x-amzn-oidc-data from the
// shared secret, so that every node of a cluster signs with the same key
// and a target verifies with one public key.
func signingKey(secret []byte) (*ecdsa.PrivateKey, error) {
	n := elliptic.P256().Params().N
	for i := byte(0); i < 16; i++ {
		d, err := hkdf.Key(sha256.New, secret, []byte{i}, "albatross x-amzn-oidc-data signing key", 32)
		if err != nil {
			return nil, fmt.Errorf("auth: signing key: %w", err)
		}
		k := new(big.Int).SetBytes(d)
		if k.Sign() == 0 || k.Cmp(n) >= 0 {
			continue // outside the scalar field: derive again
		}
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
		if err != nil {
			return nil, fmt.Errorf("auth: signing key: %w", err)
		}
		return key, nil
	}
	return nil, errors.New("auth: signing key: no valid scalar derived")
}

// KeyID is the kid of the key that signs x-amzn-oidc-data.
func (s *Service) KeyID() string { return s.kid }

// PublicKeyPEM returns the PEM public key whose id is kid, as ALB's
// public-keys endpoint (https://public-keys.auth.elb.REGION.amazonaws.com/KID)
// serves it; false when kid is not this service's.
func (s *Service) PublicKeyPEM(kid string) ([]byte, bool) {
	if kid != s.kid {
		return nil, false
	}
	return s.pubPEM, true
}

// Action is a compiled authentication action.
type Action struct {
	// Type is the action type, authenticate-oidc, authenticate-cognito or
	// jwt-validation.
	Type string
	// Logged is the access log's actions_executed name: authenticate or
	// jwt-validation.
	Logged string
	oidc   *oidcAction
	jwt    *jwtAction
}

// Site is where an action runs: the load balancer whose ARN signs
// x-amzn-oidc-data.
type Site struct {
	LoadBalancerARN string
}

// Compile compiles an authentication action. It fails on an http identity
// provider URL unless the service allows insecure ones.
func (s *Service) Compile(a config.Action, site Site) (*Action, error) {
	if urls := a.InsecureIdPURLs(); len(urls) > 0 && !s.allowInsecure {
		return nil, fmt.Errorf("%s action: %s is not https; http on 127.0.0.1 is only allowed with serve --allow-insecure-idp", a.Type, urls[0])
	}
	switch a.Type {
	case config.ActionAuthenticateOIDC, config.ActionAuthenticateCognito:
		var c config.AuthenticateOIDCConfig
		if a.AuthenticateOIDC != nil {
			c = *a.AuthenticateOIDC
		} else if a.AuthenticateCognito != nil {
			c = config.CognitoOIDC(a.AuthenticateCognito)
		} else {
			return nil, fmt.Errorf("%s action without its configuration", a.Type)
		}
		return &Action{Type: a.Type, Logged: "authenticate", oidc: s.newOIDC(config.OIDCDefaults(c), site)}, nil
	case config.ActionJWTValidation:
		if a.JWTValidation == nil {
			return nil, errors.New("jwt-validation action without its configuration")
		}
		return &Action{Type: a.Type, Logged: "jwt-validation", jwt: s.newJWT(*a.JWTValidation)}, nil
	}
	return nil, fmt.Errorf("action type %q is not an authentication action", a.Type)
}

// OIDC reports whether the action runs the OIDC login flow (and so answers
// the callback path).
func (a *Action) OIDC() bool { return a.oidc != nil }

// CallbackPath is the path of the identity provider's redirect back to the
// load balancer, as ALB's.
const CallbackPath = "/oauth2/idpresponse"
