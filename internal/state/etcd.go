package state

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultEtcdPrefix is the key prefix under which an Etcd store keeps
// everything when EtcdOptions.Prefix is empty.
const DefaultEtcdPrefix = "/albatross"

// Default timeouts of an Etcd store.
const (
	DefaultEtcdDialTimeout    = 5 * time.Second
	DefaultEtcdRequestTimeout = 5 * time.Second
)

// ErrUnavailable is wrapped by the errors of a store that cannot reach a
// working quorum in time (etcd: no leader, members unreachable, or the request
// deadline passed). The API answers it with ServiceUnavailable.
var ErrUnavailable = errors.New("state store unavailable")

// Key layout under the prefix P. Store keys live under P/kv/ so that nothing
// else (the id registry, the meta keys) shows up in Load or in the events of
// Watch.
const (
	etcdKV       = "/kv/"
	etcdIDs      = "/ids/"
	etcdOwners   = "/id-owners/"
	etcdRevision = "/meta/revision"
	etcdSchema   = "/meta/schema"
)

// EtcdOptions configures OpenEtcd.
type EtcdOptions struct {
	// Endpoints are the etcd members' client addresses, host:port.
	Endpoints []string
	// Prefix is the key prefix of this Albatross cluster's state
	// (DefaultEtcdPrefix when empty); a trailing slash is ignored.
	Prefix string
	// TLS, when not nil, is used to reach the members (server verification
	// and, with a client certificate, client authentication).
	TLS *tls.Config
	// DialTimeout bounds connecting at open (DefaultEtcdDialTimeout when 0).
	DialTimeout time.Duration
	// RequestTimeout bounds every request: a Load or Commit whose context has
	// no earlier deadline, and every id registry call
	// (DefaultEtcdRequestTimeout when 0). Past it the call fails with an error
	// wrapping ErrUnavailable and context.DeadlineExceeded; it never hangs.
	RequestTimeout time.Duration
	// Logger receives the store's own warnings (slog.Default when nil).
	Logger *slog.Logger
	// AllowUnavailable makes OpenEtcd succeed when etcd cannot be reached
	// (for a node that serves its cached state until it can): the layout
	// check then runs before the first request that reaches etcd.
	AllowUnavailable bool
}

// Etcd is the etcd-backed Store, for several Albatross nodes sharing one
// configuration. Everything lives under one key prefix P:
//
//	P/kv/KEY          the Store's keys
//	P/meta/revision   written by every Commit, in the same transaction
//	P/meta/schema     the layout's version, "1"
//	P/ids/KEY         the id registry: KEY's resource id
//	P/id-owners/ID    the id registry: the key that holds ID
//
// Revisions. The Store's revision is etcd's own revision of the last Commit:
// the mod revision of P/meta/revision, which every Commit rewrites in its
// transaction (0 before the first Commit). It increases with every Commit but
// not by one: etcd's revision counts every write to the cluster, including the
// id registry's and other prefixes'. Load reads the keys and P/meta/revision
// in one linearizable transaction and returns that mod revision. Commit is one
// etcd Txn: with ifRevision, If(mod_revision(P/meta/revision) == ifRevision),
// Then(every op, put P/meta/revision), so that all ops or none are applied and
// two writers that read the same revision cannot both win; the new revision
// is the Txn's header revision. The value put at P/meta/revision is a random
// token of that Commit, so that a retry after a lost answer recognises its
// own earlier attempt instead of reporting a conflict with itself. Writes to the id registry do not touch
// P/meta/revision and so never make a Commit conflict.
//
// Watch follows the whole prefix with an etcd watch from the revision after
// the one it read, with require-leader (a member that lost its quorum ends the
// stream instead of going silent) and progress notifications. The events of
// one etcd revision are one Event, in op order, whose Revision is that etcd
// revision. When the stream breaks (member down, no leader, canceled) it is
// resumed from the revision after the last one delivered, so nothing is lost
// or repeated. When etcd compacted past that revision the missed history no
// longer exists: the watch then reads the whole prefix and delivers one Event
// with the net change (puts of keys that changed, deletes of keys that went),
// computed against the key revisions it has seen, and follows on from there.
//
// Every request runs with require-leader and within RequestTimeout. A request
// that a member refuses for want of a leader was not applied, and it is
// retried (with backoff) until the deadline, so an election after a member is
// lost is ridden out; reads, conditional Commits and the id registry's
// transactions are also retried when a member could not be reached. An
// unconditional Commit (AnyRevision) that fails on the way, and any Commit
// whose deadline passes after etcd accepted it, has an unknown outcome, as
// with any distributed store: it may still be applied, and then Watch reports
// it like any other change.
//
// A transaction holds at most etcd's --max-txn-ops operations (128 unless the
// cluster is started with more; docs/cluster.md asks for more) and at most
// --max-request-bytes; a larger change fails whole with an error that names
// the setting.
type Etcd struct {
	cli       *clientv3.Client
	prefix    string
	endpoints string
	timeout   time.Duration
	log       *slog.Logger
	ids       *EtcdIDs

	schemaMu  sync.Mutex // serialises the layout check; guards the two below
	schemaOK  bool       // the layout check passed
	schemaErr error      // why the last check failed, at schemaAt
	schemaAt  time.Time

	mu       sync.Mutex // guards watches and closed
	watches  map[*etcdWatch]struct{}
	closed   bool
	watching sync.WaitGroup
}

