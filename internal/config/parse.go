package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Defaults for the top-level keys.
const (
	// DefaultRegion is the region written into ARNs when the file names none.
	DefaultRegion = "us-east-1"
	// DefaultAccountID is the account written into ARNs when the file names none;
	// it is the placeholder account that AWS tools and LocalStack use locally.
	DefaultAccountID = "000000000000"
	// DefaultListenerAddress binds every IPv4 interface, as an ALB listens on all
	// of its addresses.
	DefaultListenerAddress = "0.0.0.0"
	// DefaultProtocol is the listener and target group protocol when none is set.
	DefaultProtocol = "HTTP"
)

// Action types AWS defines for ALB listeners and rules.
const (
	ActionForward             = "forward"
	ActionRedirect            = "redirect"
	ActionFixedResponse       = "fixed-response"
	ActionAuthenticateOIDC    = "authenticate-oidc"
	ActionAuthenticateCognito = "authenticate-cognito"
	ActionJWTValidation       = "jwt-validation"
)

var (
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)
)

// Load reads the configuration file at path and parses it with Parse; problems
// name the file as path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a YAML configuration. filename is used only in
// messages. On success every default is filled in (see the field comments of
// Config and its parts). Otherwise the error is a *ValidationError listing every
// problem found, each as "FILE:LINE: KEY.PATH: what is wrong".
func Parse(filename string, data []byte) (*Config, error) {
	d := &decoder{file: filename}
	var cfg *Config
	if root := d.document(data); root != nil {
		cfg = d.config(root)
	}
	if err := problemsError(d.probs); err != nil {
		return nil, err
	}
	return cfg, nil
}

// tgInfo is what cross-checks need to know about a target group beyond its value.
type tgInfo struct {
	index      int
	name       *yaml.Node
	attrsValid bool
	// idleNode is where target_keep_alive.idle_timeout_seconds was written.
	idleNode *yaml.Node
	// usedBy is the index of the first load balancer that forwards to the group,
	// -1 when none.
	usedBy int
}

// lbPos records where a load balancer's parts were written, for the checks
// that run after decoding.
type lbPos struct {
	node, name *yaml.Node
	attrsValid bool
	listeners  []listenerPos
}

// listenerPos records where a listener's parts were written.
type listenerPos struct {
	node, port *yaml.Node
	// refs are the target groups named by the listener's default actions and
	// rules, in file order.
	refs []tgRef
}

// tgRef is one mention of a target group by an action.
type tgRef struct {
	name string
	path string
	node *yaml.Node
}

// socket is a listener's bound address, for overlap checks across load balancers.
type socket struct {
	addr netip.Addr
	port int
	path string
	line int
}

