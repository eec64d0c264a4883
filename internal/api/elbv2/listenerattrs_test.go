package elbv2_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestListenerHeaderAttributesWithSDK: the response header attributes set
// through ModifyListenerAttributes are on every response (the target's own
// value replaced, the load balancer's pages too), server.enabled false drops
// the load balancer's Server header, and bad values are refused with
// ValidationError naming the attribute, changing nothing.
func TestListenerHeaderAttributesWithSDK(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	port := e.ports[0]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Frame-Options", "ALLOWALL") // replaced by the listener's
		w.Header().Set("Server", "target/1.0")
		w.Header().Set("X-Target", "yes")
	}))
	t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	lbARN, tg := createLBAndTG(t, e, "web", "tg-a")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg),
		Targets: []types.TargetDescription{{Id: aws.String(ap.Addr().String()), Port: aws.Int32(int32(ap.Port()))}}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(tg)})
	if err != nil {
		t.Fatal(err)
	}
	lARN := l.Listeners[0].ListenerArn
	if _, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: lARN, Priority: aws.Int32(1), Conditions: pathRule("/fixed"),
		Actions: []types.Action{{Type: types.ActionTypeEnumFixedResponse, FixedResponseConfig: &types.FixedResponseActionConfig{StatusCode: aws.String("418"), MessageBody: aws.String("tea")}}}}); err != nil {
		t.Fatal(err)
	}
	headers := func(path string) http.Header {
		t.Helper()
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header
	}
	if h := headers("/"); h.Get("Strict-Transport-Security") != "" || h.Get("X-Frame-Options") != "ALLOWALL" {
		t.Fatalf("before any attribute: %v", h)
	}
	set := map[string]string{
		"routing.http.response.strict_transport_security.header_value":        "max-age=31536000; includeSubDomains; preload",
		"routing.http.response.access_control_allow_origin.header_value":      "https://app.example.com",
		"routing.http.response.access_control_allow_methods.header_value":     "GET, POST, OPTIONS",
		"routing.http.response.access_control_allow_headers.header_value":     "Content-Type, X-Api-Key",
		"routing.http.response.access_control_allow_credentials.header_value": "true",
		"routing.http.response.access_control_expose_headers.header_value":    "X-Request-Id",
		"routing.http.response.access_control_max_age.header_value":           "600",
		"routing.http.response.content_security_policy.header_value":          "default-src 'self'",
		"routing.http.response.x_content_type_options.header_value":           "nosniff",
		"routing.http.response.x_frame_options.header_value":                  "DENY",
		"routing.http.response.server.enabled":                                "false",
	}
	var attrs []types.ListenerAttribute
	for k, v := range set {
		attrs = append(attrs, types.ListenerAttribute{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.ModifyListenerAttributes(ctx(t), &elb.ModifyListenerAttributesInput{ListenerArn: lARN, Attributes: attrs}); err != nil {
		t.Fatalf("ModifyListenerAttributes: %v", err)
	}
	want := map[string]string{
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload", "Access-Control-Allow-Origin": "https://app.example.com",
		"Access-Control-Allow-Methods": "GET, POST, OPTIONS", "Access-Control-Allow-Headers": "Content-Type, X-Api-Key",
		"Access-Control-Allow-Credentials": "true", "Access-Control-Expose-Headers": "X-Request-Id", "Access-Control-Max-Age": "600",
		"Content-Security-Policy": "default-src 'self'", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	}
	for _, path := range []string{"/", "/fixed"} {
		h := headers(path)
		for k, v := range want {
			if got := h.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s = %q, want exactly %q", path, k, got, v)
			}
		}
		wantServer := map[string]string{"/": "target/1.0", "/fixed": ""}[path]
		if got := h.Get("Server"); got != wantServer {
			t.Errorf("%s: Server %q, want %q", path, got, wantServer)
		}
	}
	if h := headers("/"); h.Get("X-Target") != "yes" {
		t.Errorf("the target's other headers were not relayed: %v", h)
	}
	out, err := c.DescribeListenerAttributes(ctx(t), &elb.DescribeListenerAttributesInput{ListenerArn: lARN})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range out.Attributes {
		got[*a.Key] = *a.Value
	}
	for k, v := range set {
		if got[k] != v {
			t.Errorf("DescribeListenerAttributes %s = %q, want %q", k, got[k], v)
		}
	}

	for _, bad := range []struct{ key, value, msg string }{
		{"routing.http.response.x_frame_options.header_value", "ALLOW", "must be DENY, SAMEORIGIN or ALLOW-FROM"},
		{"routing.http.response.content_security_policy.header_value", "default-src 'self'\r\nX-Injected: 1", "control characters"},
		{"routing.http.response.strict_transport_security.header_value", "max-age=abc", "must start with max-age=SECONDS"},
		{"routing.http.response.access_control_allow_credentials.header_value", "false", "must be true"},
		{"routing.http.response.server.enabled", "no", "true or false"},
		{"routing.http.request.x_amzn_tls_version.header_name", "X Bad", "must be a header name"},
		{"routing.http.request.x_amzn_tls_version.header_name", "Host", "cannot be Host"},
		{"routing.http.response.x_frame_option.header_value", "DENY", "unknown listener attribute"},
	} {
		_, err := c.ModifyListenerAttributes(ctx(t), &elb.ModifyListenerAttributesInput{ListenerArn: lARN,
			Attributes: []types.ListenerAttribute{{Key: aws.String(bad.key), Value: aws.String(bad.value)}}})
		wantCode(t, bad.key+"="+bad.value, err, "ValidationError")
		if !strings.Contains(err.Error(), bad.key) || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s=%q: %v, want it to name the key and say %q", bad.key, bad.value, err, bad.msg)
		}
	}
	if h := headers("/"); h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("a rejected change took effect: X-Frame-Options %q", h.Get("X-Frame-Options"))
	}
}
