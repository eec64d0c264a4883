// Package state keeps Albatross's durable state: the Store of resources that the
// ELBv2 API and the configuration file change (store.go: an interface with a
// bbolt implementation, shaped so that an etcd one can replace it), and the
// registry of resource ids: every load balancer, listener, rule and target group
// keeps the AWS-shaped id it was first given (16 lowercase hex digits) across
// restarts, so that its ARN, its access-log name and its metric labels never
// change. Both live in one bbolt file in the data directory, which also serves as
// the lock that keeps two albatross processes off one data directory.
package state

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the name of the database file inside the data directory.
const FileName = "albatross.db"

// IDLength is the length of a resource id: 16 lowercase hex digits, as AWS's.
const IDLength = 16

// openTimeout is how long OpenIDs waits for the file lock held by another
// process before it gives up with ErrInUse.
const openTimeout = time.Second

// schemaVersion is written into the meta bucket; a file with another version is
// refused rather than misread.
const schemaVersion = "1"

// Bucket names. ids maps a caller's key to its id; owners maps an id back to its
// key, which is how a fresh id is known to be unique.
var (
	bucketMeta   = []byte("meta")
	bucketIDs    = []byte("ids")
	bucketOwners = []byte("id-owners")
	bucketKV     = []byte("kv")
	keySchema    = []byte("schema")
)

// ErrInUse is wrapped by OpenIDs's error when another process holds the data
// directory.
var ErrInUse = errors.New("in use by another albatross")

// IDs hands out stable 16-hex-digit resource ids, persisted in DIR/albatross.db.
// Keys are opaque strings chosen by the caller, such as "loadbalancer/web" or
// "listener/web/8080". An IDs is safe for concurrent use.
type IDs struct {
	db   *bolt.DB
	path string
	// rand is the source of new ids: crypto/rand, replaceable in tests.
	rand io.Reader
	// ownsDB is true when Close closes db (OpenIDs); false when the IDs share
	// a Bolt's database (Open), which closes it.
	ownsDB bool
}

// OpenIDs opens the registry in dir, creating dir (mode 0700) and the file (0600)
// if needed. The file is locked while open; if another process holds it for more
// than a second, the error wraps ErrInUse and says which data directory is busy.
// A process that also needs the Store opens both with Open instead.
func OpenIDs(dir string) (*IDs, error) {
	db, path, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	return &IDs{db: db, path: path, rand: rand.Reader, ownsDB: true}, nil
}

// openDB opens (creating if needed) DIR/albatross.db with every bucket this
// package uses, and checks its schema version.
func openDB(dir string) (*bolt.DB, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, "", fmt.Errorf("data dir %s is %w (%s stays locked while a process has it open)", dir, ErrInUse, path)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keySchema); {
		case v == nil:
			if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
				return err
			}
		case string(v) != schemaVersion:
			return fmt.Errorf("schema version %q, this albatross reads version %s", v, schemaVersion)
		}
		for _, b := range [][]byte{bucketIDs, bucketOwners, bucketKV} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, "", fmt.Errorf("initialise state %s: %w", path, err)
	}
	return db, path, nil
}

// Path returns the database file's path.
func (s *IDs) Path() string { return s.path }

// Assign returns an id for each key in one read-write transaction: a key that has
// an id keeps it, a new key gets a fresh random id not used by any other key. It
// is all or nothing: on error no new id is stored. Keys may repeat; an empty key
// or one longer than bbolt's 32 KiB key limit is an error.
func (s *IDs) Assign(keys []string) (map[string]string, error) {
	out := make(map[string]string, len(keys))
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids, owners := tx.Bucket(bucketIDs), tx.Bucket(bucketOwners)
		for _, k := range keys {
			if err := checkKey(k); err != nil {
				return err
			}
			if id := ids.Get([]byte(k)); id != nil {
				out[k] = string(id)
				continue
			}
			id, err := s.freshID(owners)
			if err != nil {
				return fmt.Errorf("new id for %q: %w", k, err)
			}
			if err := ids.Put([]byte(k), []byte(id)); err != nil {
				return fmt.Errorf("store id for %q: %w", k, err)
			}
			if err := owners.Put([]byte(id), []byte(k)); err != nil {
				return fmt.Errorf("store id for %q: %w", k, err)
			}
			out[k] = id
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("assign ids: %w", err)
	}
	return out, nil
}

