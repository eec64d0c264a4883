package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Mutual TLS: trust stores and listeners' mutual_authentication.

// Mutual authentication modes (ALB's MutualAuthentication.Mode).
const (
	MTLSModeOff         = "off"
	MTLSModePassthrough = "passthrough"
	MTLSModeVerify      = "verify"
)

// TrustStore is a set of CA certificates and revocation lists that verify-mode
// listeners check client certificates against. In the configuration file its
// files are paths (relative to the file's directory); the control plane reads
// them when the file is applied and again at every reload.
type TrustStore struct {
	// Name follows the target group name rules (ValidName) and is unique.
	Name string `yaml:"name"`
	// CACertificatesBundle is a PEM file of one or more CA certificates.
	CACertificatesBundle string `yaml:"ca_certificates_bundle"`
	// Revocations are certificate revocation list files (PEM or DER), each
	// issued by a CA of the bundle.
	Revocations []string `yaml:"revocations"`
	// CABundlePEM and CRLs are the contents the node compiles, filled by the
	// control plane (not in the file).
	CABundlePEM []byte   `yaml:"-"`
	CRLs        [][]byte `yaml:"-"`
}

// TrustStore returns the trust store named name, or nil.
func (c *Config) TrustStore(name string) *TrustStore {
	for i := range c.TrustStores {
		if c.TrustStores[i].Name == name {
			return &c.TrustStores[i]
		}
	}
	return nil
}

// MutualAuthentication is an HTTPS listener's mutual TLS setting, ALB's
// MutualAuthentication. A nil *MutualAuthentication is mode off.
type MutualAuthentication struct {
	// Mode is MTLSModeOff, MTLSModePassthrough or MTLSModeVerify.
	Mode string `yaml:"mode" json:"mode"`
	// TrustStore names the trust store of verify mode: a trust store's name
	// (in the file, or created through the API) or its ARN.
	TrustStore string `yaml:"trust_store" json:"trust_store,omitempty"`
	// IgnoreClientCertificateExpiry accepts expired client certificates
	// (verify mode; default false).
	IgnoreClientCertificateExpiry bool `yaml:"ignore_client_certificate_expiry" json:"ignore_client_certificate_expiry,omitempty"`
	// AdvertiseTrustStoreCaNames sends the trust store's CA names in the TLS
	// CertificateRequest (verify mode; default off).
	AdvertiseTrustStoreCaNames bool `yaml:"advertise_trust_store_ca_names" json:"advertise_trust_store_ca_names,omitempty"`
}

// Enabled reports whether the mode is passthrough or verify.
func (m *MutualAuthentication) Enabled() bool {
	return m != nil && m.Mode != "" && m.Mode != MTLSModeOff
}

// Check validates a mutual authentication setting of a listener with the
// given protocol, in the API's terms; it does not look the trust store up.
func (m *MutualAuthentication) Check(protocol string) error {
	if m == nil {
		return nil
	}
	switch m.Mode {
	case MTLSModeOff, MTLSModePassthrough, MTLSModeVerify:
	default:
		return fmt.Errorf("mutual authentication mode must be off, passthrough or verify, got %q", m.Mode)
	}
	if m.Mode != MTLSModeOff && protocol != "HTTPS" {
		return fmt.Errorf("mutual authentication (mode %s) needs an HTTPS listener; this one is %s", m.Mode, protocol)
	}
	if m.Mode == MTLSModeVerify && m.TrustStore == "" {
		return fmt.Errorf("mutual authentication mode verify needs a trust store")
	}
	if m.Mode != MTLSModeVerify && (m.TrustStore != "" || m.IgnoreClientCertificateExpiry || m.AdvertiseTrustStoreCaNames) {
		return fmt.Errorf("a trust store, ignore_client_certificate_expiry and advertise_trust_store_ca_names apply to mode verify only (mode is %s)", m.Mode)
	}
	return nil
}

