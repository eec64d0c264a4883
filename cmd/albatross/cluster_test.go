package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestClusterOnEtcd: two nodes started with --store etcd://... share one
// configuration: a load balancer made through node A's API routes traffic on
// node B, and a change made through B's API is on A; after both restart,
// nothing acknowledged is lost.
func TestClusterOnEtcd(t *testing.T) {
	needAddr(t, "127.0.0.2")
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	a, ca, adminA := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	b, cb, adminB := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL())
	target := namedTarget(t, "T1", 0, nil)
	host, tport, _ := net.SplitHostPort(target)
	port := testutil.FreePort(t)

	lb, err := ca.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatalf("CreateLoadBalancer on A: %v", err)
	}
	tg, err := ca.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := ca.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: tgARN,
		Targets: []types.TargetDescription{{Id: aws.String(host), Port: aws.Int32(int32(atoi(t, tport)))}}}); err != nil {
		t.Fatal(err)
	}
	l, err := ca.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}})
	if err != nil {
		t.Fatal(err)
	}
	urlA, urlB := fmt.Sprintf("http://127.0.0.1:%d/", port), fmt.Sprintf("http://127.0.0.2:%d/", port)
	eventually(t, "node A serving the listener made through A", func() bool { body, _ := get(urlA); return body == "T1" })
	eventually(t, "node B serving the listener made through A", func() bool { body, _ := get(urlB); return body == "T1" })

	// Each node announces itself: both dashboards list both nodes, each
	// marks itself, and its health view and metrics say whose they are.
	for _, who := range []struct{ name, admin string }{{"a", adminA}, {"b", adminB}} {
		eventually(t, "node "+who.name+"'s dashboard listing nodes a and b", func() bool {
			st := dashboardState(t, who.admin)
			return len(st.Nodes) == 2 && st.Node == who.name && st.Nodes[0].Name == "a" && st.Nodes[1].Name == "b" &&
				st.Nodes[0].Self == (who.name == "a") && st.Nodes[1].Self == (who.name == "b") &&
				st.Nodes[0].Status == "ok" && st.Nodes[0].Listeners == 1 && st.Nodes[1].Listeners == 1
		})
		if body, _ := get("http://" + who.admin + "/v1/target-health"); !strings.Contains(body, `"node": "`+who.name+`"`) {
			t.Errorf("node %s's /v1/target-health does not name it:\n%s", who.name, body)
		}
		if m, _ := get("http://" + who.admin + "/metrics"); !strings.Contains(m, `albatross_store_up{node="`+who.name+`"} 1`) {
			t.Errorf("node %s's metrics carry no node label", who.name)
		}
	}

	// B reads what A wrote, with the same ARNs.
	out, err := cb.DescribeListeners(ctx(t), &elb.DescribeListenersInput{ListenerArns: []string{*l.Listeners[0].ListenerArn}})
	if err != nil || len(out.Listeners) != 1 {
		t.Fatalf("DescribeListeners on B: %v %+v", err, out)
	}
	// A change through B reaches A.
	if _, err := cb.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: l.Listeners[0].ListenerArn,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("200"), MessageBody: aws.String("from-B")}}}}); err != nil {
		t.Fatalf("ModifyListener on B: %v", err)
	}
	eventually(t, "node A applying B's change", func() bool { body, _ := get(urlA); return body == "from-B" })

	// Both nodes write at once: each change is one transaction, the loser
	// of a race retries on the new state, and none fails or is lost.
	errs := make(chan error, 20)
	for i := range 20 {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		go func() {
			_, err := c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("tg-%d", i)), Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent CreateTargetGroup: %v", err)
		}
	}
	for name, c := range map[string]*elb.Client{"A": ca, "B": cb} {
		eventually(t, "node "+name+" seeing all 21 target groups", func() bool {
			out, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{})
			return err == nil && len(out.TargetGroups) == 21
		})
	}

	// Both stop; both restart on the same etcd: everything is there. A node
	// that stops leaves the list of nodes at once (its lease revoked).
	b.cmd.Process.Signal(syscall.SIGTERM)
	if code := b.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, b.stderr.String())
	}
	if st := dashboardState(t, adminA); len(st.Nodes) != 1 || st.Nodes[0].Name != "a" {
		t.Errorf("nodes after b stopped: %+v, want only a", st.Nodes)
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, a.stderr.String())
	}
	_, ca2, _ := startNodeOn(t, dir, "a2", "127.0.0.1", etcd.URL())
	eventually(t, "a fresh node serving the cluster's listener", func() bool { body, _ := get(urlA); return body == "from-B" })
	lbs, err := ca2.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{})
	if err != nil || len(lbs.LoadBalancers) != 1 || *lbs.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancers[0].LoadBalancerArn {
		t.Errorf("after restart: %v %+v", err, lbs)
	}
	if tgs, err := ca2.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{}); err != nil || len(tgs.TargetGroups) != 21 {
		t.Errorf("target groups after restart: %v, %d", err, len(tgs.TargetGroups))
	}
}

