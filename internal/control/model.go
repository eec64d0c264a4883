// Package control is Albatross's control plane: the one resource model that the
// configuration file and the ELBv2 API both change. The model is persisted in a
// state.Store (one key per resource) and compiled into a config.Config that the
// node applies. Every change goes through Controller.Update, which validates it,
// applies it to the running node and makes it durable, in that order, all or
// nothing: a change the node cannot apply (a port it cannot bind) is never
// stored, and a change that cannot be stored is rolled back on the node.
package control

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/state"
)

// Key prefixes of the records in the store; the rest of a key is the
// resource's 16-hex-digit id.
const (
	prefixLoadBalancer = "loadbalancer/"
	prefixTargetGroup  = "targetgroup/"
	prefixListener     = "listener/"
)

// Model is one consistent version of every resource. A Model is never modified
// once a Controller publishes it, so readers need no lock; Update builds the next
// one in a Tx.
type Model struct {
	// Region and AccountID are written into ARNs.
	Region    string
	AccountID string
	// ListenAddress is the address API-created listeners bind.
	ListenAddress string
	// BindLocally, in a cluster, makes every listener whose address is
	// unspecified (0.0.0.0, a file's default) bind ListenAddress: the
	// listeners are the cluster's, the address each node's own.
	BindLocally bool
	// CertificateDir is where the PEM files of certificate ARNs given through
	// the API are (see CertificateFiles).
	CertificateDir string
	// BaseDir resolves the relative certificate paths of the configuration
	// file, as the node does.
	BaseDir string

	LoadBalancers map[string]*LoadBalancer
	TargetGroups  map[string]*TargetGroup
	Listeners     map[string]*Listener
	TrustStores   map[string]*TrustStore
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LoadBalancer is an Application Load Balancer record.
type LoadBalancer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Seq orders resources by creation, the order Describe calls list them in.
	Seq            int64     `json:"seq"`
	CreatedTime    time.Time `json:"created_time"`
	Scheme         string    `json:"scheme"`
	IPAddressType  string    `json:"ip_address_type"`
	Subnets        []string  `json:"subnets,omitempty"`
	SecurityGroups []string  `json:"security_groups,omitempty"`
	// Attributes is the complete attribute set (every key, defaults filled).
	Attributes map[string]string `json:"attributes"`
	Tags       []Tag             `json:"tags,omitempty"`
	// AccessLog is where the node writes this load balancer's access log (set
	// by the configuration file only).
	AccessLog config.AccessLog `json:"access_log"`
	// ConnectionLog and HealthCheckLog are where the node writes its
	// connection and health-check logs (set by the configuration file only).
	ConnectionLog  config.AccessLog `json:"connection_log"`
	HealthCheckLog config.AccessLog `json:"health_check_log"`
	// FromFile marks a resource the configuration file declares: the file is
	// applied over it at every start and reload, and removing it from the file
	// deletes it.
	FromFile bool `json:"from_file,omitempty"`
	// FileOwner, in a cluster, names the node whose file declared the
	// resource last (see ImportFile).
	FileOwner string `json:"file_owner,omitempty"`
}

// TargetGroup is a target group record.
type TargetGroup struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Seq             int64              `json:"seq"`
	CreatedTime     time.Time          `json:"created_time"`
	Protocol        string             `json:"protocol"`
	Port            int                `json:"port"`
	VpcID           string             `json:"vpc_id"`
	TargetType      string             `json:"target_type"`
	ProtocolVersion string             `json:"protocol_version"`
	IPAddressType   string             `json:"ip_address_type"`
	HealthCheck     config.HealthCheck `json:"health_check"`
	// GrpcCode is the health check matcher of a GRPC target group (gRPC
	// status codes, default "12"); HealthCheck.Matcher is then unused.
	GrpcCode   string            `json:"grpc_code,omitempty"`
	Attributes map[string]string `json:"attributes"`
	Targets    []Target          `json:"targets,omitempty"`
	// Draining are deregistered targets that DescribeTargetHealth reports as
	// draining until their deregistration delay ends. They get no new requests.
	Draining []DrainingTarget `json:"draining,omitempty"`
	Tags     []Tag            `json:"tags,omitempty"`
	FromFile bool             `json:"from_file,omitempty"`
	// FileOwner: see LoadBalancer.FileOwner.
	FileOwner string `json:"file_owner,omitempty"`
}

