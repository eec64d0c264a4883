package accesslog

import (
	"net/netip"
	"strconv"
	"time"
)

// ConnEntry is one line of ALB's connection log (spec §1.5): one per client
// connection attempt on an HTTPS listener, written when the TLS handshake
// completes or fails. Fields are in ALB's order; absent values encode as "-".
type ConnEntry struct {
	// Time is when the connection was established or failed (µs, UTC).
	Time time.Time
	// Client is client_ip and client_port.
	Client netip.AddrPort
	// ListenerPort is listener_port.
	ListenerPort int
	// TLSProtocol and TLSCipher are tls_protocol and tls_cipher, in OpenSSL
	// names ("" when the handshake failed).
	TLSProtocol, TLSCipher string
	// HandshakeLatency is tls_handshake_latency, in seconds with three
	// decimals; negative (failed handshake) encodes as "-".
	HandshakeLatency time.Duration
	// LeafClientCertSubject, LeafClientCertValidity and
	// LeafClientCertSerialNumber describe a mutual-TLS client certificate;
	// Albatross has no mTLS, so they are always "-".
	LeafClientCertSubject      string
	LeafClientCertValidity     string
	LeafClientCertSerialNumber string
	// TLSVerifyStatus is "Success" or "Failed:<code>".
	TLSVerifyStatus string
	// ConnTraceID is conn_trace_id, the join key with access log field 30.
	ConnTraceID string
	// TLSKeyExchange is tls_keyexchange, the key exchange group ("x25519").
	TLSKeyExchange string
	// ELB is the load balancer resource id "app/NAME/ID".
	ELB string
	// NodeIP is ip_address, the load balancer node's IP; "-" when invalid.
	NodeIP netip.Addr
}

// AppendConnLine appends e as one connection log line terminated by '\n'.
func AppendConnLine(dst []byte, e *ConnEntry) []byte {
	dst = appendTime(dst, e.Time, time.Microsecond)
	dst = append(dst, ' ')
	if e.Client.Addr().IsValid() {
		dst = appendAddr(dst, e.Client.Addr())
		dst = append(dst, ' ')
		dst = strconv.AppendUint(dst, uint64(e.Client.Port()), 10)
	} else {
		dst = append(dst, "- -"...)
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(e.ListenerPort), 10)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.TLSProtocol)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.TLSCipher)
	dst = append(dst, ' ')
	if e.HandshakeLatency < 0 {
		dst = append(dst, '-')
	} else {
		dst = appendDuration(dst, e.HandshakeLatency)
	}
	dst = append(dst, ' ')
	if e.LeafClientCertSubject == "" {
		dst = append(dst, '-')
	} else {
		dst = appendQuoted(dst, e.LeafClientCertSubject)
	}
	dst = append(dst, ' ')
	dst = appendWord(dst, e.LeafClientCertValidity)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.LeafClientCertSerialNumber)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.TLSVerifyStatus)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.ConnTraceID)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.TLSKeyExchange)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.ELB)
	dst = append(dst, ' ')
	if e.NodeIP.IsValid() {
		dst = appendAddr(dst, e.NodeIP)
	} else {
		dst = append(dst, '-')
	}
	return append(dst, '\n')
}

// LogConn encodes a connection log entry and queues it, exactly as Log does
// for access log entries (it never blocks). Open the Writer with FilePrefix
// ConnLogFilePrefix for ALB's connection log file names in Directory mode.
func (w *Writer) LogConn(e *ConnEntry) { w.put(nil, e) }

// ConnLogFilePrefix is the file name prefix of ALB's connection log files.
const ConnLogFilePrefix = "conn_log_"
