package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Values of the enumerated attributes, as AWS spells them.
const (
	DesyncMonitor   = "monitor"
	DesyncDefensive = "defensive"
	DesyncStrictest = "strictest"

	XFFAppend   = "append"
	XFFPreserve = "preserve"
	XFFRemove   = "remove"

	AlgorithmRoundRobin               = "round_robin"
	AlgorithmLeastOutstandingRequests = "least_outstanding_requests"
	AlgorithmWeightedRandom           = "weighted_random"

	CrossZoneTrue                         = "true"
	CrossZoneFalse                        = "false"
	CrossZoneUseLoadBalancerConfiguration = "use_load_balancer_configuration"

	StickinessLBCookie  = "lb_cookie"
	StickinessAppCookie = "app_cookie"

	// RetryModeSafe and RetryModeCompat are the values of the Albatross extension
	// target_keep_alive.retry_mode; see TargetGroupAttributes.RetryMode.
	RetryModeSafe   = "safe"
	RetryModeCompat = "compat"
)

// attribute is one row of an attribute table: its AWS key, AWS's default as the API
// returns it, and a check that validates a value and returns its canonical form.
type attribute struct {
	key   string
	def   string
	check func(v string) (string, error)
}

// loadBalancerAttributes is AWS's ALB attribute table (alb-data-plane.md §3,
// elbv2-api.md §3.2), in the order Describe returns it. Never modified.
var loadBalancerAttributes = []attribute{
	{"access_logs.s3.enabled", "false", checkBool},
	{"access_logs.s3.bucket", "", checkBucket},
	{"access_logs.s3.prefix", "", checkLogPrefix},
	{"client_keep_alive.seconds", "3600", checkInt(60, 604800)},
	{"connection_logs.s3.enabled", "false", checkBool},
	{"connection_logs.s3.bucket", "", checkBucket},
	{"connection_logs.s3.prefix", "", checkLogPrefix},
	{"deletion_protection.enabled", "false", checkBool},
	{"health_check_logs.s3.enabled", "false", checkBool},
	{"health_check_logs.s3.bucket", "", checkBucket},
	{"health_check_logs.s3.prefix", "", checkLogPrefix},
	{"idle_timeout.timeout_seconds", "60", checkInt(1, 4000)},
	{"ipv6.deny_all_igw_traffic", "false", checkBool},
	{"load_balancing.cross_zone.enabled", "true", checkCrossZoneALB},
	{"routing.http.desync_mitigation_mode", DesyncDefensive, checkOneOf(DesyncMonitor, DesyncDefensive, DesyncStrictest)},
	{"routing.http.drop_invalid_header_fields.enabled", "false", checkBool},
	{"routing.http.preserve_host_header.enabled", "false", checkBool},
	{"routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false", checkBool},
	{"routing.http.xff_client_port.enabled", "false", checkBool},
	{"routing.http.xff_header_processing.mode", XFFAppend, checkOneOf(XFFAppend, XFFPreserve, XFFRemove)},
	{"routing.http2.enabled", "true", checkBool},
	{"waf.fail_open.enabled", "false", checkBool},
	{"zonal_shift.config.enabled", "false", checkBool},
}

