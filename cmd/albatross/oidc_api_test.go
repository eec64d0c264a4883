package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// TestAuthenticateOIDCThroughTheAPI drives authenticate-oidc rules with the
// real AWS SDK: an authentication action with no action after it, or
// ordered after it, or on an HTTP listener, is refused with
// InvalidLoadBalancerAction naming the problem; an http identity provider
// on 127.0.0.1 is refused by a node without --allow-insecure-idp; a good
// rule is echoed with ALB's defaults and without the client secret, and
// ModifyRule with UseExistingClientSecret keeps the stored secret.
func TestAuthenticateOIDCThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeCertificate(t, filepath.Join(data, "certificates"), "web", "lb.example.test")
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p, c := apiNode(t, data, admin)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node output:\n%s", p.stderr.String())
		}
	})
	ctx := context.Background()
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("sso")})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	forward := types.Action{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN, Order: aws.Int32(2)}
	port := testutil.FreePort(t)
	l, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(port)), Protocol: types.ProtocolEnumHttps,
		Certificates: []types.Certificate{{CertificateArn: aws.String("arn:aws:iam::000000000000:server-certificate/web")}}, DefaultActions: []types.Action{forward}})
	if err != nil {
		t.Fatal(err)
	}
	lARN := l.Listeners[0].ListenerArn
	oidcAt := func(issuer string, order int32) types.Action {
		return types.Action{Type: types.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(order), AuthenticateOidcConfig: &types.AuthenticateOidcActionConfig{
			Issuer: aws.String(issuer), AuthorizationEndpoint: aws.String(issuer + "/auth"), TokenEndpoint: aws.String(issuer + "/token"),
			UserInfoEndpoint: aws.String(issuer + "/userinfo"), ClientId: aws.String("client-1"), ClientSecret: aws.String("secret-1"),
			AuthenticationRequestExtraParams: map[string]string{"prompt": "login", "display": "page"},
		}}
	}
	const idp = "https://idp.example.test"
	path := func(p string) []types.RuleCondition {
		return []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{p}}}}
	}
	for _, tc := range []struct {
		name    string
		actions []types.Action
		msg     string
	}{
		{"alone", []types.Action{oidcAt(idp, 1)}, "must be followed by a forward, redirect or fixed-response action"},
		{"ordered last", []types.Action{oidcAt(idp, 3), forward}, "must be followed by a forward, redirect or fixed-response action"},
		{"two authentications", []types.Action{oidcAt(idp, 1), oidcAt(idp, 2), forward}, "at most two actions"},
		{"http issuer", []types.Action{oidcAt("http://idp.example.test", 1), forward}, `must be an https URL, got "http://idp.example.test"`},
		{"http on loopback without the flag", []types.Action{oidcAt("http://127.0.0.1:9", 1), forward}, "--allow-insecure-idp"},
	} {
		_, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: lARN, Priority: aws.Int32(10), Conditions: path("/x"), Actions: tc.actions})
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("CreateRule %s: %v; want an error saying %q", tc.name, err, tc.msg)
		} else {
			t.Logf("CreateRule %s: %s: %v", tc.name, apiCode(err), err)
		}
	}
	if _, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: lARN, Priority: aws.Int32(10), Conditions: path("/x"), Actions: []types.Action{oidcAt(idp, 1)}}); apiCode(err) != "InvalidLoadBalancerAction" {
		t.Errorf("an authenticate-oidc action alone: %v, want InvalidLoadBalancerAction", err)
	}

	// A good rule, echoed as AWS does.
	r, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: lARN, Priority: aws.Int32(10), Conditions: path("/app/*"), Actions: []types.Action{forward, oidcAt(idp, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	ruleARN := r.Rules[0].RuleArn
	dr, err := c.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(ruleARN)}})
	if err != nil {
		t.Fatal(err)
	}
	acts := dr.Rules[0].Actions
	if len(acts) != 2 || acts[0].Type != types.ActionTypeEnumAuthenticateOidc || aws.ToInt32(acts[0].Order) != 1 || acts[1].Type != types.ActionTypeEnumForward || aws.ToInt32(acts[1].Order) != 2 {
		t.Fatalf("DescribeRules actions %+v", acts)
	}
	oc := acts[0].AuthenticateOidcConfig
	if oc == nil || aws.ToString(oc.Issuer) != idp || aws.ToString(oc.ClientId) != "client-1" || oc.ClientSecret != nil ||
		aws.ToString(oc.SessionCookieName) != "AWSELBAuthSessionCookie" || aws.ToString(oc.Scope) != "openid" || aws.ToInt64(oc.SessionTimeout) != 604800 ||
		oc.OnUnauthenticatedRequest != types.AuthenticateOidcActionConditionalBehaviorEnumAuthenticate ||
		!maps.Equal(oc.AuthenticationRequestExtraParams, map[string]string{"prompt": "login", "display": "page"}) {
		t.Fatalf("DescribeRules AuthenticateOidcConfig %+v", oc)
	}

	// ModifyRule without the secret: refused unless UseExistingClientSecret.
	mod := oidcAt(idp, 1)
	mod.AuthenticateOidcConfig.ClientSecret = nil
	mod.AuthenticateOidcConfig.OnUnauthenticatedRequest = types.AuthenticateOidcActionConditionalBehaviorEnumDeny
	if _, err := c.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: ruleARN, Actions: []types.Action{mod, forward}}); err == nil || !strings.Contains(err.Error(), "client_secret") {
		t.Errorf("ModifyRule without a client secret: %v", err)
	}
	mod.AuthenticateOidcConfig.UseExistingClientSecret = aws.Bool(true)
	if _, err := c.ModifyRule(ctx, &elb.ModifyRuleInput{RuleArn: ruleARN, Actions: []types.Action{mod, forward}}); err != nil {
		t.Fatalf("ModifyRule with UseExistingClientSecret: %v", err)
	}
	dr, err = c.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(ruleARN)}})
	if err != nil || dr.Rules[0].Actions[0].AuthenticateOidcConfig.OnUnauthenticatedRequest != types.AuthenticateOidcActionConditionalBehaviorEnumDeny {
		t.Fatalf("DescribeRules after ModifyRule: %v %+v", err, dr)
	}
	// The node runs the modified rule: deny answers 401 without a session.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	eventually(t, "the deny rule answering 401", func() bool {
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/app/x", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 401
	})

	// An HTTP listener takes no authentication action.
	hl, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(testutil.FreePort(t))), Protocol: types.ProtocolEnumHttp,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: hl.Listeners[0].ListenerArn, Priority: aws.Int32(10), Conditions: path("/x"),
		Actions: []types.Action{oidcAt(idp, 1), {Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN, Order: aws.Int32(2)}}}); apiCode(err) != "InvalidLoadBalancerAction" || !strings.Contains(fmt.Sprint(err), "needs an HTTPS listener") {
		t.Errorf("authenticate-oidc on an HTTP listener: %v", err)
	}
}
