package control

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// Albatross has no ACM or IAM certificate store: a certificate ARN given to
// the ELBv2 API names a pair of PEM files in the node's certificate directory.
// Both of AWS's certificate ARN forms are understood, and NAME, their last
// path segment, is the file name:
//
//	arn:aws:iam::ACCOUNT:server-certificate/NAME   (IAM's form; NAME is yours)
//	arn:aws:acm:REGION:ACCOUNT:certificate/NAME    (ACM's form; on AWS a UUID)
//
// map to DIR/NAME.crt (the chain, leaf first) and DIR/NAME.key (the private
// key). The files are read when the listener is applied, at every change and
// reload, so a renewed certificate is picked up by the next one.

// certNameRE is what a NAME may be: IAM's server certificate name characters,
// which also covers ACM's UUIDs, and never a path.
var certNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,@_-][A-Za-z0-9+=,.@_-]{0,127}$`)

// CertificateARNError is a certificate ARN that names no PEM file pair.
type CertificateARNError struct {
	ARN string
	// Malformed is set when ARN is not one of the two certificate ARN forms.
	Malformed bool
	Err       error
}

func (e *CertificateARNError) Error() string {
	return fmt.Sprintf("certificate %q: %v", e.ARN, e.Err)
}

func (e *CertificateARNError) Unwrap() error { return e.Err }

// CertificateName returns NAME of a certificate ARN of either form.
func CertificateName(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	bad := &CertificateARNError{ARN: arn, Malformed: true,
		Err: fmt.Errorf("not a certificate ARN: use arn:aws:iam::ACCOUNT:server-certificate/NAME or arn:aws:acm:REGION:ACCOUNT:certificate/NAME")}
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" {
		return "", bad
	}
	var rest string
	var ok bool
	switch parts[2] {
	case "iam":
		rest, ok = strings.CutPrefix(parts[5], "server-certificate/")
	case "acm":
		rest, ok = strings.CutPrefix(parts[5], "certificate/")
	}
	if !ok {
		return "", bad
	}
	name := rest[strings.LastIndexByte(rest, '/')+1:]
	if !certNameRE.MatchString(name) {
		bad.Err = fmt.Errorf("certificate name %q: use 1-128 letters, digits and +=,.@_- (not starting with a dot)", name)
		return "", bad
	}
	return name, nil
}

// CertificateFiles returns the certificate chain and key files that arn names
// in dir: dir/NAME.crt and dir/NAME.key.
func CertificateFiles(dir, arn string) (cert, key string, err error) {
	name, err := CertificateName(arn)
	if err != nil {
		return "", "", err
	}
	if dir == "" {
		return "", "", &CertificateARNError{ARN: arn, Err: fmt.Errorf("this node has no certificate directory")}
	}
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"), nil
}

// LoadCertificate reads and checks the files arn names, as the node will when
// it applies a listener that uses it.
func (m *Model) LoadCertificate(arn string) (*tlsconf.Cert, error) {
	cert, key, err := CertificateFiles(m.CertificateDir, arn)
	if err != nil {
		return nil, err
	}
	c, err := tlsconf.LoadCert(cert, key, arn, m.Region, m.AccountID)
	if err != nil {
		return nil, &CertificateARNError{ARN: arn, Err: fmt.Errorf("expected %s and %s: %w", cert, key, err)}
	}
	return c, nil
}

// CertificateARN is the ARN a listener certificate is known by: the one it was
// given, or for a configuration-file certificate without one, the ARN derived
// from its content (as the data plane logs it); "" if its files cannot be read.
func (m *Model) CertificateARN(c config.Certificate) string {
	if c.ARN != "" {
		return c.ARN
	}
	resolve := func(f string) string {
		if filepath.IsAbs(f) || m.BaseDir == "" {
			return f
		}
		return filepath.Join(m.BaseDir, f)
	}
	lc, err := tlsconf.LoadCert(resolve(c.Cert), resolve(c.Key), "", m.Region, m.AccountID)
	if err != nil {
		return ""
	}
	return lc.ARN
}
