package elbv2_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestTypedErrors checks that each error surfaces as the SDK's typed error (or,
// where the SDK models none for the operation, as an API error with AWS's
// code), and that a rejected request changes nothing.
func TestTypedErrors(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 2})
	c := e.client
	lbARN, tgARN := createLBAndTG(t, e, "web", "web-tg")
	const missingLB = "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/nope/0123456789abcdef"
	const missingTG = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/nope/0123456789abcdef"
	const missingL = "arn:aws:elasticloadbalancing:us-east-1:000000000000:listener/app/nope/0123456789abcdef/0123456789abcdef"

	_, err := c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{missingLB}})
	wantAPIError[*types.LoadBalancerNotFoundException](t, "DescribeLoadBalancers unknown ARN", err)
	_, err = c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{Names: []string{"nope"}})
	if nf := wantAPIError[*types.LoadBalancerNotFoundException](t, "DescribeLoadBalancers unknown name", err); !strings.Contains(nf.ErrorMessage(), "nope") {
		t.Errorf("message %q does not name the load balancer", nf.ErrorMessage())
	}
	_, err = c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web"), Scheme: types.LoadBalancerSchemeEnumInternal})
	wantAPIError[*types.DuplicateLoadBalancerNameException](t, "CreateLoadBalancer same name, other settings", err)
	again, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web"), Subnets: []string{"subnet-aaaa1111", "subnet-bbbb2222"}})
	if err != nil || *again.LoadBalancers[0].LoadBalancerArn != lbARN {
		t.Errorf("CreateLoadBalancer with identical settings is not idempotent: %v", err)
	}
	_, err = c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("bad_name")})
	wantCode(t, "CreateLoadBalancer bad name", err, "ValidationError")
	_, err = c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String(strings.Repeat("a", 33))})
	wantCode(t, "CreateLoadBalancer long name", err, "ValidationError")
	_, err = c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("tagged"),
		Tags: []types.Tag{{Key: aws.String("k"), Value: aws.String("1")}, {Key: aws.String("k"), Value: aws.String("2")}}})
	wantAPIError[*types.DuplicateTagKeysException](t, "CreateLoadBalancer duplicate tag keys", err)

	_, err = c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("web-tg"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(9090), VpcId: aws.String("vpc-1")})
	wantAPIError[*types.DuplicateTargetGroupNameException](t, "CreateTargetGroup same name, other port", err)
	_, err = c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("bad_name"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1")})
	wantCode(t, "CreateTargetGroup bad name", err, "ValidationError")
	_, err = c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("hc"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1"),
		HealthCheckIntervalSeconds: aws.Int32(400)})
	wantCode(t, "CreateTargetGroup interval 400", err, "ValidationError")
	_, err = c.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String("hc"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1"),
		HealthCheckIntervalSeconds: aws.Int32(5), HealthCheckTimeoutSeconds: aws.Int32(5)})
	wantCode(t, "CreateTargetGroup timeout = interval", err, "ValidationError")

	_, err = c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(missingTG), Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1")}}})
	wantAPIError[*types.TargetGroupNotFoundException](t, "RegisterTargets unknown group", err)
	_, err = c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: []types.TargetDescription{{Id: aws.String("i-0123456789abcdef0")}}})
	wantAPIError[*types.InvalidTargetException](t, "RegisterTargets instance id", err)
	_, err = c.DeregisterTargets(ctx(t), &elb.DeregisterTargetsInput{TargetGroupArn: aws.String(tgARN), Targets: []types.TargetDescription{{Id: aws.String("127.0.0.1"), Port: aws.Int32(1)}}})
	wantAPIError[*types.InvalidTargetException](t, "DeregisterTargets unregistered", err)

	_, err = c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(missingLB), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(tgARN)})
	wantAPIError[*types.LoadBalancerNotFoundException](t, "CreateListener unknown load balancer", err)
	_, err = c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(missingTG)})
	wantAPIError[*types.TargetGroupNotFoundException](t, "CreateListener unknown target group", err)
	_, err = c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(e.ports[0])), DefaultActions: []types.Action{}})
	wantCode(t, "CreateListener no action", err, "ValidationError")
	// None of those created a listener.
	ls, err := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil || len(ls.Listeners) != 0 {
		t.Fatalf("listeners after failed creates: %+v, %v", ls, err)
	}
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	lARN := *l.Listeners[0].ListenerArn
	same, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(tgARN)})
	if err != nil || *same.Listeners[0].ListenerArn != lARN {
		t.Errorf("identical CreateListener is not idempotent: %v", err)
	}
	_, tg2 := createLBAndTG(t, e, "other", "other-tg")
	_, err = c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(tg2)})
	wantAPIError[*types.DuplicateListenerException](t, "CreateListener port in use on the load balancer", err)
	_, err = c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumTcp, Port: aws.Int32(int32(e.ports[1])), DefaultActions: forward(tgARN)})
	wantAPIError[*types.UnsupportedProtocolException](t, "CreateListener TCP", err)
	_, err = c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{ListenerArns: []string{missingL}})
	wantAPIError[*types.ListenerNotFoundException](t, "DescribeListeners unknown", err)
	_, err = c.DeleteListener(ctx(t), &elb.DeleteListenerInput{ListenerArn: aws.String(missingL)})
	wantAPIError[*types.ListenerNotFoundException](t, "DeleteListener unknown", err)
	_, err = c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: aws.String(lARN), DefaultActions: []types.Action{}})
	wantCode(t, "ModifyListener empty actions", err, "ValidationError")

	_, err = c.DeleteTargetGroup(ctx(t), &elb.DeleteTargetGroupInput{TargetGroupArn: aws.String(tgARN)})
	if ae := wantAPIError[*types.ResourceInUseException](t, "DeleteTargetGroup in use", err); !strings.Contains(ae.ErrorMessage(), tgARN) {
		t.Errorf("message %q does not name the group", ae.ErrorMessage())
	}

	// Attributes: all or nothing.
	_, err = c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN), Attributes: []types.LoadBalancerAttribute{
		{Key: aws.String("routing.http2.enabled"), Value: aws.String("false")},
		{Key: aws.String("idle_timeout.timeout_seconds"), Value: aws.String("99999")},
	}})
	wantCode(t, "ModifyLoadBalancerAttributes out of range", err, "ValidationError")
	_, err = c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN), Attributes: []types.LoadBalancerAttribute{
		{Key: aws.String("foo.bar"), Value: aws.String("1")},
	}})
	wantCode(t, "ModifyLoadBalancerAttributes unknown key", err, "ValidationError")
	attrs, err := c.DescribeLoadBalancerAttributes(ctx(t), &elb.DescribeLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil || attr(attrs.Attributes, "routing.http2.enabled") != "true" || attr(attrs.Attributes, "idle_timeout.timeout_seconds") != "60" {
		t.Errorf("a rejected modify changed attributes: %v", err)
	}
	_, err = c.ModifyTargetGroupAttributes(ctx(t), &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tgARN), Attributes: []types.TargetGroupAttribute{
		{Key: aws.String("waf.fail_open.enabled"), Value: aws.String("true")},
	}})
	wantCode(t, "ModifyTargetGroupAttributes load balancer key", err, "ValidationError")
	// A target keep-alive longer than the load balancer's idle timeout breaks
	// the ordering rule; the API says so instead of accepting it.
	_, err = c.ModifyTargetGroupAttributes(ctx(t), &elb.ModifyTargetGroupAttributesInput{TargetGroupArn: aws.String(tgARN), Attributes: []types.TargetGroupAttribute{
		{Key: aws.String("target_keep_alive.idle_timeout_seconds"), Value: aws.String("120")},
	}})
	wantAPIError[*types.InvalidConfigurationRequestException](t, "target idle timeout above the load balancer's", err)

	// Deletion protection.
	if _, err := c.ModifyLoadBalancerAttributes(ctx(t), &elb.ModifyLoadBalancerAttributesInput{LoadBalancerArn: aws.String(lbARN), Attributes: []types.LoadBalancerAttribute{
		{Key: aws.String("deletion_protection.enabled"), Value: aws.String("true")}}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteLoadBalancer(ctx(t), &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(lbARN)})
	wantAPIError[*types.OperationNotPermittedException](t, "DeleteLoadBalancer with deletion protection", err)
	// Deleting what does not exist succeeds, as on AWS.
	if _, err := c.DeleteLoadBalancer(ctx(t), &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(missingLB)}); err != nil {
		t.Errorf("DeleteLoadBalancer of an unknown ARN: %v", err)
	}
	_, err = c.DescribeSSLPolicies(ctx(t), &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-Nope"}})
	wantAPIError[*types.SSLPolicyNotFoundException](t, "DescribeSSLPolicies unknown", err)
	pol, err := c.DescribeSSLPolicies(ctx(t), &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-2016-08"}})
	if err != nil || len(pol.SslPolicies) != 1 || len(pol.SslPolicies[0].SslProtocols) != 3 || len(pol.SslPolicies[0].Ciphers) == 0 {
		t.Errorf("DescribeSSLPolicies: %+v, %v", pol, err)
	}
	_, err = c.DescribeRules(ctx(t), &elb.DescribeRulesInput{RuleArns: []string{"arn:aws:elasticloadbalancing:us-east-1:000000000000:listener-rule/app/web/0123456789abcdef/0123456789abcdef/0123456789abcdef"}})
	wantAPIError[*types.RuleNotFoundException](t, "DescribeRules unknown", err)
}

// TestCreateListenerOnBusyPort: a port the node cannot bind is an error that
// changes nothing.
func TestCreateListenerOnBusyPort(t *testing.T) {
	e := startEnv(t, envOptions{})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	lbARN, tgARN := createLBAndTG(t, e, "web", "web-tg")
	_, err = e.client.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(tgARN)})
	ae := wantAPIError[*types.InvalidConfigurationRequestException](t, "CreateListener on a busy port", err)
	if !strings.Contains(ae.ErrorMessage(), "address already in use") {
		t.Errorf("message %q does not give the reason", ae.ErrorMessage())
	}
	ls, err := e.client.DescribeListeners(ctx(t), &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	if err != nil || len(ls.Listeners) != 0 {
		t.Errorf("listeners after a failed bind: %+v, %v", ls, err)
	}
}

