package elbv2

import (
	"slices"
	"strconv"

	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// describeSSLPolicies lists the security policies HTTPS listeners accept:
// exactly the ones tlsconf serves, with their protocols and AWS's cipher
// lists.
func describeSSLPolicies(c *call, w *xmlWriter) error {
	var v validation
	lbType, _ := v.enum(c.f, "LoadBalancerType", "loadBalancerType", "application", "network", "gateway")
	if err := v.err(); err != nil {
		return err
	}
	type indexed struct {
		p   *tlsconf.Policy
		seq int64
	}
	names := c.f.strings("Names")
	for _, n := range names {
		if !slices.Contains(tlsconf.Names(), n) {
			// FIPS policies too: they are not served, so not listed.
			return errorf(codeSSLPolicyNotFound, "SSL policy '%s' not found", n)
		}
	}
	var list []indexed
	if lbType != "gateway" {
		for i, n := range tlsconf.Names() {
			if len(names) > 0 && !slices.Contains(names, n) {
				continue
			}
			p, err := tlsconf.Lookup(n)
			if err != nil {
				return err
			}
			list = append(list, indexed{p, int64(i)})
		}
	}
	pg, next, err := page(c.f, list, func(x indexed) int64 { return x.seq })
	if err != nil {
		return err
	}
	w.list("SslPolicies", len(pg), func(i int) {
		p := pg[i].p
		w.stringList("SslProtocols", p.Protocols)
		w.list("Ciphers", len(p.Ciphers), func(j int) {
			w.leaf("Name", p.Ciphers[j])
			w.int("Priority", j+1)
		})
		w.leaf("Name", p.Name)
		w.stringList("SupportedLoadBalancerTypes", []string{"application", "network"})
	})
	w.opt("NextMarker", next)
	return nil
}

// accountLimits are the quotas DescribeAccountLimits reports: AWS's defaults,
// which this node enforces where it has the resource.
var accountLimits = []struct {
	name string
	max  int
}{
	{"application-load-balancers", maxLoadBalancers},
	{"target-groups", maxTargetGroups},
	{"targets-per-application-load-balancer", 1000},
	{"listeners-per-application-load-balancer", maxListenersPerLB},
	{"rules-per-application-load-balancer", 100},
	{"target-groups-per-application-load-balancer", 100},
	{"targets-per-target-group", maxTargetsPerTargetGroup},
	{"target-groups-per-action-on-application-load-balancer", 5},
	{"condition-values-per-alb-rule", 5},
	{"condition-wildcards-per-alb-rule", 5},
	{"certificates-per-application-load-balancer", 25},
	{"target-id-registrations-per-application-load-balancer", 1000},
}

func describeAccountLimits(c *call, w *xmlWriter) error {
	type indexed struct {
		name string
		max  int
		seq  int64
	}
	var all []indexed
	for i, l := range accountLimits {
		all = append(all, indexed{l.name, l.max, int64(i)})
	}
	pg, next, err := page(c.f, all, func(x indexed) int64 { return x.seq })
	if err != nil {
		return err
	}
	w.list("Limits", len(pg), func(i int) {
		w.leaf("Name", pg[i].name)
		w.leaf("Max", strconv.Itoa(pg[i].max))
	})
	w.opt("NextMarker", next)
	return nil
}
