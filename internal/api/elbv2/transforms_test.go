package elbv2_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// startEchoTarget answers with the request target and Host it received.
func startEchoTarget(t *testing.T) target {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.RequestURI, r.Host)
	}))
	t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return target{name: "echo", ip: ap.Addr().String(), port: int32(ap.Port())}
}

// TestRegexConditionsAndTransformsWithSDK: RegexValues conditions and
// Transforms made through the SDK route and rewrite real requests, come back
// from DescribeRules as sent, change with ModifyRule (and ResetTransforms),
// and bad ones are refused with ValidationError naming the field.
func TestRegexConditionsAndTransformsWithSDK(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	port := e.ports[0]
	echo := startEchoTarget(t)
	lbARN, tg := createLBAndTG(t, e, "web", "tg-echo")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg),
		Targets: []types.TargetDescription{{Id: aws.String(echo.ip), Port: aws.Int32(echo.port)}}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse,
			FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("404"), MessageBody: aws.String("default")}}}})
	if err != nil {
		t.Fatal(err)
	}
	lARN := *l.Listeners[0].ListenerArn
	send := func(host, path string, header ...string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		req.Host = host
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err != nil {
			t.Fatalf("GET %s%s: %v", host, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strconv.Itoa(resp.StatusCode) + " " + string(b)
	}
	urlRewrite := func(regex, replace string) types.RuleTransform {
		return types.RuleTransform{Type: types.TransformTypeEnumUrlRewrite, UrlRewriteConfig: &types.UrlRewriteConfig{
			Rewrites: []types.RewriteConfig{{Regex: aws.String(regex), Replace: aws.String(replace)}}}}
	}
	hostRewrite := types.RuleTransform{Type: types.TransformTypeEnumHostHeaderRewrite, HostHeaderRewriteConfig: &types.HostHeaderRewriteConfig{
		Rewrites: []types.RewriteConfig{{Regex: aws.String(`^mywebsite-(.+)\.com$`), Replace: aws.String("internal.dev.$1.myweb.com")}}}}

	r1, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(1),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{
			RegexValues: []string{`^/api/v[0-9]+/`}}}},
		Actions:    forward(tg),
		Transforms: []types.RuleTransform{urlRewrite(`^/api/(v[0-9]+)/(.*)$`, "/$2?version=$1"), hostRewrite}})
	if err != nil {
		t.Fatalf("CreateRule with RegexValues and Transforms: %v", err)
	}
	rule := r1.Rules[0]
	if pc := rule.Conditions[0].PathPatternConfig; pc == nil || len(pc.RegexValues) != 1 || pc.RegexValues[0] != `^/api/v[0-9]+/` {
		t.Errorf("CreateRule result conditions: %+v", rule.Conditions[0])
	}
	if len(rule.Transforms) != 2 || rule.Transforms[0].Type != types.TransformTypeEnumUrlRewrite ||
		*rule.Transforms[0].UrlRewriteConfig.Rewrites[0].Replace != "/$2?version=$1" ||
		*rule.Transforms[1].HostHeaderRewriteConfig.Rewrites[0].Regex != `^mywebsite-(.+)\.com$` {
		t.Errorf("CreateRule result transforms: %+v", rule.Transforms)
	}
	if _, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(2),
		Conditions: []types.RuleCondition{
			{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{RegexValues: []string{`^shop\.example\.com(:[0-9]+)?$`}}},
			{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{HttpHeaderName: aws.String("User-Agent"), RegexValues: []string{`(?i)android`}}},
		},
		Actions: forward(tg)}); err != nil {
		t.Fatalf("CreateRule with host and header RegexValues: %v", err)
	}

	for _, tc := range []struct{ host, path, ua, want string }{
		{"mywebsite-example.com", "/api/v2/users/7", "", fmt.Sprintf("200 /users/7?version=v2 internal.dev.example.myweb.com:%d", port)},
		{"other.example.com", "/api/v2/users/7", "", fmt.Sprintf("200 /users/7?version=v2 other.example.com:%d", port)},
		{"mywebsite-example.com", "/api/x", "", "404 default"},
		{"shop.example.com", "/a", "Mozilla/5.0 (Linux; Android 14)", fmt.Sprintf("200 /a shop.example.com:%d", port)},
		{"shop.example.com", "/a", "curl/8", "404 default"},
	} {
		if got := send(tc.host, tc.path, "User-Agent", tc.ua); got != tc.want {
			t.Errorf("%s%s (User-Agent %q): %q, want %q", tc.host, tc.path, tc.ua, got, tc.want)
		}
	}

	// ModifyRule replaces the transforms; ResetTransforms removes them.
	if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: rule.RuleArn,
		Transforms: []types.RuleTransform{urlRewrite(`^/api/v[0-9]+/`, "/new/")}}); err != nil {
		t.Fatalf("ModifyRule Transforms: %v", err)
	}
	if got, want := send("mywebsite-example.com", "/api/v3/x", ""), fmt.Sprintf("200 /new/x mywebsite-example.com:%d", port); got != want {
		t.Errorf("after ModifyRule: %q, want %q", got, want)
	}
	if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: rule.RuleArn, ResetTransforms: aws.Bool(true)}); err != nil {
		t.Fatalf("ModifyRule ResetTransforms: %v", err)
	}
	if got, want := send("mywebsite-example.com", "/api/v3/x", ""), fmt.Sprintf("200 /api/v3/x mywebsite-example.com:%d", port); got != want {
		t.Errorf("after ResetTransforms: %q, want %q", got, want)
	}
	desc, err := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{RuleArns: []string{*rule.RuleArn}})
	if err != nil || len(desc.Rules[0].Transforms) != 0 {
		t.Errorf("DescribeRules after ResetTransforms: %v %+v", err, desc)
	}

	// Bad input changes nothing and names the field.
	for _, bad := range []struct {
		name  string
		conds []types.RuleCondition
		tf    []types.RuleTransform
		msg   string
	}{
		{"invalid regex", []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{RegexValues: []string{"^/(a"}}}},
			nil, "conditions[0].path_pattern.regex_values[0]: is not a valid RE2 regular expression"},
		{"look-ahead", []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{RegexValues: []string{"^(?!www)"}}}},
			nil, "conditions[0].host_header.regex_values[0]: is not a valid RE2 regular expression"},
		{"regex too long", []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{RegexValues: []string{strings.Repeat("a", 129)}}}},
			nil, "must be at most 128 characters, got 129"},
		{"rewrite to an invalid URL", pathRule("/x"), []types.RuleTransform{urlRewrite("^/x$", "/a b")},
			"transforms[0].url_rewrite.rewrites[0].replace: may contain only printable ASCII without spaces"},
		{"missing capture", pathRule("/x"), []types.RuleTransform{urlRewrite("^/(x)$", "/$3")},
			"transforms[0].url_rewrite.rewrites[0].replace: refers to $3, but regex has 1 capture group(s)"},
		{"two url rewrites", pathRule("/x"), []types.RuleTransform{urlRewrite("^/x$", "/a"), urlRewrite("^/y$", "/b")},
			"transforms[1]: a rule may have only one url-rewrite transform"},
	} {
		_, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(50), Conditions: bad.conds, Actions: forward(tg), Transforms: bad.tf})
		wantCode(t, bad.name, err, "ValidationError")
		if !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s: %v, want it to say %q", bad.name, err, bad.msg)
		}
	}
	_, err = c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: rule.RuleArn, Transforms: []types.RuleTransform{urlRewrite("^/x$", "/a")}, ResetTransforms: aws.Bool(true)})
	wantCode(t, "Transforms with ResetTransforms", err, "ValidationError")
	if got := priorities(t, c, lARN); got != "1 2 default " {
		t.Errorf("rules after rejected calls: %s", got)
	}
}
