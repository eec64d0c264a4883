package elbv2

import (
	"cmp"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// readHealthCheck applies the health check parameters of a CreateTargetGroup
// or ModifyTargetGroup request to h, checking each value's range.
func readHealthCheck(v *validation, f form, h config.HealthCheck) config.HealthCheck {
	if s, ok := v.enum(f, "HealthCheckProtocol", "healthCheckProtocol", "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE"); ok {
		h.Protocol = s
	}
	if s, ok := f.lookup("HealthCheckPort"); ok {
		h.Port = s
	}
	if s, ok := f.lookup("HealthCheckPath"); ok {
		if len(s) < 1 || len(s) > 1024 {
			v.constraint(s, "healthCheckPath", "Member must have length between 1 and 1024")
		}
		h.Path = s
	}
	if b, ok := v.boolean(f, "HealthCheckEnabled", "healthCheckEnabled"); ok {
		h.Enabled = &b
	}
	if n, ok := v.intIn(f, "HealthCheckIntervalSeconds", "healthCheckIntervalSeconds", 5, 300); ok {
		h.IntervalSeconds = n
	}
	if n, ok := v.intIn(f, "HealthCheckTimeoutSeconds", "healthCheckTimeoutSeconds", 2, 120); ok {
		h.TimeoutSeconds = n
	}
	if n, ok := v.intIn(f, "HealthyThresholdCount", "healthyThresholdCount", 2, 10); ok {
		h.HealthyThresholdCount = n
	}
	if n, ok := v.intIn(f, "UnhealthyThresholdCount", "unhealthyThresholdCount", 2, 10); ok {
		h.UnhealthyThresholdCount = n
	}
	return h
}

// grpcHealthCheckPath is AWS's default health check path of a GRPC target
// group: the method of the ALB health check service.
const grpcHealthCheckPath = "/AWS.ALB/healthcheck"

// defaultGrpcCode is AWS's default matcher of a GRPC target group: gRPC
// status 12 (UNIMPLEMENTED), which a server answers for the health check
// method it does not implement, proving that it is up.
const defaultGrpcCode = "12"

// readMatcher applies Matcher.HttpCode or Matcher.GrpcCode to a target group
// of protocol version pv: HTTP codes for HTTP1 and HTTP2 groups, gRPC codes
// (default 12) for GRPC groups, and never the other kind. grpcCode is the
// group's current gRPC matcher.
func readMatcher(f form, pv string, h config.HealthCheck, grpcCode string) (config.HealthCheck, string, error) {
	httpCode, hasHTTP := f.lookup("Matcher.HttpCode")
	grpc, hasGRPC := f.lookup("Matcher.GrpcCode")
	if pv == config.ProtocolVersionGRPC {
		if hasHTTP {
			return h, "", errorf(codeValidation, "A GRPC target group's matcher takes GrpcCode, not HttpCode")
		}
		if !hasGRPC {
			grpc = cmp.Or(grpcCode, defaultGrpcCode)
		}
		if err := checkGrpcCodes(grpc); err != nil {
			return h, "", err
		}
		return h, grpc, nil
	}
	if hasGRPC {
		return h, "", errorf(codeValidation, "GrpcCode can be specified only for target groups with protocol version GRPC; this one is %s", pv)
	}
	if hasHTTP {
		h.Matcher = httpCode
	}
	return h, "", nil
}

// checkGrpcCodes checks a GrpcCode matcher: codes from 0 to 99, as one code
// ("12"), a list ("0,12") or a range ("0-99").
func checkGrpcCodes(s string) error {
	if _, err := config.ParseGRPCCodes(s); err != nil {
		return errorf(codeValidation, "Invalid GrpcCode '%s': specify gRPC codes from 0 to 99 as a code (12), a list (0,12) or a range (0-99)", s)
	}
	return nil
}

// checkHealthCheck validates a complete health check with AWS's messages.
func checkHealthCheck(h config.HealthCheck) (config.HealthCheck, error) {
	if h.IntervalSeconds != 0 && h.TimeoutSeconds != 0 && h.TimeoutSeconds >= h.IntervalSeconds {
		return h, errorf(codeValidation, "Health check timeout '%d' must be smaller than the interval '%d'", h.TimeoutSeconds, h.IntervalSeconds)
	}
	filled, err := config.ValidateHealthCheck(h)
	if err != nil {
		verr, _ := err.(*config.ValidationError)
		var msgs []string
		if verr != nil {
			for _, p := range verr.Problems {
				msgs = append(msgs, "health check "+p.Path+": "+p.Message)
			}
		}
		return h, errorf(codeValidation, "%s", strings.Join(msgs, "; "))
	}
	if n, err := strconv.Atoi(filled.Port); err == nil {
		filled.Port = strconv.Itoa(n)
	}
	return filled, nil
}

func createTargetGroup(c *call, w *xmlWriter) error {
	var v validation
	f := c.f
	name := require(&v, f, "Name", "name")
	targetType := control.TargetTypeIP
	if s, ok := v.enum(f, "TargetType", "targetType", "instance", "ip", "lambda", "alb"); ok {
		targetType = s
	}
	protocol, hasProtocol := v.enum(f, "Protocol", "protocol", "HTTP", "HTTPS", "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE")
	port, hasPort := v.intIn(f, "Port", "port", 1, 65535)
	vpc := f.get("VpcId")
	protoVersion := control.ProtocolVersionHTTP1
	if s, ok := v.enum(f, "ProtocolVersion", "protocolVersion", "HTTP1", "HTTP2", "GRPC"); ok {
		protoVersion = s
	}
	ipType := control.IPAddressTypeIPv4
	if s, ok := v.enum(f, "IpAddressType", "ipAddressType", "ipv4", "ipv6"); ok {
		ipType = s
	}
	hc := readHealthCheck(&v, f, config.HealthCheck{})
	if err := v.err(); err != nil {
		return err
	}
	if err := checkName("target group", name); err != nil {
		return err
	}
	if targetType != control.TargetTypeIP {
		return errorf(codeValidation, "Target type '%s' is not supported: Albatross reaches targets by IP address, so target groups must have target type ip", targetType)
	}
	switch {
	case !hasProtocol && f.get("Protocol") == "":
		return errorf(codeValidation, "A protocol must be specified")
	case !hasPort:
		if _, sent := f.lookup("Port"); !sent {
			return errorf(codeValidation, "A port must be specified")
		}
		return v.err()
	case protocol != "HTTP" && protocol != "HTTPS":
		return errorf(codeUnsupportedProtocol, "Protocol '%s' is not supported for an Application Load Balancer's target group; use HTTP or HTTPS", protocol)
	}
	if vpc == "" {
		vpc = c.ctrl.Model().DefaultVpcID()
	}
	if protoVersion == config.ProtocolVersionGRPC && hc.Path == "" {
		hc.Path = grpcHealthCheckPath
	}
	hc, grpcCode, err := readMatcher(f, protoVersion, hc, "")
	if err != nil {
		return err
	}
	hc, err = checkHealthCheck(hc)
	if err != nil {
		return err
	}
	tags, err := readTags(f, "Tags")
	if err != nil {
		return err
	}
	var out *control.TargetGroup
	return updateThenWrite(c, w, "TargetGroups", func(tx *control.Tx) error {
		m := tx.Model()
		if old := m.TargetGroupByName(name); old != nil {
			if old.Protocol == protocol && old.Port == port && old.VpcID == vpc && old.TargetType == targetType &&
				old.ProtocolVersion == protoVersion && old.IPAddressType == ipType && reflect.DeepEqual(old.HealthCheck, hc) && old.GrpcCode == grpcCode {
				out = old
				return nil
			}
			return errorf(codeDuplicateTargetGroup, "A target group with the specified name '%s' already exists.", name)
		}
		if len(m.TargetGroups) >= maxTargetGroups {
			return errorf(codeTooManyTargetGroups, "You have reached the limit of %d target groups", maxTargetGroups)
		}
		id, err := tx.NewID(snapshot.TargetGroupKey(name))
		if err != nil {
			return err
		}
		tg := &control.TargetGroup{
			ID: id, Name: name, Seq: tx.NextSeq(), CreatedTime: tx.Now(),
			Protocol: protocol, Port: port, VpcID: vpc, TargetType: targetType,
			ProtocolVersion: protoVersion, IPAddressType: ipType, HealthCheck: hc, GrpcCode: grpcCode,
			Attributes: config.TargetGroupAttributeDefaults(), Tags: tags,
		}
		tx.PutTargetGroup(tg)
		out = tg
		return nil
	}, func(m *control.Model) { writeTargetGroup(w, m, out) })
}

func writeTargetGroup(w *xmlWriter, m *control.Model, tg *control.TargetGroup) {
	w.leaf("TargetGroupArn", m.TargetGroupARN(tg))
	w.leaf("TargetGroupName", tg.Name)
	w.leaf("Protocol", tg.Protocol)
	w.int("Port", tg.Port)
	w.leaf("VpcId", tg.VpcID)
	h := tg.HealthCheck
	w.leaf("HealthCheckProtocol", h.Protocol)
	w.leaf("HealthCheckPort", h.Port)
	w.bool("HealthCheckEnabled", h.Enabled == nil || *h.Enabled)
	w.int("HealthCheckIntervalSeconds", h.IntervalSeconds)
	w.int("HealthCheckTimeoutSeconds", h.TimeoutSeconds)
	w.int("HealthyThresholdCount", h.HealthyThresholdCount)
	w.int("UnhealthyThresholdCount", h.UnhealthyThresholdCount)
	w.leaf("HealthCheckPath", h.Path)
	w.open("Matcher")
	if tg.ProtocolVersion == config.ProtocolVersionGRPC {
		w.leaf("GrpcCode", tg.GrpcCode)
	} else {
		w.leaf("HttpCode", h.Matcher)
	}
	w.close("Matcher")
	lbs := m.LoadBalancersUsing(tg.ID)
	w.list("LoadBalancerArns", len(lbs), func(i int) { w.b.WriteString(m.LoadBalancerARN(lbs[i])) })
	w.leaf("TargetType", tg.TargetType)
	w.leaf("ProtocolVersion", tg.ProtocolVersion)
	w.leaf("IpAddressType", tg.IPAddressType)
}

func describeTargetGroups(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	lbARN, hasLB := c.f.lookup("LoadBalancerArn")
	arns, names := c.f.strings("TargetGroupArns"), c.f.strings("Names")
	given := 0
	for _, b := range []bool{hasLB, len(arns) > 0, len(names) > 0} {
		if b {
			given++
		}
	}
	if given > 1 {
		return errorf(codeValidation, "Target group names, target group ARNs, and a load balancer ARN cannot be specified at the same time")
	}
	var tgs []*control.TargetGroup
	var missing []string
	switch {
	case hasLB:
		lb := m.LoadBalancerByARN(lbARN)
		if lb == nil {
			return errorf(codeLoadBalancerNotFound, "Load balancer '%s' not found", lbARN)
		}
		for _, tg := range m.SortedTargetGroups() {
			for _, u := range m.LoadBalancersUsing(tg.ID) {
				if u.ID == lb.ID {
					tgs = append(tgs, tg)
				}
			}
		}
	case len(arns) > 0:
		for _, a := range arns {
			if tg := m.TargetGroupByARN(a); tg != nil {
				tgs = append(tgs, tg)
			} else {
				missing = append(missing, a)
			}
		}
	case len(names) > 0:
		for _, n := range names {
			if tg := m.TargetGroupByName(n); tg != nil {
				tgs = append(tgs, tg)
			} else {
				missing = append(missing, n)
			}
		}
	default:
		tgs = m.SortedTargetGroups()
	}
	if len(missing) > 0 {
		return errorf(codeTargetGroupNotFound, "One or more target groups not found: '%s'", strings.Join(missing, "', '"))
	}
	pg, next, err := page(c.f, tgs, func(tg *control.TargetGroup) int64 { return tg.Seq })
	if err != nil {
		return err
	}
	w.list("TargetGroups", len(pg), func(i int) { writeTargetGroup(w, m, pg[i]) })
	w.opt("NextMarker", next)
	return nil
}

// findTargetGroup returns the target group of the request's TargetGroupArn.
func findTargetGroup(m *control.Model, f form) (*control.TargetGroup, error) {
	arn, ok := f.lookup("TargetGroupArn")
	if !ok || arn == "" {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null")
	}
	tg := m.TargetGroupByARN(arn)
	if tg == nil {
		return nil, errorf(codeTargetGroupNotFound, "Target group '%s' not found", arn)
	}
	return tg, nil
}

func modifyTargetGroup(c *call, w *xmlWriter) error {
	var out *control.TargetGroup
	return updateThenWrite(c, w, "TargetGroups", func(tx *control.Tx) error {
		tg, err := findTargetGroup(tx.Model(), c.f)
		if err != nil {
			return err
		}
		var v validation
		hc := readHealthCheck(&v, c.f, tg.Clone().HealthCheck)
		if err := v.err(); err != nil {
			return err
		}
		hc, grpcCode, err := readMatcher(c.f, tg.ProtocolVersion, hc, tg.GrpcCode)
		if err != nil {
			return err
		}
		hc, err = checkHealthCheck(hc)
		if err != nil {
			return err
		}
		n := tg.Clone()
		n.HealthCheck, n.GrpcCode = hc, grpcCode
		tx.PutTargetGroup(n)
		out = n
		return nil
	}, func(m *control.Model) { writeTargetGroup(w, m, out) })
}

func deleteTargetGroup(c *call, w *xmlWriter) error {
	arn, ok := c.f.lookup("TargetGroupArn")
	if !ok || arn == "" {
		return errorf(codeValidation, "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null")
	}
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		tg := m.TargetGroupByARN(arn)
		if tg == nil {
			return nil // idempotent delete (elbv2-api.md §3.3)
		}
		if len(m.ListenersUsing(tg.ID)) > 0 {
			return errorf(codeResourceInUse, "Target group '%s' is currently in use by a listener or a rule", arn)
		}
		tx.DeleteTargetGroup(tg.ID)
		return nil
	})
}

