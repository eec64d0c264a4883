package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/state"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// Trust stores. Albatross has no S3: the CA certificates bundle and the
// revocation lists that AWS reads from s3://BUCKET/KEY are read from the
// node's certificate directory, DIR/BUCKET/KEY, when the API call is made;
// the configuration file names files instead. Either way the contents are
// copied into the record, as AWS copies the S3 object: a later change to the
// file changes nothing until ModifyTrustStore (or, for the file's trust
// stores, the next reload), and every node of a cluster serves the same
// contents.

// prefixTrustStore is the key prefix of trust store records.
const prefixTrustStore = "truststore/"

// KindTrustStore is the resource kind of trust store ARNs.
const KindTrustStore = "truststore"

// TrustStoreKey is the id registry key of the trust store named name.
func TrustStoreKey(name string) string { return "truststore/" + name }

// TrustStore is a trust store record.
type TrustStore struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Seq         int64     `json:"seq"`
	CreatedTime time.Time `json:"created_time"`
	// CABundle is the CA certificates bundle (PEM), as read; BundleSource
	// says where from (s3://BUCKET/KEY or a file path).
	CABundle     []byte `json:"ca_bundle"`
	BundleSource string `json:"bundle_source"`
	// NumberOfCaCertificates is how many certificates CABundle holds.
	NumberOfCaCertificates int `json:"number_of_ca_certificates"`
	// Revocations are the revocation lists added, by RevocationID.
	Revocations []Revocation `json:"revocations,omitempty"`
	// LastRevocationID is the last RevocationId given out (ids are never
	// reused).
	LastRevocationID int64 `json:"last_revocation_id,omitempty"`
	Tags             []Tag `json:"tags,omitempty"`
	FromFile         bool  `json:"from_file,omitempty"`
	// FileOwner: see LoadBalancer.FileOwner.
	FileOwner string `json:"file_owner,omitempty"`
}

// Revocation is one revocation list of a trust store.
type Revocation struct {
	ID int64 `json:"id"`
	// Type is "CRL", the only type AWS has.
	Type string `json:"type"`
	// Content is the CRL as read (PEM or DER); Source says where from.
	Content []byte `json:"content"`
	Source  string `json:"source"`
	// Entries is how many certificates it revokes.
	Entries int64 `json:"entries"`
}

// TotalRevokedEntries is the sum of the revocations' entries.
func (ts *TrustStore) TotalRevokedEntries() int64 {
	var n int64
	for _, r := range ts.Revocations {
		n += r.Entries
	}
	return n
}

// Clone returns a deep copy (contents are never modified in place, so they
// are shared).
func (ts *TrustStore) Clone() *TrustStore {
	c := *ts
	c.Revocations = append([]Revocation(nil), ts.Revocations...)
	c.Tags = append([]Tag(nil), ts.Tags...)
	return &c
}

// TrustStoreARN returns ts's ARN.
func (m *Model) TrustStoreARN(ts *TrustStore) string {
	return state.TrustStoreARN(m.Region, m.AccountID, ts.Name, ts.ID)
}

// TrustStoreByARN returns the trust store whose ARN is arn, or nil.
func (m *Model) TrustStoreByARN(arn string) *TrustStore {
	if kind, id, ok := ParseARN(arn); ok && kind == KindTrustStore {
		if ts := m.TrustStores[id]; ts != nil && m.TrustStoreARN(ts) == arn {
			return ts
		}
	}
	return nil
}

// TrustStoreByName returns the trust store named name, or nil.
func (m *Model) TrustStoreByName(name string) *TrustStore {
	for _, ts := range m.TrustStores {
		if ts.Name == name {
			return ts
		}
	}
	return nil
}

// SortedTrustStores lists the trust stores in creation order.
func (m *Model) SortedTrustStores() []*TrustStore {
	return sortBySeq(m.TrustStores, func(ts *TrustStore) int64 { return ts.Seq })
}

// ListenersUsingTrustStore returns the listeners whose mutual authentication
// uses the trust store named name.
func (m *Model) ListenersUsingTrustStore(name string) []*Listener {
	var out []*Listener
	for _, l := range m.SortedListeners() {
		if ma := l.MutualAuthentication; ma.Enabled() && ma.TrustStore == name {
			out = append(out, l)
		}
	}
	return out
}

// PutTrustStore stores ts (new or changed).
func (tx *Tx) PutTrustStore(ts *TrustStore) {
	tx.m.TrustStores[ts.ID] = ts
	tx.dirty[prefixTrustStore+ts.ID] = true
}

