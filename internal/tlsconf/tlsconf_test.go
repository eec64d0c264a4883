package tlsconf

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestEveryPolicyCompiles(t *testing.T) {
	for _, name := range Names() {
		p, err := Lookup(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.MinVersion < tls.VersionTLS13 && len(p.Suites) == 0 {
			t.Errorf("%s: no TLS 1.2 suites", name)
		}
		for _, id := range p.Suites {
			if n := CipherName(id); !slices.Contains(p.Ciphers, n) {
				t.Errorf("%s: offers %s, which the policy does not list", name, n)
			}
		}
	}
}

func TestPolicyMapping(t *testing.T) {
	p, err := Lookup(DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if p.MinVersion != tls.VersionTLS12 || p.MaxVersion != tls.VersionTLS13 {
		t.Errorf("default policy versions %x-%x", p.MinVersion, p.MaxVersion)
	}
	if want := []string{"ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384"}; !slices.Equal(p.Omitted, want) {
		t.Errorf("omitted %v, want %v", p.Omitted, want)
	}
	if slices.Contains(p.Curves, tls.X25519MLKEM768) {
		t.Error("a non-PQ policy offers ML-KEM")
	}
	pq, _ := Lookup("ELBSecurityPolicy-TLS13-1-2-PQ-2025-09")
	if pq.Curves[0] != tls.X25519MLKEM768 {
		t.Errorf("PQ policy curves %v", pq.Curves)
	}
	old, _ := Lookup("ELBSecurityPolicy-2016-08")
	if old.MinVersion != tls.VersionTLS10 || old.MaxVersion != tls.VersionTLS12 || !slices.Contains(old.Suites, tls.TLS_RSA_WITH_AES_128_CBC_SHA) {
		t.Errorf("2016-08: %x-%x %v", old.MinVersion, old.MaxVersion, old.Suites)
	}
	res, _ := Lookup("ELBSecurityPolicy-FS-1-2-Res-2020-10")
	if len(res.Suites) != 4 || len(res.Omitted) != 0 {
		t.Errorf("FS-1-2-Res-2020-10 suites %v omitted %v", res.Suites, res.Omitted)
	}

	var nf *PolicyNotFoundError
	if _, err := Lookup("ELBSecurityPolicy-Nope"); !errors.As(err, &nf) {
		t.Errorf("unknown policy: %v", err)
	}
	var un *UnsupportedPolicyError
	if _, err := Lookup("ELBSecurityPolicy-TLS13-1-0-FIPS-2023-04"); !errors.As(err, &un) {
		t.Errorf("FIPS policy: %v", err)
	}
	// A policy whose only ciphers Go lacks cannot be served, and says why.
	_, err = compile("made-up", policyDef{protocols: versions("TLSv1.2", "TLSv1.2"), ciphers: []string{"AES256-SHA256"}})
	if !errors.As(err, &un) || un.Reason != "none of its TLS 1.2 and older ciphers is implemented by Go (missing AES256-SHA256)" {
		t.Errorf("unservable policy: %v", err)
	}
}

func TestNames(t *testing.T) {
	for id, want := range map[uint16]string{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
		tls.TLS_RSA_WITH_AES_256_CBC_SHA:          "AES256-SHA",
		tls.TLS_AES_256_GCM_SHA384:                "TLS_AES_256_GCM_SHA384",
	} {
		if got := CipherName(id); got != want {
			t.Errorf("CipherName(%x) = %q, want %q", id, got, want)
		}
	}
	if ProtocolName(tls.VersionTLS10) != "TLSv1" || ProtocolName(tls.VersionTLS13) != "TLSv1.3" {
		t.Error("protocol names")
	}
}

func loadTestCert(t *testing.T, names ...string) *Cert {
	t.Helper()
	dir := t.TempDir()
	c, k, err := SelfSigned(names, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "c"), c, 0o600)
	os.WriteFile(filepath.Join(dir, "k"), k, 0o600)
	cert, err := LoadCert(filepath.Join(dir, "c"), filepath.Join(dir, "k"), "", "eu-west-1", "123456789012")
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestChoose(t *testing.T) {
	def := loadTestCert(t, "Default.Example.org")
	exact := loadTestCert(t, "www.example.com", "api.example.com")
	wild := loadTestCert(t, "*.example.com")
	p, _ := Lookup(DefaultPolicy)
	l, err := NewListener(p, []*Cert{def, wild, exact}, true)
	if err != nil {
		t.Fatal(err)
	}
	for sni, want := range map[string]struct {
		i       int
		matched bool
	}{
		"api.example.com":     {2, true}, // exact beats the wildcard listed first
		"WWW.example.com.":    {2, true},
		"x.example.com":       {1, true},
		"example.com":         {0, false},
		"a.b.example.com":     {0, false},
		"default.example.org": {0, true},
		"":                    {0, false},
	} {
		i, m := l.choose(&tls.ClientHelloInfo{ServerName: sni})
		if i != want.i || m != want.matched {
			t.Errorf("choose(%q) = %d %v, want %d %v", sni, i, m, want.i, want.matched)
		}
	}
	if def.ARN[:42] != "arn:aws:acm:eu-west-1:123456789012:certifi" || len(def.ARN) != len("arn:aws:acm:eu-west-1:123456789012:certificate/")+36 {
		t.Errorf("derived ARN %q", def.ARN)
	}
	if _, err := NewListener(p, nil, false); err == nil {
		t.Error("a listener without certificates compiled")
	}
	if _, err := LoadCert("/nonexistent.pem", "/nonexistent.key", "", "r", "a"); err == nil {
		t.Error("missing files loaded")
	}
}