// Target is a registered target: an IP address and a port.
type Target struct {
	ID               string `json:"id"`
	Port             int    `json:"port"`
	AvailabilityZone string `json:"availability_zone,omitempty"`
}

// DrainingTarget is a deregistered target and when its draining ends.
type DrainingTarget struct {
	Target
	Until time.Time `json:"until"`
}

// Listener is a listener record.
type Listener struct {
	ID             string `json:"id"`
	LoadBalancerID string `json:"load_balancer_id"`
	Seq            int64  `json:"seq"`
	Port           int    `json:"port"`
	Protocol       string `json:"protocol"`
	// Address is the IP the listener binds; empty means the node's listen
	// address (API-created listeners).
	Address string `json:"address,omitempty"`
	// DefaultActions are the default rule's actions. Target groups are named
	// (names never change, and a group in use cannot be deleted).
	DefaultActions []config.Action `json:"default_actions"`
	// Certificates are an HTTPS listener's certificates, the default first.
	// Those added through the API carry only an ARN (their files are found
	// with CertificateFiles); those from the configuration file carry files.
	Certificates []config.Certificate `json:"certificates,omitempty"`
	// SSLPolicy is an HTTPS listener's security policy ("" on HTTP).
	SSLPolicy string `json:"ssl_policy,omitempty"`
	// MutualAuthentication is an HTTPS listener's mutual TLS (nil: off); its
	// TrustStore is the trust store's name.
	MutualAuthentication *config.MutualAuthentication `json:"mutual_authentication,omitempty"`
	// DefaultRuleID is the id of the listener's default rule, whose ARN
	// DescribeRules returns.
	DefaultRuleID string `json:"default_rule_id"`
	// Rules are the listener's other rules, in no particular order.
	Rules []Rule `json:"rules,omitempty"`
	// Attributes are the listener attributes set through the API (keys
	// absent take their defaults).
	Attributes map[string]string `json:"attributes,omitempty"`
	Tags       []Tag             `json:"tags,omitempty"`
	FromFile   bool              `json:"from_file,omitempty"`
	// FileOwner: see LoadBalancer.FileOwner.
	FileOwner string `json:"file_owner,omitempty"`
}

// Rule is a listener rule other than the default rule.
type Rule struct {
	ID         string             `json:"id"`
	Priority   int                `json:"priority"`
	Conditions []config.Condition `json:"conditions"`
	Actions    []config.Action    `json:"actions"`
	// Transforms are the rule's host and URL rewrites.
	Transforms []config.Transform `json:"transforms,omitempty"`
	Tags       []Tag              `json:"tags,omitempty"`
}

