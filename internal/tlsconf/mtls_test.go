package tlsconf

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil/testca"
)

// handshake runs a real TLS handshake over loopback TCP between a Go client
// presenting client (nil: no certificate) and the listener; it returns the
// server's handshake record, the server's and the client's errors, and the CA
// names the client saw in the CertificateRequest.
func handshake(t *testing.T, l *Listener, client *testca.Client) (*Handshake, error, error, [][]byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hs := l.NewHandshake()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, hs.Config)
		err = tc.Handshake()
		if err == nil {
			// One byte tells the client the handshake was accepted (a TLS
			// 1.3 client learns of a refused certificate only when it
			// reads).
			_, err = tc.Write([]byte{'!'})
		}
		done <- err
	}()
	var acceptable [][]byte
	cfg := &tls.Config{InsecureSkipVerify: true, GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		acceptable = cri.AcceptableCAs
		if client == nil {
			return &tls.Certificate{}, nil
		}
		c := client.TLS()
		return &c, nil
	}}
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), cfg)
	var cerr error
	if err != nil {
		cerr = err
	} else {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, cerr = conn.Read(make([]byte, 1)) // the server's byte, or its alert
		conn.Close()
	}
	return hs, <-done, cerr, acceptable
}

func mtlsListener(t *testing.T, m *MutualAuth) *Listener {
	t.Helper()
	p, _ := Lookup(DefaultPolicy)
	l, err := NewMutualListener(p, []*Cert{loadTestCert(t, "lb.example.com")}, false, m)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestVerifyMode(t *testing.T) {
	root := testca.NewRoot(t, "Test Root")
	inter := root.Intermediate(t, "Test Issuing CA")
	other := testca.NewRoot(t, "Other Root")
	good := inter.Client(t, "good.client", testca.ClientOptions{})
	revoked := inter.Client(t, "revoked.client", testca.ClientOptions{})
	expired := inter.Client(t, "expired.client", testca.ClientOptions{NotBefore: time.Now().Add(-3 * time.Hour), NotAfter: time.Now().Add(-2 * time.Hour)})
	future := inter.Client(t, "future.client", testca.ClientOptions{NotBefore: time.Now().Add(2 * time.Hour)})
	server := inter.Client(t, "server.only", testca.ClientOptions{ServerAuthOnly: true})
	stranger := other.Client(t, "stranger", testca.ClientOptions{})

	ts, err := NewTrustStore("clients", "arn:ts", append(bytes.Clone(root.PEM), inter.PEM...), [][]byte{inter.CRL(t, revoked.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	l := mtlsListener(t, &MutualAuth{Mode: ModeVerify, Store: ts})
	lIgnore := mtlsListener(t, &MutualAuth{Mode: ModeVerify, Store: ts, IgnoreExpiry: true})

	for _, tc := range []struct {
		name   string
		l      *Listener
		client *testca.Client
		reason string // "" = accepted
	}{
		{"good chain", l, good, ""},
		{"unknown CA", l, stranger, ReasonUntrusted},
		{"expired", l, expired, ReasonExpired},
		{"expired, expiry ignored", lIgnore, expired, ""},
		{"not yet valid", lIgnore, future, ReasonNotYetValid},
		{"revoked", l, revoked, ReasonCrlHit},
		{"server-only certificate", l, server, ReasonPurposeInvalid},
		{"no certificate", l, nil, ReasonRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, serr, cerr, _ := handshake(t, tc.l, tc.client)
			if tc.reason == "" {
				if serr != nil || cerr != nil {
					t.Fatalf("refused: server %v, client %v", serr, cerr)
				}
				cc := hs.ClientCert()
				if cc == nil || !cc.Verified {
					t.Fatalf("client cert record %+v", cc)
				}
				if cc.Subject != tc.client.Cert.Subject.String() || !strings.HasPrefix(cc.Subject, "CN="+tc.client.Cert.Subject.CommonName+",") {
					t.Errorf("subject %q", cc.Subject)
				}
				if cc.Issuer != "CN=Test Issuing CA,O=Albatross Test" {
					t.Errorf("issuer %q", cc.Issuer)
				}
				if cc.Leaf != tc.client.LeafHeader() {
					t.Errorf("leaf header\n%q, want\n%q", cc.Leaf, tc.client.LeafHeader())
				}
				return
			}
			if serr == nil {
				t.Fatal("the handshake succeeded")
			}
			if cerr == nil {
				t.Error("the client did not see the refusal")
			}
			if got := hs.FailReason(); got != tc.reason {
				t.Errorf("reason %s, want %s (server error %v)", got, tc.reason, serr)
			}
			if tc.client != nil && (hs.ClientCert() == nil || hs.ClientCert().Serial == "") {
				t.Errorf("a refused certificate is not described for the log: %+v", hs.ClientCert())
			}
		})
	}
}

func TestPassthroughChain(t *testing.T) {
	root := testca.NewRoot(t, "Root")
	inter := root.Intermediate(t, "Inter")
	c := inter.Client(t, "pt", testca.ClientOptions{NotAfter: time.Now().Add(-time.Minute), NotBefore: time.Now().Add(-time.Hour)})
	l := mtlsListener(t, &MutualAuth{Mode: ModePassthrough})
	hs, serr, cerr, acceptable := handshake(t, l, c)
	if serr != nil || cerr != nil {
		t.Fatalf("passthrough refused an (expired, unverified) chain: %v %v", serr, cerr)
	}
	if len(acceptable) != 0 {
		t.Errorf("passthrough advertised CA names %q", acceptable)
	}
	cc := hs.ClientCert()
	if cc == nil || cc.Verified {
		t.Fatalf("record %+v", cc)
	}
	// The chain as the client sent it, byte for byte, encoded as ALB does.
	if cc.Chain != c.ChainHeader() {
		t.Errorf("chain\n%q, want\n%q", cc.Chain, c.ChainHeader())
	}
	// No certificate at all is fine in passthrough.
	hs, serr, cerr, _ = handshake(t, l, nil)
	if serr != nil || cerr != nil || hs.ClientCert() != nil {
		t.Errorf("passthrough without a certificate: %v %v %+v", serr, cerr, hs.ClientCert())
	}
}

func TestAdvertiseCANames(t *testing.T) {
	root := testca.NewRoot(t, "Advertised Root")
	ts, err := NewTrustStore("s", "arn", root.PEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := root.Client(t, "c", testca.ClientOptions{})
	for _, on := range []bool{false, true} {
		_, serr, cerr, acceptable := handshake(t, mtlsListener(t, &MutualAuth{Mode: ModeVerify, Store: ts, AdvertiseCANames: on}), c)
		if serr != nil || cerr != nil {
			t.Fatalf("advertise %v: %v %v", on, serr, cerr)
		}
		want := 0
		if on {
			want = 1
		}
		if len(acceptable) != want || on && !bytes.Equal(acceptable[0], root.Cert.RawSubject) {
			t.Errorf("advertise %v: CertificateRequest names %q", on, acceptable)
		}
	}
}

func TestTrustStoreInputs(t *testing.T) {
	root := testca.NewRoot(t, "R")
	other := testca.NewRoot(t, "O")
	leaf := root.Client(t, "leaf", testca.ClientOptions{})
	for name, bundle := range map[string][]byte{
		"empty":    nil,
		"not PEM":  []byte("hello"),
		"a key":    leaf.KeyPEM,
		"not a CA": leaf.CertPEM,
		"bad DER":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
		"trailing": append(bytes.Clone(root.PEM), "junk"...),
	} {
		if _, err := ParseCABundle(bundle); err == nil {
			t.Errorf("%s: bundle accepted", name)
		}
	}
	cas, err := ParseCABundle(append(bytes.Clone(root.PEM), other.PEM...))
	if err != nil || len(cas) != 2 {
		t.Fatalf("two-CA bundle: %v %d", err, len(cas))
	}
	if _, err := ParseCRL(other.CRL(t), []*x509.Certificate{root.Cert}); err == nil {
		t.Error("a CRL of a CA outside the store was accepted")
	}
	if _, err := ParseCRL([]byte("nope"), cas); err == nil {
		t.Error("garbage accepted as a CRL")
	}
	der, _ := pem.Decode(root.CRL(t, leaf.Cert))
	crl, err := ParseCRL(der.Bytes, cas)
	if err != nil || len(crl.RevokedCertificateEntries) != 1 {
		t.Errorf("DER CRL: %v", err)
	}
	if _, err := NewMutualListener(&Policy{}, []*Cert{loadTestCert(t, "x")}, false, &MutualAuth{Mode: ModeVerify}); err == nil {
		t.Error("verify mode without a trust store compiled")
	}
}
