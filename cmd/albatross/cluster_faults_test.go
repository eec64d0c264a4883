package main

import (
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestClusterEtcdFaults: two nodes on a three-member etcd whose members are
// processes, killed with SIGKILL. One member lost: traffic and API writes go
// on. Two lost: the nodes serve their last configuration, writes fail with
// ServiceUnavailable within the SDK's timeout, /healthz says degraded. Both
// back: writes resume and every change acknowledged before, during or after
// the faults is on both nodes.
func TestClusterEtcdFaults(t *testing.T) {
	needAddr(t, "127.0.0.2")
	etcd := etcdtest.StartProcesses(t, 3)
	dir := t.TempDir()
	_, ca, adminA := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	_, cb, adminB := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL())
	lb, err := ca.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	l, err := ca.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: fixedResponse("v0")})
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{fmt.Sprintf("http://127.0.0.1:%d/", port), fmt.Sprintf("http://127.0.0.2:%d/", port)}
	serving := func(want string) func() bool {
		return func() bool {
			for _, u := range urls {
				if body, _ := get(u); body != want {
					return false
				}
			}
			return true
		}
	}
	eventually(t, "both nodes serving v0", serving("v0"))

	var acked []string // target groups whose creation was acknowledged
	create := func(c *elb.Client, name string) error {
		_, err := c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp,
			Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
		if err == nil {
			acked = append(acked, name)
		}
		return err
	}
	lastBody := "v0"
	modify := func(c *elb.Client, body string) error {
		_, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: l.Listeners[0].ListenerArn, DefaultActions: fixedResponse(body)})
		if err == nil {
			lastBody = body
		}
		return err
	}

	// One member of three killed: no effect.
	etcd.Kill(0)
	for i := range 6 {
		c := []*elb.Client{ca, cb}[i%2]
		if err := create(c, fmt.Sprintf("one-down-%d", i)); err != nil {
			t.Errorf("CreateTargetGroup with one member killed: %v", err)
		}
	}
	if err := modify(cb, "v1"); err != nil {
		t.Errorf("ModifyListener with one member killed: %v", err)
	}
	eventually(t, "both nodes serving v1", serving("v1"))

	// Two killed: no quorum.
	etcd.Kill(1)
	for _, admin := range []string{adminA, adminB} {
		eventually(t, "/healthz of "+admin+" degraded", func() bool {
			body, _ := get("http://" + admin + "/healthz")
			return strings.HasPrefix(body, "degraded: state store unreachable")
		})
	}
	for i, c := range []*elb.Client{ca, cb} {
		start := time.Now()
		err := create(c, fmt.Sprintf("no-quorum-%d", i))
		took := time.Since(start)
		var ae interface{ ErrorCode() string }
		if !errorsAs(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
			t.Errorf("CreateTargetGroup without quorum: %v, want ServiceUnavailable", err)
		}
		// The SDK's own timeouts are longer; the node's store timeout is 5 s.
		if took > 15*time.Second {
			t.Errorf("a write without quorum took %v to fail", took)
		}
	}
	if !serving("v1")() {
		t.Error("a node stopped serving its last configuration when etcd lost its quorum")
	}

	// Both back: writes resume, the nodes converge, nothing acknowledged is
	// lost.
	etcd.Restart(0, 1)
	eventually(t, "writes working again", func() bool { return create(ca, "after") == nil })
	if err := modify(cb, "v2"); err != nil {
		t.Errorf("ModifyListener after etcd came back: %v", err)
	}
	eventually(t, "both nodes serving "+lastBody, serving(lastBody))
	for name, c := range map[string]*elb.Client{"A": ca, "B": cb} {
		eventually(t, "node "+name+" holding every acknowledged target group", func() bool { return hasTargetGroups(t, c, acked) })
	}
	for _, admin := range []string{adminA, adminB} {
		eventually(t, "/healthz of "+admin+" ok", func() bool { body, _ := get("http://" + admin + "/healthz"); return body == "ok\n" })
	}
}

// hasTargetGroups reports whether c's node has every target group of names.
func hasTargetGroups(t testing.TB, c *elb.Client, names []string) bool {
	have := map[string]bool{}
	var marker *string
	for {
		out, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Marker: marker})
		if err != nil {
			return false
		}
		for _, tg := range out.TargetGroups {
			have[*tg.TargetGroupName] = true
		}
		if out.NextMarker == nil {
			break
		}
		marker = out.NextMarker
	}
	for _, n := range names {
		if !have[n] {
			return false
		}
	}
	return true
}

