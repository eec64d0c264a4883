package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/albatross-lb/albatross/internal/http1"
)

// The session cookie: a session's claims and tokens, sealed with AES-GCM
// under the key every node derives from the cluster's shared secret, bound
// to the action (its id is the additional data, so a session of one
// identity provider is never one of another), base64url-encoded and split
// into NAME-0, NAME-1, ... cookies of at most shardSize bytes, as ALB does.

const (
	// shardSize is the largest value of one session cookie shard.
	shardSize = 4000
	// maxShards bounds how many shards a session uses (ALB's 16 KB).
	maxShards = 4
	// cookieLifetime is how long the session cookies live in the browser;
	// the session timeout is inside the value.
	cookieLifetime = 7 * 24 * time.Hour
	// maxClaims is ALB's limit on the user claims plus the access token.
	maxClaims = 11 << 10
)

// session is what a session cookie carries.
type session struct {
	ID      []byte          `json:"i"`
	Subject string          `json:"s"`
	Claims  json.RawMessage `json:"c"`
	Access  string          `json:"a"`
	Refresh string          `json:"r,omitempty"`
	// AccessExpires is when the access token expires (Unix seconds; 0:
	// unknown), after which a refresh token renews the session.
	AccessExpires int64 `json:"ae,omitempty"`
	// Expires is the end of the session (session_timeout after login).
	Expires int64 `json:"e"`
}

var errBadCookie = errors.New("session cookie cannot be read")

// seal encodes and encrypts a session for the action with id.
func (s *Service) seal(id []byte, sess *session) (string, error) {
	plain, err := json.Marshal(sess)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	sealed := s.aead.Seal(nonce, nonce, plain, id)
	return base64.RawURLEncoding.EncodeToString(sealed), nil
}

// openBuf is the scratch space of opening a session cookie.
type openBuf struct {
	joined, raw, plain []byte
}

var openBufs = sync.Pool{New: func() any { return new(openBuf) }}

// sessionCookie reads the session cookie shards name-0, name-1, ... of a
// request; nil when the request has none.
func sessionCookie(headers []http1.Header, names *[maxShards]string, buf []byte) []byte {
	buf = buf[:0]
	for i := range maxShards {
		v := http1.CookieValue(headers, names[i])
		if v == nil {
			break
		}
		buf = append(buf, v...)
	}
	return buf
}

var shardNames = [maxShards]string{"-0", "-1", "-2", "-3"}

// cachedSession is a session whose cookie was opened before, with the
// x-amzn-oidc-data signed for it.
type cachedSession struct {
	sess    *session
	data    string
	dataExp time.Time
}

// dataCache maps an issued cookie (its nonce: random, and authenticated by
// AES-GCM, so a cookie that opens with a nonce is the one issued with it)
// to its session, so that a request with a known cookie skips decoding it
// and signing x-amzn-oidc-data again. Sharded, each shard bounded.
type dataCache struct {
	shards [16]dataShard
}

type dataShard struct {
	mu sync.Mutex
	m  map[[12]byte]*cachedSession
}

const maxCachedPerShard = 4096

func (c *dataCache) get(nonce []byte) *cachedSession {
	var k [12]byte
	copy(k[:], nonce)
	sh := &c.shards[k[0]&15]
	sh.mu.Lock()
	e := sh.m[k]
	sh.mu.Unlock()
	return e
}

func (c *dataCache) put(nonce []byte, e *cachedSession) {
	var k [12]byte
	copy(k[:], nonce)
	sh := &c.shards[k[0]&15]
	sh.mu.Lock()
	if sh.m == nil || len(sh.m) >= maxCachedPerShard {
		sh.m = make(map[[12]byte]*cachedSession)
	}
	sh.m[k] = e
	sh.mu.Unlock()
}

// open decrypts a session cookie value for the action with id. It returns
// the cookie's nonce too, the key of the data cache.
func (s *Service) open(id, value []byte, b *openBuf) (*session, []byte, error) {
	n := base64.RawURLEncoding.DecodedLen(len(value))
	if cap(b.raw) < n {
		b.raw = make([]byte, n)
	}
	raw := b.raw[:n]
	if _, err := base64.RawURLEncoding.Decode(raw, value); err != nil {
		return nil, nil, errBadCookie
	}
	ns := s.aead.NonceSize()
	if len(raw) < ns+s.aead.Overhead() {
		return nil, nil, errBadCookie
	}
	plain, err := s.aead.Open(b.plain[:0], raw[:ns], raw[ns:], id)
	if err != nil {
		return nil, nil, errBadCookie
	}
	b.plain = plain
	nonce := raw[:ns]
	if e := s.data.get(nonce); e != nil {
		return e.sess, nonce, nil
	}
	sess := new(session)
	if err := json.Unmarshal(plain, sess); err != nil || sess.Subject == "" {
		return nil, nil, errBadCookie
	}
	return sess, nonce, nil
}

