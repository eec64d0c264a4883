package desync

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/albatross-lb/albatross/internal/http1"
)

// classifyRaw parses head with the codec and classifies it. Heads the codec
// rejects only for their framing are classified too.
func classifyRaw(t testing.TB, head string) Verdict {
	t.Helper()
	var req http1.Request
	if err := http1.ParseRequest([]byte(head), &req); err != nil {
		if e, ok := err.(*http1.Error); !ok || !e.Complete {
			t.Fatalf("ParseRequest(%q): %v", head, err)
		}
	}
	return Classify(&req)
}

// TestClassifyWireHeads covers the reasons the corpus cannot show in its
// parsed form (line ends, obs-fold) and heads as Albatross's codec hands them
// over: raw header names, whitespace after the version, framing errors.
func TestClassifyWireHeads(t *testing.T) {
	tests := []struct {
		name, head string
		class      Class
		reason     Reason
		teSpace    bool
	}{
		{"plain GET", "GET /a?b=c HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n", Compliant, ReasonNone, false},
		{"POST with length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", Compliant, ReasonNone, false},
		{"chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", Compliant, ReasonNone, false},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", Compliant, ReasonNone, false},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", Acceptable, NonCRLFLineTermination, false},
		{"bare LF beats a later acceptable reason", "GET /a b HTTP/1.1\r\nHost: x\n\r\n", Acceptable, NonCRLFLineTermination, false},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", Ambiguous, MultilineHeader, false},
		{"obs-fold of Content-Type", "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\n", Compliant, ReasonNone, false},
		{"version with trailing space", "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", Acceptable, NonCompliantVersion, false},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", Acceptable, NonCompliantVersion, false},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", Acceptable, SpaceInURI, false},
		{"control in target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", Ambiguous, AmbiguousURI, false},
		{"separator in name", "GET / HTTP/1.1\r\nHost: x\r\nX(a): 1\r\n\r\n", Acceptable, NonCompliantHeader, false},
		{"control in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: \x01\r\n\r\n", Acceptable, NonCompliantHeader, false},
		{"obs-text in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: caf\xc3\xa9\r\n\r\n", Compliant, ReasonNone, false},
		{"empty name", "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", Ambiguous, EmptyHeader, false},
		{"underscore look-alike", "POST / HTTP/1.1\r\nHost: x\r\nContent_Length: 5\r\n\r\n", Ambiguous, SuspiciousHeader, false},
		{"dotless i look-alike", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encod\xc4\xb1ng: chunked\r\n\r\n", Ambiguous, SuspiciousHeader, false},
		{"leading whitespace name", "POST / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: x\r\n\r\n", Ambiguous, SuspiciousHeader, false},
		{"TE space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", Ambiguous, SuspiciousHeader, true},
		{"TE tab before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding\t: chunked\r\n\r\n", Ambiguous, SuspiciousHeader, true},
		{"CL space before colon", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n", Ambiguous, SuspiciousHeader, false},
		{"both TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", Ambiguous, BothTEAndCL, false},
		{"duplicate CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", Ambiguous, DuplicateContentLength, false},
		{"GET with CL 0", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", Acceptable, GetHeadZeroContentLength, false},
		{"GET with a body", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", Ambiguous, UndefinedContentLengthSemantics, false},
		{"HEAD chunked", "HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", Ambiguous, UndefinedTransferEncodingSemantics, false},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", Ambiguous, UndefinedTransferEncodingSemantics, false},
		// Framing the codec cannot use: it reports the error with the whole
		// head (Error.Complete), and the classifier grades it.
		{"conflicting CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", Severe, MultipleContentLength, false},
		{"CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5,5\r\n\r\n", Severe, BadContentLength, false},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", Severe, BadTransferEncoding, false},
		{"chunked twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", Severe, MultipleTransferEncodingChunked, false},
		{"gzip then chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", Compliant, ReasonNone, false},
		{"look-alike CL conflicting with the real one", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent_Length: 6\r\n\r\n", Severe, MultipleContentLength, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := classifyRaw(t, tt.head)
			if v.Class != tt.class || v.Reason != tt.reason || v.TEWhitespace != tt.teSpace {
				t.Errorf("Classify(%q) = %v/%v TEWhitespace %v, want %v/%v %v", tt.head, v.Class, v.Reason, v.TEWhitespace, tt.class, tt.reason, tt.teSpace)
			}
		})
	}
}

func TestSimilarity(t *testing.T) {
	tests := []struct {
		want, name string
		like       likeness
	}{
		{nameTE, "Transfer-Encoding", identical},
		{nameTE, "TRANSFER-ENCODING", identical},
		{nameTE, "Transfer_Encoding", sameLetters},
		{nameTE, "Transfer-Encoding ", sameLetters},
		{nameTE, " Transfer-Encoding", sameLetters},
		{nameTE, "\x01Transfer-Encoding", sameLetters},
		{nameTE, "Transfer-Encodin\x0bg", sameLetters},
		{nameTE, "Tran\xc5\xbffer-Encoding", sameLetters},
		{nameTE, "Transfer-Encod\xc4\xb1ng", sameLetters},
		{nameTE, "Transfer-Encodings", distant},
		{nameTE, "X-Transfer-Encoding", distant},
		{nameTE, "Transfer", distant},
		{nameCL, "Content-Length", identical},
		{nameCL, "content_length", sameLetters},
		{nameCL, "Content-Length:", sameLetters},
		{nameCL, "Content-Length-X", distant},
		{nameCL, "Content-Type", distant},
		{nameCL, "Content.Length", sameLetters},
		{nameCL, "Conte.nt-Length", distant},
	}
	for _, tt := range tests {
		if got := similarity(tt.want, []byte(tt.name)); got != tt.like {
			t.Errorf("similarity(%q, %q) = %d, want %d", tt.want, tt.name, got, tt.like)
		}
	}
}

func TestDecide(t *testing.T) {
	want := map[Mode][4]Action{
		Monitor:   {Forward, Forward, Forward, Forward},
		Defensive: {Forward, Forward, ForwardThenClose, Reject},
		Strictest: {Forward, Reject, Reject, Reject},
	}
	for m, row := range want {
		for c, a := range row {
			if got := m.Decide(Verdict{Class: Class(c)}); got != a {
				t.Errorf("%v.Decide(%v) = %d, want %d", m, Class(c), got, a)
			}
			if got := m.Decide(Verdict{Class: Class(c), TEWhitespace: true}); got != Reject {
				t.Errorf("%v.Decide(%v with TE whitespace) = %d, want Reject", m, Class(c), got)
			}
		}
	}
	for _, s := range []string{"monitor", "defensive", "strictest"} {
		m, err := ParseMode(s)
		if err != nil || m.String() != s || ModeOf(s) != m {
			t.Errorf("ParseMode(%q) = %v, %v", s, m, err)
		}
	}
	if _, err := ParseMode("Defensive"); err == nil {
		t.Error("ParseMode accepted a misspelt mode")
	}
	if ModeOf("") != Defensive {
		t.Error("ModeOf(\"\") is not ALB's default, defensive")
	}
}

func TestLogFields(t *testing.T) {
	if c, r := (Verdict{}).LogFields(); c != "" || r != "" {
		t.Errorf("compliant: %q %q, want empty (logged as -)", c, r)
	}
	if c, r := (Verdict{Class: Ambiguous, Reason: SuspiciousHeader}).LogFields(); c != "Ambiguous" || r != "SuspiciousHeader" {
		t.Errorf("ambiguous: %q %q", c, r)
	}
	for r := Reason(1); r < numReasons; r++ {
		if reasonNames[r] == "" {
			t.Errorf("reason %d has no name", r)
		}
	}
}

func TestClassifyDoesNotAllocate(t *testing.T) {
	heads := []string{
		"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\nContent_Length: 6\r\nX(a): \x01\r\n\r\n",
		"GET /a\x01 b HTTP/1.2 \r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n",
	}
	for _, h := range heads {
		var req http1.Request
		if err := http1.ParseRequest([]byte(h), &req); err != nil {
			if e, ok := err.(*http1.Error); !ok || !e.Complete {
				t.Fatal(err)
			}
		}
		if n := testing.AllocsPerRun(100, func() { Classify(&req) }); n != 0 {
			t.Errorf("Classify allocates %v times on %q", n, h)
		}
		// The request path reads the mode from the attribute on every request,
		// whatever its value.
		if n := testing.AllocsPerRun(100, func() { ModeOf("").Decide(Classify(&req)) }); n != 0 {
			t.Errorf("ModeOf and Decide allocate %v times", n)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	head := "GET /api/v1/items?limit=10 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=0123456789abcdef0123456789abcdef\r\nX-Request-Id: 3f2a9c\r\nContent-Length: 0\r\n\r\n"
	var req http1.Request
	if err := http1.ParseRequest([]byte(head), &req); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(head)))
	b.ReportAllocs()
	for b.Loop() {
		Classify(&req)
	}
}

// TestClassifyRaw covers heads the codec refuses outright: their 400 is logged
// with the class and reason ALB gives them.
func TestClassifyRaw(t *testing.T) {
	tests := []struct {
		name, head string
		class      Class
		reason     Reason
	}{
		{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", Severe, BadHeader},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", Severe, BadHeader},
		{"NUL in target", "GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", Severe, BadURI},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", Severe, BadMethod},
		{"bad version", "GET / HTTP/1.1x\r\nHost: x\r\n\r\n", Severe, BadVersion},
		{"lowercase version", "GET / http/1.1\r\nHost: x\r\n\r\n", Compliant, ReasonNone},
		{"missing colon", "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", Ambiguous, MissingHeaderColon},
		{"missing target", "GET  HTTP/1.1\r\nHost: x\r\n\r\n", Ambiguous, MissingURI},
		{"method only", "GET\r\n\r\n", Ambiguous, MissingURI},
		{"leading empty lines", "\r\n\nGET /a\x00 HTTP/1.1\r\n\r\n", Severe, BadURI},
		{"incomplete", "GET /a\x00", Severe, BadURI},
		{"folded after missing colon", "GET / HTTP/1.1\r\nA\r\nB: 1\r\n 2\r\n\r\n", Ambiguous, MissingHeaderColon},
		{"compliant", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", Compliant, ReasonNone},
		// A head too large made of empty lines only.
		{"only empty lines", strings.Repeat("\r\n", 1000) + strings.Repeat("\n", 1001), Ambiguous, MissingURI},
		{"empty lines, then a lone CR as the method", strings.Repeat("\n", 9) + "\r", Severe, BadMethod},
		{"nothing", "", Ambiguous, MissingURI},
	}
	var scratch http1.Request
	for _, tt := range tests {
		v := ClassifyRaw([]byte(tt.head), &scratch)
		if v.Class != tt.class || v.Reason != tt.reason {
			t.Errorf("%s: ClassifyRaw(%q) = %v/%v, want %v/%v", tt.name, tt.head, v.Class, v.Reason, tt.class, tt.reason)
		}
	}
	head := []byte("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\nNoColon\r\n\r\n")
	ClassifyRaw(head, &scratch)
	if n := testing.AllocsPerRun(100, func() { ClassifyRaw(head, &scratch) }); n != 0 {
		t.Errorf("ClassifyRaw allocates %v times with a reused scratch request", n)
	}
}

func TestHasControl(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		x := r.Uint64()
		if i%2 == 0 {
			// Mostly printable words, with the odd byte from anywhere.
			x = 0
			for k := 0; k < 8; k++ {
				c := uint64(0x20 + r.IntN(0x5f))
				if r.IntN(10) == 0 {
					c = uint64(r.IntN(256))
				}
				x |= c << (8 * k)
			}
		}
		want := false
		for k := 0; k < 8; k++ {
			if c := byte(x >> (8 * k)); c < ' ' || c == 0x7f {
				want = true
			}
		}
		if got := hasControl(x); got != want {
			t.Fatalf("hasControl(%#016x) = %v, want %v", x, got, want)
		}
	}
}
