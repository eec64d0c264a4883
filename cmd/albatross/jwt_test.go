package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/testop"
)

// TestJWTValidationThroughTheAPI configures jwt-validation with the real AWS
// SDK's JwtValidationConfig (CreateListener, CreateRule, ModifyListener,
// DescribeRules) against a real OP's JWKS, and sends its tokens through.
func TestJWTValidationThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	writeCertificate(t, filepath.Join(data, "certificates"), "web", "lb.example.test")

	op := testop.Start(t)
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p, c := apiNode(t, data, admin, "--allow-insecure-idp")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node output:\n%s", p.stderr.String())
		}
	})
	ctx := context.Background()
	target := newHeaderTarget(t)
	host, tport, _ := net.SplitHostPort(target.addr)
	var port int32
	fmt.Sscan(tport, &port)
	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("jwt")})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []types.TargetDescription{{Id: aws.String(host), Port: aws.Int32(port)}}}); err != nil {
		t.Fatal(err)
	}

	jwtAction := func(order int32, issuer string, claims ...types.JwtValidationActionAdditionalClaim) types.Action {
		return types.Action{Type: types.ActionTypeEnumJwtValidation, Order: aws.Int32(order), JwtValidationConfig: &types.JwtValidationActionConfig{
			JwksEndpoint: aws.String(op.Issuer + "/keys"), Issuer: aws.String(issuer), AdditionalClaims: claims}}
	}
	forward := func(order int32) types.Action {
		return types.Action{Type: types.ActionTypeEnumForward, Order: aws.Int32(order), TargetGroupArn: tgARN}
	}
	certs := []types.Certificate{{CertificateArn: aws.String("arn:aws:iam::000000000000:server-certificate/web")}}
	lport := testutil.FreePort(t)

	// Bad action lists and configurations are refused, naming the problem.
	for _, tc := range []struct {
		name    string
		proto   types.ProtocolEnum
		actions []types.Action
		code    string
	}{
		{"no action after it", types.ProtocolEnumHttps, []types.Action{jwtAction(1, op.Issuer)}, "InvalidLoadBalancerAction"},
		{"forward before it", types.ProtocolEnumHttps, []types.Action{forward(1), jwtAction(2, op.Issuer)}, "InvalidLoadBalancerAction"},
		{"HTTP listener", types.ProtocolEnumHttp, []types.Action{jwtAction(1, op.Issuer), forward(2)}, "InvalidLoadBalancerAction"},
		{"no issuer", types.ProtocolEnumHttps, []types.Action{jwtAction(1, ""), forward(2)}, "ValidationError"},
		{"exp as an additional claim", types.ProtocolEnumHttps, []types.Action{jwtAction(1, op.Issuer, types.JwtValidationActionAdditionalClaim{
			Format: types.JwtValidationActionAdditionalClaimFormatEnumSingleString, Name: aws.String("exp"), Values: []string{"1"}}), forward(2)}, "ValidationError"},
	} {
		in := &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(lport)), Protocol: tc.proto, DefaultActions: tc.actions}
		if tc.proto == types.ProtocolEnumHttps {
			in.Certificates = certs
		}
		if _, err := c.CreateListener(ctx, in); apiCode(err) != tc.code {
			t.Errorf("CreateListener, %s: %v, want %s", tc.name, err, tc.code)
		}
	}

	// The default actions validate the OP's tokens; a rule also wants a
	// scope.
	ln, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(lport)), Protocol: types.ProtocolEnumHttps, Certificates: certs,
		DefaultActions: []types.Action{forward(2), jwtAction(1, op.Issuer)}})
	if err != nil {
		t.Fatal(err)
	}
	lnARN := ln.Listeners[0].ListenerArn
	if got := ln.Listeners[0].DefaultActions; len(got) != 2 || got[0].Type != types.ActionTypeEnumJwtValidation || aws.ToInt32(got[0].Order) != 1 ||
		got[0].JwtValidationConfig == nil || aws.ToString(got[0].JwtValidationConfig.Issuer) != op.Issuer || got[1].Type != types.ActionTypeEnumForward {
		t.Errorf("CreateListener echoed default actions %+v", got)
	}
	scope := types.JwtValidationActionAdditionalClaim{Format: types.JwtValidationActionAdditionalClaimFormatEnumSpaceSeparatedValues, Name: aws.String("scope"), Values: []string{"admin"}}
	rule, err := c.CreateRule(ctx, &elb.CreateRuleInput{ListenerArn: lnARN, Priority: aws.Int32(1),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/admin/*"}}}},
		Actions:    []types.Action{jwtAction(1, op.Issuer, scope), forward(2)}})
	if err != nil {
		t.Fatal(err)
	}
	dr, err := c.DescribeRules(ctx, &elb.DescribeRulesInput{RuleArns: []string{aws.ToString(rule.Rules[0].RuleArn)}})
	if err != nil {
		t.Fatal(err)
	}
	if a := dr.Rules[0].Actions; len(a) != 2 || a[0].JwtValidationConfig == nil || aws.ToString(a[0].JwtValidationConfig.JwksEndpoint) != op.Issuer+"/keys" ||
		len(a[0].JwtValidationConfig.AdditionalClaims) != 1 || aws.ToString(a[0].JwtValidationConfig.AdditionalClaims[0].Name) != "scope" ||
		a[0].JwtValidationConfig.AdditionalClaims[0].Format != types.JwtValidationActionAdditionalClaimFormatEnumSpaceSeparatedValues ||
		fmt.Sprint(a[0].JwtValidationConfig.AdditionalClaims[0].Values) != "[admin]" {
		t.Errorf("DescribeRules echoed %+v", a)
	}

	base := fmt.Sprintf("https://127.0.0.1:%d", lport)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get("WWW-Authenticate")
	}
	reader, admins := op.Token("read"), op.Token("read admin")
	eventually(t, "the listener validating tokens", func() bool { st, _ := get("/", reader); return st == 200 })
	if got := target.headers().Get("Authorization"); got != "Bearer "+reader {
		t.Errorf("the target got Authorization %q", got)
	}
	for _, tc := range []struct {
		path, tok string
		status    int
	}{
		{"/", "", 401},
		{"/", "x.y.z", 401},
		{"/admin/x", reader, 401},
		{"/admin/x", admins, 200},
	} {
		if st, www := get(tc.path, tc.tok); st != tc.status || st == 401 && www == "" {
			t.Errorf("GET %s with %.20q: %d (WWW-Authenticate %q), want %d", tc.path, tc.tok, st, www, tc.status)
		}
	}

	// ModifyListener: the default actions now want another issuer.
	if _, err := c.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: lnARN, DefaultActions: []types.Action{jwtAction(1, "https://other.example"), forward(2)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the modified listener refusing the OP's tokens", func() bool { st, _ := get("/", reader); return st == 401 })
	if st, _ := get("/admin/x", admins); st != 200 {
		t.Errorf("the rule after ModifyListener: %d", st)
	}

	// The actions are durable: a restarted node validates as before.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	p, c = apiNode(t, data, admin, "--allow-insecure-idp")
	eventually(t, "the restarted node validating tokens", func() bool { st, _ := get("/admin/x", admins); return st == 200 })
	if st, _ := get("/", reader); st != 401 {
		t.Errorf("after a restart, the modified default actions: %d", st)
	}
	dl, err := c.DescribeListeners(ctx, &elb.DescribeListenersInput{ListenerArns: []string{aws.ToString(lnARN)}})
	if err != nil || len(dl.Listeners) != 1 || aws.ToString(dl.Listeners[0].DefaultActions[0].JwtValidationConfig.Issuer) != "https://other.example" {
		t.Errorf("DescribeListeners after ModifyListener and a restart: %v %+v", err, dl)
	}
}
