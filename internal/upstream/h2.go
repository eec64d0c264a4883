package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"

	"golang.org/x/net/http2"
)

// H2Client sends requests to one target over HTTP/2, for target groups whose
// protocol version is HTTP2 or GRPC: cleartext HTTP/2 (h2c, prior knowledge)
// to HTTP target groups, HTTP/2 over TLS (ALPN h2, certificate not verified)
// to HTTPS ones. Streams share the client's connections.
type H2Client struct {
	key string
	tr  *http2.Transport
}

// H2 returns the HTTP/2 client of the target at addr ("ip:port"), over TLS
// when useTLS, creating it if needed. Clients are kept across configuration
// changes as pools are, and retired by Retain.
func (ps *Pools) H2(addr string, useTLS bool) *H2Client {
	key := "h2/" + addr
	if useTLS {
		key = "h2tls/" + addr
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.h2 == nil {
		ps.h2 = make(map[string]*H2Client)
	}
	if c := ps.h2[key]; c != nil {
		return c
	}
	dialer := &net.Dialer{Timeout: ps.opts.ConnectTimeout}
	if dialer.Timeout <= 0 {
		dialer.Timeout = DefaultConnectTimeout
	}
	tr := &http2.Transport{AllowHTTP: !useTLS}
	tr.DialTLSContext = func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
		nc, err := dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, &DialError{Addr: addr, Timeout: isTimeoutErr(err), Err: err}
		}
		if !useTLS {
			return nc, nil
		}
		p := &Pool{addr: addr, tls: h2TargetTLS}
		return p.handshake(ctx, nc)
	}
	c := &H2Client{key: key, tr: tr}
	ps.h2[key] = c
	return c
}

// h2TargetTLS is targetTLS offering only h2.
var h2TargetTLS = func() *tls.Config {
	c := targetTLS.Clone()
	c.NextProtos = []string{"h2"}
	return c
}()

// Key is the client's key among the pools (see Pool.Key).
func (c *H2Client) Key() string { return c.key }

// RoundTrip sends one request. req.URL names the scheme ("http" for h2c too)
// and the target; a dial failure is a *DialError.
func (c *H2Client) RoundTrip(req *http.Request) (*http.Response, error) {
	return c.tr.RoundTrip(req)
}

// close retires the client's idle connections.
func (c *H2Client) close() { c.tr.CloseIdleConnections() }

func isTimeoutErr(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
