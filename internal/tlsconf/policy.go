// Package tlsconf turns an HTTPS listener's settings into the TLS configuration
// the data plane serves: ALB security policy names (ssl_policy) mapped onto Go's
// protocol versions, cipher suites and key exchange groups; PEM certificates and
// ALB's SNI choice among them (exact name, then wildcard, then the default); and
// the OpenSSL-style names ALB writes for ciphers and protocols in its logs.
package tlsconf

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// DefaultPolicy is the security policy of an HTTPS listener that names none.
// AWS's console picks a TLS 1.3 policy; its API and CLI default to
// ELBSecurityPolicy-2016-08, which API callers get from the API layer.
const DefaultPolicy = "ELBSecurityPolicy-TLS13-1-2-2021-06"

// Policy is one ALB security policy as Albatross serves it.
type Policy struct {
	// Name is AWS's policy name.
	Name string
	// Protocols are the protocol versions the policy allows, lowest first, in
	// OpenSSL spelling ("TLSv1.2").
	Protocols []string
	// Ciphers are AWS's cipher list for the policy in OpenSSL spelling (TLS 1.3
	// suites in IANA spelling, as AWS lists them).
	Ciphers []string
	// MinVersion and MaxVersion are the Go forms of Protocols' ends.
	MinVersion, MaxVersion uint16
	// Suites are the TLS 1.0-1.2 cipher suites Go offers for the policy. TLS 1.3
	// suites are not configurable in Go; every ALB TLS 1.3 policy lists exactly
	// the three Go always offers.
	Suites []uint16
	// Omitted are the policy's ciphers that Go does not implement (the CBC
	// suites with SHA-384 and AES256-SHA256). Every client known to offer them
	// also offers a GCM suite of the same policy; see docs/compatibility.md.
	Omitted []string
	// Curves are the key exchange groups, post-quantum hybrids first for the
	// PQ policies.
	Curves []tls.CurveID
}

// Cipher groups as AWS's policy tables list them.
var (
	tls13Ciphers = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
	// ecdheGCM is the "Res" (restricted) set: forward secrecy and AEAD only.
	ecdheGCM = []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"}
	// ecdheSHA2 is the forward-secret set without SHA-1.
	ecdheSHA2 = []string{
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA256",
		"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384",
	}
	// ecdheAll adds the SHA-1 CBC suites (the FS policies).
	ecdheAll = append(slices.Clip(ecdheSHA2), "ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-RSA-AES256-SHA")
	// rsaSHA2 are the RSA key exchange suites without SHA-1.
	rsaSHA2 = []string{"AES128-GCM-SHA256", "AES128-SHA256", "AES256-GCM-SHA384", "AES256-SHA256"}
	// classic is ELBSecurityPolicy-2016-08's list.
	classic = concat(ecdheAll, rsaSHA2, []string{"AES128-SHA", "AES256-SHA"})
)

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// policyDef is a row of AWS's table of ALB security policies.
type policyDef struct {
	protocols []string
	ciphers   []string
	pq        bool
}

// versions from TLSv1 up to and including top.
func versions(low, high string) []string {
	all := []string{"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}
	i, j := slices.Index(all, low), slices.Index(all, high)
	return all[i : j+1]
}

// policies are the ALB security policies Albatross knows, by name. The FIPS
// policies are deliberately absent: see unsupported.
var policies = map[string]policyDef{
	"ELBSecurityPolicy-TLS13-1-3-2021-06":         {versions("TLSv1.3", "TLSv1.3"), tls13Ciphers, false},
	"ELBSecurityPolicy-TLS13-1-3-PQ-2025-09":      {versions("TLSv1.3", "TLSv1.3"), tls13Ciphers, true},
	"ELBSecurityPolicy-TLS13-1-2-2021-06":         {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, ecdheSHA2), false},
	"ELBSecurityPolicy-TLS13-1-2-PQ-2025-09":      {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, ecdheSHA2), true},
	"ELBSecurityPolicy-TLS13-1-2-Res-2021-06":     {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, ecdheGCM), false},
	"ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09":  {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, ecdheGCM), true},
	"ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06":    {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, ecdheSHA2, rsaSHA2), false},
	"ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09": {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, ecdheSHA2, rsaSHA2), true},
	"ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06":    {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, classic), false},
	"ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09": {versions("TLSv1.2", "TLSv1.3"), concat(tls13Ciphers, classic), true},
	"ELBSecurityPolicy-TLS13-1-1-2021-06":         {versions("TLSv1.1", "TLSv1.3"), concat(tls13Ciphers, classic), false},
	"ELBSecurityPolicy-TLS13-1-0-2021-06":         {versions("TLSv1", "TLSv1.3"), concat(tls13Ciphers, classic), false},
	"ELBSecurityPolicy-TLS13-1-0-PQ-2025-09":      {versions("TLSv1", "TLSv1.3"), concat(tls13Ciphers, classic), true},
	"ELBSecurityPolicy-TLS-1-2-Ext-2018-06":       {versions("TLSv1.2", "TLSv1.2"), classic, false},
	"ELBSecurityPolicy-TLS-1-2-2017-01":           {versions("TLSv1.2", "TLSv1.2"), concat(ecdheSHA2, rsaSHA2), false},
	"ELBSecurityPolicy-TLS-1-1-2017-01":           {versions("TLSv1.1", "TLSv1.2"), classic, false},
	"ELBSecurityPolicy-2016-08":                   {versions("TLSv1", "TLSv1.2"), classic, false},
	"ELBSecurityPolicy-2015-05":                   {versions("TLSv1", "TLSv1.2"), classic, false},
	"ELBSecurityPolicy-TLS-1-0-2015-04":           {versions("TLSv1", "TLSv1.2"), concat(classic, []string{"DES-CBC3-SHA"}), false},
	"ELBSecurityPolicy-FS-2018-06":                {versions("TLSv1", "TLSv1.2"), ecdheAll, false},
	"ELBSecurityPolicy-FS-1-1-2019-08":            {versions("TLSv1.1", "TLSv1.2"), ecdheAll, false},
	"ELBSecurityPolicy-FS-1-2-2019-08":            {versions("TLSv1.2", "TLSv1.2"), ecdheAll, false},
	"ELBSecurityPolicy-FS-1-2-Res-2019-08":        {versions("TLSv1.2", "TLSv1.2"), ecdheSHA2, false},
	"ELBSecurityPolicy-FS-1-2-Res-2020-10":        {versions("TLSv1.2", "TLSv1.2"), ecdheGCM, false},
}

