package http1

// Fuzzing against net/http as an oracle.
//
// Each fuzzer runs our parser and net/http's on the same bytes. When both accept,
// everything both compute must agree. When exactly one accepts, the input must
// fall in one of the intended differences below: each is a named, explicit
// predicate over the input (and over what the accepting side parsed), never "the
// two disagree". Any other disagreement fails the test.
//
// Intended differences, request heads (FuzzParseRequest):
//
//   - LeadingEmptyLines: we skip empty lines before the request line (RFC 9112
//     §2.2); http.ReadRequest does not.
//   - HTTP09: we accept a request line without version (spec §8.4); net/http
//     does not.
//   - SpaceInTarget: we split the request line at its first and last SP, so the
//     target may contain spaces (ALB forwards them, SpaceInUri); net/http splits
//     at the first two.
//   - TargetNotURI: net/http parses the target with url.ParseRequestURI and
//     rejects what it cannot parse (control bytes, bad escapes or hosts, a
//     relative path); we forward any target without NUL or CR and leave the
//     rest to the desync classifier and the router.
//   - CtlInValue: we accept control bytes other than NUL and CR (and DEL) in
//     field values, as ALB does (NonCompliantHeader); net/http rejects them.
//   - MultipleHost: we report several Host fields (HostCount) and let the proxy
//     decide; http.ReadRequest rejects them.
//   - TEList: we read Transfer-Encoding as the list RFC 9112 §6.1 defines
//     (several fields, "identity" ignored); net/http accepts only a single field
//     whose whole value is "chunked" (and 501s the rest).
//   - TEOnHTTP10: in HTTP/1.0 we frame by Transfer-Encoding and close after the
//     message (RFC 9112 §6.1); net/http ignores Transfer-Encoding there, so the
//     framing, keep-alive and the TE errors may differ.
//   - NonTokenFieldName: we accept any request field name without a colon,
//     NUL, CR or LF (whitespace before the colon, separators, control bytes,
//     non-ASCII, an empty name) and keep it as received: ALB forwards such
//     requests and its desync classifier grades them (spec §9.2); net/http
//     rejects names that are not tokens, and trims or keeps whitespace before
//     the colon differently (Go issue 34540).
//   - VersionTrailingSpace: we accept SP and HTAB between the version and the
//     line end (kept in RawProto; ALB forwards it as NonCompliantVersion);
//     net/http does not.
//   - MajorVersionNot1: we answer 505 (502 for a response) to any HTTP/D.D
//     other than 1.x; net/http accepts HTTP/0.x and HTTP/2.x to 9.x heads. We
//     refuse such a head whichever of its faults we find first.
//   - EmptyConnectTarget: we reject an empty request target (RFC 9112 §3.2);
//     net/http lets an empty one through for CONNECT.
//   - SizeLimit: we enforce ALB's limits (spec §7.7); http.ReadRequest has none.
//   - TrailerFraming: net/http rejects a chunked message whose Trailer field
//     announces Transfer-Encoding, Content-Length or Trailer; we do not
//     interpret Trailer (the proxy drops it as hop-by-hop).
//
// Response heads (FuzzParseResponse) share CtlInValue, TEList, TEOnHTTP10,
// MajorVersionNot1, SizeLimit and TrailerFraming, and add:
//
//   - SpaceInFieldName: net/http accepts SP inside a field name or before the
//     colon (Go issue 34540); we reject it in responses (RFC 9112 §5.1), as
//     we reject every field name that is not a token there.
//
//   - StatusOutOfRange: we require a status of 100 to 599 (RFC 9110 §15);
//     net/http accepts any three characters strconv.Atoi reads as >= 0.
//   - StatusLineSpaces: net/http skips several SP between version and status; we
//     require exactly one (RFC 9112 §4).
//   - CtlInStatusLine: net/http accepts NUL and a bare CR in the reason phrase;
//     we reject them as everywhere in a head.
//
// Chunked bodies (FuzzChunkedScanner), against httputil.NewChunkedReader plus
// textproto for the trailer section (what net/http's body reader does):
//
//   - BareLFInTrailer: we reject a bare LF anywhere in a chunked body, trailer
//     section included (the body is relayed verbatim, so its line ends must be
//     unambiguous); net/http rejects it in chunk framing but its trailer reader
//     (textproto) accepts it.
//   - ChunkExtension: we check chunk extensions against the grammar of RFC 9112
//     §7.1.1; net/http ignores everything after ";".
//   - BWSBeforeSemicolon: we accept whitespace between the size and ";" (BWS in
//     RFC 9112 §7.1.1); net/http rejects it.
//   - ChunkLineLength: net/http refuses chunk-size lines of about 4 KiB or more
//     (its line buffer); our limit is MaxHeaderLine.
//   - ChunkOverhead: net/http refuses bodies whose framing outweighs their data
//     ("too much non-data"); we relay them.
//   - CtlInValue and SpaceInFieldName, in trailer fields.
//   - SizeLimit: our limits on trailer lines and the trailer section.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// Names of the intended differences, as documented above.
const (
	diffLeadingEmptyLines  = "LeadingEmptyLines"
	diffHTTP09             = "HTTP09"
	diffSpaceInTarget      = "SpaceInTarget"
	diffTargetNotURI       = "TargetNotURI"
	diffCtlInValue         = "CtlInValue"
	diffMultipleHost       = "MultipleHost"
	diffTEList             = "TEList"
	diffTEOnHTTP10         = "TEOnHTTP10"
	diffSpaceInFieldName   = "SpaceInFieldName"
	diffNonTokenFieldName  = "NonTokenFieldName"
	diffVersionTrailingSp  = "VersionTrailingSpace"
	diffMajorVersionNot1   = "MajorVersionNot1"
	diffEmptyConnectTarget = "EmptyConnectTarget"
	diffSizeLimit          = "SizeLimit"
	diffStatusOutOfRange   = "StatusOutOfRange"
	diffStatusLineSpaces   = "StatusLineSpaces"
	diffCtlInStatusLine    = "CtlInStatusLine"
	diffBareLFInTrailer    = "BareLFInTrailer"
	diffChunkExtension     = "ChunkExtension"
	diffBWSBeforeSemicolon = "BWSBeforeSemicolon"
	diffChunkLineLength    = "ChunkLineLength"
	diffChunkOverhead      = "ChunkOverhead"
	diffTrailerFraming     = "TrailerFraming"
)

