package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Authentication actions (authenticate-oidc, authenticate-cognito,
// jwt-validation): their configuration, the checks AWS applies to it
// (alb-data-plane.md §6.3, elbv2-api.md §3.6.1), and the rules of an action
// list that holds one before its terminal action.

// Authentication defaults and limits, as AWS documents them.
const (
	// DefaultSessionCookieName is the session cookie of an authenticate
	// action that names none.
	DefaultSessionCookieName = "AWSELBAuthSessionCookie"
	// DefaultSessionTimeout is the session lifetime in seconds (7 days).
	DefaultSessionTimeout = 604800
	// MaxSessionTimeout bounds session_timeout (7 days).
	MaxSessionTimeout = 604800
	// DefaultScope is the scope requested when none is configured.
	DefaultScope = "openid"
	// MaxExtraParams is how many authentication_request_extra_params an
	// action may have.
	MaxExtraParams = 10
	// MaxJWTURLLength bounds a jwt-validation action's issuer and
	// jwks_endpoint.
	MaxJWTURLLength = 256
	// MaxAdditionalClaims, MaxClaimValues and MaxClaimValueLength bound a
	// jwt-validation action's additional claims.
	MaxAdditionalClaims = 10
	MaxClaimValues      = 10
	MaxClaimValueLength = 256
	// MaxActionOrder is the largest action order.
	MaxActionOrder = 50000
)

// Values of on_unauthenticated_request.
const (
	UnauthenticatedAuthenticate = "authenticate"
	UnauthenticatedAllow        = "allow"
	UnauthenticatedDeny         = "deny"
)

// Formats of a jwt-validation additional claim.
const (
	ClaimSingleString         = "single-string"
	ClaimStringArray          = "string-array"
	ClaimSpaceSeparatedValues = "space-separated-values"
)

// AuthenticateOIDCConfig is an authenticate-oidc action's configuration
// (AWS's AuthenticateOidcActionConfig).
type AuthenticateOIDCConfig struct {
	Issuer                string `yaml:"issuer"`
	AuthorizationEndpoint string `yaml:"authorization_endpoint"`
	TokenEndpoint         string `yaml:"token_endpoint"`
	UserInfoEndpoint      string `yaml:"user_info_endpoint"`
	ClientID              string `yaml:"client_id"`
	ClientSecret          string `yaml:"client_secret"`
	// Scope defaults to openid.
	Scope string `yaml:"scope"`
	// SessionCookieName defaults to AWSELBAuthSessionCookie.
	SessionCookieName string `yaml:"session_cookie_name"`
	// SessionTimeout is in seconds (1-604800, default 604800).
	SessionTimeout int64 `yaml:"session_timeout"`
	// OnUnauthenticatedRequest is authenticate (default), allow or deny.
	OnUnauthenticatedRequest string `yaml:"on_unauthenticated_request"`
	// AuthenticationRequestExtraParams are added to the query of the
	// redirect to the authorization endpoint (at most 10).
	AuthenticationRequestExtraParams map[string]string `yaml:"authentication_request_extra_params"`
	// UseExistingClientSecret keeps the client secret already stored when
	// an API call modifies the action without one.
	UseExistingClientSecret bool `yaml:"use_existing_client_secret"`
}

// AuthenticateCognitoConfig is an authenticate-cognito action's
// configuration (AWS's AuthenticateCognitoActionConfig). Albatross runs it
// as OIDC against the user pool (CognitoOIDC).
type AuthenticateCognitoConfig struct {
	// UserPoolARN is arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID.
	UserPoolARN string `yaml:"user_pool_arn"`
	// UserPoolClientID is the app client's id.
	UserPoolClientID string `yaml:"user_pool_client_id"`
	// UserPoolDomain is the domain prefix (the hosted UI is at
	// https://PREFIX.auth.REGION.amazoncognito.com) or, an Albatross
	// extension, a custom domain's https URL.
	UserPoolDomain string `yaml:"user_pool_domain"`
	// ClientSecret is the app client's secret, an Albatross extension: ALB
	// reads it from Cognito, which Albatross cannot.
	ClientSecret                     string            `yaml:"client_secret"`
	Scope                            string            `yaml:"scope"`
	SessionCookieName                string            `yaml:"session_cookie_name"`
	SessionTimeout                   int64             `yaml:"session_timeout"`
	OnUnauthenticatedRequest         string            `yaml:"on_unauthenticated_request"`
	AuthenticationRequestExtraParams map[string]string `yaml:"authentication_request_extra_params"`
}

// JWTValidationConfig is a jwt-validation action's configuration (AWS's
// JwtValidationActionConfig).
type JWTValidationConfig struct {
	JWKSEndpoint     string     `yaml:"jwks_endpoint"`
	Issuer           string     `yaml:"issuer"`
	AdditionalClaims []JWTClaim `yaml:"additional_claims"`
}

// JWTClaim is a claim a jwt-validation action requires, beside iss, exp,
// nbf and iat (AWS's JwtValidationActionAdditionalClaim).
type JWTClaim struct {
	// Format is single-string, string-array or space-separated-values.
	Format string `yaml:"format"`
	// Name may not be exp, iss, nbf or iat.
	Name string `yaml:"name"`
	// Values are the accepted values (1-10): the claim must equal one
	// (single-string), or hold one among its elements (string-array) or
	// space-separated words (space-separated-values).
	Values []string `yaml:"values"`
}

// IsAuthenticate reports whether the action type is one that runs before a
// terminal action (authenticate-oidc, authenticate-cognito, jwt-validation).
func IsAuthenticate(typ string) bool {
	return typ == ActionAuthenticateOIDC || typ == ActionAuthenticateCognito || typ == ActionJWTValidation
}

// IsTerminal reports whether the action type ends a request (forward,
// redirect, fixed-response).
func IsTerminal(typ string) bool {
	return typ == ActionForward || typ == ActionRedirect || typ == ActionFixedResponse
}

// Terminal returns the terminal action of a checked action list: the last.
func Terminal(actions []Action) Action { return actions[len(actions)-1] }

// Authenticate returns the authentication action of a checked action list,
// or nil when it has none.
func Authenticate(actions []Action) *Action {
	if len(actions) > 1 && IsAuthenticate(actions[0].Type) {
		return &actions[0]
	}
	return nil
}

// SortActions orders an action list by Order, as AWS runs them. Actions
// without an order (the file allows leaving it out) keep their place in the
// list: an order of 0 sorts by position among the others.
func SortActions(actions []Action) {
	perm := actionOrder(actions)
	sorted := make([]Action, len(actions))
	for i, j := range perm {
		sorted[i] = actions[j]
	}
	copy(actions, sorted)
}

// actionOrder returns the indexes of actions in execution order.
func actionOrder(actions []Action) []int {
	perm := make([]int, len(actions))
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, func(i, j int) int {
		a, b := actions[i].Order, actions[j].Order
		if a == 0 || b == 0 {
			return 0
		}
		return a - b
	})
	return perm
}

