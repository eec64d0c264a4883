package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Listener rules and the actions of rules and default rules, with the limits and
// checks AWS applies (alb-data-plane.md §6, elbv2-api.md §3.6.1). The checks are
// pure functions of the values (CheckRule, CheckAction) so that the YAML file and
// the ELBv2 API report the same problems; the decoder only adds line numbers.

// Rule limits, as AWS enforces them.
const (
	MinRulePriority = 1
	MaxRulePriority = 50000
	// MaxConditionValues is AWS's limit on condition values ("match
	// evaluations") per rule, counted over all its conditions.
	MaxConditionValues = 5
	// MaxConditionWildcards is AWS's limit on * and ? wildcards per rule.
	MaxConditionWildcards = 5
	// MaxConditionValueLength bounds host, path, header and query values.
	MaxConditionValueLength = 128
	// MaxHeaderNameLength and MaxMethodLength bound http_header names and
	// http_request_method values.
	MaxHeaderNameLength = 40
	MaxMethodLength     = 40
	// MaxForwardTargetGroups is how many target groups one forward action may
	// weigh; MaxTargetGroupWeight is the largest weight.
	MaxForwardTargetGroups = 5
	MaxTargetGroupWeight   = 999
	// MaxStickinessDurationSeconds bounds a forward action's group stickiness
	// (7 days, as the target group's own stickiness).
	MaxStickinessDurationSeconds = 604800
	// MaxRedirectComponentLength bounds a redirect's host, path and query.
	MaxRedirectComponentLength = 128
	// MaxFixedResponseBody is the largest fixed-response message body.
	MaxFixedResponseBody = 1024
	// MaxRegexValueLength bounds a condition's regular expressions.
	MaxRegexValueLength = 128
	// MaxRewriteLength bounds a transform's regex and its replacement.
	MaxRewriteLength = 1024
	// MaxRewritesPerTransform is how many rewrites one transform holds.
	MaxRewritesPerTransform = 1
)

// Redirect status codes and the placeholders a redirect may use.
const (
	RedirectHTTP301 = "HTTP_301"
	RedirectHTTP302 = "HTTP_302"

	PlaceholderProtocol = "#{protocol}"
	PlaceholderHost     = "#{host}"
	PlaceholderPort     = "#{port}"
	PlaceholderPath     = "#{path}"
	PlaceholderQuery    = "#{query}"
)

// FixedResponseContentTypes are the content types a fixed-response action may
// declare.
var FixedResponseContentTypes = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}

// Rule is a listener rule: when every condition matches a request, the actions
// run. Rules are evaluated lowest priority first; the listener's default actions
// run when none matches.
type Rule struct {
	// Priority is 1-50000, unique within the listener.
	Priority int `yaml:"priority"`
	// Conditions are ANDed; at least one is required.
	Conditions []Condition `yaml:"conditions"`
	// Actions holds exactly one terminal action (forward, redirect or
	// fixed-response).
	Actions []Action `yaml:"actions"`
	// Transforms rewrite a matching request before it is forwarded: at most
	// one host-header-rewrite and one url-rewrite.
	Transforms []Transform `yaml:"transforms"`
}

// Transform types, as AWS spells them.
const (
	TransformHostHeaderRewrite = "host-header-rewrite"
	TransformURLRewrite        = "url-rewrite"
)

// Transform is a rule transform (AWS's RuleTransform): it rewrites the Host
// header or the URL (path and query) of a request that matched the rule,
// before it goes to the target. Matching and the access log's request field
// see the request as received.
type Transform struct {
	// Type is host-header-rewrite or url-rewrite.
	Type string `yaml:"type"`
	// HostHeaderRewrite is set when Type is host-header-rewrite.
	HostHeaderRewrite *RewriteConfig `yaml:"host_header_rewrite"`
	// URLRewrite is set when Type is url-rewrite.
	URLRewrite *RewriteConfig `yaml:"url_rewrite"`
}

// Config returns the rewrite configuration of the transform's type.
func (t Transform) Config() *RewriteConfig {
	if t.Type == TransformHostHeaderRewrite {
		return t.HostHeaderRewrite
	}
	return t.URLRewrite
}

// RewriteConfig is a transform's rewrites (AWS's HostHeaderRewriteConfig and
// UrlRewriteConfig).
type RewriteConfig struct {
	// Rewrites holds one rewrite.
	Rewrites []Rewrite `yaml:"rewrites"`
}

// Rewrite replaces what Regex matches with Replace, in which $1, ${name} and
// the like stand for the regex's capture groups.
type Rewrite struct {
	Regex   string `yaml:"regex"`
	Replace string `yaml:"replace"`
}

