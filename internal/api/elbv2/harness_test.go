package elbv2_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/albatross-lb/albatross/internal/admin"
	"github.com/albatross-lb/albatross/internal/api/elbv2"
	"github.com/albatross-lb/albatross/internal/api/elbv2/elbv2test"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/state"
)

const (
	testKeyID  = "AKIDALBATROSSTEST01"
	testSecret = "albatross-test-secret"
)

// env is a running node with its control plane, the API on a real socket, and
// an SDK client pointed at it.
type env struct {
	t      *testing.T
	dir    string
	st     *state.Bolt
	node   *node.Node
	ctrl   *control.Controller
	srv    *httptest.Server
	client *elb.Client
	// ports are pre-bound listener sockets on 127.0.0.1 that the node uses
	// when a listener on that port is created (no race for a free port).
	ports []int
}

type envOptions struct {
	dir       string
	listeners int
	file      *config.Config
	now       func() time.Time
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startEnv starts a node whose API listeners bind 127.0.0.1.
func startEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	e := &env{t: t, dir: o.dir}
	pre := map[netip.AddrPort]net.Listener{}
	for range o.listeners {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ap := netip.MustParseAddrPort(ln.Addr().String())
		pre[ap] = ln
		e.ports = append(e.ports, int(ap.Port()))
	}
	st, err := state.Open(o.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.st = st
	n, err := node.New(node.Options{DataDir: o.dir, IDs: st.IDs(), Listeners: pre, Logger: quietLogger(), ConnectTimeout: 2 * time.Second,
		// A health-check "second" of 20 ms: a 5 s interval is 100 ms.
		HealthSecond: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.node = n
	ctx := context.Background()
	ctrl, err := control.New(ctx, control.Options{Store: st, IDs: st.IDs(), Node: n, ListenAddress: "127.0.0.1",
		CertificateDir: filepath.Join(o.dir, "certificates"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ctrl.Start(ctx, o.file); err != nil {
		t.Fatal(err)
	}
	e.ctrl = ctrl
	api, err := elbv2.New(elbv2.Options{Controller: ctrl, Credentials: elbv2.Credentials{testKeyID: testSecret},
		Health: elbv2.RegistryHealth(n.Health()), Logger: quietLogger(), Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(admin.WithAPI(admin.Handler(admin.Options{Health: n.Health()}), api))
	e.client = newClient(e.srv.URL, testKeyID, testSecret)
	t.Cleanup(e.stop)
	return e
}

// stop shuts everything down; it may be called more than once.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.node.Shutdown(ctx); err != nil {
		e.t.Errorf("node shutdown: %v", err)
	}
	if err := e.st.Close(); err != nil {
		e.t.Errorf("state close: %v", err)
	}
	e.srv = nil
}

func newClient(url, keyID, secret string) *elb.Client {
	return elb.New(elb.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		RetryMaxAttempts: 1,
		HTTPClient:       elbv2test.HTTPClient(),
	})
}

// target is a real HTTP server on 127.0.0.1 that answers with its name.
type target struct {
	name string
	ip   string
	port int32
}

func startTarget(t *testing.T, name string) target {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return target{name: name, ip: ap.Addr().String(), port: int32(ap.Port())}
}

// get sends one request through the load balancer on port and returns the body.
func get(t *testing.T, port int, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatalf("GET %s on port %d: %v", path, port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantAPIError checks that err is the SDK's typed error T (or, for codes the
// SDK does not model for the operation, an API error with that code).
func wantAPIError[T error](t *testing.T, what string, err error) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("%s: error %v (%T), want %T", what, err, err, target)
	}
	return target
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("%s: error %v, want API error %s", what, err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("%s: code %s (%s), want %s", what, ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// createLBAndTG creates a load balancer and an HTTP target group.
func createLBAndTG(t *testing.T, e *env, lbName, tgName string) (lbARN, tgARN string) {
	t.Helper()
	lb, err := e.client.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{
		Name: aws.String(lbName), Subnets: []string{"subnet-aaaa1111", "subnet-bbbb2222"},
	})
	if err != nil {
		t.Fatalf("CreateLoadBalancer: %v", err)
	}
	tg, err := e.client.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{
		Name: aws.String(tgName), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(8080),
		VpcId: aws.String("vpc-0123456789abcdef0"), TargetType: types.TargetTypeEnumIp,
	})
	if err != nil {
		t.Fatalf("CreateTargetGroup: %v", err)
	}
	return *lb.LoadBalancers[0].LoadBalancerArn, *tg.TargetGroups[0].TargetGroupArn
}

func forward(tgARN string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: aws.String(tgARN)}}
}

func attr(attrs []types.LoadBalancerAttribute, key string) string {
	for _, a := range attrs {
		if *a.Key == key {
			return *a.Value
		}
	}
	return "<missing>"
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
