package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/s3test"
	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestAccessLogsToS3: a load balancer whose access_logs.s3.* attributes are
// set through the API delivers its access log to a real S3-compatible server
// under ALB's keys, with ALB's test file; a node stopped with SIGTERM while
// the server is down keeps its logs in the spool and uploads them when it
// starts again; a node killed with kill -9 uploads at its next start the
// lines it had written; and `albatross logs summary s3://...` reads them
// back: every request is there.
func TestAccessLogsToS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "alb-logs")
	s3test.SetEnv(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	s3flags := []string{"--s3-endpoint", srv.URL, "--s3-path-style", "--shutdown-timeout", "3s"}
	var procs []*proc
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range procs {
				t.Logf("node run %d:\n%s", i, p.stderr.String())
			}
			filepath.Walk(data, func(path string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					t.Logf("left: %s (%d bytes)", path, info.Size())
				}
				return nil
			})
		}
	})
	node := func() *proc {
		p, _ := apiNode(t, data, admin, s3flags...)
		procs = append(procs, p)
		return p
	}
	p, c := apiNode(t, data, admin, s3flags...)
	procs = append(procs, p)
	lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	port := testutil.FreePort(t)
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lbARN, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: fixedResponse("logged")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: lbARN, Attributes: []types.LoadBalancerAttribute{
		{Key: aws.String("access_logs.s3.enabled"), Value: aws.String("true")},
		{Key: aws.String("access_logs.s3.bucket"), Value: aws.String("alb-logs")},
		{Key: aws.String("access_logs.s3.prefix"), Value: aws.String("prod")},
	}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ALB's test file", func() bool {
		keys := srv.Keys(t, "alb-logs", "prod/AWSLogs/000000000000/ELBAccessLogTestFile")
		return len(keys) == 1
	})
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	send := func(n int, path string) {
		for range n {
			if body, err := get(url + path); err != nil || body != "logged" {
				t.Fatalf("GET: %q %v", body, err)
			}
		}
	}
	stop := func(p *proc) {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s", code, p.stderr.String())
		}
	}
	logKeys := func() []string {
		var out []string
		for _, k := range srv.Keys(t, "alb-logs", "prod/AWSLogs/000000000000/elasticloadbalancing/us-east-1/") {
			if strings.HasSuffix(k, ".log.gz") {
				out = append(out, k)
			}
		}
		return out
	}

	// 1. SIGTERM uploads what the node has.
	send(12, "first")
	stop(p)
	if keys := logKeys(); len(keys) != 1 {
		t.Fatalf("after SIGTERM: %q, want one access log object", keys)
	}

	// 2. The server down at SIGTERM: the file waits in the spool and goes up
	// at the next start.
	p = node()
	send(7, "second")
	srv.Stop()
	stop(p)
	srv.Restart()
	p = node()
	eventually(t, "the spooled file uploaded at the next start", func() bool { return len(logKeys()) == 2 })

	// 3. kill -9: the lines written (on disk within a second) are salvaged
	// and uploaded at the next start.
	send(5, "third")
	spool := filepath.Join(data, "log-spool")
	eventually(t, "the open file's lines on disk", func() bool { return spooledLines(spool, true) == 5 })
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)
	p = node()
	eventually(t, "the killed node's lines uploaded at the next start", func() bool { return len(logKeys()) == 3 })
	stop(p)

	out, code := runBinary(t, "logs", "summary", "--format", "json", "--since", "2h", "--s3-endpoint", srv.URL, "--s3-path-style", "s3://alb-logs/prod")
	if code != 0 {
		t.Fatalf("logs summary s3://: exit %d\n%s", code, out)
	}
	var rep struct {
		Requests int64 `json:"requests"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Requests != 24 {
		t.Errorf("logs summary of the bucket: %d requests, want 24 (12 + 7 + 5)\n%s", rep.Requests, out)
	}
	if out, code := runBinary(t, "logs", "summary", "s3:///x"); code != 1 || !strings.Contains(out, "names no bucket") {
		t.Errorf("a bad s3:// input: exit %d\n%s", code, out)
	}
}

// spooledLines counts the whole lines in the spool's files: the ones being
// written (open) or the complete ones waiting to be uploaded (!open).
func spooledLines(spool string, open bool) int {
	n := 0
	filepath.Walk(spool, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		being := strings.HasSuffix(path, ".tmp")
		complete := strings.HasSuffix(path, ".log.gz") && !strings.HasPrefix(info.Name(), ".")
		if open && being || !open && complete {
			n += gzipLines(path)
		}
		return nil
	})
	return n
}

// gzipLines counts the lines of a gzip file, as far as it can be read (a
// file being written has no end yet).
func gzipLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return 0
	}
	b, _ := io.ReadAll(zr)
	return bytes.Count(b, []byte{'\n'})
}

// TestLogBucketErrors: ModifyLoadBalancerAttributes that turns on a log to a
// bucket the node cannot write to (no such bucket, wrong credentials, an
// S3 endpoint that does not answer) is refused as ALB refuses it,
// InvalidConfigurationRequest "Access Denied for bucket: ...", with the
// cause, and changes nothing; a bucket it can write to is accepted and gets
// ALB's test object. A bad bucket in a configuration file is named in the
// node's log at start, and the node serves meanwhile.
func TestLogBucketErrors(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "alb-logs")
	s3test.SetEnv(t)
	dir := t.TempDir()
	node := func(name, endpoint string) *elb.Client {
		admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
		if err := os.MkdirAll(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		p, c := apiNode(t, filepath.Join(dir, name, "data"), admin, "--s3-endpoint", endpoint, "--s3-path-style")
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %s:\n%s", name, p.stderr.String())
			}
		})
		return c
	}
	enable := func(c *elb.Client, arn *string, log, bucket string) error {
		_, err := c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: arn, Attributes: []types.LoadBalancerAttribute{
			{Key: aws.String(log + ".s3.enabled"), Value: aws.String("true")},
			{Key: aws.String(log + ".s3.bucket"), Value: aws.String(bucket)},
			{Key: aws.String(log + ".s3.prefix"), Value: aws.String("p")},
		}})
		return err
	}
	refused := func(c *elb.Client, arn *string, log, bucket, cause string) {
		t.Helper()
		err := enable(c, arn, log, bucket)
		var ae interface{ ErrorCode() string }
		if !errorsAs(err, &ae) || ae.ErrorCode() != "InvalidConfigurationRequest" ||
			!strings.Contains(err.Error(), "Access Denied for bucket: "+bucket+". Please check S3bucket permission") || !strings.Contains(err.Error(), cause) {
			t.Fatalf("%s to %s: %v, want InvalidConfigurationRequest Access Denied for bucket naming %q", log, bucket, err, cause)
		}
		t.Logf("%s to %s: %v", log, bucket, err)
		attrs, err := c.DescribeLoadBalancerAttributes(ctx(t), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: arn})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range attrs.Attributes {
			if strings.HasPrefix(*a.Key, log+".s3.") && *a.Value != map[string]string{"enabled": "false", "bucket": "", "prefix": ""}[strings.TrimPrefix(*a.Key, log+".s3.")] {
				t.Errorf("after the refusal %s = %q: the call changed something", *a.Key, *a.Value)
			}
		}
	}
	newLB := func(c *elb.Client) *string {
		lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
		if err != nil {
			t.Fatal(err)
		}
		return lb.LoadBalancers[0].LoadBalancerArn
	}

	good := node("good", srv.URL)
	arn := newLB(good)
	refused(good, arn, "access_logs", "no-such-bucket", "NoSuchBucket")
	refused(good, arn, "health_check_logs", "no-such-bucket", "NoSuchBucket")
	if err := enable(good, arn, "connection_logs", "alb-logs"); err != nil {
		t.Fatalf("a bucket the node can write to: %v", err)
	}
	if keys := srv.Keys(t, "alb-logs", "p/AWSLogs/000000000000/ELBAccessLogTestFile"); len(keys) != 1 {
		t.Errorf("test object: %q", keys)
	}

	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
	wrong := node("wrong-secret", srv.URL)
	refused(wrong, newLB(wrong), "access_logs", "alb-logs", "SignatureDoesNotMatch")

	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretAccessKey)
	down := node("unreachable", fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t)))
	refused(down, newLB(down), "access_logs", "alb-logs", "connection refused")

	// The same bad bucket in a configuration file: the node starts (ALB's
	// attribute is already set; traffic must not wait for S3) and says at
	// once, naming the bucket and S3's answer, that it cannot write there.
	cfgPath := filepath.Join(dir, "bad-bucket.yaml")
	httpPort := testutil.FreePort(t)
	cfg := fmt.Sprintf(`load_balancers:
  - name: web
    attributes:
      access_logs.s3.enabled: "true"
      access_logs.s3.bucket: no-such-bucket
    listeners:
      - {port: %d, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: fixed-response, fixed_response: {status_code: "200"}}]}
`, httpPort)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "serve", "--config", cfgPath, "--data-dir", filepath.Join(dir, "file-data"),
		"--admin-addr", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), "--s3-endpoint", srv.URL, "--s3-path-style")
	eventually(t, "the node's error about the bucket", func() bool {
		out := p.stderr.String()
		return strings.Contains(out, "cannot write ALB's test object") && strings.Contains(out, "no-such-bucket") && strings.Contains(out, "NoSuchBucket")
	})
	if _, err := get(fmt.Sprintf("http://127.0.0.1:%d/", httpPort)); err != nil {
		t.Errorf("the node with a bad log bucket does not serve: %v", err)
	}
}
