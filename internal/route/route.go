// Package route evaluates ALB listener rules. A listener's rules are compiled once
// per configuration snapshot into a Table; Match is a pure function of a Table
// and a Request that returns the first rule, by priority, whose conditions all
// match, and allocates nothing.
//
// Matching semantics are ALB's (alb-data-plane.md §6): conditions are ANDed,
// the values of one condition ORed; host names, header names and values and
// query strings compare case-insensitively, paths and methods case-sensitively;
// '*' matches any run of characters and '?' exactly one; query keys and values
// are percent-decoded before they are compared; source_ip uses the TCP peer.
//
// Cost: rules are indexed by host (exact names, and *.SUFFIX names by suffix)
// and by the first path segment of their path patterns, so a request is checked
// only against the rules that could match its host and first segment, plus the
// rules that cannot be indexed (another host wildcard such as "api-*.example.com",
// a pattern with a wildcard in its first segment, or neither condition). Host-
// and path-heavy tables therefore match in time that does not grow with the
// number of rules.
package route

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
)

// Request is what rules look at in a request. Byte slices alias the caller's
// buffers and are only read.
type Request struct {
	// Method is the request method as sent.
	Method []byte
	// Host is the host the request is for (the Host header or the authority of
	// an absolute-form target) without its port; nil if none.
	Host []byte
	// Authority is the same host as sent, with its port if the client gave
	// one: what host_header regular expressions match (nil: Host is used).
	Authority []byte
	// Path and Query are the request target's path and query (without "?");
	// ParseTarget splits a target into them.
	Path, Query []byte
	// Headers are the request's header fields in order.
	Headers []http1.Header
	// Source is the client's address (the TCP peer).
	Source netip.Addr
	// Scratch is working space for percent-decoding query strings. Match may
	// grow it; reuse the Request (or its Scratch) to avoid allocating.
	Scratch []byte
}

// ParseTarget splits a request target into path and query: origin form
// "/p?q", absolute form "http://host/p?q" (path "/" when it has none) and the
// asterisk form "*". A fragment is not part of either.
func ParseTarget(target []byte) (path, query []byte) {
	if rest, ok := CutScheme(target); ok {
		i := bytes.IndexAny(rest, "/?#")
		if i < 0 {
			return slash, nil
		}
		target = rest[i:]
		if rest[i] != '/' {
			path = slash
		}
	}
	if h := bytes.IndexByte(target, '#'); h >= 0 {
		target = target[:h]
	}
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		if path == nil {
			path = target[:q]
		}
		return path, target[q+1:]
	}
	if path == nil {
		path = target
	}
	return path, nil
}

var slash = []byte("/")

// CutScheme strips a leading "http://" or "https://" (any case) from an
// absolute-form request target.
func CutScheme(t []byte) ([]byte, bool) {
	switch {
	case len(t) >= 7 && http1.EqualFold(t[:7], "http://"):
		return t[7:], true
	case len(t) >= 8 && http1.EqualFold(t[:8], "https://"):
		return t[8:], true
	}
	return nil, false
}

// Rule is a compiled rule.
type Rule struct {
	// Priority is the rule's priority (1-50000).
	Priority int
	// Index is the rule's position in the listener's configuration, which
	// holds its actions.
	Index int
	conds []cond
}

// condition kinds
const (
	condHost uint8 = iota
	condPath
	condHeader
	condMethod
	condQuery
	condSource
)

type cond struct {
	kind     uint8
	globs    []glob           // host, path and header values
	res      []*regexp.Regexp // host, path and header regex values (globs nil)
	name     string           // header name
	methods  []string
	pairs    []queryPair
	prefixes []netip.Prefix
}

type queryPair struct {
	anyKey     bool
	key, value glob
}

// Table is a listener's compiled rules. It is immutable and safe for
// concurrent use.
type Table struct {
	rules []Rule
	// byHost and bySuffix index the rules whose host condition lists only
	// exact names (byHost, lower-cased) and names of the form *.SUFFIX
	// (bySuffix, keyed by SUFFIX); anyHost holds every other rule. A rule is
	// in one entry per host value.
	byHost   map[string]*segIndex
	bySuffix map[string]*segIndex
	anyHost  segIndex
}

// segIndex indexes rules by the first path segment their path patterns
// require; anySeg holds the rules whose patterns do not fix one. The lists hold
// positions in Table.rules, ascending (so in priority order).
type segIndex struct {
	bySeg  map[string][]int32
	anySeg []int32
}

