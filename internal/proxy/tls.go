package proxy

import (
	"cmp"
	"crypto/tls"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// serveTLS runs the TLS handshake of a connection to an HTTPS listener, writes
// its connection log line and then serves HTTP/2 or HTTP/1.1 over it, as ALPN
// decided. A failed handshake is counted (ClientTLSNegotiationErrorCount) and
// closes the connection without an access log line, as on ALB.
func (c *conn) serveTLS(l *snapshot.Listener) {
	defer c.recoverPanic()
	raw := c.nc
	// The handshake runs on the connection's goroutine.
	c.parkable = false
	hs := l.TLS.NewHandshake()
	sock := new(tlsSocket)
	sock.setConn(raw)
	tc := tls.Server(sock, hs.Config)
	// Until the handshake completes the connection counts as idle: a shutdown
	// ends it at once.
	c.state.Store(stateIdle)
	if c.stopping() {
		c.close()
		return
	}
	raw.SetDeadline(time.Now().Add(l.LB.Attrs.IdleTimeout))
	err := tc.Handshake()
	latency := time.Since(c.start)
	ce := accesslog.ConnEntry{
		Time:             time.Now(),
		Client:           c.client,
		ListenerPort:     l.Port,
		HandshakeLatency: latency,
		ConnTraceID:      c.tid,
		ELB:              l.LB.ResourceID,
	}
	if err != nil {
		defer c.close()
		if c.stopping() {
			return
		}
		l.LB.TLSNegotiationErrors.Add(1)
		ce.HandshakeLatency = -1
		ce.TLSVerifyStatus = "Failed:" + hs.FailReason()
		setClientCertFields(&ce, hs.ClientCert())
		if l.LB.ConnLog != nil {
			l.LB.ConnLog.LogConn(&ce)
		}
		c.p.log.Debug("TLS handshake failed", "client", c.client.String(), "listener", l.Addr.String(), "err", err)
		return
	}
	raw.SetDeadline(time.Time{})
	cs := tc.ConnectionState()
	info := hs.Info(cs)
	ce.TLSProtocol, ce.TLSCipher = info.Protocol, info.Cipher
	ce.TLSVerifyStatus = "Success"
	ce.TLSKeyExchange = keyExchangeName(cs.CurveID)
	setClientCertFields(&ce, info.Client)
	if l.LB.ConnLog != nil {
		l.LB.ConnLog.LogConn(&ce)
	}
	c.tls = &info
	if info.ALPN != "h2" {
		c.sock = sock // HTTP/1.1 replies may be deferred (tlsreply.go)
	}
	// Shutdown reads c.nc under p.mu; swap it there.
	c.p.mu.Lock()
	c.nc = tc
	c.p.mu.Unlock()
	c.state.Store(stateActive)
	// Between HTTP/1.1 requests the connection parks as a plain one does:
	// it parks only after a read that timed out having returned nothing,
	// and crypto/tls reads the socket only once it has decrypted every whole
	// record it holds, so no request bytes can be waiting inside the TLS
	// layer, out of the poller's sight (at most the start of a record, whose
	// rest makes the socket readable).
	c.parkable = c.p.parker != nil && info.ALPN != "h2"
	if info.ALPN == "h2" {
		// Streams take their own scratch space; the connection needs none.
		c.p.putWork(c.work)
		c.work = nil
		c.serveH2(tc)
		c.close()
		return
	}
	c.serve()
}

// setClientCertFields fills the connection log's leaf_client_cert_* fields
// from the connection's client certificate (mutual TLS), if it sent one.
func setClientCertFields(ce *accesslog.ConnEntry, cc *tlsconf.ClientCert) {
	if cc == nil {
		return
	}
	ce.LeafClientCertSubject = cc.Subject
	ce.LeafClientCertValidity = cc.Validity
	ce.LeafClientCertSerialNumber = cc.Serial
}

// appendMTLSHeaders appends the client certificate headers of a mutual TLS
// connection, as ALB sends them: in verify mode X-Amzn-Mtls-Clientcert-Serial-
// Number, -Issuer, -Subject, -Validity and -Leaf; in passthrough mode
// X-Amzn-Mtls-Clientcert, the whole chain; under the listener's names.
func (c *conn) appendMTLSHeaders(b []byte) []byte {
	if c.tls == nil || c.tls.Client == nil {
		return b
	}
	cc := c.tls.Client
	names := &c.ln.Load().Headers.MTLSNames
	if !cc.Verified {
		return appendHeaderLine(b, names[5], cc.Chain)
	}
	b = appendHeaderLine(b, names[0], cc.Serial)
	b = appendHeaderLine(b, names[1], cc.Issuer)
	b = appendHeaderLine(b, names[2], cc.Subject)
	b = appendHeaderLine(b, names[3], cc.Validity)
	return appendHeaderLine(b, names[4], cc.Leaf)
}

func appendHeaderLine(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// isMTLSHeader reports whether a client header is one of mutual TLS's: any
// X-Amzn-Mtls-* header, on every listener, and on a mutual TLS listener the
// names its headers are renamed to. A client's own never reaches the target,
// so that a target can trust them.
func (c *conn) isMTLSHeader(name []byte) bool {
	const prefix = "X-Amzn-Mtls-"
	if len(name) >= len(prefix) && (name[0]|0x20) == 'x' && http1.EqualFold(name[:len(prefix)], prefix) {
		return true
	}
	if c.tls == nil {
		return false
	}
	lh := &c.ln.Load().Headers
	if !lh.MTLS {
		return false
	}
	for _, n := range lh.MTLSNames {
		if http1.EqualFold(name, n) {
			return true
		}
	}
	return false
}

// keyExchangeName names a key exchange group as OpenSSL does.
func keyExchangeName(id tls.CurveID) string {
	switch id {
	case tls.X25519:
		return "x25519"
	case tls.CurveP256:
		return "secp256r1"
	case tls.CurveP384:
		return "secp384r1"
	case tls.CurveP521:
		return "secp521r1"
	case tls.X25519MLKEM768:
		return "X25519MLKEM768"
	case tls.SecP256r1MLKEM768:
		return "SecP256r1MLKEM768"
	case tls.SecP384r1MLKEM1024:
		return "SecP384r1MLKEM1024"
	case 0:
		return ""
	}
	return id.String()
}

// setTLSFields fills the access log fields of a request on a TLS connection.
func (c *conn) setTLSFields() {
	c.e.SSLCipher = c.tls.Cipher
	c.e.SSLProtocol = c.tls.Protocol
	c.e.DomainName = c.tls.DomainName
	c.e.ChosenCertARN = c.tls.CertARN
	if c.h2 != nil {
		c.e.Type = "h2"
		if c.h2.grpc {
			c.e.Type = "grpcs"
		}
	}
}

// appendTLSHeaders appends X-Amzn-Tls-Version and X-Amzn-Tls-Cipher-Suite
// (OpenSSL names) for a request on a TLS connection when the load balancer's
// routing.http.x_amzn_tls_version_and_cipher_suite.enabled is on.
func (c *conn) appendTLSHeaders(b []byte, enabled bool) []byte {
	if c.tls == nil || !enabled {
		return b
	}
	lh := &c.ln.Load().Headers
	b = append(b, cmp.Or(lh.TLSVersion, "X-Amzn-Tls-Version")...)
	b = append(b, ": "...)
	b = append(b, c.tls.Protocol...)
	b = append(b, "\r\n"...)
	b = append(b, cmp.Or(lh.TLSCipher, "X-Amzn-Tls-Cipher-Suite")...)
	b = append(b, ": "...)
	b = append(b, c.tls.Cipher...)
	return append(b, "\r\n"...)
}

// isTLSHeader reports whether a client header is one the load balancer sets
// itself from the TLS connection; a client's own is not forwarded when the
// load balancer adds them.
func (c *conn) isTLSHeader(name []byte) bool {
	l := c.ln.Load()
	lh := &l.Headers
	return l.LB.Attrs.TLSVersionAndCipherSuiteHeaders &&
		(http1.EqualFold(name, cmp.Or(lh.TLSVersion, "X-Amzn-Tls-Version")) || http1.EqualFold(name, cmp.Or(lh.TLSCipher, "X-Amzn-Tls-Cipher-Suite")))
}