func describeTargetGroupAttributes(c *call, w *xmlWriter) error {
	tg, err := findTargetGroup(c.ctrl.Model(), c.f)
	if err != nil {
		return err
	}
	writeAttributes(w, tg.Attributes)
	return nil
}

func modifyTargetGroupAttributes(c *call, w *xmlWriter) error {
	given, err := readAttributes(c.f)
	if err != nil {
		return err
	}
	var out *control.TargetGroup
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		tg, err := findTargetGroup(tx.Model(), c.f)
		if err != nil {
			return err
		}
		n := tg.Clone()
		for k, v := range given {
			n.Attributes[k] = v
		}
		full, _, err := config.NormalizeTargetGroupAttributes(n.Attributes)
		if err != nil {
			return attributeError("Target group", err)
		}
		n.Attributes = full
		tx.PutTargetGroup(n)
		out = n
		return nil
	})
	if err != nil {
		return err
	}
	writeAttributes(w, out.Attributes)
	return nil
}

// readTargets reads a Targets list; a target without Port gets the target
// group's port.
func readTargets(f form, tg *control.TargetGroup, required bool) ([]control.Target, error) {
	var v validation
	items := f.structs("Targets")
	if len(items) == 0 && required {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'targets' failed to satisfy constraint: Member must not be null")
	}
	var out []control.Target
	for i, tf := range items {
		path := fmt.Sprintf("targets.%d.member", i+1)
		id, ok := tf.lookup("Id")
		if !ok || id == "" {
			v.required(path + ".id")
			continue
		}
		port := tg.Port
		if n, ok := v.intIn(tf, "Port", path+".port", 1, 65535); ok {
			port = n
		}
		addr, err := netip.ParseAddr(id)
		switch {
		case err != nil:
			return nil, errorf(codeInvalidTarget, "The IP address '%s' is not a valid IPv4 address: target groups of type ip take IP addresses as target ids", id)
		case tg.IPAddressType == control.IPAddressTypeIPv4 && !addr.Unmap().Is4():
			return nil, errorf(codeInvalidTarget, "The IP address '%s' is not a valid IPv4 address", id)
		case tg.IPAddressType == "ipv6" && !addr.Is6():
			return nil, errorf(codeInvalidTarget, "The IP address '%s' is not a valid IPv6 address", id)
		}
		out = append(out, control.Target{ID: addr.Unmap().String(), Port: port, AvailabilityZone: tf.get("AvailabilityZone")})
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func sameTarget(a, b control.Target) bool { return a.ID == b.ID && a.Port == b.Port }

// changeTargets runs change in one transaction on a copy of the target group
// the call names and the targets it lists, which change then puts.
func changeTargets(c *call, change func(tx *control.Tx, n *control.TargetGroup, targets []control.Target) error) error {
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		tg, err := findTargetGroup(tx.Model(), c.f)
		if err != nil {
			return err
		}
		targets, err := readTargets(c.f, tg, true)
		if err != nil {
			return err
		}
		return change(tx, tg.Clone(), targets)
	})
}

