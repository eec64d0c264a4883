package snapshot

import (
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/health"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// TestCandidatesFollowRegistrations: targets share one status per target group
// across compiles, a new group fails open to its initial targets, and the
// routing step neither allocates nor locks while states hold.
func TestCandidatesFollowRegistrations(t *testing.T) {
	cfg, err := config.Parse("two.yaml", []byte(twoLBs))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, k := range IDKeys(cfg) {
		ids[k] = "000000000000000" + string("0123456789abcdef"[i])
	}
	reg := health.NewRegistry(health.Options{Disabled: true})
	defer reg.Close()
	res := Resources{IDs: ids, Pools: upstream.NewPools(upstream.Options{}), Health: reg}
	s1, err := Compile(cfg, res)
	if err != nil {
		t.Fatal(err)
	}
	a := s1.TargetGroups[0]
	if !a.InUse || a.LoadBalancer != "fast" || a.Targets[0].Health == nil {
		t.Fatalf("group a: in use %v, load balancer %q", a.InUse, a.LoadBalancer)
	}
	// Target 10.0.0.1:9001 is in groups a and b: one status in each.
	if a.Targets[0].Health == s1.TargetGroups[1].Targets[0].Health {
		t.Error("one target in two groups shares a status; health is per registration")
	}
	got, failOpen := a.Candidates()
	if len(got) != 2 || !failOpen {
		t.Fatalf("initial targets: %d candidates, fail open %v; want both, failing open", len(got), failOpen)
	}
	if n := testing.AllocsPerRun(1000, func() { a.Candidates() }); n != 0 {
		t.Errorf("Candidates allocates %v times per call", n)
	}

	// Once applied, the next compile hands out the same statuses.
	var specs []health.GroupSpec
	for _, tg := range s1.TargetGroups {
		sp := health.GroupSpec{Name: tg.Name, LoadBalancer: tg.LoadBalancer, InUse: tg.InUse, HealthCheck: tg.HealthCheck, DeregistrationDelay: tg.Attrs.DeregistrationDelay}
		for _, t := range tg.Targets {
			sp.Targets = append(sp.Targets, t.Health)
		}
		specs = append(specs, sp)
	}
	reg.Apply(specs)
	s2, err := Compile(cfg, res)
	if err != nil {
		t.Fatal(err)
	}
	if s2.TargetGroups[0].Targets[0].Health != a.Targets[0].Health {
		t.Error("a recompiled snapshot got a new status for a registered target")
	}

	// Deregistered (draining) targets are never candidates: with none left,
	// the group has no candidate (503).
	specs[0].Targets = nil
	reg.Apply(specs)
	if got, _ := a.Candidates(); len(got) != 0 {
		t.Errorf("draining targets offered as candidates: %d", len(got))
	}
}

// TestInUseFollowsEveryAction: a group is in use (checked) when a rule or a
// weighted forward names it, not only a default action; a group nothing names
// is not.
func TestInUseFollowsEveryAction(t *testing.T) {
	const rules = `load_balancers:
  - name: web
    listeners:
      - port: 8080
        address: 127.0.0.1
        default_actions:
          - type: forward
            forward: {target_groups: [{name: blue, weight: 90}, {name: green, weight: 10}]}
        rules:
          - priority: 10
            conditions: [{path_pattern: ["/api/*"]}]
            actions: [{type: forward, target_group: api}]
target_groups:
  - {name: api, port: 80}
  - {name: blue, port: 80}
  - {name: green, port: 80}
  - {name: spare, port: 80}
`
	cfg, err := config.Parse("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for i, k := range IDKeys(cfg) {
		ids[k] = "000000000000000" + string("0123456789abcdef"[i])
	}
	s, err := Compile(cfg, Resources{IDs: ids, Pools: upstream.NewPools(upstream.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range s.TargetGroups {
		want := tg.Name != "spare"
		if tg.InUse != want || (want && tg.LoadBalancer != "web") {
			t.Errorf("group %s: in use %v (load balancer %q), want %v", tg.Name, tg.InUse, tg.LoadBalancer, want)
		}
	}
}