// needAddr skips the test when ip cannot be bound here.
func needAddr(t testing.TB, ip string) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Skipf("%s is not usable here (%v)", ip, err)
	}
	ln.Close()
}

// startNodeOn starts a node whose API listeners bind ip, on the etcd store
// (prefix /test-cluster), or on bbolt in DIR/NAME/data when store is "".
func startNodeOn(t testing.TB, dir, name, ip, store string, extra ...string) (*proc, *elb.Client, string) {
	t.Helper()
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--listen-address", ip}
	if store != "" {
		args = append(args, "--store", store, "--etcd-prefix", "/test-cluster", "--node-name", name)
	}
	args = append(args, extra...)
	p, c := apiNode(t, filepath.Join(dir, name, "data"), admin, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node %s output:\n%s", name, p.stderr.String())
		}
	})
	return p, c, admin
}

// dashboardState reads a node's dashboard/state.
func dashboardState(t *testing.T, addr string) admin.State {
	t.Helper()
	body, err := get("http://" + addr + "/dashboard/state")
	var st admin.State
	if err == nil {
		err = json.Unmarshal([]byte(body), &st)
	}
	if err != nil {
		t.Fatalf("dashboard/state of %s: %v", addr, err)
	}
	return st
}

// ctx is a request context that ends with the test (30 s at most).
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func atoi(t testing.TB, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestClusterStoreDown: with the whole etcd cluster stopped, a node keeps
// serving its last configuration, and an API write fails with AWS's
// ServiceUnavailable naming the store, without hanging; once etcd is back,
// writes work again and nothing acknowledged before is lost.
func TestClusterStoreDown(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	p, c, admin := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	port := testutil.FreePort(t)
	lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("200"), MessageBody: aws.String("up")}}}}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	eventually(t, "the listener", func() bool { body, _ := get(url); return body == "up" })

	healthz := "http://" + admin + "/healthz"
	if body, _ := get(healthz); body != "ok\n" {
		t.Errorf("/healthz with etcd up: %q", body)
	}
	etcd.Stop(0)
	eventually(t, "/healthz saying degraded and albatross_store_up 0", func() bool {
		body, _ := get(healthz)
		m, _ := get("http://" + admin + "/metrics")
		return strings.HasPrefix(body, "degraded: state store unreachable: ") && strings.Contains(m, "\nalbatross_store_up{node=\"a\"} 0\n")
	})
	_, err = c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("other")})
	var ae interface{ ErrorCode() string }
	if !errorsAs(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !strings.Contains(err.Error(), "state store") {
		t.Fatalf("CreateLoadBalancer with etcd down: %v, want ServiceUnavailable naming the store", err)
	}
	if body, err := get(url); body != "up" {
		t.Errorf("with etcd down the listener answered %q, %v", body, err)
	}
	if lbs, err := c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{}); err != nil || len(lbs.LoadBalancers) != 1 {
		t.Errorf("DescribeLoadBalancers with etcd down: %v %+v", err, lbs)
	}

	etcd.Restart(0)
	// The etcd client reconnects with backoff, and a write tried before it
	// has waits out the request timeout: allow several of those.
	testutil.WaitFor(t, 30*time.Second, "writes working again after etcd is back", func() bool {
		_, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("other")})
		return err == nil
	})
	lbs, err := c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{})
	if err != nil || len(lbs.LoadBalancers) != 2 {
		t.Errorf("after etcd came back: %v %+v", err, lbs)
	}
	eventually(t, "/healthz ok and albatross_store_up 1 again", func() bool {
		body, _ := get(healthz)
		m, _ := get("http://" + admin + "/metrics")
		return body == "ok\n" && strings.Contains(m, "\nalbatross_store_up{node=\"a\"} 1\n")
	})
	if !strings.Contains(p.stderr.String(), ` node=a `) {
		t.Errorf("the node's log lines do not carry node=a:\n%s", p.stderr.String())
	}
	if n := strings.Count(p.stderr.String(), "the state store is unreachable"); n != 1 {
		t.Errorf("the node logged the store's loss %d times, want once:\n%s", n, p.stderr.String())
	}
}

