package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CacheFile is the name of a node's state cache in its data directory.
const CacheFile = "state-cache.json"

// Cached is the state a node last applied from a shared store: every Store
// key and value at Revision, as Load returned them (or as Commit left them).
type Cached struct {
	// Prefix names the cluster the state came from (the etcd key prefix); a
	// cache of another prefix is not used.
	Prefix string `json:"prefix"`
	// Revision is the store's revision the keys reflect.
	Revision int64 `json:"revision"`
	// SavedAt is when the node applied this state.
	SavedAt time.Time `json:"saved_at"`
	// KVs are the Store's keys, in key order.
	KVs []KV `json:"kvs"`
}

// Cache keeps a node's last applied state on its local disk, so that a node
// restarted while its shared store cannot be reached serves what it served
// before instead of nothing. Save hands the state to a goroutine that writes
// the newest one it has (a burst of changes is one write), atomically: a
// temporary file, fsync'd, renamed over the old one. A crash leaves the old
// cache or the new one, never a mix.
type Cache struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	pending *Cached
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

// OpenCache returns the cache at path and starts its writer; Close stops it.
func OpenCache(path string, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.Default()
	}
	c := &Cache{path: path, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c
}

// Path returns the cache file's path.
func (c *Cache) Path() string { return c.path }

// Load reads the cache. Its error wraps os.ErrNotExist when there is none.
func (c *Cache) Load() (*Cached, error) {
	b, err := os.ReadFile(c.path)
	if err != nil {
		return nil, fmt.Errorf("state cache: %w", err)
	}
	var st Cached
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("state cache %s: %w", c.path, err)
	}
	return &st, nil
}

// Save records st as the newest state; it is written soon after, or by
// Close. st must not be modified afterwards.
func (c *Cache) Save(st *Cached) {
	c.mu.Lock()
	if !c.closed {
		c.pending = st
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close writes the state saved last, if it is not written yet, and stops the
// writer.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.wake)
	<-c.done
	return nil
}

func (c *Cache) run() {
	defer close(c.done)
	for range c.wake {
		c.flush()
	}
	c.flush()
}

func (c *Cache) flush() {
	c.mu.Lock()
	st := c.pending
	c.pending = nil
	c.mu.Unlock()
	if st == nil {
		return
	}
	if err := writeFileAtomic(c.path, st); err != nil {
		c.log.Warn("writing the local state cache; a restart while the store is unreachable would serve an older state", "path", c.path, "err", err)
	}
}

// writeFileAtomic writes v as JSON to path through a temporary file that is
// fsync'd and renamed over path, and fsyncs the directory.
func writeFileAtomic(path string, v any) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = json.NewEncoder(f).Encode(v)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// HasCache reports whether dir holds a state cache.
func HasCache(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, CacheFile))
	return err == nil
}

// FallbackIDs is an id registry that answers from what it has learned when
// its shared registry cannot be reached: a node serving its cached state
// while etcd is down still compiles every resource with its id. While the
// registry answers, FallbackIDs only passes calls through and learns from
// them; it never invents an id, and changes (a new key, another id for a
// key, a release) still need the registry. Offline (SetOffline), it does not
// ask the registry at all, so that a node serving its cache does not wait out
// a timeout per resource.
type FallbackIDs struct {
	inner IDRegistry

	mu      sync.Mutex
	known   map[string]string
	offline bool
}

// SetOffline makes f answer from what it knows without asking the registry
// (true), or ask it again (false).
func (f *FallbackIDs) SetOffline(offline bool) {
	f.mu.Lock()
	f.offline = offline
	f.mu.Unlock()
}

func (f *FallbackIDs) isOffline() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offline
}

// errOffline is the error of a change FallbackIDs cannot make offline.
var errOffline = fmt.Errorf("id registry: %w (serving the cached state)", ErrUnavailable)

// NewFallbackIDs wraps inner.
func NewFallbackIDs(inner IDRegistry) *FallbackIDs {
	return &FallbackIDs{inner: inner, known: map[string]string{}}
}

// Learn records ids that the resources' records carry (key to id).
func (f *FallbackIDs) Learn(ids map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, id := range ids {
		f.known[k] = id
	}
}

// Assign implements IDRegistry.
func (f *FallbackIDs) Assign(keys []string) (map[string]string, error) {
	err := errOffline
	if !f.isOffline() {
		ids, ierr := f.inner.Assign(keys)
		if ierr == nil {
			f.Learn(ids)
			return ids, nil
		}
		err = ierr
	}
	if !errors.Is(err, ErrUnavailable) {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		id, ok := f.known[k]
		if !ok {
			return nil, err
		}
		out[k] = id
	}
	return out, nil
}

// Lookup implements IDRegistry.
func (f *FallbackIDs) Lookup(key string) (string, bool, error) {
	err := errOffline
	if !f.isOffline() {
		id, ok, ierr := f.inner.Lookup(key)
		if ierr == nil {
			return id, ok, nil
		}
		err = ierr
	}
	if !errors.Is(err, ErrUnavailable) {
		return "", false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.known[key]; ok {
		return id, true, nil
	}
	return "", false, err
}

// Bind implements IDRegistry. Offline, binding a key to the id it is known
// to have changes nothing and succeeds.
func (f *FallbackIDs) Bind(key, id string) error {
	err := errOffline
	if !f.isOffline() {
		if err = f.inner.Bind(key, id); err == nil {
			f.Learn(map[string]string{key: id})
			return nil
		}
	}
	if errors.Is(err, ErrUnavailable) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.known[key] == id {
			return nil
		}
	}
	return err
}

// Release implements IDRegistry.
func (f *FallbackIDs) Release(keys []string) error {
	if f.isOffline() {
		return errOffline
	}
	if err := f.inner.Release(keys); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		delete(f.known, k)
	}
	return nil
}
