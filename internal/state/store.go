package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Store is durable, revisioned key-value state: the control plane's resources,
// one key per resource. It is the seam between Albatross and its storage:
// bbolt in one file now (Bolt), etcd for several nodes sharing one
// configuration later. Callers depend only on this interface, so an etcd
// implementation drops in without touching them. Its three operations map onto
// etcd directly: Load is a ranged Get at a revision, Commit a Txn whose If
// compares a revision, Watch a watch on the key prefix.
//
// The revision is a counter that every successful Commit increases by one; it
// orders the changes and lets a writer detect that another one got in first.
type Store interface {
	// Load returns every key that begins with prefix, in key order, and the
	// revision the result reflects.
	Load(ctx context.Context, prefix string) ([]KV, int64, error)
	// Commit applies ops atomically and durably: when it returns nil, every op
	// is on stable storage (bbolt: fsync'd) and a crash cannot lose or split
	// them; when it returns an error, none of them happened. When ifRevision
	// is not AnyRevision and the store's revision differs from it, Commit
	// changes nothing and returns an error wrapping ErrConflict. It returns the
	// new revision.
	Commit(ctx context.Context, ifRevision int64, ops []Op) (int64, error)
	// Watch returns the store's current revision and a channel that receives,
	// in order, every change committed after it (by this process or, with a
	// shared store, another). The channel is closed when ctx ends or the store
	// closes. A receiver that falls behind loses nothing: events queue.
	Watch(ctx context.Context) (int64, <-chan Event, error)
}

// AnyRevision makes Commit unconditional.
const AnyRevision int64 = -1

// ErrConflict is wrapped by Commit's error when ifRevision is stale.
var ErrConflict = errors.New("state changed since it was read")

// ErrClosed is wrapped by the errors of a closed store.
var ErrClosed = errors.New("state store is closed")

// KV is one stored key and its value.
type KV struct {
	Key   string
	Value []byte
}

// Op is one change: put Value at Key, or delete Key when Delete is set.
type Op struct {
	Key    string
	Value  []byte
	Delete bool
}

// Put returns an op that stores value at key.
func Put(key string, value []byte) Op { return Op{Key: key, Value: value} }

// Delete returns an op that removes key.
func Delete(key string) Op { return Op{Key: key, Delete: true} }

// Event is one committed change: the revision it created and its ops.
type Event struct {
	Revision int64
	Ops      []Op
}

// keyRevision is the meta key holding the store's revision.
var keyRevision = []byte("revision")

// Bolt is the bbolt-backed Store, in DIR/albatross.db beside the id registry.
// Every Commit is one bbolt read-write transaction, which bbolt fsyncs before it
// returns (the database is never opened with NoSync). It is safe for concurrent
// use.
type Bolt struct {
	db   *bolt.DB
	path string
	ids  *IDs

	mu       sync.Mutex // guards watchers and closed; held across Commit's notify
	watchers map[*watcher]struct{}
	closed   bool
}

// Open opens (creating if needed) the state in dir: the Store and the id
// registry in one locked file. See OpenIDs for the locking and ErrInUse.
func Open(dir string) (*Bolt, error) {
	db, path, err := openDB(dir)
	if err != nil {
		return nil, err
	}
	b := &Bolt{db: db, path: path, watchers: make(map[*watcher]struct{})}
	b.ids = &IDs{db: db, path: path, rand: randReader()}
	return b, nil
}

// IDs returns the id registry that shares b's file. Closing it is a no-op; Close
// b instead.
func (b *Bolt) IDs() *IDs { return b.ids }

// Path returns the database file's path.
func (b *Bolt) Path() string { return b.path }