// trailerListsFraming reports whether a Trailer field announces
// Transfer-Encoding, Content-Length or Trailer, which net/http refuses.
func trailerListsFraming(hs []Header) bool {
	for _, h := range hs {
		if EqualFold(h.Name, "Trailer") {
			for _, f := range []string{"Transfer-Encoding", "Content-Length", "Trailer"} {
				if HasToken(h.Value, f) {
					return true
				}
			}
		}
	}
	return false
}

func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRequest(t, data)
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		checkResponse(t, data, method)
	})
}

func FuzzChunkedScanner(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		checkChunked(t, data, int(split))
	})
}

// ---------------------------------------------------------------------------
// Requests

func checkRequest(t *testing.T, data []byte) {
	var req Request
	err := ParseRequest(bytes.Clone(data), &req)
	theirs, terr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))

	switch {
	case err == ErrIncomplete:
		// net/http needs the empty line too: it cannot have accepted.
		if terr == nil {
			t.Fatalf("we need more input, net/http accepted %q", clip(data))
		}
		return
	case err != nil:
		var e *Error
		if !errors.As(err, &e) || (e.Status != 400 && e.Status != 501 && e.Status != 505) {
			t.Fatalf("ParseRequest error %v is not an *Error with 400/501/505", err)
		}
		if terr == nil {
			if d := requestStricter(data, e, theirs); d == "" {
				t.Fatalf("we reject (%v), net/http accepts:\n%q", err, clip(data))
			}
		}
		return
	}

	checkRequestConsistency(t, data, &req)
	if terr != nil {
		if d := requestLaxer(data, &req); d == "" {
			t.Fatalf("we accept, net/http rejects (%v):\n%q", terr, clip(data))
		}
		return
	}
	compareRequests(t, data, &req, theirs)
}

