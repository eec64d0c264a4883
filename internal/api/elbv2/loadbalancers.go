package elbv2

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// hostedZones are ALB's Route 53 hosted zone ids per region (elbv2-api.md §2),
// so that alias-record tooling behaves.
var hostedZones = map[string]string{
	"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-1": "Z368ELLRRE2KJ0",
	"us-west-2": "Z1H1FL5HABSF5", "eu-west-1": "Z32O12XQLNTSW2", "eu-west-2": "ZHURV8PSTC4K8",
	"eu-central-1": "Z215JYRZR1TBD5", "ap-northeast-1": "Z14GRHDCWA56QT", "ap-southeast-1": "Z1LMS91P8CMLE5",
	"ap-southeast-2": "Z1GM3OXH4ZPM65", "sa-east-1": "Z2P70J7HTTTPLU", "ca-central-1": "ZQSVJUPU6J1EY",
}

func createLoadBalancer(c *call, w *xmlWriter) error {
	var v validation
	f := c.f
	name := require(&v, f, "Name", "name")
	scheme := control.SchemeInternetFacing
	if s, ok := v.enum(f, "Scheme", "scheme", control.SchemeInternetFacing, control.SchemeInternal); ok {
		scheme = s
	}
	ipType := control.IPAddressTypeIPv4
	if s, ok := v.enum(f, "IpAddressType", "ipAddressType", "ipv4", "dualstack", "dualstack-without-public-ipv4"); ok {
		ipType = s
	}
	if t, ok := v.enum(f, "Type", "type", "application", "network", "gateway"); ok && t != "application" {
		return errorf(codeValidation, "Load balancer type '%s' is not supported: Albatross is an Application Load Balancer (type application)", t)
	}
	if err := v.err(); err != nil {
		return err
	}
	if err := checkName("load balancer", name); err != nil {
		return err
	}
	subnets := f.strings("Subnets")
	mappings := f.structs("SubnetMappings")
	if len(subnets) > 0 && len(mappings) > 0 {
		return errorf(codeValidation, "You can specify subnets or subnet mappings, not both")
	}
	for _, m := range mappings {
		subnets = append(subnets, m.get("SubnetId"))
	}
	for _, s := range subnets {
		if s == "" {
			return errorf(codeValidation, "Subnet ids cannot be empty")
		}
	}
	if len(subnets) != len(uniq(subnets)) {
		return errorf(codeInvalidConfiguration, "A load balancer cannot be attached to multiple subnets in the same Availability Zone")
	}
	groups := f.strings("SecurityGroups")
	tags, err := readTags(f, "Tags")
	if err != nil {
		return err
	}

	var out *control.LoadBalancer
	return updateThenWrite(c, w, "LoadBalancers", func(tx *control.Tx) error {
		m := tx.Model()
		if old := m.LoadBalancerByName(name); old != nil {
			// CreateLoadBalancer is idempotent: the same settings return the
			// existing load balancer.
			if old.Scheme == scheme && old.IPAddressType == ipType && slices.Equal(old.Subnets, subnets) && slices.Equal(old.SecurityGroups, groups) {
				out = old
				return nil
			}
			return errorf(codeDuplicateLoadBalancer, "A load balancer with the specified name '%s' already exists.", name)
		}
		if len(m.LoadBalancers) >= maxLoadBalancers {
			return errorf(codeTooManyLoadBalancers, "You have reached the limit of %d load balancers", maxLoadBalancers)
		}
		id, err := tx.NewID(snapshot.LoadBalancerKey(name))
		if err != nil {
			return err
		}
		lb := &control.LoadBalancer{
			ID: id, Name: name, Seq: tx.NextSeq(), CreatedTime: tx.Now(),
			Scheme: scheme, IPAddressType: ipType, Subnets: subnets, SecurityGroups: groups,
			Attributes: config.LoadBalancerAttributeDefaults(), Tags: tags,
		}
		if scheme == control.SchemeInternal {
			lb.Attributes["ipv6.deny_all_igw_traffic"] = "true"
		}
		tx.PutLoadBalancer(lb)
		out = lb
		return nil
	}, func(m *control.Model) { writeLoadBalancer(w, m, out) })
}

