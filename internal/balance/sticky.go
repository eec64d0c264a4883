package balance

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Cookie names ALB uses for stickiness (alb-data-plane.md §4.2).
const (
	// CookieLB and CookieLBCORS carry duration-based target stickiness
	// (stickiness.type lb_cookie); the CORS twin adds SameSite=None; Secure.
	CookieLB     = "AWSALB"
	CookieLBCORS = "AWSALBCORS"
	// CookieTG and CookieTGCORS carry target group stickiness of a forward
	// action with several target groups.
	CookieTG     = "AWSALBTG"
	CookieTGCORS = "AWSALBTGCORS"
	// CookieApp carries application-based stickiness (stickiness.type
	// app_cookie), beside the application's own cookie.
	CookieApp = "AWSALBAPP-0"
)

// CookieLifetime is the Expires of every stickiness cookie, whatever the
// stickiness duration: ALB's cookies always live 7 days and carry the
// duration inside their value.
const CookieLifetime = 7 * 24 * time.Hour

// KeySize is the length of a Codec key (AES-256).
const KeySize = 32

// Sticky is what a stickiness cookie says: the target group it was issued for,
// the target (zero for target group stickiness) and when stickiness ends.
type Sticky struct {
	Group  [8]byte
	Target netip.AddrPort
	Until  time.Time
}

const (
	cookieVersion = 1
	plainLen      = 1 + 8 + 8 + 16 + 2
	nonceLen      = 12
	sealedLen     = nonceLen + plainLen + 16
)

// CookieValueLen is the length of every cookie value a Codec writes.
var CookieValueLen = base64.StdEncoding.EncodedLen(sealedLen)

// Scratch is working space for a Codec, so that encoding and decoding allocate
// nothing; keep one per connection.
type Scratch struct {
	plain  [plainLen]byte
	sealed [sealedLen]byte
}

// Codec writes and reads stickiness cookie values. Values are encrypted and
// authenticated (AES-GCM), as ALB's are, so a client can neither read which
// target it is bound to nor forge a binding. Safe for concurrent use.
type Codec struct {
	aead cipher.AEAD
}

// NewCodec returns a codec with a KeySize-byte key. Nodes that share a key
// understand each other's cookies.
func NewCodec(key []byte) (*Codec, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("stickiness key: want %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("stickiness key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("stickiness key: %w", err)
	}
	return &Codec{aead: aead}, nil
}

// Append appends the cookie value for s (CookieValueLen bytes of standard
// base64) to dst.
func (c *Codec) Append(dst []byte, s *Sticky, sc *Scratch) []byte {
	p := sc.plain[:]
	p[0] = cookieVersion
	binary.BigEndian.PutUint64(p[1:9], uint64(s.Until.Unix()))
	copy(p[9:17], s.Group[:])
	a := s.Target.Addr().As16()
	copy(p[17:33], a[:])
	binary.BigEndian.PutUint16(p[33:35], s.Target.Port())
	nonce := sc.sealed[:nonceLen]
	binary.LittleEndian.PutUint64(nonce[0:8], rand.Uint64())
	binary.LittleEndian.PutUint32(nonce[8:12], rand.Uint32())
	sealed := c.aead.Seal(sc.sealed[nonceLen:nonceLen], nonce, p, nil)
	return base64.StdEncoding.AppendEncode(dst, sc.sealed[:nonceLen+len(sealed)])
}

// Open reads a cookie value. ok is false when the value is not one this codec
// (with this key) wrote: malformed, URL-encoded, tampered with or from another
// key.
func (c *Codec) Open(v []byte, sc *Scratch) (s Sticky, ok bool) {
	if len(v) != CookieValueLen {
		return s, false
	}
	n, err := base64.StdEncoding.Decode(sc.sealed[:], v)
	if err != nil || n != sealedLen {
		return s, false
	}
	p, err := c.aead.Open(sc.plain[:0], sc.sealed[:nonceLen], sc.sealed[nonceLen:], nil)
	if err != nil || len(p) != plainLen || p[0] != cookieVersion {
		return s, false
	}
	s.Until = time.Unix(int64(binary.BigEndian.Uint64(p[1:9])), 0)
	copy(s.Group[:], p[9:17])
	var a [16]byte
	copy(a[:], p[17:33])
	s.Target = netip.AddrPortFrom(netip.AddrFrom16(a).Unmap(), binary.BigEndian.Uint16(p[33:35]))
	return s, true
}
