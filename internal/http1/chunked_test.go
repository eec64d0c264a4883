package http1

import (
	"strings"
	"testing"
)

// scanAll runs a fresh scanner over p in one call.
func scanAll(p string) (int, bool, error) {
	var s ChunkedScanner
	return s.Scan([]byte(p))
}

var validChunked = []string{
	"0\r\n\r\n",
	"000\r\n\r\n",
	"5\r\nhello\r\n0\r\n\r\n",
	"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
	"A\r\n0123456789\r\n0\r\n\r\n",
	"a\r\n0123456789\r\n0\r\n\r\n",
	"0000000000000005\r\nhello\r\n0\r\n\r\n",
	"5\r\nhe\r\no\r\n0\r\n\r\n",          // CR LF inside data is data
	"5\r\n\x00\x01\r\n\xff\r\n0\r\n\r\n", // any bytes are data
	"5;ext\r\nhello\r\n0\r\n\r\n",
	"5;ext=val\r\nhello\r\n0\r\n\r\n",
	"5;a=b;c;d=\"q s\\\"x\\\\\"\r\nhello\r\n0\r\n\r\n",
	"5 ;a = b ; c\r\nhello\r\n0\r\n\r\n",
	"5\t;\ta\t=\t\"\"\r\nhello\r\n0\r\n\r\n",
	"5 \r\nhello\r\n0\t\r\n\r\n",
	"5;a \r\nhello\r\n0;b=c \r\n\r\n",
	"5;a=\"\xc3\xa9\t\"\r\nhello\r\n0\r\n\r\n",
	"0;last\r\n\r\n",
	"0\r\nChecksum: abc\r\n\r\n",
	"0\r\nA: 1\r\nB:2\r\nC:\r\n\r\n",
	"0\r\nA: 1\r\n  continued\r\n\r\n",
}

func TestChunkedScannerAccepts(t *testing.T) {
	const next = "GET / HTTP/1.1\r\n\r\n"
	for _, body := range validChunked {
		n, done, err := scanAll(body + next)
		if err != nil || !done || n != len(body) {
			t.Errorf("Scan(%q) = %d, %v, %v; want %d, true, nil", body, n, done, err, len(body))
		}
	}
}

// TestChunkedScannerEverySplit feeds every body in two pieces at every split
// point, and byte by byte, and checks that the outcome never changes.
func TestChunkedScannerEverySplit(t *testing.T) {
	for _, body := range append(validChunked, chunkedBody) {
		in := body + "NEXT"
		for i := 0; i <= len(in); i++ {
			var s ChunkedScanner
			n1, done1, err1 := s.Scan([]byte(in[:i]))
			if err1 != nil {
				t.Fatalf("%q split at %d: first Scan: %v", body, i, err1)
			}
			total := n1
			if !done1 {
				if n1 != i {
					t.Fatalf("%q split at %d: first Scan consumed %d of %d without done", body, i, n1, i)
				}
				n2, done2, err2 := s.Scan([]byte(in[i:]))
				if err2 != nil || !done2 {
					t.Fatalf("%q split at %d: second Scan = %d, %v, %v", body, i, n2, done2, err2)
				}
				total += n2
			}
			if total != len(body) {
				t.Fatalf("%q split at %d: consumed %d, want %d", body, i, total, len(body))
			}
		}

		var s ChunkedScanner
		total, done := 0, false
		for i := 0; i < len(in) && !done; i++ {
			var n int
			var err error
			n, done, err = s.Scan([]byte{in[i]})
			if err != nil {
				t.Fatalf("%q byte by byte at %d: %v", body, i, err)
			}
			total += n
		}
		if !done || total != len(body) {
			t.Fatalf("%q byte by byte: done %v, consumed %d", body, done, total)
		}
	}
}

