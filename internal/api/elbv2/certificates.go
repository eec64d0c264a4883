package elbv2

import (
	"slices"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
)

// maxCertificatesPerLB is AWS's default quota of certificates per Application
// Load Balancer, default certificates not counted
// (certificates-per-application-load-balancer).
const maxCertificatesPerLB = 25

// readCertificateARNs reads a Certificates list of {CertificateArn}.
func readCertificateARNs(f form) ([]string, error) {
	items := f.structs("Certificates")
	if len(items) == 0 {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'certificates' failed to satisfy constraint: Member must not be null")
	}
	var arns []string
	for i, it := range items {
		arn := it.get("CertificateArn")
		if arn == "" {
			return nil, errorf(codeValidation, "1 validation error detected: Value null at 'certificates.%d.member.certificateArn' failed to satisfy constraint: Member must not be null", i+1)
		}
		arns = append(arns, arn)
	}
	return arns, nil
}

// addListenerCertificates adds SNI certificates to an HTTPS listener. A
// certificate the listener already has is left as it is.
func addListenerCertificates(c *call, w *xmlWriter) error {
	arns, err := readCertificateARNs(c.f)
	if err != nil {
		return err
	}
	var added []string
	err = c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		l, err := findListener(m, c.f)
		if err != nil {
			return err
		}
		if l.Protocol != "HTTPS" {
			return errorf(codeValidation, "Certificates can be added to HTTPS listeners only; listener '%s' is %s", m.ListenerARN(l), l.Protocol)
		}
		n := l.Clone()
		for _, arn := range arns {
			if err := checkCertificate(m, arn); err != nil {
				return err
			}
			added = append(added, arn)
			if !slices.ContainsFunc(n.Certificates, func(c config.Certificate) bool { return m.CertificateARN(c) == arn }) {
				n.Certificates = append(n.Certificates, config.Certificate{ARN: arn})
			}
		}
		count := 0
		for _, o := range m.ListenersOf(l.LoadBalancerID) {
			if o.ID == n.ID {
				o = n
			}
			count += max(len(o.Certificates)-1, 0)
		}
		if count > maxCertificatesPerLB {
			return errorf(codeTooManyCertificates, "A load balancer can have at most %d certificates besides its listeners' default certificates; this change would make %d", maxCertificatesPerLB, count)
		}
		if len(n.Certificates) != len(l.Certificates) {
			tx.PutListener(n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.list("Certificates", len(added), func(i int) {
		w.leaf("CertificateArn", added[i])
		w.bool("IsDefault", false)
	})
	return nil
}

// removeListenerCertificates removes SNI certificates from a listener. The
// default certificate cannot be removed (ModifyListener replaces it); ARNs the
// listener does not have are ignored.
func removeListenerCertificates(c *call, w *xmlWriter) error {
	arns, err := readCertificateARNs(c.f)
	if err != nil {
		return err
	}
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		l, err := findListener(m, c.f)
		if err != nil {
			return err
		}
		n := l.Clone()
		for _, arn := range arns {
			for i, cert := range n.Certificates {
				if m.CertificateARN(cert) != arn {
					continue
				}
				if i == 0 {
					return errorf(codeOperationNotPermitted, "The default certificate '%s' cannot be removed from listener '%s'; replace it with ModifyListener", arn, m.ListenerARN(l))
				}
				n.Certificates = slices.Delete(n.Certificates, i, i+1)
				break
			}
		}
		if len(n.Certificates) != len(l.Certificates) {
			tx.PutListener(n)
		}
		return nil
	})
}

// describeListenerCertificates lists a listener's certificates, the default
// one first with IsDefault true.
func describeListenerCertificates(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	l, err := findListener(m, c.f)
	if err != nil {
		return err
	}
	type indexed struct {
		arn string
		seq int64
	}
	var all []indexed
	for i, cert := range l.Certificates {
		all = append(all, indexed{m.CertificateARN(cert), int64(i)})
	}
	pg, next, err := page(c.f, all, func(x indexed) int64 { return x.seq })
	if err != nil {
		return err
	}
	w.list("Certificates", len(pg), func(i int) {
		w.leaf("CertificateArn", pg[i].arn)
		w.bool("IsDefault", pg[i].seq == 0)
	})
	w.opt("NextMarker", next)
	return nil
}
