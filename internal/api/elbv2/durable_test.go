package elbv2_test

import (
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// TestStateSurvivesRestart: what the API created is served again after a
// restart, with the same ARNs, attributes, tags and targets.
func TestStateSurvivesRestart(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	port := e.ports[0]
	tgt := startTarget(t, "T")
	lbARN, tgARN := createLBAndTG(t, e, "web", "web-tg")
	c := e.client
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(tgt.ip), Port: aws.Int32(tgt.port)}}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(tgARN), Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	lARN := *l.Listeners[0].ListenerArn
	if _, err := c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN),
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("120")}}}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, port, "/"); code != 200 || body != "T" {
		t.Fatalf("before restart: %d %q", code, body)
	}
	e.stop()

	e2 := startEnv(t, envOptions{dir: e.dir})
	c = e2.client
	if code, body := get(t, port, "/"); code != 200 || body != "T" {
		t.Fatalf("after restart: %d %q", code, body)
	}
	ls, err := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{ListenerArns: []string{lARN}})
	if err != nil || *ls.Listeners[0].LoadBalancerArn != lbARN || *ls.Listeners[0].DefaultActions[0].TargetGroupArn != tgARN {
		t.Fatalf("listener after restart: %+v, %v", ls, err)
	}
	attrs, err := c.DescribeLoadBalancerAttributes(ctx(t), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil || attr(attrs.Attributes, "idle_timeout.timeout_seconds") != "120" {
		t.Errorf("attributes after restart: %v", err)
	}
	tags, err := c.DescribeTags(ctx(t), &elb.DescribeTagsInput{ResourceArns: []string{lARN}})
	if err != nil || len(tags.TagDescriptions[0].Tags) != 1 {
		t.Errorf("tags after restart: %+v, %v", tags, err)
	}
	// The data plane compiled with the same ids the API reports.
	if snap := e2.node.Snapshot(); snap.LoadBalancers[0].ARN != lbARN || snap.TargetGroups[0].ARN != tgARN {
		t.Errorf("snapshot ARNs %s %s, API ARNs %s %s", snap.LoadBalancers[0].ARN, snap.TargetGroups[0].ARN, lbARN, tgARN)
	}
	// A listener moved to another port keeps its ARN.
	other := testutil.FreePort(t)
	if _, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: aws.String(lARN), Port: aws.Int32(int32(other))}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, other, "/"); code != 200 || body != "T" {
		t.Errorf("after moving the listener: %d %q", code, body)
	}
	if snap := e2.node.Snapshot(); snap.LoadBalancers[0].Listeners[0].ARN != lARN {
		t.Errorf("moved listener's data-plane ARN %s, want %s", snap.LoadBalancers[0].Listeners[0].ARN, lARN)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestConfigFileDoor: the file's resources are created, then updated by name at
// the next start; resources made through the API survive; a resource the file
// no longer declares is deleted.
func TestConfigFileDoor(t *testing.T) {
	tgt := startTarget(t, "F")
	p1 := testutil.FreePort(t)
	yaml := func(idle string, withOld bool) *config.Config {
		src := `
load_balancers:
  - name: file-lb
    attributes:
      idle_timeout.timeout_seconds: ` + idle + `
    listeners:
      - port: ` + itoa(p1) + `
        address: 127.0.0.1
        default_actions: [{type: forward, target_group: file-tg}]
target_groups:
  - name: file-tg
    port: ` + itoa(int(tgt.port)) + `
    targets: [{id: 127.0.0.1}]
`
		if withOld {
			src += "  - name: old-tg\n    port: 80\n"
		}
		cfg, err := config.Parse("albatross.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	e := startEnv(t, envOptions{file: yaml("30", true)})
	out, err := e.client.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{Names: []string{"file-lb"}})
	if err != nil {
		t.Fatal(err)
	}
	fileARN := *out.LoadBalancers[0].LoadBalancerArn
	if code, body := get(t, p1, "/"); code != 200 || body != "F" {
		t.Fatalf("file listener: %d %q", code, body)
	}
	apiLB, _ := createLBAndTG(t, e, "api-lb", "api-tg")
	// An API change to a file resource lasts until the file is applied again.
	if _, err := e.client.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(fileARN),
		Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("200")}}}); err != nil {
		t.Fatal(err)
	}
	e.stop()

	e2 := startEnv(t, envOptions{dir: e.dir, file: yaml("45", false)})
	out, err = e2.client.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{})
	if err != nil || len(out.LoadBalancers) != 2 {
		t.Fatalf("load balancers after restart: %+v, %v", out, err)
	}
	if *out.LoadBalancers[0].LoadBalancerArn != fileARN || *out.LoadBalancers[1].LoadBalancerArn != apiLB {
		t.Errorf("ARNs changed across restart: %s %s, want %s %s", *out.LoadBalancers[0].LoadBalancerArn, *out.LoadBalancers[1].LoadBalancerArn, fileARN, apiLB)
	}
	attrs, _ := e2.client.DescribeLoadBalancerAttributes(ctx(t), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(fileARN)})
	if got := attr(attrs.Attributes, "idle_timeout.timeout_seconds"); got != "45" {
		t.Errorf("file resource's idle timeout = %s, want the file's 45", got)
	}
	_, err = e2.client.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"old-tg"}})
	wantAPIError[*types.TargetGroupNotFoundException](t, "target group removed from the file", err)
	if _, err := e2.client.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"api-tg", "file-tg"}}); err != nil {
		t.Errorf("API and file target groups after restart: %v", err)
	}
	if code, body := get(t, p1, "/"); code != 200 || body != "F" {
		t.Fatalf("file listener after restart: %d %q", code, body)
	}
}