func TestChunkedScannerAfterDone(t *testing.T) {
	var s ChunkedScanner
	if n, done, err := s.Scan([]byte("0\r\n\r\nrest")); n != 5 || !done || err != nil {
		t.Fatalf("Scan = %d %v %v", n, done, err)
	}
	if n, done, err := s.Scan([]byte("rest")); n != 0 || !done || err != nil {
		t.Fatalf("Scan after done = %d %v %v", n, done, err)
	}
	if n, done, err := s.Scan(nil); n != 0 || !done || err != nil {
		t.Fatalf("Scan(nil) after done = %d %v %v", n, done, err)
	}
	s.Reset()
	if n, done, err := s.Scan([]byte("3\r\nabc")); n != 6 || done || err != nil {
		t.Fatalf("Scan after Reset = %d %v %v", n, done, err)
	}
}

func TestChunkedScannerHugeChunk(t *testing.T) {
	// The largest size there is: the scanner only counts, it never allocates.
	var s ChunkedScanner
	n, done, err := s.Scan([]byte("ffffffffffffffff\r\n" + strings.Repeat("x", 1000)))
	if err != nil || done || n != 1018 {
		t.Fatalf("Scan = %d %v %v", n, done, err)
	}
	if s.remaining != 1<<64-1-1000 {
		t.Fatalf("remaining = %d", s.remaining)
	}
}

var chunkedErrorTests = []struct {
	name, in string
	err      *Error
	at       int // n returned with the error
}{
	{"empty size", "\r\n", errChunkSize, 0},
	{"not hex", "g\r\n", errChunkSize, 0},
	{"sign", "+5\r\nhello\r\n0\r\n\r\n", errChunkSize, 0},
	{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", errChunkSize, 1},
	{"leading space", " 5\r\nhello\r\n0\r\n\r\n", errChunkSize, 0},
	{"17 digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", errChunkSizeLong, 16},
	{"overflow", "10000000000000000\r\n", errChunkSizeLong, 16},
	{"space inside size", "1 0\r\n", errChunkExtension, 2},
	{"bare CR after size", "5\rhello\r\n", errChunkBareCR, 2},
	{"empty extension", "5;\r\nhello\r\n0\r\n\r\n", errChunkExtension, 2},
	{"extension bad name", "5;(a)\r\n", errChunkExtension, 2},
	{"extension empty value", "5;a=\r\n", errChunkExtension, 4},
	{"extension bad value", "5;a=b(c)\r\n", errChunkExtension, 5},
	{"extension unterminated quote", "5;a=\"b\r\n", errChunkExtension, 6},
	{"extension junk after quote", "5;a=\"b\"c\r\n", errChunkExtension, 7},
	{"extension control in quote", "5;a=\"\x01\"\r\n", errChunkExtension, 5},
	{"extension LF in quote", "5;a=\"\n\"\r\n", errChunkExtension, 5},
	{"extension bad quoted-pair", "5;a=\"\\\x00\"\r\n", errChunkExtension, 6},
	{"extension space in name", "5;a b\r\n", errChunkExtension, 4},
	{"extension double equals", "5;a==b\r\n", errChunkExtension, 4},
	{"data too long", "5\r\nhello!\r\n0\r\n\r\n", errChunkDataEnd, 8},
	{"data too short", "5\r\nhel\r\n0\r\n\r\n", errChunkDataEnd, 8},
	{"data short by one, its CR taken as data", "5\r\nhell\r\nX", errChunkBareLF, 8},
	{"bare LF after the size", "5\nhello\r\n0\r\n\r\n", errChunkBareLF, 1},
	{"bare LF after data", "5\r\nhello\n0\r\n\r\n", errChunkBareLF, 8},
	{"bare LF ending the last chunk", "0\n\r\n", errChunkBareLF, 1},
	{"bare LF ending a trailer", "0\r\nA: x\n\r\n", errChunkBareLF, 7},
	{"bare LF ending the body", "0\r\n\n", errChunkBareLF, 3},
	{"bare CR after data", "5\r\nhello\rX", errChunkBareCR, 9},
	{"trailer without colon", "0\r\nTrailer\r\n\r\n", errTrailerColon, 10},
	{"trailer space before colon", "0\r\nA : b\r\n\r\n", errTrailerSpace, 4},
	{"trailer empty name", "0\r\n: b\r\n\r\n", errTrailerName, 3},
	{"trailer bad name", "0\r\nA(: b\r\n\r\n", errTrailerName, 4},
	{"trailer leading fold", "0\r\n A: b\r\n\r\n", errTrailerFold, 3},
	{"trailer NUL", "0\r\nA: \x00\r\n\r\n", errTrailerNUL, 6},
	{"trailer bare CR", "0\r\nA: b\rc\r\n\r\n", errChunkBareCR, 8},
	{"final bare CR", "0\r\n\rX", errChunkBareCR, 4},
}

func TestChunkedScannerErrors(t *testing.T) {
	for _, tt := range chunkedErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			var s ChunkedScanner
			n, done, err := s.Scan([]byte(tt.in))
			if err != error(tt.err) || done || n != tt.at {
				t.Fatalf("Scan(%q) = %d, %v, %v; want %d, false, %v", tt.in, n, done, err, tt.at, tt.err)
			}
			if tt.err.Status != 400 {
				t.Errorf("status %d", tt.err.Status)
			}
			// The error sticks.
			if n, _, err := s.Scan([]byte("0\r\n\r\n")); err != error(tt.err) || n != 0 {
				t.Errorf("after error: %d, %v", n, err)
			}
			// And it is found whatever the split.
			for i := 0; i <= len(tt.in); i++ {
				var s ChunkedScanner
				n1, _, err := s.Scan([]byte(tt.in[:i]))
				if err == nil {
					var n2 int
					n2, _, err = s.Scan([]byte(tt.in[i:]))
					n1 += n2
				}
				if err != error(tt.err) || n1 != tt.at {
					t.Fatalf("split at %d: %d, %v", i, n1, err)
				}
			}
		})
	}
}

