package config

import (
	"strings"
	"testing"
)

const mtlsBase = `trust_stores:
  - name: clients
    ca_certificates_bundle: ca.pem
    revocations: [crl.pem]
target_groups: [{name: app, port: 80}]
load_balancers:
  - name: web
    listeners:
      - port: 443
        protocol: HTTPS
        certificates: [{cert: a.pem, key: a.key}]
        default_actions: [{type: forward, target_group: app}]
`

func TestParseMutualAuthentication(t *testing.T) {
	cfg, err := Parse("t.yaml", []byte(mtlsBase+`        mutual_authentication:
          mode: verify
          trust_store: clients
          ignore_client_certificate_expiry: true
          advertise_trust_store_ca_names: on
      - port: 8443
        protocol: HTTPS
        certificates: [{cert: a.pem, key: a.key}]
        default_actions: [{type: forward, target_group: app}]
        mutual_authentication: {mode: passthrough}
`))
	if err != nil {
		t.Fatal(err)
	}
	ts := cfg.TrustStore("clients")
	if ts == nil || ts.CACertificatesBundle != "ca.pem" || len(ts.Revocations) != 1 || ts.Revocations[0] != "crl.pem" {
		t.Fatalf("trust store %+v", cfg.TrustStores)
	}
	ma := cfg.LoadBalancers[0].Listeners[0].MutualAuthentication
	want := MutualAuthentication{Mode: MTLSModeVerify, TrustStore: "clients", IgnoreClientCertificateExpiry: true, AdvertiseTrustStoreCaNames: true}
	if ma == nil || *ma != want {
		t.Errorf("verify listener %+v", ma)
	}
	if pt := cfg.LoadBalancers[0].Listeners[1].MutualAuthentication; !pt.Enabled() || pt.Mode != MTLSModePassthrough {
		t.Errorf("passthrough listener %+v", pt)
	}
}

func TestParseMutualAuthenticationErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"verify without store": {mtlsBase + "        mutual_authentication: {mode: verify}\n", "mode verify needs a trust store"},
		"unknown store":        {mtlsBase + "        mutual_authentication: {mode: verify, trust_store: clinets}\n", `trust store "clinets" is not in trust_stores`},
		"bad mode":             {mtlsBase + "        mutual_authentication: {mode: strict}\n", "must be off, passthrough or verify"},
		"store in passthrough": {mtlsBase + "        mutual_authentication: {mode: passthrough, trust_store: clients}\n", "apply to mode verify only"},
		"bad advertise":        {mtlsBase + "        mutual_authentication: {mode: verify, trust_store: clients, advertise_trust_store_ca_names: maybe}\n", "must be on or off"},
		"unknown key":          {mtlsBase + "        mutual_authentication: {mode: verify, trust_store: clients, trust: x}\n", "trust"},
		"http listener": {`target_groups: [{name: app, port: 80}]
load_balancers:
  - name: web
    listeners:
      - port: 80
        default_actions: [{type: forward, target_group: app}]
        mutual_authentication: {mode: passthrough}
`, "needs an HTTPS listener"},
		"store without bundle": {"trust_stores: [{name: x}]\n", "ca_certificates_bundle: is required"},
		"duplicate store":      {"trust_stores: [{name: x, ca_certificates_bundle: a}, {name: x, ca_certificates_bundle: b}]\n", "already used by trust_stores[0]"},
		"bad store name":       {"trust_stores: [{name: -x, ca_certificates_bundle: a}]\n", "trust_stores[0].name"},
	} {
		_, err := Parse("t.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, tc.want)
		}
	}
}
