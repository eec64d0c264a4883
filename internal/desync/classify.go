package desync

import (
	"bytes"
	"math"

	"github.com/albatross-lb/albatross/internal/http1"
)

// Versions compared with as byte strings, as AWS's classifier compares them.
var (
	versionHTTP09 = []byte("HTTP/0.9")
	versionHTTP10 = []byte("HTTP/1.0")
	versionHTTP2  = []byte("HTTP/2")
)

// Classify grades the request head req as ALB does. It reads the head as
// received: the method, target and version as sent (req.RawProto, with any
// whitespace after the version, or req.Proto when RawProto is nil; empty for
// HTTP/0.9), the header names and values as
// received (a name may hold any byte but the colon), which header values were
// folded, and whether a line ended with a bare LF. It does not use what the
// codec derived from the head (framing, Host), so that a head one HTTP
// implementation reads one way and another reads another way is still seen.
// It allocates nothing.
//
// The order of the checks decides which reason names a request with several
// faults of its class: line ends and folded lines, then each header in order
// (its bytes, an empty name, a name too close to Transfer-Encoding or
// Content-Length), then the framing headers together, the method, the version
// and the target.
func Classify(req *http1.Request) Verdict {
	if req.Major >= 2 {
		// HTTP/2 and later frame messages themselves (and ALB applies
		// HTTP/2's stricter header rules): AWS's classifier does not apply.
		return Verdict{}
	}
	var v Verdict
	if req.BareLF {
		v.upgrade(Acceptable, NonCRLFLineTermination)
	}
	for i := range req.Headers {
		if req.Headers[i].Folded && !equalFoldLower(req.Headers[i].Name, "content-type") {
			// RFC 7230 §3.2.4 deprecates obs-fold except within message/http;
			// AWS's classifier lets Content-Type fold.
			v.upgrade(Ambiguous, MultilineHeader)
			break
		}
	}

	version := req.RawProto
	if version == nil {
		version = req.Proto
	}
	if bytes.Compare(version, versionHTTP2) >= 0 {
		// HTTP/2 and later have their own framing rules; the classifier does
		// not apply (ALB applies HTTP/2's stricter header rules instead).
		return Verdict{}
	}
	if len(http1.TrimOWS(version)) == 0 {
		version = versionHTTP09
	}

	var te, cl bool // whether there are framing headers, real or look-alike
	for i := range req.Headers {
		h := &req.Headers[i]
		switch headerTier(h.Name, h.Value) {
		case tierBad:
			v.upgrade(Severe, BadHeader)
		case tierNonCompliant:
			v.upgrade(Acceptable, NonCompliantHeader)
		}
		r, suspicious := framingRole(h.Name, h.Value)
		switch r {
		case roleEmpty:
			v.upgrade(Ambiguous, EmptyHeader)
		case roleTE:
			te = true
		case roleCL:
			cl = true
		}
		if suspicious {
			v.upgrade(Ambiguous, SuspiciousHeader)
		}
		if teWhitespace(h.Name) {
			v.TEWhitespace = true
		}
	}
	if te || cl {
		checkFraming(&v, req, version, te, cl)
	}
	checkMethod(&v, req.Method)
	checkVersion(&v, version)
	checkTarget(&v, req.Target)
	return v
}

// role is what a header means for the message's framing.
type role uint8

const (
	roleNone  role = iota
	roleEmpty      // an empty name (or whitespace only, or starting with a colon)
	roleTE         // Transfer-Encoding, or a name too close to it
	roleCL         // Content-Length, or a name too close to it
)

// framingRole returns what the header called name with value means for
// framing, and whether its name only looks like a framing header's. A
// look-alike with NUL, CR or LF in it is not counted: it is already Severe.
func framingRole(name, value []byte) (r role, suspicious bool) {
	if t := http1.TrimOWS(name); len(t) == 0 || t[0] == ':' {
		return roleEmpty, false
	}
	te := similarity(nameTE, name)
	cl := distant
	if te == distant {
		cl = similarity(nameCL, name)
	}
	switch {
	case te == identical:
		return roleTE, false
	case cl == identical:
		return roleCL, false
	case te == distant && cl == distant, headerTier(name, value) == tierBad:
		return roleNone, false
	case te == sameLetters:
		return roleTE, true
	}
	return roleCL, true
}

// teWhitespace reports whether name is Transfer-Encoding followed by
// whitespace, i.e. the header had whitespace before its colon.
func teWhitespace(name []byte) bool {
	n := len(name)
	for n > 0 && (name[n-1] == ' ' || name[n-1] == '\t') {
		n--
	}
	return n < len(name) && equalFoldLower(name[:n], nameTE)
}

