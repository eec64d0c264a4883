package elbv2_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
)

// TestTargetGroupProtocols: HTTPS, HTTP2 and GRPC target groups round-trip
// with ALB's defaults and validation, and reach the data plane: an HTTPS
// group is spoken to over TLS, an HTTP2 group over HTTP/2.
func TestTargetGroupProtocols(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 2})
	c := e.client
	create := func(name string, proto types.ProtocolEnum, version string, matcher *types.Matcher, path *string) (*types.TargetGroup, error) {
		in := &elb.CreateTargetGroupInput{Name: aws.String(name), Protocol: proto, Port: aws.Int32(443), VpcId: aws.String("vpc-1"),
			TargetType: types.TargetTypeEnumIp, Matcher: matcher, HealthCheckPath: path}
		if version != "" {
			in.ProtocolVersion = aws.String(version)
		}
		out, err := c.CreateTargetGroup(ctx(t), in)
		if err != nil {
			return nil, err
		}
		return &out.TargetGroups[0], nil
	}

	// Defaults as ALB's.
	httpsTG, err := create("https-tg", types.ProtocolEnumHttps, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if httpsTG.Protocol != types.ProtocolEnumHttps || aws.ToString(httpsTG.ProtocolVersion) != "HTTP1" || aws.ToString(httpsTG.Matcher.HttpCode) != "200" {
		t.Errorf("HTTPS group: %+v", httpsTG)
	}
	h2TG, err := create("h2-tg", types.ProtocolEnumHttp, "HTTP2", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(h2TG.ProtocolVersion) != "HTTP2" || aws.ToString(h2TG.Matcher.HttpCode) != "200" || h2TG.Matcher.GrpcCode != nil {
		t.Errorf("HTTP2 group: %+v %+v", h2TG, h2TG.Matcher)
	}
	grpcTG, err := create("grpc-tg", types.ProtocolEnumHttps, "GRPC", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(grpcTG.ProtocolVersion) != "GRPC" || aws.ToString(grpcTG.Matcher.GrpcCode) != "12" || grpcTG.Matcher.HttpCode != nil ||
		aws.ToString(grpcTG.HealthCheckPath) != "/AWS.ALB/healthcheck" {
		t.Errorf("GRPC group: %+v %+v", grpcTG, grpcTG.Matcher)
	}
	// Same settings again: idempotent; different: duplicate.
	if again, err := create("grpc-tg", types.ProtocolEnumHttps, "GRPC", nil, nil); err != nil || aws.ToString(again.TargetGroupArn) != aws.ToString(grpcTG.TargetGroupArn) {
		t.Errorf("identical CreateTargetGroup: %v", err)
	}
	_, err = create("grpc-tg", types.ProtocolEnumHttps, "GRPC", &types.Matcher{GrpcCode: aws.String("0")}, nil)
	wantAPIError[*types.DuplicateTargetGroupNameException](t, "same name, other matcher", err)

	// Validation.
	_, err = create("bad1", types.ProtocolEnumHttp, "GRPC", &types.Matcher{HttpCode: aws.String("200")}, nil)
	wantCode(t, "HttpCode on a GRPC group", err, "ValidationError")
	_, err = create("bad2", types.ProtocolEnumHttp, "HTTP1", &types.Matcher{GrpcCode: aws.String("0")}, nil)
	wantCode(t, "GrpcCode on an HTTP1 group", err, "ValidationError")
	for _, code := range []string{"100", "-1", "5-2", "1,,2", "a", "07"} {
		_, err = create("bad3", types.ProtocolEnumHttp, "GRPC", &types.Matcher{GrpcCode: aws.String(code)}, nil)
		wantCode(t, "GrpcCode "+code, err, "ValidationError")
	}
	_, err = create("bad4", types.ProtocolEnumHttp, "HTTP3", nil, nil)
	wantCode(t, "protocol version HTTP3", err, "ValidationError")
	_, err = create("bad5", types.ProtocolEnumTcp, "", nil, nil)
	wantCode(t, "TCP group", err, "UnsupportedProtocol")
	custom, err := create("grpc-custom", types.ProtocolEnumHttp, "GRPC", &types.Matcher{GrpcCode: aws.String("0,12")}, aws.String("/pkg.Svc/Check"))
	if err != nil || aws.ToString(custom.Matcher.GrpcCode) != "0,12" || aws.ToString(custom.HealthCheckPath) != "/pkg.Svc/Check" {
		t.Fatalf("GRPC group with a matcher: %+v %v", custom, err)
	}
	for _, n := range []string{"bad1", "bad2", "bad3", "bad4", "bad5"} {
		_, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{n}})
		wantAPIError[*types.TargetGroupNotFoundException](t, "refused group "+n+" was created", err)
	}

	// ModifyTargetGroup keeps the rules.
	mo, err := c.ModifyTargetGroup(ctx(t), &elb.ModifyTargetGroupInput{TargetGroupArn: grpcTG.TargetGroupArn, Matcher: &types.Matcher{GrpcCode: aws.String("0-99")}})
	if err != nil || aws.ToString(mo.TargetGroups[0].Matcher.GrpcCode) != "0-99" {
		t.Fatalf("ModifyTargetGroup GrpcCode: %+v %v", mo, err)
	}
	_, err = c.ModifyTargetGroup(ctx(t), &elb.ModifyTargetGroupInput{TargetGroupArn: grpcTG.TargetGroupArn, Matcher: &types.Matcher{HttpCode: aws.String("200")}})
	wantCode(t, "ModifyTargetGroup HttpCode on GRPC", err, "ValidationError")
	mo, err = c.ModifyTargetGroup(ctx(t), &elb.ModifyTargetGroupInput{TargetGroupArn: grpcTG.TargetGroupArn, HealthCheckIntervalSeconds: aws.Int32(10)})
	if err != nil || aws.ToString(mo.TargetGroups[0].Matcher.GrpcCode) != "0-99" {
		t.Fatalf("ModifyTargetGroup keeps GrpcCode: %+v %v", mo, err)
	}
	dg, err := c.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{TargetGroupArns: []string{*grpcTG.TargetGroupArn, *h2TG.TargetGroupArn, *httpsTG.TargetGroupArn}})
	if err != nil || aws.ToString(dg.TargetGroups[0].Matcher.GrpcCode) != "0-99" || aws.ToString(dg.TargetGroups[1].ProtocolVersion) != "HTTP2" ||
		dg.TargetGroups[2].Protocol != types.ProtocolEnumHttps {
		t.Fatalf("DescribeTargetGroups: %+v %v", dg, err)
	}

	// An HTTP listener cannot forward to HTTP2 or GRPC groups, as on ALB.
	lb, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("proto-lb"), Subnets: []string{"subnet-a", "subnet-b"}})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	_, err = c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lbARN, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(*h2TG.TargetGroupArn)})
	wantAPIError[*types.IncompatibleProtocolsException](t, "HTTP listener to an HTTP2 group", err)

	// An HTTPS group is reached over TLS.
	tlsTarget := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v", r.TLS != nil)
	}))
	defer tlsTarget.Close()
	register(t, c, *httpsTG.TargetGroupArn, tlsTarget.Listener.Addr().String())
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lbARN, Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(*httpsTG.TargetGroupArn)}); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, e.ports[0], "/"); code != 200 || body != "tls=true" {
		t.Errorf("through the HTTPS group: %d %q", code, body)
	}

	// An HTTP2 group behind an HTTPS listener is reached over HTTP/2 (h2c).
	h2Target := httptest.NewServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s", r.Proto)
	}), &http2.Server{}))
	defer h2Target.Close()
	register(t, c, *h2TG.TargetGroupArn, h2Target.Listener.Addr().String())
	pool := testCerts(t, e, map[string][]string{"site": {"site.example.test"}})
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: lbARN, Protocol: types.ProtocolEnumHttps,
		Port: aws.Int32(int32(e.ports[1])), Certificates: []types.Certificate{{CertificateArn: aws.String(iamCert("site"))}},
		DefaultActions: forward(*h2TG.TargetGroupArn)}); err != nil {
		t.Fatal(err)
	}
	client := httpsClient(pool, 0)
	client.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	client.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"h2"}
	resp, err := client.Get(fmt.Sprintf("https://site.example.test:%d/", e.ports[1]))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "proto=HTTP/2.0" {
		t.Errorf("through the HTTP2 group: %d %q (client spoke %s)", resp.StatusCode, b, resp.Proto)
	}
	// Back to HTTP is refused while it forwards to the HTTP2 group.
	dl, err := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{LoadBalancerArn: lbARN})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: dl.Listeners[1].ListenerArn, Protocol: types.ProtocolEnumHttp})
	wantAPIError[*types.IncompatibleProtocolsException](t, "HTTPS to HTTP with an HTTP2 group", err)
}

func register(t *testing.T, c *elb.Client, tgARN, addr string) {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(ap.Addr().String()), Port: aws.Int32(int32(ap.Port()))}}}); err != nil {
		t.Fatal(err)
	}
}