func registerTargets(c *call, w *xmlWriter) error {
	return changeTargets(c, func(tx *control.Tx, n *control.TargetGroup, targets []control.Target) error {
		changed := false
		for _, t := range targets {
			if idx := indexTarget(n.Targets, t); idx >= 0 {
				continue // registering a registered target is a no-op
			}
			n.Targets = append(n.Targets, t)
			n.Draining = removeDraining(n.Draining, t)
			changed = true
		}
		if len(n.Targets) > maxTargetsPerTargetGroup {
			return errorf(codeTooManyTargets, "A target group can have at most %d targets", maxTargetsPerTargetGroup)
		}
		if changed {
			tx.PutTargetGroup(n)
		}
		return nil
	})
}

func indexTarget(ts []control.Target, t control.Target) int {
	for i, o := range ts {
		if sameTarget(o, t) {
			return i
		}
	}
	return -1
}

func removeDraining(ds []control.DrainingTarget, t control.Target) []control.DrainingTarget {
	out := ds[:0:0]
	for _, d := range ds {
		if !sameTarget(d.Target, t) {
			out = append(out, d)
		}
	}
	return out
}

func deregisterTargets(c *call, w *xmlWriter) error {
	return changeTargets(c, func(tx *control.Tx, n *control.TargetGroup, targets []control.Target) error {
		now := tx.Now()
		n.Draining = n.ActiveDraining(now)
		delay := n.Attributes["deregistration_delay.timeout_seconds"]
		secs, _ := strconv.Atoi(delay)
		for _, t := range targets {
			idx := indexTarget(n.Targets, t)
			if idx < 0 {
				return errorf(codeInvalidTarget, "The specified target does not exist or is not in the same VPC as the target group: '%s:%d' is not registered", t.ID, t.Port)
			}
			gone := n.Targets[idx]
			n.Targets = append(n.Targets[:idx], n.Targets[idx+1:]...)
			if secs > 0 {
				n.Draining = append(removeDraining(n.Draining, gone), control.DrainingTarget{Target: gone, Until: now.Add(secondsDuration(secs))})
			}
		}
		tx.PutTargetGroup(n)
		return nil
	})
}
