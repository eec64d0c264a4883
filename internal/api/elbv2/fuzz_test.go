package elbv2_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/albatross-lb/albatross/internal/api/elbv2"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/state"
)

// discardNode accepts every configuration without serving it: the fuzz target
// is about decoding and validation, and must not bind ports a fuzzer chose.
type discardNode struct{}

func (discardNode) Apply(*config.Config) error { return nil }

// FuzzAPIRequest sends arbitrary, correctly signed form bodies to the API. No
// body may crash it or get a 5xx: every client mistake is a 4xx with an AWS
// error code.
func FuzzAPIRequest(f *testing.F) {
	for _, seed := range []string{
		"Action=CreateLoadBalancer&Version=2015-12-01&Name=web&Subnets.member.1=subnet-a&Tags.member.1.Key=k&Tags.member.1.Value=v",
		"Action=CreateTargetGroup&Version=2015-12-01&Name=tg&Protocol=HTTP&Port=80&VpcId=vpc-1&HealthCheckIntervalSeconds=5&Matcher.HttpCode=200-299",
		"Action=RegisterTargets&Version=2015-12-01&TargetGroupArn=arn%3Aaws%3Aelasticloadbalancing%3Aus-east-1%3A000000000000%3Atargetgroup%2Ftg%2F0123456789abcdef&Targets.member.1.Id=127.0.0.1&Targets.member.1.Port=8080",
		"Action=CreateListener&Version=2015-12-01&LoadBalancerArn=x&Protocol=HTTP&Port=8080&DefaultActions.member.1.Type=forward&DefaultActions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=y",
		"Action=ModifyLoadBalancerAttributes&Version=2015-12-01&LoadBalancerArn=x&Attributes.member.1.Key=idle_timeout.timeout_seconds&Attributes.member.1.Value=120",
		"Action=DescribeTargetGroups&Version=2015-12-01&PageSize=2&Marker=YWxiYXRyb3NzOjE",
		"Action=DescribeTags&Version=2015-12-01&ResourceArns.member.1=arn%3Aaws%3Aelasticloadbalancing%3A%3A%3Alistener-rule%2Fa%2Fb",
		"Action=SetSubnets&Version=2015-12-01&LoadBalancerArn=x&DefaultActions=",
		"Action=CreateListener&Version=2015-12-01&LoadBalancerArn=x&Protocol=HTTPS&Port=8443&Certificates.member.1.CertificateArn=arn%3Aaws%3Aiam%3A%3A0%3Aserver-certificate%2Fweb&SslPolicy=ELBSecurityPolicy-2016-08&DefaultActions.member.1.Type=fixed-response&DefaultActions.member.1.FixedResponseConfig.StatusCode=200",
		"Action=AddListenerCertificates&Version=2015-12-01&ListenerArn=x&Certificates.member.1.CertificateArn=arn%3Aaws%3Aacm%3Ar%3A0%3Acertificate%2F..%2Fx",
		"Action=DescribeListenerCertificates&Version=2015-12-01&ListenerArn=x&PageSize=1",
		"Action=CreateTargetGroup&Version=2015-12-01&Name=g&Protocol=HTTPS&Port=443&VpcId=v&ProtocolVersion=GRPC&Matcher.GrpcCode=0-99",
	} {
		f.Add(seed)
	}
	st, err := state.Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	ctrl, err := control.New(context.Background(), control.Options{Store: st, IDs: st.IDs(), Node: discardNode{}, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	h, err := elbv2.New(elbv2.Options{Controller: ctrl, Credentials: elbv2.Credentials{testKeyID: testSecret}, Logger: quietLogger()})
	if err != nil {
		f.Fatal(err)
	}
	signer := v4.NewSigner()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9090/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sum := sha256.Sum256([]byte(body))
		if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}, req,
			hex.EncodeToString(sum[:]), "elasticloadbalancing", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		rr := httptest.NewRecorder()
		h.ServeHTTP(rr, req)
		if rr.Code >= 500 {
			t.Fatalf("body %q: status %d\n%s", body, rr.Code, rr.Body.String())
		}
		if rr.Code != 200 && !strings.Contains(rr.Body.String(), "<Code>") {
			t.Fatalf("body %q: status %d without an AWS error code\n%s", body, rr.Code, rr.Body.String())
		}
	})
}