func (d *decoder) config(root *yaml.Node) *Config {
	c := &Config{Region: DefaultRegion, AccountID: DefaultAccountID}
	f, ok := d.mapping(root, "", "region", "account_id", "load_balancers", "target_groups", "trust_stores")
	if !ok {
		return c
	}
	if r, ok := f["region"]; ok {
		if s, ok := d.scalar(r.val, "region"); ok {
			if !regionRE.MatchString(s) {
				d.add(r.val, "region", "must be an AWS region name such as us-east-1, got %q", s)
			}
			c.Region = s
		}
	}
	if a, ok := f["account_id"]; ok {
		// The text as written: an unquoted 000000000000 is a YAML integer whose
		// leading zeros matter here.
		if s, ok := d.scalar(a.val, "account_id"); ok {
			if !accountIDRE.MatchString(s) {
				d.add(a.val, "account_id", "must be 12 digits, got %q", s)
			}
			c.AccountID = s
		}
	}

	tgs := map[string]*tgInfo{}
	tgNames := []string{}
	for i, n := range d.list(f["target_groups"].val, "target_groups") {
		path := index("target_groups", i)
		tg, info := d.targetGroup(n, path)
		info.index = i
		if tg.Name != "" {
			if prev, dup := tgs[tg.Name]; dup {
				d.add(orNode(info.name, n), join(path, "name"), "target group name %q is already used by target_groups[%d]", tg.Name, prev.index)
			} else {
				tgs[tg.Name] = info
				tgNames = append(tgNames, tg.Name)
			}
		}
		c.TargetGroups = append(c.TargetGroups, tg)
	}

	c.TrustStores = d.trustStores(f["trust_stores"].val)

	lbNode := f["load_balancers"].val
	lbItems := d.list(lbNode, "load_balancers")
	lbIndex := map[string]int{}
	var sockets []socket
	accessLogs := map[string]string{}
	for i, n := range lbItems {
		path := index("load_balancers", i)
		lb, pos := d.loadBalancer(n, path)
		if lb.Name != "" {
			if prev, dup := lbIndex[lb.Name]; dup {
				d.add(orNode(pos.name, n), join(path, "name"), "load balancer name %q is already used by load_balancers[%d]", lb.Name, prev)
			} else {
				lbIndex[lb.Name] = i
			}
		}
		for _, l := range []struct {
			key, what, path string
		}{{"access_log", "access log", lb.AccessLog.Path}, {"connection_log", "connection log", lb.ConnectionLog.Path},
			{"health_check_log", "health-check log", lb.HealthCheckLog.Path}} {
			if l.path == "" {
				continue
			}
			clean := filepath.Clean(l.path)
			if prev, dup := accessLogs[clean]; dup {
				d.add(n, join(path, l.key+".path"), "%q is already the %s; give each log its own file", l.path, prev)
			} else {
				accessLogs[clean] = l.what + " of " + path
			}
		}
		d.crossCheckListeners(path, lb, pos, &sockets)
		d.crossCheckActions(path, i, lb, pos, c.TargetGroups, tgs, tgNames)
		d.checkProtocolVersions(lb, pos, c.TargetGroups, tgs)
		c.LoadBalancers = append(c.LoadBalancers, lb)
	}
	d.checkTrustStoreRefs(c, lbItems)
	return c
}

// orNode returns n, or fallback when n is nil.
func orNode(n, fallback *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return fallback
}

func (d *decoder) loadBalancer(n *yaml.Node, path string) (LoadBalancer, lbPos) {
	lb := LoadBalancer{}
	pos := lbPos{node: n}
	f, ok := d.mapping(n, path, "name", "attributes", "access_log", "connection_log", "health_check_log", "listeners")
	if !ok {
		lb.Attributes = LoadBalancerAttributeDefaults()
		return lb, pos
	}
	if nf, ok := f["name"]; ok {
		pos.name = nf.val
		if s, ok := d.scalar(nf.val, join(path, "name")); ok {
			if err := ValidLoadBalancerName(s); err != nil {
				d.add(nf.val, join(path, "name"), "%v", err)
			}
			lb.Name = s
		}
	} else {
		d.add(n, join(path, "name"), "is required")
	}
	lb.Attributes, lb.Attrs, pos.attrsValid, _ = d.loadBalancerAttributes(f["attributes"], n, join(path, "attributes"))
	if al, ok := f["access_log"]; ok {
		lb.AccessLog = d.accessLog(al.val, join(path, "access_log"))
	}
	if cl, ok := f["connection_log"]; ok {
		lb.ConnectionLog = d.accessLog(cl.val, join(path, "connection_log"))
	}
	if hl, ok := f["health_check_log"]; ok {
		lb.HealthCheckLog = d.accessLog(hl.val, join(path, "health_check_log"))
	}
	for i, ln := range d.list(f["listeners"].val, join(path, "listeners")) {
		l, lp := d.listener(ln, index(join(path, "listeners"), i))
		lb.Listeners = append(lb.Listeners, l)
		pos.listeners = append(pos.listeners, lp)
	}
	return lb, pos
}