func errorsAs(err error, target any) bool { return err != nil && errors.As(err, target) }

// TestStoreMigrate: a one-node state moves into etcd whole (resources and
// their ARNs), a node on etcd then serves it, a second migration into the
// same prefix is refused, and bad arguments are named.
func TestStoreMigrate(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	p, c, _ := startNodeOn(t, dir, "single", "127.0.0.1", "")
	port := testutil.FreePort(t)
	lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("200"), MessageBody: aws.String("migrated")}}}}); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "single", "data")
	// The node still runs: its state is in use.
	if out, code := runBinary(t, "store", "migrate", "--from", "bbolt:"+data, "--to", etcd.URL()); code != 1 || !strings.Contains(out, "stop the node") {
		t.Errorf("migrating a running node's state: exit %d\n%s", code, out)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	out, code := runBinary(t, "store", "migrate", "--from", "bbolt:"+data, "--to", etcd.URL(), "--etcd-prefix", "/test-cluster")
	if code != 0 || !strings.Contains(out, "migrated 2 resources and ") {
		t.Fatalf("store migrate: exit %d\n%s", code, out)
	}
	if out, code := runBinary(t, "store", "migrate", "--from", "bbolt:"+data, "--to", etcd.URL(), "--etcd-prefix", "/test-cluster"); code != 1 || !strings.Contains(out, "already holds state (2 keys") {
		t.Errorf("second migration: exit %d\n%s", code, out)
	}
	for _, bad := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--from", data, "--to", etcd.URL()}, 2, "--from: want bbolt:DATA-DIR"},
		{[]string{"--from", "bbolt:" + filepath.Join(dir, "nothing"), "--to", etcd.URL()}, 1, "holds no Albatross state"},
		{[]string{"--from", "bbolt:" + data, "--to", "http://x"}, 2, "--to: want etcd://"},
		{[]string{"--from", "bbolt:" + data}, 2, "--to is required"},
	} {
		if out, code := runBinary(t, append([]string{"store", "migrate"}, bad.args...)...); code != bad.code || !strings.Contains(out, bad.want) {
			t.Errorf("%v: exit %d, want %d and %q:\n%s", bad.args, code, bad.code, bad.want, out)
		}
	}

	_, c2, _ := startNodeOn(t, dir, "cluster", "127.0.0.1", etcd.URL())
	eventually(t, "the migrated listener served from etcd", func() bool {
		body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		return body == "migrated"
	})
	lbs, err := c2.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{})
	if err != nil || len(lbs.LoadBalancers) != 1 || *lbs.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancers[0].LoadBalancerArn {
		t.Errorf("after migration: %v %+v (want ARN %s)", err, lbs, *lb.LoadBalancers[0].LoadBalancerArn)
	}
}