// CheckActionList checks the shape of an action list (a listener's default
// actions or a rule's actions) in the order the actions run (by Order, else
// as listed): exactly one terminal action (forward, redirect or
// fixed-response), which runs last, optionally preceded by one
// authentication action (authenticate-oidc, authenticate-cognito or
// jwt-validation); orders in range and distinct. list is the path of the
// list ("actions", "default_actions"); problems name actions by their place
// in the list as written.
func CheckActionList(actions []Action, list string) []FieldProblem {
	var probs []FieldProblem
	add := func(path, format string, args ...any) {
		probs = append(probs, FieldProblem{path, fmt.Sprintf(format, args...)})
	}
	if len(actions) == 0 {
		add(list, "exactly one forward, redirect or fixed-response action is required, got none")
		return probs
	}
	orders := map[int]int{}
	for i, a := range actions {
		if a.Order < 0 || a.Order > MaxActionOrder {
			add(index(list, i)+".order", "must be an integer from 1 to %d, got %d", MaxActionOrder, a.Order)
		}
		if a.Order > 0 {
			if prev, dup := orders[a.Order]; dup {
				add(index(list, i)+".order", "order %d is already the order of %s[%d]; each action needs its own", a.Order, list, prev)
			}
			orders[a.Order] = i
		}
	}
	perm := actionOrder(actions)
	lastAt := perm[len(perm)-1]
	last := actions[lastAt]
	switch {
	case len(actions) > 2:
		add(list, "at most two actions are allowed (one authenticate-oidc, authenticate-cognito or jwt-validation, then one forward, redirect or fixed-response), got %d", len(actions))
	case IsAuthenticate(last.Type):
		add(index(list, lastAt), "an authentication action (%s) must be followed by a forward, redirect or fixed-response action (the last one by order)", last.Type)
	case len(actions) == 2:
		firstAt := perm[0]
		first := actions[firstAt]
		switch {
		case IsTerminal(first.Type) && IsTerminal(last.Type):
			add(index(list, lastAt), "only one forward, redirect or fixed-response action is allowed, got %s and %s", first.Type, last.Type)
		case IsTerminal(first.Type):
			add(index(list, firstAt), "the %s action must run last (give it the highest order)", first.Type)
		}
	}
	return probs
}

