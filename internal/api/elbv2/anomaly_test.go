package elbv2_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestAnomalyMitigationWithSDK: in a weighted_random group with
// load_balancing.algorithm.anomaly_mitigation on, a target that passes its
// health checks but answers traffic with 500s is reported anomalous with
// mitigation in effect (DescribeTargetHealth Include AnomalyDetection), and
// then gets far less than its third of the requests. A target that sheds
// load with 503s is failing as surely as one that answers 500s.
func TestAnomalyMitigationWithSDK(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprint(status), func(t *testing.T) { testAnomalyMitigation(t, status) })
	}
}

func testAnomalyMitigation(t *testing.T, status int) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	port := e.ports[0]
	lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	tgOut, err := c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("tg"), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(80), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp, HealthCheckPath: aws.String("/healthz")})
	if err != nil {
		t.Fatal(err)
	}
	tg := tgOut.TargetGroups[0].TargetGroupArn
	if _, err := c.ModifyTargetGroupAttributes(ctx(t), &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: tg, Attributes: []types.TargetGroupAttribute{
		{Key: aws.String("load_balancing.algorithm.type"), Value: aws.String("weighted_random")},
		{Key: aws.String("load_balancing.algorithm.anomaly_mitigation"), Value: aws.String("on")},
	}}); err != nil {
		t.Fatalf("ModifyTargetGroupAttributes: %v", err)
	}
	var targets []types.TargetDescription
	names := map[string]string{}
	for i, name := range []string{"bad", "good1", "good2"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if i == 0 && r.URL.Path != "/healthz" {
				w.WriteHeader(status)
			}
			io.WriteString(w, name)
		}))
		t.Cleanup(srv.Close)
		ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
		targets = append(targets, types.TargetDescription{Id: aws.String(ap.Addr().String()), Port: aws.Int32(int32(ap.Port()))})
		names[ap.String()] = name
	}
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: tg, Targets: targets}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(*tg)}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	send := func() string {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/work", port))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	verdict := func() map[string]string {
		out, err := c.DescribeTargetHealth(ctx(t), &elb.DescribeTargetHealthInput{TargetGroupArn: tg,
			Include: []types.DescribeTargetHealthInputIncludeEnum{types.DescribeTargetHealthInputIncludeEnumAnomaly}})
		if err != nil {
			t.Fatal(err)
		}
		v := map[string]string{}
		for _, d := range out.TargetHealthDescriptions {
			key := fmt.Sprintf("%s:%d", *d.Target.Id, *d.Target.Port)
			if d.AnomalyDetection == nil {
				t.Fatalf("no AnomalyDetection for %s", key)
			}
			v[names[key]] = string(d.TargetHealth.State) + " " + string(d.AnomalyDetection.Result) + " " + string(d.AnomalyDetection.MitigationInEffect)
		}
		return v
	}
	testutil.WaitFor(t, 10*time.Second, "all three targets healthy", func() bool {
		v := verdict()
		return v["bad"] == "healthy normal no" && v["good1"] == "healthy normal no" && v["good2"] == "healthy normal no"
	})
	testutil.WaitFor(t, 20*time.Second, "the failing target judged anomalous and mitigated", func() bool {
		for range 20 {
			send()
		}
		v := verdict()
		return v["bad"] == "healthy anomalous yes" && v["good1"] == "healthy normal no"
	})
	count := map[string]int{}
	const n = 300
	for range n {
		count[send()]++
	}
	// Mitigated, it should get about 5% (a tenth of a normal share); a
	// third is what it got before.
	if count["bad"] > n/6 || count["good1"] < n/4 || count["good2"] < n/4 {
		t.Errorf("requests after mitigation: %v", count)
	}
}
