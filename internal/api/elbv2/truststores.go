package elbv2

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
)

// Trust stores (mutual TLS). There is no S3 here: s3://BUCKET/KEY is the file
// BUCKET/KEY in the node's certificate directory, read when the call is made
// (see control.Model.S3File). S3ObjectVersion is accepted and ignored.

// Trust store error codes.
const (
	codeTrustStoreNotFound            = "TrustStoreNotFound"
	codeTrustStoreInUse               = "TrustStoreInUse"
	codeDuplicateTrustStoreName       = "DuplicateTrustStoreName"
	codeTooManyTrustStores            = "TooManyTrustStores"
	codeInvalidCaCertificatesBundle   = "InvalidCaCertificatesBundle"
	codeCaCertificatesBundleNotFound  = "CaCertificatesBundleNotFound"
	codeInvalidRevocationContent      = "InvalidRevocationContent"
	codeRevocationContentNotFound     = "RevocationContentNotFound"
	codeRevocationIDNotFound          = "RevocationIdNotFound"
	codeTooManyTrustStoreRevocations  = "TooManyTrustStoreRevocationEntries"
	maxTrustStores                    = 100
	maxRevocationFilesPerTrustStore   = 30
	maxCACertificatesPerTrustStore    = 100
	maxRevokedEntriesPerTrustStore    = 500000
	trustStoreStatusActive            = "ACTIVE"
	mutualAuthenticationAdvertiseOn   = "on"
	mutualAuthenticationAdvertiseOff  = "off"
	trustStoreAssociationStatusActive = "active"
)

// readBundle reads the CA certificates bundle a Create/ModifyTrustStore call
// names.
func readBundle(m *control.Model, f form) (bundle []byte, n int, src string, err error) {
	var v validation
	bucket := require(&v, f, "CaCertificatesBundleS3Bucket", "caCertificatesBundleS3Bucket")
	key := require(&v, f, "CaCertificatesBundleS3Key", "caCertificatesBundleS3Key")
	if err := v.err(); err != nil {
		return nil, 0, "", err
	}
	src = "s3://" + bucket + "/" + key
	path, err := m.S3File(bucket, key)
	if err == nil {
		bundle, n, err = control.ReadCABundle(path, src)
	}
	var cerr *control.TrustStoreContentError
	switch {
	case err == nil:
	case errors.As(err, &cerr) && cerr.NotFound:
		return nil, 0, "", errorf(codeCaCertificatesBundleNotFound, "CA certificates bundle '%s' not found: %v", src, cerr.Err)
	case errors.As(err, &cerr):
		return nil, 0, "", errorf(codeInvalidCaCertificatesBundle, "CA certificates bundle '%s' is not valid: %v", src, cerr.Err)
	default:
		return nil, 0, "", err
	}
	if n > maxCACertificatesPerTrustStore {
		return nil, 0, "", errorf(codeInvalidCaCertificatesBundle, "CA certificates bundle '%s' has %d certificates; a trust store takes at most %d", src, n, maxCACertificatesPerTrustStore)
	}
	return bundle, n, src, nil
}

// findTrustStore returns the trust store of the request's TrustStoreArn.
func findTrustStore(m *control.Model, f form) (*control.TrustStore, error) {
	arn, ok := f.lookup("TrustStoreArn")
	if !ok || arn == "" {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'trustStoreArn' failed to satisfy constraint: Member must not be null")
	}
	ts := m.TrustStoreByARN(arn)
	if ts == nil {
		return nil, errorf(codeTrustStoreNotFound, "Trust store '%s' not found", arn)
	}
	return ts, nil
}

func writeTrustStore(w *xmlWriter, m *control.Model, ts *control.TrustStore) {
	w.leaf("Name", ts.Name)
	w.leaf("TrustStoreArn", m.TrustStoreARN(ts))
	w.leaf("Status", trustStoreStatusActive)
	w.int("NumberOfCaCertificates", ts.NumberOfCaCertificates)
	w.leaf("TotalRevokedEntries", strconv.FormatInt(ts.TotalRevokedEntries(), 10))
}

