package tlsconf

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Cert is one certificate of a listener, loaded from PEM files.
type Cert struct {
	// ARN is the certificate's ARN, logged as chosen_cert_arn.
	ARN string
	// Names are the DNS names the certificate serves, lowercased: its DNS
	// subject alternative names, or its common name when it has none.
	Names []string
	// TLS is the certificate chain and key.
	TLS *tls.Certificate
}

// LoadCert reads a PEM certificate chain and its PEM private key. arn may be
// empty: the certificate then gets an ACM-style ARN derived from its content
// (region and account as in the rest of the configuration), so that the same
// file always logs the same ARN.
func LoadCert(certFile, keyFile, arn, region, account string) (*Cert, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("certificate key: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", certFile, err)
		}
		pair.Leaf = leaf
	}
	c := &Cert{ARN: arn, TLS: &pair}
	for _, n := range leaf.DNSNames {
		c.Names = append(c.Names, strings.ToLower(n))
	}
	if len(c.Names) == 0 && leaf.Subject.CommonName != "" {
		c.Names = []string{strings.ToLower(leaf.Subject.CommonName)}
	}
	if c.ARN == "" {
		c.ARN = CertificateARN(region, account, pair.Certificate[0])
	}
	return c, nil
}

// CertificateARN returns the ACM-style ARN Albatross gives a certificate
// configured without one: arn:aws:acm:REGION:ACCOUNT:certificate/UUID, the UUID
// taken from a SHA-256 of the certificate's DER form.
func CertificateARN(region, account string, der []byte) string {
	sum := sha256.Sum256(der)
	h := hex.EncodeToString(sum[:16])
	return "arn:aws:acm:" + region + ":" + account + ":certificate/" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Listener is the compiled TLS side of one HTTPS listener. It is immutable; a
// configuration change compiles a new one, and connections that already
// completed their handshake keep the certificate they got.
type Listener struct {
	// Policy is the listener's security policy.
	Policy *Policy
	// Certs are the listener's certificates; Certs[0] is the default.
	Certs []*Cert

	// MTLS is the listener's mutual TLS setting; nil when its mode is off.
	MTLS *MutualAuth

	exact    map[string][]int // name → indexes into Certs
	wildcard map[string][]int // "example.com" for "*.example.com" → indexes
	base     *tls.Config
}

// NewListener compiles a listener's TLS settings. certs must not be empty; the
// first is the default certificate. With http2, ALPN offers h2 before
// http/1.1.
func NewListener(p *Policy, certs []*Cert, http2 bool) (*Listener, error) {
	return NewMutualListener(p, certs, http2, nil)
}

// NewMutualListener is NewListener with mutual TLS: mtls is the listener's
// mutual authentication (nil: off).
func NewMutualListener(p *Policy, certs []*Cert, http2 bool, mtls *MutualAuth) (*Listener, error) {
	if len(certs) == 0 {
		return nil, errors.New("an HTTPS listener needs at least one certificate")
	}
	if mtls != nil && mtls.Mode == ModeVerify && mtls.Store == nil {
		return nil, errors.New("mutual authentication mode verify needs a trust store")
	}
	l := &Listener{Policy: p, Certs: certs, MTLS: mtls, exact: map[string][]int{}, wildcard: map[string][]int{}}
	for i, c := range certs {
		for _, n := range c.Names {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				l.wildcard[rest] = append(l.wildcard[rest], i)
			} else {
				l.exact[n] = append(l.exact[n], i)
			}
		}
	}
	l.base = &tls.Config{
		MinVersion:       p.MinVersion,
		MaxVersion:       p.MaxVersion,
		CipherSuites:     p.Suites,
		CurvePreferences: p.Curves,
		NextProtos:       []string{"http/1.1"},
	}
	if http2 {
		l.base.NextProtos = []string{"h2", "http/1.1"}
	}
	if mtls != nil {
		// The certificate is asked for, never checked by crypto/tls: the
		// handshake's VerifyConnection judges it (see Handshake), so that
		// the failure reason is known and expiry can be ignored.
		l.base.ClientAuth = tls.RequestClientCert
		if mtls.Mode == ModeVerify && mtls.AdvertiseCANames {
			l.base.ClientCAs = mtls.Store.pool
		}
	}
	// Session tickets: one key per compiled listener, shared by the per-
	// connection copies of base (they would otherwise each make their own and
	// no session could resume).
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	l.base.SetSessionTicketKeys([][32]byte{key})
	return l, nil
}

