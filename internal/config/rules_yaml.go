package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file decodes rules and actions from YAML. The decoder reports what is
// wrong with the shape of the input (a list where a mapping belongs, an unknown
// key); CheckRule and CheckAction report what is wrong with the values, and the
// decoder places their problems on the line of the value they name.

// spots remembers the node of every key path decoded in one rule or action, so
// that a problem found later on the values can name its line.
type spots struct {
	nodes map[string]*yaml.Node
	// reported holds paths the decoder already complained about, whose value
	// checks would only repeat the complaint.
	reported map[string]bool
}

func newSpots() *spots {
	return &spots{nodes: map[string]*yaml.Node{}, reported: map[string]bool{}}
}

func (s *spots) set(path string, n *yaml.Node) { s.nodes[path] = n }

// at returns the node of path, or of its nearest decoded ancestor.
func (s *spots) at(path string) *yaml.Node {
	for {
		if n, ok := s.nodes[path]; ok {
			return n
		}
		cut := strings.LastIndexAny(path, ".[")
		if cut < 0 {
			return nil
		}
		path = path[:cut]
	}
}

// scalarAt decodes the scalar under key of mapping m, whose path is kp, and
// records where it was written; "" when the key is absent.
func (d *decoder) scalarAt(sp *spots, m map[string]field, key, kp string) string {
	v, ok := m[key]
	if !ok {
		return ""
	}
	sp.set(kp, v.val)
	s, ok := d.scalar(v.val, kp)
	if !ok {
		sp.reported[kp] = true
	}
	return s
}

// mappingItem is one item of a list of mappings.
type mappingItem struct {
	node   *yaml.Node
	path   string
	fields map[string]field
}

// mappingItems decodes a list of mappings with the given keys, recording where
// each item was written; items that are not mappings are reported and left
// out.
func (d *decoder) mappingItems(sp *spots, n *yaml.Node, path string, keys ...string) []mappingItem {
	var out []mappingItem
	for i, item := range d.list(n, path) {
		ip := index(path, i)
		sp.set(ip, item)
		f, ok := d.mapping(item, ip, keys...)
		if !ok {
			sp.reported[ip] = true
			continue
		}
		out = append(out, mappingItem{item, ip, f})
	}
	return out
}

// report records value problems found by CheckRule or CheckAction for the
// rule or action at base.
func (d *decoder) report(sp *spots, base string, probs []FieldProblem) {
	for _, p := range probs {
		full := join(base, p.Path)
		if p.Path == "" {
			full = base
		}
		if sp.reported[full] {
			continue
		}
		d.add(sp.at(full), full, "%s", p.Message)
	}
}

// rules decodes a listener's rules, checks each, and checks that priorities are
// unique. It returns the target groups the rules name.
func (d *decoder) rules(n *yaml.Node, path string) ([]Rule, []tgRef) {
	var out []Rule
	var refs []tgRef
	byPriority := map[int]int{}
	for i, rn := range d.list(n, path) {
		rp := index(path, i)
		sp := newSpots()
		sp.set(rp, rn)
		r, rrefs := d.rule(rn, rp, sp)
		d.report(sp, rp, CheckRule(r))
		if r.Priority >= MinRulePriority && r.Priority <= MaxRulePriority {
			if prev, dup := byPriority[r.Priority]; dup {
				d.add(sp.at(join(rp, "priority")), join(rp, "priority"), "priority %d is already used by rules[%d]; priorities must be unique within a listener", r.Priority, prev)
			} else {
				byPriority[r.Priority] = i
			}
		}
		SortActions(r.Actions)
		for j := range r.Actions {
			if a := r.Actions[j].Redirect; a != nil {
				*a = RedirectDefaults(*a)
			}
		}
		out = append(out, r)
		refs = append(refs, rrefs...)
	}
	return out, refs
}

