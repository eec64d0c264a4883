package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albatross-lb/albatross/internal/api/elbv2/elbv2test"
	"github.com/albatross-lb/albatross/internal/testutil"
)

const (
	apiKeyID  = "AKIDCMDTEST000001"
	apiSecret = "cmd-test-secret"
)

// apiNode starts `albatross serve` with only the API (no configuration file)
// and returns the process and an SDK client for it.
func apiNode(t testing.TB, data, admin string, extra ...string) (*proc, *elb.Client) {
	t.Helper()
	creds := filepath.Join(filepath.Dir(data), "credentials")
	if err := os.WriteFile(creds, []byte("# test keys\n"+apiKeyID+" "+apiSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--config", "", "--data-dir", data, "--admin-addr", admin,
		"--listen-address", "127.0.0.1", "--api-credentials", creds}, extra...)
	p := start(t, args...)
	eventually(t, "the admin server", func() bool { body, _ := get("http://" + admin + "/healthz"); return body == "ok\n" })
	c := elb.New(elb.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + admin),
		Credentials: credentials.NewStaticCredentialsProvider(apiKeyID, apiSecret, ""), RetryMaxAttempts: 1,
		// Without it the SDK itself fails now and then against a fast local
		// server ("use of closed network connection"; see elbv2test).
		HTTPClient: elbv2test.HTTPClient()})
	return p, c
}

// TestCrashLosesNoAcknowledgedChange kills the node with SIGKILL while several
// clients stream writes at it, restarts it on the same data directory, and
// checks that every acknowledged change is there and no change is half
// applied. Three rounds, each killed at a random point.
func TestCrashLosesNoAcknowledgedChange(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts the node several times")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))

	var mu sync.Mutex
	acked := map[string]*crashAck{} // target group name → what was acknowledged
	attempted := map[string]bool{}
	total := 0
	for round := range 3 {
		p, c := apiNode(t, data, admin)
		// The state from earlier rounds is intact.
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("round %d node output:\n%s", round, p.stderr.String())
			}
		})
		checkCrashState(t, c, acked, attempted)

		killAt := 10 + rand.IntN(30)
		var wg sync.WaitGroup
		var acks int
		var ackMu sync.Mutex
		killed := make(chan struct{})
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-killed:
						return
					default:
					}
					name := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					mu.Lock()
					attempted[name] = true
					mu.Unlock()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					out, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{
						Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1"),
						Tags: []types.Tag{{Key: aws.String("writer"), Value: aws.String(strconv.Itoa(w))}, {Key: aws.String("seq"), Value: aws.String(strconv.Itoa(i))}},
					})
					if err == nil {
						mu.Lock()
						acked[name] = &crashAck{created: true}
						mu.Unlock()
						delay := strconv.Itoa(1 + i%3600)
						_, err = c.ModifyTargetGroupAttributes(ctx, &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: out.TargetGroups[0].TargetGroupArn,
							Attributes: []types.TargetGroupAttribute{
								{Key: aws.String("deregistration_delay.timeout_seconds"), Value: aws.String(delay)},
								{Key: aws.String("slow_start.duration_seconds"), Value: aws.String("30")},
							}})
						if err == nil {
							mu.Lock()
							acked[name].delay = delay
							mu.Unlock()
						}
					}
					cancel()
					if err != nil {
						return // the node is gone
					}
					ackMu.Lock()
					acks++
					if acks == killAt {
						// SIGKILL mid-stream: the other writers have requests in flight.
						p.cmd.Process.Signal(syscall.SIGKILL)
					}
					ackMu.Unlock()
				}
			}()
		}
		p.wait(t)
		close(killed)
		wg.Wait()
		total += acks
	}
	p, c := apiNode(t, data, admin)
	n := checkCrashState(t, c, acked, attempted)
	t.Logf("3 kills; %d acknowledged write pairs; %d target groups after the last restart", total, n)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
}

// crashAck is what the node acknowledged for one target group.
type crashAck struct {
	created bool
	// delay is the acknowledged deregistration delay ("" if none).
	delay string
}

// checkCrashState compares the node's target groups with what was
// acknowledged, and returns how many there are.
func checkCrashState(t *testing.T, c *elb.Client, acked map[string]*crashAck, attempted map[string]bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := map[string]types.TargetGroup{}
	pg := elb.NewDescribeTargetGroupsPaginator(c, &elb.DescribeTargetGroupsInput{})
	for pg.HasMorePages() {
		out, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range out.TargetGroups {
			got[*tg.TargetGroupName] = tg
		}
	}
	for name, a := range acked {
		if _, ok := got[name]; a.created && !ok {
			t.Errorf("acknowledged CreateTargetGroup %s was lost", name)
		}
	}
	var arns []string
	for name, tg := range got {
		if !attempted[name] {
			t.Errorf("target group %s exists but was never created", name)
		}
		out, err := c.DescribeTargetGroupAttributes(ctx, &elb.DescribeTargetGroupAttributesInput{TargetGroupArn: tg.TargetGroupArn})
		if err != nil {
			t.Fatal(err)
		}
		attrs := map[string]string{}
		for _, a := range out.Attributes {
			attrs[*a.Key] = *a.Value
		}
		delay, slow := attrs["deregistration_delay.timeout_seconds"], attrs["slow_start.duration_seconds"]
		if a := acked[name]; a != nil && a.delay != "" && (delay != a.delay || slow != "30") {
			t.Errorf("%s: acknowledged attributes lost: delay %s slow start %s, want %s and 30", name, delay, slow, a.delay)
		}
		if (delay == "300") != (slow == "0") {
			t.Errorf("%s: half of one ModifyTargetGroupAttributes applied: delay %s slow start %s", name, delay, slow)
		}
		arns = append(arns, *tg.TargetGroupArn)
	}
	for len(arns) > 0 {
		// DescribeTags takes at most 20 ARNs; batches of 10.
		batch := arns[:min(10, len(arns))]
		arns = arns[len(batch):]
		out, err := c.DescribeTags(ctx, &elb.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.TagDescriptions {
			if len(d.Tags) != 2 {
				t.Errorf("%s: %d tags, want the 2 it was created with", *d.ResourceArn, len(d.Tags))
			}
		}
	}
	return len(got)
}