func createTrustStore(c *call, w *xmlWriter) error {
	name, ok := c.f.lookup("Name")
	if !ok || name == "" {
		return errorf(codeValidation, "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	}
	if err := config.ValidName(name); err != nil {
		return errorf(codeValidation, "Trust store name '%s' is not valid: %v", name, err)
	}
	tags, err := readTags(c.f, "Tags")
	if err != nil {
		return err
	}
	var out *control.TrustStore
	return updateThenWrite(c, w, "TrustStores", func(tx *control.Tx) error {
		m := tx.Model()
		if m.TrustStoreByName(name) != nil {
			return errorf(codeDuplicateTrustStoreName, "A trust store with the name '%s' already exists", name)
		}
		if len(m.TrustStores) >= maxTrustStores {
			return errorf(codeTooManyTrustStores, "You can have at most %d trust stores", maxTrustStores)
		}
		bundle, n, src, err := readBundle(m, c.f)
		if err != nil {
			return err
		}
		id, err := tx.NewID(control.TrustStoreKey(name))
		if err != nil {
			return err
		}
		out = &control.TrustStore{ID: id, Name: name, Seq: tx.NextSeq(), CreatedTime: tx.Now(), CABundle: bundle, BundleSource: src, NumberOfCaCertificates: n, Tags: tags}
		tx.PutTrustStore(out)
		return nil
	}, func(m *control.Model) { writeTrustStore(w, m, out) })
}

func describeTrustStores(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	arns := c.f.strings("TrustStoreArns")
	names := c.f.strings("Names")
	var list []*control.TrustStore
	switch {
	case len(arns) > 0 && len(names) > 0:
		return errorf(codeValidation, "Trust store ARNs and names cannot be specified at the same time")
	case len(arns) > 0:
		for _, a := range arns {
			ts := m.TrustStoreByARN(a)
			if ts == nil {
				return errorf(codeTrustStoreNotFound, "Trust store '%s' not found", a)
			}
			list = append(list, ts)
		}
	case len(names) > 0:
		for _, n := range names {
			ts := m.TrustStoreByName(n)
			if ts == nil {
				return errorf(codeTrustStoreNotFound, "Trust store '%s' not found", n)
			}
			list = append(list, ts)
		}
	default:
		list = m.SortedTrustStores()
	}
	pg, next, err := page(c.f, list, func(ts *control.TrustStore) int64 { return ts.Seq })
	if err != nil {
		return err
	}
	w.list("TrustStores", len(pg), func(i int) { writeTrustStore(w, m, pg[i]) })
	w.opt("NextMarker", next)
	return nil
}

func modifyTrustStore(c *call, w *xmlWriter) error {
	var out *control.TrustStore
	return updateThenWrite(c, w, "TrustStores", func(tx *control.Tx) error {
		m := tx.Model()
		ts, err := findTrustStore(m, c.f)
		if err != nil {
			return err
		}
		bundle, n, src, err := readBundle(m, c.f)
		if err != nil {
			return err
		}
		out = ts.Clone()
		out.CABundle, out.BundleSource, out.NumberOfCaCertificates = bundle, src, n
		if err := control.CheckRevocations(out); err != nil {
			return errorf(codeInvalidCaCertificatesBundle, "CA certificates bundle '%s' does not hold the issuer of a revocation list of trust store '%s' (remove the revocation first): %v", src, ts.Name, err)
		}
		tx.PutTrustStore(out)
		return nil
	}, func(m *control.Model) { writeTrustStore(w, m, out) })
}

func deleteTrustStore(c *call, w *xmlWriter) error {
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		ts, err := findTrustStore(m, c.f)
		if err != nil {
			return err
		}
		if users := m.ListenersUsingTrustStore(ts.Name); len(users) > 0 {
			return errorf(codeTrustStoreInUse, "Trust store '%s' is in use by listener '%s'", m.TrustStoreARN(ts), m.ListenerARN(users[0]))
		}
		tx.DeleteTrustStore(ts.ID)
		return nil
	})
}