// checkAuthenticateOIDC checks an authenticate-oidc configuration.
func checkAuthenticateOIDC(c *AuthenticateOIDCConfig, add func(path, format string, args ...any)) {
	const p = "authenticate_oidc"
	for _, f := range []struct{ key, v string }{
		{"issuer", c.Issuer},
		{"authorization_endpoint", c.AuthorizationEndpoint},
		{"token_endpoint", c.TokenEndpoint},
		{"user_info_endpoint", c.UserInfoEndpoint},
	} {
		if f.v == "" {
			add(p+"."+f.key, "is required")
		} else if msg := CheckIdPURL(f.v); msg != "" {
			add(p+"."+f.key, "%s", msg)
		}
	}
	if c.ClientID == "" {
		add(p+".client_id", "is required")
	}
	if c.ClientSecret == "" && !c.UseExistingClientSecret {
		add(p+".client_secret", "is required (or use_existing_client_secret: true when modifying an action through the API)")
	}
	checkSessionSettings(p, c.SessionCookieName, c.SessionTimeout, c.OnUnauthenticatedRequest, c.Scope, c.AuthenticationRequestExtraParams, add)
}

// checkAuthenticateCognito checks an authenticate-cognito configuration.
func checkAuthenticateCognito(c *AuthenticateCognitoConfig, add func(path, format string, args ...any)) {
	const p = "authenticate_cognito"
	if c.UserPoolARN == "" {
		add(p+".user_pool_arn", "is required")
	} else if _, _, err := CognitoPool(c.UserPoolARN); err != nil {
		add(p+".user_pool_arn", "%v", err)
	}
	if c.UserPoolClientID == "" {
		add(p+".user_pool_client_id", "is required")
	}
	switch {
	case c.UserPoolDomain == "":
		add(p+".user_pool_domain", "is required")
	case strings.Contains(c.UserPoolDomain, "://"):
		if msg := CheckIdPURL(c.UserPoolDomain); msg != "" {
			add(p+".user_pool_domain", "%s", msg)
		}
	case !isDomainPrefix(c.UserPoolDomain):
		add(p+".user_pool_domain", "must be a domain prefix (lowercase letters, digits and hyphens) or an https URL, got %q", c.UserPoolDomain)
	}
	checkSessionSettings(p, c.SessionCookieName, c.SessionTimeout, c.OnUnauthenticatedRequest, c.Scope, c.AuthenticationRequestExtraParams, add)
}

func isDomainPrefix(s string) bool {
	for _, ch := range s {
		if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return false
		}
	}
	return s != "" && len(s) <= 63
}