func uniq(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return slices.Compact(c)
}

func writeLoadBalancer(w *xmlWriter, m *control.Model, lb *control.LoadBalancer) {
	w.leaf("LoadBalancerArn", m.LoadBalancerARN(lb))
	dns := m.DNSName(lb)
	if lb.Scheme == control.SchemeInternal {
		dns = "internal-" + dns
	}
	w.leaf("DNSName", dns)
	w.opt("CanonicalHostedZoneId", hostedZones[m.Region])
	w.time("CreatedTime", lb.CreatedTime)
	w.leaf("LoadBalancerName", lb.Name)
	w.leaf("Scheme", lb.Scheme)
	w.leaf("VpcId", m.DefaultVpcID())
	w.open("State")
	w.leaf("Code", "active")
	w.close("State")
	w.leaf("Type", "application")
	writeAvailabilityZones(w, m, lb)
	w.stringList("SecurityGroups", lb.SecurityGroups)
	w.leaf("IpAddressType", lb.IPAddressType)
}

// writeAvailabilityZones writes one zone per subnet, named REGION + a, b, …
// in order (there are no real zones here); a load balancer without subnets
// reports one zone.
func writeAvailabilityZones(w *xmlWriter, m *control.Model, lb *control.LoadBalancer) {
	subnets := lb.Subnets
	w.list("AvailabilityZones", max(len(subnets), 1), func(i int) {
		w.leaf("ZoneName", m.Region+string(rune('a'+i%26)))
		if i < len(subnets) {
			w.leaf("SubnetId", subnets[i])
		}
		w.list("LoadBalancerAddresses", 0, nil)
	})
}