// Load implements Store.
func (b *Bolt) Load(ctx context.Context, prefix string) ([]KV, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var out []KV
	var rev int64
	err := b.db.View(func(tx *bolt.Tx) error {
		rev = revisionOf(tx)
		c := tx.Bucket(bucketKV).Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
			out = append(out, KV{Key: string(k), Value: append([]byte(nil), v...)})
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("load state %q: %w", prefix, b.wrapClosed(err))
	}
	return out, rev, nil
}

// Commit implements Store.
func (b *Bolt) Commit(ctx context.Context, ifRevision int64, ops []Op) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	for _, op := range ops {
		if err := checkKey(op.Key); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
	}
	// b.mu is held from before the write until the watchers have the event,
	// so that watchers see events in revision order and Watch cannot miss one
	// between reading the revision and registering.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, fmt.Errorf("commit: %w", ErrClosed)
	}
	var rev int64
	err := b.db.Update(func(tx *bolt.Tx) error {
		cur := revisionOf(tx)
		if ifRevision != AnyRevision && cur != ifRevision {
			return fmt.Errorf("%w (revision %d, expected %d)", ErrConflict, cur, ifRevision)
		}
		kv := tx.Bucket(bucketKV)
		for _, op := range ops {
			var err error
			if op.Delete {
				err = kv.Delete([]byte(op.Key))
			} else {
				err = kv.Put([]byte(op.Key), op.Value)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", op.Key, err)
			}
		}
		rev = cur + 1
		var buf [8]byte
		binary.BigEndian.PutUint64(buf[:], uint64(rev))
		return tx.Bucket(bucketMeta).Put(keyRevision, buf[:])
	})
	if err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	ev := Event{Revision: rev, Ops: cloneOps(ops)}
	for w := range b.watchers {
		w.push(ev)
	}
	return rev, nil
}

// Watch implements Store.
func (b *Bolt) Watch(ctx context.Context) (int64, <-chan Event, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, nil, fmt.Errorf("watch: %w", ErrClosed)
	}
	var rev int64
	if err := b.db.View(func(tx *bolt.Tx) error { rev = revisionOf(tx); return nil }); err != nil {
		return 0, nil, fmt.Errorf("watch: %w", err)
	}
	w := &watcher{out: make(chan Event), wake: make(chan struct{}, 1), done: make(chan struct{})}
	b.watchers[w] = struct{}{}
	go func() {
		select {
		case <-ctx.Done():
		case <-w.done:
		}
		b.mu.Lock()
		delete(b.watchers, w)
		b.mu.Unlock()
		w.stop()
	}()
	go w.run()
	return rev, w.out, nil
}

// Close ends every watch and closes the file (and the id registry with it).
func (b *Bolt) Close() error {
	b.mu.Lock()
	b.closed = true
	for w := range b.watchers {
		delete(b.watchers, w)
		w.stop()
	}
	b.mu.Unlock()
	if err := b.db.Close(); err != nil {
		return fmt.Errorf("close state %s: %w", b.path, err)
	}
	return nil
}

func (b *Bolt) wrapClosed(err error) error {
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return err
}

func revisionOf(tx *bolt.Tx) int64 {
	v := tx.Bucket(bucketMeta).Get(keyRevision)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

func cloneOps(ops []Op) []Op {
	out := make([]Op, len(ops))
	for i, op := range ops {
		out[i] = Op{Key: op.Key, Delete: op.Delete, Value: append([]byte(nil), op.Value...)}
	}
	return out
}

// watcher queues events for one Watch without ever blocking Commit.
type watcher struct {
	out  chan Event
	wake chan struct{}
	done chan struct{}

	mu       sync.Mutex
	queue    []Event
	stopOnce sync.Once
}

func (w *watcher) push(ev Event) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) stop() { w.stopOnce.Do(func() { close(w.done) }) }

// run delivers queued events until stopped, then closes out.
func (w *watcher) run() {
	defer close(w.out)
	for {
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		w.mu.Unlock()
		for _, ev := range q {
			select {
			case w.out <- ev:
			case <-w.done:
				return
			}
		}
		select {
		case <-w.wake:
		case <-w.done:
			return
		}
	}
}
