package desync

// FuzzClassify runs the codec and the classifier on arbitrary bytes. Nothing
// may panic, and a head the classifier calls Compliant must be read the same
// way by internal/http1 and by net/http: same request line, same fields, same
// Host, same body framing and connection handling. That is what Compliant
// promises: no two HTTP implementations disagree on the request.
//
// Intended differences, where net/http refuses a head that is Compliant by
// ALB's rules (the classifier looks only at what can desynchronise two
// parsers, and these cannot):
//
//   - LeadingEmptyLines: empty lines before the request line are skipped by
//     our codec (RFC 9112 §2.2) and are not part of the head; net/http is
//     given the bytes from the request line on.
//   - TargetNotURI: net/http parses the target with url.ParseRequestURI and
//     refuses what it cannot parse (bad escapes, a relative path); ALB's
//     classifier only checks the target's bytes.
//   - MultipleHost: net/http refuses several Host fields; the classifier does
//     not look at Host (the proxy decides).
//   - InvalidHost: net/http refuses a Host value that is not a valid
//     host[:port]; the classifier does not look at Host.
//   - IdentityCoding: net/http refuses Transfer-Encoding other than a single
//     "chunked"; ALB's classifier accepts the registered codings, and our
//     codec ignores "identity" (it answers 501 to the others).
//   - TrailerFraming: net/http refuses a chunked request whose Trailer field
//     announces a framing field; the proxy drops Trailer as hop-by-hop.

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/albatross-lb/albatross/internal/http1"
)

func FuzzClassify(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
		"POST /a HTTP/1.0\r\nContent-Type: a;\r\n b\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var req http1.Request
		// The proxy grades any head the codec refuses with ClassifyRaw, so
		// it must take any bytes.
		if v := ClassifyRaw(data, &req); v.Class > Severe || v.Reason >= numReasons {
			t.Fatalf("ClassifyRaw verdict %v/%v out of range for %q", v.Class, v.Reason, data)
		}
		err := http1.ParseRequest(bytes.Clone(data), &req)
		var perr *http1.Error
		if err != nil && !(errors.As(err, &perr) && perr.Complete) {
			return
		}
		v := Classify(&req)
		if v.Class > Severe || v.Reason >= numReasons || (v.Class == Compliant) != (v.Reason == ReasonNone) {
			t.Fatalf("verdict %v/%v out of range for %q", v.Class, v.Reason, data)
		}
		for _, m := range []Mode{Monitor, Defensive, Strictest} {
			if a := m.Decide(v); a > Reject {
				t.Fatalf("%v.Decide(%v) = %d", m, v, a)
			}
		}
		if v.Class != Compliant || err != nil || req.Major != 1 {
			return
		}
		checkCompliantAgrees(t, data, &req)
	})
}

// checkCompliantAgrees checks that net/http reads a Compliant head as our codec
// did, or that one of the intended differences explains why it refuses it.
func checkCompliantAgrees(t *testing.T, data []byte, req *http1.Request) {
	start := 0
	for start < len(data) && (data[start] == '\r' || data[start] == '\n') {
		start++ // LeadingEmptyLines
	}
	head := data[start:]
	theirs, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if err != nil {
		if d := netHTTPRefusal(req); d == "" {
			t.Fatalf("Compliant head refused by net/http (%v):\n%q", err, data)
		}
		return
	}
	if string(req.Method) != theirs.Method || string(req.Target) != theirs.RequestURI || string(req.Proto) != theirs.Proto {
		t.Fatalf("request line: ours %q %q %q, net/http %q %q %q\n%q", req.Method, req.Target, req.Proto, theirs.Method, theirs.RequestURI, theirs.Proto, data)
	}
	// Fields, as net/http keeps them: canonical names, Host moved out, folded
	// values joined with one space.
	ours := map[string][]string{}
	for _, h := range req.Headers {
		name := textproto.CanonicalMIMEHeaderKey(string(h.Name))
		if name == "Host" {
			continue
		}
		ours[name] = append(ours[name], normSpace(string(h.Value)))
	}
	hs := theirs.Header.Clone()
	if theirs.TransferEncoding != nil {
		// ReadRequest moves Transfer-Encoding and Trailer out of the header
		// map for chunked bodies.
		delete(ours, "Transfer-Encoding")
		delete(ours, "Trailer")
	}
	for _, vs := range hs {
		for i := range vs {
			vs[i] = normSpace(vs[i])
		}
	}
	if !sameFields(ours, hs) {
		t.Fatalf("fields: ours %q, net/http %q\n%q", ours, hs, data)
	}
	if theirs.URL.Host == "" && normSpace(string(req.Host)) != normSpace(theirs.Host) {
		t.Fatalf("Host: ours %q, net/http %q\n%q", req.Host, theirs.Host, data)
	}
	var length int64
	switch req.Body {
	case http1.BodyChunked:
		length = -1
	case http1.BodyLength:
		length = req.ContentLength
	}
	if length != theirs.ContentLength || (req.Body == http1.BodyChunked) != (len(theirs.TransferEncoding) == 1) {
		t.Fatalf("framing: ours %v %d, net/http %d %q\n%q", req.Body, req.ContentLength, theirs.ContentLength, theirs.TransferEncoding, data)
	}
	if req.KeepAlive == theirs.Close {
		t.Fatalf("keep-alive: ours %v, net/http close %v\n%q", req.KeepAlive, theirs.Close, data)
	}
}

// netHTTPRefusal names the intended difference that explains why net/http
// refuses a head we classify Compliant, or returns "".
func netHTTPRefusal(req *http1.Request) string {
	target := string(req.Target)
	if string(req.Method) == "CONNECT" && !strings.HasPrefix(target, "/") {
		target = "http://" + target
	}
	if _, err := url.ParseRequestURI(target); err != nil {
		return "TargetNotURI"
	}
	var te []string
	for _, h := range req.Headers {
		if http1.EqualFold(h.Name, "Transfer-Encoding") {
			te = append(te, string(h.Value))
		}
	}
	switch {
	case req.HostCount > 1:
		return "MultipleHost"
	case req.HostCount == 1 && !validHost(string(req.Host)):
		return "InvalidHost"
	case len(te) > 1 || (len(te) == 1 && !strings.EqualFold(strings.TrimSpace(te[0]), "chunked")):
		return "IdentityCoding"
	case req.Body == http1.BodyChunked && trailerAnnouncesFraming(req):
		return "TrailerFraming"
	}
	return ""
}

// validHost approximates net/http's Host check (httpguts.ValidHostHeader):
// only the bytes that may appear in a host[:port] or an IP literal.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!$&'()*+,-.:;=[]_~%", c) >= 0) {
			return false
		}
	}
	return true
}

func trailerAnnouncesFraming(req *http1.Request) bool {
	for _, h := range req.Headers {
		if http1.EqualFold(h.Name, "Trailer") {
			for _, f := range []string{"Transfer-Encoding", "Content-Length", "Trailer"} {
				if http1.HasToken(h.Value, f) {
					return true
				}
			}
		}
	}
	return false
}

// normSpace collapses runs of SP and HTAB into one SP and trims the ends: how
// folded values compare once joined.
func normSpace(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
}

func sameFields(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		sa, sb := append([]string(nil), va...), append([]string(nil), vb...)
		sort.Strings(sa)
		sort.Strings(sb)
		for i := range sa {
			if sa[i] != sb[i] {
				return false
			}
		}
	}
	return true
}
