package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/testca"
)

// TestAuthenticationWithAWSCLI drives the authentication actions and mutual
// TLS with the real AWS CLI: an authenticate-oidc rule made with the CLI's
// JSON (echoed with ALB's defaults and no client secret) sends a browser to
// the provider with ALB's parameters; the CLI's modify-rule with
// UseExistingClientSecret turns it to deny (401); an action alone is the
// CLI's InvalidLoadBalancerAction. Where the CLI's model has them, a
// jwt-validation rule answers 401 with a Bearer challenge, and a trust
// store made with create-trust-store serves a verify listener that lets a
// client certificate of its CA in and keeps a stranger's out.
func TestAuthenticationWithAWSCLI(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race; go test without -race runs it")
	}
	t.Parallel()
	c, _, dir := cliNode(t)
	certDir := filepath.Join(dir, "data", "certificates")
	pki := filepath.Join(certDir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		t.Fatal(err)
	}
	writeCertificate(t, certDir, "web", "127.0.0.1")
	const certARN = "arn:aws:iam::000000000000:server-certificate/web"

	var lbs struct {
		LoadBalancers []struct{ LoadBalancerArn string }
	}
	c.ok(&lbs, "create-load-balancer", "--name", "sso", "--subnets", "subnet-aaaa1111", "subnet-bbbb2222")
	lbARN := lbs.LoadBalancers[0].LoadBalancerArn
	port := testutil.FreePort(t)
	var ls struct {
		Listeners []struct{ ListenerArn string }
	}
	c.ok(&ls, "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTPS", "--port", fmt.Sprint(port),
		"--certificates", "CertificateArn="+certARN,
		"--default-actions", `Type=fixed-response,FixedResponseConfig={StatusCode=200,MessageBody=open}`)
	lARN := ls.Listeners[0].ListenerArn

	const idp = "https://idp.example.test"
	oidc := func(extra string) string {
		return `{"Type":"authenticate-oidc","Order":1,"AuthenticateOidcConfig":{"Issuer":"` + idp + `","AuthorizationEndpoint":"` + idp + `/auth",` +
			`"TokenEndpoint":"` + idp + `/token","UserInfoEndpoint":"` + idp + `/userinfo","ClientId":"client-1",` +
			`"AuthenticationRequestExtraParams":{"prompt":"login"}` + extra + `}}`
	}
	secret := oidc(`,"ClientSecret":"s3cret"`)
	answer := `{"Type":"fixed-response","Order":2,"FixedResponseConfig":{"StatusCode":"200","MessageBody":"inside"}}`
	appOnly := `[{"Field":"path-pattern","PathPatternConfig":{"Values":["/app/*"]}}]`

	c.fails("InvalidLoadBalancerAction", "create-rule", "--listener-arn", lARN, "--priority", "10", "--conditions", appOnly, "--actions", "["+secret+"]")
	var rules struct {
		Rules []struct {
			RuleArn string
			Actions []struct {
				Type                   string
				Order                  int
				AuthenticateOidcConfig *struct {
					ClientId, SessionCookieName, Scope, OnUnauthenticatedRequest string
					ClientSecret                                                 *string
					SessionTimeout                                               int64
					AuthenticationRequestExtraParams                             map[string]string
				}
			}
		}
	}
	c.ok(&rules, "create-rule", "--listener-arn", lARN, "--priority", "10", "--conditions", appOnly, "--actions", "["+answer+","+secret+"]")
	rule := rules.Rules[0]
	if len(rule.Actions) != 2 || rule.Actions[0].Type != "authenticate-oidc" || rule.Actions[0].Order != 1 || rule.Actions[1].Type != "fixed-response" {
		t.Fatalf("create-rule actions: %+v", rule.Actions)
	}
	if oc := rule.Actions[0].AuthenticateOidcConfig; oc == nil || oc.ClientId != "client-1" || oc.ClientSecret != nil || oc.SessionCookieName != "AWSELBAuthSessionCookie" ||
		oc.Scope != "openid" || oc.SessionTimeout != 604800 || oc.OnUnauthenticatedRequest != "authenticate" || oc.AuthenticationRequestExtraParams["prompt"] != "login" {
		t.Errorf("create-rule AuthenticateOidcConfig: %+v", oc)
	}

	// A browser without a session goes to the provider with ALB's query.
	// The redirect is read, not followed: the provider is not contacted.
	hc := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	status := func(path string, header ...string) (*http.Response, error) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	var login *url.URL
	eventually(t, "the CLI-made rule redirecting to the provider", func() bool {
		resp, err := status("/app/page")
		if err != nil || resp.StatusCode != 302 {
			return false
		}
		login, err = url.Parse(resp.Header.Get("Location"))
		return err == nil
	})
	q := login.Query()
	if login.Scheme+"://"+login.Host+login.Path != idp+"/auth" || q.Get("client_id") != "client-1" || q.Get("response_type") != "code" || q.Get("scope") != "openid" ||
		q.Get("redirect_uri") != base+"/oauth2/idpresponse" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("prompt") != "login" {
		t.Errorf("the redirect to the provider: %s", login)
	}

	// modify-rule without the secret needs UseExistingClientSecret.
	deny := oidc(`,"OnUnauthenticatedRequest":"deny"`)
	c.fails("ValidationError", "modify-rule", "--rule-arn", rule.RuleArn, "--actions", "["+deny+","+answer+"]")
	c.ok(nil, "modify-rule", "--rule-arn", rule.RuleArn, "--actions", "["+oidc(`,"OnUnauthenticatedRequest":"deny","UseExistingClientSecret":true`)+","+answer+"]")
	eventually(t, "the modified rule answering 401", func() bool {
		resp, err := status("/app/page")
		return err == nil && resp.StatusCode == 401
	})
	if resp, err := status("/elsewhere"); err != nil || resp.StatusCode != 200 {
		t.Errorf("a path outside the rule: %v %v, want 200", resp, err)
	}

	if out, _ := c.run("create-rule", "help"); strings.Contains(out, "JwtValidationConfig") {
		jwt := `{"Type":"jwt-validation","Order":1,"JwtValidationConfig":{"JwksEndpoint":"https://idp.example.test/keys","Issuer":"https://idp.example.test",` +
			`"AdditionalClaims":[{"Format":"space-separated-values","Name":"scope","Values":["read"]}]}}`
		var jr struct {
			Rules []struct {
				Actions []struct {
					Type                string
					JwtValidationConfig *struct{ JwksEndpoint, Issuer string }
				}
			}
		}
		c.ok(&jr, "create-rule", "--listener-arn", lARN, "--priority", "20", "--conditions", `[{"Field":"path-pattern","PathPatternConfig":{"Values":["/api/*"]}}]`,
			"--actions", "["+jwt+","+answer+"]")
		if a := jr.Rules[0].Actions; len(a) != 2 || a[0].Type != "jwt-validation" || a[0].JwtValidationConfig == nil || a[0].JwtValidationConfig.Issuer != "https://idp.example.test" {
			t.Errorf("create-rule jwt-validation actions: %+v", a)
		}
		// Without a bearer token no key is needed: the challenge comes at once.
		eventually(t, "the jwt-validation rule answering 401", func() bool {
			resp, err := status("/api/x")
			return err == nil && resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "Bearer"
		})
		if resp, err := status("/api/x", "Authorization", "Bearer not.a.token"); err != nil || resp.StatusCode != 401 ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer error="invalid_token"`) {
			t.Errorf("a malformed bearer token: %v %v", resp, err)
		}
	} else {
		t.Log("this AWS CLI predates jwt-validation (2025): that part is not run")
	}

	if out, _ := c.run("help"); !strings.Contains(out, "create-trust-store") {
		t.Log("this AWS CLI predates trust stores (2023): the mutual TLS part is not run")
		return
	}
	root := testca.NewRoot(t, "CLI Client Root")
	good := root.Client(t, "good.client", testca.ClientOptions{})
	stranger := testca.NewRoot(t, "Stranger Root").Client(t, "stranger", testca.ClientOptions{})
	if err := os.WriteFile(filepath.Join(pki, "bundle.pem"), root.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c.fails("CaCertificatesBundleNotFound", "create-trust-store", "--name", "nope", "--ca-certificates-bundle-s3-bucket", "pki", "--ca-certificates-bundle-s3-key", "missing.pem")
	var ts struct {
		TrustStores []struct {
			TrustStoreArn, Status  string
			NumberOfCaCertificates int
		}
	}
	c.ok(&ts, "create-trust-store", "--name", "clients", "--ca-certificates-bundle-s3-bucket", "pki", "--ca-certificates-bundle-s3-key", "bundle.pem")
	if len(ts.TrustStores) != 1 || ts.TrustStores[0].Status != "ACTIVE" || ts.TrustStores[0].NumberOfCaCertificates != 1 {
		t.Fatalf("create-trust-store: %+v", ts)
	}
	mport := testutil.FreePort(t)
	c.ok(nil, "create-listener", "--load-balancer-arn", lbARN, "--protocol", "HTTPS", "--port", fmt.Sprint(mport),
		"--certificates", "CertificateArn="+certARN,
		"--mutual-authentication", "Mode=verify,TrustStoreArn="+ts.TrustStores[0].TrustStoreArn,
		"--default-actions", `Type=fixed-response,FixedResponseConfig={StatusCode=200,MessageBody=verified}`)
	get := func(cert *testca.Client) (string, error) {
		cfg := &tls.Config{InsecureSkipVerify: true}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{cert.TLS()}
		}
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
		resp, err := cl.Get(fmt.Sprintf("https://127.0.0.1:%d/", mport))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return b.String(), nil
	}
	eventually(t, "the verify listener letting the good client in", func() bool {
		body, err := get(good)
		return err == nil && body == "verified"
	})
	for name, cl := range map[string]*testca.Client{"a stranger's certificate": stranger, "no certificate": nil} {
		if body, err := get(cl); err == nil {
			t.Errorf("%s: let in (%q), want the handshake refused", name, body)
		}
	}
	var dts struct{ TrustStores []struct{ Name string } }
	c.ok(&dts, "describe-trust-stores", "--names", "clients")
	if len(dts.TrustStores) != 1 || dts.TrustStores[0].Name != "clients" {
		t.Errorf("describe-trust-stores: %+v", dts)
	}
}
