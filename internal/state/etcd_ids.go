package state

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// IDRegistry hands out stable resource ids: IDs in the bbolt file of one node,
// EtcdIDs in etcd for several nodes sharing one configuration, where an id is
// unique across every node. The controller and the node depend only on this.
type IDRegistry interface {
	// Assign returns an id for each key, all or nothing: a key that has an id
	// keeps it, a new key gets a fresh id that no other key holds.
	Assign(keys []string) (map[string]string, error)
	// Lookup returns the id of key without assigning one; ok is false if key
	// has none.
	Lookup(key string) (id string, ok bool, err error)
	// Bind makes id the id of key, atomically: a key that had another id loses
	// it, and a key that held id gives it up.
	Bind(key, id string) error
	// Release forgets the ids of keys, atomically; unknown keys are ignored.
	Release(keys []string) error
}

var (
	_ IDRegistry = (*IDs)(nil)
	_ IDRegistry = (*EtcdIDs)(nil)
	_ Store      = (*Bolt)(nil)
	_ Store      = (*Etcd)(nil)
)

// etcdReadBatch is how many keys one read transaction of EtcdIDs asks for,
// below etcd's default --max-txn-ops of 128.
const etcdReadBatch = 100

// etcdAttempts bounds how often EtcdIDs retries a transaction that lost a race
// with another node.
const etcdAttempts = 16

// EtcdIDs is the id registry of an Etcd store: P/ids/KEY holds KEY's id and
// P/id-owners/ID the key holding ID, always written together. Every change is
// one etcd transaction that compares the mod revisions of the keys it read, so
// two nodes assigning, binding or releasing at once never both win: the loser
// reads again and retries, and a key assigned on two nodes at once gets one id.
// A new id is also compared absent from P/id-owners/, which makes it unique
// across the nodes. Each call is bounded by the store's request timeout (the
// interface has no context, as the bbolt registry never blocks long). It is
// safe for concurrent use.
type EtcdIDs struct {
	e    *Etcd
	rand io.Reader
}

func (r *EtcdIDs) idKey(key string) string   { return r.e.prefix + etcdIDs + key }
func (r *EtcdIDs) ownerKey(id string) string { return r.e.prefix + etcdOwners + id }

// held is what a read found at one registry key: its value and mod revision
// (0 when absent).
type held struct {
	value string
	rev   int64
}

// read returns what the registry holds at each of the full etcd keys.
func (r *EtcdIDs) read(ctx context.Context, op string, keys []string) (map[string]held, error) {
	out := make(map[string]held, len(keys))
	for chunk := range slices.Chunk(keys, etcdReadBatch) {
		gets := make([]clientv3.Op, len(chunk))
		for i, k := range chunk {
			gets[i] = clientv3.OpGet(k)
		}
		var resp *clientv3.TxnResponse
		err := r.e.do(ctx, op, true, func(ctx context.Context) (err error) {
			resp, err = r.e.cli.Txn(ctx).Then(gets...).Commit()
			return err
		})
		if err != nil {
			return nil, err
		}
		for i, k := range chunk {
			if kvs := resp.Responses[i].GetResponseRange().Kvs; len(kvs) == 1 {
				out[k] = held{value: string(kvs[0].Value), rev: kvs[0].ModRevision}
			} else {
				out[k] = held{}
			}
		}
	}
	return out, nil
}

// commit runs one conditional transaction; ok is false when a compare failed.
func (r *EtcdIDs) commit(ctx context.Context, op string, cmps []clientv3.Cmp, ops []clientv3.Op) (bool, error) {
	var resp *clientv3.TxnResponse
	err := r.e.do(ctx, op, true, func(ctx context.Context) (err error) {
		resp, err = r.e.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		return err
	})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// Assign implements IDRegistry. Keys may repeat; an empty key or one longer
// than 32 KiB is an error. Assigning many new keys at once needs a cluster
// whose --max-txn-ops is at least four times their number.
func (r *EtcdIDs) Assign(keys []string) (map[string]string, error) {
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("assign ids: %w", err)
		}
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(keys)))
	full := make([]string, len(uniq))
	for i, k := range uniq {
		full[i] = r.idKey(k)
	}
	ctx := context.Background()
	if err := r.e.ensureSchema(ctx); err != nil {
		return nil, err
	}
	for range etcdAttempts {
		got, err := r.read(ctx, "assign ids", full)
		if err != nil {
			return nil, fmt.Errorf("assign ids: %w", err)
		}
		out := make(map[string]string, len(uniq))
		var cmps []clientv3.Cmp
		var puts []clientv3.Op
		fresh := map[string]bool{}
		for i, k := range uniq {
			if h := got[full[i]]; h.rev != 0 {
				out[k] = h.value
				continue
			}
			id, err := r.freshID(fresh)
			if err != nil {
				return nil, fmt.Errorf("assign ids: new id for %q: %w", k, err)
			}
			fresh[id] = true
			out[k] = id
			cmps = append(cmps,
				clientv3.Compare(clientv3.CreateRevision(full[i]), "=", 0),
				clientv3.Compare(clientv3.CreateRevision(r.ownerKey(id)), "=", 0))
			puts = append(puts, clientv3.OpPut(full[i], id), clientv3.OpPut(r.ownerKey(id), k))
		}
		if len(puts) == 0 {
			return out, nil
		}
		ok, err := r.commit(ctx, "assign ids", cmps, puts)
		if err != nil {
			return nil, fmt.Errorf("assign ids: %w", err)
		}
		if ok {
			return out, nil
		}
		// Another node assigned one of these keys (or drew the same id)
		// first: read again.
	}
	return nil, fmt.Errorf("assign ids: still racing other writers after %d attempts", etcdAttempts)
}