// Condition is one rule condition. Exactly one field is set; its values are
// ORed. The field names are AWS's condition fields in snake case.
type Condition struct {
	// HostHeader matches the host of the request (Host without its port),
	// case-insensitively, with * and ? wildcards.
	HostHeader []string `yaml:"host_header"`
	// HostHeaderRegex holds RE2 regular expressions (AWS's RegexValues of a
	// host-header condition) matched against the Host header as sent, port
	// included; unanchored unless written with ^ and $. A condition sets
	// HostHeader or HostHeaderRegex, not both.
	HostHeaderRegex []string `yaml:"-"`
	// PathPattern matches the path (without the query), case-sensitively, with
	// * and ? wildcards.
	PathPattern []string `yaml:"path_pattern"`
	// PathPatternRegex holds RE2 regular expressions matched against the path
	// (without the query); PathPattern or PathPatternRegex, not both.
	PathPatternRegex []string `yaml:"-"`
	// HTTPHeader matches the values of one header.
	HTTPHeader *HTTPHeaderCondition `yaml:"http_header"`
	// HTTPRequestMethod matches the method exactly (case-sensitive).
	HTTPRequestMethod []string `yaml:"http_request_method"`
	// QueryString matches key/value pairs of the query string.
	QueryString []QueryStringPair `yaml:"query_string"`
	// SourceIP matches the client's address (the TCP peer) against CIDR blocks.
	SourceIP []string `yaml:"source_ip"`
}

// Condition field names, as AWS spells them.
const (
	FieldHostHeader        = "host-header"
	FieldPathPattern       = "path-pattern"
	FieldHTTPHeader        = "http-header"
	FieldHTTPRequestMethod = "http-request-method"
	FieldQueryString       = "query-string"
	FieldSourceIP          = "source-ip"
)

// Field returns the AWS field name of the condition's set field ("" if none).
func (c Condition) Field() string {
	switch {
	case c.HostHeader != nil || c.HostHeaderRegex != nil:
		return FieldHostHeader
	case c.PathPattern != nil || c.PathPatternRegex != nil:
		return FieldPathPattern
	case c.HTTPHeader != nil:
		return FieldHTTPHeader
	case c.HTTPRequestMethod != nil:
		return FieldHTTPRequestMethod
	case c.QueryString != nil:
		return FieldQueryString
	case c.SourceIP != nil:
		return FieldSourceIP
	}
	return ""
}

// HTTPHeaderCondition matches a request header by name.
type HTTPHeaderCondition struct {
	// Name is the header name (case-insensitive, not Host).
	Name string `yaml:"name"`
	// Values are matched case-insensitively with * and ? wildcards; each
	// occurrence of a repeated header is tried.
	Values []string `yaml:"values"`
	// RegexValues are RE2 regular expressions matched against each occurrence
	// of the header; Values or RegexValues, not both.
	RegexValues []string `yaml:"regex_values"`
}

// QueryStringPair matches one key/value pair of the query string, compared
// case-insensitively after percent-decoding. An empty Key matches any key.
// In both, \*, \? and \\ stand for a literal *, ? and \.
type QueryStringPair struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// ForwardConfig is a forward action's target groups with their weights and the
// group stickiness between them (AWS's ForwardConfig).
type ForwardConfig struct {
	// TargetGroups has 1-5 entries.
	TargetGroups []TargetGroupTuple `yaml:"target_groups"`
	// Stickiness keeps a client on the target group it was first sent to.
	Stickiness TargetGroupStickiness `yaml:"stickiness"`
}

// TargetGroupTuple is one target group of a forward action and its weight.
type TargetGroupTuple struct {
	// Name names the target group.
	Name string `yaml:"name"`
	// Weight is 0-999 (default 1); a group gets weight/sum of the requests.
	Weight int `yaml:"weight"`
}

// TargetGroupStickiness is a forward action's group stickiness (the AWSALBTG
// cookie).
type TargetGroupStickiness struct {
	Enabled bool `yaml:"enabled"`
	// DurationSeconds is 1-604800, required when Enabled.
	DurationSeconds int `yaml:"duration_seconds"`
}

// RedirectConfig is a redirect action (AWS's RedirectConfig). Omitted
// components keep the request's: validation fills them with their
// placeholders, so after Parse every field is set.
type RedirectConfig struct {
	// Protocol is HTTP, HTTPS or #{protocol} (default).
	Protocol string `yaml:"protocol"`
	// Host is up to 128 characters and may use #{host} (default "#{host}").
	Host string `yaml:"host"`
	// Port is 1-65535 or #{port} (default), the listener's port.
	Port string `yaml:"port"`
	// Path starts with "/" and may use #{host}, #{path} and #{port}
	// (default "/#{path}"). #{path} is the request path without its leading "/".
	Path string `yaml:"path"`
	// Query has no leading "?" and may use every placeholder (default
	// "#{query}").
	Query string `yaml:"query"`
	// StatusCode is HTTP_301 or HTTP_302 (required).
	StatusCode string `yaml:"status_code"`
}