// etcdWatch is one Watch's follower goroutine and its queue.
type etcdWatch struct {
	w      *watcher
	cancel context.CancelFunc
}

// OpenEtcd connects to the etcd cluster and checks, within RequestTimeout,
// that it answers and that the layout under the prefix is one this Albatross
// reads (writing the layout's version on first use).
func OpenEtcd(ctx context.Context, opts EtcdOptions) (*Etcd, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd store: no endpoints")
	}
	prefix := strings.TrimRight(opts.Prefix, "/")
	if opts.Prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	if prefix == "" {
		return nil, fmt.Errorf("etcd store: prefix %q names the whole keyspace; use a prefix such as %s", opts.Prefix, DefaultEtcdPrefix)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultEtcdDialTimeout
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultEtcdRequestTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   opts.Endpoints,
		DialTimeout: opts.DialTimeout,
		TLS:         opts.TLS,
		Logger:      zap.NewNop(),
		// Keep-alives find a dead member quickly, so the client moves to
		// another endpoint instead of waiting on a silent connection.
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd store %s: connect: %w", strings.Join(opts.Endpoints, ","), err)
	}
	e := &Etcd{
		cli:       cli,
		prefix:    prefix,
		endpoints: strings.Join(opts.Endpoints, ","),
		timeout:   opts.RequestTimeout,
		log:       opts.Logger,
		watches:   make(map[*etcdWatch]struct{}),
	}
	e.ids = &EtcdIDs{e: e, rand: randReader()}
	if err := e.ensureSchema(ctx); err != nil && !(opts.AllowUnavailable && errors.Is(err, ErrUnavailable)) {
		cli.Close()
		return nil, err
	}
	return e, nil
}

// ensureSchema runs checkSchema until it has passed once.
func (e *Etcd) ensureSchema(ctx context.Context) error {
	e.schemaMu.Lock()
	defer e.schemaMu.Unlock()
	if e.schemaOK {
		return nil
	}
	// While etcd is out of reach every request would wait out its timeout
	// here first; one failed check answers for a second.
	if e.schemaErr != nil && time.Since(e.schemaAt) < time.Second {
		return e.schemaErr
	}
	if err := e.checkSchema(ctx); err != nil {
		e.schemaErr, e.schemaAt = err, time.Now()
		return err
	}
	e.schemaOK, e.schemaErr = true, nil
	return nil
}

// checkSchema writes the layout version if the prefix has none and refuses a
// prefix written by another version.
func (e *Etcd) checkSchema(ctx context.Context) error {
	key := e.prefix + etcdSchema
	var resp *clientv3.TxnResponse
	err := e.do(ctx, "open", true, func(ctx context.Context) (err error) {
		resp, err = e.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, schemaVersion)).
			Else(clientv3.OpGet(key)).Commit()
		return err
	})
	if err != nil {
		return err
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 1 && string(kvs[0].Value) != schemaVersion {
		return fmt.Errorf("etcd store %s: %s holds schema version %q, this albatross reads version %s", e.endpoints, key, kvs[0].Value, schemaVersion)
	}
	return nil
}