// checkSessionSettings checks the settings OIDC and Cognito share.
func checkSessionSettings(p, cookie string, timeout int64, onUnauth, scope string, extra map[string]string, add func(path, format string, args ...any)) {
	if cookie != "" && !isTokenString(cookie) {
		add(p+".session_cookie_name", "must be a cookie name (letters, digits and !#$%%&'*+-.^_`|~), got %q", cookie)
	}
	if timeout < 0 || timeout > MaxSessionTimeout {
		add(p+".session_timeout", "must be an integer from 1 to %d seconds, got %d", MaxSessionTimeout, timeout)
	}
	switch onUnauth {
	case "", UnauthenticatedAuthenticate, UnauthenticatedAllow, UnauthenticatedDeny:
	default:
		add(p+".on_unauthenticated_request", "must be authenticate, allow or deny, got %q", onUnauth)
	}
	if strings.ContainsAny(scope, "\r\n\x00") {
		add(p+".scope", "must not contain control characters")
	}
	if len(extra) > MaxExtraParams {
		add(p+".authentication_request_extra_params", "at most %d parameters are allowed, got %d", MaxExtraParams, len(extra))
	}
	for k := range extra {
		switch k {
		case "", "client_id", "redirect_uri", "response_type", "state", "nonce", "scope":
			add(p+".authentication_request_extra_params", "parameter %q cannot be set: the load balancer sets it", k)
		}
	}
}

// checkJWTValidation checks a jwt-validation configuration.
func checkJWTValidation(c *JWTValidationConfig, add func(path, format string, args ...any)) {
	const p = "jwt_validation"
	for _, f := range []struct{ key, v string }{{"jwks_endpoint", c.JWKSEndpoint}, {"issuer", c.Issuer}} {
		switch {
		case f.v == "":
			add(p+"."+f.key, "is required")
		case len(f.v) > MaxJWTURLLength:
			add(p+"."+f.key, "must be at most %d characters, got %d", MaxJWTURLLength, len(f.v))
		}
	}
	if c.JWKSEndpoint != "" {
		if msg := CheckIdPURL(c.JWKSEndpoint); msg != "" {
			add(p+".jwks_endpoint", "%s", msg)
		}
	}
	if len(c.AdditionalClaims) > MaxAdditionalClaims {
		add(p+".additional_claims", "at most %d claims are allowed, got %d", MaxAdditionalClaims, len(c.AdditionalClaims))
	}
	seen := map[string]bool{}
	for i, cl := range c.AdditionalClaims {
		cp := index(p+".additional_claims", i)
		switch cl.Name {
		case "":
			add(cp+".name", "is required")
		case "exp", "iss", "nbf", "iat":
			add(cp+".name", "%s is always validated and cannot be an additional claim", cl.Name)
		default:
			if seen[cl.Name] {
				add(cp+".name", "claim %q is listed twice", cl.Name)
			}
			seen[cl.Name] = true
		}
		switch cl.Format {
		case ClaimSingleString, ClaimStringArray, ClaimSpaceSeparatedValues:
		case "":
			add(cp+".format", "is required")
		default:
			add(cp+".format", "must be single-string, string-array or space-separated-values, got %q", cl.Format)
		}
		if len(cl.Values) == 0 || len(cl.Values) > MaxClaimValues {
			add(cp+".values", "must hold 1 to %d values, got %d", MaxClaimValues, len(cl.Values))
		}
		for j, v := range cl.Values {
			switch {
			case v == "" || len(v) > MaxClaimValueLength:
				add(index(cp+".values", j), "must be 1 to %d characters, got %d", MaxClaimValueLength, len(v))
			case cl.Format == ClaimSpaceSeparatedValues && strings.Contains(v, " "):
				add(index(cp+".values", j), "a space-separated-values value cannot contain a space, got %q", v)
			}
		}
	}
}