func (d *decoder) accessLog(n *yaml.Node, path string) AccessLog {
	var al AccessLog
	f, ok := d.mapping(n, path, "path", "directory")
	if !ok {
		return al
	}
	get := func(key string) string {
		v, ok := f[key]
		if !ok {
			return ""
		}
		s, ok := d.scalar(v.val, join(path, key))
		if ok && s == "" {
			d.add(v.val, join(path, key), "must not be empty (leave the key out instead)")
		}
		return s
	}
	al.Path, al.Directory = get("path"), get("directory")
	if al.Path != "" && al.Directory != "" {
		d.add(n, path, "set exactly one of path (one file) or directory (ALB-style gzip files), not both")
	}
	return al
}

func (d *decoder) listener(n *yaml.Node, path string) (Listener, listenerPos) {
	l := Listener{Address: DefaultListenerAddress, Protocol: DefaultProtocol}
	pos := listenerPos{node: n, port: n}
	f, ok := d.mapping(n, path, "port", "address", "protocol", "certificates", "ssl_policy", "default_actions", "rules", "attributes", "mutual_authentication")
	if !ok {
		return l, pos
	}
	l.Attributes, l.Attrs = d.listenerAttributes(f["attributes"], n, join(path, "attributes"))
	if p, ok := f["port"]; ok {
		pos.port = p.val
		l.Port, _ = d.intIn(p.val, join(path, "port"), 1, 65535)
	} else {
		d.add(n, join(path, "port"), "is required")
	}
	if a, ok := f["address"]; ok {
		if s, ok := d.scalar(a.val, join(path, "address")); ok {
			addr, err := netip.ParseAddr(s)
			if err != nil {
				d.add(a.val, join(path, "address"), "must be an IP address such as 0.0.0.0, 127.0.0.1 or ::, got %q", s)
			} else {
				l.Address = addr.Unmap().String()
			}
		}
	}
	if p, ok := f["protocol"]; ok {
		if s, ok := d.scalar(p.val, join(path, "protocol")); ok {
			l.Protocol = s
			d.checkProtocol(p.val, join(path, "protocol"), s, "listeners")
		}
	}
	d.listenerTLS(f, n, path, &l)
	d.listenerMTLS(f, path, &l)
	actionsPath := join(path, "default_actions")
	items := d.list(f["default_actions"].val, actionsPath)
	if len(items) == 0 {
		d.add(orNode(f["default_actions"].val, n), actionsPath, "exactly one default action is required, got none")
	}
	for i, an := range items {
		ap := index(actionsPath, i)
		a, refs := d.action(an, ap)
		l.DefaultActions = append(l.DefaultActions, a)
		pos.refs = append(pos.refs, refs...)
	}
	if len(items) > 0 {
		for _, p := range CheckActionList(l.DefaultActions, "default_actions") {
			at := n
			if i, ok := listIndex(p.Path); ok && i < len(items) {
				at = items[i]
			}
			d.add(at, join(path, p.Path), "%s", p.Message)
		}
		SortActions(l.DefaultActions)
	}
	if r, ok := f["rules"]; ok {
		var refs []tgRef
		l.Rules, refs = d.rules(r.val, join(path, "rules"))
		pos.refs = append(pos.refs, refs...)
	}
	if l.Protocol == "HTTPS" {
		d.checkHTTPSRedirects(l, n, path)
	} else {
		d.checkAuthOnHTTPS(l, n, path)
	}
	return l, pos
}

// checkProtocol checks a listener or target group protocol.
func (d *decoder) checkProtocol(n *yaml.Node, path, s, what string) {
	switch s {
	case "HTTP", "HTTPS":
	default:
		hint := ""
		if s == "http" || s == "https" {
			hint = " (protocols are upper case)"
		}
		d.add(n, path, "must be HTTP or HTTPS, got %q%s", s, hint)
	}
}