// FixedResponseConfig is a fixed-response action (AWS's FixedResponseConfig).
type FixedResponseConfig struct {
	// StatusCode is a 2XX, 4XX or 5XX code written as a string ("503").
	StatusCode string `yaml:"status_code"`
	// ContentType is one of FixedResponseContentTypes, or empty.
	ContentType string `yaml:"content_type"`
	// MessageBody is up to 1024 characters.
	MessageBody string `yaml:"message_body"`
}

// ForwardTargetGroups returns the target groups a forward action sends to with
// their weights: the short form's one group with weight 1, or the
// ForwardConfig's list. Nil for other actions.
func (a Action) ForwardTargetGroups() []TargetGroupTuple {
	if a.Type != ActionForward {
		return nil
	}
	if a.Forward != nil && len(a.Forward.TargetGroups) > 0 {
		return a.Forward.TargetGroups
	}
	if a.TargetGroup != "" {
		return []TargetGroupTuple{{Name: a.TargetGroup, Weight: 1}}
	}
	return nil
}

// FieldProblem is a problem with one part of a rule or action, named by its key
// path relative to the rule or action ("conditions[0].host_header[1]").
type FieldProblem struct {
	Path    string
	Message string
}

// CheckRule checks a rule by itself: priority range, conditions and their
// limits, and its actions. Target group names are not resolved here, and
// priorities are checked for uniqueness by the caller, which sees the listener.
func CheckRule(r Rule) []FieldProblem {
	var probs []FieldProblem
	add := func(path, format string, args ...any) {
		probs = append(probs, FieldProblem{path, fmt.Sprintf(format, args...)})
	}
	if r.Priority < MinRulePriority || r.Priority > MaxRulePriority {
		add("priority", "must be an integer from %d to %d, got %d", MinRulePriority, MaxRulePriority, r.Priority)
	}
	if len(r.Conditions) == 0 {
		add("conditions", "a rule needs at least one condition (only the default rule has none)")
	}
	seen := map[string]int{}
	values, wildcards := 0, 0
	for i, c := range r.Conditions {
		cp := index("conditions", i)
		field := c.Field()
		if field == "" {
			add(cp, "must set one of host_header, path_pattern, http_header, http_request_method, query_string or source_ip")
			continue
		}
		switch field {
		case FieldHostHeader, FieldPathPattern, FieldHTTPRequestMethod, FieldSourceIP:
			if prev, dup := seen[field]; dup {
				add(cp, "a rule may have only one %s condition; conditions[%d] is one already (list several values in it instead)", yamlKey(field), prev)
				continue
			}
			seen[field] = i
		}
		n, w := checkCondition(c, cp, add)
		values += n
		wildcards += w
	}
	if values > MaxConditionValues {
		add("conditions", "a rule can only have %d condition values, got %d", MaxConditionValues, values)
	}
	if wildcards > MaxConditionWildcards {
		add("conditions", "a rule can only have %d wildcards (* and ?) in its conditions, got %d", MaxConditionWildcards, wildcards)
	}
	for _, p := range CheckActionList(r.Actions, "actions") {
		add(p.Path, "%s", p.Message)
	}
	for i, a := range r.Actions {
		for _, p := range CheckAction(a) {
			add(join(index("actions", i), p.Path), "%s", p.Message)
		}
	}
	checkTransforms(r.Transforms, add)
	return probs
}

// checkTransforms checks a rule's transforms: their types, at most one of
// each, and each rewrite's regex and replacement.
func checkTransforms(ts []Transform, add func(path, format string, args ...any)) {
	seen := map[string]int{}
	for i, t := range ts {
		tp := index("transforms", i)
		var key string
		switch t.Type {
		case TransformHostHeaderRewrite:
			key = "host_header_rewrite"
		case TransformURLRewrite:
			key = "url_rewrite"
		case "":
			add(join(tp, "type"), "is required: %s or %s", TransformHostHeaderRewrite, TransformURLRewrite)
			continue
		default:
			add(join(tp, "type"), "must be %s or %s, got %q", TransformHostHeaderRewrite, TransformURLRewrite, t.Type)
			continue
		}
		if prev, dup := seen[t.Type]; dup {
			add(tp, "a rule may have only one %s transform; transforms[%d] is one already", t.Type, prev)
			continue
		}
		seen[t.Type] = i
		if t.Type == TransformHostHeaderRewrite && t.URLRewrite != nil {
			add(join(tp, "url_rewrite"), "is set on a %s transform; set host_header_rewrite only", t.Type)
		}
		if t.Type == TransformURLRewrite && t.HostHeaderRewrite != nil {
			add(join(tp, "host_header_rewrite"), "is set on a %s transform; set url_rewrite only", t.Type)
		}
		rc := t.Config()
		kp := join(tp, key)
		if rc == nil {
			add(kp, "is required for a %s transform: {rewrites: [{regex: ..., replace: ...}]}", t.Type)
			continue
		}
		rp := join(kp, "rewrites")
		switch n := len(rc.Rewrites); {
		case n == 0:
			add(rp, "needs a rewrite: [{regex: ..., replace: ...}]")
		case n > MaxRewritesPerTransform:
			add(rp, "may hold only %d rewrite, got %d", MaxRewritesPerTransform, n)
		}
		for j, rw := range rc.Rewrites {
			checkRewrite(rw, t.Type, index(rp, j), add)
		}
	}
}