// runBinary runs albatross to its end and returns its output and exit code.
func runBinary(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, errOut, code := albatross(t, nil, args...)
	return out + errOut, code
}

// TestClusterRestartWithStoreDown: a node restarted while etcd is down serves
// the state it applied last (its local cache), says that it is stale on
// /healthz, answers reads from it and refuses writes with ServiceUnavailable;
// its configuration file waits for the store. Once etcd is back it serves the
// store's state, imports the file and is healthy again. Without a cache, a
// node that cannot reach etcd refuses to start rather than serve nothing.
func TestClusterRestartWithStoreDown(t *testing.T) {
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	p, c, _ := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	port, filePort := testutil.FreePort(t), testutil.FreePort(t)
	lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
			StatusCode: aws.String("200"), MessageBody: aws.String("cached")}}}}); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	eventually(t, "the listener", func() bool { body, _ := get(url); return body == "cached" })
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
	etcd.Stop(0)

	cfgPath := filepath.Join(dir, "file.yaml")
	cfgText := fmt.Sprintf(`load_balancers:
  - name: from-file
    listeners:
      - port: %d
        address: 127.0.0.1
        default_actions: [{type: fixed-response, fixed_response: {status_code: "200", message_body: "from the file"}}]
`, filePort)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	creds := filepath.Join(dir, "a", "credentials")
	p2 := start(t, "serve", "--config", cfgPath, "--data-dir", filepath.Join(dir, "a", "data"), "--admin-addr", admin,
		"--listen-address", "127.0.0.1", "--api-credentials", creds, "--store", etcd.URL(), "--etcd-prefix", "/test-cluster", "--node-name", "a")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("restarted node:\n%s", p2.stderr.String())
		}
	})
	eventually(t, "the restarted node serving its cached state", func() bool { body, _ := get(url); return body == "cached" })
	healthz := "http://" + admin + "/healthz"
	eventually(t, "/healthz saying the state is the cache", func() bool {
		body, _ := get(healthz)
		return strings.HasPrefix(body, "degraded: ") && strings.Contains(body, "serving the cached state saved at ")
	})
	c2 := elb.New(elb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + admin), Credentials: c.Options().Credentials,
		RetryMaxAttempts: 1, HTTPClient: c.Options().HTTPClient})
	if lbs, err := c2.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{}); err != nil || len(lbs.LoadBalancers) != 1 ||
		*lbs.LoadBalancers[0].LoadBalancerArn != *lb.LoadBalancers[0].LoadBalancerArn {
		t.Errorf("DescribeLoadBalancers from the cache: %v %+v", err, lbs)
	}
	_, err = c2.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("other")})
	var ae interface{ ErrorCode() string }
	if !errorsAs(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" {
		t.Errorf("CreateLoadBalancer while serving the cache: %v, want ServiceUnavailable", err)
	}
	if body, err := get(fmt.Sprintf("http://127.0.0.1:%d/", filePort)); err == nil {
		t.Errorf("the file's listener is served before the store is back: %q", body)
	}

	etcd.Restart(0)
	eventually(t, "/healthz ok once etcd is back", func() bool { body, _ := get(healthz); return body == "ok\n" })
	eventually(t, "the file imported once etcd is back", func() bool {
		body, _ := get(fmt.Sprintf("http://127.0.0.1:%d/", filePort))
		return body == "from the file"
	})
	if body, _ := get(url); body != "cached" {
		t.Errorf("the stored listener after etcd came back: %q", body)
	}
	if _, err := c2.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("other")}); err != nil {
		t.Errorf("a write after etcd came back: %v", err)
	}
	if lbs, err := c2.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{}); err != nil || len(lbs.LoadBalancers) != 3 {
		t.Errorf("load balancers after etcd came back: %v, %d, want 3", err, len(lbs.LoadBalancers))
	}
	for _, want := range []string{"serving the cached state, which may be stale", "no longer the cached one"} {
		if !strings.Contains(p2.stderr.String(), want) {
			t.Errorf("the node's log does not say %q", want)
		}
	}

	// A node with no cache does not start on an unreachable store.
	etcd.Stop(0)
	out, code := runBinary(t, "serve", "--config", "", "--data-dir", filepath.Join(dir, "fresh"), "--admin-addr", "",
		"--store", etcd.URL(), "--etcd-prefix", "/test-cluster")
	if code != 1 || !strings.Contains(out, "holds no cached state") {
		t.Errorf("a node without a cache on an unreachable store: exit %d\n%s", code, out)
	}
}