func (s *segIndex) add(segs []string, i int32) {
	if segs == nil {
		s.anySeg = append(s.anySeg, i)
		return
	}
	if s.bySeg == nil {
		s.bySeg = make(map[string][]int32)
	}
	for _, seg := range segs {
		s.bySeg[seg] = append(s.bySeg[seg], i)
	}
}

// Compile compiles a listener's rules, which must have passed validation
// (config.CheckRule); it fails only on values validation would have refused.
func Compile(rules []config.Rule) (*Table, error) {
	t := &Table{byHost: make(map[string]*segIndex), bySuffix: make(map[string]*segIndex)}
	order := make([]int, len(rules))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rules[order[a]].Priority < rules[order[b]].Priority })
	for _, idx := range order {
		r := rules[idx]
		cr := Rule{Priority: r.Priority, Index: idx}
		var hosts, suffixes, segs []string
		indexed := false
		for _, c := range r.Conditions {
			cc, err := compileCondition(c)
			if err != nil {
				return nil, fmt.Errorf("rule priority %d: %w", r.Priority, err)
			}
			cr.conds = append(cr.conds, cc)
			switch {
			case cc.kind == condHost && cc.res == nil:
				hosts, suffixes, indexed = hostKeys(cc.globs)
			case cc.kind == condPath && cc.res == nil:
				segs = firstSegments(cc.globs)
			case cc.kind == condPath:
				segs = regexFirstSegments(cc.res)
			}
		}
		i := int32(len(t.rules))
		t.rules = append(t.rules, cr)
		if !indexed {
			t.anyHost.add(segs, i)
			continue
		}
		for _, h := range hosts {
			bucket(t.byHost, h).add(segs, i)
		}
		for _, sfx := range suffixes {
			bucket(t.bySuffix, sfx).add(segs, i)
		}
	}
	return t, nil
}

func bucket(m map[string]*segIndex, key string) *segIndex {
	s := m[key]
	if s == nil {
		s = &segIndex{}
		m[key] = s
	}
	return s
}

// hostKeys sorts a host condition's values into exact names and the SUFFIX
// of *.SUFFIX names, each deduplicated; indexed is false when some value has
// another shape ("*x.example.com", "a.exa?ple.com"), which the index cannot
// hold.
func hostKeys(gs []glob) (exact, suffixes []string, indexed bool) {
	for _, g := range gs {
		switch {
		case g.exact:
			if !contains(exact, g.lit) {
				exact = append(exact, g.lit)
			}
		case len(g.wild) > 2 && g.wild[0] == '*' && g.lit[1] == '.' && !hasWildcard(g.wild[1:]):
			if sfx := g.lit[2:]; !contains(suffixes, sfx) {
				suffixes = append(suffixes, sfx)
			}
		default:
			return nil, nil, false
		}
	}
	return exact, suffixes, true
}

func hasWildcard(wild []byte) bool {
	for _, w := range wild {
		if w != 0 {
			return true
		}
	}
	return false
}

// firstSegments returns the first path segment every path matching each
// pattern must have, deduplicated, or nil when some pattern does not fix one
// ("/v1/*" fixes "v1", "/health" fixes "health", "/v*" and "*.jpg" fix none).
func firstSegments(gs []glob) []string {
	out := []string{}
	for _, g := range gs {
		lp := g.literalPrefix()
		if !strings.HasPrefix(lp, "/") {
			return nil
		}
		rest := lp[1:]
		seg := ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			seg = rest[:i]
		} else if g.exact {
			seg = rest
		} else {
			return nil
		}
		if !contains(out, seg) {
			out = append(out, seg)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// regexFirstSegments is firstSegments for regular expressions: the first
// path segment each must fix, or nil when one does not. Only an expression
// anchored with ^ whose literal text right after it runs to a '/' (or is the
// whole path, up to $) fixes one: "^/v1/" and "^/health$" do, "/v1/",
// "^/v[12]/" and "(?i)^/v1/" do not.
func regexFirstSegments(res []*regexp.Regexp) []string {
	out := []string{}
	for _, re := range res {
		seg, ok := regexFirstSegment(re.String())
		if !ok {
			return nil
		}
		if !contains(out, seg) {
			out = append(out, seg)
		}
	}
	return out
}

func regexFirstSegment(expr string) (string, bool) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return "", false
	}
	lit := re.Sub[1]
	if lit.Op != syntax.OpLiteral || lit.Flags&syntax.FoldCase != 0 {
		return "", false
	}
	prefix := string(lit.Rune)
	if !strings.HasPrefix(prefix, "/") {
		return "", false
	}
	rest := prefix[1:]
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], true
	}
	if len(re.Sub) == 3 && re.Sub[2].Op == syntax.OpEndText {
		return rest, true // the whole path: "^/health$"
	}
	return "", false
}

