package elbv2_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// redirectCase is one RedirectConfig: the Location it must produce for
// GET http://www.example.com:PORT/old/a?x=1, or empty when the API must
// refuse it with InvalidLoadBalancerAction. {port} in want is the listener's
// port.
type redirectCase struct {
	cfg  types.RedirectActionConfig
	want string
}

func redirectCases() []redirectCase {
	s := aws.String
	c := func(proto, host, port, path, query *string, want string) redirectCase {
		return redirectCase{types.RedirectActionConfig{Protocol: proto, Host: host, Port: port, Path: path, Query: query,
			StatusCode: types.RedirectActionStatusCodeEnumHttp301}, want}
	}
	return []redirectCase{
		// Every component left out in turn (the others set so that the
		// redirect changes something), and all but the status code left out
		// except the one that changes.
		c(nil, s("new.example.org"), s("8080"), s("/n"), s("q=1"), "http://new.example.org:8080/n?q=1"),
		c(s("HTTPS"), nil, s("8443"), s("/n"), s("q=1"), "https://www.example.com:8443/n?q=1"),
		c(s("HTTPS"), s("new.example.org"), nil, s("/n"), s("q=1"), "https://new.example.org:{port}/n?q=1"),
		c(s("HTTPS"), s("new.example.org"), s("443"), nil, s("q=1"), "https://new.example.org:443/old/a?q=1"),
		c(s("HTTPS"), s("new.example.org"), s("443"), s("/n"), nil, "https://new.example.org:443/n?x=1"),
		c(s("HTTPS"), nil, s("443"), nil, nil, "https://www.example.com:443/old/a?x=1"), // the AWS CLI's HTTP-to-HTTPS example
		c(nil, s("new.example.org"), nil, nil, nil, "http://new.example.org:{port}/old/a?x=1"),
		c(nil, nil, s("8080"), nil, nil, "http://www.example.com:8080/old/a?x=1"),
		c(nil, nil, nil, s("/n"), nil, "http://www.example.com:{port}/n?x=1"),
		// Every placeholder in every component that allows it, alone and
		// mixed with literal text.
		c(s("#{protocol}"), s("#{host}"), s("#{port}"), s("/new/#{path}"), s("#{query}"), "http://www.example.com:{port}/new/old/a?x=1"),
		c(nil, s("#{host}.example.org"), nil, nil, nil, "http://www.example.com.example.org:{port}/old/a?x=1"),
		c(nil, s("eu.#{host}"), nil, nil, nil, "http://eu.www.example.com:{port}/old/a?x=1"),
		c(nil, nil, nil, s("/#{host}/#{path}"), nil, "http://www.example.com:{port}/www.example.com/old/a?x=1"),
		c(nil, nil, nil, s("/p#{port}/#{path}"), nil, "http://www.example.com:{port}/p{port}/old/a?x=1"),
		c(nil, nil, s("8080"), nil, s("s=#{protocol}&h=#{host}&p=#{port}&path=#{path}&#{query}"), "http://www.example.com:8080/old/a?s=http&h=www.example.com&p={port}&path=old/a&x=1"),
		// Placeholders where ALB does not allow them, and bad literal text
		// beside an allowed one.
		c(nil, s("#{path}.example.org"), nil, nil, nil, ""),
		c(nil, s("#{port}.example.org"), nil, nil, nil, ""),
		c(nil, s("#{query}.example.org"), nil, nil, nil, ""),
		c(nil, s("#{protocol}.example.org"), nil, nil, nil, ""),
		c(nil, s("a b.#{host}"), nil, nil, nil, ""),
		c(nil, s("#{host}/x"), nil, nil, nil, ""),
		c(nil, s("#{hots}.example.org"), nil, nil, nil, ""),
		c(s("#{host}"), s("new.example.org"), nil, nil, nil, ""),
		c(nil, s("new.example.org"), s("#{host}"), nil, nil, ""),
		c(nil, nil, nil, s("/#{query}"), nil, ""),
		c(nil, nil, nil, s("/#{protocol}"), nil, ""),
		c(nil, nil, nil, nil, s("#{query}"), ""), // changes nothing: a redirect to itself
	}
}

// TestRedirectPlaceholdersWithSDK: a RedirectConfig with any component left
// out, and with every placeholder where ALB allows it (mixed with literal
// text), is accepted through the API and redirects as ALB does; placeholders
// where ALB does not allow them are refused with InvalidLoadBalancerAction.
func TestRedirectPlaceholdersWithSDK(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 2})
	c := e.client
	a := startTarget(t, "A")
	lbARN, tg := createLBAndTG(t, e, "web", "tg-a")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tg),
		Targets: []types.TargetDescription{{Id: aws.String(a.ip), Port: aws.Int32(a.port)}}}); err != nil {
		t.Fatal(err)
	}
	port := e.ports[0]
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), DefaultActions: forward(tg)})
	if err != nil {
		t.Fatal(err)
	}
	lARN := *l.Listeners[0].ListenerArn
	noRedirect := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	location := func(port int, header string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/old/a?x=1", port), nil)
		req.Host = "www.example.com"
		req.Header.Set("X-Case", header)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatalf("GET through port %d: %v", port, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMovedPermanently {
			t.Fatalf("case %s: status %d, want 301", header, resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	ps := strconv.Itoa(port)
	for i, rc := range redirectCases() {
		name := fmt.Sprintf("case %d (%s %s %s %s %s)", i, aws.ToString(rc.cfg.Protocol), aws.ToString(rc.cfg.Host), aws.ToString(rc.cfg.Port), aws.ToString(rc.cfg.Path), aws.ToString(rc.cfg.Query))
		cfg := rc.cfg
		_, err := c.CreateRule(ctx(t), &elb.CreateRuleInput{ListenerArn: aws.String(lARN), Priority: aws.Int32(int32(i + 1)),
			Conditions: []types.RuleCondition{{Field: aws.String("http-header"), HttpHeaderConfig: &types.HttpHeaderConditionConfig{
				HttpHeaderName: aws.String("X-Case"), Values: []string{strconv.Itoa(i)}}}},
			Actions: []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &cfg}}})
		if rc.want == "" {
			wantAPIError[*types.InvalidLoadBalancerActionException](t, name, err)
			continue
		}
		if err != nil {
			t.Errorf("%s: CreateRule: %v", name, err)
			continue
		}
		want := strings.ReplaceAll(rc.want, "{port}", ps)
		if got := location(port, strconv.Itoa(i)); got != want {
			t.Errorf("%s: Location %q, want %q", name, got, want)
		}
	}

	// The commonest call of all: a listener whose default action redirects
	// HTTP to HTTPS, with no Host, Path or Query.
	port2 := e.ports[1]
	if _, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port2)), DefaultActions: []types.Action{{Type: types.ActionTypeEnumRedirect, RedirectConfig: &types.RedirectActionConfig{
			Protocol: aws.String("HTTPS"), Port: aws.String("443"), StatusCode: types.RedirectActionStatusCodeEnumHttp301}}}}); err != nil {
		t.Fatalf("CreateListener redirecting to HTTPS: %v", err)
	}
	if got, want := location(port2, ""), "https://www.example.com:443/old/a?x=1"; got != want {
		t.Errorf("HTTP-to-HTTPS listener: Location %q, want %q", got, want)
	}
}