func TestChunkedScannerLimits(t *testing.T) {
	// sizeLine returns a chunk-size line of exactly n bytes, CRLF included.
	sizeLine := func(n int) string {
		return "5;e=" + strings.Repeat("v", n-len("5;e=\r\n")) + "\r\n"
	}
	trailerLine := func(n int) string {
		return "T: " + strings.Repeat("v", n-len("T: \r\n")) + "\r\n"
	}
	tests := []struct {
		name string
		in   string
		err  *Error
	}{
		{"size line at limit", sizeLine(MaxHeaderLine) + "hello\r\n0\r\n\r\n", nil},
		{"size line over limit", sizeLine(MaxHeaderLine+1) + "hello\r\n0\r\n\r\n", errChunkLineLong},
		{"trailer line at limit", "0\r\n" + trailerLine(MaxHeaderLine) + "\r\n", nil},
		{"trailer line over limit", "0\r\n" + trailerLine(MaxHeaderLine+1) + "\r\n", errTrailerLineLong},
		{"trailer section at limit", "0\r\n" + strings.Repeat(trailerLine(MaxRequestHead/8), 8)[:MaxRequestHead-len("vv\r\n\r\n")] + "vv\r\n\r\n", nil},
		{"trailer section over limit", "0\r\n" + strings.Repeat(trailerLine(MaxRequestHead/8), 8)[:MaxRequestHead-len("vv\r\n\r\n")] + "vvv\r\n\r\n", errTrailerTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, done, err := scanAll(tt.in)
			if tt.err == nil {
				if err != nil || !done || n != len(tt.in) {
					t.Fatalf("Scan = %d, %v, %v; want %d, true, nil", n, done, err, len(tt.in))
				}
				return
			}
			if err != error(tt.err) {
				t.Fatalf("Scan = %d, %v, %v; want %v", n, done, err, tt.err)
			}
		})
	}
}
