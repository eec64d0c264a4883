// Package testop runs a real OpenID Provider for tests: zitadel/oidc's
// example OP, with its in-memory storage set up to issue JWT access tokens
// to a service user by the client-credentials grant, served on 127.0.0.1
// with its own /keys (JWKS) endpoint. A test can stop and restart it, count
// its JWKS hits, rotate its signing key and have it issue tokens that are
// expired or not yet valid. It is imported by tests only.
package testop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
)

// The service user of zitadel's example storage that may use the
// client-credentials grant.
const (
	ServiceClientID     = "sid1"
	ServiceClientSecret = "verysecret"
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
func (s *jwtStorage) rotate(t testing.TB) string {
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

// OP is a real OpenID Provider (zitadel/oidc's example OP) issuing JWT
// access tokens by the client-credentials grant, and serving its keys at
// its own /keys endpoint, whose hits it counts. It can be stopped and
// started again on the same address.
type OP struct {
	// Issuer is the OP's issuer URL, http://127.0.0.1:PORT; its keys are
	// at Issuer+"/keys", its token endpoint at Issuer+"/oauth/token".
	Issuer string

	t        testing.TB
	addr     string
	storage  *jwtStorage
	handler  http.Handler
	keysHits atomic.Int64

	mu  sync.Mutex
	srv *http.Server
}

func Start(t testing.TB) *OP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	op := &OP{t: t, addr: ln.Addr().String()}
	op.Issuer = "http://" + op.addr
	op.storage = &jwtStorage{Storage: storage.NewStorage(storage.NewUserStore(op.Issuer))}
	op.storage.lifetime.Store(int64(5 * time.Minute))
	router := exampleop.SetupServer(op.Issuer, op.storage, nil, false, zop.WithAllowInsecure())
	op.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			op.keysHits.Add(1)
		}
		router.ServeHTTP(w, r)
	})
	op.serve(ln)
	t.Cleanup(op.Stop)
	return op
}

func (op *OP) serve(ln net.Listener) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.srv = &http.Server{Handler: op.handler}
	go op.srv.Serve(ln)
}

// Stop stops the OP: its port refuses connections.
func (op *OP) Stop() {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.srv != nil {
		op.srv.Close()
		op.srv = nil
	}
}

// Restart serves the OP again on its address.
func (op *OP) Restart() {
	op.t.Helper()
	ln, err := net.Listen("tcp", op.addr)
	if err != nil {
		op.t.Fatal(err)
	}
	op.serve(ln)
}

// Token gets an access token from the OP's token endpoint by the
// client-credentials grant, asking for scope.
func (op *OP) Token(scope string) string {
	op.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {ServiceClientID}, "client_secret": {ServiceClientSecret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	resp, err := http.PostForm(op.Issuer+"/oauth/token", form)
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

// KeysHits is how many requests the OP's /keys endpoint has served.
func (op *OP) KeysHits() int64 { return op.keysHits.Load() }

// Rotate makes a new key the OP's signing key, keeping the old ones in its
// key set, and returns the new key's id.
func (op *OP) Rotate() string { return op.storage.rotate(op.t) }

// SetLifetime sets the lifetime of the access tokens issued from now on
// (negative: issued expired). It starts at five minutes.
func (op *OP) SetLifetime(d time.Duration) { op.storage.lifetime.Store(int64(d)) }

// SetSkew sets the clock skew the OP takes from the iat and nbf of the
// tokens issued from now on (negative: not valid before some time from now).
func (op *OP) SetSkew(d time.Duration) { op.storage.skew.Store(int64(d)) }

// SignWithoutKeyID signs claims with the OP's current signing key, as its
// tokens are, but with no key id in the header: the OP itself always names
// its key, so a test that needs such a token signs it here.
func (op *OP) SignWithoutKeyID(claims map[string]any) string {
	op.t.Helper()
	k, err := op.storage.SigningKey(context.Background())
	if err != nil {
		op.t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: k.SignatureAlgorithm(), Key: k.Key()}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		op.t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		op.t.Fatal(err)
	}
	return tok
}
