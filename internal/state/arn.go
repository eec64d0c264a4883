package state

// ARNs and resource ids in AWS's formats (elbv2-api.md §2). Partition is always
// "aws"; region and account come from the configuration. Tools match these
// strings with regular expressions, so the shapes must not drift.

const arnPrefix = "arn:aws:elasticloadbalancing:"

// LoadBalancerARN is arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID.
func LoadBalancerARN(region, account, name, id string) string {
	return arnPrefix + region + ":" + account + ":loadbalancer/" + LoadBalancerResourceID(name, id)
}

// TargetGroupARN is arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID.
func TargetGroupARN(region, account, name, id string) string {
	return arnPrefix + region + ":" + account + ":" + TargetGroupResourceID(name, id)
}

// ListenerARN is
// arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LBNAME/LBID/LISTENERID.
func ListenerARN(region, account, lbName, lbID, listenerID string) string {
	return arnPrefix + region + ":" + account + ":listener/app/" + lbName + "/" + lbID + "/" + listenerID
}

// RuleARN is
// arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LBNAME/LBID/LISTENERID/RULEID.
func RuleARN(region, account, lbName, lbID, listenerID, ruleID string) string {
	return arnPrefix + region + ":" + account + ":listener-rule/app/" + lbName + "/" + lbID + "/" + listenerID + "/" + ruleID
}

// LoadBalancerResourceID is "app/NAME/ID": the end of the load balancer's ARN, the
// elb field of its access log lines and its CloudWatch LoadBalancer dimension.
func LoadBalancerResourceID(name, id string) string {
	return "app/" + name + "/" + id
}

// TargetGroupResourceID is "targetgroup/NAME/ID": the end of the target group's
// ARN and its CloudWatch TargetGroup dimension.
func TargetGroupResourceID(name, id string) string {
	return "targetgroup/" + name + "/" + id
}

// TrustStoreARN is arn:aws:elasticloadbalancing:REGION:ACCOUNT:truststore/NAME/ID.
func TrustStoreARN(region, account, name, id string) string {
	return arnPrefix + region + ":" + account + ":truststore/" + name + "/" + id
}