// IDs returns the id registry kept under the same prefix. Closing the store
// closes it.
func (e *Etcd) IDs() *EtcdIDs { return e.ids }

// Ping reads one key with require-leader, within the request timeout: nil
// when the cluster has a quorum that answers, else an error wrapping
// ErrUnavailable.
func (e *Etcd) Ping(ctx context.Context) error {
	return e.do(ctx, "ping", false, func(ctx context.Context) error {
		_, err := e.cli.Get(ctx, e.prefix+etcdSchema)
		return err
	})
}

// Prefix returns the key prefix, without a trailing slash.
func (e *Etcd) Prefix() string { return e.prefix }

// Endpoints returns the members' addresses, comma-separated, as errors name
// them.
func (e *Etcd) Endpoints() string { return e.endpoints }

// Load implements Store.
func (e *Etcd) Load(ctx context.Context, prefix string) ([]KV, int64, error) {
	if err := e.ensureSchema(ctx); err != nil {
		return nil, 0, err
	}
	var resp *clientv3.TxnResponse
	err := e.do(ctx, fmt.Sprintf("load %q", prefix), true, func(ctx context.Context) (err error) {
		resp, err = e.cli.Txn(ctx).Then(
			clientv3.OpGet(e.prefix+etcdKV+prefix, clientv3.WithPrefix()),
			clientv3.OpGet(e.prefix+etcdRevision),
		).Commit()
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	var out []KV
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		out = append(out, KV{Key: strings.TrimPrefix(string(kv.Key), e.prefix+etcdKV), Value: kv.Value})
	}
	return out, modRevision(resp.Responses[1].GetResponseRange()), nil
}

// Commit implements Store: one etcd Txn, see Etcd. Ops on one key are reduced
// to the last (etcd refuses a transaction that names a key twice).
func (e *Etcd) Commit(ctx context.Context, ifRevision int64, ops []Op) (int64, error) {
	for _, op := range ops {
		if err := checkKey(op.Key); err != nil {
			return 0, fmt.Errorf("commit: %w", err)
		}
	}
	if err := e.ensureSchema(ctx); err != nil {
		return 0, err
	}
	ops = lastOpPerKey(ops)
	then := make([]clientv3.Op, 0, len(ops)+1)
	for _, op := range ops {
		if op.Delete {
			then = append(then, clientv3.OpDelete(e.prefix+etcdKV+op.Key))
		} else {
			then = append(then, clientv3.OpPut(e.prefix+etcdKV+op.Key, string(op.Value)))
		}
	}
	metaKey := e.prefix + etcdRevision
	// The commit's token, written into P/meta/revision, tells a retry whether
	// an attempt whose answer was lost was applied.
	var tok [16]byte
	if _, err := io.ReadFull(randReader(), tok[:]); err != nil {
		return 0, fmt.Errorf("commit: token: %w", err)
	}
	token := hex.EncodeToString(tok[:])
	then = append(then, clientv3.OpPut(metaKey, token))
	var resp *clientv3.TxnResponse
	// A conditional commit can be retried after a lost answer: the token
	// shows whether the lost attempt applied. An unconditional one is not
	// retried, as a retry could overwrite a later writer's keys.
	retry := ifRevision != AnyRevision
	err := e.do(ctx, "commit", retry, func(ctx context.Context) (err error) {
		txn := e.cli.Txn(ctx)
		if ifRevision != AnyRevision {
			txn = txn.If(clientv3.Compare(clientv3.ModRevision(metaKey), "=", ifRevision))
		}
		resp, err = txn.Then(then...).Else(clientv3.OpGet(metaKey)).Commit()
		return err
	})
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		rr := resp.Responses[0].GetResponseRange()
		if len(rr.Kvs) == 1 && string(rr.Kvs[0].Value) == token {
			return rr.Kvs[0].ModRevision, nil
		}
		return 0, fmt.Errorf("commit: %w (revision %d, expected %d)", ErrConflict, modRevision(rr), ifRevision)
	}
	return resp.Header.Revision, nil
}