// protocolVersions maps OpenSSL protocol names to Go's.
var protocolVersions = map[string]uint16{
	"TLSv1": tls.VersionTLS10, "TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13,
}

// Curves: AWS's non-PQ policies offer classic ECDHE groups only; the PQ ones
// add the ML-KEM hybrids, which Go implements.
var (
	classicCurves = []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
	pqCurves      = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024, tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521}
)

// Names lists the policies Albatross serves, sorted.
func Names() []string {
	out := make([]string, 0, len(policies))
	for n := range policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// PolicyNotFoundError is returned by Lookup for a name that is not an ALB
// policy; the ELBv2 API reports it as SSLPolicyNotFound.
type PolicyNotFoundError struct{ Name string }

func (e *PolicyNotFoundError) Error() string {
	return fmt.Sprintf("ssl policy %q is not an Application Load Balancer security policy", e.Name)
}

// UnsupportedPolicyError is returned by Lookup for a real ALB policy that Go's
// TLS stack cannot honour; Reason names what is missing.
type UnsupportedPolicyError struct{ Name, Reason string }

func (e *UnsupportedPolicyError) Error() string {
	return fmt.Sprintf("ssl policy %q cannot be served: %s", e.Name, e.Reason)
}

// Lookup returns the policy called name. A FIPS policy is an
// *UnsupportedPolicyError; any other unknown name a *PolicyNotFoundError.
func Lookup(name string) (*Policy, error) {
	def, ok := policies[name]
	if !ok {
		if strings.HasPrefix(name, "ELBSecurityPolicy-") && strings.Contains(name, "-FIPS-") {
			return nil, &UnsupportedPolicyError{Name: name, Reason: "FIPS policies require a FIPS 140-3 validated TLS module for every connection, and Albatross does not run Go's FIPS 140-3 mode per listener; use the same policy name without FIPS"}
		}
		return nil, &PolicyNotFoundError{Name: name}
	}
	return compile(name, def)
}

// compile maps a policy row onto Go's TLS settings and checks that every
// protocol version it allows keeps at least one cipher suite.
func compile(name string, def policyDef) (*Policy, error) {
	p := &Policy{Name: name, Protocols: def.protocols, Ciphers: def.ciphers, Curves: classicCurves}
	if def.pq {
		p.Curves = pqCurves
	}
	for _, v := range def.protocols {
		gv, ok := protocolVersions[v]
		if !ok {
			return nil, &UnsupportedPolicyError{Name: name, Reason: "protocol " + v + " is not implemented by Go"}
		}
		if p.MinVersion == 0 || gv < p.MinVersion {
			p.MinVersion = gv
		}
		p.MaxVersion = max(p.MaxVersion, gv)
	}
	for _, c := range def.ciphers {
		if strings.HasPrefix(c, "TLS_") {
			continue // TLS 1.3: always on in Go
		}
		id, ok := suiteIDs[c]
		if !ok {
			p.Omitted = append(p.Omitted, c)
			continue
		}
		p.Suites = append(p.Suites, id)
	}
	if p.MinVersion < tls.VersionTLS13 && len(p.Suites) == 0 {
		return nil, &UnsupportedPolicyError{Name: name, Reason: "none of its TLS 1.2 and older ciphers is implemented by Go (missing " + strings.Join(p.Omitted, ", ") + ")"}
	}
	if p.MinVersion < tls.VersionTLS12 {
		// TLS 1.0 and 1.1 need a suite that is not TLS 1.2-only (no GCM,
		// no SHA-256 MACs).
		old := false
		for _, id := range p.Suites {
			if !tls12Only[id] {
				old = true
			}
		}
		if !old {
			return nil, &UnsupportedPolicyError{Name: name, Reason: "it allows TLS 1.0/1.1 but none of its ciphers usable there is implemented by Go"}
		}
	}
	return p, nil
}