// crossCheckListeners reports listeners that share a port within one load balancer
// (AWS's DuplicateListener) or whose sockets overlap another listener's anywhere in
// the file (they could not both be bound).
func (d *decoder) crossCheckListeners(path string, lb LoadBalancer, pos lbPos, sockets *[]socket) {
	ports := map[int]int{}
	for i, l := range lb.Listeners {
		if l.Port == 0 {
			continue // missing or invalid, already reported
		}
		lp := index(join(path, "listeners"), i)
		portNode := pos.listeners[i].port
		if prev, dup := ports[l.Port]; dup {
			d.add(portNode, join(lp, "port"), "port %d is already used by listeners[%d] of this load balancer", l.Port, prev)
			continue
		}
		ports[l.Port] = i
		addr, err := netip.ParseAddr(l.Address)
		if err != nil {
			continue // already reported
		}
		s := socket{addr: addr, port: l.Port, path: lp, line: line(portNode)}
		for _, o := range *sockets {
			if o.port == s.port && socketsOverlap(o.addr, s.addr) {
				d.add(portNode, join(lp, "port"), "%s overlaps %s (%s, line %d): two listeners cannot bind the same socket",
					netip.AddrPortFrom(s.addr, uint16(s.port)), o.path, netip.AddrPortFrom(o.addr, uint16(o.port)), o.line)
				break
			}
		}
		*sockets = append(*sockets, s)
	}
}

// socketsOverlap reports whether listening on a and on b (same port) conflict:
// the same address, or a wildcard that covers the other. Go listens on "::" with a
// dual-stack socket, so "::" covers IPv4 addresses as well.
func socketsOverlap(a, b netip.Addr) bool {
	covers := func(w, x netip.Addr) bool {
		return w.IsUnspecified() && (w.Is6() || x.Is4())
	}
	return a == b || covers(a, b) || covers(b, a)
}

// crossCheckActions resolves each forward action's target group and applies the
// rules that involve both a load balancer and a target group.
func (d *decoder) crossCheckActions(path string, lbIndex int, lb LoadBalancer, pos lbPos, groups []TargetGroup, tgs map[string]*tgInfo, tgNames []string) {
	for i := range lb.Listeners {
		for _, ref := range pos.listeners[i].refs {
			ap, at := ref.path, ref.node
			info, ok := tgs[ref.name]
			if !ok {
				d.add(at, ap, "target group %q is not defined%s", ref.name, didYouMean(ref.name, tgNames))
				continue
			}
			switch info.usedBy {
			case -1:
				info.usedBy = lbIndex
			case lbIndex:
				continue // this pairing is already checked
			default:
				d.add(at, ap, "target group %q is already used by load_balancers[%d]; AWS allows one load balancer per target group", ref.name, info.usedBy)
				continue
			}
			if !info.attrsValid || !pos.attrsValid {
				continue
			}
			tg := groups[info.index]
			var oe *OrderingError
			if errors.As(CheckTargetIdleTimeout(tg.Attrs, lb.Attrs), &oe) {
				d.add(info.idleNode, index("target_groups", info.index)+".attributes.target_keep_alive.idle_timeout_seconds",
					"must be at most idle_timeout.timeout_seconds (%s) of load balancer %q, got %q: %s",
					strings.TrimSuffix(formatSeconds(oe.BoundValue), "s"), lb.Name, tg.Attributes["target_keep_alive.idle_timeout_seconds"], oe.Reason)
			}
		}
	}
}