// targetGroupAttributes is AWS's attribute table for ALB target groups of type ip
// (alb-data-plane.md §4.1, elbv2-api.md §3.3) plus the target_keep_alive.*
// extension keys. Never modified.
var targetGroupAttributes = []attribute{
	{"deregistration_delay.timeout_seconds", "300", checkInt(0, 3600)},
	{"load_balancing.algorithm.anomaly_mitigation", "off", checkOneOf("on", "off")},
	{"load_balancing.algorithm.type", AlgorithmRoundRobin, checkOneOf(AlgorithmRoundRobin, AlgorithmLeastOutstandingRequests, AlgorithmWeightedRandom)},
	{"load_balancing.cross_zone.enabled", CrossZoneUseLoadBalancerConfiguration, checkOneOf(CrossZoneTrue, CrossZoneFalse, CrossZoneUseLoadBalancerConfiguration)},
	{"slow_start.duration_seconds", "0", checkSlowStart},
	{"stickiness.app_cookie.cookie_name", "", checkAppCookieName},
	{"stickiness.app_cookie.duration_seconds", "86400", checkInt(1, 604800)},
	{"stickiness.enabled", "false", checkBool},
	{"stickiness.lb_cookie.duration_seconds", "86400", checkInt(1, 604800)},
	{"stickiness.type", StickinessLBCookie, checkOneOf(StickinessLBCookie, StickinessAppCookie)},
	{"target_group_health.dns_failover.minimum_healthy_targets.count", "1", checkOffOrInt(1, maxTargetCount)},
	{"target_group_health.dns_failover.minimum_healthy_targets.percentage", "off", checkOffOrInt(1, 100)},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1", checkInt(1, maxTargetCount)},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off", checkOffOrInt(1, 100)},
	{"target_keep_alive.idle_timeout_seconds", "0", checkTargetIdle},
	{"target_keep_alive.retry_mode", RetryModeSafe, checkOneOf(RetryModeSafe, RetryModeCompat)},
}

// maxTargetCount bounds the target_group_health counts. AWS says "1 to the maximum
// number of targets"; the per-group quota is adjustable, so any count up to this
// is accepted.
const maxTargetCount = 1 << 20

// notApplicable are real AWS attribute keys that do not belong on an ALB or on an
// ip target group, with the reason, so a user who copies them gets told why.
var notApplicableLB = map[string]string{
	"dns_record.client_routing_policy":            "is a Network Load Balancer attribute; it does not apply to an Application Load Balancer",
	"secondary_ips.auto_assigned.per_subnet":      "is a Network Load Balancer attribute; it does not apply to an Application Load Balancer",
	"load_balancing.algorithm.type":               "is a target group attribute, not a load balancer attribute",
	"deregistration_delay.timeout_seconds":        "is a target group attribute, not a load balancer attribute",
	"target_keep_alive.idle_timeout_seconds":      "is a target group attribute, not a load balancer attribute",
	"stickiness.enabled":                          "is a target group attribute, not a load balancer attribute",
	"slow_start.duration_seconds":                 "is a target group attribute, not a load balancer attribute",
	"target_keep_alive.retry_mode":                "is a target group attribute, not a load balancer attribute",
	"load_balancing.algorithm.anomaly_mitigation": "is a target group attribute, not a load balancer attribute",
}

var notApplicableTG = map[string]string{
	"lambda.multi_value_headers.enabled":                  "applies only to lambda target groups; Albatross target groups are of type ip",
	"idle_timeout.timeout_seconds":                        "is a load balancer attribute, not a target group attribute (for the idle time of target connections see target_keep_alive.idle_timeout_seconds)",
	"client_keep_alive.seconds":                           "is a load balancer attribute, not a target group attribute",
	"routing.http.desync_mitigation_mode":                 "is a load balancer attribute, not a target group attribute",
	"waf.fail_open.enabled":                               "is a load balancer attribute, not a target group attribute",
	"deletion_protection.enabled":                         "is a load balancer attribute, not a target group attribute",
	"routing.http2.enabled":                               "is a load balancer attribute, not a target group attribute",
	"routing.http.drop_invalid_header_fields.enabled":     "is a load balancer attribute, not a target group attribute",
	"proxy_protocol_v2.enabled":                           "is a Network Load Balancer target group attribute; it does not apply to an Application Load Balancer",
	"preserve_client_ip.enabled":                          "is a Network Load Balancer target group attribute; it does not apply to an Application Load Balancer",
	"deregistration_delay.connection_termination.enabled": "is a Network Load Balancer target group attribute; it does not apply to an Application Load Balancer",
}

// LoadBalancerAttributeDefaults returns every ALB attribute key with AWS's default
// value, as DescribeLoadBalancerAttributes returns them for a new load balancer.
// The map is a fresh copy.
func LoadBalancerAttributeDefaults() map[string]string { return defaults(loadBalancerAttributes) }

// TargetGroupAttributeDefaults returns every target group attribute key (AWS's and
// the target_keep_alive.* extension keys) with its default value. The map is a
// fresh copy.
func TargetGroupAttributeDefaults() map[string]string { return defaults(targetGroupAttributes) }

