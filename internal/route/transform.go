package route

import (
	"fmt"
	"regexp"

	"github.com/albatross-lb/albatross/internal/config"
)

// Transforms are a rule's compiled host-header-rewrite and url-rewrite
// transforms (either may be nil). They are immutable and safe for concurrent
// use.
type Transforms struct {
	Host, URL *Rewrite
}

// Rewrite is one compiled rewrite: every match of the regex is replaced by the
// replacement, in which $1, ${name} and the like expand to capture groups.
type Rewrite struct {
	re      *regexp.Regexp
	replace []byte
}

// CompileTransforms compiles a rule's transforms, which must have passed
// validation (config.CheckRule). It returns nil when there are none.
func CompileTransforms(ts []config.Transform) (*Transforms, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := &Transforms{}
	for _, t := range ts {
		rc := t.Config()
		if rc == nil || len(rc.Rewrites) == 0 {
			return nil, fmt.Errorf("transform %s has no rewrite", t.Type)
		}
		rw := rc.Rewrites[0]
		re, err := regexp.Compile(rw.Regex)
		if err != nil {
			return nil, fmt.Errorf("transform %s: regex %q: %w", t.Type, rw.Regex, err)
		}
		c := &Rewrite{re: re, replace: []byte(rw.Replace)}
		switch t.Type {
		case config.TransformHostHeaderRewrite:
			out.Host = c
		case config.TransformURLRewrite:
			out.URL = c
		default:
			return nil, fmt.Errorf("unknown transform type %q", t.Type)
		}
	}
	return out, nil
}

// Apply rewrites src into dst[:0] and reports whether the regex matched; when
// it did not, dst is returned unchanged and src is to be used as it is.
func (w *Rewrite) Apply(dst, src []byte) ([]byte, bool) {
	locs := w.re.FindAllSubmatchIndex(src, -1)
	if locs == nil {
		return dst, false
	}
	dst = dst[:0]
	last := 0
	for _, m := range locs {
		dst = append(dst, src[last:m[0]]...)
		dst = w.re.Expand(dst, w.replace, src, m)
		last = m[1]
	}
	return append(dst, src[last:]...), true
}

// ValidHost reports whether a rewritten host can be sent as a Host header:
// non-empty, and only letters, digits and "-._~" (RFC 3986 unreserved
// characters), with an optional bracketed IPv6 literal.
func ValidHost(h []byte) bool {
	if len(h) == 0 || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		return h[len(h)-1] == ']' && len(h) > 2
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// ValidOriginForm reports whether a rewritten URL can be sent as a request
// target: it starts with '/' and holds only visible ASCII, no fragment.
func ValidOriginForm(u []byte) bool {
	if len(u) == 0 || u[0] != '/' {
		return false
	}
	for _, c := range u {
		if c <= ' ' || c >= 0x7f || c == '#' {
			return false
		}
	}
	return true
}