// ErrNotEmpty is wrapped by Import's error when the prefix already holds
// state.
var ErrNotEmpty = errors.New("already holds state")

// Import writes kvs (Store keys) and ids (the id registry: key to id) into an
// empty prefix, in one transaction whose compares check that the prefix has
// no Store key, no id and no revision yet; otherwise it writes nothing and
// its error wraps ErrNotEmpty. It returns the Store's new revision. It is how
// `albatross store migrate` moves one node's state into etcd.
func (e *Etcd) Import(ctx context.Context, kvs []KV, ids map[string]string) (int64, error) {
	for _, kv := range kvs {
		if err := checkKey(kv.Key); err != nil {
			return 0, fmt.Errorf("import: %w", err)
		}
	}
	if err := e.ensureSchema(ctx); err != nil {
		return 0, err
	}
	metaKey := e.prefix + etcdRevision
	empty := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(e.prefix+etcdKV), "=", 0).WithPrefix(),
		clientv3.Compare(clientv3.CreateRevision(e.prefix+etcdIDs), "=", 0).WithPrefix(),
		clientv3.Compare(clientv3.CreateRevision(e.prefix+etcdOwners), "=", 0).WithPrefix(),
		clientv3.Compare(clientv3.CreateRevision(metaKey), "=", 0),
	}
	ops := make([]clientv3.Op, 0, len(kvs)+2*len(ids)+1)
	for _, kv := range kvs {
		ops = append(ops, clientv3.OpPut(e.prefix+etcdKV+kv.Key, string(kv.Value)))
	}
	for k, id := range ids {
		if err := checkKey(k); err != nil {
			return 0, fmt.Errorf("import id of %q: %w", k, err)
		}
		if !ValidID(id) {
			return 0, fmt.Errorf("import id of %q: %q is not a resource id", k, id)
		}
		ops = append(ops, clientv3.OpPut(e.prefix+etcdIDs+k, id), clientv3.OpPut(e.prefix+etcdOwners+id, k))
	}
	ops = append(ops, clientv3.OpPut(metaKey, "import"))
	var resp *clientv3.TxnResponse
	// Not retried after a lost answer: a retry would find the prefix full.
	err := e.do(ctx, "import", false, func(ctx context.Context) (err error) {
		resp, err = e.cli.Txn(ctx).If(empty...).Then(ops...).Else(
			clientv3.OpGet(e.prefix+etcdKV, clientv3.WithPrefix(), clientv3.WithCountOnly()),
			clientv3.OpGet(e.prefix+etcdIDs, clientv3.WithPrefix(), clientv3.WithCountOnly()),
			clientv3.OpGet(metaKey)).Commit()
		return err
	})
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		meta := resp.Responses[2].GetResponseRange()
		return 0, fmt.Errorf("etcd store %s: prefix %s %w (%d keys, %d ids, revision %d); import only into an empty prefix",
			e.endpoints, e.prefix, ErrNotEmpty, resp.Responses[0].GetResponseRange().Count, resp.Responses[1].GetResponseRange().Count, modRevision(meta))
	}
	return resp.Header.Revision, nil
}

// Watch implements Store; see Etcd for how it follows etcd.
func (e *Etcd) Watch(ctx context.Context) (int64, <-chan Event, error) {
	if err := e.ensureSchema(ctx); err != nil {
		return 0, nil, err
	}
	var resp *clientv3.TxnResponse
	err := e.do(ctx, "watch", true, func(ctx context.Context) (err error) {
		resp, err = e.cli.Txn(ctx).Then(
			clientv3.OpGet(e.prefix+etcdKV, clientv3.WithPrefix(), clientv3.WithKeysOnly()),
			clientv3.OpGet(e.prefix+etcdRevision),
		).Commit()
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	seen := map[string]int64{}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		seen[string(kv.Key)] = kv.ModRevision
	}
	rev := modRevision(resp.Responses[1].GetResponseRange())

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, nil, fmt.Errorf("watch: %w", ErrClosed)
	}
	wctx, cancel := context.WithCancel(ctx)
	ew := &etcdWatch{
		w:      &watcher{out: make(chan Event), wake: make(chan struct{}, 1), done: make(chan struct{})},
		cancel: cancel,
	}
	e.watches[ew] = struct{}{}
	e.watching.Add(2)
	go func() {
		defer e.watching.Done()
		ew.w.run()
	}()
	go func() {
		defer e.watching.Done()
		f := &follower{e: e, w: ew.w, seen: seen, next: resp.Header.Revision + 1, last: rev}
		f.run(wctx)
		cancel()
		ew.w.stop()
		e.mu.Lock()
		delete(e.watches, ew)
		e.mu.Unlock()
	}()
	return rev, ew.w.out, nil
}