// LoadBalancerAttributeKeys returns the known load balancer attribute keys, sorted.
func LoadBalancerAttributeKeys() []string { return keys(loadBalancerAttributes) }

// TargetGroupAttributeKeys returns the known target group attribute keys, sorted.
func TargetGroupAttributeKeys() []string { return keys(targetGroupAttributes) }

func defaults(table []attribute) map[string]string {
	m := make(map[string]string, len(table))
	for _, a := range table {
		m[a.key] = a.def
	}
	return m
}

func keys(table []attribute) []string {
	ks := make([]string, len(table))
	for i, a := range table {
		ks[i] = a.key
	}
	slices.Sort(ks)
	return ks
}

// ValidateLoadBalancerAttributes checks a load balancer attribute map (keys as AWS
// spells them, values as the API carries them) and returns its typed form. Missing
// keys take AWS's defaults, so the ELBv2 API can pass either the full merged set or
// only the keys a caller gave. Every problem is reported, in a *ValidationError
// whose Problem.Path is the attribute key.
func ValidateLoadBalancerAttributes(attrs map[string]string) (LoadBalancerAttributes, error) {
	_, typed, err := NormalizeLoadBalancerAttributes(attrs)
	return typed, err
}

// NormalizeLoadBalancerAttributes is ValidateLoadBalancerAttributes that also
// returns the complete attribute map: every known key present, defaults filled,
// values in canonical form ("60", "true"), ready to store and to return from
// DescribeLoadBalancerAttributes.
func NormalizeLoadBalancerAttributes(attrs map[string]string) (map[string]string, LoadBalancerAttributes, error) {
	full, probs := checkLoadBalancerAttributes(attrs)
	if len(probs) > 0 {
		return nil, LoadBalancerAttributes{}, attrProblemsError(probs)
	}
	return full, typedLoadBalancerAttributes(full), nil
}

// ValidateTargetGroupAttributes is the target group twin of
// ValidateLoadBalancerAttributes. Rules that involve a load balancer (see
// CheckTargetIdleTimeout) are the caller's to check.
func ValidateTargetGroupAttributes(attrs map[string]string) (TargetGroupAttributes, error) {
	_, typed, err := NormalizeTargetGroupAttributes(attrs)
	return typed, err
}

// NormalizeTargetGroupAttributes is the target group twin of
// NormalizeLoadBalancerAttributes.
func NormalizeTargetGroupAttributes(attrs map[string]string) (map[string]string, TargetGroupAttributes, error) {
	full, probs := checkTargetGroupAttributes(attrs)
	if len(probs) > 0 {
		return nil, TargetGroupAttributes{}, attrProblemsError(probs)
	}
	return full, typedTargetGroupAttributes(full), nil
}

// attrProblem is a problem with one attribute. near lists keys whose position
// explains the problem when key itself was not written (for example the
// .enabled key when a required .bucket is missing).
type attrProblem struct {
	key  string
	msg  string
	near []string
}

func attrProblemsError(probs []attrProblem) error {
	ps := make([]Problem, len(probs))
	for i, p := range probs {
		ps[i] = Problem{Path: p.key, Message: p.msg}
	}
	return &ValidationError{Problems: ps}
}

// checkAttributes validates given against table: unknown keys, each value, and
// returns the complete canonical map plus the set of keys whose values are valid,
// so cross-attribute rules can skip keys that already have a problem.
func checkAttributes(table []attribute, given map[string]string, kind string, notApplicable map[string]string) (map[string]string, map[string]bool, []attrProblem) {
	var probs []attrProblem
	known := make(map[string]bool, len(table))
	names := make([]string, len(table))
	for i, a := range table {
		known[a.key] = true
		names[i] = a.key
	}
	givenKeys := make([]string, 0, len(given))
	for k := range given {
		givenKeys = append(givenKeys, k)
	}
	slices.Sort(givenKeys)
	for _, k := range givenKeys {
		if known[k] {
			continue
		}
		if why, ok := notApplicable[k]; ok {
			probs = append(probs, attrProblem{key: k, msg: why})
			continue
		}
		probs = append(probs, attrProblem{key: k, msg: "unknown " + kind + " attribute" + didYouMean(k, names)})
	}
	full := make(map[string]string, len(table))
	valid := make(map[string]bool, len(table))
	for _, a := range table {
		v, ok := given[a.key]
		if !ok {
			v = a.def
		}
		c, err := a.check(v)
		if err != nil {
			probs = append(probs, attrProblem{key: a.key, msg: err.Error()})
			full[a.key] = v
			continue
		}
		full[a.key] = c
		valid[a.key] = true
	}
	return full, valid, probs
}