func (d *decoder) targetGroup(n *yaml.Node, path string) (TargetGroup, *tgInfo) {
	tg := TargetGroup{Protocol: DefaultProtocol, HealthCheck: DefaultHealthCheck()}
	info := &tgInfo{usedBy: -1}
	f, ok := d.mapping(n, path, "name", "protocol", "protocol_version", "port", "health_check", "attributes", "targets")
	if !ok {
		tg.Attributes = TargetGroupAttributeDefaults()
		return tg, info
	}
	if nf, ok := f["name"]; ok {
		info.name = nf.val
		if s, ok := d.scalar(nf.val, join(path, "name")); ok {
			if err := ValidName(s); err != nil {
				d.add(nf.val, join(path, "name"), "%v", err)
			}
			tg.Name = s
		}
	} else {
		d.add(n, join(path, "name"), "is required")
	}
	if p, ok := f["protocol"]; ok {
		if s, ok := d.scalar(p.val, join(path, "protocol")); ok {
			tg.Protocol = s
			d.checkProtocol(p.val, join(path, "protocol"), s, "target groups")
		}
	}
	tg.ProtocolVersion = d.protocolVersion(f, path)
	if p, ok := f["port"]; ok {
		tg.Port, _ = d.intIn(p.val, join(path, "port"), 1, 65535)
	} else {
		d.add(n, join(path, "port"), "is required (it is the port of targets listed without one)")
	}
	tg.HealthCheck = d.healthCheck(f["health_check"].val, n, join(path, "health_check"), tg.ProtocolVersion)
	var attrPos map[string]field
	tg.Attributes, tg.Attrs, info.attrsValid, attrPos = d.targetGroupAttributes(f["attributes"], n, join(path, "attributes"))
	info.idleNode = orNode(attrPos["target_keep_alive.idle_timeout_seconds"].val, orNode(f["attributes"].key, n))
	tg.Targets = d.targets(f["targets"].val, join(path, "targets"), tg.Port)
	return tg, info
}

func (d *decoder) targets(n *yaml.Node, path string, defaultPort int) []Target {
	var out []Target
	seen := map[netip.AddrPort]int{}
	for i, tn := range d.list(n, path) {
		tp := index(path, i)
		f, ok := d.mapping(tn, tp, "id", "port")
		if !ok {
			continue
		}
		t := Target{Port: defaultPort}
		var addr netip.Addr
		if idf, ok := f["id"]; ok {
			if s, ok := d.scalar(idf.val, join(tp, "id")); ok {
				t.ID = s
				a, err := netip.ParseAddr(s)
				if err != nil {
					d.add(idf.val, join(tp, "id"), "must be an IP address (target groups are of type ip), got %q", s)
				} else {
					addr = a.Unmap()
					t.ID = addr.String()
				}
			}
		} else {
			d.add(tn, join(tp, "id"), "is required")
		}
		portOK := true
		if p, ok := f["port"]; ok {
			t.Port, portOK = d.intIn(p.val, join(tp, "port"), 1, 65535)
		}
		if addr.IsValid() && portOK && t.Port != 0 {
			key := netip.AddrPortFrom(addr, uint16(t.Port))
			if prev, dup := seen[key]; dup {
				d.add(tn, tp, "target %s is already registered as targets[%d]", key, prev)
				continue
			}
			seen[key] = i
		}
		out = append(out, t)
	}
	return out
}

// healthCheckKeys are the YAML keys of HealthCheck.
var healthCheckKeys = []string{"enabled", "protocol", "port", "path", "interval_seconds", "timeout_seconds", "healthy_threshold_count", "unhealthy_threshold_count", "matcher", "grpc_code"}

