package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The measurements issue 17 asks for, on real nodes and a real etcd member
// that fsyncs as a production one does. Run them with
//
//	go test ./cmd/albatross -run '^$' -bench Cluster -benchtime 100x

// fixedResponse is a listener default action answering body.
func fixedResponse(body string) []types.Action {
	return []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{
		StatusCode: aws.String("200"), MessageBody: aws.String(body)}}}
}

// BenchmarkClusterPropagation: from a ModifyListener answered by node A to
// node B answering with the change (B is polled every millisecond over a
// kept-alive connection). Reports the median and the worst.
func BenchmarkClusterPropagation(b *testing.B) {
	needAddr(b, "127.0.0.2")
	etcd := etcdtest.StartWith(b, 1, etcdtest.Options{Fsync: true})
	dir := b.TempDir()
	_, ca, _ := startNodeOn(b, dir, "a", "127.0.0.1", etcd.URL())
	startNodeOn(b, dir, "b", "127.0.0.2", etcd.URL())
	lb, err := ca.CreateLoadBalancer(ctx(b), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		b.Fatal(err)
	}
	port := testutil.FreePort(b)
	l, err := ca.CreateListener(ctx(b), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: fixedResponse("v0")})
	if err != nil {
		b.Fatal(err)
	}
	urlB := fmt.Sprintf("http://127.0.0.2:%d/", port)
	eventually(b, "node B serving", func() bool { body, _ := get(urlB); return body == "v0" })
	client := &http.Client{Timeout: 5 * time.Second}
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		want := fmt.Sprintf("v%d", i)
		if _, err := ca.ModifyListener(ctx(b), &elb.ModifyListenerInput{ListenerArn: l.Listeners[0].ListenerArn, DefaultActions: fixedResponse(want)}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for deadline := start.Add(10 * time.Second); ; {
			resp, err := client.Get(urlB)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) == want {
					break
				}
			}
			if time.Now().After(deadline) {
				b.Fatalf("node B did not follow change %d within 10 s", i)
			}
			time.Sleep(time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	reportQuantiles(b, took, "ms", time.Millisecond)
}

// BenchmarkClusterAPIWrite: the latency of one API write
// (ModifyTargetGroupAttributes) on a node on bbolt and on a node on etcd,
// both fsyncing.
func BenchmarkClusterAPIWrite(b *testing.B) {
	for _, store := range []string{"bbolt", "etcd"} {
		b.Run("store="+store, func(b *testing.B) {
			url := ""
			if store == "etcd" {
				url = etcdtest.StartWith(b, 1, etcdtest.Options{Fsync: true}).URL()
			}
			_, c, _ := startNodeOn(b, b.TempDir(), "a", "127.0.0.1", url)
			tg, err := c.CreateTargetGroup(ctx(b), &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
			if err != nil {
				b.Fatal(err)
			}
			var took []time.Duration
			i := 0
			for b.Loop() {
				i++
				start := time.Now()
				if _, err := c.ModifyTargetGroupAttributes(ctx(b), &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroups[0].TargetGroupArn,
					Attributes: []types.TargetGroupAttribute{{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String(strconv.Itoa(10 + i%100))}}}); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			reportQuantiles(b, took, "ms", time.Millisecond)
		})
	}
}

// BenchmarkClusterKeepAliveCPU: the node's own CPU time (user and system,
// from /proc) per request forwarded to a target over kept-alive
// connections, on a node on bbolt and on a node on etcd: the hot path never
// touches the store, so the two must match.
func BenchmarkClusterKeepAliveCPU(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc to read the node's CPU time")
	}
	target := serveHandler(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	host, tport, _ := net.SplitHostPort(target)
	for _, store := range []string{"bbolt", "etcd"} {
		b.Run("store="+store, func(b *testing.B) {
			url := ""
			if store == "etcd" {
				url = etcdtest.Start(b, 1).URL()
			}
			p, c, _ := startNodeOn(b, b.TempDir(), "a", "127.0.0.1", url)
			port := testutil.FreePort(b)
			lb, err := c.CreateLoadBalancer(ctx(b), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
			if err != nil {
				b.Fatal(err)
			}
			tg, err := c.CreateTargetGroup(ctx(b), &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
			if err != nil {
				b.Fatal(err)
			}
			tgARN := tg.TargetGroups[0].TargetGroupArn
			if _, err := c.RegisterTargets(ctx(b), &elb.RegisterTargetsInput{TargetGroupArn: tgARN,
				Targets: []types.TargetDescription{{Id: aws.String(host), Port: aws.Int32(int32(atoi(b, tport)))}}}); err != nil {
				b.Fatal(err)
			}
			if _, err := c.CreateListener(ctx(b), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
				Port: aws.Int32(int32(port)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}}); err != nil {
				b.Fatal(err)
			}
			u := fmt.Sprintf("http://127.0.0.1:%d/", port)
			eventually(b, "the listener", func() bool { body, _ := get(u); return body == "ok" })
			const conns = 4
			clients := make([]*http.Client, conns)
			for i := range clients {
				clients[i] = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, MaxConnsPerHost: 1}, Timeout: 10 * time.Second}
			}
			before := cpuTime(b, p.cmd.Process.Pid)
			b.ResetTimer()
			var wg sync.WaitGroup
			errs := make(chan error, conns)
			for i := range conns {
				n := b.N / conns
				if i < b.N%conns {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						resp, err := clients[i].Get(u)
						if err != nil {
							errs <- err
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			cpu := cpuTime(b, p.cmd.Process.Pid) - before
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "node-cpu-µs/req")
		})
	}
}

// cpuTime is the user and system CPU time of process pid so far.
func cpuTime(t testing.TB, pid int) time.Duration {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	rest := string(raw[strings.LastIndexByte(string(raw), ')')+2:])
	f := strings.Fields(rest)
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, raw)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks
}

// reportQuantiles reports the median and the worst of took in unit.
func reportQuantiles(b *testing.B, took []time.Duration, unit string, scale time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/float64(scale), "median-"+unit)
	b.ReportMetric(float64(took[len(took)-1])/float64(scale), "max-"+unit)
	b.ReportMetric(0, "ns/op")
}