// checkRewrite checks one rewrite: the regex compiles in RE2 within AWS's
// length, and the replacement is printable ASCII whose captures exist.
func checkRewrite(rw Rewrite, typ, rp string, add func(path, format string, args ...any)) {
	re, msg := compileRegex(rw.Regex, MaxRewriteLength)
	if msg != "" {
		add(join(rp, "regex"), "%s", msg)
	}
	pp := join(rp, "replace")
	switch {
	case len(rw.Replace) > MaxRewriteLength:
		add(pp, "must be at most %d characters, got %d", MaxRewriteLength, len(rw.Replace))
		return
	case typ == TransformHostHeaderRewrite && rw.Replace == "":
		add(pp, "is required: the host that replaces what regex matches")
		return
	}
	for i := 0; i < len(rw.Replace); i++ {
		if c := rw.Replace[i]; c <= ' ' || c > 0x7e {
			add(pp, "may contain only printable ASCII without spaces (a rewritten %s must stay valid), got %q", what(typ), rw.Replace)
			return
		}
	}
	if typ == TransformHostHeaderRewrite && strings.ContainsAny(rw.Replace, "/?#@") {
		add(pp, "must be host name text (no '/', '?', '#' or '@'), got %q", rw.Replace)
	}
	if re == nil {
		return
	}
	for _, ref := range replacementRefs(rw.Replace) {
		if n, err := strconv.Atoi(ref); err == nil {
			if n > re.NumSubexp() {
				add(pp, "refers to $%s, but regex has %d capture group(s)", ref, re.NumSubexp())
			}
		} else if re.SubexpIndex(ref) < 0 {
			add(pp, "refers to ${%s}, but regex has no capture group named %q", ref, ref)
		}
	}
}

func what(typ string) string {
	if typ == TransformHostHeaderRewrite {
		return "host"
	}
	return "URL"
}

// replacementRefs returns the capture groups a replacement names, as
// regexp.Expand reads them: $1, $name, ${1}, ${name}; $$ is a literal $.
func replacementRefs(s string) []string {
	var refs []string
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			continue
		}
		i++
		if s[i] == '$' {
			continue
		}
		if s[i] == '{' {
			if end := strings.IndexByte(s[i:], '}'); end > 1 {
				refs = append(refs, s[i+1:i+end])
				i += end
			}
			continue
		}
		j := i
		for j < len(s) && (isAlnum(s[j]) || s[j] == '_') {
			j++
		}
		if j > i {
			refs = append(refs, s[i:j])
			i = j - 1
		}
	}
	return refs
}

// checkConditionRegex checks a condition's regular expression.
func checkConditionRegex(v string) string {
	_, msg := compileRegex(v, MaxRegexValueLength)
	return msg
}

// compileRegex compiles v as an RE2 regular expression of at most max
// characters, printable ASCII, and returns it or why it is refused.
func compileRegex(v string, max int) (*regexp.Regexp, string) {
	switch {
	case v == "":
		return nil, "must not be empty"
	case len(v) > max:
		return nil, fmt.Sprintf("must be at most %d characters, got %d", max, len(v))
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c > 0x7e {
			return nil, fmt.Sprintf("may contain only printable ASCII characters, got %q", v)
		}
	}
	re, err := regexp.Compile(v)
	if err != nil {
		msg := err.Error()
		if se, ok := err.(*syntax.Error); ok {
			msg = fmt.Sprintf("%s: `%s`", se.Code, se.Expr)
		}
		return nil, fmt.Sprintf("is not a valid RE2 regular expression (%s; look-ahead, look-behind, backreferences and possessive quantifiers are not supported), got %q", msg, v)
	}
	return re, ""
}

// yamlKey is the configuration file's key for an AWS condition field.
func yamlKey(field string) string { return strings.ReplaceAll(field, "-", "_") }

