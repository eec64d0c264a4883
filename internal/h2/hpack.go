package h2

// Response header blocks are HPACK-encoded (RFC 7541) without the dynamic
// table: every field is a literal without indexing, naming a static-table
// entry where one has the name, and :status is an indexed static entry where
// the table has the code. Encoding then has no connection state, so a
// handler encodes its head without the connection's lock and without
// allocating, from strings or bytes alike, and the client's decoder keeps no
// table for us. The price is a few dozen bytes per response against an
// indexed Date or Server field.

// staticName returns the first index of a field name in HPACK's static
// table (RFC 7541 Appendix A), or 0 for a name the table does not have. A
// switch rather than a map: it hashes nothing, and on the response path it
// runs for every field.
func staticName(name []byte) uint8 {
	switch string(name) {
	case ":authority":
		return 1
	case ":method":
		return 2
	case ":path":
		return 4
	case ":scheme":
		return 6
	case ":status":
		return 8
	case "accept-charset":
		return 15
	case "accept-encoding":
		return 16
	case "accept-language":
		return 17
	case "accept-ranges":
		return 18
	case "accept":
		return 19
	case "access-control-allow-origin":
		return 20
	case "age":
		return 21
	case "allow":
		return 22
	case "authorization":
		return 23
	case "cache-control":
		return 24
	case "content-disposition":
		return 25
	case "content-encoding":
		return 26
	case "content-language":
		return 27
	case "content-length":
		return 28
	case "content-location":
		return 29
	case "content-range":
		return 30
	case "content-type":
		return 31
	case "cookie":
		return 32
	case "date":
		return 33
	case "etag":
		return 34
	case "expect":
		return 35
	case "expires":
		return 36
	case "from":
		return 37
	case "host":
		return 38
	case "if-match":
		return 39
	case "if-modified-since":
		return 40
	case "if-none-match":
		return 41
	case "if-range":
		return 42
	case "if-unmodified-since":
		return 43
	case "last-modified":
		return 44
	case "link":
		return 45
	case "location":
		return 46
	case "max-forwards":
		return 47
	case "proxy-authenticate":
		return 48
	case "proxy-authorization":
		return 49
	case "range":
		return 50
	case "referer":
		return 51
	case "refresh":
		return 52
	case "retry-after":
		return 53
	case "server":
		return 54
	case "set-cookie":
		return 55
	case "strict-transport-security":
		return 56
	case "transfer-encoding":
		return 57
	case "user-agent":
		return 58
	case "vary":
		return 59
	case "via":
		return 60
	case "www-authenticate":
		return 61
	}
	return 0
}

// appendInt appends v as an HPACK integer with an n-bit prefix; first holds
// the bits above the prefix (RFC 7541 §5.1).
func appendInt(b []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(max))
	v -= max
	for v >= 128 {
		b = append(b, byte(v&0x7f)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendStatus appends the :status field: indexed for the codes HPACK's
// static table has (RFC 7541 Appendix A, indexes 8 to 14).
func appendStatus(b []byte, code int) []byte {
	var i byte
	switch code {
	case 200:
		i = 8
	case 204:
		i = 9
	case 206:
		i = 10
	case 304:
		i = 11
	case 400:
		i = 12
	case 404:
		i = 13
	case 500:
		i = 14
	}
	if i != 0 {
		return append(b, 0x80|i) // indexed field
	}
	b = append(b, 0x08) // literal without indexing, name :status (index 8)
	return appendLiteral(b, statusText(code))
}

// appendLiteral appends a string literal, not Huffman-coded.
func appendLiteral[S ~string | ~[]byte](b []byte, s S) []byte {
	b = appendInt(b, 0, 7, uint64(len(s)))
	return append(b, s...)
}

// appendField appends a field as a literal without indexing, its name in
// lower case as HTTP/2 requires; the caller has checked that it is a field
// that may be sent.
func appendField[N, V ~string | ~[]byte](b []byte, name N, value V) []byte {
	var low [64]byte
	if len(name) > len(low) {
		// Longer than any static-table name: a literal name.
		b = append(b, 0)
		b = appendInt(b, 0, 7, uint64(len(name)))
		for i := 0; i < len(name); i++ {
			b = append(b, lower(name[i]))
		}
		return appendLiteral(b, value)
	}
	for i := 0; i < len(name); i++ {
		low[i] = lower(name[i])
	}
	n := low[:len(name)]
	if i := staticName(n); i != 0 {
		b = appendInt(b, 0, 4, uint64(i))
	} else {
		b = append(b, 0)
		b = appendLiteral(b, n)
	}
	return appendLiteral(b, value)
}

func lower(ch byte) byte {
	if 'A' <= ch && ch <= 'Z' {
		return ch + 'a' - 'A'
	}
	return ch
}

// tableSizeZero is a dynamic table size update to 0 (RFC 7541 §6.3): sent
// at the start of the first block after the client changes
// SETTINGS_HEADER_TABLE_SIZE, it tells it that the table stays empty.
const tableSizeZero = 0x20