func (d *decoder) rule(n *yaml.Node, path string, sp *spots) (Rule, []tgRef) {
	var r Rule
	f, ok := d.mapping(n, path, "priority", "conditions", "actions", "transforms")
	if !ok {
		sp.reported[path] = true
		return r, nil
	}
	pp := join(path, "priority")
	if p, ok := f["priority"]; ok {
		sp.set(pp, p.val)
		v, ok := intValue(resolve(p.val))
		if !ok {
			d.add(p.val, pp, "must be an integer from %d to %d, got %s", MinRulePriority, MaxRulePriority, describe(p.val))
			sp.reported[pp] = true
		}
		r.Priority = v
	} else {
		d.add(n, pp, "is required (an integer from 1 to 50000; lower numbers are evaluated first)")
		sp.reported[pp] = true
	}
	cp := join(path, "conditions")
	if c, ok := f["conditions"]; ok {
		sp.set(cp, c.key)
		for i, cn := range d.list(c.val, cp) {
			r.Conditions = append(r.Conditions, d.condition(cn, index(cp, i), sp))
		}
	}
	if t, ok := f["transforms"]; ok {
		tp := join(path, "transforms")
		sp.set(tp, t.key)
		for _, item := range d.mappingItems(sp, t.val, tp, "type", "host_header_rewrite", "url_rewrite") {
			tr := Transform{Type: d.scalarAt(sp, item.fields, "type", join(item.path, "type"))}
			for _, key := range []string{"host_header_rewrite", "url_rewrite"} {
				cf, ok := item.fields[key]
				if !ok {
					continue
				}
				cp := join(item.path, key)
				sp.set(cp, cf.val)
				rc := &RewriteConfig{}
				rf, ok := d.mapping(cf.val, cp, "rewrites")
				if !ok {
					sp.reported[cp] = true
				}
				if rw, ok := rf["rewrites"]; ok {
					rp := join(cp, "rewrites")
					sp.set(rp, rw.val)
					for _, ri := range d.mappingItems(sp, rw.val, rp, "regex", "replace") {
						rc.Rewrites = append(rc.Rewrites, Rewrite{
							Regex:   d.scalarAt(sp, ri.fields, "regex", join(ri.path, "regex")),
							Replace: d.scalarAt(sp, ri.fields, "replace", join(ri.path, "replace")),
						})
					}
				}
				if key == "host_header_rewrite" {
					tr.HostHeaderRewrite = rc
				} else {
					tr.URLRewrite = rc
				}
			}
			r.Transforms = append(r.Transforms, tr)
		}
	}
	ap := join(path, "actions")
	var refs []tgRef
	if a, ok := f["actions"]; ok {
		sp.set(ap, a.key)
		for i, an := range d.list(a.val, ap) {
			act, arefs := d.actionIn(an, index(ap, i), sp)
			r.Actions = append(r.Actions, act)
			refs = append(refs, arefs...)
		}
	}
	return r, refs
}

// conditionKeys are the keys of a condition, one per AWS field.
var conditionKeys = []string{"host_header", "path_pattern", "http_header", "http_request_method", "query_string", "source_ip"}

