package route

// glob is a compiled ALB wildcard pattern: '*' matches any run of bytes (also
// none), '?' exactly one byte, everything else itself. Patterns that match
// case-insensitively are stored lower-cased.
type glob struct {
	// lit holds the pattern's bytes; at positions where wild is non-zero the
	// byte is a wildcard ('*' or '?').
	lit  string
	wild []byte
	// exact is true when the pattern has no wildcard.
	exact bool
	fold  bool
}

// newGlob compiles pattern. With escapes (query strings), "\*", "\?" and "\\"
// stand for the literal character. With fold the match ignores ASCII case.
func newGlob(pattern string, fold, escapes bool) glob {
	lit := make([]byte, 0, len(pattern))
	wild := make([]byte, 0, len(pattern))
	exact := true
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case escapes && c == '\\' && i+1 < len(pattern):
			i++
			lit = append(lit, lowerIf(pattern[i], fold))
			wild = append(wild, 0)
		case c == '*' || c == '?':
			lit = append(lit, c)
			wild = append(wild, c)
			exact = false
		default:
			lit = append(lit, lowerIf(c, fold))
			wild = append(wild, 0)
		}
	}
	return glob{lit: string(lit), wild: wild, exact: exact, fold: fold}
}

func lowerIf(c byte, fold bool) byte {
	if fold && 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// match reports whether s matches the whole pattern. It runs in O(len(s) ×
// number of stars) at worst and allocates nothing: on a mismatch after a star
// it retries with the star taking one more byte, which is enough because a
// later star can absorb anything an earlier one would have.
func (g *glob) match(s []byte) bool {
	if g.exact {
		if len(s) != len(g.lit) {
			return false
		}
		for i := 0; i < len(s); i++ {
			if lowerIf(s[i], g.fold) != g.lit[i] {
				return false
			}
		}
		return true
	}
	p, x := 0, 0
	starP, starX := -1, 0
	for p < len(g.lit) || x < len(s) {
		if p < len(g.lit) {
			switch g.wild[p] {
			case '*':
				starP, starX = p, x
				p++
				continue
			case '?':
				if x < len(s) {
					p++
					x++
					continue
				}
			default:
				if x < len(s) && lowerIf(s[x], g.fold) == g.lit[p] {
					p++
					x++
					continue
				}
			}
		}
		if starP >= 0 && starX < len(s) {
			starX++
			p, x = starP+1, starX
			continue
		}
		return false
	}
	return true
}

// literalPrefix is the pattern's text before its first wildcard.
func (g *glob) literalPrefix() string {
	for i, w := range g.wild {
		if w != 0 {
			return g.lit[:i]
		}
	}
	return g.lit
}
