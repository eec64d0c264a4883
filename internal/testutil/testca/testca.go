// Package testca makes certificate authorities, client certificates and CRLs
// for mutual TLS tests, with crypto/x509 in the test process: no files from
// elsewhere, no fixed dates. It is imported by tests only.
package testca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority: a root, or an intermediate issued by one.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// PEM is Cert in PEM form.
	PEM []byte
	// Parent is the issuing CA of an intermediate (nil for a root).
	Parent *CA

	serial atomic.Int64
}

// NewRoot returns a self-signed root CA named cn, valid from two days ago for
// three (CAs outlive the short-lived certificates tests issue).
func NewRoot(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Albatross Test"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return newCA(t, der, key, nil)
}

// Intermediate returns a CA named cn issued by ca.
func (ca *CA) Intermediate(t testing.TB, cn string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(ca.serial.Add(1) + 100),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Albatross Test"}},
		NotBefore:             time.Now().Add(-48 * time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return newCA(t, der, key, ca)
}

func newCA(t testing.TB, der []byte, key crypto.Signer, parent *CA) *CA {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &CA{Cert: c, Key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Parent: parent}
	ca.serial.Store(0x1000)
	return ca
}

// Client is a client certificate and its key.
type Client struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the DER chain the client presents: the leaf, then the
	// intermediates up to (not including) the root.
	Chain [][]byte
	// CertPEM is Chain in PEM form (leaf first) and KeyPEM the key, for
	// clients such as curl that read files.
	CertPEM, KeyPEM []byte
}

// ChainHeader is the whole chain (leaf first) as ALB sends it in
// X-Amzn-Mtls-Clientcert: PEM, URL-encoded.
func (c *Client) ChainHeader() string { return ALBEncoded(c.CertPEM) }

// LeafHeader is the leaf as ALB sends it in X-Amzn-Mtls-Clientcert-Leaf.
func (c *Client) LeafHeader() string {
	return ALBEncoded(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Chain[0]}))
}

// ALBEncoded is PEM text URL-encoded as ALB encodes certificate headers:
// PEM's base64 letters, digits, +, / and = as they are, the spaces and line
// ends of its armour percent-encoded. It is written independently of the
// load balancer's encoder, to test it.
func ALBEncoded(pemText []byte) string {
	return strings.NewReplacer(" ", "%20", "\n", "%0A").Replace(string(pemText))
}

// TLS returns the certificate for a Go TLS client.
func (c *Client) TLS() tls.Certificate {
	return tls.Certificate{Certificate: c.Chain, PrivateKey: c.Key, Leaf: c.Cert}
}

// ClientOptions varies a client certificate.
type ClientOptions struct {
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
	// ServerAuthOnly gives the certificate the serverAuth extended key usage
	// only (a certificate not for clients).
	ServerAuthOnly bool
}

// Client issues a client certificate for cn.
func (ca *CA) Client(t testing.TB, cn string, o ClientOptions) *Client {
	t.Helper()
	key := newKey(t)
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	eku := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if o.ServerAuthOnly {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Albatross Clients"}, Country: []string{"US"}},
		NotBefore:    o.NotBefore,
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  eku,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{Cert: leaf, Key: key, Chain: [][]byte{der}}
	for p := ca; p.Parent != nil; p = p.Parent {
		c.Chain = append(c.Chain, p.Cert.Raw)
	}
	for _, d := range c.Chain {
		c.CertPEM = append(c.CertPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})
	return c
}

// CRL returns a PEM CRL signed by ca that revokes the given certificates.
func (ca *CA) CRL(t testing.TB, revoked ...*x509.Certificate) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, c := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(ca.serial.Add(1)),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                time.Now().Add(24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
