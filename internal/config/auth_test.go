package config

import (
	"strings"
	"testing"
)

const authHead = `load_balancers:
  - name: web
    listeners:
      - port: 443
        protocol: HTTPS
        certificates: [{cert: a.pem, key: a.key}]
        rules:
          - priority: 1
            conditions: [{path_pattern: [/api/*]}]
            actions:
`

const authTail = `target_groups: [{name: app, port: 80}]
`

func TestParseAuthenticateActions(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(authHead+`              - {type: forward, target_group: app, order: 2}
              - type: jwt-validation
                order: 1
                jwt_validation:
                  jwks_endpoint: https://idp.example.com/keys
                  issuer: https://idp.example.com
                  additional_claims:
                    - {format: space-separated-values, name: scope, values: [read, write]}
        default_actions:
          - type: authenticate-oidc
            authenticate_oidc:
              issuer: https://idp.example.com
              authorization_endpoint: https://idp.example.com/auth
              token_endpoint: https://idp.example.com/token
              user_info_endpoint: https://idp.example.com/userinfo
              client_id: albatross
              client_secret: s3cret
              authentication_request_extra_params: {prompt: login}
          - type: fixed-response
            fixed_response: {status_code: "200"}
      - port: 8443
        protocol: HTTPS
        certificates: [{cert: a.pem, key: a.key}]
        default_actions:
          - type: authenticate-cognito
            order: 10
            authenticate_cognito:
              user_pool_arn: arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC
              user_pool_client_id: abc
              user_pool_domain: my-app
              on_unauthenticated_request: deny
          - {type: forward, target_group: app, order: 20}
`+authTail))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.LoadBalancers[0].Listeners[0]
	r := l.Rules[0]
	if r.Actions[0].Type != ActionJWTValidation || Terminal(r.Actions).Type != ActionForward || Authenticate(r.Actions) != &r.Actions[0] {
		t.Fatalf("rule actions not sorted by order: %+v", r.Actions)
	}
	if c := r.Actions[0].JWTValidation; c.AdditionalClaims[0].Values[1] != "write" || c.Issuer != "https://idp.example.com" {
		t.Errorf("jwt-validation %+v", c)
	}
	o := l.DefaultActions[0].AuthenticateOIDC
	if o == nil || o.ClientSecret != "s3cret" || o.AuthenticationRequestExtraParams["prompt"] != "login" {
		t.Fatalf("authenticate-oidc %+v", o)
	}
	if d := OIDCDefaults(*o); d.Scope != "openid" || d.SessionCookieName != "AWSELBAuthSessionCookie" || d.SessionTimeout != 604800 || d.OnUnauthenticatedRequest != "authenticate" {
		t.Errorf("OIDC defaults %+v", d)
	}
	c := cfg.LoadBalancers[0].Listeners[1].DefaultActions[0].AuthenticateCognito
	oc := CognitoOIDC(c)
	if oc.Issuer != "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC" || oc.AuthorizationEndpoint != "https://my-app.auth.eu-west-1.amazoncognito.com/oauth2/authorize" ||
		oc.UserInfoEndpoint != "https://my-app.auth.eu-west-1.amazoncognito.com/oauth2/userInfo" || oc.OnUnauthenticatedRequest != "deny" {
		t.Errorf("cognito as OIDC %+v", oc)
	}
}

func TestAuthenticateActionErrors(t *testing.T) {
	const oidc = `              - type: authenticate-oidc
                order: 1
                authenticate_oidc:
                  issuer: %s
                  authorization_endpoint: https://idp.example.com/auth
                  token_endpoint: https://idp.example.com/token
                  user_info_endpoint: https://idp.example.com/userinfo
                  client_id: albatross
                  client_secret: s
`
	const rp = "load_balancers[0].listeners[0].rules[0].actions"
	for _, c := range []struct {
		name, actions string
		want          []string
	}{
		{"no following action", strings.ReplaceAll(oidc, "%s", "https://idp.example.com"),
			[]string{rp + `[0]: an authentication action (authenticate-oidc) must be followed by a forward, redirect or fixed-response action (the last one by order)`}},
		{"authenticate ordered last", strings.ReplaceAll(oidc, "%s", "https://idp.example.com") + "              - {type: forward, target_group: app, order: 0x0}\n",
			[]string{rp + `[1].order: must be an integer from 1 to 50000, got 0`}},
		{"forward before authenticate", "              - {type: forward, target_group: app, order: 1}\n" + strings.ReplaceAll(strings.ReplaceAll(oidc, "%s", "https://idp.example.com"), "order: 1", "order: 5"),
			[]string{rp + `[1]: an authentication action (authenticate-oidc) must be followed by a forward, redirect or fixed-response action (the last one by order)`}},
		{"plain http issuer", strings.ReplaceAll(oidc, "%s", "http://idp.example.com") + "              - {type: forward, target_group: app, order: 2}\n",
			[]string{rp + `[0].authenticate_oidc.issuer: must be an https URL, got "http://idp.example.com" (http is accepted only on 127.0.0.1 or [::1], with serve --allow-insecure-idp)`}},
		{"duplicate order", strings.ReplaceAll(oidc, "%s", "https://idp.example.com") + "              - {type: forward, target_group: app, order: 1}\n",
			[]string{rp + `[1].order: order 1 is already the order of actions[0]; each action needs its own`}},
		{"two authentications", strings.ReplaceAll(oidc, "%s", "https://idp.example.com") + "              - {type: jwt-validation, order: 2, jwt_validation: {jwks_endpoint: https://x/k, issuer: x}}\n              - {type: forward, target_group: app, order: 3}\n",
			[]string{rp + `: at most two actions are allowed (one authenticate-oidc, authenticate-cognito or jwt-validation, then one forward, redirect or fixed-response), got 3`}},
		{"reserved claim", "              - {type: jwt-validation, order: 1, jwt_validation: {jwks_endpoint: https://x/k, issuer: x, additional_claims: [{format: single-string, name: exp, values: [1]}]}}\n              - {type: forward, target_group: app, order: 2}\n",
			[]string{rp + `[0].jwt_validation.additional_claims[0].name: exp is always validated and cannot be an additional claim`}},
		{"bad on_unauthenticated_request", strings.ReplaceAll(oidc, "%s", "https://idp.example.com") + "                  on_unauthenticated_request: redirect\n              - {type: forward, target_group: app, order: 2}\n",
			[]string{rp + `[0].authenticate_oidc.on_unauthenticated_request: must be authenticate, allow or deny, got "redirect"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(authHead+c.actions+"        default_actions: [{type: forward, target_group: app}]\n"+authTail))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks\n%s", err, w)
				}
			}
		})
	}
	// Loopback http passes the file's checks; the node refuses it unless
	// started with --allow-insecure-idp.
	cfg, err := Parse("t.yaml", []byte(authHead+strings.ReplaceAll(oidc, "%s", "http://127.0.0.1:5556")+"              - {type: forward, target_group: app, order: 2}\n"+"        default_actions: [{type: forward, target_group: app}]\n"+authTail))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.LoadBalancers[0].Listeners[0].Rules[0].Actions[0].InsecureIdPURLs(); len(got) != 1 || got[0] != "http://127.0.0.1:5556" {
		t.Errorf("InsecureIdPURLs %v", got)
	}
}