// CheckIdPURL checks the URL of an identity provider's issuer or endpoint:
// https, as AWS requires, or http on 127.0.0.1 or [::1], which only a node
// started with serve --allow-insecure-idp runs (for tests and labs; see
// InsecureIdPURL). It returns "" when the URL is acceptable.
func CheckIdPURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Sprintf("must be an absolute https URL, got %q", v)
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if InsecureIdPURL(v) {
			return ""
		}
	}
	return fmt.Sprintf("must be an https URL, got %q (http is accepted only on 127.0.0.1 or [::1], with serve --allow-insecure-idp)", v)
}

// InsecureIdPURL reports whether v is an http URL on a loopback address, the
// kind CheckIdPURL accepts but a node runs only with --allow-insecure-idp.
func InsecureIdPURL(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "http" {
		return false
	}
	ip, err := netip.ParseAddr(u.Hostname())
	return err == nil && ip.IsLoopback()
}

// InsecureIdPURLs lists the http loopback URLs an action's configuration
// names (see InsecureIdPURL).
func (a Action) InsecureIdPURLs() []string {
	var urls []string
	switch {
	case a.AuthenticateOIDC != nil:
		c := a.AuthenticateOIDC
		urls = []string{c.Issuer, c.AuthorizationEndpoint, c.TokenEndpoint, c.UserInfoEndpoint}
	case a.AuthenticateCognito != nil:
		urls = []string{a.AuthenticateCognito.UserPoolDomain}
	case a.JWTValidation != nil:
		urls = []string{a.JWTValidation.JWKSEndpoint}
	}
	var out []string
	for _, u := range urls {
		if InsecureIdPURL(u) {
			out = append(out, u)
		}
	}
	return out
}

// CognitoPool returns the region and pool id of a Cognito user pool ARN.
func CognitoPool(arn string) (region, pool string, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "cognito-idp" || parts[3] == "" || !strings.HasPrefix(parts[5], "userpool/") || len(parts[5]) == len("userpool/") {
		return "", "", fmt.Errorf("must be a user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID), got %q", arn)
	}
	return parts[3], strings.TrimPrefix(parts[5], "userpool/"), nil
}

// CognitoOIDC returns the OIDC configuration an authenticate-cognito action
// runs as: the user pool's issuer (https://cognito-idp.REGION.amazonaws.com/POOL_ID)
// and its hosted UI's /oauth2/authorize, /oauth2/token and /oauth2/userInfo
// endpoints, on https://PREFIX.auth.REGION.amazoncognito.com or the custom
// domain's URL. c must be checked.
func CognitoOIDC(c *AuthenticateCognitoConfig) AuthenticateOIDCConfig {
	region, pool, _ := CognitoPool(c.UserPoolARN)
	base := c.UserPoolDomain
	if !strings.Contains(base, "://") {
		base = "https://" + base + ".auth." + region + ".amazoncognito.com"
	}
	base = strings.TrimSuffix(base, "/")
	return AuthenticateOIDCConfig{
		Issuer:                           "https://cognito-idp." + region + ".amazonaws.com/" + pool,
		AuthorizationEndpoint:            base + "/oauth2/authorize",
		TokenEndpoint:                    base + "/oauth2/token",
		UserInfoEndpoint:                 base + "/oauth2/userInfo",
		ClientID:                         c.UserPoolClientID,
		ClientSecret:                     c.ClientSecret,
		Scope:                            c.Scope,
		SessionCookieName:                c.SessionCookieName,
		SessionTimeout:                   c.SessionTimeout,
		OnUnauthenticatedRequest:         c.OnUnauthenticatedRequest,
		AuthenticationRequestExtraParams: c.AuthenticationRequestExtraParams,
	}
}

// OIDCDefaults fills an authenticate-oidc configuration's omitted settings
// with AWS's defaults.
func OIDCDefaults(c AuthenticateOIDCConfig) AuthenticateOIDCConfig {
	if c.Scope == "" {
		c.Scope = DefaultScope
	}
	if c.SessionCookieName == "" {
		c.SessionCookieName = DefaultSessionCookieName
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.OnUnauthenticatedRequest == "" {
		c.OnUnauthenticatedRequest = UnauthenticatedAuthenticate
	}
	return c
}
