package elbv2_test

import (
	"errors"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

var (
	lbARNRE       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/web/[0-9a-f]{16}$`)
	tgARNRE       = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web-tg/[0-9a-f]{16}$`)
	listenerARNRE = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/web/[0-9a-f]{16}/[0-9a-f]{16}$`)
	ruleARNRE     = regexp.MustCompile(`^arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/web/[0-9a-f]{16}/[0-9a-f]{16}/[0-9a-f]{16}$`)
	dnsRE         = regexp.MustCompile(`^web-[0-9a-f]{16}\.us-east-1\.elb\.localhost$`)
)

// TestStoryWithSDK is the end-to-end story of the issue, driven by the real AWS
// SDK for Go v2: create a load balancer, a target group, register two real
// targets, create a listener, send real requests through it, change an
// attribute, deregister, delete.
func TestStoryWithSDK(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	port := e.ports[0]
	a, b := startTarget(t, "A"), startTarget(t, "B")

	lbOut, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{
		Name:    aws.String("web"),
		Subnets: []string{"subnet-aaaa1111", "subnet-bbbb2222"},
		Tags:    []types.Tag{{Key: aws.String("env"), Value: aws.String("test")}},
	})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	lb := lbOut.LoadBalancers[0]
	lbARN := *lb.LoadBalancerArn
	if !lbARNRE.MatchString(lbARN) || !dnsRE.MatchString(*lb.DNSName) {
		t.Errorf("ARN %s, DNS name %s: not AWS-shaped", lbARN, *lb.DNSName)
	}
	if lb.State.Code != types.LoadBalancerStateEnumActive || lb.Type != types.LoadBalancerTypeEnumApplication ||
		*lb.CanonicalHostedZoneId != "Z35SXDOTRQ7X7K" || len(lb.AvailabilityZones) != 2 || lb.CreatedTime.IsZero() {
		t.Errorf("load balancer = %+v", lb)
	}

	tgOut, err := c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{
		Name: aws.String("web-tg"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
		VpcId: aws.String("vpc-0123456789abcdef0"), TargetType: types.TargetTypeEnumIp,
		HealthCheckPath: aws.String("/healthz"), HealthCheckIntervalSeconds: aws.Int32(5),
		HealthCheckTimeoutSeconds: aws.Int32(2), HealthyThresholdCount: aws.Int32(2),
		Matcher: &types.Matcher{HttpCode: aws.String("200-299")},
	})
	if err != nil {
		t.Fatalf("CreateTargetGroup: %v", err)
	}
	tg := tgOut.TargetGroups[0]
	tgARN := *tg.TargetGroupArn
	if !tgARNRE.MatchString(tgARN) || *tg.HealthCheckPath != "/healthz" || *tg.HealthCheckIntervalSeconds != 5 ||
		*tg.HealthCheckTimeoutSeconds != 2 || *tg.UnhealthyThresholdCount != 2 || *tg.Matcher.HttpCode != "200-299" || len(tg.LoadBalancerArns) != 0 {
		t.Errorf("target group = %+v", tg)
	}

	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: []types.TargetDescription{
		{Id: aws.String(a.ip), Port: aws.Int32(a.port)}, {Id: aws.String(b.ip), Port: aws.Int32(b.port)},
	}}); err != nil {
		t.Fatalf("RegisterTargets: %v", err)
	}
	// Before a listener uses the group, its targets are unused, as on AWS.
	th, err := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	if len(th.TargetHealthDescriptions) != 2 || th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumUnused ||
		th.TargetHealthDescriptions[0].TargetHealth.Reason != types.TargetHealthReasonEnumNotInUse {
		t.Errorf("health before any listener: %+v", th.TargetHealthDescriptions)
	}

	lOut, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{
		LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(port)),
		DefaultActions: forward(tgARN),
	})
	if err != nil {
		t.Fatalf("CreateListener: %v", err)
	}
	l := lOut.Listeners[0]
	lARN := *l.ListenerArn
	if !listenerARNRE.MatchString(lARN) || *l.Port != int32(port) || len(l.DefaultActions) != 1 ||
		*l.DefaultActions[0].TargetGroupArn != tgARN || l.DefaultActions[0].ForwardConfig == nil ||
		*l.DefaultActions[0].ForwardConfig.TargetGroups[0].Weight != 1 || l.SslPolicy != nil {
		t.Errorf("listener = %+v", l)
	}
	rules, err := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{ListenerArn: aws.String(lARN)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules.Rules) != 1 || !*rules.Rules[0].IsDefault || *rules.Rules[0].Priority != "default" || !ruleARNRE.MatchString(*rules.Rules[0].RuleArn) {
		t.Errorf("rules = %+v", rules.Rules)
	}
	tgs, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil || len(tgs.TargetGroups) != 1 || len(tgs.TargetGroups[0].LoadBalancerArns) != 1 || tgs.TargetGroups[0].LoadBalancerArns[0] != lbARN {
		t.Errorf("target groups of the load balancer: %+v, %v", tgs, err)
	}

	// Health checks start once a listener uses the group; the waiter the CLI
	// and Terraform use sees both targets healthy.
	w := elb.NewTargetInServiceWaiter(c, func(o *elb.TargetInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)}, 20*time.Second); err != nil {
		th, _ := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
		t.Fatalf("targets never healthy: %v; last health %+v", err, th)
	}

	// The listener was opened by CreateListener: real requests reach both
	// targets, round robin.
	seen := map[string]int{}
	for range 4 {
		code, body := get(t, port, "/x")
		if code != 200 {
			t.Fatalf("status %d body %q", code, body)
		}
		seen[body]++
	}
	if seen["A"] != 2 || seen["B"] != 2 {
		t.Errorf("requests per target = %v, want 2 each", seen)
	}
	th, err = c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range th.TargetHealthDescriptions {
		if *d.HealthCheckPort != strconv.Itoa(int(*d.Target.Port)) || d.AdministrativeOverride == nil {
			t.Errorf("target health description %+v", d)
		}
		if s := d.TargetHealth.State; s != types.TargetHealthStateEnumHealthy {
			t.Errorf("registered target in use reported %s", s)
		}
	}

	// Attributes: the full set comes back, and the change reaches the data
	// plane (the snapshot new requests read).
	mod, err := c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{
		LoadBalancerArn: aws.String(lbARN),
		Attributes:      []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("120")}},
	})
	if err != nil {
		t.Fatalf("ModifyLoadBalancerAttributes: %v", err)
	}
	if attr(mod.Attributes, "idle_timeout.timeout_seconds") != "120" || attr(mod.Attributes, "routing.http2.enabled") != "true" || len(mod.Attributes) < 20 {
		t.Errorf("attributes after modify: %d keys, %v", len(mod.Attributes), mod.Attributes)
	}
	if got := e.node.Snapshot().LoadBalancers[0].Attrs.IdleTimeout; got != 120*time.Second {
		t.Errorf("data plane idle timeout = %v, want 120s", got)
	}
	desc, err := c.DescribeLoadBalancerAttributes(ctx(t), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil || attr(desc.Attributes, "idle_timeout.timeout_seconds") != "120" {
		t.Errorf("DescribeLoadBalancerAttributes: %v", err)
	}
	if code, _ := get(t, port, "/after-modify"); code != 200 {
		t.Errorf("request after modify: %d", code)
	}

	// Deregister A: it drains (as DescribeTargetHealth says) and gets no new
	// requests.
	if _, err := c.DeregisterTargets(ctx(t), &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(a.ip), Port: aws.Int32(a.port)}}}); err != nil {
		t.Fatalf("DeregisterTargets: %v", err)
	}
	th, err = c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(a.ip), Port: aws.Int32(a.port)}}})
	if err != nil || len(th.TargetHealthDescriptions) != 1 || th.TargetHealthDescriptions[0].TargetHealth.State != types.TargetHealthStateEnumDraining {
		t.Errorf("deregistered target: %+v, %v", th, err)
	}
	for range 4 {
		if _, body := get(t, port, "/y"); body != "B" {
			t.Fatalf("request after deregistering A went to %q", body)
		}
	}

	// Tags on create and later.
	if _, err := c.AddTags(ctx(t), &elb.AddTagsInput{ResourceArns: []string{lbARN, tgARN, lARN},
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveTags(ctx(t), &elb.RemoveTagsInput{ResourceArns: []string{lbARN}, TagKeys: []string{"env"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.DescribeTags(ctx(t), &elb.DescribeTagsInput{ResourceArns: []string{lbARN, tgARN}})
	if err != nil || len(tags.TagDescriptions) != 2 || len(tags.TagDescriptions[0].Tags) != 1 || *tags.TagDescriptions[0].Tags[0].Key != "team" {
		t.Errorf("DescribeTags: %+v, %v", tags, err)
	}

	// Delete: the listener's port closes, then the rest goes.
	if _, err := c.DeleteListener(ctx(t), &elb.DeleteListenerInput{ListenerArn: aws.String(lARN)}); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		conn.Close()
		t.Error("listener port still accepts after DeleteListener")
	}
	if _, err := c.DeleteLoadBalancer(ctx(t), &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(lbARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTargetGroup(ctx(t), &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgARN)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
	wantAPIError[*types.LoadBalancerNotFoundException](t, "DescribeLoadBalancers after delete", err)
	// The waiter the CLI and Terraform use agrees.
	dw := elb.NewLoadBalancersDeletedWaiter(c, func(o *elb.LoadBalancersDeletedWaiterOptions) { o.MinDelay = 10 * time.Millisecond })
	if err := dw.Wait(ctx(t), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}}, 5*time.Second); err != nil {
		t.Errorf("LoadBalancersDeleted waiter: %v", err)
	}
	all, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{})
	if err != nil || len(all.TargetGroups) != 0 {
		t.Errorf("target groups left: %+v, %v", all, err)
	}
	var nf *types.TargetGroupNotFoundException
	_, err = c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{tgARN}})
	if !errors.As(err, &nf) {
		t.Errorf("deleted target group: %v", err)
	}
}
