package upstream

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// TLSHandshakeTimeout is ALB's fixed TLS handshake timeout to HTTPS targets
// (spec §8.3); a handshake that fails or times out is answered with 502.
const TLSHandshakeTimeout = 10 * time.Second

// tlsKeyPrefix marks the key of an HTTPS target's pool in Pools, so that an
// address used by HTTP and HTTPS target groups gets one pool per protocol.
const tlsKeyPrefix = "tls/"

// targetTLS is the client side of TLS to HTTPS targets. As on ALB the target's
// certificate is not verified (self-signed and expired certificates are fine)
// and no SNI name is sent; versions and suites follow what ALB offers targets
// (ELBSecurityPolicy-2016-08's protocols, plus TLS 1.3).
var targetTLS = &tls.Config{
	InsecureSkipVerify: true, // ALB does not validate target certificates
	MinVersion:         tls.VersionTLS10,
	NextProtos:         []string{"http/1.1"},
}

// TLSPool returns the pool for an HTTPS target at addr ("ip:port"): its
// connections speak TLS to the target.
func (ps *Pools) TLSPool(addr string) *Pool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	key := tlsKeyPrefix + addr
	p := ps.pools[key]
	if p == nil {
		p = NewPool(addr, ps.opts)
		p.tls = targetTLS
		p.key = key
		ps.pools[key] = p
	}
	return p
}

// Key is the pool's key in Pools: its address, prefixed for HTTPS targets.
func (p *Pool) Key() string {
	if p.key != "" {
		return p.key
	}
	return p.addr
}

// handshake runs the TLS handshake with an HTTPS target on a new connection.
// A failure is a *DialError that is not a timeout: ALB answers 502 for both a
// failed and a timed-out handshake.
func (p *Pool) handshake(ctx context.Context, nc net.Conn) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, TLSHandshakeTimeout)
	defer cancel()
	tc := tls.Client(nc, p.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, &DialError{Addr: p.addr, Err: fmt.Errorf("TLS handshake: %w", err)}
	}
	return tc, nil
}
