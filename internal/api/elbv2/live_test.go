package elbv2_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// slowTarget answers /slow only once the test calls the release function it
// returns (announcing the request's arrival on arrived), and everything else
// at once, with its name. The test decides when the slow answer goes, after
// what it wants the request to be in flight across has taken effect, rather
// than a delay guessing how long that takes.
func slowTarget(t *testing.T, name string, arrived chan<- struct{}) (target, func()) {
	t.Helper()
	released := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(released) }) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case arrived <- struct{}{}:
			default:
			}
			select {
			case <-released:
			case <-r.Context().Done():
				return
			}
		}
		io.WriteString(w, name)
	}))
	t.Cleanup(func() {
		release() // a test that failed before releasing it must not hang Close
		srv.Close()
	})
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return target{name: name, ip: ap.Addr().String(), port: int32(ap.Port())}, release
}

// TestChangesDropNoRequests: API changes are applied while clients send a
// steady stream of requests (over kept-alive and new connections); no request
// fails. Then a request in flight when its listener is deleted still finishes.
func TestChangesDropNoRequests(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	port := e.ports[0]
	arrived := make(chan struct{}, 1)
	a, releaseSlow := slowTarget(t, "A", arrived)
	b := startTarget(t, "B")
	lbARN, tgARN := createLBAndTG(t, e, "web", "web-tg")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(a.ip), Port: aws.Int32(a.port)}}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(tgARN)})
	if err != nil {
		t.Fatal(err)
	}

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the clients keep connections alive, half open one per request.
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: i%2 == 0}}
			defer client.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/x", port))
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	bTarget := []types.TargetDescription{{Id: aws.String(b.ip), Port: aws.Int32(b.port)}}
	changes := 0
	for i := range 5 {
		steps := []func() error{
			func() error {
				_, err := c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN),
					Attributes: []types.LoadBalancerAttribute{{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String(fmt.Sprint(60 + i))}}})
				return err
			},
			func() error {
				_, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: bTarget})
				return err
			},
			func() error {
				_, err := c.ModifyTargetGroup(ctx(t), &elb.ModifyTargetGroupInput{TargetGroupArn: aws.String(tgARN), HealthCheckPath: aws.String(fmt.Sprintf("/health/%d", i))})
				return err
			},
			func() error {
				_, err := c.DeregisterTargets(ctx(t), &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: bTarget})
				return err
			},
			func() error {
				_, err := c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("spare-%d", i)), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1")})
				return err
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
			changes++
			time.Sleep(20 * time.Millisecond) // spread the changes over the load; not synchronisation
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d API changes under load: %d requests succeeded, %d failed", changes, ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Errorf("%d requests failed while the API changed the node; first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() < 20 {
		t.Errorf("only %d requests got through; the load did not overlap the changes", ok.Load())
	}

	// A request in flight when its listener is deleted finishes.
	done := make(chan string, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/slow", port))
		if err != nil {
			done <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the target")
	}
	if _, err := c.DeleteListener(ctx(t), &elb.DeleteListenerInput{ListenerArn: l.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	// The target answers once the listener is gone from the data plane.
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	testutil.WaitFor(t, 10*time.Second, "the deleted listener's port to refuse connections", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	releaseSlow()
	select {
	case got := <-done:
		if got != "200 A" {
			t.Errorf("in-flight request across DeleteListener: %s, want 200 A", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
}