// TestClusterNodeKilledDuringWrites: node B is killed with SIGKILL while
// several clients write through it; every write B acknowledged is in etcd,
// as node A's API shows.
func TestClusterNodeKilledDuringWrites(t *testing.T) {
	needAddr(t, "127.0.0.2")
	etcd := etcdtest.StartProcesses(t, 3)
	dir := t.TempDir()
	_, ca, _ := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	pb, cb, _ := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL())

	var mu sync.Mutex
	var acked []string
	const writers, perWriter = 4, 40
	killAt := 30 // acknowledged writes before the kill
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				name := fmt.Sprintf("w%d-%d", w, i)
				_, err := cb.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp,
					Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
				if err != nil {
					return // the node is gone
				}
				mu.Lock()
				acked = append(acked, name)
				n := len(acked)
				mu.Unlock()
				if n >= killAt {
					once.Do(func() { pb.cmd.Process.Signal(syscall.SIGKILL); close(killed) })
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatalf("the writers finished (%d acknowledged) before the node was killed", len(acked))
	}
	pb.wait(t)
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < killAt {
		t.Fatalf("%d writes acknowledged, want at least %d", len(acked), killAt)
	}
	eventually(t, fmt.Sprintf("node A holding all %d target groups node B acknowledged", len(acked)), func() bool { return hasTargetGroups(t, ca, acked) })
}

// TestClusterConcurrentModify: two nodes modify one rule and one target group
// at once, 30 times each. Every write succeeds (a loser retries on the new
// state), and in the end both nodes hold one of the acknowledged writes
// whole: the rule's condition and action, and the group's path and timeout,
// from the same write.
func TestClusterConcurrentModify(t *testing.T) {
	needAddr(t, "127.0.0.2")
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	_, ca, _ := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	_, cb, _ := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL())
	lb, err := ca.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ca.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(testutil.FreePort(t))), DefaultActions: fixedResponse("default")})
	if err != nil {
		t.Fatal(err)
	}
	pathIs := func(p string) []types.RuleCondition {
		return []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{p}}}}
	}
	rule, err := ca.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: l.Listeners[0].ListenerArn, Priority: aws.Int32(10),
		Conditions: pathIs("/start"), Actions: fixedResponse("start")})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := ca.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	ruleARN, tgARN := rule.Rules[0].RuleArn, tg.TargetGroups[0].TargetGroupArn

	var mu sync.Mutex
	ackedRules, ackedGroups := map[string]bool{}, map[string]bool{} // "path body", "path timeout"
	var wg sync.WaitGroup
	for n, c := range map[string]*elb.Client{"a": ca, "b": cb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				w := fmt.Sprintf("%s%d", n, i)
				if _, err := c.ModifyRule(ctx(t), &elb.ModifyRuleInput{RuleArn: ruleARN, Conditions: pathIs("/" + w), Actions: fixedResponse(w)}); err != nil {
					t.Errorf("ModifyRule %s: %v", w, err)
				} else {
					mu.Lock()
					ackedRules["/"+w+" "+w] = true
					mu.Unlock()
				}
				timeout := int32(2 + i%20)
				if _, err := c.ModifyTargetGroup(ctx(t), &elb.ModifyTargetGroupInput{TargetGroupArn: tgARN, HealthCheckPath: aws.String("/" + w),
					HealthCheckTimeoutSeconds: aws.Int32(timeout)}); err != nil {
					t.Errorf("ModifyTargetGroup %s: %v", w, err)
				} else {
					mu.Lock()
					ackedGroups[fmt.Sprintf("/%s %d", w, timeout)] = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	final := func(c *elb.Client) (string, string, bool) {
		r, err := c.DescribeRules(ctx(t), &elb.DescribeRulesInput{RuleArns: []string{*ruleARN}})
		if err != nil || len(r.Rules) != 1 || len(r.Rules[0].Conditions) != 1 || len(r.Rules[0].Actions) != 1 {
			return "", "", false
		}
		g, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{*tgARN}})
		if err != nil || len(g.TargetGroups) != 1 {
			return "", "", false
		}
		rr, gg := r.Rules[0], g.TargetGroups[0]
		return rr.Conditions[0].PathPatternConfig.Values[0] + " " + *rr.Actions[0].FixedResponseConfig.MessageBody,
			fmt.Sprintf("%s %d", *gg.HealthCheckPath, *gg.HealthCheckTimeoutSeconds), true
	}
	var ruleA, groupA string
	eventually(t, "both nodes agreeing on the final rule and group", func() bool {
		ra, ga, ok1 := final(ca)
		rb, gb, ok2 := final(cb)
		ruleA, groupA = ra, ga
		return ok1 && ok2 && ra == rb && ga == gb
	})
	if !ackedRules[ruleA] {
		t.Errorf("final rule %q is no acknowledged write whole", ruleA)
	}
	if !ackedGroups[groupA] {
		t.Errorf("final target group %q is no acknowledged write whole", groupA)
	}
	if len(ackedRules) != 60 || len(ackedGroups) != 60 {
		t.Errorf("%d rule and %d group writes acknowledged, want 60 each", len(ackedRules), len(ackedGroups))
	}
}