func TestPagination(t *testing.T) {
	e := startEnv(t, envOptions{})
	var want []string
	for i := range 7 {
		name := fmt.Sprintf("tg-%d", i)
		if _, err := e.client.CreateTargetGroup(ctx(t), &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String("vpc-1")}); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	// Delete one in the middle: the markers stay valid.
	out, _ := e.client.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"tg-3"}})
	if _, err := e.client.DeleteTargetGroup(ctx(t), &elb.DeleteTargetGroupInput{TargetGroupArn: out.TargetGroups[0].TargetGroupArn}); err != nil {
		t.Fatal(err)
	}
	want = append(want[:3], want[4:]...)
	p := elb.NewDescribeTargetGroupsPaginator(e.client, &elb.DescribeTargetGroupsInput{PageSize: aws.Int32(2)})
	var got []string
	pages := 0
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tg := range pg.TargetGroups {
			got = append(got, *tg.TargetGroupName)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != 3 {
		t.Errorf("paginated %v in %d pages, want %v in 3", got, pages, want)
	}
	_, err := e.client.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{PageSize: aws.Int32(401)})
	wantCode(t, "PageSize 401", err, "ValidationError")
	_, err = e.client.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Marker: aws.String("garbage")})
	wantCode(t, "garbage marker", err, "ValidationError")
}

