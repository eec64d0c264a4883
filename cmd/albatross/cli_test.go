package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// awsCLI finds an AWS CLI that runs (a pyenv shim can exist without a working
// installation behind it), or skips the test saying how to get one.
func awsCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("the AWS CLI (aws) is not installed: apt-get install awscli (.ci/run installs it)")
	}
	out, err := exec.Command(path, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "aws-cli/") {
		t.Skipf("%s does not run (%v: %s): apt-get install awscli (.ci/run installs it)", path, err, out)
	}
	t.Logf("using %s", strings.TrimSpace(string(out)))
	return path
}

// cli runs `aws elbv2 ARGS --endpoint-url URL` with test credentials and no
// user configuration.
type cli struct {
	t        *testing.T
	bin, url string
	env      []string
}

func newCLI(t *testing.T, bin, url string) *cli {
	home := t.TempDir()
	env := []string{
		"HOME=" + home, "PATH=" + os.Getenv("PATH"),
		"AWS_ACCESS_KEY_ID=" + apiKeyID, "AWS_SECRET_ACCESS_KEY=" + apiSecret, "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none"),
		"AWS_PAGER=", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
	}
	// pyenv's shim needs to find its installation.
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return &cli{t: t, bin: bin, url: url, env: env}
}

// run runs the command and returns its output and exit code.
func (c *cli) run(args ...string) (string, int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(append([]string{"elbv2"}, args...), "--endpoint-url", c.url, "--output", "json")...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

// ok runs a command that must succeed and decodes its JSON output into v.
func (c *cli) ok(v any, args ...string) {
	c.t.Helper()
	out, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("aws elbv2 %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			c.t.Fatalf("aws elbv2 %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// fails runs a command that must fail with the AWS error code given.
func (c *cli) fails(code string, args ...string) {
	c.t.Helper()
	out, exit := c.run(args...)
	// CLI v2 exits 254 on a service error, v1 255.
	if exit != 254 && exit != 255 || !strings.Contains(out, "("+code+")") {
		c.t.Errorf("aws elbv2 %s: exit %d, want 254/255 with %s:\n%s", strings.Join(args, " "), exit, code, out)
	}
}

// cliNode starts a node whose resources come from the API and returns the AWS
// CLI pointed at it, the node, and the test's directory (the node's data is in
// DIR/data). The node's output is logged if the test fails.
func cliNode(t *testing.T) (*cli, *proc, string) {
	t.Helper()
	bin := awsCLI(t)
	dir := t.TempDir()
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p, _ := apiNode(t, filepath.Join(dir, "data"), admin)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node output:\n%s", p.stderr.String())
		}
	})
	return newCLI(t, bin, "http://"+admin), p, dir
}