// Lookup returns the id of key without assigning one; ok is false if key has
// none.
func (s *IDs) Lookup(key string) (id string, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketIDs).Get([]byte(key)); v != nil {
			id, ok = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("look up id of %q: %w", key, err)
	}
	return id, ok, nil
}

// All returns every key and its id, for copying the registry elsewhere
// (albatross store migrate).
func (s *IDs) All() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIDs).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list ids: %w", err)
	}
	return out, nil
}

// Bind makes id the id of key, in one transaction: a key that had another id
// loses it, and a key that held id gives it up. The ELBv2 API uses it when a
// listener moves to another port, so that its ARN (which carries the id) does not
// change while the data plane's key for it (load balancer and port) does.
func (s *IDs) Bind(key, id string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("bind id: %w", err)
	}
	if !ValidID(id) {
		return fmt.Errorf("bind id: %q is not a resource id", id)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids, owners := tx.Bucket(bucketIDs), tx.Bucket(bucketOwners)
		if old := ids.Get([]byte(key)); old != nil && string(old) != id {
			if err := owners.Delete(append([]byte(nil), old...)); err != nil {
				return err
			}
		}
		if prev := owners.Get([]byte(id)); prev != nil && string(prev) != key {
			if err := ids.Delete(append([]byte(nil), prev...)); err != nil {
				return err
			}
		}
		if err := ids.Put([]byte(key), []byte(id)); err != nil {
			return err
		}
		return owners.Put([]byte(id), []byte(key))
	})
	if err != nil {
		return fmt.Errorf("bind id of %q: %w", key, err)
	}
	return nil
}

// Release forgets the ids of keys, in one transaction; unknown keys are ignored.
// The ELBv2 API calls it when a resource is deleted, so that a resource created
// again under the same name gets a new id and a new ARN, as on AWS.
func (s *IDs) Release(keys []string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		ids, owners := tx.Bucket(bucketIDs), tx.Bucket(bucketOwners)
		for _, k := range keys {
			id := ids.Get([]byte(k))
			if id == nil {
				continue
			}
			// Copy: id points into the page that the deletes below modify.
			id = append([]byte(nil), id...)
			if err := ids.Delete([]byte(k)); err != nil {
				return err
			}
			if err := owners.Delete(id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("release ids: %w", err)
	}
	return nil
}

// Close releases the file and its lock (when OpenIDs opened it; an IDs from
// Bolt.IDs is closed with its Bolt).
func (s *IDs) Close() error {
	if !s.ownsDB {
		return nil
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close id registry %s: %w", s.path, err)
	}
	return nil
}

// freshID draws random ids until one is not in owners. With 64 random bits a
// second draw is already astronomically unlikely; the bound only turns a broken
// random source into an error instead of a loop.
func (s *IDs) freshID(owners *bolt.Bucket) (string, error) {
	var b [IDLength / 2]byte
	for range 8 {
		if _, err := io.ReadFull(s.rand, b[:]); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		id := hex.EncodeToString(b[:])
		if owners.Get([]byte(id)) == nil {
			return id, nil
		}
	}
	return "", errors.New("no unused id after 8 random draws; is the random source broken?")
}

func checkKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty key")
	case len(k) > bolt.MaxKeySize:
		return fmt.Errorf("key of %d bytes is longer than %d", len(k), bolt.MaxKeySize)
	}
	return nil
}

// ValidID reports whether s has the shape of a resource id: 16 lowercase hex
// digits.
func ValidID(s string) bool {
	if len(s) != IDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// randReader is the source of new ids in production.
func randReader() io.Reader { return rand.Reader }