func (d *decoder) condition(n *yaml.Node, path string, sp *spots) Condition {
	var c Condition
	sp.set(path, n)
	f, ok := d.mapping(n, path, conditionKeys...)
	if !ok {
		sp.reported[path] = true
		return c
	}
	if len(f) != 1 {
		if len(f) > 1 {
			d.add(n, path, "a condition has exactly one of %s; write each as its own list item", strings.Join(conditionKeys, ", "))
			sp.reported[path] = true
		}
		// No key at all is reported by CheckRule.
	}
	for _, key := range conditionKeys {
		v, ok := f[key]
		if !ok {
			continue
		}
		kp := join(path, key)
		sp.set(kp, v.val)
		switch key {
		case "host_header":
			c.HostHeader, c.HostHeaderRegex = d.valuesOrRegex(v.val, kp, sp)
		case "path_pattern":
			c.PathPattern, c.PathPatternRegex = d.valuesOrRegex(v.val, kp, sp)
		case "http_request_method":
			c.HTTPRequestMethod = d.strings(v.val, kp, sp)
		case "source_ip":
			c.SourceIP = d.strings(v.val, kp, sp)
		case "http_header":
			h := &HTTPHeaderCondition{}
			hf, ok := d.mapping(v.val, kp, "name", "values", "regex_values")
			if !ok {
				sp.reported[kp] = true
			}
			h.Name = d.scalarAt(sp, hf, "name", join(kp, "name"))
			vp := join(kp, "values")
			if vf, ok := hf["values"]; ok {
				sp.set(vp, vf.val)
				h.Values = d.strings(vf.val, vp, sp)
			}
			rp := join(kp, "regex_values")
			if rf, ok := hf["regex_values"]; ok {
				sp.set(rp, rf.val)
				h.RegexValues = d.strings(rf.val, rp, sp)
			}
			if h.Values == nil && h.RegexValues == nil && ok {
				h.Values = []string{} // reported by CheckRule: needs a value
			}
			c.HTTPHeader = h
		case "query_string":
			c.QueryString = []QueryStringPair{}
			for _, q := range d.mappingItems(sp, v.val, kp, "key", "value") {
				c.QueryString = append(c.QueryString, QueryStringPair{
					Key:   d.scalarAt(sp, q.fields, "key", join(q.path, "key")),
					Value: d.scalarAt(sp, q.fields, "value", join(q.path, "value")),
				})
			}
		}
	}
	return c
}

// valuesOrRegex decodes a host_header or path_pattern condition: a list of
// wildcard values, or a mapping {values: [...]} or {regex_values: [...]} (the
// shapes of AWS's HostHeaderConfig and PathPatternConfig).
func (d *decoder) valuesOrRegex(n *yaml.Node, path string, sp *spots) (values, regex []string) {
	if resolve(n) == nil || resolve(n).Kind != yaml.MappingNode {
		return d.strings(n, path, sp), nil
	}
	f, _ := d.mapping(n, path, "values", "regex_values")
	if vf, ok := f["values"]; ok {
		vp := join(path, "values")
		sp.set(vp, vf.val)
		values = d.strings(vf.val, vp, sp)
	}
	if rf, ok := f["regex_values"]; ok {
		rp := join(path, "regex_values")
		sp.set(rp, rf.val)
		regex = d.strings(rf.val, rp, sp)
	}
	if values == nil && regex == nil {
		values = []string{} // reported by CheckRule: needs a value
		if len(resolve(n).Content) > 0 {
			sp.reported[path] = true // only unknown keys: reported already
		}
	}
	return values, regex
}

// strings decodes a list of scalars; the result is non-nil even when empty, so
// that an empty list stays distinguishable from an absent one.
func (d *decoder) strings(n *yaml.Node, path string, sp *spots) []string {
	out := []string{}
	if !isNull(n) && resolve(n).Kind != yaml.SequenceNode {
		d.add(n, path, "must be a list of values such as [\"a\", \"b\"], got %s", describe(n))
		sp.reported[path] = true
		return out
	}
	for i, vn := range d.list(n, path) {
		vp := index(path, i)
		sp.set(vp, vn)
		if s, ok := d.scalar(vn, vp); ok {
			out = append(out, s)
		} else {
			sp.reported[vp] = true
			out = append(out, "")
		}
	}
	return out
}

// action decodes and checks a default action; refs are the target groups it
// names.
func (d *decoder) action(n *yaml.Node, path string) (Action, []tgRef) {
	sp := newSpots()
	a, refs := d.actionIn(n, path, sp)
	d.report(sp, path, CheckAction(a))
	if a.Redirect != nil {
		*a.Redirect = RedirectDefaults(*a.Redirect)
	}
	return a, refs
}