// TestStoryWithAWSCLI runs the end-to-end story with the AWS CLI against the
// albatross binary and checks the CLI's JSON output.
func TestStoryWithAWSCLI(t *testing.T) {
	if raceEnabled {
		// The CLI is slow to start (seconds per command); the race detector
		// adds nothing here that the SDK tests of the same server do not.
		t.Skip("skipped under -race; go test without -race runs it")
	}
	// Most of its time is the CLI's own start-up: overlap it with the other
	// CLI test.
	t.Parallel()
	c, p, dir := cliNode(t)
	targetA := namedTarget(t, "A", 0, nil)
	targetB := namedTarget(t, "B", 0, nil)
	port := testutil.FreePort(t)

	var lbs struct {
		LoadBalancers []struct {
			LoadBalancerArn, DNSName, LoadBalancerName string
			State                                      struct{ Code string }
		}
	}
	c.ok(&lbs, "create-load-balancer", "--name", "web-alb", "--subnets", "subnet-aaaa1111", "subnet-bbbb2222", "--tags", "Key=env,Value=test")
	lb := lbs.LoadBalancers[0]
	if lb.LoadBalancerName != "web-alb" || lb.State.Code != "active" || !strings.HasSuffix(lb.DNSName, ".us-east-1.elb.localhost") {
		t.Errorf("create-load-balancer: %+v", lb)
	}
	c.ok(nil, "wait", "load-balancer-available", "--load-balancer-arns", lb.LoadBalancerArn)

	var tgs struct {
		TargetGroups []struct {
			TargetGroupArn             string
			HealthCheckIntervalSeconds int
			Matcher                    struct{ HttpCode string }
		}
	}
	c.ok(&tgs, "create-target-group", "--name", "web-tg", "--protocol", "HTTP", "--port", "8080", "--vpc-id", "vpc-0123456789abcdef0",
		"--target-type", "ip", "--health-check-path", "/healthz", "--health-check-interval-seconds", "5",
		"--health-check-timeout-seconds", "2", "--healthy-threshold-count", "2", "--unhealthy-threshold-count", "2", "--matcher", "HttpCode=200-299")
	tg := tgs.TargetGroups[0]
	if tg.HealthCheckIntervalSeconds != 5 || tg.Matcher.HttpCode != "200-299" {
		t.Errorf("create-target-group: %+v", tg)
	}
	hostA, portA, _ := strings.Cut(targetA, ":")
	hostB, portB, _ := strings.Cut(targetB, ":")
	c.ok(nil, "register-targets", "--target-group-arn", tg.TargetGroupArn, "--targets", "Id="+hostA+",Port="+portA, "Id="+hostB+",Port="+portB)

	var ls struct {
		Listeners []struct{ ListenerArn string }
	}
	c.ok(&ls, "create-listener", "--load-balancer-arn", lb.LoadBalancerArn, "--protocol", "HTTP", "--port", fmt.Sprint(port),
		"--default-actions", "Type=forward,TargetGroupArn="+tg.TargetGroupArn)
	lARN := ls.Listeners[0].ListenerArn

	var rules struct {
		Rules []struct {
			RuleArn, Priority string
			IsDefault         bool
		}
	}
	c.ok(&rules, "create-rule", "--listener-arn", lARN, "--priority", "10", "--conditions", "Field=path-pattern,Values=/api/*",
		"--actions", "Type=forward,TargetGroupArn="+tg.TargetGroupArn)
	ruleARN := rules.Rules[0].RuleArn
	c.ok(nil, "create-rule", "--listener-arn", lARN, "--priority", "20",
		"--conditions", `[{"Field":"path-pattern","PathPatternConfig":{"Values":["/static/*","/img/*"]}}]`,
		"--actions", `[{"Type":"fixed-response","FixedResponseConfig":{"StatusCode":"404","ContentType":"text/plain","MessageBody":"nope"}}]`)
	c.fails("PriorityInUse", "create-rule", "--listener-arn", lARN, "--priority", "20", "--conditions", "Field=path-pattern,Values=/x",
		"--actions", "Type=forward,TargetGroupArn="+tg.TargetGroupArn)
	c.ok(nil, "set-rule-priorities", "--rule-priorities", "RuleArn="+ruleARN+",Priority=5")
	c.ok(&rules, "describe-rules", "--listener-arn", lARN)
	if len(rules.Rules) != 3 || rules.Rules[0].Priority != "5" || rules.Rules[1].Priority != "20" || !rules.Rules[2].IsDefault {
		t.Errorf("describe-rules: %+v", rules)
	}
	if body, err := get(fmt.Sprintf("http://127.0.0.1:%d/static/a", port)); err != nil || body != "nope" {
		t.Errorf("fixed-response rule: %q, %v", body, err)
	}

	var health struct {
		TargetHealthDescriptions []struct {
			Target       struct{ Id string }
			TargetHealth struct{ State, Reason string }
		}
	}
	c.ok(&health, "describe-target-health", "--target-group-arn", tg.TargetGroupArn)
	if len(health.TargetHealthDescriptions) != 2 {
		t.Errorf("describe-target-health: %+v", health)
	}
	// Health checks run (every 5 s here); the CLI's waiter sees both healthy.
	c.ok(nil, "wait", "target-in-service", "--target-group-arn", tg.TargetGroupArn)
	c.ok(&health, "describe-target-health", "--target-group-arn", tg.TargetGroupArn)
	for _, d := range health.TargetHealthDescriptions {
		if d.TargetHealth.State != "healthy" {
			t.Errorf("after wait target-in-service: %+v", health)
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/api/x", port)
	seen := map[string]bool{}
	for range 4 {
		body, err := get(url)
		if err != nil {
			t.Fatal(err)
		}
		seen[body] = true
	}
	if !seen["A"] || !seen["B"] {
		t.Errorf("requests through the CLI-made listener reached %v, want A and B", seen)
	}

	var attrs struct{ Attributes []struct{ Key, Value string } }
	c.ok(&attrs, "modify-load-balancer-attributes", "--load-balancer-arn", lb.LoadBalancerArn, "--attributes", "Key=idle_timeout.timeout_seconds,Value=120")
	c.ok(&attrs, "describe-load-balancer-attributes", "--load-balancer-arn", lb.LoadBalancerArn)
	found := false
	for _, a := range attrs.Attributes {
		found = found || a.Key == "idle_timeout.timeout_seconds" && a.Value == "120"
	}
	if !found {
		t.Errorf("idle timeout not 120 after modify: %+v", attrs)
	}

	// Expected failures carry AWS's codes.
	c.fails("ResourceInUse", "delete-target-group", "--target-group-arn", tg.TargetGroupArn)
	c.fails("ValidationError", "modify-load-balancer-attributes", "--load-balancer-arn", lb.LoadBalancerArn, "--attributes", "Key=idle_timeout.timeout_seconds,Value=99999")
	c.fails("ValidationError", "create-target-group", "--name", "bad_name", "--protocol", "HTTP", "--port", "80", "--vpc-id", "vpc-1")
	c.fails("LoadBalancerNotFound", "describe-load-balancers", "--load-balancer-arns", "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/nope/0123456789abcdef")
	c.ok(&tgs, "create-target-group", "--name", "other-tg", "--protocol", "HTTP", "--port", "80", "--vpc-id", "vpc-1")
	other := tgs.TargetGroups[0].TargetGroupArn
	c.fails("DuplicateListener", "create-listener", "--load-balancer-arn", lb.LoadBalancerArn, "--protocol", "HTTP", "--port", fmt.Sprint(port),
		"--default-actions", "Type=forward,TargetGroupArn="+other)
	c.ok(nil, "delete-target-group", "--target-group-arn", other)

	c.ok(nil, "deregister-targets", "--target-group-arn", tg.TargetGroupArn, "--targets", "Id="+hostA+",Port="+portA)
	c.ok(&health, "describe-target-health", "--target-group-arn", tg.TargetGroupArn, "--targets", "Id="+hostA+",Port="+portA)
	if len(health.TargetHealthDescriptions) != 1 || health.TargetHealthDescriptions[0].TargetHealth.State != "draining" {
		t.Errorf("deregistered target: %+v", health)
	}

	c.ok(nil, "add-tags", "--resource-arns", lb.LoadBalancerArn, tg.TargetGroupArn, "--tags", "Key=team,Value=platform")
	var tags struct {
		TagDescriptions []struct {
			ResourceArn string
			Tags        []struct{ Key, Value string }
		}
	}
	c.ok(&tags, "describe-tags", "--resource-arns", lb.LoadBalancerArn, tg.TargetGroupArn)
	if len(tags.TagDescriptions) != 2 || len(tags.TagDescriptions[0].Tags) != 2 || len(tags.TagDescriptions[1].Tags) != 1 {
		t.Errorf("describe-tags: %+v", tags)
	}
	var pols struct{ SslPolicies []struct{ Name string } }
	c.ok(&pols, "describe-ssl-policies")
	if len(pols.SslPolicies) == 0 {
		t.Error("describe-ssl-policies listed none")
	}

	// HTTPS: certificates are PEM files in DATA-DIR/certificates, named by
	// their ARN.
	certDir := filepath.Join(dir, "data", "certificates")
	for name, host := range map[string]string{"web": "web.example.test", "api": "api.example.test"} {
		writeCertificate(t, certDir, name, host)
	}
	certARN := func(name string) string { return "CertificateArn=arn:aws:iam::000000000000:server-certificate/" + name }
	tlsPort := testutil.FreePort(t)
	var tlsL struct {
		Listeners []struct {
			ListenerArn, SslPolicy string
			Certificates           []struct{ CertificateArn string }
		}
	}
	c.fails("CertificateNotFound", "create-listener", "--load-balancer-arn", lb.LoadBalancerArn, "--protocol", "HTTPS", "--port", fmt.Sprint(tlsPort),
		"--certificates", certARN("missing"), "--default-actions", "Type=forward,TargetGroupArn="+tg.TargetGroupArn)
	c.ok(&tlsL, "create-listener", "--load-balancer-arn", lb.LoadBalancerArn, "--protocol", "HTTPS", "--port", fmt.Sprint(tlsPort),
		"--certificates", certARN("web"), "--default-actions", "Type=forward,TargetGroupArn="+tg.TargetGroupArn)
	if l := tlsL.Listeners[0]; l.SslPolicy != "ELBSecurityPolicy-2016-08" || len(l.Certificates) != 1 {
		t.Errorf("create-listener HTTPS: %+v", l)
	}
	tlsARN := tlsL.Listeners[0].ListenerArn
	c.ok(nil, "add-listener-certificates", "--listener-arn", tlsARN, "--certificates", certARN("api"))
	var lcs struct {
		Certificates []struct {
			CertificateArn string
			IsDefault      bool
		}
	}
	c.ok(&lcs, "describe-listener-certificates", "--listener-arn", tlsARN)
	if len(lcs.Certificates) != 2 || !lcs.Certificates[0].IsDefault || lcs.Certificates[1].IsDefault {
		t.Errorf("describe-listener-certificates: %+v", lcs)
	}
	c.fails("OperationNotPermitted", "remove-listener-certificates", "--listener-arn", tlsARN, "--certificates", certARN("web"))
	for sni, want := range map[string]string{"api.example.test": "api.example.test", "other.example.test": "web.example.test"} {
		conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort), &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS to the CLI-made HTTPS listener: %v", err)
		}
		fmt.Fprintf(conn, "GET /api/x HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", sni)
		reply, _ := io.ReadAll(conn)
		conn.Close()
		if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != want || !strings.HasPrefix(string(reply), "HTTP/1.1 200") {
			t.Errorf("SNI %s: certificate %v, reply %.40q", sni, got, reply)
		}
	}
	c.ok(nil, "delete-listener", "--listener-arn", tlsARN)

	c.ok(nil, "delete-listener", "--listener-arn", lARN)
	c.ok(nil, "delete-load-balancer", "--load-balancer-arn", lb.LoadBalancerArn)
	c.ok(nil, "wait", "load-balancers-deleted", "--load-balancer-arns", lb.LoadBalancerArn)
	c.ok(nil, "delete-target-group", "--target-group-arn", tg.TargetGroupArn)
	c.ok(&lbs, "describe-load-balancers")
	if len(lbs.LoadBalancers) != 0 {
		t.Errorf("load balancers left: %+v", lbs)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.stderr.String())
	}
}