// checkCondition checks one condition's values and returns how many values and
// wildcards it has.
func checkCondition(c Condition, cp string, add func(path, format string, args ...any)) (values, wildcards int) {
	list := func(key string, vals []string, check func(p, v string)) {
		kp := join(cp, key)
		if len(vals) == 0 {
			add(kp, "needs at least one value")
		}
		for j, v := range vals {
			check(index(kp, j), v)
		}
		values += len(vals)
	}
	regexes := func(key string, vals []string) {
		list(key, vals, func(p, v string) {
			if msg := checkConditionRegex(v); msg != "" {
				add(p, "%s", msg)
			}
		})
	}
	both := func(key string) {
		add(join(cp, key), "set values or regex_values, not both (a condition matches wildcards or regular expressions)")
	}
	switch {
	case c.HostHeader != nil && c.HostHeaderRegex != nil:
		both("host_header")
	case c.PathPattern != nil && c.PathPatternRegex != nil:
		both("path_pattern")
	case c.HostHeaderRegex != nil:
		regexes("host_header.regex_values", c.HostHeaderRegex)
	case c.PathPatternRegex != nil:
		regexes("path_pattern.regex_values", c.PathPatternRegex)
	case c.HostHeader != nil:
		list("host_header", c.HostHeader, func(p, v string) {
			if msg := checkHostPattern(v); msg != "" {
				add(p, "%s", msg)
			}
			wildcards += countWildcards(v, false)
		})
	case c.PathPattern != nil:
		list("path_pattern", c.PathPattern, func(p, v string) {
			if msg := checkPathPattern(v); msg != "" {
				add(p, "%s", msg)
			}
			wildcards += countWildcards(v, false)
		})
	case c.HTTPHeader != nil:
		hp := join(cp, "http_header")
		name := c.HTTPHeader.Name
		switch {
		case name == "":
			add(join(hp, "name"), "is required")
		case len(name) > MaxHeaderNameLength:
			add(join(hp, "name"), "must be at most %d characters, got %d", MaxHeaderNameLength, len(name))
		case !isTokenString(name):
			add(join(hp, "name"), "must be a header name (letters, digits and !#$%%&'*+-.^_`|~), got %q", name)
		case strings.EqualFold(name, "Host"):
			add(join(hp, "name"), "cannot be Host; use a host_header condition")
		}
		switch {
		case c.HTTPHeader.Values != nil && c.HTTPHeader.RegexValues != nil:
			both("http_header")
		case c.HTTPHeader.RegexValues != nil:
			regexes("http_header.regex_values", c.HTTPHeader.RegexValues)
		default:
			list("http_header.values", c.HTTPHeader.Values, func(p, v string) {
				if msg := checkMatchValue(v, false); msg != "" {
					add(p, "%s", msg)
				}
				wildcards += countWildcards(v, false)
			})
		}
	case c.HTTPRequestMethod != nil:
		list("http_request_method", c.HTTPRequestMethod, func(p, v string) {
			if msg := checkMethod(v); msg != "" {
				add(p, "%s", msg)
			}
		})
	case c.QueryString != nil:
		kp := join(cp, "query_string")
		if len(c.QueryString) == 0 {
			add(kp, "needs at least one key/value pair")
		}
		for j, q := range c.QueryString {
			qp := index(kp, j)
			if q.Key != "" {
				if msg := checkMatchValue(q.Key, true); msg != "" {
					add(join(qp, "key"), "%s", msg)
				}
				wildcards += countWildcards(q.Key, true)
			}
			if q.Value == "" {
				add(join(qp, "value"), "is required (leave out key to match any key)")
			} else if msg := checkMatchValue(q.Value, true); msg != "" {
				add(join(qp, "value"), "%s", msg)
			}
			wildcards += countWildcards(q.Value, true)
		}
		values += len(c.QueryString)
	case c.SourceIP != nil:
		list("source_ip", c.SourceIP, func(p, v string) {
			if _, err := ParseSourceIP(v); err != nil {
				add(p, "%v", err)
			}
		})
	}
	return values, wildcards
}

// ParseSourceIP reads a source_ip value: an IPv4 or IPv6 CIDR block. Host bits
// are cleared ("10.1.2.3/8" is 10.0.0.0/8).
func ParseSourceIP(v string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(v)
	if err != nil {
		if _, aerr := netip.ParseAddr(v); aerr == nil {
			return netip.Prefix{}, fmt.Errorf("must be a CIDR block such as %s/32 (the prefix length is required), got %q", v, v)
		}
		return netip.Prefix{}, fmt.Errorf("must be a CIDR block such as 10.0.0.0/8 or 2001:db8::/32, got %q", v)
	}
	if p.Addr().Is4() && p.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255}) && p.Bits() == 32 {
		return netip.Prefix{}, fmt.Errorf("255.255.255.255/32 is not allowed")
	}
	return p.Masked(), nil
}