// TestClusterStickinessAcrossNodes: the nodes of a cluster sign stickiness
// cookies with one key, so a client given an AWSALB cookie by node A stays on
// its target when its requests reach node B. (With a key per node, B cannot
// read A's cookie and balances the client afresh.) Then a target deregistered
// through B drains on A, and leaves it when its delay ends.
func TestClusterStickinessAcrossNodes(t *testing.T) {
	needAddr(t, "127.0.0.2")
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	_, ca, _ := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	_, cb, _ := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL())
	tg, err := ca.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := ca.ModifyTargetGroupAttributes(ctx(t), &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tgARN, Attributes: []types.TargetGroupAttribute{
		{Key: aws.String("stickiness.enabled"), Value: aws.String("true")},
		{Key: aws.String("stickiness.type"), Value: aws.String("lb_cookie")},
	}}); err != nil {
		t.Fatal(err)
	}
	var targets []types.TargetDescription
	for _, name := range []string{"T1", "T2"} {
		host, port, _ := net.SplitHostPort(namedTarget(t, name, 0, nil))
		targets = append(targets, types.TargetDescription{Id: aws.String(host), Port: aws.Int32(int32(atoi(t, port)))})
	}
	if _, err := ca.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: targets}); err != nil {
		t.Fatal(err)
	}
	lb, err := ca.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	if _, err := ca.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
		t.Fatal(err)
	}
	urlA, urlB := fmt.Sprintf("http://127.0.0.1:%d/", port), fmt.Sprintf("http://127.0.0.2:%d/", port)
	// Both targets healthy on both nodes, so that B has a choice to make.
	for _, c := range []*elb.Client{ca, cb} {
		eventually(t, "both targets healthy", func() bool {
			out, err := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: tgARN})
			if err != nil || len(out.TargetHealthDescriptions) != 2 {
				return false
			}
			for _, d := range out.TargetHealthDescriptions {
				if d.TargetHealth.State != types.TargetHealthStateEnumHealthy {
					return false
				}
			}
			return true
		})
	}
	eventually(t, "node B serving the listener", func() bool { body, _ := get(urlB); return body == "T1" || body == "T2" })

	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(urlA)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "AWSALB" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("node A set no AWSALB cookie: %v", resp.Header)
	}
	for i := range 10 {
		req, _ := http.NewRequest("GET", urlB, nil)
		req.AddCookie(&http.Cookie{Name: "AWSALB", Value: cookie.Value})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != string(first) {
			t.Fatalf("request %d through node B with node A's cookie went to %s, not %s", i, body, first)
		}
	}

	if _, err := cb.ModifyTargetGroupAttributes(ctx(t), &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tgARN, Attributes: []types.TargetGroupAttribute{
		{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String("2")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.DeregisterTargets(ctx(t), &elb.DeregisterTargetsInput{TargetGroupArn: tgARN, Targets: targets[1:]}); err != nil {
		t.Fatal(err)
	}
	stateOnA := func() map[string]types.TargetHealthStateEnum {
		out, err := ca.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: tgARN})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]types.TargetHealthStateEnum{}
		for _, d := range out.TargetHealthDescriptions {
			m[fmt.Sprintf("%s:%d", *d.Target.Id, *d.Target.Port)] = d.TargetHealth.State
		}
		return m
	}
	t2 := fmt.Sprintf("%s:%d", *targets[1].Id, *targets[1].Port)
	eventually(t, "the target deregistered through B draining on A", func() bool { return stateOnA()[t2] == types.TargetHealthStateEnumDraining })
	eventually(t, "the target gone from A when its delay ended", func() bool { _, ok := stateOnA()[t2]; return !ok })
	for range 10 {
		if body, _ := get(urlA); body != "T1" {
			t.Fatalf("node A sent a request to %q after T2 was deregistered", body)
		}
	}
}