func checkLoadBalancerAttributes(given map[string]string) (map[string]string, []attrProblem) {
	full, valid, probs := checkAttributes(loadBalancerAttributes, given, "load balancer", notApplicableLB)
	for _, p := range []string{"access_logs", "connection_logs", "health_check_logs"} {
		enabled, bucket := p+".s3.enabled", p+".s3.bucket"
		if valid[enabled] && valid[bucket] && full[enabled] == "true" && full[bucket] == "" {
			probs = append(probs, attrProblem{key: bucket, msg: "is required when " + enabled + " is true", near: []string{enabled}})
		}
	}
	return full, probs
}

func checkTargetGroupAttributes(given map[string]string) (map[string]string, []attrProblem) {
	full, valid, probs := checkAttributes(targetGroupAttributes, given, "target group", notApplicableTG)
	const (
		algo      = "load_balancing.algorithm.type"
		anomaly   = "load_balancing.algorithm.anomaly_mitigation"
		slow      = "slow_start.duration_seconds"
		sticky    = "stickiness.enabled"
		stype     = "stickiness.type"
		cookie    = "stickiness.app_cookie.cookie_name"
		crossZone = "load_balancing.cross_zone.enabled"
		dnsCount  = "target_group_health.dns_failover.minimum_healthy_targets.count"
		dnsPct    = "target_group_health.dns_failover.minimum_healthy_targets.percentage"
		usrCount  = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"
		usrPct    = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"
	)
	if valid[anomaly] && valid[algo] && full[anomaly] == "on" && full[algo] != AlgorithmWeightedRandom {
		probs = append(probs, attrProblem{key: anomaly, near: []string{algo},
			msg: fmt.Sprintf("can be \"on\" only when %s is %s, got %s %q", algo, AlgorithmWeightedRandom, algo, full[algo])})
	}
	if valid[slow] && valid[algo] && full[slow] != "0" && full[algo] != AlgorithmRoundRobin {
		probs = append(probs, attrProblem{key: slow, near: []string{algo},
			msg: fmt.Sprintf("slow start works only with %s %s, got %s %q", algo, AlgorithmRoundRobin, algo, full[algo])})
	}
	if valid[sticky] && valid[stype] && valid[cookie] && full[sticky] == "true" && full[stype] == StickinessAppCookie && full[cookie] == "" {
		probs = append(probs, attrProblem{key: cookie, near: []string{stype, sticky},
			msg: "is required when stickiness.type is app_cookie and stickiness.enabled is true"})
	}
	if valid[sticky] && valid[crossZone] && full[sticky] == "true" && full[crossZone] == CrossZoneFalse {
		probs = append(probs, attrProblem{key: sticky, near: []string{crossZone},
			msg: "stickiness cannot be enabled when " + crossZone + " is false"})
	}
	for _, pair := range [][2]string{{dnsCount, usrCount}, {dnsPct, usrPct}} {
		dns, usr := pair[0], pair[1]
		if !valid[dns] || !valid[usr] || full[dns] == "off" || full[usr] == "off" {
			continue
		}
		d, _ := strconv.Atoi(full[dns])
		u, _ := strconv.Atoi(full[usr])
		if d < u {
			probs = append(probs, attrProblem{key: dns, near: []string{usr},
				msg: fmt.Sprintf("must be at least %s (%d), got %q: the DNS failover threshold cannot be below the routing failover threshold", usr, u, full[dns])})
		}
	}
	return full, probs
}