// checkHostPattern applies AWS's rules for host_header values.
func checkHostPattern(v string) string {
	if msg := checkLength(v); msg != "" {
		return msg
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(isAlnum(c) || c == '-' || c == '.' || c == '*' || c == '?') {
			return fmt.Sprintf("may contain only letters, digits, '-', '.', '*' and '?', got %q", v)
		}
	}
	dot := strings.LastIndexByte(v, '.')
	if dot < 0 {
		return fmt.Sprintf("must contain a '.' (a domain name such as example.com or *.example.com), got %q", v)
	}
	tld := v[dot+1:]
	if tld == "" {
		return fmt.Sprintf("must end in letters after the last '.', got %q", v)
	}
	for i := 0; i < len(tld); i++ {
		if !(tld[i] >= 'a' && tld[i] <= 'z' || tld[i] >= 'A' && tld[i] <= 'Z') {
			return fmt.Sprintf("may contain only letters after the last '.', got %q", v)
		}
	}
	return ""
}

// checkPathPattern applies AWS's rules for path_pattern values.
func checkPathPattern(v string) string {
	if msg := checkLength(v); msg != "" {
		return msg
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isAlnum(c) && !strings.ContainsRune(`_-.$/~"'@:+&*?`, rune(c)) {
			return fmt.Sprintf("may contain only letters, digits and _-.$/~\"'@:+&*? (no query string: use a query_string condition), got %q", v)
		}
	}
	return ""
}

