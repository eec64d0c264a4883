package tlsconf

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mutual TLS, as ALB does it. A listener's mode is off (no client
// certificate is asked for), passthrough (a certificate is asked for, not
// checked, and the whole chain goes to the target) or verify (the chain must
// lead to a CA of the listener's trust store, through certificates that are
// valid now, not revoked by the store's CRLs, and fit for client
// authentication; otherwise the handshake fails).

// Mutual authentication modes (ALB's MutualAuthentication.Mode).
const (
	ModeOff         = "off"
	ModePassthrough = "passthrough"
	ModeVerify      = "verify"
)

// MaxClientChainDepth is the longest verified client chain accepted, the leaf
// and the trust store's CA included: ALB documents a maximum chain depth, and
// Albatross takes it as four certificates [INF].
const MaxClientChainDepth = 4

// Reasons a client certificate fails verification: ALB's codes, logged in the
// connection log's tls_verify_status as "Failed:" + code.
const (
	ReasonMaxChainDepthExceeded = "ClientCertMaxChainDepthExceeded"
	ReasonCrlHit                = "ClientCertCrlHit"
	ReasonUntrusted             = "ClientCertUntrusted"
	ReasonNotYetValid           = "ClientCertNotYetValid"
	ReasonExpired               = "ClientCertExpired"
	ReasonInvalid               = "ClientCertInvalid"
	ReasonPurposeInvalid        = "ClientCertPurposeInvalid"
	ReasonRejected              = "ClientCertRejected"
	ReasonUnmapped              = "UnmappedConnectionError"
)

// TrustStore is a compiled trust store: its CA certificates and the serial
// numbers its revocation lists revoke. It is immutable.
type TrustStore struct {
	// Name and ARN identify the store.
	Name, ARN string
	// CAs are the bundle's certificates, in bundle order.
	CAs []*x509.Certificate

	pool    *x509.CertPool
	revoked map[string]map[string]struct{} // issuer's raw subject → serial bytes
}

// ParseCABundle parses a trust store's CA certificates bundle: one or more PEM
// CERTIFICATE blocks, each a CA certificate (basic constraints with CA set).
func ParseCABundle(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", n, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", n, err)
		}
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, fmt.Errorf("certificate %d (%s) is not a CA certificate (its basic constraints do not say CA:TRUE)", n, c.Subject)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("text after the last PEM block is not PEM")
	}
	return out, nil
}

// ParseCRL parses a certificate revocation list, PEM (X509 CRL) or DER, and
// checks that one of cas signed it. It returns the list's revoked serials.
func ParseCRL(data []byte, cas []*x509.Certificate) (*x509.RevocationList, error) {
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("the PEM block is a %q, not an X509 CRL", b.Type)
		}
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("not a certificate revocation list: %w", err)
	}
	for _, ca := range cas {
		if bytes.Equal(crl.RawIssuer, ca.RawSubject) && crl.CheckSignatureFrom(ca) == nil {
			return crl, nil
		}
	}
	return nil, fmt.Errorf("the revocation list's issuer (%s) is not a CA of the trust store, or its signature does not verify", crl.Issuer)
}

// NewTrustStore compiles a trust store from its CA bundle (PEM) and its
// revocation lists (each PEM or DER).
func NewTrustStore(name, arn string, bundle []byte, crls [][]byte) (*TrustStore, error) {
	cas, err := ParseCABundle(bundle)
	if err != nil {
		return nil, fmt.Errorf("trust store %q: CA certificates bundle: %w", name, err)
	}
	ts := &TrustStore{Name: name, ARN: arn, CAs: cas, pool: x509.NewCertPool(), revoked: map[string]map[string]struct{}{}}
	for _, c := range cas {
		ts.pool.AddCert(c)
	}
	for i, data := range crls {
		crl, err := ParseCRL(data, cas)
		if err != nil {
			return nil, fmt.Errorf("trust store %q: revocation %d: %w", name, i+1, err)
		}
		set := ts.revoked[string(crl.RawIssuer)]
		if set == nil {
			set = map[string]struct{}{}
			ts.revoked[string(crl.RawIssuer)] = set
		}
		for _, e := range crl.RevokedCertificateEntries {
			set[string(e.SerialNumber.Bytes())] = struct{}{}
		}
	}
	return ts, nil
}

// Revoked reports whether one of the store's CRLs revokes c.
func (ts *TrustStore) Revoked(c *x509.Certificate) bool {
	_, ok := ts.revoked[string(c.RawIssuer)][string(c.SerialNumber.Bytes())]
	return ok
}