// checkRequestConsistency checks properties of an accepted head that need no
// oracle: the head ends exactly at HeadLen, and a shorter buffer is incomplete.
func checkRequestConsistency(t *testing.T, data []byte, req *Request) {
	if req.HeadLen <= 0 || req.HeadLen > len(data) || req.HeadLen > MaxRequestHead {
		t.Fatalf("HeadLen %d out of range for %d bytes", req.HeadLen, len(data))
	}
	var again Request
	if err := ParseRequest(bytes.Clone(data[:req.HeadLen]), &again); err != nil || again.HeadLen != req.HeadLen {
		t.Fatalf("head alone: %v, HeadLen %d, want %d", err, again.HeadLen, req.HeadLen)
	}
	if err := ParseRequest(bytes.Clone(data[:req.HeadLen-1]), &again); err != ErrIncomplete {
		t.Fatalf("head minus one byte: %v, want ErrIncomplete", err)
	}
	if req.Major == 0 {
		return
	}
	for _, h := range req.Headers {
		if bytes.ContainsAny(h.Name, ":\x00\r\n") {
			t.Fatalf("accepted field name %q", h.Name)
		}
		if bytes.IndexByte(h.Value, 0) >= 0 || bytes.IndexByte(h.Value, '\r') >= 0 || bytes.IndexByte(h.Value, '\n') >= 0 {
			t.Fatalf("accepted field value %q", h.Value)
		}
	}
}

// requestStricter names the intended difference that explains why we rejected
// a head net/http accepted, or returns "".
func requestStricter(data []byte, e *Error, theirs *http.Request) string {
	if theirs.ProtoMajor != 1 {
		// We refuse every such version; another fault may be found first.
		return diffMajorVersionNot1
	}
	switch e {
	case &requestErrors[errMissingTarget]:
		if theirs.Method == "CONNECT" && theirs.RequestURI == "" {
			return diffEmptyConnectTarget
		}
	case &requestErrors[errUnsupportedTransferEncoding], &requestErrors[errChunkedTwice]:
		if theirs.ProtoMajor == 1 && theirs.ProtoMinor == 0 && hasField(data, "Transfer-Encoding") {
			return diffTEOnHTTP10
		}
	case &requestErrors[errStartLineTooLong], &requestErrors[errHeaderLineTooLong], &requestErrors[errHeadTooLarge]:
		if exceedsLimits(data, MaxRequestLine, MaxHeaderLine, MaxRequestHead) {
			return diffSizeLimit
		}
	}
	return ""
}

// requestLaxer names the intended difference that explains why we accepted a
// head net/http rejected, or returns "".
func requestLaxer(data []byte, req *Request) string {
	switch {
	case data[0] == '\r' || data[0] == '\n':
		return diffLeadingEmptyLines
	case req.Major == 0:
		return diffHTTP09
	case len(req.RawProto) != len(req.Proto):
		return diffVersionTrailingSp
	case hasNonTokenName(req.Headers):
		return diffNonTokenFieldName
	case bytes.IndexByte(req.Target, ' ') >= 0:
		return diffSpaceInTarget
	case netHTTPRejectsTarget(string(req.Method), string(req.Target)):
		return diffTargetNotURI
	case hasCtlInValues(req.Headers):
		return diffCtlInValue
	case req.HostCount > 1:
		return diffMultipleHost
	case req.Minor >= 1 && isTEList(req.Headers):
		return diffTEList
	case req.Body == BodyChunked && trailerListsFraming(req.Headers):
		return diffTrailerFraming
	}
	return ""
}