func (d *decoder) healthCheck(n, owner *yaml.Node, path, protocolVersion string) HealthCheck {
	h := DefaultHealthCheck()
	if protocolVersion == ProtocolVersionGRPC {
		h.Path, h.GrpcCode = DefaultGRPCHealthCheckPath, DefaultGRPCCode
	}
	f, ok := d.mapping(n, path, healthCheckKeys...)
	if !ok {
		return h
	}
	d.checkMatcherKind(f, path, protocolVersion)
	// Each given field replaces its default; a field that cannot be read keeps
	// the default and is marked bad, so that the range and ordering checks below
	// do not report it a second time.
	bad := map[string]bool{}
	str := func(key string, dst *string) {
		v, ok := f[key]
		if !ok {
			return
		}
		s, ok := d.scalar(v.val, join(path, key))
		switch {
		case !ok:
			bad[key] = true
		case s == "":
			d.add(v.val, join(path, key), "must not be empty (leave the key out for the default)")
			bad[key] = true
		default:
			*dst = s
		}
	}
	num := func(key string, dst *int) {
		v, ok := f[key]
		if !ok {
			return
		}
		n, ok := intValue(resolve(v.val))
		if !ok {
			d.add(v.val, join(path, key), "must be an integer, got %s", describe(v.val))
			bad[key] = true
			return
		}
		*dst = n
	}
	if v, ok := f["enabled"]; ok {
		if b, ok := d.boolean(v.val, join(path, "enabled")); ok {
			h.Enabled = &b
		} else {
			bad["enabled"] = true
		}
	}
	str("protocol", &h.Protocol)
	str("port", &h.Port)
	str("path", &h.Path)
	str("matcher", &h.Matcher)
	str("grpc_code", &h.GrpcCode)
	num("interval_seconds", &h.IntervalSeconds)
	if _, given := f["timeout_seconds"]; !given && !bad["interval_seconds"] {
		h.TimeoutSeconds = defaultTimeoutSeconds(h.IntervalSeconds)
	}
	num("timeout_seconds", &h.TimeoutSeconds)
	num("healthy_threshold_count", &h.HealthyThresholdCount)
	num("unhealthy_threshold_count", &h.UnhealthyThresholdCount)
	for _, p := range checkHealthCheck(h) {
		if bad[p.field] || p.ordering && (bad["interval_seconds"] || bad["timeout_seconds"]) {
			continue
		}
		at := orNode(f[p.field].val, orNode(n, owner))
		d.add(at, join(path, p.field), "%s", p.msg)
	}
	// Canonical port: "08080" or a YAML integer is stored as AWS returns it.
	if v, ok := parseDecimal(h.Port); ok {
		h.Port = strconv.Itoa(v)
	}
	return h
}

// loadBalancerAttributes decodes and validates a load balancer's attributes
// mapping; valid is false when any attribute had a problem.
func (d *decoder) loadBalancerAttributes(af field, owner *yaml.Node, path string) (full map[string]string, typed LoadBalancerAttributes, valid bool, pos map[string]field) {
	given, pos, ok := d.rawAttributes(af, path, loadBalancerAttributes, notApplicableLB, "load balancer")
	full, probs := checkLoadBalancerAttributes(given)
	d.attributeProblems(probs, loadBalancerAttributes, pos, af, owner, path)
	if ok && len(probs) == 0 {
		return full, typedLoadBalancerAttributes(full), true, pos
	}
	return full, LoadBalancerAttributes{}, false, pos
}

// listenerAttributes is the listener twin of loadBalancerAttributes.
func (d *decoder) listenerAttributes(af field, owner *yaml.Node, path string) (map[string]string, ListenerAttributes) {
	given, pos, ok := d.rawAttributes(af, path, listenerAttributes, notApplicableListener, "listener")
	full, probs := checkListenerAttributes(given)
	d.attributeProblems(probs, listenerAttributes, pos, af, owner, path)
	if ok && len(probs) == 0 {
		return full, typedListenerAttributes(full)
	}
	return full, DefaultListenerAttributes()
}

// targetGroupAttributes is the target group twin of loadBalancerAttributes.
func (d *decoder) targetGroupAttributes(af field, owner *yaml.Node, path string) (full map[string]string, typed TargetGroupAttributes, valid bool, pos map[string]field) {
	given, pos, ok := d.rawAttributes(af, path, targetGroupAttributes, notApplicableTG, "target group")
	full, probs := checkTargetGroupAttributes(given)
	d.attributeProblems(probs, targetGroupAttributes, pos, af, owner, path)
	if ok && len(probs) == 0 {
		return full, typedTargetGroupAttributes(full), true, pos
	}
	return full, TargetGroupAttributes{}, false, pos
}