func addTrustStoreRevocations(c *call, w *xmlWriter) error {
	items := c.f.structs("RevocationContents")
	if len(items) == 0 {
		return errorf(codeValidation, "1 validation error detected: Value null at 'revocationContents' failed to satisfy constraint: Member must not be null")
	}
	var added []control.Revocation
	var arn string
	err := c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		ts, err := findTrustStore(m, c.f)
		if err != nil {
			return err
		}
		arn = m.TrustStoreARN(ts)
		n := ts.Clone()
		added = nil
		for i, it := range items {
			var v validation
			path := "revocationContents." + strconv.Itoa(i+1) + ".member"
			bucket := require(&v, it, "S3Bucket", path+".s3Bucket")
			key := require(&v, it, "S3Key", path+".s3Key")
			v.enum(it, "RevocationType", path+".revocationType", "CRL")
			if err := v.err(); err != nil {
				return err
			}
			src := "s3://" + bucket + "/" + key
			file, err := m.S3File(bucket, key)
			var r control.Revocation
			if err == nil {
				r, err = control.ReadRevocation(n, file, src)
			}
			var cerr *control.TrustStoreContentError
			switch {
			case err == nil:
			case errors.As(err, &cerr) && cerr.NotFound:
				return errorf(codeRevocationContentNotFound, "Revocation content '%s' not found: %v", src, cerr.Err)
			case errors.As(err, &cerr):
				return errorf(codeInvalidRevocationContent, "Revocation content '%s' is not valid: %v", src, cerr.Err)
			default:
				return err
			}
			n.LastRevocationID++
			r.ID = n.LastRevocationID
			n.Revocations = append(n.Revocations, r)
			added = append(added, r)
		}
		if len(n.Revocations) > maxRevocationFilesPerTrustStore {
			return errorf(codeTooManyTrustStoreRevocations, "A trust store can have at most %d revocation files; this change would make %d", maxRevocationFilesPerTrustStore, len(n.Revocations))
		}
		if total := n.TotalRevokedEntries(); total > maxRevokedEntriesPerTrustStore {
			return errorf(codeTooManyTrustStoreRevocations, "A trust store can revoke at most %d certificates; this change would make %d", maxRevokedEntriesPerTrustStore, total)
		}
		tx.PutTrustStore(n)
		return nil
	})
	if err != nil {
		return err
	}
	w.list("TrustStoreRevocations", len(added), func(i int) {
		w.leaf("TrustStoreArn", arn)
		w.leaf("RevocationId", strconv.FormatInt(added[i].ID, 10))
		w.leaf("RevocationType", added[i].Type)
		w.leaf("NumberOfRevokedEntries", strconv.FormatInt(added[i].Entries, 10))
	})
	return nil
}