func compareRequests(t *testing.T, data []byte, req *Request, theirs *http.Request) {
	if string(req.Method) != theirs.Method || string(req.Target) != theirs.RequestURI || string(req.Proto) != theirs.Proto ||
		req.Major != theirs.ProtoMajor || req.Minor != theirs.ProtoMinor {
		t.Fatalf("request line: ours %q %q %q %d.%d, net/http %q %q %q %d.%d\n%q",
			req.Method, req.Target, req.Proto, req.Major, req.Minor,
			theirs.Method, theirs.RequestURI, theirs.Proto, theirs.ProtoMajor, theirs.ProtoMinor, data)
	}
	// ReadRequest moves Host out of the header map (it is compared below), and
	// Trailer into Request.Trailer when the body is chunked.
	hs := withoutField(req.Headers, "Host")
	if len(theirs.TransferEncoding) > 0 {
		hs = withoutField(hs, "Trailer")
	}
	compareHeaders(t, data, hs, theirs.Header, req.ObsFold)
	if theirs.URL.Host == "" && foldNorm(string(req.Host), req.ObsFold) != foldNorm(theirs.Host, req.ObsFold) {
		t.Fatalf("Host: ours %q, net/http %q\n%q", req.Host, theirs.Host, clip(data))
	}

	teOn10 := req.Minor == 0 && hasFieldIn(req.Headers, "Transfer-Encoding")
	if teOn10 {
		return // diffTEOnHTTP10: framing and keep-alive may differ
	}
	var want int64
	switch req.Body {
	case BodyChunked:
		want = -1
	case BodyLength:
		want = req.ContentLength
	}
	if want != theirs.ContentLength || (req.Body == BodyChunked) != (len(theirs.TransferEncoding) == 1) {
		t.Fatalf("framing: ours %v %d, net/http CL %d TE %q\n%q", req.Body, req.ContentLength, theirs.ContentLength, theirs.TransferEncoding, clip(data))
	}
	if req.KeepAlive == theirs.Close {
		t.Fatalf("keep-alive: ours %v, net/http close %v\n%q", req.KeepAlive, theirs.Close, clip(data))
	}
}

// netHTTPRejectsTarget reports whether http.ReadRequest would reject target,
// repeating its own check (it parses CONNECT authorities as http:// URLs).
func netHTTPRejectsTarget(method, target string) bool {
	if method == "CONNECT" && !strings.HasPrefix(target, "/") {
		target = "http://" + target
	}
	_, err := url.ParseRequestURI(target)
	return err != nil
}

// ---------------------------------------------------------------------------
// Responses

func checkResponse(t *testing.T, data []byte, method string) {
	var resp Response
	err := ParseResponse(bytes.Clone(data), &resp, []byte(method))
	theirs, terr := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})

	switch {
	case err == ErrIncomplete:
		if terr == nil {
			t.Fatalf("we need more input, net/http accepted %q", clip(data))
		}
		return
	case err != nil:
		var e *Error
		if !errors.As(err, &e) || e.Status != 502 {
			t.Fatalf("ParseResponse error %v is not an *Error with 502", err)
		}
		if terr == nil {
			if d := responseStricter(data, e, theirs); d == "" {
				t.Fatalf("we reject (%v), net/http accepts:\n%q", err, clip(data))
			}
		}
		return
	}

	if resp.HeadLen <= 0 || resp.HeadLen > len(data) || resp.HeadLen > MaxResponseHead {
		t.Fatalf("HeadLen %d out of range", resp.HeadLen)
	}
	var again Response
	if err := ParseResponse(bytes.Clone(data[:resp.HeadLen-1]), &again, []byte(method)); err != ErrIncomplete {
		t.Fatalf("head minus one byte: %v, want ErrIncomplete", err)
	}
	if terr != nil {
		if d := responseLaxer(&resp); d == "" {
			t.Fatalf("we accept, net/http rejects (%v):\n%q", terr, clip(data))
		}
		return
	}
	compareResponses(t, data, &resp, theirs)
}

func responseStricter(data []byte, e *Error, theirs *http.Response) string {
	if theirs.ProtoMajor != 1 {
		// We refuse every such version; another fault may be found first.
		return diffMajorVersionNot1
	}
	switch e {
	case &responseErrors[errSpaceBeforeColon]:
		if hasSpaceInFieldName(data) {
			return diffSpaceInFieldName
		}
	case &responseErrors[errBadStatusCode], &responseErrors[errBadStatusLine]:
		if theirs.StatusCode < 100 || theirs.StatusCode > 599 {
			return diffStatusOutOfRange
		}
		if len(data) > 10 && bytes.HasPrefix(data[8:], []byte("  ")) {
			return diffStatusLineSpaces
		}
	case &responseErrors[errNUL], &responseErrors[errBareCR]:
		if line, _, _ := bytes.Cut(data, []byte("\n")); bytes.IndexByte(bytes.TrimSuffix(line, []byte("\r")), 0) >= 0 ||
			bytes.IndexByte(bytes.TrimSuffix(line, []byte("\r")), '\r') >= 0 {
			return diffCtlInStatusLine
		}
	case &responseErrors[errChunkedTwice]:
		if theirs.ProtoMajor == 1 && theirs.ProtoMinor == 0 {
			return diffTEOnHTTP10
		}
	case &responseErrors[errStartLineTooLong], &responseErrors[errHeadTooLarge]:
		if exceedsLimits(data, MaxResponseHead, MaxResponseHead, MaxResponseHead) {
			return diffSizeLimit
		}
	}
	return ""
}