// Lookup implements IDRegistry.
func (r *EtcdIDs) Lookup(key string) (string, bool, error) {
	got, err := r.read(context.Background(), "look up id", []string{r.idKey(key)})
	if err != nil {
		return "", false, fmt.Errorf("look up id of %q: %w", key, err)
	}
	h := got[r.idKey(key)]
	return h.value, h.rev != 0, nil
}

// Bind implements IDRegistry; see IDs.Bind for why the API needs it.
func (r *EtcdIDs) Bind(key, id string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("bind id: %w", err)
	}
	if !ValidID(id) {
		return fmt.Errorf("bind id: %q is not a resource id", id)
	}
	ctx := context.Background()
	if err := r.e.ensureSchema(ctx); err != nil {
		return err
	}
	ik, ok := r.idKey(key), r.ownerKey(id)
	for range etcdAttempts {
		got, err := r.read(ctx, "bind id", []string{ik, ok})
		if err != nil {
			return fmt.Errorf("bind id of %q: %w", key, err)
		}
		old, prev := got[ik], got[ok]
		if old.rev != 0 && old.value == id && prev.rev != 0 && prev.value == key {
			return nil
		}
		// The pairs are always written together, so comparing the two keys
		// read covers the two that may be deleted: changing either of those
		// changes one of these.
		cmps := []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(ik), "=", old.rev),
			clientv3.Compare(clientv3.ModRevision(ok), "=", prev.rev),
		}
		var ops []clientv3.Op
		if old.rev != 0 && old.value != id {
			ops = append(ops, clientv3.OpDelete(r.ownerKey(old.value)))
		}
		if prev.rev != 0 && prev.value != key {
			ops = append(ops, clientv3.OpDelete(r.idKey(prev.value)))
		}
		ops = append(ops, clientv3.OpPut(ik, id), clientv3.OpPut(ok, key))
		done, err := r.commit(ctx, "bind id", cmps, ops)
		if err != nil {
			return fmt.Errorf("bind id of %q: %w", key, err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("bind id of %q: still racing other writers after %d attempts", key, etcdAttempts)
}

// Release implements IDRegistry.
func (r *EtcdIDs) Release(keys []string) error {
	uniq := slices.Compact(slices.Sorted(slices.Values(keys)))
	full := make([]string, len(uniq))
	for i, k := range uniq {
		full[i] = r.idKey(k)
	}
	ctx := context.Background()
	if err := r.e.ensureSchema(ctx); err != nil {
		return err
	}
	for range etcdAttempts {
		got, err := r.read(ctx, "release ids", full)
		if err != nil {
			return fmt.Errorf("release ids: %w", err)
		}
		var cmps []clientv3.Cmp
		var ops []clientv3.Op
		for _, k := range full {
			h := got[k]
			if h.rev == 0 {
				continue
			}
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(k), "=", h.rev))
			ops = append(ops, clientv3.OpDelete(k), clientv3.OpDelete(r.ownerKey(h.value)))
		}
		if len(ops) == 0 {
			return nil
		}
		done, err := r.commit(ctx, "release ids", cmps, ops)
		if err != nil {
			return fmt.Errorf("release ids: %w", err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("release ids: still racing other writers after %d attempts", etcdAttempts)
}

// freshID draws a random id not among taken (the ids this call is assigning);
// uniqueness against the ids already stored is the transaction's compare.
func (r *EtcdIDs) freshID(taken map[string]bool) (string, error) {
	var b [IDLength / 2]byte
	for range 8 {
		if _, err := io.ReadFull(r.rand, b[:]); err != nil {
			return "", fmt.Errorf("read random bytes: %w", err)
		}
		if id := hex.EncodeToString(b[:]); !taken[id] {
			return id, nil
		}
	}
	return "", errors.New("no unused id after 8 random draws; is the random source broken?")
}
