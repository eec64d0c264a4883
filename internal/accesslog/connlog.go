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
	// LeafClientCertSerialNumber describe a mutual-TLS client certificate
	// (RFC 2253 subject, "NotBefore=...;NotAfter=...", upper-case hex
	// serial); "-" when the client sent none.
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
	return appendLineEnd(dst, e.ELB, e.NodeIP)
}

// LogConn encodes a connection log entry and queues it, exactly as Log does
// for access log entries (it never blocks). Open the Writer with FilePrefix
// ConnLogFilePrefix for ALB's connection log file names in Directory mode.
func (w *Writer) LogConn(e *ConnEntry) { w.put(nil, e, nil) }

// ConnLogFilePrefix is the file name prefix of ALB's connection log files.
const ConnLogFilePrefix = "conn_log_"

// Connection log field numbers in ALB's order (spec §1.5).
const (
	cTime = iota + 1
	cClientIP
	cClientPort
	cListenerPort
	cTLSProtocol
	cTLSCipher
	cHandshakeLatency
	cLeafSubject
	cLeafValidity
	cLeafSerial
	cVerifyStatus
	cConnTraceID
	cKeyExchange
	cELB
	cNodeIP
)

// connFormat is the connection log's field list. AWS's 2023 example lines end
// with conn_trace_id (12 fields); tls_keyexchange, elb and ip_address came later.
var connFormat = lineFormat{log: "connection log", min: cConnTraceID, names: []string{
	"", "time", "client_ip", "client_port", "listener_port", "tls_protocol", "tls_cipher",
	"tls_handshake_latency", "leaf_client_cert_subject", "leaf_client_cert_validity",
	"leaf_client_cert_serial_number", "tls_verify_status", "conn_trace_id", "tls_keyexchange",
	"elb", "ip_address",
}}

// ConnFields is the number of connection log fields this package knows.
const ConnFields = cNodeIP

// ParseConnLine parses one connection log line into e, overwriting all of it:
// lines AppendConnLine writes and ALB's, from the 12-field lines of 2023 to
// today's 15 (later fields are ignored). "-" reads as absent: an empty string,
// the zero address, and a negative HandshakeLatency. A trailing "\n" is
// removed. String fields alias line unless they had escapes, with the
// lifetime ParseLine describes. An error is a *FieldError naming the field,
// or says the line has too few fields.
func ParseConnLine(line []byte, e *ConnEntry) error {
	*e = ConnEntry{}
	var ip netip.Addr
	var port int64
	_, err := connFormat.parse(line, func(n int, raw []byte) error {
		var err error
		switch n {
		case cTime:
			e.Time, err = parseTime(raw)
		case cClientIP:
			ip, err = parseAddr(raw)
		case cClientPort:
			port, err = parsePort(raw)
		case cListenerPort:
			var p int64
			p, err = parsePort(raw)
			e.ListenerPort = int(p)
		case cTLSProtocol:
			e.TLSProtocol = internString(raw)
		case cTLSCipher:
			e.TLSCipher = toString(raw)
		case cHandshakeLatency:
			if isAbsent(raw) {
				e.HandshakeLatency = -1
			} else {
				e.HandshakeLatency, err = parseSeconds(raw)
			}
		case cLeafSubject:
			e.LeafClientCertSubject = toString(raw)
		case cLeafValidity:
			e.LeafClientCertValidity = toString(raw)
		case cLeafSerial:
			e.LeafClientCertSerialNumber = toString(raw)
		case cVerifyStatus:
			e.TLSVerifyStatus = toString(raw)
		case cConnTraceID:
			e.ConnTraceID = toString(raw)
		case cKeyExchange:
			e.TLSKeyExchange = toString(raw)
		case cELB:
			e.ELB = toString(raw)
		case cNodeIP:
			e.NodeIP, err = parseAddr(raw)
		}
		return err
	})
	if ip.IsValid() {
		e.Client = netip.AddrPortFrom(ip, uint16(port))
	}
	return err
}

// parsePort reads a port number, or "-" as 0.
func parsePort(raw []byte) (int64, error) {
	if isAbsent(raw) {
		return 0, nil
	}
	v, ok := parseUint(raw, 5)
	if !ok || v > 0xffff {
		return 0, ErrNotPort
	}
	return v, nil
}