// actionIn decodes an action into its value; the caller checks it.
func (d *decoder) actionIn(n *yaml.Node, path string, sp *spots) (Action, []tgRef) {
	var a Action
	sp.set(path, n)
	f, ok := d.mapping(n, path, "type", "order", "target_group", "forward", "redirect", "fixed_response", "authenticate_oidc", "authenticate_cognito", "jwt_validation")
	if !ok {
		sp.reported[path] = true
		sp.reported[join(path, "type")] = true
		return a, nil
	}
	str := func(m map[string]field, key, kp string) string { return d.scalarAt(sp, m, key, kp) }
	a.Type = str(f, "type", join(path, "type"))
	if _, ok := f["type"]; !ok {
		d.add(n, join(path, "type"), "is required")
		sp.reported[join(path, "type")] = true
	}
	if o, ok := f["order"]; ok {
		sp.set(join(path, "order"), o.val)
		a.Order = d.number(o.val, join(path, "order"), sp, fmt.Sprintf("an integer from 1 to %d", MaxActionOrder))
		if a.Order == 0 && !sp.reported[join(path, "order")] {
			d.add(o.val, join(path, "order"), "must be an integer from 1 to %d, got 0", MaxActionOrder)
			sp.reported[join(path, "order")] = true
		}
	}
	d.authActions(f, path, sp, &a)
	var refs []tgRef
	a.TargetGroup = str(f, "target_group", join(path, "target_group"))
	if _, ok := f["target_group"]; ok && a.TargetGroup != "" {
		refs = append(refs, tgRef{name: a.TargetGroup, path: join(path, "target_group"), node: sp.at(join(path, "target_group"))})
	}
	if fw, ok := f["forward"]; ok {
		fp := join(path, "forward")
		sp.set(fp, fw.val)
		a.Forward = &ForwardConfig{}
		ff, _ := d.mapping(fw.val, fp, "target_groups", "stickiness")
		tgp := join(fp, "target_groups")
		if tl, ok := ff["target_groups"]; ok {
			sp.set(tgp, tl.val)
			for _, item := range d.mappingItems(sp, tl.val, tgp, "name", "weight") {
				tn, tp, tf := item.node, item.path, item.fields
				t := TargetGroupTuple{Name: str(tf, "name", join(tp, "name")), Weight: 1}
				if _, ok := tf["name"]; !ok {
					d.add(tn, join(tp, "name"), "is required")
					sp.reported[join(tp, "name")] = true
				} else if t.Name != "" && a.TargetGroup != t.Name {
					refs = append(refs, tgRef{name: t.Name, path: join(tp, "name"), node: sp.at(join(tp, "name"))})
				}
				if w, ok := tf["weight"]; ok {
					sp.set(join(tp, "weight"), w.val)
					t.Weight = d.number(w.val, join(tp, "weight"), sp, fmt.Sprintf("an integer from 0 to %d", MaxTargetGroupWeight))
				}
				a.Forward.TargetGroups = append(a.Forward.TargetGroups, t)
			}
		}
		if st, ok := ff["stickiness"]; ok {
			stp := join(fp, "stickiness")
			sp.set(stp, st.val)
			sf, _ := d.mapping(st.val, stp, "enabled", "duration_seconds")
			if e, ok := sf["enabled"]; ok {
				sp.set(join(stp, "enabled"), e.val)
				a.Forward.Stickiness.Enabled, _ = d.boolean(e.val, join(stp, "enabled"))
			}
			if ds, ok := sf["duration_seconds"]; ok {
				sp.set(join(stp, "duration_seconds"), ds.val)
				a.Forward.Stickiness.DurationSeconds = d.number(ds.val, join(stp, "duration_seconds"), sp, fmt.Sprintf("an integer from 1 to %d", MaxStickinessDurationSeconds))
			}
		}
	}
	if rd, ok := f["redirect"]; ok {
		rp := join(path, "redirect")
		sp.set(rp, rd.val)
		rf, _ := d.mapping(rd.val, rp, "protocol", "host", "port", "path", "query", "status_code")
		a.Redirect = &RedirectConfig{
			Protocol:   str(rf, "protocol", join(rp, "protocol")),
			Host:       str(rf, "host", join(rp, "host")),
			Port:       str(rf, "port", join(rp, "port")),
			Path:       str(rf, "path", join(rp, "path")),
			Query:      str(rf, "query", join(rp, "query")),
			StatusCode: str(rf, "status_code", join(rp, "status_code")),
		}
	}
	if fr, ok := f["fixed_response"]; ok {
		fp := join(path, "fixed_response")
		sp.set(fp, fr.val)
		ff, _ := d.mapping(fr.val, fp, "status_code", "content_type", "message_body")
		a.FixedResponse = &FixedResponseConfig{
			StatusCode:  str(ff, "status_code", join(fp, "status_code")),
			ContentType: str(ff, "content_type", join(fp, "content_type")),
			MessageBody: str(ff, "message_body", join(fp, "message_body")),
		}
	}
	return a, refs
}