// SortedRules returns the listener's rules by priority.
func (l *Listener) SortedRules() []Rule {
	out := slices.Clone(l.Rules)
	slices.SortFunc(out, func(a, b Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}

// RuleARN returns the ARN of rule id of listener l.
func (m *Model) RuleARN(l *Listener, id string) string {
	lb := m.LoadBalancers[l.LoadBalancerID]
	if lb == nil {
		return ""
	}
	return state.RuleARN(m.Region, m.AccountID, lb.Name, lb.ID, l.ID, id)
}

// RuleByARN returns the listener and rule whose ARN is arn; rule is nil for
// a listener's default rule. l is nil when no rule has that ARN.
func (m *Model) RuleByARN(arn string) (l *Listener, rule *Rule) {
	kind, id, ok := ParseARN(arn)
	if !ok || kind != KindRule {
		return nil, nil
	}
	for _, l := range m.Listeners {
		if l.DefaultRuleID == id && m.DefaultRuleARN(l) == arn {
			return l, nil
		}
		for i := range l.Rules {
			if l.Rules[i].ID == id && m.RuleARN(l, id) == arn {
				return l, &l.Rules[i]
			}
		}
	}
	return nil, nil
}

// TargetGroupNames lists the target groups a listener's default actions and
// rules forward to.
func (l *Listener) TargetGroupNames() []string {
	cl := config.Listener{DefaultActions: l.DefaultActions}
	for _, r := range l.Rules {
		cl.Rules = append(cl.Rules, config.Rule{Actions: r.Actions})
	}
	return cl.TargetGroupNames()
}

// Clone returns a deep copy.
func (lb *LoadBalancer) Clone() *LoadBalancer {
	c := *lb
	c.Subnets = slices.Clone(lb.Subnets)
	c.SecurityGroups = slices.Clone(lb.SecurityGroups)
	c.Attributes = cloneMap(lb.Attributes)
	c.Tags = slices.Clone(lb.Tags)
	return &c
}

// Clone returns a deep copy.
func (tg *TargetGroup) Clone() *TargetGroup {
	c := *tg
	if tg.HealthCheck.Enabled != nil {
		e := *tg.HealthCheck.Enabled
		c.HealthCheck.Enabled = &e
	}
	c.Attributes = cloneMap(tg.Attributes)
	c.Targets = slices.Clone(tg.Targets)
	c.Draining = slices.Clone(tg.Draining)
	c.Tags = slices.Clone(tg.Tags)
	return &c
}

// Clone returns a deep copy.
func (l *Listener) Clone() *Listener {
	c := *l
	c.DefaultActions = slices.Clone(l.DefaultActions)
	c.Certificates = slices.Clone(l.Certificates)
	if l.MutualAuthentication != nil {
		ma := *l.MutualAuthentication
		c.MutualAuthentication = &ma
	}
	c.Rules = slices.Clone(l.Rules)
	c.Attributes = cloneMap(l.Attributes)
	c.Tags = slices.Clone(l.Tags)
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// ARNs.

// LoadBalancerARN returns lb's ARN.
func (m *Model) LoadBalancerARN(lb *LoadBalancer) string {
	return state.LoadBalancerARN(m.Region, m.AccountID, lb.Name, lb.ID)
}

// TargetGroupARN returns tg's ARN.
func (m *Model) TargetGroupARN(tg *TargetGroup) string {
	return state.TargetGroupARN(m.Region, m.AccountID, tg.Name, tg.ID)
}

// ListenerARN returns l's ARN ("" if its load balancer is unknown).
func (m *Model) ListenerARN(l *Listener) string {
	lb := m.LoadBalancers[l.LoadBalancerID]
	if lb == nil {
		return ""
	}
	return state.ListenerARN(m.Region, m.AccountID, lb.Name, lb.ID, l.ID)
}

// DefaultRuleARN returns the ARN of l's default rule.
func (m *Model) DefaultRuleARN(l *Listener) string {
	lb := m.LoadBalancers[l.LoadBalancerID]
	if lb == nil {
		return ""
	}
	return state.RuleARN(m.Region, m.AccountID, lb.Name, lb.ID, l.ID, l.DefaultRuleID)
}

// DNSName is the load balancer's DNS name, NAME-ID.REGION.elb.localhost: names
// under .localhost resolve to the loopback address on the machine.
func (m *Model) DNSName(lb *LoadBalancer) string {
	return lb.Name + "-" + lb.ID + "." + m.Region + ".elb.localhost"
}

// Resource kinds of ARNs.
const (
	KindLoadBalancer = "loadbalancer"
	KindTargetGroup  = "targetgroup"
	KindListener     = "listener"
	KindRule         = "listener-rule"
)

// ParseARN returns the resource kind and id of an Elastic Load Balancing ARN, or
// ok false when s does not have that shape.
func ParseARN(s string) (kind, id string, ok bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "elasticloadbalancing" {
		return "", "", false
	}
	res := parts[5]
	slash := strings.IndexByte(res, '/')
	last := strings.LastIndexByte(res, '/')
	if slash < 0 {
		return "", "", false
	}
	kind, id = res[:slash], res[last+1:]
	if !state.ValidID(id) {
		return "", "", false
	}
	return kind, id, true
}

// LoadBalancerByARN returns the load balancer whose ARN is arn, or nil.
func (m *Model) LoadBalancerByARN(arn string) *LoadBalancer {
	if kind, id, ok := ParseARN(arn); ok && kind == KindLoadBalancer {
		if lb := m.LoadBalancers[id]; lb != nil && m.LoadBalancerARN(lb) == arn {
			return lb
		}
	}
	return nil
}

// TargetGroupByARN returns the target group whose ARN is arn, or nil.
func (m *Model) TargetGroupByARN(arn string) *TargetGroup {
	if kind, id, ok := ParseARN(arn); ok && kind == KindTargetGroup {
		if tg := m.TargetGroups[id]; tg != nil && m.TargetGroupARN(tg) == arn {
			return tg
		}
	}
	return nil
}

// ListenerByARN returns the listener whose ARN is arn, or nil.
func (m *Model) ListenerByARN(arn string) *Listener {
	if kind, id, ok := ParseARN(arn); ok && kind == KindListener {
		if l := m.Listeners[id]; l != nil && m.ListenerARN(l) == arn {
			return l
		}
	}
	return nil
}

// LoadBalancerByName returns the load balancer named name, or nil.
func (m *Model) LoadBalancerByName(name string) *LoadBalancer {
	for _, lb := range m.LoadBalancers {
		if lb.Name == name {
			return lb
		}
	}
	return nil
}

// TargetGroupByName returns the target group named name, or nil.
func (m *Model) TargetGroupByName(name string) *TargetGroup {
	for _, tg := range m.TargetGroups {
		if tg.Name == name {
			return tg
		}
	}
	return nil
}

// SortedLoadBalancers lists the load balancers in creation order.
func (m *Model) SortedLoadBalancers() []*LoadBalancer {
	return sortBySeq(m.LoadBalancers, func(lb *LoadBalancer) int64 { return lb.Seq })
}

// SortedTargetGroups lists the target groups in creation order.
func (m *Model) SortedTargetGroups() []*TargetGroup {
	return sortBySeq(m.TargetGroups, func(tg *TargetGroup) int64 { return tg.Seq })
}

// ListenersOf lists a load balancer's listeners in creation order.
func (m *Model) ListenersOf(lbID string) []*Listener {
	var out []*Listener
	for _, l := range sortBySeq(m.Listeners, func(l *Listener) int64 { return l.Seq }) {
		if l.LoadBalancerID == lbID {
			out = append(out, l)
		}
	}
	return out
}

// SortedListeners lists every listener in creation order.
func (m *Model) SortedListeners() []*Listener {
	return sortBySeq(m.Listeners, func(l *Listener) int64 { return l.Seq })
}

// LoadBalancersUsing returns the load balancers whose listeners forward to the
// target group, in creation order.
func (m *Model) LoadBalancersUsing(tgID string) []*LoadBalancer {
	var out []*LoadBalancer
	for _, lb := range m.SortedLoadBalancers() {
		if m.loadBalancerUses(lb.ID, tgID) {
			out = append(out, lb)
		}
	}
	return out
}

func (m *Model) loadBalancerUses(lbID, tgID string) bool {
	tg := m.TargetGroups[tgID]
	if tg == nil {
		return false
	}
	for _, l := range m.Listeners {
		if l.LoadBalancerID == lbID && slices.Contains(l.TargetGroupNames(), tg.Name) {
			return true
		}
	}
	return false
}

// ListenersUsing returns the listeners that forward to the target group.
func (m *Model) ListenersUsing(tgID string) []*Listener {
	tg := m.TargetGroups[tgID]
	if tg == nil {
		return nil
	}
	var out []*Listener
	for _, l := range m.SortedListeners() {
		if slices.Contains(l.TargetGroupNames(), tg.Name) {
			out = append(out, l)
		}
	}
	return out
}

func sortBySeq[T any](m map[string]*T, seq func(*T) int64) []*T {
	out := make([]*T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *T) int { return cmp.Compare(seq(a), seq(b)) })
	return out
}

// ActiveDraining returns the targets of tg still draining at now.
func (tg *TargetGroup) ActiveDraining(now time.Time) []DrainingTarget {
	var out []DrainingTarget
	for _, d := range tg.Draining {
		if now.Before(d.Until) {
			out = append(out, d)
		}
	}
	return out
}