// rawAttributes turns an attributes mapping into the string map the API would
// carry, with each key's position. A key written as a nested mapping
// (idle_timeout: {timeout_seconds: 60}) is reported here with the flat spelling;
// other unknown keys are left for the shared attribute check to report.
func (d *decoder) rawAttributes(af field, path string, table []attribute, notApplicable map[string]string, kind string) (map[string]string, map[string]field, bool) {
	given := map[string]string{}
	pos := map[string]field{}
	ok := true
	known := map[string]bool{}
	names := make([]string, len(table))
	for i, a := range table {
		known[a.key] = true
		names[i] = a.key
	}
	if !isNull(af.val) && resolve(af.val).Kind != yaml.MappingNode {
		d.add(af.val, path, "must be a mapping of AWS attribute keys to values, got %s", describe(af.val))
		return given, pos, false
	}
	for _, f := range d.pairs(af.val, path) {
		kp := join(path, f.name)
		if !known[f.name] {
			if v := resolve(f.val); v != nil && v.Kind == yaml.MappingNode {
				flat := f.name + "." + firstLeafKey(v)
				hint := ""
				if known[flat] {
					hint = fmt.Sprintf(" (did you mean %q?)", flat)
				}
				d.add(f.key, kp, "unknown %s attribute: attribute keys are written flat, as AWS spells them%s", kind, hint)
				ok = false
				continue
			}
			if _, na := notApplicable[f.name]; !na {
				pos[f.name] = f
				given[f.name] = "" // reported, with a suggestion, by the shared check
				continue
			}
		}
		v, vok := d.attributeValue(f.val, kp)
		if !vok {
			ok = false
			continue
		}
		pos[f.name] = f
		given[f.name] = v
	}
	return given, pos, ok
}

// firstLeafKey returns the dotted path to the first scalar in a nested mapping.
func firstLeafKey(m *yaml.Node) string {
	if len(m.Content) < 2 {
		return ""
	}
	k, v := m.Content[0].Value, resolve(m.Content[1])
	if v != nil && v.Kind == yaml.MappingNode {
		return k + "." + firstLeafKey(v)
	}
	return k
}

// attributeProblems records attribute problems at the best line: the key's own
// line when it was written, else the line of a related key, else the attributes
// mapping, else the owning load balancer or target group.
func (d *decoder) attributeProblems(probs []attrProblem, table []attribute, pos map[string]field, af field, owner *yaml.Node, path string) {
	known := map[string]bool{}
	for _, a := range table {
		known[a.key] = true
	}
	for _, p := range probs {
		at := orNode(af.key, owner)
		if f, ok := pos[p.key]; ok {
			at = f.val
			if !known[p.key] {
				at = f.key
			}
		} else {
			for _, k := range p.near {
				if f, ok := pos[k]; ok {
					at = f.key
					break
				}
			}
		}
		d.add(at, join(path, p.key), "%s", p.msg)
	}
}

// listIndex returns the index of the first list item a problem path names
// ("default_actions[1].order" is 1).
func listIndex(path string) (int, bool) {
	i := strings.IndexByte(path, '[')
	j := strings.IndexByte(path, ']')
	if i < 0 || j < i {
		return 0, false
	}
	v, err := strconv.Atoi(path[i+1 : j])
	return v, err == nil
}

// checkAuthOnHTTPS reports authentication actions on a listener that is not
// HTTPS: AWS allows them only on HTTPS listeners.
func (d *decoder) checkAuthOnHTTPS(l Listener, n *yaml.Node, path string) {
	for i, a := range l.DefaultActions {
		if IsAuthenticate(a.Type) {
			d.add(n, index(join(path, "default_actions"), i), "an authentication action (%s) needs an HTTPS listener (this one is %s)", a.Type, l.Protocol)
		}
	}
	for i, r := range l.Rules {
		for j, a := range r.Actions {
			if IsAuthenticate(a.Type) {
				d.add(n, index(join(index(join(path, "rules"), i), "actions"), j), "an authentication action (%s) needs an HTTPS listener (this one is %s)", a.Type, l.Protocol)
			}
		}
	}
}