// typedLoadBalancerAttributes converts a complete, valid attribute map.
func typedLoadBalancerAttributes(m map[string]string) LoadBalancerAttributes {
	s3 := func(p string) S3LogAttributes {
		return S3LogAttributes{Enabled: m[p+".s3.enabled"] == "true", Bucket: m[p+".s3.bucket"], Prefix: m[p+".s3.prefix"]}
	}
	return LoadBalancerAttributes{
		IdleTimeout:                     seconds(m["idle_timeout.timeout_seconds"]),
		ClientKeepAlive:                 seconds(m["client_keep_alive.seconds"]),
		DesyncMitigationMode:            m["routing.http.desync_mitigation_mode"],
		DropInvalidHeaderFields:         m["routing.http.drop_invalid_header_fields.enabled"] == "true",
		PreserveHostHeader:              m["routing.http.preserve_host_header.enabled"] == "true",
		XFFClientPort:                   m["routing.http.xff_client_port.enabled"] == "true",
		XFFHeaderProcessingMode:         m["routing.http.xff_header_processing.mode"],
		TLSVersionAndCipherSuiteHeaders: m["routing.http.x_amzn_tls_version_and_cipher_suite.enabled"] == "true",
		HTTP2Enabled:                    m["routing.http2.enabled"] == "true",
		WAFFailOpen:                     m["waf.fail_open.enabled"] == "true",
		DeletionProtection:              m["deletion_protection.enabled"] == "true",
		AccessLogsS3:                    s3("access_logs"),
		ConnectionLogsS3:                s3("connection_logs"),
		HealthCheckLogsS3:               s3("health_check_logs"),
		IPv6DenyAllIGWTraffic:           m["ipv6.deny_all_igw_traffic"] == "true",
		ZonalShift:                      m["zonal_shift.config.enabled"] == "true",
	}
}

// typedTargetGroupAttributes converts a complete, valid attribute map.
func typedTargetGroupAttributes(m map[string]string) TargetGroupAttributes {
	offInt := func(v string) int {
		n, _ := strconv.Atoi(v) // "off" → 0
		return n
	}
	return TargetGroupAttributes{
		DeregistrationDelay: seconds(m["deregistration_delay.timeout_seconds"]),
		SlowStart:           seconds(m["slow_start.duration_seconds"]),
		Algorithm:           m["load_balancing.algorithm.type"],
		AnomalyMitigation:   m["load_balancing.algorithm.anomaly_mitigation"] == "on",
		CrossZone:           m["load_balancing.cross_zone.enabled"],
		Stickiness: Stickiness{
			Enabled:           m["stickiness.enabled"] == "true",
			Type:              m["stickiness.type"],
			LBCookieDuration:  seconds(m["stickiness.lb_cookie.duration_seconds"]),
			AppCookieName:     m["stickiness.app_cookie.cookie_name"],
			AppCookieDuration: seconds(m["stickiness.app_cookie.duration_seconds"]),
		},
		DNSFailoverMinHealthyCount:                offInt(m["target_group_health.dns_failover.minimum_healthy_targets.count"]),
		DNSFailoverMinHealthyPercentage:           offInt(m["target_group_health.dns_failover.minimum_healthy_targets.percentage"]),
		UnhealthyStateRoutingMinHealthyCount:      offInt(m["target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"]),
		UnhealthyStateRoutingMinHealthyPercentage: offInt(m["target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage"]),
		TargetIdleTimeout:                         seconds(m["target_keep_alive.idle_timeout_seconds"]),
		RetryMode:                                 m["target_keep_alive.retry_mode"],
	}
}

// seconds converts a valid decimal seconds value.
func seconds(v string) time.Duration {
	n, _ := strconv.Atoi(v)
	return time.Duration(n) * time.Second
}

// Value checks. Each returns the canonical form of a valid value, or an error
// whose text is a Problem message ending in `got "VALUE"`.

func checkBool(v string) (string, error) {
	switch strings.ToLower(v) {
	case "true":
		return "true", nil
	case "false":
		return "false", nil
	}
	return "", fmt.Errorf("must be true or false, got %q", v)
}