// checkFraming checks the Transfer-Encoding and Content-Length headers (and
// their look-alikes) of req together. version is the request's version as
// sent ("HTTP/0.9" when there is none); te and cl say which of the two kinds
// of header there are.
func checkFraming(v *Verdict, req *http1.Request, version []byte, te, cl bool) {
	// Before HTTP/1.1 there is no Transfer-Encoding, before HTTP/1.0 no
	// Content-Length: nothing else about them matters.
	switch {
	case te && bytes.Compare(version, versionHTTP10) <= 0:
		v.upgrade(Ambiguous, UndefinedTransferEncodingSemantics)
		return
	case cl && bytes.Compare(version, versionHTTP10) < 0:
		v.upgrade(Ambiguous, UndefinedContentLengthSemantics)
		return
	}

	// One pass over both kinds. AWS's classifier checks every
	// Transfer-Encoding before any Content-Length, so a fault of each kind of
	// the same class is reported as the Transfer-Encoding one.
	var (
		teFault, clFault Reason
		duplicate        bool
		chunked          bool // the last known coding so far is chunked
		length           uint64
		haveLength       bool
	)
	for i := range req.Headers {
		h := &req.Headers[i]
		switch r, _ := framingRole(h.Name, h.Value); r {
		case roleTE:
			// The codings of all Transfer-Encoding headers form one list, in
			// which chunked must not follow chunked.
			rest := h.Value
			for more := true; more; {
				var item []byte
				item, rest, more = bytes.Cut(rest, comma)
				isChunked, ok := coding(item)
				switch {
				case !ok:
					teFault = firstReason(teFault, BadTransferEncoding)
				case chunked && isChunked:
					teFault = firstReason(teFault, MultipleTransferEncodingChunked)
				}
				if ok {
					chunked = isChunked
				}
			}
		case roleCL:
			n, ok := decimal(h.Value)
			switch {
			case !ok:
				clFault = firstReason(clFault, BadContentLength)
			case !haveLength:
				length, haveLength = n, true
			case n != length:
				clFault = firstReason(clFault, MultipleContentLength)
			default:
				duplicate = true
			}
		}
	}
	if teFault != ReasonNone {
		v.upgrade(Severe, teFault)
	}
	if clFault != ReasonNone {
		v.upgrade(Severe, clFault)
	}
	if duplicate {
		v.upgrade(Ambiguous, DuplicateContentLength)
	}

	// RFC 7231 §4.3: a body in a GET or HEAD request has no defined meaning.
	if m := string(req.Method); m == "GET" || m == "HEAD" {
		if te {
			v.upgrade(Ambiguous, UndefinedTransferEncodingSemantics)
		}
		if haveLength && length == 0 {
			v.upgrade(Acceptable, GetHeadZeroContentLength)
		} else if haveLength {
			v.upgrade(Ambiguous, UndefinedContentLengthSemantics)
		}
	}
	if haveLength && te {
		v.upgrade(Ambiguous, BothTEAndCL)
	}
}

// firstReason keeps the first fault found.
func firstReason(so, r Reason) Reason {
	if so != ReasonNone {
		return so
	}
	return r
}

var comma = []byte{','}

// coding checks one element of a Transfer-Encoding list: a known transfer
// coding, with parameters after ';' ignored. An empty element is not one.
func coding(item []byte) (chunked, ok bool) {
	item = http1.TrimOWS(item)
	if i := bytes.IndexByte(item, ';'); i >= 0 {
		item = http1.TrimOWS(item[:i])
	}
	switch {
	case equalFoldLower(item, "chunked"):
		return true, true
	case equalFoldLower(item, "compress"), equalFoldLower(item, "deflate"),
		equalFoldLower(item, "gzip"), equalFoldLower(item, "identity"):
		return false, true
	}
	return false, false
}

// decimal parses a Content-Length value as AWS's classifier does: digits only
// once surrounding whitespace is removed, no overflow of 64 bits. An empty
// value reads as 0.
func decimal(v []byte) (uint64, bool) {
	var n uint64
	for _, c := range http1.TrimOWS(v) {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// checkMethod: a method must be a token.
func checkMethod(v *Verdict, method []byte) {
	for _, c := range method {
		if charClass[c]&charToken == 0 {
			v.upgrade(Severe, BadMethod)
			return
		}
	}
}

// checkVersion: HTTP/1.0 and HTTP/1.1 are compliant; HTTP/0.9 (no version),
// HTTP/1.2 to 1.9 and whitespace around the version are acceptable; anything
// else is severe.
func checkVersion(v *Verdict, version []byte) {
	t := http1.TrimOWS(version)
	if bytes.Equal(t, versionHTTP09) {
		v.upgrade(Acceptable, NonCompliantVersion)
		return
	}
	if len(t) != len("HTTP/1.1") || string(t[:7]) != "HTTP/1." || t[7] < '0' || t[7] > '9' {
		v.upgrade(Severe, BadVersion)
		return
	}
	if len(t) != len(version) || t[7] > '1' {
		v.upgrade(Acceptable, NonCompliantVersion)
	}
}

// checkTarget: NUL, CR or LF in the target is severe, another control byte
// ambiguous, a space acceptable.
func checkTarget(v *Verdict, target []byte) {
	for _, c := range target {
		k := charClass[c]
		switch {
		case k&charURI != 0:
		case k&charBad != 0:
			v.upgrade(Severe, BadURI)
			return
		case c == ' ':
			v.upgrade(Acceptable, SpaceInURI)
		default:
			v.upgrade(Ambiguous, AmbiguousURI)
		}
	}
}
