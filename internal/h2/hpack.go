package h2

// Response header blocks are HPACK-encoded (RFC 7541) without the dynamic
// table: every field is a literal without indexing, naming a static-table
// entry where one has the name, and :status is an indexed static entry where
// the table has the code. Encoding then has no connection state, so a
// handler encodes its head without the connection's lock and without
// allocating, from strings or bytes alike, and the client's decoder keeps no
// table for us. The price is a few dozen bytes per response against an
// indexed Date or Server field.

// staticNames maps a field name to its first index in HPACK's static table
// (RFC 7541 Appendix A).
var staticNames = map[string]uint8{
	":authority": 1, ":method": 2, ":path": 4, ":scheme": 6, ":status": 8,
	"accept-charset": 15, "accept-encoding": 16, "accept-language": 17, "accept-ranges": 18,
	"accept": 19, "access-control-allow-origin": 20, "age": 21, "allow": 22, "authorization": 23,
	"cache-control": 24, "content-disposition": 25, "content-encoding": 26, "content-language": 27,
	"content-length": 28, "content-location": 29, "content-range": 30, "content-type": 31,
	"cookie": 32, "date": 33, "etag": 34, "expect": 35, "expires": 36, "from": 37, "host": 38,
	"if-match": 39, "if-modified-since": 40, "if-none-match": 41, "if-range": 42,
	"if-unmodified-since": 43, "last-modified": 44, "link": 45, "location": 46, "max-forwards": 47,
	"proxy-authenticate": 48, "proxy-authorization": 49, "range": 50, "referer": 51, "refresh": 52,
	"retry-after": 53, "server": 54, "set-cookie": 55, "strict-transport-security": 56,
	"transfer-encoding": 57, "user-agent": 58, "vary": 59, "via": 60, "www-authenticate": 61,
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

// staticStatus maps the status codes HPACK's static table has to their
// indexes (RFC 7541 Appendix A).
var staticStatus = map[int]byte{200: 8, 204: 9, 206: 10, 304: 11, 400: 12, 404: 13, 500: 14}

// appendStatus appends the :status field.
func appendStatus(b []byte, code int) []byte {
	if i, ok := staticStatus[code]; ok {
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
	if i, ok := staticNames[string(n)]; ok {
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