// Close ends every watch, waits for their goroutines and disconnects.
func (e *Etcd) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	for ew := range e.watches {
		ew.cancel()
		ew.w.stop()
	}
	e.mu.Unlock()
	e.watching.Wait()
	if err := e.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close etcd store %s: %w", e.endpoints, err)
	}
	return nil
}

// follower turns one etcd watch, resumed as often as needed, into Events.
type follower struct {
	e *Etcd
	w *watcher
	// seen maps every full etcd key under P/kv/ to the mod revision last
	// seen, which is what a resync after a compaction diffs against.
	seen map[string]int64
	// next is the first etcd revision not yet delivered; last the revision
	// of the last Event.
	next, last int64
}

// Backoff between attempts to resume a broken watch.
const (
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 2 * time.Second
)

func (f *follower) run(ctx context.Context) {
	wait := watchRetryMin
	warned := false
	for ctx.Err() == nil {
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, rpctypes.ErrCompacted) {
			f.e.log.Warn("etcd compacted past the watch revision; reloading the whole prefix", "store", f.e.endpoints, "revision", f.next)
			if err = f.resync(ctx); err == nil {
				continue
			}
		}
		if !warned {
			f.e.log.Warn("watch on the etcd store broken; resuming", "store", f.e.endpoints, "revision", f.next, "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, watchRetryMax)
		if err == nil {
			wait, warned = watchRetryMin, false
		}
	}
}

// follow watches from f.next until the stream ends, delivering every Event;
// it returns why the stream ended.
func (f *follower) follow(ctx context.Context) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := f.e.cli.Watch(wctx, f.e.prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(f.next), clientv3.WithProgressNotify())
	for resp := range wch {
		if resp.CompactRevision != 0 {
			return rpctypes.ErrCompacted
		}
		if err := resp.Err(); err != nil {
			return err
		}
		if resp.IsProgressNotify() {
			f.next = max(f.next, resp.Header.Revision+1)
			continue
		}
		evs := resp.Events
		for len(evs) > 0 {
			n := 1
			for n < len(evs) && evs[n].Kv.ModRevision == evs[0].Kv.ModRevision {
				n++
			}
			f.deliver(evs[:n])
			evs = evs[n:]
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch stream closed")
}

// deliver turns the events of one etcd revision into an Event, if they touch
// the Store's keys.
func (f *follower) deliver(evs []*clientv3.Event) {
	rev := evs[0].Kv.ModRevision
	kvPrefix := f.e.prefix + etcdKV
	var ev Event
	commit := false
	for _, x := range evs {
		key := string(x.Kv.Key)
		switch {
		case key == f.e.prefix+etcdRevision:
			commit = true
		case strings.HasPrefix(key, kvPrefix):
			if x.Type == clientv3.EventTypeDelete {
				delete(f.seen, key)
				ev.Ops = append(ev.Ops, Delete(strings.TrimPrefix(key, kvPrefix)))
			} else {
				f.seen[key] = rev
				ev.Ops = append(ev.Ops, Put(strings.TrimPrefix(key, kvPrefix), x.Kv.Value))
			}
		}
	}
	f.next = rev + 1
	if !commit && len(ev.Ops) == 0 {
		return
	}
	ev.Revision = rev
	f.last = rev
	f.w.push(ev)
}

// resync reads the whole prefix after a compaction and delivers the net change
// since the last Event.
func (f *follower) resync(ctx context.Context) error {
	kvPrefix := f.e.prefix + etcdKV
	var resp *clientv3.TxnResponse
	err := f.e.do(ctx, "watch: reload after compaction", true, func(ctx context.Context) (err error) {
		resp, err = f.e.cli.Txn(ctx).Then(
			clientv3.OpGet(kvPrefix, clientv3.WithPrefix()),
			clientv3.OpGet(f.e.prefix+etcdRevision),
		).Commit()
		return err
	})
	if err != nil {
		return err
	}
	var ev Event
	now := map[string]int64{}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		key := string(kv.Key)
		now[key] = kv.ModRevision
		if f.seen[key] != kv.ModRevision {
			ev.Ops = append(ev.Ops, Put(strings.TrimPrefix(key, kvPrefix), kv.Value))
		}
	}
	for key := range f.seen {
		if _, ok := now[key]; !ok {
			ev.Ops = append(ev.Ops, Delete(strings.TrimPrefix(key, kvPrefix)))
		}
	}
	f.seen = now
	f.next = resp.Header.Revision + 1
	if rev := modRevision(resp.Responses[1].GetResponseRange()); rev > f.last || len(ev.Ops) > 0 {
		ev.Revision = max(rev, f.last+1)
		f.last = ev.Revision
		f.w.push(ev)
	}
	return nil
}

// do runs one request with require-leader, within the store's request timeout
// (or ctx's earlier deadline). A refusal for want of a leader is retried with
// backoff until the deadline: such a request was not applied. With retry, so is
// any failure to reach a working member (a member just lost, a request timed
// out in raft): the caller makes a repeat harmless (a read, or a transaction
// whose compares fail once an earlier attempt applied). The error names the
// store and op, and wraps ErrUnavailable when etcd could not be reached or had
// no quorum in time.
func (e *Etcd) do(ctx context.Context, op string, retry bool, fn func(ctx context.Context) error) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return fmt.Errorf("etcd store %s: %s: %w", e.endpoints, op, ErrClosed)
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	ctx = clientv3.WithRequireLeader(ctx)
	wait := 50 * time.Millisecond
	for {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if (isNoLeader(err) || retry && isUnavailable(err)) && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
				wait = min(2*wait, 500*time.Millisecond)
				continue
			}
		}
		return e.wrap(op, err, ctx.Err())
	}
}