// number decodes an integer whose range the value checks verify; a value that
// is not an integer is reported here.
func (d *decoder) number(n *yaml.Node, path string, sp *spots, want string) int {
	v, ok := intValue(resolve(n))
	if !ok {
		d.add(n, path, "must be %s, got %s", want, describe(n))
		sp.reported[path] = true
	}
	return v
}

// checkHTTPSRedirects reports redirects of an HTTPS listener to plain HTTP,
// which AWS refuses.
func (d *decoder) checkHTTPSRedirects(l Listener, n *yaml.Node, path string) {
	check := func(a Action, ap string) {
		if a.Redirect != nil && a.Redirect.Protocol == "HTTP" {
			d.add(n, join(ap, "redirect.protocol"), "an HTTPS listener cannot redirect to HTTP")
		}
	}
	for i, a := range l.DefaultActions {
		check(a, index(join(path, "default_actions"), i))
	}
	for i, r := range l.Rules {
		for j, a := range r.Actions {
			check(a, index(join(index(join(path, "rules"), i), "actions"), j))
		}
	}
}

// authActions decodes the configuration of authentication actions.
func (d *decoder) authActions(f map[string]field, path string, sp *spots, a *Action) {
	str := func(m map[string]field, key, kp string) string { return d.scalarAt(sp, m, key, kp) }
	sessionKeys := []string{"scope", "session_cookie_name", "session_timeout", "on_unauthenticated_request", "authentication_request_extra_params"}
	session := func(m map[string]field, p string, scope, cookie *string, timeout *int64, onUnauth *string, extra *map[string]string) {
		*scope = str(m, "scope", join(p, "scope"))
		*cookie = str(m, "session_cookie_name", join(p, "session_cookie_name"))
		*onUnauth = str(m, "on_unauthenticated_request", join(p, "on_unauthenticated_request"))
		if t, ok := m["session_timeout"]; ok {
			tp := join(p, "session_timeout")
			sp.set(tp, t.val)
			*timeout = int64(d.number(t.val, tp, sp, fmt.Sprintf("an integer from 1 to %d seconds", MaxSessionTimeout)))
			if *timeout == 0 && !sp.reported[tp] {
				d.add(t.val, tp, "must be an integer from 1 to %d seconds, got 0", MaxSessionTimeout)
				sp.reported[tp] = true
			}
		}
		if e, ok := m["authentication_request_extra_params"]; ok {
			ep := join(p, "authentication_request_extra_params")
			sp.set(ep, e.val)
			*extra = map[string]string{}
			if !isNull(e.val) && resolve(e.val).Kind != yaml.MappingNode {
				d.add(e.val, ep, "must be a mapping (key: value lines), got %s", describe(e.val))
				sp.reported[ep] = true
			} else {
				for _, pair := range d.pairs(e.val, ep) {
					em := map[string]field{pair.name: pair}
					(*extra)[pair.name] = str(em, pair.name, join(ep, pair.name))
				}
			}
		}
	}
	if o, ok := f["authenticate_oidc"]; ok {
		p := join(path, "authenticate_oidc")
		sp.set(p, o.val)
		keys := append([]string{"issuer", "authorization_endpoint", "token_endpoint", "user_info_endpoint", "client_id", "client_secret", "use_existing_client_secret"}, sessionKeys...)
		m, _ := d.mapping(o.val, p, keys...)
		c := &AuthenticateOIDCConfig{
			Issuer:                str(m, "issuer", join(p, "issuer")),
			AuthorizationEndpoint: str(m, "authorization_endpoint", join(p, "authorization_endpoint")),
			TokenEndpoint:         str(m, "token_endpoint", join(p, "token_endpoint")),
			UserInfoEndpoint:      str(m, "user_info_endpoint", join(p, "user_info_endpoint")),
			ClientID:              str(m, "client_id", join(p, "client_id")),
			ClientSecret:          str(m, "client_secret", join(p, "client_secret")),
		}
		if u, ok := m["use_existing_client_secret"]; ok {
			sp.set(join(p, "use_existing_client_secret"), u.val)
			c.UseExistingClientSecret, _ = d.boolean(u.val, join(p, "use_existing_client_secret"))
		}
		session(m, p, &c.Scope, &c.SessionCookieName, &c.SessionTimeout, &c.OnUnauthenticatedRequest, &c.AuthenticationRequestExtraParams)
		a.AuthenticateOIDC = c
	}
	if o, ok := f["authenticate_cognito"]; ok {
		p := join(path, "authenticate_cognito")
		sp.set(p, o.val)
		keys := append([]string{"user_pool_arn", "user_pool_client_id", "user_pool_domain", "client_secret"}, sessionKeys...)
		m, _ := d.mapping(o.val, p, keys...)
		c := &AuthenticateCognitoConfig{
			UserPoolARN:      str(m, "user_pool_arn", join(p, "user_pool_arn")),
			UserPoolClientID: str(m, "user_pool_client_id", join(p, "user_pool_client_id")),
			UserPoolDomain:   str(m, "user_pool_domain", join(p, "user_pool_domain")),
			ClientSecret:     str(m, "client_secret", join(p, "client_secret")),
		}
		session(m, p, &c.Scope, &c.SessionCookieName, &c.SessionTimeout, &c.OnUnauthenticatedRequest, &c.AuthenticationRequestExtraParams)
		a.AuthenticateCognito = c
	}
	if o, ok := f["jwt_validation"]; ok {
		p := join(path, "jwt_validation")
		sp.set(p, o.val)
		m, _ := d.mapping(o.val, p, "jwks_endpoint", "issuer", "additional_claims")
		c := &JWTValidationConfig{
			JWKSEndpoint: str(m, "jwks_endpoint", join(p, "jwks_endpoint")),
			Issuer:       str(m, "issuer", join(p, "issuer")),
		}
		if ac, ok := m["additional_claims"]; ok {
			acp := join(p, "additional_claims")
			sp.set(acp, ac.val)
			for _, item := range d.mappingItems(sp, ac.val, acp, "format", "name", "values") {
				cl := JWTClaim{
					Format: str(item.fields, "format", join(item.path, "format")),
					Name:   str(item.fields, "name", join(item.path, "name")),
				}
				if v, ok := item.fields["values"]; ok {
					vp := join(item.path, "values")
					sp.set(vp, v.val)
					for i, vn := range d.list(v.val, vp) {
						sp.set(index(vp, i), vn)
						s, _ := d.scalar(vn, index(vp, i))
						cl.Values = append(cl.Values, s)
					}
				}
				c.AdditionalClaims = append(c.AdditionalClaims, cl)
			}
		}
		a.JWTValidation = c
	}
}
