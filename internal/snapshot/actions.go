package snapshot

import (
	crand "crypto/rand"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/albatross-lb/albatross/internal/auth"
	"github.com/albatross-lb/albatross/internal/balance"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/route"
)

// Action is a compiled action: forward, redirect or fixed-response.
type Action struct {
	// Type is the AWS action type, also the access log's actions_executed.
	Type string
	// TargetGroup is the destination of a forward action to one group.
	TargetGroup *TargetGroup
	// Groups and Weights are a forward action's target groups and their
	// weights when it names several (nil for the one-group form);
	// TotalWeight is the sum of Weights.
	Groups      []*TargetGroup
	Weights     []int
	TotalWeight int
	// GroupStickiness is how long a client stays on the target group it was
	// sent to (the AWSALBTG cookie); 0 is off.
	GroupStickiness time.Duration
	// Redirect is a redirect action's compiled URL template.
	Redirect *route.Redirect
	// Fixed is a fixed-response action's answer.
	Fixed *FixedResponse
	// Transforms are the rule's host and URL rewrites, applied to a forwarded
	// request after matching; nil when the rule has none (and for default
	// actions, which cannot have them).
	Transforms *route.Transforms
	// Auth is the authentication action (authenticate-oidc,
	// authenticate-cognito, jwt-validation) that runs before this one; nil
	// when there is none.
	Auth *auth.Action
	// Logged is the access log's actions_executed when Auth let the request
	// through ("authenticate,forward"); Auth.Logged alone when it answered.
	Logged string
}

// FixedResponse is a fixed-response action's answer.
type FixedResponse struct {
	Status int
	// ContentType is the Content-Type header value sent.
	ContentType string
	Body        []byte
}

// FixedResponseCharset is appended to a fixed response's content type, as ALB
// labels the text it sends.
const FixedResponseCharset = "; charset=utf-8"

// compileRules compiles a listener's default action and rules into cl.
func compileRules(cl *Listener, l config.Listener, groups map[string]*TargetGroup, svc *auth.Service) error {
	var err error
	if cl.DefaultAction, err = compileActions(cl, l.DefaultActions, groups, svc); err != nil {
		return fmt.Errorf("default action: %w", err)
	}
	if len(l.Rules) == 0 {
		return nil
	}
	if cl.Rules, err = route.Compile(l.Rules); err != nil {
		return err
	}
	cl.RuleActions = make([]*Action, len(l.Rules))
	for i, r := range l.Rules {
		if cl.RuleActions[i], err = compileActions(cl, r.Actions, groups, svc); err != nil {
			return fmt.Errorf("rule priority %d: %w", r.Priority, err)
		}
		if cl.RuleActions[i].Transforms, err = route.CompileTransforms(r.Transforms); err != nil {
			return fmt.Errorf("rule priority %d: %w", r.Priority, err)
		}
	}
	return nil
}

// compileActions compiles an action list: its terminal action, and the
// authentication action before it, if any (OIDC ones are also listed in
// cl.Callbacks, which answer the identity provider's redirect).
func compileActions(cl *Listener, actions []config.Action, groups map[string]*TargetGroup, svc *auth.Service) (*Action, error) {
	ca, err := compileAction(config.Terminal(actions), groups)
	if err != nil {
		return nil, err
	}
	a := config.Authenticate(actions)
	if a == nil {
		return ca, nil
	}
	if ca.Auth, err = svc.Compile(*a, auth.Site{LoadBalancerARN: cl.LB.ARN}); err != nil {
		return nil, err
	}
	ca.Logged = ca.Auth.Logged + "," + ca.Type
	if ca.Auth.OIDC() {
		cl.Callbacks = append(cl.Callbacks, ca.Auth)
	}
	return ca, nil
}

func compileAction(a config.Action, groups map[string]*TargetGroup) (*Action, error) {
	ca := &Action{Type: a.Type, Logged: a.Type}
	switch a.Type {
	case config.ActionForward:
		tuples := a.ForwardTargetGroups()
		if len(tuples) == 0 {
			return nil, fmt.Errorf("forward action without a target group")
		}
		for _, t := range tuples {
			tg := groups[t.Name]
			if tg == nil {
				return nil, fmt.Errorf("target group %q is not defined", t.Name)
			}
			ca.Groups = append(ca.Groups, tg)
			ca.Weights = append(ca.Weights, t.Weight)
			ca.TotalWeight += t.Weight
		}
		sticky := a.Forward != nil && a.Forward.Stickiness.Enabled
		if len(ca.Groups) == 1 && !sticky && ca.TotalWeight > 0 {
			// One group: nothing to weigh, however the action was written.
			// (A lone group of weight 0 stays weighed: it receives nothing.)
			ca.TargetGroup, ca.Groups, ca.Weights = ca.Groups[0], nil, nil
		}
		if a.Forward != nil && a.Forward.Stickiness.Enabled {
			ca.GroupStickiness = time.Duration(a.Forward.Stickiness.DurationSeconds) * time.Second
		}
	case config.ActionRedirect:
		if a.Redirect == nil {
			return nil, fmt.Errorf("redirect action without its configuration")
		}
		ca.Redirect = route.CompileRedirect(*a.Redirect)
	case config.ActionFixedResponse:
		f := a.FixedResponse
		if f == nil {
			return nil, fmt.Errorf("fixed-response action without its configuration")
		}
		status, err := strconv.Atoi(f.StatusCode)
		if err != nil {
			return nil, fmt.Errorf("fixed-response status code %q: %w", f.StatusCode, err)
		}
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain"
		}
		ca.Fixed = &FixedResponse{Status: status, ContentType: ct + FixedResponseCharset, Body: []byte(f.MessageBody)}
	default:
		return nil, fmt.Errorf("action type %q cannot be compiled", a.Type)
	}
	return ca, nil
}

// targetGroups lists the target groups the listener's actions forward to.
func (l *Listener) targetGroups() []*TargetGroup {
	var out []*TargetGroup
	add := func(a *Action) {
		if a == nil {
			return
		}
		if a.TargetGroup != nil {
			out = append(out, a.TargetGroup)
		}
		out = append(out, a.Groups...)
	}
	add(l.DefaultAction)
	for _, a := range l.RuleActions {
		add(a)
	}
	return out
}

// TargetsByGroup lists every target group's target addresses, for retiring
// the runtime state of targets that left (balance.Registry.Retain).
func (s *Snapshot) TargetsByGroup() map[string][]netip.AddrPort {
	m := make(map[string][]netip.AddrPort, len(s.TargetGroups))
	for _, tg := range s.TargetGroups {
		addrs := make([]netip.AddrPort, len(tg.Targets))
		for i, t := range tg.Targets {
			addrs[i] = t.Addr
		}
		m[tg.Name] = addrs
	}
	return m
}

// randomKey returns a fresh stickiness cookie key.
func randomKey() []byte {
	k := make([]byte, balance.KeySize)
	crand.Read(k)
	return k
}
