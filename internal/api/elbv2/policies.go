package elbv2

import (
	"slices"
	"strconv"
)

// sslPolicy is one predefined ALB security policy: its TLS versions and
// ciphers in AWS's (OpenSSL) names, in priority order.
type sslPolicy struct {
	name      string
	protocols []string
	ciphers   []string
}

// Cipher sets shared by the policies.
var (
	tls13Ciphers = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
	gcmCiphers   = []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"}
	cbcCiphers   = []string{"ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
		"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA"}
	rsaCiphers = []string{"AES128-GCM-SHA256", "AES128-SHA256", "AES128-SHA", "AES256-GCM-SHA384", "AES256-SHA256", "AES256-SHA"}
)

func join(sets ...[]string) []string { return slices.Concat(sets...) }

// sslPolicies are the predefined policies Albatross lists (elbv2-api.md §3.8).
// The default for listeners created through the API is
// ELBSecurityPolicy-2016-08, as on AWS.
var sslPolicies = []sslPolicy{
	{"ELBSecurityPolicy-TLS13-1-3-2021-06", []string{"TLSv1.3"}, tls13Ciphers},
	{"ELBSecurityPolicy-TLS13-1-2-2021-06", []string{"TLSv1.2", "TLSv1.3"}, join(tls13Ciphers, gcmCiphers, cbcCiphers[:2], cbcCiphers[4:6])},
	{"ELBSecurityPolicy-TLS13-1-2-Res-2021-06", []string{"TLSv1.2", "TLSv1.3"}, join(tls13Ciphers, gcmCiphers)},
	{"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06", []string{"TLSv1.2", "TLSv1.3"}, join(tls13Ciphers, gcmCiphers, cbcCiphers[:2], cbcCiphers[4:6], rsaCiphers)},
	{"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06", []string{"TLSv1.2", "TLSv1.3"}, join(tls13Ciphers, gcmCiphers, cbcCiphers, rsaCiphers)},
	{"ELBSecurityPolicy-TLS13-1-1-2021-06", []string{"TLSv1.1", "TLSv1.2", "TLSv1.3"}, join(tls13Ciphers, gcmCiphers, cbcCiphers, rsaCiphers)},
	{"ELBSecurityPolicy-TLS13-1-0-2021-06", []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}, join(tls13Ciphers, gcmCiphers, cbcCiphers, rsaCiphers)},
	{"ELBSecurityPolicy-TLS-1-2-Ext-2018-06", []string{"TLSv1.2"}, join(gcmCiphers, cbcCiphers, rsaCiphers)},
	{"ELBSecurityPolicy-TLS-1-2-2017-01", []string{"TLSv1.2"}, join(gcmCiphers, cbcCiphers[:2], cbcCiphers[4:6], rsaCiphers[:2], rsaCiphers[3:5])},
	{"ELBSecurityPolicy-TLS-1-1-2017-01", []string{"TLSv1.1", "TLSv1.2"}, join(gcmCiphers, cbcCiphers, rsaCiphers)},
	{"ELBSecurityPolicy-2016-08", []string{"TLSv1", "TLSv1.1", "TLSv1.2"}, join(gcmCiphers, cbcCiphers, rsaCiphers)},
}

func describeSSLPolicies(c *call, w *xmlWriter) error {
	var v validation
	lbType, _ := v.enum(c.f, "LoadBalancerType", "loadBalancerType", "application", "network", "gateway")
	if err := v.err(); err != nil {
		return err
	}
	type indexed struct {
		p   sslPolicy
		seq int64
	}
	var list []indexed
	names := c.f.strings("Names")
	if lbType != "gateway" {
		for i, p := range sslPolicies {
			if len(names) == 0 || slices.Contains(names, p.name) {
				list = append(list, indexed{p, int64(i)})
			}
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(sslPolicies, func(p sslPolicy) bool { return p.name == n }) {
			return errorf(codeSSLPolicyNotFound, "SSL policy '%s' not found", n)
		}
	}
	pg, next, err := page(c.f, list, func(x indexed) int64 { return x.seq })
	if err != nil {
		return err
	}
	w.list("SslPolicies", len(pg), func(i int) {
		p := pg[i].p
		w.stringList("SslProtocols", p.protocols)
		w.list("Ciphers", len(p.ciphers), func(j int) {
			w.leaf("Name", p.ciphers[j])
			w.int("Priority", j+1)
		})
		w.leaf("Name", p.name)
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