// trustStores decodes the top-level trust_stores list.
func (d *decoder) trustStores(n *yaml.Node) []TrustStore {
	var out []TrustStore
	seen := map[string]int{}
	for i, tn := range d.list(n, "trust_stores") {
		path := index("trust_stores", i)
		f, ok := d.mapping(tn, path, "name", "ca_certificates_bundle", "revocations")
		if !ok {
			continue
		}
		var ts TrustStore
		if nf, ok := f["name"]; ok {
			if s, ok := d.scalar(nf.val, join(path, "name")); ok {
				if err := ValidName(s); err != nil {
					d.add(nf.val, join(path, "name"), "%v", err)
				} else if prev, dup := seen[s]; dup {
					d.add(nf.val, join(path, "name"), "trust store name %q is already used by trust_stores[%d]", s, prev)
				}
				seen[s] = i
				ts.Name = s
			}
		} else {
			d.add(tn, join(path, "name"), "is required")
		}
		if bf, ok := f["ca_certificates_bundle"]; ok {
			if s, ok := d.scalar(bf.val, join(path, "ca_certificates_bundle")); ok {
				if s == "" {
					d.add(bf.val, join(path, "ca_certificates_bundle"), "must not be empty")
				}
				ts.CACertificatesBundle = s
			}
		} else {
			d.add(tn, join(path, "ca_certificates_bundle"), "is required (a PEM file of CA certificates)")
		}
		if rf, ok := f["revocations"]; ok {
			for j, rn := range d.list(rf.val, join(path, "revocations")) {
				if s, ok := d.scalar(rn, index(join(path, "revocations"), j)); ok {
					if s == "" {
						d.add(rn, index(join(path, "revocations"), j), "must not be empty (a CRL file)")
					}
					ts.Revocations = append(ts.Revocations, s)
				}
			}
		}
		out = append(out, ts)
	}
	return out
}

// listenerMTLS decodes a listener's mutual_authentication.
func (d *decoder) listenerMTLS(f map[string]field, path string, l *Listener) {
	mf, ok := f["mutual_authentication"]
	if !ok {
		return
	}
	path = join(path, "mutual_authentication")
	m, ok := d.mapping(mf.val, path, "mode", "trust_store", "ignore_client_certificate_expiry", "advertise_trust_store_ca_names")
	if !ok {
		return
	}
	ma := &MutualAuthentication{Mode: MTLSModeOff}
	if v, ok := m["mode"]; ok {
		if s, ok := d.scalar(v.val, join(path, "mode")); ok {
			ma.Mode = s
		}
	} else {
		d.add(mf.val, join(path, "mode"), "is required (off, passthrough or verify)")
	}
	if v, ok := m["trust_store"]; ok {
		if s, ok := d.scalar(v.val, join(path, "trust_store")); ok {
			ma.TrustStore = s
		}
	}
	if v, ok := m["ignore_client_certificate_expiry"]; ok {
		ma.IgnoreClientCertificateExpiry, _ = d.boolean(v.val, join(path, "ignore_client_certificate_expiry"))
	}
	if v, ok := m["advertise_trust_store_ca_names"]; ok {
		if s, ok := d.scalar(v.val, join(path, "advertise_trust_store_ca_names")); ok {
			switch strings.ToLower(s) {
			case "on", "true":
				ma.AdvertiseTrustStoreCaNames = true
			case "off", "false":
			default:
				d.add(v.val, join(path, "advertise_trust_store_ca_names"), "must be on or off, got %q", s)
			}
		}
	}
	if err := ma.Check(l.Protocol); err != nil {
		d.add(mf.val, path, "%v", err)
	}
	l.MutualAuthentication = ma
}

// checkTrustStoreRefs reports listeners whose trust store is neither in the
// file nor an ARN (an ARN names one created through the API, checked when the
// file is applied).
func (d *decoder) checkTrustStoreRefs(c *Config, lbNodes []*yaml.Node) {
	for i, lb := range c.LoadBalancers {
		for j, l := range lb.Listeners {
			ma := l.MutualAuthentication
			if ma == nil || ma.TrustStore == "" || strings.HasPrefix(ma.TrustStore, "arn:") || c.TrustStore(ma.TrustStore) != nil {
				continue
			}
			var names []string
			for _, ts := range c.TrustStores {
				names = append(names, ts.Name)
			}
			var n *yaml.Node
			if i < len(lbNodes) {
				n = lbNodes[i]
			}
			d.add(n, fmt.Sprintf("load_balancers[%d].listeners[%d].mutual_authentication.trust_store", i, j),
				"trust store %q is not in trust_stores (name one of the file's, or give the ARN of one created through the API)%s", ma.TrustStore, didYouMean(ma.TrustStore, names))
		}
	}
}

// MTLSHeaders are the request headers a mutual TLS listener adds, by their
// canonical names: verify mode's five, then passthrough's whole chain. Their
// names can be changed with the routing.http.request.*.header_name listener
// attributes.
var MTLSHeaders = [6]string{
	"X-Amzn-Mtls-Clientcert-Serial-Number",
	"X-Amzn-Mtls-Clientcert-Issuer",
	"X-Amzn-Mtls-Clientcert-Subject",
	"X-Amzn-Mtls-Clientcert-Validity",
	"X-Amzn-Mtls-Clientcert-Leaf",
	"X-Amzn-Mtls-Clientcert",
}
