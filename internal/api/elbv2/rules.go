package elbv2

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
)

// Rules and actions: the wire shapes of elbv2-api.md §3.1 and §3.6, read into
// and written from the config package's Rule, Condition and Action, whose
// checks (config.CheckRule, config.CheckAction) the configuration file shares.

const maxRulesPerLB = 100

// readActions reads an action list (DefaultActions, or a rule's Actions),
// resolves target group ARNs to names in m and checks each action.
func readActions(m *control.Model, f form, name, path string) ([]config.Action, error) {
	items := f.structs(name)
	if len(items) == 0 {
		return nil, errorf(codeValidation, "An action must be specified")
	}
	if len(items) > maxActions {
		return nil, errorf(codeInvalidLoadBalancerAct, "at most two actions are allowed (one authenticate-oidc, authenticate-cognito or jwt-validation, then one forward, redirect or fixed-response), got %d", len(items))
	}
	var out []config.Action
	for i, af := range items {
		ap := fmt.Sprintf("%s.%d.member", path, i+1)
		var v validation
		typ, ok := v.enum(af, "Type", ap+".type", "forward", "authenticate-oidc", "authenticate-cognito", "redirect", "fixed-response", "jwt-validation")
		if !ok && v.err() == nil {
			v.required(ap + ".type")
		}
		order, _ := v.intIn(af, "Order", ap+".order", 1, config.MaxActionOrder)
		if err := v.err(); err != nil {
			return nil, err
		}
		a := config.Action{Type: typ, Order: order}
		tgName := func(arn string) (string, error) {
			tg := m.TargetGroupByARN(arn)
			if tg == nil {
				return "", errorf(codeTargetGroupNotFound, "Target group '%s' not found", arn)
			}
			if tg.Protocol != "HTTP" && tg.Protocol != "HTTPS" {
				return "", errorf(codeIncompatibleProtocols, "Target group '%s' has protocol %s; an Application Load Balancer forwards to HTTP or HTTPS target groups", arn, tg.Protocol)
			}
			return tg.Name, nil
		}
		if arn := af.get("TargetGroupArn"); arn != "" {
			n, err := tgName(arn)
			if err != nil {
				return nil, err
			}
			a.TargetGroup = n
		}
		if af.present("ForwardConfig") {
			fc := &config.ForwardConfig{}
			for j, tf := range af.structs("ForwardConfig.TargetGroups") {
				n, err := tgName(tf.get("TargetGroupArn"))
				if err != nil {
					return nil, err
				}
				weight := 1
				if w, ok := v.intIn(tf, "Weight", fmt.Sprintf("%s.forwardConfig.targetGroups.%d.member.weight", ap, j+1), 0, config.MaxTargetGroupWeight); ok {
					weight = w
				}
				fc.TargetGroups = append(fc.TargetGroups, config.TargetGroupTuple{Name: n, Weight: weight})
			}
			if b, ok := v.boolean(af, "ForwardConfig.TargetGroupStickinessConfig.Enabled", ap+".forwardConfig.targetGroupStickinessConfig.enabled"); ok {
				fc.Stickiness.Enabled = b
			}
			if d, ok := v.intIn(af, "ForwardConfig.TargetGroupStickinessConfig.DurationSeconds", ap+".forwardConfig.targetGroupStickinessConfig.durationSeconds", 1, config.MaxStickinessDurationSeconds); ok {
				fc.Stickiness.DurationSeconds = d
			}
			// A ForwardConfig naming exactly the TargetGroupArn's group is the
			// same forward; keep the short form then, as AWS echoes both.
			if len(fc.TargetGroups) == 1 && fc.TargetGroups[0].Name == a.TargetGroup && fc.TargetGroups[0].Weight == 1 && !fc.Stickiness.Enabled {
				fc = nil
			}
			if fc != nil {
				a.Forward = fc
			}
		}
		if af.present("RedirectConfig") {
			r := config.RedirectConfig{
				Protocol: af.get("RedirectConfig.Protocol"), Host: af.get("RedirectConfig.Host"), Port: af.get("RedirectConfig.Port"),
				Path: af.get("RedirectConfig.Path"), Query: af.get("RedirectConfig.Query"), StatusCode: af.get("RedirectConfig.StatusCode"),
			}
			r = config.RedirectDefaults(r)
			a.Redirect = &r
		}
		if af.present("FixedResponseConfig") {
			a.FixedResponse = &config.FixedResponseConfig{StatusCode: af.get("FixedResponseConfig.StatusCode"),
				ContentType: af.get("FixedResponseConfig.ContentType"), MessageBody: af.get("FixedResponseConfig.MessageBody")}
		}
		if af.present("AuthenticateOidcConfig") {
			a.AuthenticateOIDC = readOIDCConfig(&v, af.sub("AuthenticateOidcConfig"), ap+".authenticateOidcConfig")
		}
		if af.present("AuthenticateCognitoConfig") {
			a.AuthenticateCognito = readCognitoConfig(&v, af.sub("AuthenticateCognitoConfig"), ap+".authenticateCognitoConfig")
		}
		if af.present("JwtValidationConfig") {
			a.JWTValidation = readJWTValidation(af.sub("JwtValidationConfig"))
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		if probs := config.CheckAction(a); len(probs) > 0 {
			return nil, actionProblems(ap, probs)
		}
		out = append(out, a)
	}
	if probs := config.CheckActionList(out, ""); len(probs) > 0 {
		return nil, actionListProblems(path, probs)
	}
	config.SortActions(out)
	return out, nil
}

// maxActions bounds the actions of one list: an authentication action and
// the action after it.
const maxActions = 2

// readOIDCConfig reads an AuthenticateOidcConfig (AWS's
// AuthenticateOidcActionConfig).
func readOIDCConfig(v *validation, f form, path string) *config.AuthenticateOIDCConfig {
	c := &config.AuthenticateOIDCConfig{
		Issuer: f.get("Issuer"), AuthorizationEndpoint: f.get("AuthorizationEndpoint"), TokenEndpoint: f.get("TokenEndpoint"),
		UserInfoEndpoint: f.get("UserInfoEndpoint"), ClientID: f.get("ClientId"), ClientSecret: f.get("ClientSecret"),
		Scope: f.get("Scope"), SessionCookieName: f.get("SessionCookieName"),
		AuthenticationRequestExtraParams: readStringMap(f, "AuthenticationRequestExtraParams"),
	}
	if t, ok := v.intIn(f, "SessionTimeout", path+".sessionTimeout", 1, config.MaxSessionTimeout); ok {
		c.SessionTimeout = int64(t)
	}
	if f.present("OnUnauthenticatedRequest") {
		c.OnUnauthenticatedRequest, _ = v.enum(f, "OnUnauthenticatedRequest", path+".onUnauthenticatedRequest", config.UnauthenticatedDeny, config.UnauthenticatedAllow, config.UnauthenticatedAuthenticate)
	}
	if b, ok := v.boolean(f, "UseExistingClientSecret", path+".useExistingClientSecret"); ok {
		c.UseExistingClientSecret = b
	}
	for _, req := range []struct{ name, value string }{
		{"Issuer", c.Issuer}, {"AuthorizationEndpoint", c.AuthorizationEndpoint}, {"TokenEndpoint", c.TokenEndpoint},
		{"UserInfoEndpoint", c.UserInfoEndpoint}, {"ClientId", c.ClientID},
	} {
		if req.value == "" {
			v.required(path + "." + strings.ToLower(req.name[:1]) + req.name[1:])
		}
	}
	return c
}

// readJWTValidation reads a JwtValidationConfig (elbv2-api.md §3.6).
func readJWTValidation(f form) *config.JWTValidationConfig {
	c := &config.JWTValidationConfig{JWKSEndpoint: f.get("JwksEndpoint"), Issuer: f.get("Issuer")}
	for _, cf := range f.structs("AdditionalClaims") {
		c.AdditionalClaims = append(c.AdditionalClaims, config.JWTClaim{Format: cf.get("Format"), Name: cf.get("Name"), Values: cf.strings("Values")})
	}
	return c
}

// readCognitoConfig reads an AuthenticateCognitoConfig (AWS's
// AuthenticateCognitoActionConfig).
func readCognitoConfig(v *validation, f form, path string) *config.AuthenticateCognitoConfig {
	c := &config.AuthenticateCognitoConfig{
		UserPoolARN: f.get("UserPoolArn"), UserPoolClientID: f.get("UserPoolClientId"), UserPoolDomain: f.get("UserPoolDomain"),
		Scope: f.get("Scope"), SessionCookieName: f.get("SessionCookieName"),
		AuthenticationRequestExtraParams: readStringMap(f, "AuthenticationRequestExtraParams"),
	}
	if t, ok := v.intIn(f, "SessionTimeout", path+".sessionTimeout", 1, config.MaxSessionTimeout); ok {
		c.SessionTimeout = int64(t)
	}
	if f.present("OnUnauthenticatedRequest") {
		c.OnUnauthenticatedRequest, _ = v.enum(f, "OnUnauthenticatedRequest", path+".onUnauthenticatedRequest", config.UnauthenticatedDeny, config.UnauthenticatedAllow, config.UnauthenticatedAuthenticate)
	}
	for _, req := range []struct{ name, value string }{
		{"UserPoolArn", c.UserPoolARN}, {"UserPoolClientId", c.UserPoolClientID}, {"UserPoolDomain", c.UserPoolDomain},
	} {
		if req.value == "" {
			v.required(path + "." + strings.ToLower(req.name[:1]) + req.name[1:])
		}
	}
	return c
}

// readStringMap reads a map parameter (NAME.entry.N.key, NAME.entry.N.value);
// nil when absent.
func readStringMap(f form, name string) map[string]string {
	p := f.prefix + name + ".entry."
	var out map[string]string
	for k, key := range f.m {
		if !strings.HasPrefix(k, p) || !strings.HasSuffix(k, ".key") {
			continue
		}
		n := strings.TrimSuffix(k[len(p):], ".key")
		if out == nil {
			out = map[string]string{}
		}
		out[key] = f.m[p+n+".value"]
	}
	return out
}

// keepClientSecrets gives the authenticate-oidc actions of a modification
// that ask for UseExistingClientSecret the client secret of the action
// they replace (AWS keeps the stored secret then).
func keepClientSecrets(actions, old []config.Action) error {
	for i := range actions {
		c := actions[i].AuthenticateOIDC
		if c == nil || !c.UseExistingClientSecret || c.ClientSecret != "" {
			continue
		}
		var secret string
		for _, o := range old {
			if o.AuthenticateOIDC != nil && o.AuthenticateOIDC.ClientSecret != "" {
				secret = o.AuthenticateOIDC.ClientSecret
			}
		}
		if secret == "" {
			return errorf(codeValidation, "UseExistingClientSecret is true but the actions being replaced have no authenticate-oidc client secret to keep; give ClientSecret")
		}
		n := *c
		n.ClientSecret, n.UseExistingClientSecret = secret, false
		actions[i].AuthenticateOIDC = &n
	}
	return nil
}

// writeOIDC writes an AuthenticateOidcConfig as AWS echoes it, with the
// defaults filled in and without the client secret.
func writeOIDC(w *xmlWriter, c config.AuthenticateOIDCConfig) {
	c = config.OIDCDefaults(c)
	w.open("AuthenticateOidcConfig")
	w.leaf("Issuer", c.Issuer)
	w.leaf("AuthorizationEndpoint", c.AuthorizationEndpoint)
	w.leaf("TokenEndpoint", c.TokenEndpoint)
	w.leaf("UserInfoEndpoint", c.UserInfoEndpoint)
	w.leaf("ClientId", c.ClientID)
	w.leaf("SessionCookieName", c.SessionCookieName)
	w.leaf("Scope", c.Scope)
	w.leaf("SessionTimeout", strconv.FormatInt(c.SessionTimeout, 10))
	writeStringMap(w, "AuthenticationRequestExtraParams", c.AuthenticationRequestExtraParams)
	w.leaf("OnUnauthenticatedRequest", c.OnUnauthenticatedRequest)
	w.close("AuthenticateOidcConfig")
}

// writeCognito writes an AuthenticateCognitoConfig as AWS echoes it.
func writeCognito(w *xmlWriter, c config.AuthenticateCognitoConfig) {
	d := config.OIDCDefaults(config.AuthenticateOIDCConfig{SessionCookieName: c.SessionCookieName, Scope: c.Scope,
		SessionTimeout: c.SessionTimeout, OnUnauthenticatedRequest: c.OnUnauthenticatedRequest})
	w.open("AuthenticateCognitoConfig")
	w.leaf("UserPoolArn", c.UserPoolARN)
	w.leaf("UserPoolClientId", c.UserPoolClientID)
	w.leaf("UserPoolDomain", c.UserPoolDomain)
	w.leaf("SessionCookieName", d.SessionCookieName)
	w.leaf("Scope", d.Scope)
	w.leaf("SessionTimeout", strconv.FormatInt(d.SessionTimeout, 10))
	writeStringMap(w, "AuthenticationRequestExtraParams", c.AuthenticationRequestExtraParams)
	w.leaf("OnUnauthenticatedRequest", d.OnUnauthenticatedRequest)
	w.close("AuthenticateCognitoConfig")
}

// writeStringMap writes a map as the query protocol's XML does (entry, key,
// value), keys sorted; nothing when empty.
func writeStringMap(w *xmlWriter, name string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	w.open(name)
	for _, k := range keys {
		w.open("entry")
		w.leaf("key", k)
		w.leaf("value", m[k])
		w.close("entry")
	}
	w.close(name)
}

// actionListProblems reports config.CheckActionList's problems (the list's
// shape: one terminal action, last, after at most one authentication
// action) as AWS's InvalidLoadBalancerAction. Paths name members from 1, as
// the wire does.
func actionListProblems(path string, probs []config.FieldProblem) error {
	var msgs []string
	for _, p := range probs {
		where := path
		if i, rest, ok := listMember(p.Path); ok {
			where = fmt.Sprintf("%s.%d.member%s", path, i+1, rest)
		}
		msgs = append(msgs, where+": "+p.Message)
	}
	return errorf(codeInvalidLoadBalancerAct, "%s", strings.Join(msgs, "; "))
}

// listMember splits a problem path "[i]rest" of config.CheckActionList.
func listMember(p string) (int, string, bool) {
	if !strings.HasPrefix(p, "[") {
		return 0, "", false
	}
	end := strings.IndexByte(p, ']')
	if end < 0 {
		return 0, "", false
	}
	i, err := strconv.Atoi(p[1:end])
	if err != nil {
		return 0, "", false
	}
	return i, p[end+1:], true
}

// actionProblems reports config.CheckAction's problems: a malformed redirect
// or fixed response is AWS's InvalidLoadBalancerAction, anything else a
// ValidationError.
func actionProblems(path string, probs []config.FieldProblem) error {
	code := codeValidation
	var msgs []string
	for _, p := range probs {
		if strings.HasPrefix(p.Path, "redirect") || strings.HasPrefix(p.Path, "fixed_response") {
			code = codeInvalidLoadBalancerAct
		}
		where := path
		if p.Path != "" {
			where += "." + p.Path
		}
		msgs = append(msgs, where+": "+p.Message)
	}
	return errorf(code, "%s", strings.Join(msgs, "; "))
}

// writeActions writes actions as AWS echoes them: a forward to one target
// group carries both TargetGroupArn and the equivalent ForwardConfig.
func writeActions(w *xmlWriter, m *control.Model, name string, actions []config.Action) {
	arn := func(tgName string) string {
		if tg := m.TargetGroupByName(tgName); tg != nil {
			return m.TargetGroupARN(tg)
		}
		return ""
	}
	w.list(name, len(actions), func(i int) {
		a := actions[i]
		w.leaf("Type", a.Type)
		switch {
		case a.Order != 0:
			w.int("Order", a.Order)
		case len(actions) > 1:
			w.int("Order", i+1)
		}
		switch a.Type {
		case config.ActionForward:
			tgs := a.ForwardTargetGroups()
			if a.Forward == nil && len(tgs) == 1 {
				w.leaf("TargetGroupArn", arn(tgs[0].Name))
			}
			w.open("ForwardConfig")
			w.list("TargetGroups", len(tgs), func(j int) {
				w.leaf("TargetGroupArn", arn(tgs[j].Name))
				w.int("Weight", tgs[j].Weight)
			})
			w.open("TargetGroupStickinessConfig")
			var st config.TargetGroupStickiness
			if a.Forward != nil {
				st = a.Forward.Stickiness
			}
			w.bool("Enabled", st.Enabled)
			if st.DurationSeconds != 0 {
				w.int("DurationSeconds", st.DurationSeconds)
			}
			w.close("TargetGroupStickinessConfig")
			w.close("ForwardConfig")
		case config.ActionRedirect:
			r := a.Redirect
			w.open("RedirectConfig")
			w.leaf("Protocol", r.Protocol)
			w.leaf("Port", r.Port)
			w.leaf("Host", r.Host)
			w.leaf("Path", r.Path)
			w.leaf("Query", r.Query)
			w.leaf("StatusCode", r.StatusCode)
			w.close("RedirectConfig")
		case config.ActionAuthenticateOIDC:
			writeOIDC(w, *a.AuthenticateOIDC)
		case config.ActionAuthenticateCognito:
			writeCognito(w, *a.AuthenticateCognito)
		case config.ActionFixedResponse:
			fr := a.FixedResponse
			w.open("FixedResponseConfig")
			w.opt("MessageBody", fr.MessageBody)
			w.leaf("StatusCode", fr.StatusCode)
			w.opt("ContentType", fr.ContentType)
			w.close("FixedResponseConfig")
		case config.ActionJWTValidation:
			j := a.JWTValidation
			w.open("JwtValidationConfig")
			w.leaf("JwksEndpoint", j.JWKSEndpoint)
			w.leaf("Issuer", j.Issuer)
			if len(j.AdditionalClaims) > 0 {
				w.list("AdditionalClaims", len(j.AdditionalClaims), func(k int) {
					c := j.AdditionalClaims[k]
					w.leaf("Format", c.Format)
					w.leaf("Name", c.Name)
					w.stringList("Values", c.Values)
				})
			}
			w.close("JwtValidationConfig")
		}
	})
}

// readConditions reads a rule's Conditions list. Each condition takes the
// legacy Values (host-header and path-pattern only) or its field's …Config.
func readConditions(f form) ([]config.Condition, error) {
	var out []config.Condition
	for i, cf := range f.structs("Conditions") {
		cp := fmt.Sprintf("conditions.%d.member", i+1)
		field := cf.get("Field")
		legacy := cf.strings("Values")
		// RegexValues may sit on the condition itself or in its field's
		// …Config, as the SDKs' shapes allow; either way they replace Values.
		regex := func(cfg string) ([]string, error) {
			top, inCfg := cf.present("RegexValues"), cf.present(cfg+".RegexValues")
			switch {
			case top && inCfg:
				return nil, errorf(codeValidation, "%s: give RegexValues either on the condition or in %s, not both", cp, cfg)
			case top:
				return nonNil(cf.strings("RegexValues")), nil
			case inCfg:
				return nonNil(cf.strings(cfg + ".RegexValues")), nil
			}
			return nil, nil
		}
		both := func(cfg string) error {
			if len(legacy) > 0 && cf.present(cfg) {
				return errorf(codeValidation, "%s: give either Values or %s, not both", cp, cfg)
			}
			return nil
		}
		if cf.present("RegexValues") && field != config.FieldHostHeader && field != config.FieldPathPattern && field != config.FieldHTTPHeader {
			return nil, errorf(codeValidation, "%s: RegexValues apply only to host-header, path-pattern and http-header conditions, not %s", cp, field)
		}
		var c config.Condition
		switch field {
		case config.FieldHostHeader, config.FieldPathPattern:
			cfg := "HostHeaderConfig"
			if field == config.FieldPathPattern {
				cfg = "PathPatternConfig"
			}
			if err := both(cfg); err != nil {
				return nil, err
			}
			vals := legacy
			if len(legacy) > 1 {
				return nil, errorf(codeValidation, "The '%s' field contains too many values; the limit is '1'", field)
			}
			if len(legacy) == 0 {
				vals = cf.strings(cfg + ".Values")
			}
			res, err := regex(cfg)
			if err != nil {
				return nil, err
			}
			if vals == nil && res == nil {
				vals = []string{}
			}
			if field == config.FieldHostHeader {
				c.HostHeader, c.HostHeaderRegex = vals, res
			} else {
				c.PathPattern, c.PathPatternRegex = vals, res
			}
		case config.FieldHTTPHeader:
			if len(legacy) > 0 || !cf.present("HttpHeaderConfig") {
				return nil, errorf(codeValidation, "%s: A 'HttpHeaderConfig' must be specified with '%s'", cp, field)
			}
			res, err := regex("HttpHeaderConfig")
			if err != nil {
				return nil, err
			}
			c.HTTPHeader = &config.HTTPHeaderCondition{Name: cf.get("HttpHeaderConfig.HttpHeaderName"), Values: cf.strings("HttpHeaderConfig.Values"), RegexValues: res}
			if c.HTTPHeader.Values == nil && res == nil {
				c.HTTPHeader.Values = []string{}
			}
		case config.FieldHTTPRequestMethod:
			if len(legacy) > 0 || !cf.present("HttpRequestMethodConfig") {
				return nil, errorf(codeValidation, "%s: A 'HttpRequestMethodConfig' must be specified with '%s'", cp, field)
			}
			c.HTTPRequestMethod = nonNil(cf.strings("HttpRequestMethodConfig.Values"))
		case config.FieldQueryString:
			if len(legacy) > 0 || !cf.present("QueryStringConfig") {
				return nil, errorf(codeValidation, "%s: A 'QueryStringConfig' must be specified with '%s'", cp, field)
			}
			c.QueryString = []config.QueryStringPair{}
			for _, q := range cf.structs("QueryStringConfig.Values") {
				c.QueryString = append(c.QueryString, config.QueryStringPair{Key: q.get("Key"), Value: q.get("Value")})
			}
		case config.FieldSourceIP:
			if len(legacy) > 0 || !cf.present("SourceIpConfig") {
				return nil, errorf(codeValidation, "%s: A 'SourceIpConfig' must be specified with '%s'", cp, field)
			}
			c.SourceIP = nonNil(cf.strings("SourceIpConfig.Values"))
		case "":
			return nil, errorf(codeValidation, "1 validation error detected: Value null at '%s.field' failed to satisfy constraint: Member must not be null", cp)
		default:
			return nil, errorf(codeValidation, "Condition field '%s' must be one of '[http-header, http-request-method, host-header, path-pattern, query-string, source-ip]'", field)
		}
		out = append(out, c)
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func writeConditions(w *xmlWriter, conds []config.Condition) {
	w.list("Conditions", len(conds), func(i int) {
		c := conds[i]
		w.leaf("Field", c.Field())
		switch {
		case c.HostHeaderRegex != nil:
			w.open("HostHeaderConfig")
			w.stringList("RegexValues", c.HostHeaderRegex)
			w.close("HostHeaderConfig")
		case c.PathPatternRegex != nil:
			w.open("PathPatternConfig")
			w.stringList("RegexValues", c.PathPatternRegex)
			w.close("PathPatternConfig")
		case c.HostHeader != nil:
			w.stringList("Values", c.HostHeader)
			w.open("HostHeaderConfig")
			w.stringList("Values", c.HostHeader)
			w.close("HostHeaderConfig")
		case c.PathPattern != nil:
			w.stringList("Values", c.PathPattern)
			w.open("PathPatternConfig")
			w.stringList("Values", c.PathPattern)
			w.close("PathPatternConfig")
		case c.HTTPHeader != nil:
			w.open("HttpHeaderConfig")
			w.leaf("HttpHeaderName", c.HTTPHeader.Name)
			if c.HTTPHeader.RegexValues != nil {
				w.stringList("RegexValues", c.HTTPHeader.RegexValues)
			} else {
				w.stringList("Values", c.HTTPHeader.Values)
			}
			w.close("HttpHeaderConfig")
		case c.HTTPRequestMethod != nil:
			w.open("HttpRequestMethodConfig")
			w.stringList("Values", c.HTTPRequestMethod)
			w.close("HttpRequestMethodConfig")
		case c.QueryString != nil:
			w.open("QueryStringConfig")
			w.list("Values", len(c.QueryString), func(j int) {
				w.opt("Key", c.QueryString[j].Key)
				w.leaf("Value", c.QueryString[j].Value)
			})
			w.close("QueryStringConfig")
		case c.SourceIP != nil:
			w.open("SourceIpConfig")
			w.stringList("Values", c.SourceIP)
			w.close("SourceIpConfig")
		}
	})
}

// readTransforms reads a rule's Transforms list (AWS's RuleTransform shapes).
func readTransforms(f form) ([]config.Transform, error) {
	var out []config.Transform
	for i, tf := range f.structs("Transforms") {
		tp := fmt.Sprintf("transforms.%d.member", i+1)
		var v validation
		typ, ok := v.enum(tf, "Type", tp+".type", config.TransformHostHeaderRewrite, config.TransformURLRewrite)
		if !ok && v.err() == nil {
			v.required(tp + ".type")
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		t := config.Transform{Type: typ}
		read := func(name string) *config.RewriteConfig {
			if !tf.present(name) {
				return nil
			}
			rc := &config.RewriteConfig{}
			for _, rw := range tf.structs(name + ".Rewrites") {
				rc.Rewrites = append(rc.Rewrites, config.Rewrite{Regex: rw.get("Regex"), Replace: rw.get("Replace")})
			}
			return rc
		}
		t.HostHeaderRewrite, t.URLRewrite = read("HostHeaderRewriteConfig"), read("UrlRewriteConfig")
		out = append(out, t)
	}
	return out, nil
}

func writeTransforms(w *xmlWriter, ts []config.Transform) {
	w.list("Transforms", len(ts), func(i int) {
		t := ts[i]
		w.leaf("Type", t.Type)
		name := "UrlRewriteConfig"
		if t.Type == config.TransformHostHeaderRewrite {
			name = "HostHeaderRewriteConfig"
		}
		if rc := t.Config(); rc != nil {
			w.open(name)
			w.list("Rewrites", len(rc.Rewrites), func(j int) {
				w.leaf("Regex", rc.Rewrites[j].Regex)
				w.leaf("Replace", rc.Rewrites[j].Replace)
			})
			w.close(name)
		}
	})
}

// checkRule runs config.CheckRule and reports its problems AWS's way.
func checkRule(r config.Rule) error {
	probs := config.CheckRule(r)
	if len(probs) == 0 {
		return nil
	}
	var conds []config.FieldProblem
	var acts []config.FieldProblem
	for _, p := range probs {
		if strings.HasPrefix(p.Path, "actions") {
			acts = append(acts, p)
		} else {
			conds = append(conds, p)
		}
	}
	if len(conds) == 0 {
		return actionProblems("rule", acts)
	}
	var msgs []string
	for _, p := range probs {
		msgs = append(msgs, p.Path+": "+p.Message)
	}
	return errorf(codeValidation, "%s", strings.Join(msgs, "; "))
}

func rulesOfLB(m *control.Model, lbID string) int {
	n := 0
	for _, l := range m.ListenersOf(lbID) {
		n += len(l.Rules)
	}
	return n
}

func createRule(c *call, w *xmlWriter) error {
	var v validation
	prio, ok := v.intIn(c.f, "Priority", "priority", config.MinRulePriority, config.MaxRulePriority)
	if err := v.err(); err != nil {
		return err
	}
	if !ok {
		return errorf(codeValidation, "1 validation error detected: Value null at 'priority' failed to satisfy constraint: Member must not be null")
	}
	conds, err := readConditions(c.f)
	if err != nil {
		return err
	}
	transforms, err := readTransforms(c.f)
	if err != nil {
		return err
	}
	tags, err := readTags(c.f, "Tags")
	if err != nil {
		return err
	}
	var out control.Rule
	var listener *control.Listener
	return updateThenWrite(c, w, "Rules", func(tx *control.Tx) error {
		m := tx.Model()
		l, err := findListener(m, c.f)
		if err != nil {
			return err
		}
		actions, err := readActions(m, c.f, "Actions", "actions")
		if err != nil {
			return err
		}
		if err := checkRule(config.Rule{Priority: prio, Conditions: conds, Actions: actions, Transforms: transforms}); err != nil {
			return err
		}
		for _, r := range l.Rules {
			if r.Priority == prio {
				return errorf("PriorityInUse", "Priority '%d' is currently in use", prio)
			}
		}
		if rulesOfLB(m, l.LoadBalancerID) >= maxRulesPerLB {
			return errorf("TooManyRules", "A load balancer can have at most %d rules besides its listeners' default rules", maxRulesPerLB)
		}
		if err := checkAssociation(m, l.LoadBalancerID, l.Protocol, actions); err != nil {
			return err
		}
		id, err := tx.NewRuleID()
		if err != nil {
			return err
		}
		n := l.Clone()
		out = control.Rule{ID: id, Priority: prio, Conditions: conds, Actions: actions, Transforms: transforms, Tags: tags}
		n.Rules = append(n.Rules, out)
		tx.PutListener(n)
		listener = n
		return nil
	}, func(m *control.Model) { writeRule(w, m, listener, &out) })
}

// writeRule writes a rule; r nil is the listener's default rule.
func writeRule(w *xmlWriter, m *control.Model, l *control.Listener, r *control.Rule) {
	if r == nil {
		w.leaf("RuleArn", m.DefaultRuleARN(l))
		w.leaf("Priority", "default")
		w.list("Conditions", 0, nil)
		writeActions(w, m, "Actions", l.DefaultActions)
		w.bool("IsDefault", true)
		return
	}
	w.leaf("RuleArn", m.RuleARN(l, r.ID))
	w.leaf("Priority", strconv.Itoa(r.Priority))
	writeConditions(w, r.Conditions)
	writeActions(w, m, "Actions", r.Actions)
	w.bool("IsDefault", false)
	if len(r.Transforms) > 0 {
		writeTransforms(w, r.Transforms)
	}
}

// ruleRef is a rule and its listener, in the order DescribeRules lists them.
type ruleRef struct {
	l   *control.Listener
	r   *control.Rule
	seq int64
}

func describeRules(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	lARN, hasL := c.f.lookup("ListenerArn")
	arns := c.f.strings("RuleArns")
	var refs []ruleRef
	switch {
	case hasL && len(arns) > 0:
		return errorf(codeValidation, "Listener rule ARNs and a listener ARN cannot be specified at the same time")
	case hasL:
		l := m.ListenerByARN(lARN)
		if l == nil {
			return errorf(codeListenerNotFound, "Listener '%s' not found", lARN)
		}
		for i, r := range l.SortedRules() {
			refs = append(refs, ruleRef{l, &r, int64(i)})
		}
		refs = append(refs, ruleRef{l, nil, int64(len(l.Rules))})
	case len(arns) > 0:
		for i, a := range arns {
			l, r := m.RuleByARN(a)
			if l == nil {
				return errorf(codeRuleNotFound, "One or more rules not found")
			}
			refs = append(refs, ruleRef{l, r, int64(i)})
		}
	default:
		return errorf(codeValidation, "You must specify either listener rule ARNs or a listener ARN")
	}
	pg, next, err := page(c.f, refs, func(r ruleRef) int64 { return r.seq })
	if err != nil {
		return err
	}
	w.list("Rules", len(pg), func(i int) { writeRule(w, m, pg[i].l, pg[i].r) })
	w.opt("NextMarker", next)
	return nil
}

// findRule returns the rule of the request's RuleArn (r nil: a default rule).
func findRule(m *control.Model, f form) (*control.Listener, *control.Rule, error) {
	arn, ok := f.lookup("RuleArn")
	if !ok || arn == "" {
		return nil, nil, errorf(codeValidation, "1 validation error detected: Value null at 'ruleArn' failed to satisfy constraint: Member must not be null")
	}
	l, r := m.RuleByARN(arn)
	if l == nil {
		return nil, nil, errorf(codeRuleNotFound, "Rule '%s' not found", arn)
	}
	return l, r, nil
}

func modifyRule(c *call, w *xmlWriter) error {
	hasConds, hasActions, hasTransforms := c.f.present("Conditions"), c.f.present("Actions"), c.f.present("Transforms")
	reset := c.f.get("ResetTransforms") == "true"
	if !hasConds && !hasActions && !hasTransforms && !reset {
		return errorf(codeValidation, "Either conditions or actions must be specified")
	}
	if reset && hasTransforms {
		return errorf(codeValidation, "Transforms and ResetTransforms cannot be specified at the same time")
	}
	var conds []config.Condition
	if hasConds {
		var err error
		if conds, err = readConditions(c.f); err != nil {
			return err
		}
	}
	transforms, err := readTransforms(c.f)
	if err != nil {
		return err
	}
	var out *control.Rule
	var listener *control.Listener
	return updateThenWrite(c, w, "Rules", func(tx *control.Tx) error {
		m := tx.Model()
		l, r, err := findRule(m, c.f)
		if err != nil {
			return err
		}
		var actions []config.Action
		if hasActions {
			if actions, err = readActions(m, c.f, "Actions", "actions"); err != nil {
				return err
			}
			old := l.DefaultActions
			if r != nil {
				old = r.Actions
			}
			if err := keepClientSecrets(actions, old); err != nil {
				return err
			}
			if err := checkAssociation(m, l.LoadBalancerID, l.Protocol, actions); err != nil {
				return err
			}
		}
		n := l.Clone()
		listener = n
		if r == nil {
			if hasConds {
				return errorf(codeOperationNotPermitted, "The conditions of a default rule cannot be modified")
			}
			if len(transforms) > 0 {
				return errorf(codeOperationNotPermitted, "A default rule cannot have transforms")
			}
			if !hasActions {
				return errorf(codeValidation, "Either conditions or actions must be specified")
			}
			n.DefaultActions = actions
			tx.PutListener(n)
			return nil
		}
		i := slices.IndexFunc(n.Rules, func(x control.Rule) bool { return x.ID == r.ID })
		nr := n.Rules[i]
		if hasConds {
			nr.Conditions = conds
		}
		if hasActions {
			nr.Actions = actions
		}
		switch {
		case reset:
			nr.Transforms = nil
		case hasTransforms:
			nr.Transforms = transforms
		}
		if err := checkRule(config.Rule{Priority: nr.Priority, Conditions: nr.Conditions, Actions: nr.Actions, Transforms: nr.Transforms}); err != nil {
			return err
		}
		n.Rules[i] = nr
		out = &n.Rules[i]
		tx.PutListener(n)
		return nil
	}, func(m *control.Model) { writeRule(w, m, listener, out) })
}

func deleteRule(c *call, w *xmlWriter) error {
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		l, r, err := findRule(tx.Model(), c.f)
		if err != nil {
			return err
		}
		if r == nil {
			return errorf(codeOperationNotPermitted, "A default rule cannot be deleted")
		}
		n := l.Clone()
		n.Rules = slices.DeleteFunc(n.Rules, func(x control.Rule) bool { return x.ID == r.ID })
		tx.PutListener(n)
		return nil
	})
}

func setRulePriorities(c *call, w *xmlWriter) error {
	items := c.f.structs("RulePriorities")
	if len(items) == 0 {
		return errorf(codeValidation, "1 validation error detected: Value null at 'rulePriorities' failed to satisfy constraint: Member must not be null")
	}
	type change struct {
		arn  string
		prio int
	}
	var changes []change
	seen := map[int]bool{}
	var v validation
	for i, it := range items {
		p, ok := v.intIn(it, "Priority", fmt.Sprintf("rulePriorities.%d.member.priority", i+1), config.MinRulePriority, config.MaxRulePriority)
		if !ok {
			if v.err() == nil {
				v.required(fmt.Sprintf("rulePriorities.%d.member.priority", i+1))
			}
			continue
		}
		if seen[p] {
			return errorf(codeValidation, "Priority '%d' was provided multiple times", p)
		}
		seen[p] = true
		changes = append(changes, change{it.get("RuleArn"), p})
	}
	if err := v.err(); err != nil {
		return err
	}
	var moved []ruleRef
	err := c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		edited := map[string]*control.Listener{}
		for _, ch := range changes {
			l, r := m.RuleByARN(ch.arn)
			if l == nil {
				return errorf(codeRuleNotFound, "Rule '%s' not found", ch.arn)
			}
			if r == nil {
				return errorf(codeOperationNotPermitted, "The priority of a default rule cannot be changed")
			}
			n := edited[l.ID]
			if n == nil {
				n = l.Clone()
				edited[l.ID] = n
			}
			i := slices.IndexFunc(n.Rules, func(x control.Rule) bool { return x.ID == r.ID })
			n.Rules[i].Priority = ch.prio
		}
		// The final priorities must be unique on each listener, counting the
		// rules that did not move.
		for _, n := range edited {
			byPrio := map[int]bool{}
			for _, r := range n.Rules {
				if byPrio[r.Priority] {
					return errorf("PriorityInUse", "Priority '%d' is currently in use", r.Priority)
				}
				byPrio[r.Priority] = true
			}
			tx.PutListener(n)
		}
		for _, ch := range changes {
			l, r := tx.Model().RuleByARN(ch.arn)
			moved = append(moved, ruleRef{l: l, r: r})
		}
		return nil
	})
	if err != nil {
		return err
	}
	m := c.ctrl.Model()
	w.list("Rules", len(moved), func(i int) { writeRule(w, m, moved[i].l, moved[i].r) })
	return nil
}
