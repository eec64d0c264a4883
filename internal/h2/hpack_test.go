package h2

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// rfc7541StaticNames are the names of HPACK's static table (RFC 7541
// Appendix A), index 1 first, a name repeated where the table repeats it.
var rfc7541StaticNames = strings.Fields(`:authority :method :method :path :path :scheme :scheme
	:status :status :status :status :status :status :status accept-charset accept-encoding
	accept-language accept-ranges accept access-control-allow-origin age allow authorization
	cache-control content-disposition content-encoding content-language content-length
	content-location content-range content-type cookie date etag expect expires from host
	if-match if-modified-since if-none-match if-range if-unmodified-since last-modified link
	location max-forwards proxy-authenticate proxy-authorization range referer refresh
	retry-after server set-cookie strict-transport-security transfer-encoding user-agent vary
	via www-authenticate`)

// TestStaticNameIndexes: every name of the static table encodes as its
// first index there, and any other name as a literal.
func TestStaticNameIndexes(t *testing.T) {
	if len(rfc7541StaticNames) != 61 {
		t.Fatalf("table has %d names, want 61", len(rfc7541StaticNames))
	}
	first := map[string]uint8{}
	for i, n := range rfc7541StaticNames {
		if _, ok := first[n]; !ok {
			first[n] = uint8(i + 1)
		}
	}
	for n, want := range first {
		if got := staticName([]byte(n)); got != want {
			t.Errorf("staticName(%q) = %d, want %d", n, got, want)
		}
	}
	for _, n := range []string{"", "x-amzn-trace-id", "content-lengt", "content-lengthx", "Content-Length", "grpc-status"} {
		if got := staticName([]byte(n)); got != 0 {
			t.Errorf("staticName(%q) = %d, want 0", n, got)
		}
	}
}

// TestEncodedFieldsDecode: what appendStatus and appendField write, a
// standard HPACK decoder reads back, names lowered.
func TestEncodedFieldsDecode(t *testing.T) {
	codes := []int{200, 204, 206, 304, 400, 404, 500, 201, 302, 460, 503, 599}
	names := append([]string{"X-Amzn-Trace-Id", "Content-Type", "SET-COOKIE", strings.Repeat("long-name-", 8)}, rfc7541StaticNames[14:]...)
	for _, code := range codes {
		var b []byte
		b = appendStatus(b, code)
		for i, n := range names {
			b = appendField(b, n, "v"+strconv.Itoa(i))
		}
		got, err := hpack.NewDecoder(4096, nil).DecodeFull(b)
		if err != nil {
			t.Fatalf("status %d: %v", code, err)
		}
		if len(got) != 1+len(names) {
			t.Fatalf("status %d: %d fields, want %d", code, len(got), 1+len(names))
		}
		if got[0].Name != ":status" || got[0].Value != strconv.Itoa(code) {
			t.Errorf("status %d decodes as %s: %s", code, got[0].Name, got[0].Value)
		}
		for i, n := range names {
			f := got[i+1]
			if f.Name != strings.ToLower(n) || f.Value != "v"+strconv.Itoa(i) || f.Sensitive {
				t.Errorf("field %q decodes as %q: %q", n, f.Name, f.Value)
			}
		}
	}
}