// revocationIDs reads a RevocationIds list.
func revocationIDs(f form) ([]int64, error) {
	var ids []int64
	for i, s := range f.strings("RevocationIds") {
		id, err := parseRevocationID(s, fmt.Sprintf("revocationIds.%d.member", i+1))
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// parseRevocationID reads a RevocationId; at names its place in the request
// for the error.
func parseRevocationID(s, at string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errorf(codeValidation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must be an integer", s, at)
	}
	return id, nil
}

func describeTrustStoreRevocations(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	ts, err := findTrustStore(m, c.f)
	if err != nil {
		return err
	}
	ids, err := revocationIDs(c.f)
	if err != nil {
		return err
	}
	list := ts.Revocations
	if len(ids) > 0 {
		list = nil
		for _, id := range ids {
			i := slices.IndexFunc(ts.Revocations, func(r control.Revocation) bool { return r.ID == id })
			if i < 0 {
				return errorf(codeRevocationIDNotFound, "Revocation ID '%d' not found in trust store '%s'", id, m.TrustStoreARN(ts))
			}
			list = append(list, ts.Revocations[i])
		}
	}
	pg, next, err := page(c.f, list, func(r control.Revocation) int64 { return r.ID })
	if err != nil {
		return err
	}
	arn := m.TrustStoreARN(ts)
	w.list("TrustStoreRevocations", len(pg), func(i int) {
		w.leaf("TrustStoreArn", arn)
		w.leaf("RevocationId", strconv.FormatInt(pg[i].ID, 10))
		w.leaf("RevocationType", pg[i].Type)
		w.leaf("NumberOfRevokedEntries", strconv.FormatInt(pg[i].Entries, 10))
	})
	w.opt("NextMarker", next)
	return nil
}

func removeTrustStoreRevocations(c *call, w *xmlWriter) error {
	ids, err := revocationIDs(c.f)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errorf(codeValidation, "1 validation error detected: Value null at 'revocationIds' failed to satisfy constraint: Member must not be null")
	}
	return c.ctrl.Update(c.ctx, func(tx *control.Tx) error {
		m := tx.Model()
		ts, err := findTrustStore(m, c.f)
		if err != nil {
			return err
		}
		n := ts.Clone()
		for _, id := range ids {
			i := slices.IndexFunc(n.Revocations, func(r control.Revocation) bool { return r.ID == id })
			if i < 0 {
				return errorf(codeRevocationIDNotFound, "Revocation ID '%d' not found in trust store '%s'", id, m.TrustStoreARN(ts))
			}
			n.Revocations = slices.Delete(n.Revocations, i, i+1)
		}
		tx.PutTrustStore(n)
		return nil
	})
}

// getTrustStoreCaCertificatesBundle returns the bundle as it is stored. AWS
// answers with a presigned S3 URL; with no S3 here, Location is a data: URL
// (RFC 2397) that holds the PEM bundle itself, base64-encoded.
func getTrustStoreCaCertificatesBundle(c *call, w *xmlWriter) error {
	ts, err := findTrustStore(c.ctrl.Model(), c.f)
	if err != nil {
		return err
	}
	w.leaf("Location", "data:application/x-pem-file;base64,"+base64.StdEncoding.EncodeToString(ts.CABundle))
	return nil
}

// describeTrustStoreAssociations lists the load balancers whose listeners
// verify clients with the trust store, in creation order.
func describeTrustStoreAssociations(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	ts, err := findTrustStore(m, c.f)
	if err != nil {
		return err
	}
	var lbs []*control.LoadBalancer
	for _, l := range m.ListenersUsingTrustStore(ts.Name) {
		if lb := m.LoadBalancers[l.LoadBalancerID]; lb != nil && !slices.Contains(lbs, lb) {
			lbs = append(lbs, lb)
		}
	}
	slices.SortFunc(lbs, func(a, b *control.LoadBalancer) int { return cmp.Compare(a.Seq, b.Seq) })
	pg, next, err := page(c.f, lbs, func(lb *control.LoadBalancer) int64 { return lb.Seq })
	if err != nil {
		return err
	}
	w.list("TrustStoreAssociations", len(pg), func(i int) { w.leaf("ResourceArn", m.LoadBalancerARN(pg[i])) })
	w.opt("NextMarker", next)
	return nil
}

// getTrustStoreRevocationContent answers where a revocation list can be
// read: AWS answers a presigned S3 URL; with no S3 here, a data: URL of the
// list as it was added (PEM or DER), as GetTrustStoreCaCertificatesBundle does.
func getTrustStoreRevocationContent(c *call, w *xmlWriter) error {
	m := c.ctrl.Model()
	ts, err := findTrustStore(m, c.f)
	if err != nil {
		return err
	}
	raw, ok := c.f.lookup("RevocationId")
	if !ok || raw == "" {
		return errorf(codeValidation, "1 validation error detected: Value null at 'revocationId' failed to satisfy constraint: Member must not be null")
	}
	id, err := parseRevocationID(raw, "revocationId")
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ts.Revocations, func(r control.Revocation) bool { return r.ID == id })
	if i < 0 {
		return errorf(codeRevocationIDNotFound, "Revocation ID '%d' not found in trust store '%s'", id, m.TrustStoreARN(ts))
	}
	w.leaf("Location", "data:application/pkix-crl;base64,"+base64.StdEncoding.EncodeToString(ts.Revocations[i].Content))
	return nil
}