func responseLaxer(resp *Response) string {
	switch {
	case hasCtlInValues(resp.Headers):
		return diffCtlInValue
	case resp.Minor >= 1 && isTEList(resp.Headers):
		return diffTEList
	case hasFieldIn(resp.Headers, "Transfer-Encoding") && trailerListsFraming(resp.Headers):
		return diffTrailerFraming
	}
	return ""
}

func compareResponses(t *testing.T, data []byte, resp *Response, theirs *http.Response) {
	status := strconv.Itoa(resp.Status)
	if theirs.StatusCode != resp.Status || string(resp.Proto) != theirs.Proto ||
		resp.Major != theirs.ProtoMajor || resp.Minor != theirs.ProtoMinor ||
		(theirs.Status != status && theirs.Status != status+" "+string(resp.Reason)) {
		t.Fatalf("status line: ours %q %d %q, net/http %q %q\n%q", resp.Proto, resp.Status, resp.Reason, theirs.Proto, theirs.Status, clip(data))
	}
	hs := resp.Headers
	if theirs.Header["Connection"] == nil {
		// net/http drops a Connection field that says close (shouldClose).
		hs = withoutField(hs, "Connection")
	}
	if len(theirs.TransferEncoding) > 0 {
		hs = withoutField(hs, "Trailer") // moved to Response.Trailer
	}
	compareHeaders(t, data, hs, theirs.Header, bytes.Contains(data[:resp.HeadLen], []byte("\n ")) || bytes.Contains(data[:resp.HeadLen], []byte("\n\t")))

	if resp.Minor == 0 && hasFieldIn(resp.Headers, "Transfer-Encoding") {
		return // diffTEOnHTTP10
	}
	chunked := len(theirs.TransferEncoding) == 1
	ok := true
	switch resp.Body {
	case BodyNone:
		ok = theirs.Body == http.NoBody
	case BodyChunked:
		ok = chunked && theirs.ContentLength == -1
	case BodyLength:
		ok = !chunked && theirs.ContentLength == resp.ContentLength
	case BodyUntilClose:
		ok = !chunked && theirs.ContentLength == -1 && theirs.Close
	}
	if !ok {
		t.Fatalf("framing: ours %v %d, net/http CL %d TE %q close %v\n%q", resp.Body, resp.ContentLength, theirs.ContentLength, theirs.TransferEncoding, theirs.Close, clip(data))
	}
	if resp.KeepAlive == theirs.Close {
		t.Fatalf("keep-alive: ours %v, net/http close %v\n%q", resp.KeepAlive, theirs.Close, clip(data))
	}
}

// ---------------------------------------------------------------------------
// Shared predicates and comparisons for heads

// compareHeaders compares our fields with net/http's map, keyed by canonical
// name. net/http removes Transfer-Encoding and rewrites Content-Length (we
// compare framing instead), and adds Cache-Control for "Pragma: no-cache". A
// folded value is joined by net/http with one SP and by us with the line break
// turned into spaces, so with obs-fold whitespace runs compare as one SP.
func compareHeaders(t *testing.T, data []byte, ours []Header, theirs http.Header, folded bool) {
	norm := func(s string) string { return foldNorm(s, folded) }
	got := map[string][]string{}
	for _, h := range ours {
		k := textproto.CanonicalMIMEHeaderKey(string(h.Name))
		got[k] = append(got[k], norm(string(h.Value)))
	}
	want := map[string][]string{}
	for k, vs := range theirs {
		for _, v := range vs {
			want[k] = append(want[k], norm(v))
		}
	}
	for _, k := range []string{"Transfer-Encoding", "Content-Length"} {
		delete(got, k)
		delete(want, k)
	}
	if got["Cache-Control"] == nil && want["Cache-Control"] != nil && got["Pragma"] != nil {
		delete(want, "Cache-Control")
	}
	if len(got) != len(want) {
		t.Fatalf("headers: ours %q, net/http %q\n%q", got, want, clip(data))
	}
	for k, vs := range got {
		ws := want[k]
		if len(vs) != len(ws) {
			t.Fatalf("header %s: ours %q, net/http %q\n%q", k, vs, ws, clip(data))
		}
		for i := range vs {
			if vs[i] != ws[i] {
				t.Fatalf("header %s: ours %q, net/http %q\n%q", k, vs, ws, clip(data))
			}
		}
	}
}

