package admin

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/metrics"
	"github.com/albatross-lb/albatross/internal/state"
)

// assets are the dashboard's files: one page, its script and its style sheet.
// Nothing is fetched from elsewhere; the Content-Security-Policy says so to the
// browser too.
//
//go:embed dashboard
var assets embed.FS

// recentErrorCount is how many of the latest ELB errors the dashboard lists.
const recentErrorCount = 50

// csp allows the page only its own files and its own data.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type dashboard struct {
	opts Options
	auth *digestAuth // on a public address with credentials
}

// guard puts the dashboard behind the ELBv2 API's credentials on a public
// admin address (digest.go), and refuses it there when the node has none.
func (d *dashboard) guard(h http.Handler) http.Handler {
	if !d.opts.Public {
		return h
	}
	if d.opts.Credentials == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the dashboard is served on a loopback admin address, or on another one to clients that have the ELBv2 API credentials; "+
				"this node has none: bind --admin-addr to 127.0.0.1 or ::1 (for example with an SSH tunnel to reach it)", http.StatusForbidden)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, stale := d.auth.check(r)
		if !ok {
			d.auth.challenge(w, stale)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

func (d *dashboard) serveIndex(w http.ResponseWriter, r *http.Request) {
	data, err := assets.ReadFile("dashboard/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(data)
}

func (d *dashboard) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := path.Clean(strings.TrimPrefix(r.URL.Path, "/"))
	if name == "dashboard/index.html" || !strings.HasPrefix(name, "dashboard/") {
		http.NotFound(w, r)
		return
	}
	data, err := fs.ReadFile(assets, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	setPageHeaders(w)
	switch path.Ext(name) {
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(data)
}

// State is what the dashboard page polls: the configuration in force as a tree,
// the counters, the latest ELB errors and the configuration findings.
type State struct {
	Time          time.Time             `json:"time"`
	Version       string                `json:"version"`
	LoadBalancers []LoadBalancerState   `json:"load_balancers"`
	RecentErrors  []metrics.RecentError `json:"recent_errors"`
	Findings      []Finding             `json:"findings"`
	// Health is "checked", or says why target health is not known.
	Health string `json:"health"`
	// Node is this node's name in a cluster: the health and counters shown
	// are its own.
	Node string `json:"node,omitempty"`
	// Nodes are the cluster's nodes, from their leases in the store;
	// NodesError says why they could not be listed.
	Nodes      []NodeState `json:"nodes,omitempty"`
	NodesError string      `json:"nodes_error,omitempty"`
}

// LoadBalancerState is one load balancer on the dashboard.
type LoadBalancerState struct {
	Name               string                      `json:"name"`
	ResourceID         string                      `json:"resource_id"`
	ARN                string                      `json:"arn"`
	DNSName            string                      `json:"dns_name"`
	IdleTimeoutSeconds float64                     `json:"idle_timeout_seconds"`
	Listeners          []ListenerState             `json:"listeners"`
	TargetGroups       []TargetGroupState          `json:"target_groups"`
	Counters           *metrics.LoadBalancerTotals `json:"counters"`
}

// ListenerState is one listener and its rules, in evaluation order.
type ListenerState struct {
	Address  string      `json:"address"`
	Protocol string      `json:"protocol"`
	ARN      string      `json:"arn"`
	Rules    []RuleState `json:"rules"`
}

// RuleState is one rule: its priority ("default" for the default rule), its
// conditions in words and its actions.
type RuleState struct {
	Priority   string        `json:"priority"`
	Conditions []string      `json:"conditions"`
	Actions    []ActionState `json:"actions"`
}

// ActionState is one action of a rule: the target groups of a forward (with
// their weights when there are several), or what a redirect or fixed-response
// answers.
type ActionState struct {
	Type         string             `json:"type"`
	TargetGroups []WeightedGroupRef `json:"target_groups,omitempty"`
	Detail       string             `json:"detail,omitempty"`
}

// WeightedGroupRef names a target group a forward action sends to.
type WeightedGroupRef struct {
	Name   string `json:"name"`
	Weight int    `json:"weight"`
}

// TargetGroupState is one target group of a load balancer and its targets.
type TargetGroupState struct {
	Name       string        `json:"name"`
	ResourceID string        `json:"resource_id"`
	ARN        string        `json:"arn"`
	Targets    []TargetState `json:"targets"`
}

// TargetState is one registered target and its health: state, reason code and
// description, as DescribeTargetHealth reports them.
type TargetState struct {
	Target       string `json:"target"`
	HealthState  string `json:"health_state"`
	HealthReason string `json:"health_reason"`
	Description  string `json:"health_description,omitempty"`
}

// Finding is one result of the configuration checks that need no probing.
type Finding struct {
	// Severity is "warning" (change something) or "info" (what to verify).
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	Message  string `json:"message"`
}

// noHealthChecker is the state the dashboard shows for a target whose health
// nothing tracks (a snapshot compiled without a health registry).
const noHealthChecker = "unknown"

func (d *dashboard) serveState(w http.ResponseWriter, r *http.Request) {
	st := d.state(time.Now())
	if d.opts.Nodes != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		nodes, err := d.opts.Nodes(ctx)
		cancel()
		if err != nil {
			st.NodesError = err.Error()
		}
		for i := range nodes {
			nodes[i].Self = nodes[i].Name == d.opts.Node
		}
		st.Nodes = nodes
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	enc := json.NewEncoder(w)
	if err := enc.Encode(st); err != nil {
		d.opts.Logger.Warn("dashboard state", "err", err)
	}
}

// state assembles the dashboard's data.
func (d *dashboard) state(now time.Time) State {
	st := State{
		Time:          now.UTC(),
		Version:       d.opts.Version,
		LoadBalancers: []LoadBalancerState{},
		RecentErrors:  []metrics.RecentError{},
		Findings:      []Finding{},
		Health:        "checked",
		Node:          d.opts.Node,
	}
	totals := map[string]*metrics.LoadBalancerTotals{}
	if d.opts.Metrics != nil {
		for _, t := range d.opts.Metrics.Totals() {
			t := t
			totals[t.ID] = &t
		}
		st.RecentErrors = append(st.RecentErrors, d.opts.Metrics.RecentErrors(recentErrorCount)...)
	}
	snap := d.opts.Snapshot()
	if snap == nil {
		return st
	}
	for _, lb := range snap.LoadBalancers {
		ls := LoadBalancerState{
			Name:               lb.Name,
			ResourceID:         lb.ResourceID,
			ARN:                lb.ARN,
			DNSName:            lb.DNSName,
			IdleTimeoutSeconds: lb.Attrs.IdleTimeout.Seconds(),
			Listeners:          []ListenerState{},
			TargetGroups:       []TargetGroupState{},
			Counters:           totals[lb.ResourceID],
		}
		cfgLB := snap.Config.LoadBalancer(lb.Name)
		for _, l := range lb.Listeners {
			lst := ListenerState{Address: l.Addr.String(), Protocol: l.Protocol, ARN: l.ARN, Rules: []RuleState{}}
			if cfgLB != nil {
				lst.Rules = listenerRules(cfgLB, l.Port)
			}
			ls.Listeners = append(ls.Listeners, lst)
		}
		for _, tg := range lb.TargetGroups() {
			ts := TargetGroupState{Name: tg.Name, ResourceID: state.TargetGroupResourceID(tg.Name, tg.ID), ARN: tg.ARN, Targets: []TargetState{}}
			for _, t := range tg.Targets {
				s := TargetState{Target: t.Addr.String(), HealthState: noHealthChecker, HealthReason: "-"}
				if t.Health != nil {
					s.HealthState = t.Health.State().String()
					s.HealthReason = string(t.Health.Record().Reason)
					s.Description = t.Health.Description()
				}
				ts.Targets = append(ts.Targets, s)
			}
			ls.TargetGroups = append(ls.TargetGroups, ts)
		}
		st.LoadBalancers = append(st.LoadBalancers, ls)
	}
	st.Findings = append(st.Findings, configFindings(snap.Config)...)
	return st
}

// configFindings are the timeout checks `albatross doctor` makes that need only
// the configuration: the ordering rules of config.CheckTimeouts, and for every
// target group the idle limit its targets' keep-alive timeout must exceed.
func configFindings(cfg *config.Config) []Finding {
	if cfg == nil {
		return nil
	}
	var out []Finding
	for _, p := range config.CheckTimeouts(cfg) {
		out = append(out, Finding{Severity: "warning", Subject: p.Path, Message: p.Message})
	}
	for _, lb := range cfg.LoadBalancers {
		groups := map[string]bool{}
		for _, l := range lb.Listeners {
			actions := append([]config.Action(nil), l.DefaultActions...)
			for _, r := range l.Rules {
				actions = append(actions, r.Actions...)
			}
			for _, a := range actions {
				for _, t := range a.ForwardTargetGroups() {
					groups[t.Name] = true
				}
			}
		}
		names := make([]string, 0, len(groups))
		for n := range groups {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			tg := cfg.TargetGroup(name)
			if tg == nil {
				continue
			}
			limit := config.TargetIdleLimit(tg.Attrs, lb.Attrs)
			source := "idle_timeout.timeout_seconds of load balancer " + strconv.Quote(lb.Name)
			if limit != lb.Attrs.IdleTimeout {
				source = "target_keep_alive.idle_timeout_seconds"
			}
			out = append(out, Finding{
				Severity: "info",
				Subject:  fmt.Sprintf("target group %q", name),
				Message: fmt.Sprintf("idle connections to these targets are kept up to %s (%s): each target's keep-alive timeout must be longer, "+
					"or a request racing the target's close gets a 502; `albatross doctor` measures it", formatDuration(limit), source),
			})
		}
	}
	return out
}

func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// listenerRules describes the rules of load balancer lb's listener on port, in
// the order they are evaluated: by priority, then the default rule.
func listenerRules(lb *config.LoadBalancer, port int) []RuleState {
	var l *config.Listener
	for i := range lb.Listeners {
		if lb.Listeners[i].Port == port {
			l = &lb.Listeners[i]
		}
	}
	out := []RuleState{}
	if l == nil {
		return out
	}
	rules := append([]config.Rule(nil), l.Rules...)
	sort.Slice(rules, func(i, j int) bool { return rules[i].Priority < rules[j].Priority })
	for _, r := range rules {
		rs := RuleState{Priority: strconv.Itoa(r.Priority), Conditions: []string{}, Actions: actionStates(r.Actions)}
		for _, c := range r.Conditions {
			rs.Conditions = append(rs.Conditions, conditionText(c))
		}
		out = append(out, rs)
	}
	return append(out, RuleState{Priority: "default", Conditions: []string{}, Actions: actionStates(l.DefaultActions)})
}

func actionStates(actions []config.Action) []ActionState {
	out := []ActionState{}
	for _, a := range actions {
		as := ActionState{Type: a.Type}
		for _, t := range a.ForwardTargetGroups() {
			as.TargetGroups = append(as.TargetGroups, WeightedGroupRef{Name: t.Name, Weight: t.Weight})
		}
		switch {
		case a.Redirect != nil:
			r := a.Redirect
			as.Detail = fmt.Sprintf("%s to %s://%s:%s%s?%s", r.StatusCode, r.Protocol, r.Host, r.Port, r.Path, r.Query)
		case a.FixedResponse != nil:
			as.Detail = a.FixedResponse.StatusCode + " " + a.FixedResponse.ContentType
		}
		out = append(out, as)
	}
	return out
}

// conditionText writes a rule condition as "field: value, value".
func conditionText(c config.Condition) string {
	switch {
	case len(c.HostHeader) > 0:
		return "host_header: " + strings.Join(c.HostHeader, ", ")
	case len(c.PathPattern) > 0:
		return "path_pattern: " + strings.Join(c.PathPattern, ", ")
	case c.HTTPHeader != nil:
		return "http_header " + c.HTTPHeader.Name + ": " + strings.Join(c.HTTPHeader.Values, ", ")
	case len(c.HTTPRequestMethod) > 0:
		return "http_request_method: " + strings.Join(c.HTTPRequestMethod, ", ")
	case len(c.QueryString) > 0:
		var pairs []string
		for _, p := range c.QueryString {
			pairs = append(pairs, p.Key+"="+p.Value)
		}
		return "query_string: " + strings.Join(pairs, ", ")
	case len(c.SourceIP) > 0:
		return "source_ip: " + strings.Join(c.SourceIP, ", ")
	}
	return "(condition)"
}