// DeleteTrustStore removes a trust store.
func (tx *Tx) DeleteTrustStore(id string) {
	if ts := tx.m.TrustStores[id]; ts != nil && !tx.keepIDs {
		tx.release = append(tx.release, TrustStoreKey(ts.Name))
	}
	delete(tx.m.TrustStores, id)
	tx.dirty[prefixTrustStore+id] = true
}

// TrustStoreContentError is a bundle or revocation list that cannot be read
// (NotFound) or is not valid.
type TrustStoreContentError struct {
	// Source is where the content was looked for.
	Source   string
	NotFound bool
	Err      error
}

func (e *TrustStoreContentError) Error() string { return fmt.Sprintf("%s: %v", e.Source, e.Err) }
func (e *TrustStoreContentError) Unwrap() error { return e.Err }

// s3PartRE is what a bucket name may be here: S3's bucket name characters,
// never a path.
var s3PartRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,62}$`)

// S3File returns the file that stands in for s3://bucket/key: DIR/BUCKET/KEY
// in the node's certificate directory. The key may have slashes, never ".."
// or an absolute path.
func (m *Model) S3File(bucket, key string) (string, error) {
	src := "s3://" + bucket + "/" + key
	switch {
	case m.CertificateDir == "":
		return "", &TrustStoreContentError{Source: src, NotFound: true, Err: errors.New("this node has no certificate directory (--certificates-dir), where S3 objects are read from")}
	case !s3PartRE.MatchString(bucket) || strings.Contains(bucket, ".."):
		return "", &TrustStoreContentError{Source: src, Err: fmt.Errorf("bucket %q is not a valid S3 bucket name", bucket)}
	case key == "" || strings.HasPrefix(key, "/") || strings.Contains("/"+key+"/", "/../") || strings.ContainsRune(key, 0):
		return "", &TrustStoreContentError{Source: src, Err: fmt.Errorf("key %q must be a relative path inside the bucket", key)}
	}
	return filepath.Join(m.CertificateDir, bucket, filepath.FromSlash(key)), nil
}

// readContent reads a bundle or CRL file; src names it in errors.
func readContent(path, src string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &TrustStoreContentError{Source: src, NotFound: errors.Is(err, os.ErrNotExist), Err: fmt.Errorf("expected the file %s: %w", path, err)}
	}
	return b, nil
}

// ReadCABundle reads and checks a CA certificates bundle; it returns the
// bundle and how many certificates it holds.
func ReadCABundle(path, src string) ([]byte, int, error) {
	b, err := readContent(path, src)
	if err != nil {
		return nil, 0, err
	}
	cas, err := tlsconf.ParseCABundle(b)
	if err != nil {
		return nil, 0, &TrustStoreContentError{Source: src, Err: err}
	}
	return b, len(cas), nil
}

// ReadRevocation reads and checks a CRL for trust store ts: a CA of its
// bundle must have issued it.
func ReadRevocation(ts *TrustStore, path, src string) (Revocation, error) {
	b, err := readContent(path, src)
	if err != nil {
		return Revocation{}, err
	}
	cas, err := tlsconf.ParseCABundle(ts.CABundle)
	if err != nil {
		return Revocation{}, fmt.Errorf("trust store %q: %w", ts.Name, err)
	}
	crl, err := tlsconf.ParseCRL(b, cas)
	if err != nil {
		return Revocation{}, &TrustStoreContentError{Source: src, Err: err}
	}
	return Revocation{Type: "CRL", Content: b, Source: src, Entries: int64(len(crl.RevokedCertificateEntries))}, nil
}

// CheckRevocations checks that every revocation list of ts was issued by a CA
// of its bundle (after ModifyTrustStore replaced the bundle).
func CheckRevocations(ts *TrustStore) error {
	cas, err := tlsconf.ParseCABundle(ts.CABundle)
	if err != nil {
		return err
	}
	for _, r := range ts.Revocations {
		if _, err := tlsconf.ParseCRL(r.Content, cas); err != nil {
			return fmt.Errorf("revocation %d (%s): %w", r.ID, r.Source, err)
		}
	}
	return nil
}

// importTrustStores applies the file's trust stores (before its listeners,
// which refer to them).
func importTrustStores(tx *Tx, cfg *config.Config) error {
	m := tx.Model()
	owner := tx.c.opts.FileOwner
	resolve := func(f string) string {
		if filepath.IsAbs(f) || m.BaseDir == "" {
			return f
		}
		return filepath.Join(m.BaseDir, f)
	}
	for _, fts := range cfg.TrustStores {
		old := m.TrustStoreByName(fts.Name)
		var rec *TrustStore
		if old == nil {
			id, err := tx.NewID(TrustStoreKey(fts.Name))
			if err != nil {
				return err
			}
			rec = &TrustStore{ID: id, Name: fts.Name, Seq: tx.NextSeq(), CreatedTime: tx.Now()}
		} else {
			rec = old.Clone()
		}
		path := resolve(fts.CACertificatesBundle)
		bundle, n, err := ReadCABundle(path, path)
		if err != nil {
			return fmt.Errorf("trust store %q: CA certificates bundle: %w", fts.Name, err)
		}
		rec.CABundle, rec.BundleSource, rec.NumberOfCaCertificates = bundle, path, n
		rec.Revocations, rec.LastRevocationID = nil, 0
		for _, f := range fts.Revocations {
			p := resolve(f)
			r, err := ReadRevocation(rec, p, p)
			if err != nil {
				return fmt.Errorf("trust store %q: revocation: %w", fts.Name, err)
			}
			rec.LastRevocationID++
			r.ID = rec.LastRevocationID
			rec.Revocations = append(rec.Revocations, r)
		}
		rec.FromFile, rec.FileOwner = true, owner
		if old == nil || !trustStoreEqual(old, rec) {
			tx.PutTrustStore(rec)
		}
	}
	return nil
}

// removeFileTrustStores deletes the trust stores an earlier version of the
// file declared and this one does not (after its listeners are applied).
func removeFileTrustStores(tx *Tx, cfg *config.Config) error {
	m := tx.Model()
	owner := tx.c.opts.FileOwner
	for _, ts := range m.SortedTrustStores() {
		if !ts.FromFile || ts.FileOwner != owner || cfg.TrustStore(ts.Name) != nil {
			continue
		}
		if users := m.ListenersUsingTrustStore(ts.Name); len(users) > 0 {
			return fmt.Errorf("trust store %q was removed from the file but listener %s still uses it; change that listener first", ts.Name, m.ListenerARN(users[0]))
		}
		tx.DeleteTrustStore(ts.ID)
	}
	return nil
}

// fileMutualAuthentication resolves a file listener's trust store reference
// (a name or an ARN) to the name the record keeps.
func fileMutualAuthentication(m *Model, ma *config.MutualAuthentication) (*config.MutualAuthentication, error) {
	if !ma.Enabled() {
		return nil, nil
	}
	c := *ma
	if c.Mode != config.MTLSModeVerify {
		return &c, nil
	}
	if strings.HasPrefix(c.TrustStore, "arn:") {
		ts := m.TrustStoreByARN(c.TrustStore)
		if ts == nil {
			return nil, fmt.Errorf("trust store %q does not exist", c.TrustStore)
		}
		c.TrustStore = ts.Name
	} else if m.TrustStoreByName(c.TrustStore) == nil {
		return nil, fmt.Errorf("trust store %q does not exist", c.TrustStore)
	}
	return &c, nil
}

func trustStoreEqual(a, b *TrustStore) bool {
	if a.Name != b.Name || string(a.CABundle) != string(b.CABundle) || a.BundleSource != b.BundleSource ||
		a.NumberOfCaCertificates != b.NumberOfCaCertificates || len(a.Revocations) != len(b.Revocations) ||
		a.LastRevocationID != b.LastRevocationID || a.FromFile != b.FromFile || a.FileOwner != b.FileOwner {
		return false
	}
	for i := range a.Revocations {
		x, y := a.Revocations[i], b.Revocations[i]
		if x.ID != y.ID || x.Type != y.Type || string(x.Content) != string(y.Content) || x.Source != y.Source || x.Entries != y.Entries {
			return false
		}
	}
	return true
}

// compileTrustStores adds the model's trust stores to the node's
// configuration.
func compileTrustStores(m *Model, cfg *config.Config) {
	for _, ts := range m.SortedTrustStores() {
		cts := config.TrustStore{Name: ts.Name, CABundlePEM: ts.CABundle}
		for _, r := range ts.Revocations {
			cts.CRLs = append(cts.CRLs, r.Content)
		}
		cfg.TrustStores = append(cfg.TrustStores, cts)
	}
}