// appendSessionCookies adds the Set-Cookie lines of a sealed session to r,
// and deletes the shards it does not use that the request carried.
func appendSessionCookies(r *Result, names *[maxShards]string, value string, had int, now time.Time) error {
	shards := (len(value) + shardSize - 1) / shardSize
	if shards > maxShards {
		return fmt.Errorf("session of %d bytes is over the %d cookies of %d bytes", len(value), maxShards, shardSize)
	}
	for i := range shards {
		end := min(len(value), (i+1)*shardSize)
		r.setCookie(names[i], value[i*shardSize:end], now.Add(cookieLifetime), 0)
	}
	for i := shards; i < had; i++ {
		r.setCookie(names[i], "", time.Time{}, -1)
	}
	return nil
}

// countShards counts the session cookie shards a request carries.
func countShards(headers []http1.Header, names *[maxShards]string) int {
	n := 0
	for n < maxShards && http1.CookieValue(headers, names[n]) != nil {
		n++
	}
	return n
}

// state is what the state parameter of a login carries, sealed like a
// session: which action started it, the nonce sent to the identity
// provider, the URL to return to, when the login window ends, and the
// binding to the browser's nonce cookie.
type state struct {
	Action []byte `json:"a"`
	Nonce  string `json:"n"`
	URL    string `json:"u"`
	Until  int64  `json:"t"`
	Bind   string `json:"b"`
}

// stateAAD is the additional data of sealed states, so that a session
// cookie never passes for a state or the other way round.
var stateAAD = []byte("albatross auth state")

func (s *Service) sealState(st *state) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, stateAAD)), nil
}

func (s *Service) openState(v string) (*state, []byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	ns := s.aead.NonceSize()
	if err != nil || len(raw) < ns+s.aead.Overhead() {
		return nil, nil, errors.New("state cannot be read")
	}
	plain, err := s.aead.Open(nil, raw[:ns], raw[ns:], stateAAD)
	if err != nil {
		return nil, nil, errors.New("state cannot be read")
	}
	st := new(state)
	if err := json.Unmarshal(plain, st); err != nil {
		return nil, nil, errors.New("state cannot be read")
	}
	return st, raw[:ns], nil
}

// stateGuard remembers the states this node accepted until their login
// window ends, so that a state (and the code with it) is used once.
type stateGuard struct {
	mu   sync.Mutex
	used map[[12]byte]int64
}

const maxGuardedStates = 1 << 16

// use records a state's nonce; false when it was used already.
func (g *stateGuard) use(nonce []byte, until, now int64) bool {
	var k [12]byte
	copy(k[:], nonce)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.used == nil {
		g.used = map[[12]byte]int64{}
	}
	if _, ok := g.used[k]; ok {
		return false
	}
	if len(g.used) >= maxGuardedStates {
		for key, t := range g.used {
			if t < now {
				delete(g.used, key)
			}
		}
	}
	g.used[k] = until
	return true
}

// refreshGuard makes one refresh per session cookie: the requests that
// carry the same expired cookie while it is renewed wait for the first
// one's refresh and share its result, and those that come within
// refreshShared after it get the renewed session too (the browser may
// still send the old cookie on requests it started before the new one
// arrived).
type refreshGuard struct {
	mu sync.Mutex
	m  map[[12]byte]*refreshCall
}

// refreshShared is how long a renewed session is given to requests with
// the cookie it replaced.
const refreshShared = time.Minute

// maxRefreshes bounds the refreshes remembered.
const maxRefreshes = 1 << 14

// refreshCall is one refresh: done is closed when it ended, with sess,
// sealed and data set on success and reason on failure.
type refreshCall struct {
	done   chan struct{}
	until  time.Time
	sess   *session
	sealed string
	data   string
	reason string
}

// start returns the refresh of the cookie with nonce, and whether the
// caller is to make it (then it calls finish).
func (g *refreshGuard) start(nonce []byte, now time.Time) (*refreshCall, bool) {
	var k [12]byte
	copy(k[:], nonce)
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.m[k]; c != nil && (!isClosed(c.done) || now.Before(c.until)) {
		return c, false
	}
	if g.m == nil {
		g.m = map[[12]byte]*refreshCall{}
	}
	c := &refreshCall{done: make(chan struct{})}
	g.m[k] = c
	return c, true
}

// finish ends a refresh made by the caller of start: a failed one is
// forgotten (the next request tries again), a renewed session is shared
// for refreshShared.
func (g *refreshGuard) finish(nonce []byte, c *refreshCall, now time.Time) {
	var k [12]byte
	copy(k[:], nonce)
	g.mu.Lock()
	defer g.mu.Unlock()
	c.until = now.Add(refreshShared)
	close(c.done)
	if c.sess == nil {
		delete(g.m, k)
	}
	if len(g.m) > maxRefreshes {
		for key, old := range g.m {
			if isClosed(old.done) && old.until.Before(now) {
				delete(g.m, key)
			}
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// actionID identifies an action across snapshots and nodes: a digest of
// what makes its sessions its own.
func actionID(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return digest(b)[:16]
}

// itoa formats a Unix time for JSON.
func itoa(v int64) string { return strconv.FormatInt(v, 10) }