func compileCondition(c config.Condition) (cond, error) {
	globs := func(vals []string, fold bool) []glob {
		out := make([]glob, len(vals))
		for i, v := range vals {
			out[i] = newGlob(v, fold, false)
		}
		return out
	}
	regexes := func(kind uint8, name string, vals []string) (cond, error) {
		cc := cond{kind: kind, name: name}
		for _, v := range vals {
			re, err := regexp.Compile(v)
			if err != nil {
				return cond{}, fmt.Errorf("regex %q: %w", v, err)
			}
			cc.res = append(cc.res, re)
		}
		return cc, nil
	}
	switch {
	case c.HostHeaderRegex != nil:
		return regexes(condHost, "", c.HostHeaderRegex)
	case c.PathPatternRegex != nil:
		return regexes(condPath, "", c.PathPatternRegex)
	case c.HTTPHeader != nil && c.HTTPHeader.RegexValues != nil:
		return regexes(condHeader, c.HTTPHeader.Name, c.HTTPHeader.RegexValues)
	case c.HostHeader != nil:
		return cond{kind: condHost, globs: globs(c.HostHeader, true)}, nil
	case c.PathPattern != nil:
		return cond{kind: condPath, globs: globs(c.PathPattern, false)}, nil
	case c.HTTPHeader != nil:
		return cond{kind: condHeader, name: c.HTTPHeader.Name, globs: globs(c.HTTPHeader.Values, true)}, nil
	case c.HTTPRequestMethod != nil:
		return cond{kind: condMethod, methods: c.HTTPRequestMethod}, nil
	case c.QueryString != nil:
		cc := cond{kind: condQuery}
		for _, q := range c.QueryString {
			cc.pairs = append(cc.pairs, queryPair{
				anyKey: q.Key == "",
				key:    newGlob(q.Key, true, true),
				value:  newGlob(q.Value, true, true),
			})
		}
		return cc, nil
	case c.SourceIP != nil:
		cc := cond{kind: condSource}
		for _, v := range c.SourceIP {
			p, err := config.ParseSourceIP(v)
			if err != nil {
				return cond{}, err
			}
			cc.prefixes = append(cc.prefixes, p)
		}
		return cc, nil
	}
	return cond{}, fmt.Errorf("condition sets no field")
}

// Len is the number of rules.
func (t *Table) Len() int { return len(t.rules) }

// maxIndexedHost is the longest host the index holds (AWS's limit on a
// host_header value); a longer request host cannot equal any of them.
const maxIndexedHost = config.MaxConditionValueLength

// maxSuffixLookups bounds how many *.SUFFIX entries one request host is
// looked up under (one per dot); a host with more dots is matched by a plain
// scan of the rules.
const maxSuffixLookups = 8

// Match returns the first rule, in priority order, whose conditions all match
// r, or nil when none does (the listener's default rule applies).
func (t *Table) Match(r *Request) *Rule {
	if len(t.rules) == 0 {
		return nil
	}
	// Candidate lists: rules without an indexed host, the request host's
	// exact entry, and one *.SUFFIX entry per dot in the host; two lists
	// (any first segment, the request's first segment) per entry.
	var lists [2 * (2 + maxSuffixLookups)][]int32
	n := t.anyHost.candidates(&lists, 0, r.Path)
	if len(t.byHost) > 0 || len(t.bySuffix) > 0 {
		// Index keys are at most maxIndexedHost bytes, so only the tail of a
		// longer host can match one.
		var buf [maxIndexedHost]byte
		off := max(0, len(r.Host)-maxIndexedHost)
		host := buf[:len(r.Host)-off]
		for i, c := range r.Host[off:] {
			host[i] = lowerIf(c, true)
		}
		if off == 0 {
			if s := t.byHost[string(host)]; s != nil {
				n = s.candidates(&lists, n, r.Path)
			}
		}
		if len(t.bySuffix) > 0 {
			for i, c := range host {
				if c != '.' {
					continue
				}
				if n+2 > len(lists) {
					return t.scan(r)
				}
				if s := t.bySuffix[string(host[i+1:])]; s != nil {
					n = s.candidates(&lists, n, r.Path)
				}
			}
		}
	}
	// Merge the candidate lists in priority order. A rule listed under
	// several host values can come up more than once, always in a row.
	last := int32(-1)
	for {
		best, at := -1, int32(0)
		for k := 0; k < n; k++ {
			if len(lists[k]) > 0 && (best < 0 || lists[k][0] < at) {
				best, at = k, lists[k][0]
			}
		}
		if best < 0 {
			return nil
		}
		lists[best] = lists[best][1:]
		if at == last {
			continue
		}
		last = at
		if rule := &t.rules[at]; rule.matches(r) {
			return rule
		}
	}
}

