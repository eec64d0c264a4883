package analyze

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzLine feeds arbitrary lines through the parser and the aggregation: no
// input may panic, every line is counted once (as a request or as
// malformed), and path normalisation stays bounded and stable.
func FuzzLine(f *testing.F) {
	for _, l := range []string{spec460, spec502, spec504, awsDoc2016, awsDocHTTP, awsDocLambdaFail, seed460, "garbage", ""} {
		f.Add([]byte(l))
	}
	s := newShard(&Filter{}, 10) // one per worker process: a shard is large
	f.Fuzz(func(t *testing.T, line []byte) {
		lines, requests, malformed := s.lines, s.requests, s.malformed
		s.line(line, 0, 0, 1)
		if s.lines != lines+1 || s.requests+s.malformed != requests+malformed+1 {
			t.Fatalf("line counted as %d requests and %d malformed", s.requests-requests, s.malformed-malformed)
		}
		var total int64
		for _, n := range s.elb {
			total += n
		}
		if total != s.requests {
			t.Fatalf("status counts sum to %d, requests %d", total, s.requests)
		}
		norm := normalizePath(nil, line)
		if len(norm) > maxPathKey+3 {
			t.Fatalf("normalised path of %d bytes", len(norm))
		}
		if len(norm) <= maxPathKey && !bytes.Equal(normalizePath(nil, norm), norm) {
			t.Fatalf("normalising %q twice gives %q", norm, normalizePath(nil, norm))
		}
		glob(string(line), line)
		// logs explain reads any line without panicking, and what it says
		// is valid UTF-8 text and JSON.
		x := Explain(line, 1)
		b, err := json.Marshal(x)
		if err != nil || !utf8.Valid(b) {
			t.Fatalf("explanation does not encode: %v", err)
		}
		if (x.Error == "") != (s.malformed == malformed) {
			t.Fatalf("explain and the aggregation disagree on whether %q is readable: %q", line, x.Error)
		}
	})
}