func describeLoadBalancers(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	arns, names := c.f.strings("LoadBalancerArns"), c.f.strings("Names")
	if len(arns) > 0 && len(names) > 0 {
		return errorf(codeValidation, "Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	if len(arns) > maxDescribeARNs {
		return errorf(codeValidation, "1 validation error detected: Value '%d' at 'loadBalancerArns' failed to satisfy constraint: Member must have length less than or equal to %d", len(arns), maxDescribeARNs)
	}
	var lbs []*control.LoadBalancer
	var missing []string
	switch {
	case len(arns) > 0:
		for _, a := range arns {
			if lb := m.LoadBalancerByARN(a); lb != nil {
				lbs = append(lbs, lb)
			} else {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			return errorf(codeLoadBalancerNotFound, "One or more load balancers not found: '%s'", strings.Join(missing, "', '"))
		}
	case len(names) > 0:
		for _, n := range names {
			if lb := m.LoadBalancerByName(n); lb != nil {
				lbs = append(lbs, lb)
			} else {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return errorf(codeLoadBalancerNotFound, "Load balancers '[%s]' not found", strings.Join(missing, ", "))
		}
	default:
		lbs = m.SortedLoadBalancers()
	}
	pg, next, err := page(c.f, lbs, func(lb *control.LoadBalancer) int64 { return lb.Seq })
	if err != nil {
		return err
	}
	w.list("LoadBalancers", len(pg), func(i int) { writeLoadBalancer(w, m, pg[i]) })
	w.opt("NextMarker", next)
	return nil
}

// findLoadBalancer returns the load balancer of the request's LoadBalancerArn.
func findLoadBalancer(m *control.Model, f form) (*control.LoadBalancer, error) {
	arn, ok := f.lookup("LoadBalancerArn")
	if !ok || arn == "" {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'loadBalancerArn' failed to satisfy constraint: Member must not be null")
	}
	lb := m.LoadBalancerByARN(arn)
	if lb == nil {
		return nil, errorf(codeLoadBalancerNotFound, "Load balancer '%s' not found", arn)
	}
	return lb, nil
}

// logBucketTimeout bounds the write of ALB's test object to a log bucket.
const logBucketTimeout = 15 * time.Second

// checkLogBuckets writes ALB's test object to every log bucket that given
// turns on or moves to (access, connection and health-check logs), before
// anything changes: a bucket that cannot be written to refuses the call as
// ALB does ("Access Denied for bucket: ..."), with the cause appended.
func (c *call) checkLogBuckets(given map[string]string) error {
	check := c.h.opts.CheckLogBucket
	if check == nil {
		return nil
	}
	lb, err := findLoadBalancer(c.ctrl.Model(), c.f)
	if err != nil {
		return err
	}
	merged, err := withAttributes(lb, given)
	if err != nil {
		return nil // the update reports it, as it does without buckets
	}
	checked := map[[2]string]bool{}
	for _, log := range []string{"access_logs", "connection_logs", "health_check_logs"} {
		get := func(key string) (now, next string) {
			return lb.Attributes[log+".s3."+key], merged.Attributes[log+".s3."+key]
		}
		wasOn, on := get("enabled")
		oldBucket, bucket := get("bucket")
		oldPrefix, prefix := get("prefix")
		if !strings.EqualFold(on, "true") || bucket == "" || checked[[2]string{bucket, prefix}] {
			continue
		}
		if strings.EqualFold(wasOn, "true") && oldBucket == bucket && oldPrefix == prefix {
			continue // already delivering there
		}
		checked[[2]string{bucket, prefix}] = true
		ctx, cancel := context.WithTimeout(c.ctx, logBucketTimeout)
		err := check(ctx, bucket, prefix)
		cancel()
		if err != nil {
			c.h.log.Warn("ModifyLoadBalancerAttributes: cannot write to the log bucket", "load_balancer", lb.Name, "bucket", bucket, "err", err)
			return errorf(codeInvalidConfiguration, "Access Denied for bucket: %s. Please check S3bucket permission (%s: %v)", bucket, log, err)
		}
	}
	return nil
}

// withAttributes returns a copy of lb with the attributes given set over its
// own, the whole set validated and normalised as the store keeps it.
func withAttributes(lb *control.LoadBalancer, given map[string]string) (*control.LoadBalancer, error) {
	merged := lb.Clone()
	for k, v := range given {
		merged.Attributes[k] = v
	}
	full, _, err := config.NormalizeLoadBalancerAttributes(merged.Attributes)
	if err != nil {
		return nil, err
	}
	merged.Attributes = full
	return merged, nil
}

func deleteLoadBalancer(c *call, w *xmlWriter) error {
	arn, ok := c.f.lookup("LoadBalancerArn")
	if !ok || arn == "" {
		return errorf(codeValidation, "1 validation error detected: Value null at 'loadBalancerArn' failed to satisfy constraint: Member must not be null")
	}
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		lb := m.LoadBalancerByARN(arn)
		if lb == nil {
			return nil // deleting what does not exist succeeds, as on AWS
		}
		if lb.Attributes["deletion_protection.enabled"] == "true" {
			return errorf(codeOperationNotPermitted, "Load balancer '%s' cannot be deleted because deletion protection is enabled", arn)
		}
		for _, l := range m.ListenersOf(lb.ID) {
			tx.DeleteListener(l.ID)
		}
		tx.DeleteLoadBalancer(lb.ID)
		return nil
	})
}

func describeLoadBalancerAttributes(c *call, w *xmlWriter) error {
	lb, err := findLoadBalancer(c.ctrl.Model(), c.f)
	if err != nil {
		return err
	}
	writeAttributes(w, lb.Attributes)
	return nil
}

func modifyLoadBalancerAttributes(c *call, w *xmlWriter) error {
	given, err := readAttributes(c.f)
	if err != nil {
		return err
	}
	if err := c.checkLogBuckets(given); err != nil {
		return err
	}
	var out *control.LoadBalancer
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		lb, err := findLoadBalancer(tx.Model(), c.f)
		if err != nil {
			return err
		}
		merged, err := withAttributes(lb, given)
		if err != nil {
			return attributeError("Load balancer", err)
		}
		tx.PutLoadBalancer(merged)
		out = merged
		return nil
	})
	if err != nil {
		return err
	}
	writeAttributes(w, out.Attributes)
	return nil
}