// scan is Match without the index: every rule in priority order.
func (t *Table) scan(r *Request) *Rule {
	for i := range t.rules {
		if t.rules[i].matches(r) {
			return &t.rules[i]
		}
	}
	return nil
}

// candidates puts the entry's two lists for path into lists from n on and
// returns the new count.
func (s *segIndex) candidates(lists *[2 * (2 + maxSuffixLookups)][]int32, n int, path []byte) int {
	lists[n] = s.anySeg
	lists[n+1] = s.lookup(path)
	return n + 2
}

// lookup returns the rules indexed under path's first segment.
func (s *segIndex) lookup(path []byte) []int32 {
	if s.bySeg == nil || len(path) == 0 || path[0] != '/' {
		return nil
	}
	seg := path[1:]
	if i := bytes.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	return s.bySeg[string(seg)]
}

func (rule *Rule) matches(r *Request) bool {
	for i := range rule.conds {
		if !rule.conds[i].matches(r) {
			return false
		}
	}
	return true
}

func (c *cond) matches(r *Request) bool {
	if c.res != nil {
		return c.matchesRegex(r)
	}
	switch c.kind {
	case condHost:
		return anyGlob(c.globs, r.Host)
	case condPath:
		return anyGlob(c.globs, r.Path)
	case condHeader:
		for _, h := range r.Headers {
			if http1.EqualFold(h.Name, c.name) && anyGlob(c.globs, h.Value) {
				return true
			}
		}
		return false
	case condMethod:
		for _, m := range c.methods {
			if string(r.Method) == m {
				return true
			}
		}
		return false
	case condQuery:
		return c.matchQuery(r)
	case condSource:
		a := r.Source.Unmap()
		for _, p := range c.prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return false
}

// matchesRegex is matches for a condition of regular expressions.
func (c *cond) matchesRegex(r *Request) bool {
	switch c.kind {
	case condHost:
		host := r.Authority
		if host == nil {
			host = r.Host
		}
		return host != nil && anyRegex(c.res, host)
	case condPath:
		return anyRegex(c.res, r.Path)
	case condHeader:
		for _, h := range r.Headers {
			if http1.EqualFold(h.Name, c.name) && anyRegex(c.res, h.Value) {
				return true
			}
		}
	}
	return false
}

func anyRegex(res []*regexp.Regexp, s []byte) bool {
	for _, re := range res {
		if re.Match(s) {
			return true
		}
	}
	return false
}

func anyGlob(gs []glob, s []byte) bool {
	for i := range gs {
		if gs[i].match(s) {
			return true
		}
	}
	return false
}

// matchQuery reports whether any key/value pair of the query string satisfies
// any pair of the condition. A parameter without "=" is a value without a key,
// which only key-less pairs match.
func (c *cond) matchQuery(r *Request) bool {
	for q := r.Query; len(q) > 0; {
		var param []byte
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			param, q = q[:i], q[i+1:]
		} else {
			param, q = q, nil
		}
		if len(param) == 0 {
			continue
		}
		var key, value []byte
		hasKey := false
		if i := bytes.IndexByte(param, '='); i >= 0 {
			key, value, hasKey = param[:i], param[i+1:], true
		} else {
			value = param
		}
		// Decode both into Scratch: key first, then value.
		buf := r.Scratch[:0]
		buf = percentDecode(buf, key)
		kn := len(buf)
		buf = percentDecode(buf, value)
		r.Scratch = buf
		key, value = buf[:kn], buf[kn:]
		for i := range c.pairs {
			p := &c.pairs[i]
			if !p.anyKey && (!hasKey || !p.key.match(key)) {
				continue
			}
			if p.value.match(value) {
				return true
			}
		}
	}
	return false
}

// percentDecode appends s to dst with %XX sequences decoded; a '%' not
// followed by two hex digits is kept as is. '+' is not a space here.
func percentDecode(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			var b [1]byte
			if _, err := hex.Decode(b[:], s[i+1:i+3]); err == nil {
				dst = append(dst, b[0])
				i += 2
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}
