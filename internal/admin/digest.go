package admin

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net/http"
	"strings"
	"time"
)

// The dashboard on an admin address that is not loopback asks for the ELBv2
// API's credentials: user name the access key id, password the secret access
// key. It uses HTTP Digest authentication (RFC 7616), which every browser and
// curl --digest speak, and not Basic: the admin server is plain HTTP, and
// Basic would send the secret key, the one that signs API calls, in the clear.
// Digest sends a hash bound to a server nonce instead.

// digestRealm is the protection space browsers show.
const digestRealm = "Albatross admin"

// nonceLifetime is how long a nonce is accepted; a browser that presents an
// older one is told stale=true and retries without asking the user again.
const nonceLifetime = 5 * time.Minute

// digestAuth checks requests against the API credentials.
type digestAuth struct {
	secret func(keyID string) (string, bool)
	key    []byte // signs nonces; new at every start
	now    func() time.Time
}

func newDigestAuth(secret func(string) (string, bool), now func() time.Time) *digestAuth {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if now == nil {
		now = time.Now
	}
	return &digestAuth{secret: secret, key: key, now: now}
}

// nonce returns a nonce for now: the time and an HMAC of it, so that any
// nonce this server issued can be checked without keeping state.
func (a *digestAuth) nonce(t time.Time) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.Unix()))
	m := hmac.New(sha256.New, a.key)
	m.Write(b[:8])
	copy(b[8:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// nonceState reports whether nonce is one of ours, and whether it expired.
func (a *digestAuth) nonceState(nonce string) (valid, stale bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return false, false
	}
	t := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if !hmac.Equal([]byte(a.nonce(t)), []byte(nonce)) {
		return false, false
	}
	return true, a.now().Sub(t) > nonceLifetime
}

// challenge answers 401 with a Digest challenge for each algorithm, the
// stronger first.
func (a *digestAuth) challenge(w http.ResponseWriter, stale bool) {
	n := a.nonce(a.now())
	for _, alg := range []string{"SHA-256", "MD5"} {
		v := `Digest realm="` + digestRealm + `", qop="auth", algorithm=` + alg + `, nonce="` + n + `"`
		if stale {
			v += ", stale=true"
		}
		w.Header().Add("WWW-Authenticate", v)
	}
	http.Error(w, "the dashboard on this admin address needs the ELBv2 API credentials: user name the access key id, password the secret access key (HTTP Digest authentication)", http.StatusUnauthorized)
}

// check reports whether r carries a valid Digest response; stale is set when
// the only problem is an expired nonce.
func (a *digestAuth) check(r *http.Request) (ok, stale bool) {
	h, found := strings.CutPrefix(r.Header.Get("Authorization"), "Digest ")
	if !found {
		return false, false
	}
	p := parseDigestParams(h)
	var newHash func() hash.Hash
	switch p["algorithm"] {
	case "SHA-256":
		newHash = sha256.New
	case "MD5", "":
		newHash = md5.New
	default:
		return false, false
	}
	if p["realm"] != digestRealm || p["qop"] != "auth" || p["uri"] != r.RequestURI || p["nc"] == "" || p["cnonce"] == "" {
		return false, false
	}
	valid, expired := a.nonceState(p["nonce"])
	if !valid {
		return false, false
	}
	secret, known := a.secret(p["username"])
	if !known {
		return false, false
	}
	hx := func(s string) string {
		h := newHash()
		h.Write([]byte(s))
		return hex.EncodeToString(h.Sum(nil))
	}
	ha1 := hx(p["username"] + ":" + digestRealm + ":" + secret)
	ha2 := hx(r.Method + ":" + p["uri"])
	want := hx(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(p["response"]))) != 1 {
		return false, false
	}
	if expired {
		return false, true
	}
	return true, false
}

// parseDigestParams splits `k=v, k="quoted, v"` pairs.
func parseDigestParams(s string) map[string]string {
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimSpace(s[eq+1:])
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			val = b.String()
			s = s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val = strings.TrimSpace(s[:end])
			s = s[end:]
		}
		out[key] = val
		s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), ","))
	}
	return out
}