// parseDecimal accepts an optionally signed decimal integer and nothing else.
func parseDecimal(v string) (int, bool) {
	if v == "" {
		return 0, false
	}
	s := strings.TrimPrefix(v, "-")
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

func checkInt(lo, hi int) func(string) (string, error) {
	return func(v string) (string, error) {
		n, ok := parseDecimal(v)
		if !ok || n < lo || n > hi {
			return "", fmt.Errorf("must be an integer from %d to %d, got %q", lo, hi, v)
		}
		return strconv.Itoa(n), nil
	}
}

func checkOffOrInt(lo, hi int) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "off" {
			return v, nil
		}
		n, ok := parseDecimal(v)
		if !ok || n < lo || n > hi {
			return "", fmt.Errorf("must be \"off\" or an integer from %d to %d, got %q", lo, hi, v)
		}
		return strconv.Itoa(n), nil
	}
}

func checkSlowStart(v string) (string, error) {
	n, ok := parseDecimal(v)
	if !ok || n != 0 && (n < 30 || n > 900) {
		return "", fmt.Errorf("must be 0 (off) or an integer from 30 to 900, got %q", v)
	}
	return strconv.Itoa(n), nil
}

func checkTargetIdle(v string) (string, error) {
	n, ok := parseDecimal(v)
	if !ok || n < 0 || n > 4000 {
		return "", fmt.Errorf("must be 0 (unset) or an integer from 1 to 4000, got %q", v)
	}
	return strconv.Itoa(n), nil
}

func checkOneOf(values ...string) func(string) (string, error) {
	list := orList(values)
	return func(v string) (string, error) {
		if slices.Contains(values, v) {
			return v, nil
		}
		hint := ""
		for _, w := range values {
			if strings.EqualFold(v, w) {
				hint = fmt.Sprintf(" (values are case-sensitive: %q)", w)
			}
		}
		return "", fmt.Errorf("must be %s, got %q%s", list, v, hint)
	}
}

// orList formats values as `a, b or c`.
func orList(values []string) string {
	if len(values) == 1 {
		return values[0]
	}
	return "one of " + strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

func checkCrossZoneALB(v string) (string, error) {
	c, err := checkBool(v)
	if err != nil {
		return "", err
	}
	if c != "true" {
		return "", fmt.Errorf("must be true: cross-zone load balancing is always on for an Application Load Balancer, got %q", v)
	}
	return c, nil
}

// checkBucket accepts "" (unset) or an S3 bucket name: 3-63 lowercase letters,
// digits, dots and hyphens, beginning and ending with a letter or digit.
func checkBucket(v string) (string, error) {
	if v == "" {
		return v, nil
	}
	ok := len(v) >= 3 && len(v) <= 63
	for i := 0; ok && i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
		case (c == '.' || c == '-') && i > 0 && i < len(v)-1:
		default:
			ok = false
		}
	}
	if !ok {
		return "", fmt.Errorf("must be an S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, beginning and ending with a letter or digit), got %q", v)
	}
	return v, nil
}

func checkLogPrefix(v string) (string, error) {
	if strings.Contains(v, "AWSLogs") {
		return "", fmt.Errorf("must not contain \"AWSLogs\" (AWS adds it to every log key itself), got %q", v)
	}
	return v, nil
}

// checkAppCookieName accepts "" (unset) or a cookie name: an RFC 6265 token that
// does not begin with one of the names the load balancer uses for its own cookies.
func checkAppCookieName(v string) (string, error) {
	// AWSALBAPP and AWSALBTG both begin with AWSALB.
	if strings.HasPrefix(v, "AWSALB") {
		return "", fmt.Errorf("must not begin with AWSALB, AWSALBAPP or AWSALBTG (the load balancer's own cookies), got %q", v)
	}
	for i := 0; i < len(v); i++ {
		if !isTokenChar(v[i]) {
			return "", fmt.Errorf("must be a cookie name (letters, digits and !#$%%&'*+-.^_`|~), got %q", v)
		}
	}
	return v, nil
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	return isAlnum(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
