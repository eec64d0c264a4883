package elbv2_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
)

// TestSDKClientSurvivesQuickAnswers: with elbv2test.HTTPClient, the SDK never
// fails reading a response that this server answers quickly. With the SDK's
// default client the same loop failed 668 times in 2000 under -race (and
// often without it): see elbv2test.HTTPClient for the race. The responses
// here are larger than net/http's 4 KiB read buffer, which the race needs.
func TestSDKClientSurvivesQuickAnswers(t *testing.T) {
	e := startEnv(t, envOptions{})
	for i := range 300 {
		if _, err := e.client.DescribeSSLPolicies(ctx(t), &elb.DescribeSSLPoliciesInput{PageSize: aws.Int32(10)}); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}