// checkMatchValue checks an http_header value or a query_string key or value:
// visible ASCII and spaces; with escapes, a backslash must escape *, ? or \.
func checkMatchValue(v string, escapes bool) string {
	if msg := checkLength(v); msg != "" {
		return msg
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("may contain only printable ASCII characters, got %q", v)
		}
		if escapes && c == '\\' {
			if i+1 == len(v) || !strings.ContainsRune(`*?\`, rune(v[i+1])) {
				return fmt.Sprintf(`a backslash must escape *, ? or \ (write \\ for a literal backslash), got %q`, v)
			}
			i++
		}
	}
	return ""
}

func checkLength(v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > MaxConditionValueLength:
		return fmt.Sprintf("must be at most %d characters, got %d", MaxConditionValueLength, len(v))
	}
	return ""
}

func checkMethod(v string) string {
	switch {
	case v == "":
		return "must not be empty"
	case len(v) > MaxMethodLength:
		return fmt.Sprintf("must be at most %d characters, got %d", MaxMethodLength, len(v))
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return fmt.Sprintf("may contain only upper-case letters, '-' and '_' (methods are case-sensitive), got %q", v)
		}
	}
	return ""
}

// countWildcards counts * and ? in v; with escapes, escaped ones do not count.
func countWildcards(v string, escapes bool) int {
	n := 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			if escapes {
				i++
			}
		case '*', '?':
			n++
		}
	}
	return n
}

func isTokenString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return s != ""
}

// CheckAction checks an action by itself: its type, and the configuration that
// type takes. Target group names are resolved by the caller.
func CheckAction(a Action) []FieldProblem {
	var probs []FieldProblem
	add := func(path, format string, args ...any) {
		probs = append(probs, FieldProblem{path, fmt.Sprintf(format, args...)})
	}
	switch a.Type {
	case ActionForward:
		if a.Redirect != nil || a.FixedResponse != nil {
			add("", "a forward action takes target_group or forward, not redirect or fixed_response")
		}
		checkForward(a, add)
	case ActionRedirect:
		if a.Redirect == nil {
			add("redirect", "is required for a redirect action")
		} else {
			checkRedirect(*a.Redirect, add)
		}
		if a.TargetGroup != "" || a.Forward != nil || a.FixedResponse != nil {
			add("", "a redirect action takes only redirect")
		}
	case ActionFixedResponse:
		if a.FixedResponse == nil {
			add("fixed_response", "is required for a fixed-response action")
		} else {
			checkFixedResponse(*a.FixedResponse, add)
		}
		if a.TargetGroup != "" || a.Forward != nil || a.Redirect != nil {
			add("", "a fixed-response action takes only fixed_response")
		}
	case ActionAuthenticateOIDC:
		if a.AuthenticateOIDC == nil {
			add("authenticate_oidc", "is required for an authenticate-oidc action")
		} else {
			checkAuthenticateOIDC(a.AuthenticateOIDC, add)
		}
	case ActionAuthenticateCognito:
		if a.AuthenticateCognito == nil {
			add("authenticate_cognito", "is required for an authenticate-cognito action")
		} else {
			checkAuthenticateCognito(a.AuthenticateCognito, add)
		}
	case ActionJWTValidation:
		if a.JWTValidation == nil {
			add("jwt_validation", "is required for a jwt-validation action")
		} else {
			checkJWTValidation(a.JWTValidation, add)
		}
	case "":
		add("type", "is required")
	default:
		add("type", "must be one of forward, redirect, fixed-response, authenticate-oidc, authenticate-cognito or jwt-validation, got %q", a.Type)
	}
	if IsAuthenticate(a.Type) && (a.TargetGroup != "" || a.Forward != nil || a.Redirect != nil || a.FixedResponse != nil) {
		add("", "a %s action takes only %s", a.Type, yamlKey(a.Type))
	}
	for _, c := range []struct {
		typ string
		set bool
	}{
		{ActionAuthenticateOIDC, a.AuthenticateOIDC != nil},
		{ActionAuthenticateCognito, a.AuthenticateCognito != nil},
		{ActionJWTValidation, a.JWTValidation != nil},
	} {
		if c.set && a.Type != c.typ && a.Type != "" {
			add(yamlKey(c.typ), "belongs to a %s action, not to a %s action", c.typ, a.Type)
		}
	}
	return probs
}

func checkForward(a Action, add func(path, format string, args ...any)) {
	if a.Forward == nil {
		if a.TargetGroup == "" {
			add("target_group", "is required for a forward action (or forward.target_groups for weighted target groups)")
		}
		return
	}
	f := a.Forward
	switch n := len(f.TargetGroups); {
	case n == 0:
		add("forward.target_groups", "needs at least one target group")
	case n > MaxForwardTargetGroups:
		add("forward.target_groups", "a forward action can have at most %d target groups, got %d", MaxForwardTargetGroups, n)
	}
	if a.TargetGroup != "" && (len(f.TargetGroups) != 1 || f.TargetGroups[0].Name != a.TargetGroup) {
		add("target_group", "give either target_group or forward.target_groups, not both (unless forward lists exactly that one group)")
	}
	seen := map[string]int{}
	for i, t := range f.TargetGroups {
		tp := index("forward.target_groups", i)
		if t.Name == "" {
			add(join(tp, "name"), "must name a target group")
		} else if prev, dup := seen[t.Name]; dup {
			add(join(tp, "name"), "target group %q is already listed as target_groups[%d]", t.Name, prev)
		} else {
			seen[t.Name] = i
		}
		if t.Weight < 0 || t.Weight > MaxTargetGroupWeight {
			add(join(tp, "weight"), "must be an integer from 0 to %d, got %d", MaxTargetGroupWeight, t.Weight)
		}
	}
	if s := f.Stickiness; s.Enabled && (s.DurationSeconds < 1 || s.DurationSeconds > MaxStickinessDurationSeconds) {
		add("forward.stickiness.duration_seconds", "must be an integer from 1 to %d when stickiness is enabled, got %d", MaxStickinessDurationSeconds, s.DurationSeconds)
	} else if !s.Enabled && s.DurationSeconds != 0 && (s.DurationSeconds < 1 || s.DurationSeconds > MaxStickinessDurationSeconds) {
		add("forward.stickiness.duration_seconds", "must be an integer from 1 to %d, got %d", MaxStickinessDurationSeconds, s.DurationSeconds)
	}
}

// redirectPlaceholders lists the placeholders each redirect component may use.
var redirectPlaceholders = map[string][]string{
	"protocol": {PlaceholderProtocol},
	"host":     {PlaceholderHost},
	"port":     {PlaceholderPort},
	"path":     {PlaceholderHost, PlaceholderPath, PlaceholderPort},
	"query":    {PlaceholderProtocol, PlaceholderHost, PlaceholderPort, PlaceholderPath, PlaceholderQuery},
}

// RedirectDefaults returns r with every omitted component set to the
// placeholder that keeps the request's value, as AWS stores it.
func RedirectDefaults(r RedirectConfig) RedirectConfig {
	if r.Protocol == "" {
		r.Protocol = PlaceholderProtocol
	}
	if r.Host == "" {
		r.Host = PlaceholderHost
	}
	if r.Port == "" {
		r.Port = PlaceholderPort
	}
	if r.Path == "" {
		r.Path = "/" + PlaceholderPath
	}
	if r.Query == "" {
		r.Query = PlaceholderQuery
	}
	return r
}

func checkRedirect(r RedirectConfig, add func(path, format string, args ...any)) {
	switch r.StatusCode {
	case RedirectHTTP301, RedirectHTTP302:
	case "":
		add("redirect.status_code", "is required: HTTP_301 or HTTP_302")
	default:
		add("redirect.status_code", "must be HTTP_301 or HTTP_302, got %q", r.StatusCode)
	}
	switch r.Protocol {
	case "", "HTTP", "HTTPS", PlaceholderProtocol:
	default:
		add("redirect.protocol", "must be HTTP, HTTPS or #{protocol}, got %q", r.Protocol)
	}
	if r.Port != "" && r.Port != PlaceholderPort {
		if p, err := strconv.Atoi(r.Port); err != nil || p < 1 || p > 65535 || strconv.Itoa(p) != r.Port {
			add("redirect.port", "must be a port from 1 to 65535 or #{port}, got %q", r.Port)
		}
	}
	component := func(key, v string, check func(string) string) {
		if v == "" {
			return
		}
		kp := join("redirect", key)
		if len(v) > MaxRedirectComponentLength {
			add(kp, "must be at most %d characters, got %d", MaxRedirectComponentLength, len(v))
			return
		}
		if msg := checkPlaceholders(v, redirectPlaceholders[key]); msg != "" {
			add(kp, "%s", msg)
			return
		}
		if check != nil {
			if msg := check(v); msg != "" {
				add(kp, "%s", msg)
			}
		}
	}
	component("host", r.Host, func(v string) string {
		// Only the literal text is a host name; the placeholders, already
		// checked, are the request's own host and need no check here.
		lit := strings.ReplaceAll(v, PlaceholderHost, "")
		for i := 0; i < len(lit); i++ {
			if c := lit[i]; c <= ' ' || c > 0x7e || strings.ContainsRune("/?#@{}", rune(c)) {
				return fmt.Sprintf("must be a host name, optionally with #{host} (no spaces, '/', '?', '#', '@', '{' or '}' in its literal text), got %q", v)
			}
		}
		return ""
	})
	component("path", r.Path, func(v string) string {
		if !strings.HasPrefix(v, "/") {
			return fmt.Sprintf("must start with '/', got %q", v)
		}
		return printable(v)
	})
	component("query", r.Query, func(v string) string {
		if strings.HasPrefix(v, "?") {
			return fmt.Sprintf("is written without the leading '?', got %q", v)
		}
		return printable(v)
	})
	d := RedirectDefaults(r)
	if d.Protocol == PlaceholderProtocol && d.Host == PlaceholderHost && d.Port == PlaceholderPort && d.Path == "/"+PlaceholderPath {
		add("redirect", "a redirect must change at least one of protocol, host, port or path; as written it redirects to itself")
	}
}

func printable(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > 0x7e {
			return fmt.Sprintf("may contain only printable ASCII without spaces, got %q", v)
		}
	}
	return ""
}

// checkPlaceholders reports a #{...} in v that is not one of allowed.
func checkPlaceholders(v string, allowed []string) string {
	for i := strings.Index(v, "#{"); i >= 0; {
		end := strings.IndexByte(v[i:], '}')
		if end < 0 {
			return fmt.Sprintf("has an unterminated placeholder in %q", v)
		}
		ph := v[i : i+end+1]
		ok := false
		for _, a := range allowed {
			ok = ok || ph == a
		}
		if !ok {
			return fmt.Sprintf("may use only the placeholders %s here, got %s", strings.Join(allowed, ", "), ph)
		}
		next := strings.Index(v[i+end+1:], "#{")
		if next < 0 {
			break
		}
		i += end + 1 + next
	}
	return ""
}

func checkFixedResponse(f FixedResponseConfig, add func(path, format string, args ...any)) {
	sc := f.StatusCode
	if sc == "" {
		add("fixed_response.status_code", "is required: a 2XX, 4XX or 5XX code such as \"503\"")
	} else if len(sc) != 3 || !strings.ContainsRune("245", rune(sc[0])) || !isDigits(sc) {
		add("fixed_response.status_code", "must be a 2XX, 4XX or 5XX code, got %q", sc)
	}
	if ct := f.ContentType; ct != "" {
		ok := false
		for _, t := range FixedResponseContentTypes {
			ok = ok || ct == t
		}
		if !ok {
			add("fixed_response.content_type", "must be one of %s, got %q", strings.Join(FixedResponseContentTypes, ", "), ct)
		}
	}
	if n := utf8.RuneCountInString(f.MessageBody); n > MaxFixedResponseBody {
		add("fixed_response.message_body", "must be at most %d characters, got %d", MaxFixedResponseBody, n)
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// TargetGroupNames lists the target groups the listener's default actions and
// rules forward to, each once, in the order first named.
func (l Listener) TargetGroupNames() []string {
	var out []string
	add := func(a Action) {
		for _, t := range a.ForwardTargetGroups() {
			if !contains(out, t.Name) {
				out = append(out, t.Name)
			}
		}
	}
	for _, a := range l.DefaultActions {
		add(a)
	}
	for _, r := range l.Rules {
		for _, a := range r.Actions {
			add(a)
		}
	}
	return out
}