// TestClusterDifferentFiles: two nodes started with different configuration
// files. Each file's resources are created; a resource both files declare
// takes the settings of the node that applied its file last; and a node
// whose file drops a resource deletes it, but never what only the other
// node's file declares. Listeners without an address bind each node's
// --listen-address.
func TestClusterDifferentFiles(t *testing.T) {
	needAddr(t, "127.0.0.2")
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	shared, onlyA, onlyB := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	logs := filepath.Join(dir, "logs") // one directory for both nodes' access logs
	file := func(name string, lbs map[string]int, body string) string {
		var b strings.Builder
		b.WriteString("load_balancers:\n")
		for _, lb := range []string{"shared", "only-a", "only-b"} {
			port, ok := lbs[lb]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "  - name: %s\n    access_log: {directory: %s}\n    listeners:\n      - port: %d\n        default_actions: [{type: fixed-response, fixed_response: {status_code: \"200\", message_body: \"%s %s\"}}]\n", lb, logs, port, lb, body)
		}
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fileA := file("a", map[string]int{"shared": shared, "only-a": onlyA}, "by A")
	fileB := file("b", map[string]int{"shared": shared, "only-b": onlyB}, "by B")
	pa, ca, _ := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL(), "--config", fileA)
	url := func(ip string, port int) string { return fmt.Sprintf("http://%s:%d/", ip, port) }
	eventually(t, "A's file served on A", func() bool { body, _ := get(url("127.0.0.1", shared)); return body == "shared by A" })
	pb, cb, _ := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL(), "--config", fileB)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		eventually(t, "both files' resources on "+ip+", the shared one as B's file says", func() bool {
			s, _ := get(url(ip, shared))
			a, _ := get(url(ip, onlyA))
			b, _ := get(url(ip, onlyB))
			return s == "shared by B" && a == "only-a by A" && b == "only-b by B"
		})
	}

	// A restarts with a file that drops only-a and says shared again.
	pa.cmd.Process.Signal(syscall.SIGTERM)
	if code := pa.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, pa.stderr.String())
	}
	fileA = file("a", map[string]int{"shared": shared}, "by A again")
	pa, ca, _ = startNodeOn(t, dir, "a2", "127.0.0.1", etcd.URL(), "--config", fileA, "--node-name", "a")
	eventually(t, "A's new file in force on B", func() bool {
		s, _ := get(url("127.0.0.2", shared))
		_, aerr := get(url("127.0.0.2", onlyA))
		b, _ := get(url("127.0.0.2", onlyB))
		return s == "shared by A again" && aerr != nil && b == "only-b by B"
	})
	for name, c := range map[string]*elb.Client{"A": ca, "B": cb} {
		out, err := c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, lb := range out.LoadBalancers {
			names = append(names, *lb.LoadBalancerName)
		}
		slices.Sort(names)
		if !slices.Equal(names, []string{"only-b", "shared"}) {
			t.Errorf("load balancers through %s: %v, want only-b and shared", name, names)
		}
	}

	// Each node writes its own access log files into the one directory, its
	// address in their names; `albatross logs` reads them as one log and says
	// which node served what.
	for ip, n := range map[string]int{"127.0.0.1": 3, "127.0.0.2": 5} {
		for range n {
			if body, err := get(fmt.Sprintf("http://%s:%d/counted", ip, shared)); err != nil || body != "shared by A again" {
				t.Fatalf("GET /counted through %s: %q %v", ip, body, err)
			}
		}
	}
	for _, p := range []*proc{pa, pb} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s", code, p.stderr.String())
		}
	}
	out, code := runBinary(t, "logs", "summary", "--path", "/counted", "--format", "json", logs)
	if code != 0 {
		t.Fatalf("logs summary: exit %d\n%s", code, out)
	}
	var rep struct {
		Requests int64 `json:"requests"`
		ByNode   []struct {
			Node     string `json:"node"`
			Requests int64  `json:"requests"`
		} `json:"by_node"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("logs summary output: %v\n%s", err, out)
	}
	byNode := map[string]int64{}
	for _, n := range rep.ByNode {
		byNode[n.Node] = n.Requests
	}
	if rep.Requests != 8 || byNode["127.0.0.1"] != 3 || byNode["127.0.0.2"] != 5 {
		t.Errorf("logs summary of both nodes' files: %d requests, by node %v; want 8, 3 on 127.0.0.1 and 5 on 127.0.0.2", rep.Requests, byNode)
	}
}

// TestClusterWithAWSCLI: three nodes. The AWS CLI pointed at node B changes
// a load balancer made through node A's API; every node applies it (their
// dashboards show the idle timeout in force), serves the listener, and A's
// API reports it.
func TestClusterWithAWSCLI(t *testing.T) {
	bin := awsCLI(t)
	needAddr(t, "127.0.0.2")
	needAddr(t, "127.0.0.3")
	etcd := etcdtest.Start(t, 1)
	dir := t.TempDir()
	_, ca, adminA := startNodeOn(t, dir, "a", "127.0.0.1", etcd.URL())
	_, _, adminB := startNodeOn(t, dir, "b", "127.0.0.2", etcd.URL())
	_, _, adminC := startNodeOn(t, dir, "c", "127.0.0.3", etcd.URL())
	lb, err := ca.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	if _, err := ca.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: fixedResponse("up")}); err != nil {
		t.Fatal(err)
	}
	awsB := newCLI(t, bin, "http://"+adminB)
	awsB.ok(nil, "modify-load-balancer-attributes", "--load-balancer-arn", *lb.LoadBalancers[0].LoadBalancerArn,
		"--attributes", "Key=idle_timeout.timeout_seconds,Value=7")
	var tg struct {
		TargetGroups []struct{ TargetGroupArn string }
	}
	awsB.ok(&tg, "create-target-group", "--name", "from-cli", "--protocol", "HTTP", "--port", "80", "--vpc-id", "vpc-1", "--target-type", "ip")
	for i, admin := range []string{adminA, adminB, adminC} {
		eventually(t, admin+" applying the idle timeout set through B", func() bool {
			st := dashboardState(t, admin)
			return len(st.LoadBalancers) == 1 && st.LoadBalancers[0].IdleTimeoutSeconds == 7 && len(st.Nodes) == 3
		})
		if body, err := get(fmt.Sprintf("http://127.0.0.%d:%d/", i+1, port)); body != "up" {
			t.Errorf("node %d answered %q, %v", i+1, body, err)
		}
	}
	attrs, err := ca.DescribeLoadBalancerAttributes(ctx(t), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range attrs.Attributes {
		if *a.Key == "idle_timeout.timeout_seconds" && *a.Value != "7" {
			t.Errorf("idle timeout through A: %s, want 7", *a.Value)
		}
	}
	out, err := ca.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"from-cli"}})
	if err != nil || len(out.TargetGroups) != 1 || *out.TargetGroups[0].TargetGroupArn != tg.TargetGroups[0].TargetGroupArn {
		t.Errorf("the CLI's target group through A: %v %+v, want ARN %s", err, out, tg.TargetGroups[0].TargetGroupArn)
	}
}