// wrap gives an etcd error its context: the store, the op, ErrUnavailable for
// the failures that mean "no working quorum in time", and the etcd setting to
// raise for a change that is too large.
func (e *Etcd) wrap(op string, err, ctxErr error) error {
	where := fmt.Sprintf("etcd store %s: %s", e.endpoints, op)
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrGRPCTooManyOps):
		return fmt.Errorf("%s: %w (the change is larger than the cluster's --max-txn-ops; start etcd with a higher --max-txn-ops)", where, err)
	case errors.Is(err, rpctypes.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge):
		return fmt.Errorf("%s: %w (the change is larger than the cluster's --max-request-bytes)", where, err)
	case errors.Is(err, ErrClosed):
		return fmt.Errorf("%s: %w", where, err)
	}
	if errors.Is(ctxErr, context.Canceled) && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %w", context.Canceled, err)
	}
	if errors.Is(ctxErr, context.DeadlineExceeded) || isUnavailable(err) {
		if errors.Is(ctxErr, context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return fmt.Errorf("%s: %w: %w", where, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

func isNoLeader(err error) bool {
	return errors.Is(err, rpctypes.ErrNoLeader) || errors.Is(err, rpctypes.ErrGRPCNoLeader) ||
		strings.Contains(err.Error(), rpctypes.ErrorDesc(rpctypes.ErrGRPCNoLeader))
}

func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) && ee.Code() == codes.Unavailable {
		return true
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return true
	}
	return false
}

// modRevision is the mod revision of the one key a range response holds, 0 if
// none.
func modRevision(r *pb.RangeResponse) int64 {
	if r == nil || len(r.Kvs) == 0 {
		return 0
	}
	return r.Kvs[0].ModRevision
}

// lastOpPerKey keeps, for each key, only its last op, in the order of those
// last ops: the result has the effect of applying ops in order.
func lastOpPerKey(ops []Op) []Op {
	last := make(map[string]int, len(ops))
	for i, op := range ops {
		last[op.Key] = i
	}
	if len(last) == len(ops) {
		return ops
	}
	out := make([]Op, 0, len(last))
	for i, op := range ops {
		if last[op.Key] == i {
			out = append(out, op)
		}
	}
	return out
}

// etcdNodes is where nodes announce themselves: P/nodes/NAME, held by a
// lease of the node's.
const etcdNodes = "/nodes/"

// NodeLeaseTTL is how long a node's announcement outlives its last
// keep-alive: a node killed with kill -9 leaves the list this long after.
const NodeLeaseTTL = 10 * time.Second

// nodeRefresh is how often an announcement's value is written again (with
// the node's current state).
const nodeRefresh = 3 * time.Second

// Announce keeps P/nodes/NAME holding value() under a lease of NodeLeaseTTL,
// rewritten every few seconds with the value's current state, until ctx ends;
// then the lease is revoked, so a node that stops leaves the list at once. A
// node that dies leaves it when its lease expires. While etcd cannot be
// reached Announce keeps trying. It returns when ctx ends.
func (e *Etcd) Announce(ctx context.Context, name string, value func() []byte) {
	key := e.prefix + etcdNodes + name
	wait := watchRetryMin
	warned := false
	for ctx.Err() == nil {
		err := e.announce(ctx, key, value)
		if ctx.Err() != nil {
			return
		}
		if !warned {
			e.log.Warn("announcing this node in the etcd store; retrying", "store", e.endpoints, "key", key, "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, watchRetryMax)
	}
}

// announce holds one lease until it is lost or ctx ends.
func (e *Etcd) announce(ctx context.Context, key string, value func() []byte) error {
	gctx, cancel := context.WithTimeout(ctx, e.timeout)
	lease, err := e.cli.Grant(clientv3.WithRequireLeader(gctx), int64(NodeLeaseTTL/time.Second))
	cancel()
	if err != nil {
		return fmt.Errorf("grant lease: %w", err)
	}
	defer func() {
		// Revoked on the way out, whether ctx ended or the lease broke.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		e.cli.Revoke(rctx, lease.ID)
		cancel()
	}()
	kctx, stop := context.WithCancel(ctx)
	defer stop()
	alive, err := e.cli.KeepAlive(kctx, lease.ID)
	if err != nil {
		return fmt.Errorf("keep lease alive: %w", err)
	}
	put := func() error {
		pctx, cancel := context.WithTimeout(ctx, e.timeout)
		defer cancel()
		_, err := e.cli.Put(clientv3.WithRequireLeader(pctx), key, string(value()), clientv3.WithLease(lease.ID))
		return err
	}
	if err := put(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tick := time.NewTicker(nodeRefresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case _, ok := <-alive:
			if !ok {
				return errors.New("lease keep-alive ended")
			}
		case <-tick.C:
			if err := put(); err != nil {
				return fmt.Errorf("put %s: %w", key, err)
			}
		}
	}
}

// Nodes returns what every node announces (see Announce), by name.
func (e *Etcd) Nodes(ctx context.Context) (map[string][]byte, error) {
	var resp *clientv3.GetResponse
	err := e.do(ctx, "list nodes", true, func(ctx context.Context) (err error) {
		resp, err = e.cli.Get(ctx, e.prefix+etcdNodes, clientv3.WithPrefix())
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), e.prefix+etcdNodes)] = kv.Value
	}
	return out, nil
}

// etcdSecrets holds values every node of the cluster must share, such as the
// stickiness cookie key.
const etcdSecrets = "/secrets/"

// SharedSecret returns the cluster's value of the secret name: the value
// already at P/secrets/NAME, or propose, stored there now in one transaction
// if there was none (so that of several nodes starting at once, one value
// wins and all get it).
func (e *Etcd) SharedSecret(ctx context.Context, name string, propose []byte) ([]byte, error) {
	if err := e.ensureSchema(ctx); err != nil {
		return nil, err
	}
	key := e.prefix + etcdSecrets + name
	var resp *clientv3.TxnResponse
	err := e.do(ctx, "shared secret "+name, true, func(ctx context.Context) (err error) {
		resp, err = e.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(propose))).
			Else(clientv3.OpGet(key)).Commit()
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp.Succeeded {
		return propose, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) != 1 {
		return nil, fmt.Errorf("etcd store %s: %s vanished while it was read", e.endpoints, key)
	}
	return kvs[0].Value, nil
}
