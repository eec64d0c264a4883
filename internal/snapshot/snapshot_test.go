package snapshot

import (
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/upstream"
)

const twoLBs = `region: eu-west-1
account_id: "123456789012"
load_balancers:
  - name: fast
    attributes: {idle_timeout.timeout_seconds: 5}
    listeners: [{port: 8080, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: a}]}]
  - name: slow
    attributes: {idle_timeout.timeout_seconds: 120}
    listeners: [{port: 8081, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: b}]}]
target_groups:
  - {name: a, protocol: HTTP, port: 80, targets: [{id: 10.0.0.1, port: 9001}, {id: "::1", port: 9002}]}
  - {name: b, protocol: HTTP, port: 80, targets: [{id: 10.0.0.1, port: 9001}]}
`

func compileFixture(t *testing.T) (*Snapshot, map[string]string) {
	t.Helper()
	cfg, err := config.Parse("two.yaml", []byte(twoLBs))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, k := range IDKeys(cfg) {
		ids[k] = "00000000000000" + string(rune('a'+i/16)) + string("0123456789abcdef"[i%16])
	}
	s, err := Compile(cfg, Resources{IDs: ids, Pools: upstream.NewPools(upstream.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	return s, ids
}

func TestCompileNamesResourcesAsAWS(t *testing.T) {
	s, ids := compileFixture(t)
	lb := s.LoadBalancers[0]
	id := ids[LoadBalancerKey("fast")]
	if lb.ARN != "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/fast/"+id || lb.ResourceID != "app/fast/"+id {
		t.Errorf("load balancer ARN %q resource id %q", lb.ARN, lb.ResourceID)
	}
	l := lb.Listeners[0]
	if l.ARN != "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/fast/"+id+"/"+ids[ListenerKey("fast", 8080)] {
		t.Errorf("listener ARN %q", l.ARN)
	}
	if l.PortText != "8080" || l.Scheme != "http" || l.DefaultAction.TargetGroup.Name != "a" {
		t.Errorf("listener %+v", l)
	}
	if s.Listeners[l.Addr] != l {
		t.Error("listener not indexed by its address")
	}
	if tg := s.TargetGroups[0]; tg.ARN != "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/a/"+ids[TargetGroupKey("a")] || len(tg.Targets) != 2 {
		t.Errorf("target group %q with %d targets", tg.ARN, len(tg.Targets))
	}
	if got := s.TargetGroups[0].Targets[1].Addr.String(); got != "[::1]:9002" {
		t.Errorf("IPv6 target %s", got)
	}
}

func TestSharedTargetGetsOnePoolAndTheShortestIdleTimeout(t *testing.T) {
	s, _ := compileFixture(t)
	pa := s.TargetGroups[0].Targets[0].Pool
	pb := s.TargetGroups[1].Targets[0].Pool
	if pa != pb {
		t.Fatal("one target address in two groups got two pools")
	}
	if got := pa.IdleTimeout(); got != 5*time.Second {
		t.Errorf("shared pool idle timeout %v, want the shorter 5 s", got)
	}
}

// target_keep_alive.idle_timeout_seconds lowers a pool's idle limit and vouches
// for it; retry_mode compat turns the target's retries off.
func TestTargetKeepAliveAttributesReachThePool(t *testing.T) {
	cfg, err := config.Parse("ka.yaml", []byte(`load_balancers:
  - name: web
    listeners: [{port: 8080, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: a}]}]
  - name: api
    listeners: [{port: 8081, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: b}]}]
target_groups:
  - name: a
    protocol: HTTP
    port: 80
    attributes: {target_keep_alive.idle_timeout_seconds: 4, target_keep_alive.retry_mode: compat}
    targets: [{id: 10.0.0.1, port: 9001}]
  - {name: b, protocol: HTTP, port: 80, targets: [{id: 10.0.0.2, port: 9001}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, k := range IDKeys(cfg) {
		ids[k] = "0123456789abcdef"
	}
	s, err := Compile(cfg, Resources{IDs: ids, Pools: upstream.NewPools(upstream.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.TargetGroups[0].Targets[0], s.TargetGroups[1].Targets[0]
	if l := a.Pool.Limits(); l.Hard != 4*time.Second || l.NonReplayable != 4*time.Second || a.Retry {
		t.Errorf("group a: limits %+v retry %v; want 4 s for every request (vouched) and no retry", l, a.Retry)
	}
	if l := b.Pool.Limits(); l.Hard != 60*time.Second || l.NonReplayable != upstream.UnprovenIdle || !b.Retry {
		t.Errorf("group b: limits %+v retry %v; want the 60 s idle timeout, %v for requests that cannot be replayed, and retries", l, b.Retry, upstream.UnprovenIdle)
	}
}

func TestCompileNeedsEveryID(t *testing.T) {
	cfg, err := config.Parse("two.yaml", []byte(twoLBs))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(cfg, Resources{IDs: map[string]string{}, Pools: upstream.NewPools(upstream.Options{})}); err == nil {
		t.Fatal("compiled without ids")
	}
}
