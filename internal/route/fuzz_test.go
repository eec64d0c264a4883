package route

import (
	"regexp"
	"strings"
	"testing"
)

// globRegexp is the reference for glob: the pattern as an anchored regular
// expression, '*' as ".*" and '?' as ".", everything else literal.
func globRegexp(pattern string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)^`)
	if fold {
		b.WriteString(`(?i)`)
	}
	for _, c := range []byte(pattern) {
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

// FuzzGlob checks the allocation-free wildcard matcher against regexp on
// ASCII patterns and inputs (ALB's values are ASCII; regexp's (?i) also folds
// non-ASCII letters, which ALB's case-insensitivity does not).
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"*.example.com", "a.example.com"}, {"/img/*", "/img"}, {"/v2/?ing", "/v2/ping"},
		{"*a*b", "xxaxxbxxb"}, {"a?*?b", "axyb"}, {"**", ""}, {"*?", ""}, {"A*", "abc"},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if len(pattern) > 64 || len(s) > 256 || !ascii(pattern) || !ascii(s) {
			return
		}
		g := newGlob(pattern, fold, false)
		want := globRegexp(pattern, fold).MatchString(s)
		if got := g.match([]byte(s)); got != want {
			t.Fatalf("glob %q on %q (fold %v): got %v, regexp says %v", pattern, s, fold, got, want)
		}
	})
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