// foldNorm makes a value comparable across obs-fold handling: net/http joins
// a continuation with one SP and does not trim again (so a whitespace-only
// continuation leaves a trailing SP); we turn the line break into spaces and
// trim (RFC 9112 §5.1, §5.2). When the head had obs-fold, runs of whitespace
// compare as one SP and the ends are trimmed.
func foldNorm(s string, folded bool) string {
	if !folded {
		return s
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
}

// headLines returns the lines of the head at the start of data, without line
// ends, up to the first empty one.
func headLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 && len(lines) > 0 {
			break
		}
		lines = append(lines, line)
		data = rest
	}
	return lines
}

// hasSpaceInFieldName reports whether a field line of the head has a SP in the
// part before its first colon (and no other non-token byte there), which
// net/http accepts as a field name.
func hasSpaceInFieldName(data []byte) bool {
	lines := headLines(data)
	for _, line := range lines[min(1, len(lines)):] {
		if len(line) == 0 || isOWS(line[0]) {
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.IndexByte(name, ' ') >= 0 && isToken(bytes.ReplaceAll(name, []byte(" "), []byte("x"))) {
			return true
		}
	}
	return false
}

// hasField reports whether a field line of the head at the start of data has
// the given name.
func hasField(data []byte, name string) bool {
	lines := headLines(data)
	for _, line := range lines[min(1, len(lines)):] {
		if n, _, ok := bytes.Cut(line, []byte(":")); ok && EqualFold(n, name) {
			return true
		}
	}
	return false
}

func hasFieldIn(hs []Header, name string) bool {
	for _, h := range hs {
		if EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func withoutField(hs []Header, name string) []Header {
	var out []Header
	for _, h := range hs {
		if !EqualFold(h.Name, name) {
			out = append(out, h)
		}
	}
	return out
}

// hasCtlInValues reports whether a value has a byte net/http's field-value
// check refuses: a control byte other than HTAB, or DEL.
func hasCtlInValues(hs []Header) bool {
	for _, h := range hs {
		for _, c := range h.Value {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return true
			}
		}
	}
	return false
}

// isTEList reports whether the Transfer-Encoding fields are anything but the
// single "chunked" field net/http accepts.
func isTEList(hs []Header) bool {
	var tes [][]byte
	for _, h := range hs {
		if EqualFold(h.Name, "Transfer-Encoding") {
			tes = append(tes, h.Value)
		}
	}
	return len(tes) > 1 || (len(tes) == 1 && !EqualFold(tes[0], "chunked"))
}

// exceedsLimits reports whether the head at the start of data breaks a size
// limit: a first line or a field line longer than allowed (line end included),
// or no end of head within maxHead bytes.
func exceedsLimits(data []byte, maxFirst, maxLine, maxHead int) bool {
	end := bytes.Index(data, []byte("\n\r\n"))
	if e := bytes.Index(data, []byte("\n\n")); e >= 0 && (end < 0 || e < end) {
		end = e
	}
	if end < 0 || end > maxHead {
		return true
	}
	for i, line := range bytes.SplitAfter(data[:end+1], []byte("\n")) {
		limit := maxLine
		if i == 0 {
			limit = maxFirst
		}
		if len(line) > limit {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Chunked bodies

func checkChunked(t *testing.T, data []byte, split int) {
	var s ChunkedScanner
	n, done, err := s.Scan(data)

	// Split invariance: two pieces give what one did.
	k := split % (len(data) + 1)
	var s2 ChunkedScanner
	n2, done2, err2 := s2.Scan(data[:k])
	if err2 == nil && !done2 {
		if n2 != k {
			t.Fatalf("first piece: consumed %d of %d without done or error", n2, k)
		}
		var m int
		m, done2, err2 = s2.Scan(data[k:])
		n2 += m
	}
	if n2 != n || done2 != done || err2 != err || s2.dataLen != s.dataLen {
		t.Fatalf("split at %d: %d %v %v, one piece: %d %v %v\n%q", k, n2, done2, err2, n, done, err, clip(data))
	}
	if err == nil && !done && n != len(data) {
		t.Fatalf("consumed %d of %d without done or error", n, len(data))
	}

	// The oracle.
	src := bytes.NewReader(data)
	br := bufio.NewReader(src)
	decoded, terr := io.ReadAll(httputil.NewChunkedReader(br))
	trailerStart := -1 // where the trailer section starts, once the chunks are read
	if terr == nil {
		trailerStart = len(data) - src.Len() - br.Buffered()
		_, terr = textproto.NewReader(br).ReadMIMEHeader()
	}
	consumed := len(data) - src.Len() - br.Buffered()

	switch {
	case err == nil && !done:
		if terr == nil {
			t.Fatalf("we need more input, net/http finished after %d bytes\n%q", consumed, clip(data))
		}
	case err != nil:
		if terr == nil {
			if d := chunkedStricter(data, n, err); d == "" {
				t.Fatalf("we reject at %d (%v), net/http accepts\n%q", n, err, clip(data))
			}
		}
	case terr != nil:
		if d := chunkedLaxer(data[:n], consumed, trailerStart, terr); d == "" {
			t.Fatalf("we accept %d bytes, net/http rejects after %d (%v)\n%q", n, consumed, terr, clip(data))
		}
	default:
		if n != consumed || uint64(len(decoded)) != s.dataLen {
			t.Fatalf("ours: %d bytes, %d of data; net/http: %d bytes, %d of data\n%q", n, s.dataLen, consumed, len(decoded), clip(data))
		}
	}
}

// lineAround returns the line of data that holds data[i] (or ends just before
// it), without its line end.
func lineAround(data []byte, i int) []byte {
	i = min(i, len(data))
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	if start == i && i > 0 {
		start = bytes.LastIndexByte(data[:i-1], '\n') + 1
	}
	end := i
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		end = i + j
	}
	return bytes.TrimSuffix(data[start:end], []byte("\r"))
}

func chunkedStricter(data []byte, n int, err error) string {
	switch err {
	case errChunkExtension:
		line := lineAround(data, n)
		if semi := bytes.IndexByte(line, ';'); semi >= 0 && isHex(bytes.TrimRight(line[:semi], " \t")) {
			return diffChunkExtension
		}
	case errTrailerSpace:
		return diffSpaceInFieldName
	case errChunkBareLF:
		// net/http's chunk reader rejects a bare LF in framing itself, so the
		// only one it can accept is in the trailer section.
		return diffBareLFInTrailer
	case errChunkLineLong, errTrailerLineLong, errTrailerTooLarge:
		if len(data) > MaxHeaderLine {
			return diffSizeLimit
		}
	}
	return ""
}

func chunkedLaxer(body []byte, consumed, trailerStart int, terr error) string {
	line := lineAround(body, max(consumed-1, 0))
	msg := terr.Error()
	switch {
	case msg == "invalid byte in chunk length":
		size, _, _ := bytes.Cut(line, []byte(";"))
		if bytes.IndexByte(line, ';') >= 0 && isHex(bytes.TrimRight(size, " \t")) {
			return diffBWSBeforeSemicolon
		}
	case msg == "header line too long":
		if len(line) >= 4094-2 {
			return diffChunkLineLength
		}
	case msg == "chunked encoding contains too much non-data":
		return diffChunkOverhead
	case strings.HasPrefix(msg, "malformed MIME header"):
		// The trailer section: textproto refuses control bytes in values.
		if trailerStart >= 0 && hasCtlOutsideLineEnds(body[trailerStart:]) {
			return diffCtlInValue
		}
	}
	return ""
}

func isHex(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if _, ok := hexValue(c); !ok {
			return false
		}
	}
	return true
}

func hasCtlOutsideLineEnds(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t' && c != '\r' && c != '\n') || c == 0x7f {
			return true
		}
	}
	return false
}

// clip shortens data for a failure message.
func clip(data []byte) []byte {
	if len(data) > 400 {
		return append(bytes.Clone(data[:400]), "..."...)
	}
	return data
}

// hasNonTokenName reports whether a field name is not a token.
func hasNonTokenName(hs []Header) bool {
	for _, h := range hs {
		if !isToken(h.Name) {
			return true
		}
	}
	return false
}
