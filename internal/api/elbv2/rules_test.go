package elbv2_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

func pathRule(pattern string) []types.RuleCondition {
	return []types.RuleCondition{{Field: aws.String("path-pattern"), Values: []string{pattern}}}
}

func priorities(t *testing.T, c *elb.Client, lARN string) string {
	t.Helper()
	out, err := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{ListenerArn: aws.String(lARN)})
	if err != nil {
		t.Fatal(err)
	}
	s := ""
	for _, r := range out.Rules {
		s += *r.Priority + " "
	}
	return s
}

// TestRulesWithSDK: rules made through the API route real requests, and every
// rule call's errors are AWS's.
func TestRulesWithSDK(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	port := e.ports[0]
	a, b := startTarget(t, "A"), startTarget(t, "B")
	lbARN, tgA := createLBAndTG(t, e, "web", "tg-a")
	outB, err := c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("tg-b"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1")})
	if err != nil {
		t.Fatal(err)
	}
	tgB := *outB.TargetGroups[0].TargetGroupArn
	for tg, tgt := range map[string]target{tgA: a, tgB: b} {
		if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg),
			Targets: []types.TargetDescription{{Id: aws.String(tgt.ip), Port: aws.Int32(tgt.port)}}}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(tgA)})
	if err != nil {
		t.Fatal(err)
	}
	lARN := *l.Listeners[0].ListenerArn

	r1, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(10),
		Conditions: pathRule("/api/*"), Actions: forward(tgB)})
	if err != nil {
		t.Fatalf("CreateRule: %v", err)
	}
	rule := r1.Rules[0]
	if !ruleARNRE.MatchString(*rule.RuleArn) || *rule.Priority != "10" || *rule.IsDefault ||
		*rule.Conditions[0].Field != "path-pattern" || rule.Conditions[0].PathPatternConfig == nil || rule.Conditions[0].PathPatternConfig.Values[0] != "/api/*" {
		t.Errorf("CreateRule result %+v", rule)
	}
	r1ARN := *rule.RuleArn
	r2, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(20),
		Conditions: []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"/static/*", "/img/*"}}}},
		Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("404"), ContentType: aws.String("text/plain"), MessageBody: aws.String("nope")}}}})
	if err != nil {
		t.Fatalf("CreateRule fixed-response: %v", err)
	}
	r2ARN := *r2.Rules[0].RuleArn

	if _, body := get(t, port, "/api/x"); body != "B" {
		t.Errorf("/api/x went to %q, want B (rule 10)", body)
	}
	if _, body := get(t, port, "/other"); body != "A" {
		t.Errorf("/other went to %q, want A (default rule)", body)
	}
	if code, body := get(t, port, "/static/a"); code != 404 || body != "nope" {
		t.Errorf("/static/a: %d %q, want the fixed 404", code, body)
	}

	// Bad requests create nothing.
	_, err = c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(10), Conditions: pathRule("/x"), Actions: forward(tgB)})
	wantAPIError[*types.PriorityInUseException](t, "CreateRule on a used priority", err)
	_, err = c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(30), Actions: forward(tgB),
		Conditions: []types.RuleCondition{
			{Field: aws.String("path-pattern"), Values: []string{"/ok/*"}},
			{Field: aws.String("host-header"), Values: []string{"bad host!"}},
		}})
	wantCode(t, "CreateRule with one bad condition", err, "ValidationError")
	_, err = c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(30), Conditions: pathRule("/x"),
		Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("200"), ContentType: aws.String("image/png")}}}})
	wantAPIError[*types.InvalidLoadBalancerActionException](t, "CreateRule bad fixed-response content type", err)
	_, err = c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(30), Conditions: pathRule("/x"),
		Actions: forward("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/nope/0123456789abcdef")})
	wantAPIError[*types.TargetGroupNotFoundException](t, "CreateRule to a missing group", err)
	if got := priorities(t, c, lARN); got != "10 20 default " {
		t.Fatalf("rules after rejected creates: %s", got)
	}

	// SetRulePriorities swaps two rules in one call; a clash with an unmoved
	// rule is refused whole.
	if _, err := c.SetRulePriorities(ctx(t), &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{
		{RuleArn: aws.String(r1ARN), Priority: aws.Int32(20)}, {RuleArn: aws.String(r2ARN), Priority: aws.Int32(10)}}}); err != nil {
		t.Fatalf("SetRulePriorities swap: %v", err)
	}
	if got := priorities(t, c, lARN); got != "10 20 default " {
		t.Errorf("after swap: %s", got)
	}
	_, err = c.SetRulePriorities(ctx(t), &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{{RuleArn: aws.String(r1ARN), Priority: aws.Int32(10)}}})
	wantAPIError[*types.PriorityInUseException](t, "SetRulePriorities onto an unmoved rule", err)
	rules, _ := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{RuleArns: []string{r1ARN}})
	if *rules.Rules[0].Priority != "20" {
		t.Errorf("rule moved by a rejected SetRulePriorities: %s", *rules.Rules[0].Priority)
	}
	defaultARN := ""
	all, _ := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{ListenerArn: aws.String(lARN)})
	for _, r := range all.Rules {
		if *r.IsDefault {
			defaultARN = *r.RuleArn
		}
	}
	_, err = c.SetRulePriorities(ctx(t), &elb.SetRulePrioritiesInput{RulePriorities: []types.RulePriorityPair{{RuleArn: aws.String(defaultARN), Priority: aws.Int32(5)}}})
	wantAPIError[*types.OperationNotPermittedException](t, "SetRulePriorities on the default rule", err)

	// ModifyRule: new actions take effect; the default rule's conditions
	// cannot change, its actions can.
	if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: aws.String(r1ARN), Actions: forward(tgA)}); err != nil {
		t.Fatalf("ModifyRule: %v", err)
	}
	if _, body := get(t, port, "/api/x"); body != "A" {
		t.Errorf("/api/x after ModifyRule went to %q, want A", body)
	}
	_, err = c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: aws.String(defaultARN), Conditions: pathRule("/x")})
	wantAPIError[*types.OperationNotPermittedException](t, "ModifyRule conditions of the default rule", err)
	if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: aws.String(defaultARN), Actions: []types.Action{{Type: types.ActionTypeEnumRedirect,
		RedirectConfig: &types.RedirectActionConfig{StatusCode: types.RedirectActionStatusCodeEnumHttp301, Host: aws.String("example.test")}}}}); err != nil {
		t.Fatalf("ModifyRule default actions: %v", err)
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(fmt.Sprintf("http://127.0.0.1:%d/somewhere?q=1", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 301 || loc != fmt.Sprintf("http://example.test:%d/somewhere?q=1", port) {
		t.Errorf("default redirect: %d Location %q", resp.StatusCode, loc)
	}
	ls, _ := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{ListenerArns: []string{lARN}})
	if act := ls.Listeners[0].DefaultActions[0]; act.Type != types.ActionTypeEnumRedirect || *act.RedirectConfig.Host != "example.test" || *act.RedirectConfig.Path != "/#{path}" {
		t.Errorf("listener default action after ModifyRule: %+v", act)
	}

	// Tags on a rule.
	if _, err := c.AddTags(ctx(t), &elb.AddTagsInput{ResourceArns: []string{r1ARN}, Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.DescribeTags(ctx(t), &elb.DescribeTagsInput{ResourceArns: []string{r1ARN}})
	if err != nil || len(tags.TagDescriptions[0].Tags) != 1 {
		t.Errorf("rule tags: %+v, %v", tags, err)
	}

	// A group a rule forwards to is in use.
	if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: aws.String(r2ARN), Actions: forward(tgB)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteTargetGroup(ctx(t), &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgB)})
	wantAPIError[*types.ResourceInUseException](t, "DeleteTargetGroup used by a rule", err)

	_, err = c.DeleteRule(ctx(t), &elb.DeleteRuleInput{RuleArn: aws.String(defaultARN)})
	wantAPIError[*types.OperationNotPermittedException](t, "DeleteRule default", err)
	if _, err := c.DeleteRule(ctx(t), &elb.DeleteRuleInput{RuleArn: aws.String(r1ARN)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteRule(ctx(t), &elb.DeleteRuleInput{RuleArn: aws.String(r1ARN)})
	wantAPIError[*types.RuleNotFoundException](t, "DeleteRule twice", err)
	if got := priorities(t, c, lARN); got != "10 default " {
		t.Errorf("rules after delete: %s", got)
	}
}