// signedPost sends a raw, SigV4-signed form POST and returns status and body.
func signedPost(t *testing.T, url, body, keyID, secret string, at time.Time) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "elasticloadbalancing", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("response without x-amzn-RequestId: %s", b)
	}
	return resp.StatusCode, string(b)
}

var codeRE = regexp.MustCompile(`<Code>([^<]*)</Code>`)

func errorCode(body string) string {
	if m := codeRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func TestSigV4(t *testing.T) {
	e := startEnv(t, envOptions{})
	const body = "Action=DescribeLoadBalancers&Version=2015-12-01"
	now := time.Now()
	if code, b := signedPost(t, e.srv.URL, body, testKeyID, testSecret, now); code != 200 || !strings.Contains(b, "<DescribeLoadBalancersResult>") {
		t.Fatalf("good signature: %d %s", code, b)
	}
	for _, c := range []struct {
		name, key, secret string
		at                time.Time
		status            int
		code, msg         string
	}{
		{"wrong secret", testKeyID, "wrong", now, 403, "SignatureDoesNotMatch", "signature we calculated does not match"},
		{"unknown key", "AKIDUNKNOWN", testSecret, now, 403, "InvalidClientTokenId", "security token included in the request is invalid"},
		{"expired", testKeyID, testSecret, now.Add(-20 * time.Minute), 403, "SignatureDoesNotMatch", "Signature expired"},
		{"future", testKeyID, testSecret, now.Add(20 * time.Minute), 403, "SignatureDoesNotMatch", "Signature not yet current"},
	} {
		code, b := signedPost(t, e.srv.URL, body, c.key, c.secret, c.at)
		if code != c.status || errorCode(b) != c.code || !strings.Contains(b, c.msg) || !strings.Contains(b, "<Type>Sender</Type>") {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, b, c.status, c.code)
		}
	}
	// The SDK sees the same codes.
	_, err := newClient(e.srv.URL, testKeyID, "wrong").DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{})
	wantCode(t, "SDK with a wrong secret", err, "SignatureDoesNotMatch")
	// Unsigned.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, b := send(t, req); code != 403 || errorCode(b) != "MissingAuthenticationToken" {
		t.Errorf("unsigned: %d %s", code, b)
	}
	// Tampered body: signed for one body, sent with another.
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(body))
	sum := sha256.Sum256([]byte(body))
	_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, req, hex.EncodeToString(sum[:]), "elasticloadbalancing", "us-east-1", now)
	req.Body = io.NopCloser(strings.NewReader("Action=DeleteLoadBalancer&Version=2015-12-01"))
	req.ContentLength = int64(len("Action=DeleteLoadBalancer&Version=2015-12-01"))
	req.Header.Set("Content-Length", fmt.Sprint(req.ContentLength))
	if code, b := send(t, req); code != 403 || errorCode(b) != "SignatureDoesNotMatch" {
		t.Errorf("tampered body: %d %s", code, b)
	}
	req, _ = http.NewRequest(http.MethodPost, e.srv.URL+"/", strings.NewReader(body))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
	if code, b := send(t, req); code != 400 || errorCode(b) != "IncompleteSignature" {
		t.Errorf("malformed Authorization: %d %s", code, b)
	}
}