// MutualAuth is a listener's mutual TLS setting, compiled.
type MutualAuth struct {
	// Mode is ModePassthrough or ModeVerify (a listener with mode off has no
	// MutualAuth).
	Mode string
	// Store is the trust store of verify mode.
	Store *TrustStore
	// IgnoreExpiry is ignore_client_certificate_expiry: a leaf certificate
	// past its NotAfter is accepted in verify mode.
	IgnoreExpiry bool
	// AdvertiseCANames is advertise_trust_store_ca_names: the store's CA
	// names are sent in the TLS CertificateRequest.
	AdvertiseCANames bool
}

// ClientCert is what the load balancer passes on and logs of the client
// certificate of a connection. The strings are computed once, at the end of the
// handshake.
type ClientCert struct {
	// Subject and Issuer are the leaf's distinguished names in RFC 2253 form;
	// Serial is its serial number in upper-case hex; Validity is
	// "NotBefore=...;NotAfter=..." in ISO 8601 UTC.
	Subject, Issuer, Serial, Validity string
	// Leaf is the leaf certificate as URL-encoded PEM (verify mode's
	// X-Amzn-Mtls-Clientcert-Leaf); Chain is the whole chain presented, leaf
	// first, the same way (passthrough mode's X-Amzn-Mtls-Clientcert).
	Leaf, Chain string
	// Verified is set in verify mode (the verify headers are sent), clear in
	// passthrough mode (the chain header is sent).
	Verified bool
}

// describeLeaf fills the leaf's fields of a ClientCert.
func describeLeaf(leaf *x509.Certificate) ClientCert {
	return ClientCert{
		Subject:  leaf.Subject.String(),
		Issuer:   leaf.Issuer.String(),
		Serial:   strings.ToUpper(hex.EncodeToString(leaf.SerialNumber.Bytes())),
		Validity: "NotBefore=" + leaf.NotBefore.UTC().Format(time.RFC3339) + ";NotAfter=" + leaf.NotAfter.UTC().Format(time.RFC3339),
	}
}

// verifyClient checks a verify-mode client chain (leaf first) at now and
// returns "" or ALB's reason code for the failure.
func (m *MutualAuth) verifyClient(chain []*x509.Certificate, now time.Time) string {
	if len(chain) == 0 {
		return ReasonRejected
	}
	leaf := chain[0]
	if len(chain) >= MaxClientChainDepth+1 {
		return ReasonMaxChainDepthExceeded
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	at := now
	if m.IgnoreExpiry && now.After(leaf.NotAfter) {
		// Judge the chain when the leaf was last valid: the CAs must have
		// been valid then too.
		at = leaf.NotAfter
	}
	opts := x509.VerifyOptions{Roots: m.Store.pool, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return verifyReason(err, leaf, at)
	}
	best := chains[0]
	for _, c := range chains[1:] {
		if len(c) < len(best) {
			best = c
		}
	}
	if len(best) > MaxClientChainDepth {
		return ReasonMaxChainDepthExceeded
	}
	for _, c := range best[:len(best)-1] {
		if m.Store.Revoked(c) {
			return ReasonCrlHit
		}
	}
	return ""
}

// verifyReason maps an x509 verification error to ALB's reason codes.
func verifyReason(err error, leaf *x509.Certificate, at time.Time) string {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return ReasonUntrusted
	case errors.As(err, &ci):
		switch ci.Reason {
		case x509.Expired:
			if at.Before(leaf.NotBefore) {
				return ReasonNotYetValid
			}
			return ReasonExpired
		case x509.IncompatibleUsage:
			return ReasonPurposeInvalid
		case x509.TooManyIntermediates:
			return ReasonMaxChainDepthExceeded
		case x509.NotAuthorizedToSign, x509.CANotAuthorizedForThisName, x509.NameConstraintsWithoutSANs, x509.CANotAuthorizedForExtKeyUsage:
			return ReasonUntrusted
		}
	}
	return ReasonInvalid
}

// urlEncodePEM appends the PEM form of each DER certificate, URL-encoded as
// ALB encodes its certificate headers: every byte but letters, digits and
// -_.~ percent-encoded, except + = and /, which are left as they are.
func urlEncodePEM(b []byte, ders ...[]byte) []byte {
	const hexDigits = "0123456789ABCDEF"
	for _, der := range ders {
		for _, ch := range pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}) {
			switch {
			case ch >= 'A' && ch <= 'Z', ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9',
				ch == '-', ch == '_', ch == '.', ch == '~', ch == '+', ch == '=', ch == '/':
				b = append(b, ch)
			default:
				b = append(b, '%', hexDigits[ch>>4], hexDigits[ch&15])
			}
		}
	}
	return b
}