// readMutualAuthentication reads a listener's MutualAuthentication; nil when
// the request has none. The trust store is resolved to its name.
func readMutualAuthentication(m *control.Model, f form, protocol string) (*config.MutualAuthentication, bool, error) {
	if !f.present("MutualAuthentication") {
		return nil, false, nil
	}
	mf := f.sub("MutualAuthentication")
	var v validation
	mode, ok := v.enum(mf, "Mode", "mutualAuthentication.mode", config.MTLSModeOff, config.MTLSModePassthrough, config.MTLSModeVerify)
	if !ok && v.err() == nil {
		mode = config.MTLSModeOff
	}
	ignore, _ := v.boolean(mf, "IgnoreClientCertificateExpiry", "mutualAuthentication.ignoreClientCertificateExpiry")
	adv, hasAdv := v.enum(mf, "AdvertiseTrustStoreCaNames", "mutualAuthentication.advertiseTrustStoreCaNames", mutualAuthenticationAdvertiseOn, mutualAuthenticationAdvertiseOff)
	if err := v.err(); err != nil {
		return nil, true, err
	}
	ma := &config.MutualAuthentication{Mode: mode, IgnoreClientCertificateExpiry: ignore, AdvertiseTrustStoreCaNames: hasAdv && adv == mutualAuthenticationAdvertiseOn}
	if arn := mf.get("TrustStoreArn"); arn != "" {
		ts := m.TrustStoreByARN(arn)
		if ts == nil {
			return nil, true, errorf(codeTrustStoreNotFound, "Trust store '%s' not found", arn)
		}
		ma.TrustStore = ts.Name
	}
	if mode != config.MTLSModeVerify {
		// AWS keeps only the mode outside verify.
		if ma.TrustStore != "" {
			return nil, true, errorf(codeValidation, "A trust store can be specified only when the mutual authentication mode is verify (mode is %s)", mode)
		}
		ma.IgnoreClientCertificateExpiry, ma.AdvertiseTrustStoreCaNames = false, false
	}
	if err := ma.Check(protocol); err != nil {
		return nil, true, errorf(codeValidation, "%v", err)
	}
	if mode == config.MTLSModeOff {
		return nil, true, nil
	}
	return ma, true, nil
}

// writeMutualAuthentication writes an HTTPS listener's MutualAuthentication.
func writeMutualAuthentication(w *xmlWriter, m *control.Model, ma *config.MutualAuthentication) {
	w.open("MutualAuthentication")
	if !ma.Enabled() {
		w.leaf("Mode", config.MTLSModeOff)
		w.close("MutualAuthentication")
		return
	}
	w.leaf("Mode", ma.Mode)
	if ma.Mode == config.MTLSModeVerify {
		if ts := m.TrustStoreByName(ma.TrustStore); ts != nil {
			w.leaf("TrustStoreArn", m.TrustStoreARN(ts))
		}
		w.bool("IgnoreClientCertificateExpiry", ma.IgnoreClientCertificateExpiry)
		adv := mutualAuthenticationAdvertiseOff
		if ma.AdvertiseTrustStoreCaNames {
			adv = mutualAuthenticationAdvertiseOn
		}
		w.leaf("AdvertiseTrustStoreCaNames", adv)
		w.leaf("TrustStoreAssociationStatus", trustStoreAssociationStatusActive)
	}
	w.close("MutualAuthentication")
}