// TestMalformedRequests: bad input gets AWS's errors, never a crash or a 5xx.
func TestMalformedRequests(t *testing.T) {
	e := startEnv(t, envOptions{})
	now := time.Now()
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{"Action=FlyToTheMoon&Version=2015-12-01", 400, "InvalidAction"},
		{"Version=2015-12-01", 400, "MissingAction"},
		{"Action=DescribeLoadBalancers&Version=2012-06-01", 400, "InvalidAction"},
		{"Action=DescribeLoadBalancers&Version=2015-12-01&Marker=%zz", 400, "ValidationError"},
		{"Action=CreateLoadBalancer&Version=2015-12-01", 400, "ValidationError"},
		{"Action=CreateTargetGroup&Version=2015-12-01&Name=x&Port=http&Protocol=HTTP", 400, "ValidationError"},
		{"Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn:aws:elasticloadbalancing:::targetgroup", 400, "TargetGroupNotFound"},
		{"Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=0", 400, "ValidationError"},
		{"Action=DescribeLoadBalancers&Version=2015-12-01&LoadBalancerArns.member.1=x&Names.member.1=y", 400, "ValidationError"},
		{"Action=DescribeLoadBalancers&Version=2015-12-01&Action=DeleteLoadBalancer", 400, "ValidationError"},
		{"Action=AddTags&Version=2015-12-01&ResourceArns.member.1=not-an-arn&Tags.member.1.Key=a", 400, "ValidationError"},
		{"Action=DescribeTags&Version=2015-12-01", 400, "ValidationError"},
	} {
		code, b := signedPost(t, e.srv.URL, c.body, testKeyID, testSecret, now)
		if code != c.status || errorCode(b) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.body, code, b, c.status, c.code)
		}
	}
	big := "Action=DescribeLoadBalancers&Version=2015-12-01&x=" + strings.Repeat("a", 300<<10)
	if code, b := signedPost(t, e.srv.URL, big, testKeyID, testSecret, now); code != 413 || errorCode(b) != "ValidationError" {
		t.Errorf("oversized body: %d %.200s", code, b)
	}
	resp, err := http.Get(e.srv.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("healthz beside the API: %v %v", resp, err)
	}
	if resp != nil {
		resp.Body.Close()
	}
}
