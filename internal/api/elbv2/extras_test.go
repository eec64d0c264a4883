package elbv2_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// TestCallsTerraformMakes covers the calls beyond the list that
// Terraform's aws_lb and aws_lb_listener make on create and update.
func TestCallsTerraformMakes(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	c := e.client
	lbARN, tgARN := createLBAndTG(t, e, "web", "web-tg")
	l, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	lARN := l.Listeners[0].ListenerArn
	la, err := c.DescribeListenerAttributes(ctx(t), &elb.DescribeListenerAttributesInput{ListenerArn: lARN})
	if err != nil || len(la.Attributes) < 10 {
		t.Fatalf("DescribeListenerAttributes: %+v, %v", la, err)
	}
	mod, err := c.ModifyListenerAttributes(ctx(t), &elb.ModifyListenerAttributesInput{ListenerArn: lARN,
		Attributes: []types.ListenerAttribute{{Key: aws.String("routing.http.response.server.enabled"), Value: aws.String("false")}}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range mod.Attributes {
		found = found || *a.Key == "routing.http.response.server.enabled" && *a.Value == "false"
	}
	if !found {
		t.Errorf("ModifyListenerAttributes result: %+v", mod.Attributes)
	}
	_, err = c.ModifyListenerAttributes(ctx(t), &elb.ModifyListenerAttributesInput{ListenerArn: lARN,
		Attributes: []types.ListenerAttribute{{Key: aws.String("nope"), Value: aws.String("1")}}})
	wantCode(t, "unknown listener attribute", err, "ValidationError")

	sg, err := c.SetSecurityGroups(ctx(t), &elb.SetSecurityGroupsInput{LoadBalancerArn: aws.String(lbARN), SecurityGroups: []string{"sg-1", "sg-2"}})
	if err != nil || len(sg.SecurityGroupIds) != 2 {
		t.Errorf("SetSecurityGroups: %+v, %v", sg, err)
	}
	sn, err := c.SetSubnets(ctx(t), &elb.SetSubnetsInput{LoadBalancerArn: aws.String(lbARN), Subnets: []string{"subnet-1", "subnet-2", "subnet-3"}})
	if err != nil || len(sn.AvailabilityZones) != 3 || *sn.AvailabilityZones[2].ZoneName != "us-east-1c" {
		t.Errorf("SetSubnets: %+v, %v", sn, err)
	}
	ip, err := c.SetIpAddressType(ctx(t), &elb.SetIpAddressTypeInput{LoadBalancerArn: aws.String(lbARN), IpAddressType: types.IpAddressTypeDualstack})
	if err != nil || ip.IpAddressType != types.IpAddressTypeDualstack {
		t.Errorf("SetIpAddressType: %+v, %v", ip, err)
	}
	lbs, err := c.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{LoadBalancerArns: []string{lbARN}})
	if err != nil || len(lbs.LoadBalancers[0].SecurityGroups) != 2 || lbs.LoadBalancers[0].IpAddressType != types.IpAddressTypeDualstack {
		t.Errorf("after the Set calls: %+v, %v", lbs, err)
	}
	lim, err := c.DescribeAccountLimits(ctx(t), &elb.DescribeAccountLimitsInput{})
	if err != nil || len(lim.Limits) == 0 || *lim.Limits[0].Name != "application-load-balancers" || *lim.Limits[0].Max != "50" {
		t.Errorf("DescribeAccountLimits: %+v, %v", lim, err)
	}

	// Deleted and created again through the API: a new ARN, as on AWS.
	if _, err := c.DeleteListener(ctx(t), &elb.DeleteListenerInput{ListenerArn: lARN}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteLoadBalancer(ctx(t), &elb.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(lbARN)}); err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateLoadBalancer(ctx(t), &elb.CreateLoadBalancerInput{Name: aws.String("web")})
	if err != nil || *again.LoadBalancers[0].LoadBalancerArn == lbARN {
		t.Errorf("re-created load balancer: %v; ARN must differ from %s", err, lbARN)
	}
}
