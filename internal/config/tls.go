package config

import (
	"errors"
	"fmt"

	"github.com/albatross-lb/albatross/internal/tlsconf"
	"go.yaml.in/yaml/v3"
)

// DefaultSSLPolicy is the security policy of an HTTPS listener that names none.
const DefaultSSLPolicy = tlsconf.DefaultPolicy

// listenerTLS decodes an HTTPS listener's certificates and ssl_policy into l
// (whose Protocol is already decoded) and checks that an HTTP listener has
// neither, as the ELBv2 API does.
func (d *decoder) listenerTLS(f map[string]field, n *yaml.Node, path string, l *Listener) {
	certsPath := join(path, "certificates")
	cf, hasCerts := f["certificates"]
	pf, hasPolicy := f["ssl_policy"]
	if l.Protocol != "HTTPS" {
		if hasCerts {
			d.add(cf.key, certsPath, "only HTTPS listeners take certificates (protocol is %s)", l.Protocol)
		}
		if hasPolicy {
			d.add(pf.key, join(path, "ssl_policy"), "only HTTPS listeners take an ssl_policy (protocol is %s)", l.Protocol)
		}
		return
	}
	l.SSLPolicy = DefaultSSLPolicy
	if hasPolicy {
		if s, ok := d.scalar(pf.val, join(path, "ssl_policy")); ok {
			l.SSLPolicy = s
			if err := CheckSSLPolicy(s); err != nil {
				d.add(pf.val, join(path, "ssl_policy"), "%v", err)
			}
		}
	}
	items := d.list(cf.val, certsPath)
	if len(items) == 0 {
		d.add(orNode(cf.val, n), certsPath, "an HTTPS listener needs at least one certificate ({cert: FILE, key: FILE}); the first is the default")
	}
	for i, cn := range items {
		cp := index(certsPath, i)
		m, ok := d.mapping(cn, cp, "cert", "key", "arn")
		if !ok {
			continue
		}
		var c Certificate
		for _, k := range []struct {
			key string
			dst *string
		}{{"cert", &c.Cert}, {"key", &c.Key}, {"arn", &c.ARN}} {
			v, ok := m[k.key]
			if !ok {
				if k.key != "arn" {
					d.add(cn, join(cp, k.key), "is required (a PEM file)")
				}
				continue
			}
			if s, ok := d.scalar(v.val, join(cp, k.key)); ok {
				if s == "" {
					d.add(v.val, join(cp, k.key), "must not be empty")
				}
				*k.dst = s
			}
		}
		l.Certificates = append(l.Certificates, c)
	}
}

// CheckSSLPolicy reports whether name is an ALB security policy that Albatross
// serves. The error is a *tlsconf.PolicyNotFoundError for names ALB does not
// have (the API's SSLPolicyNotFound) and a *tlsconf.UnsupportedPolicyError for
// real policies Go's TLS stack cannot honour.
func CheckSSLPolicy(name string) error {
	_, err := tlsconf.Lookup(name)
	var nf *tlsconf.PolicyNotFoundError
	if errors.As(err, &nf) {
		if s := didYouMean(name, tlsconf.Names()); s != "" {
			return fmt.Errorf("%w%s", err, s)
		}
	}
	return err
}

// Target group protocol versions.
const (
	ProtocolVersionHTTP1 = "HTTP1"
	ProtocolVersionHTTP2 = "HTTP2"
	ProtocolVersionGRPC  = "GRPC"
)

// protocolVersion decodes a target group's protocol_version.
func (d *decoder) protocolVersion(f map[string]field, path string) string {
	pv, ok := f["protocol_version"]
	if !ok {
		return ProtocolVersionHTTP1
	}
	s, ok := d.scalar(pv.val, join(path, "protocol_version"))
	if !ok {
		return ProtocolVersionHTTP1
	}
	switch s {
	case ProtocolVersionHTTP1, ProtocolVersionHTTP2, ProtocolVersionGRPC:
	default:
		d.add(pv.val, join(path, "protocol_version"), "must be HTTP1, HTTP2 or GRPC, got %q", s)
	}
	return s
}

// checkProtocolVersions reports HTTP listeners whose actions forward to HTTP2
// or GRPC target groups: AWS allows those only behind HTTPS listeners.
func (d *decoder) checkProtocolVersions(lb LoadBalancer, pos lbPos, groups []TargetGroup, tgs map[string]*tgInfo) {
	for i, l := range lb.Listeners {
		if l.Protocol == "HTTPS" {
			continue
		}
		for _, ref := range pos.listeners[i].refs {
			info, ok := tgs[ref.name]
			if !ok {
				continue
			}
			if pv := groups[info.index].ProtocolVersion; pv == ProtocolVersionHTTP2 || pv == ProtocolVersionGRPC {
				d.add(ref.node, ref.path, "target group %q has protocol_version %s, which needs an HTTPS listener (this one is %s)", ref.name, pv, l.Protocol)
			}
		}
	}
}

// checkMatcherKind reports a health check matcher of the wrong kind for the
// target group's protocol version: a GRPC group's checks are judged by gRPC
// status codes (grpc_code), every other group's by HTTP codes (matcher), as
// AWS's Matcher.GrpcCode and Matcher.HttpCode.
func (d *decoder) checkMatcherKind(f map[string]field, path, protocolVersion string) {
	if m, ok := f["matcher"]; ok && protocolVersion == ProtocolVersionGRPC {
		d.add(m.key, join(path, "matcher"), "a GRPC target group's health check is judged by gRPC status codes: use grpc_code (default %s), not matcher", DefaultGRPCCode)
	}
	if g, ok := f["grpc_code"]; ok && protocolVersion != ProtocolVersionGRPC {
		d.add(g.key, join(path, "grpc_code"), "grpc_code applies only to target groups with protocol_version GRPC; this one is %s (use matcher for HTTP codes)", protocolVersion)
	}
}