// choose returns the certificate for a ClientHello as ALB picks it: a
// certificate whose name equals the SNI name, else one whose wildcard covers
// it, else the default; among several candidates the first the client can use.
// matched reports whether the SNI name selected the certificate.
func (l *Listener) choose(hello *tls.ClientHelloInfo) (i int, matched bool) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" {
		return 0, false
	}
	pick := func(cands []int) (int, bool) {
		for _, i := range cands {
			if hello.SupportsCertificate(l.Certs[i].TLS) == nil {
				return i, true
			}
		}
		if len(cands) > 0 {
			return cands[0], true
		}
		return 0, false
	}
	if i, ok := pick(l.exact[name]); ok {
		return i, true
	}
	if dot := strings.IndexByte(name, '.'); dot > 0 {
		if i, ok := pick(l.wildcard[name[dot+1:]]); ok {
			return i, true
		}
	}
	return 0, false
}

// Handshake is the TLS state of one client connection: the configuration to
// handshake with and, afterwards, what the access log needs.
type Handshake struct {
	// Config is the server configuration for this connection.
	Config *tls.Config

	l       *Listener
	chosen  int
	matched bool
	// client and reason are the client certificate's description and, when
	// it failed verification, ALB's reason code (mutual TLS only).
	client *ClientCert
	reason string
}

// NewHandshake prepares the handshake of one client connection.
func (l *Listener) NewHandshake() *Handshake {
	h := &Handshake{l: l}
	h.Config = l.base.Clone()
	h.Config.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		h.chosen, h.matched = l.choose(hello)
		return l.Certs[h.chosen].TLS, nil
	}
	if l.MTLS != nil {
		h.Config.VerifyConnection = h.verifyConnection
	}
	return h
}

// verifyConnection judges the client's certificate chain, on full and resumed
// handshakes alike, and records what the logs and the target get.
func (h *Handshake) verifyConnection(cs tls.ConnectionState) error {
	m := h.l.MTLS
	certs := cs.PeerCertificates
	if len(certs) > 0 {
		cc := describeLeaf(certs[0])
		h.client = &cc
	}
	if m.Mode != ModeVerify {
		if h.client != nil {
			ders := make([][]byte, len(certs))
			for i, c := range certs {
				ders[i] = c.Raw
			}
			h.client.Chain = string(urlEncodePEM(nil, ders...))
		}
		return nil
	}
	if r := m.verifyClient(certs, time.Now()); r != "" {
		h.reason = r
		return fmt.Errorf("client certificate: %s", r)
	}
	h.client.Verified = true
	h.client.Leaf = string(urlEncodePEM(nil, certs[0].Raw))
	return nil
}

// ClientCert returns the client certificate's description, nil when the client
// sent none (or the listener has no mutual TLS). After a failed handshake it
// describes the certificate that failed.
func (h *Handshake) ClientCert() *ClientCert { return h.client }

// FailReason returns ALB's reason code for a failed handshake: why the client
// certificate was refused, or UnmappedConnectionError for any other failure.
func (h *Handshake) FailReason() string {
	if h.reason != "" {
		return h.reason
	}
	return ReasonUnmapped
}

// ConnInfo is what the access and connection logs record of a TLS connection.
type ConnInfo struct {
	// Cipher and Protocol are ssl_cipher and ssl_protocol, in OpenSSL names.
	Cipher, Protocol string
	// DomainName is the SNI name when it selected the certificate, else "".
	DomainName string
	// CertARN is the ARN of the certificate presented, or "session-reused".
	CertARN string
	// ALPN is the negotiated application protocol ("h2", "http/1.1" or "").
	ALPN string
	// Client is the client certificate (mutual TLS), nil without one.
	Client *ClientCert
}

// Info describes the connection once its handshake has completed.
func (h *Handshake) Info(cs tls.ConnectionState) ConnInfo {
	ci := ConnInfo{
		Cipher:   CipherName(cs.CipherSuite),
		Protocol: ProtocolName(cs.Version),
		ALPN:     cs.NegotiatedProtocol,
		CertARN:  h.l.Certs[h.chosen].ARN,
		Client:   h.client,
	}
	if cs.DidResume {
		ci.CertARN = "session-reused"
		// The SNI name of a resumed session is the one the ticket was issued
		// for; log it when it names one of the listener's certificates.
		if _, ok := h.l.choose(&tls.ClientHelloInfo{ServerName: cs.ServerName}); ok {
			ci.DomainName = strings.ToLower(cs.ServerName)
		}
		return ci
	}
	if h.matched {
		ci.DomainName = strings.ToLower(strings.TrimSuffix(cs.ServerName, "."))
	}
	return ci
}