// TestRuleTransformsWithAWSCLI: a rule with a RegexValues condition and both
// transforms, written as the AWS documentation's CLI examples write them,
// is created and described through the AWS CLI and rewrites a real request.
func TestRuleTransformsWithAWSCLI(t *testing.T) {
	if raceEnabled {
		t.Skip("skipped under -race; go test without -race runs it")
	}
	// Most of its time is the CLI's own start-up: overlap it with the other
	// CLI test.
	t.Parallel()
	c, _, _ := cliNode(t)
	if out, _ := c.run("create-rule", "help"); !strings.Contains(out, "--transforms") {
		t.Skip("this AWS CLI predates rule transforms and RegexValues (2025): its elbv2 model has no --transforms (Debian bookworm ships 2.9.19; aws-cli 1.45 and 2.31 have it)")
	}
	echo := startEcho(t)
	port := testutil.FreePort(t)
	var lbs struct {
		LoadBalancers []struct{ LoadBalancerArn string }
	}
	c.ok(&lbs, "create-load-balancer", "--name", "web", "--subnets", "subnet-aaaa1111", "subnet-bbbb2222")
	var tgs struct {
		TargetGroups []struct{ TargetGroupArn string }
	}
	c.ok(&tgs, "create-target-group", "--name", "echo", "--protocol", "HTTP", "--port", "80", "--vpc-id", "vpc-1", "--target-type", "ip")
	tg := tgs.TargetGroups[0].TargetGroupArn
	host, tport, _ := strings.Cut(echo, ":")
	c.ok(nil, "register-targets", "--target-group-arn", tg, "--targets", "Id="+host+",Port="+tport)
	var ls struct {
		Listeners []struct{ ListenerArn string }
	}
	c.ok(&ls, "create-listener", "--load-balancer-arn", lbs.LoadBalancers[0].LoadBalancerArn, "--protocol", "HTTP", "--port", fmt.Sprint(port),
		"--default-actions", `Type=fixed-response,FixedResponseConfig={StatusCode=404,MessageBody=default}`)
	var rules struct {
		Rules []struct {
			RuleArn    string
			Conditions []struct {
				Field             string
				PathPatternConfig struct{ RegexValues []string }
			}
			Transforms []struct {
				Type                    string
				HostHeaderRewriteConfig struct {
					Rewrites []struct{ Regex, Replace string }
				}
				UrlRewriteConfig struct {
					Rewrites []struct{ Regex, Replace string }
				}
			}
		}
	}
	c.ok(&rules, "create-rule", "--listener-arn", ls.Listeners[0].ListenerArn, "--priority", "10",
		"--conditions", `[{"Field":"path-pattern","PathPatternConfig":{"RegexValues":["^/api/v[0-9]+/"]}}]`,
		"--actions", "Type=forward,TargetGroupArn="+tg,
		"--transforms", `[{"Type":"url-rewrite","UrlRewriteConfig":{"Rewrites":[{"Regex":"^/api/(v[0-9]+)/(.*)$","Replace":"/$2?version=$1"}]}},`+
			`{"Type":"host-header-rewrite","HostHeaderRewriteConfig":{"Rewrites":[{"Regex":"^mywebsite-(.+).com$","Replace":"internal.dev.$1.myweb.com"}]}}]`)
	r := rules.Rules[0]
	if len(r.Conditions) != 1 || len(r.Conditions[0].PathPatternConfig.RegexValues) != 1 || len(r.Transforms) != 2 ||
		r.Transforms[0].UrlRewriteConfig.Rewrites[0].Replace != "/$2?version=$1" ||
		r.Transforms[1].HostHeaderRewriteConfig.Rewrites[0].Replace != "internal.dev.$1.myweb.com" {
		t.Errorf("create-rule output: %+v", r)
	}
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/v2/users/7", port), nil)
	req.Host = "mywebsite-example.com"
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("/users/7?version=v2 internal.dev.example.myweb.com:%d", port); string(b) != want {
		t.Errorf("through the CLI-made rule the target got %q, want %q", b, want)
	}
	c.fails("ValidationError", "create-rule", "--listener-arn", ls.Listeners[0].ListenerArn, "--priority", "11",
		"--conditions", `[{"Field":"path-pattern","PathPatternConfig":{"RegexValues":["^/(a"]}}]`, "--actions", "Type=forward,TargetGroupArn="+tg)
	c.ok(nil, "modify-rule", "--rule-arn", r.RuleArn, "--reset-transforms")
	var after struct{ Rules []struct{ Transforms []any } }
	c.ok(&after, "describe-rules", "--rule-arns", r.RuleArn)
	if len(after.Rules) != 1 || len(after.Rules[0].Transforms) != 0 {
		t.Errorf("describe-rules after --reset-transforms: %+v", after)
	}
}

// startEcho runs a target that answers with the request target and Host it
// received ("TARGET HOST") and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	return serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.RequestURI, r.Host)
	}))
}
