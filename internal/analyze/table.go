package analyze

import (
	"cmp"
	"slices"
)

// table counts rows by key with a bounded number of keys: the structure behind
// every "top N" list. While a table holds at most 2×limit keys its counts are
// exact. Past that it keeps the limit heaviest and drops the rest (the pruning
// form of a frequent-items summary): a key that stays among the heaviest is
// never dropped and its count stays exact, but a dropped key seen again starts
// from zero, so smaller counts may be low. floor, the largest count dropped,
// says how heavy a key had to be to be safe at the last prune. Tables merge by
// adding counts key by key and pruning again.
type table[K comparable, V any] struct {
	rows    map[K]*row[K, V]
	limit   int
	floor   int64 // largest count dropped so far
	dropped int64 // how many keys were dropped
}

// row is one key's count and its per-key data.
type row[K comparable, V any] struct {
	key K
	n   int64
	v   V
}

func newTable[K comparable, V any](limit int) *table[K, V] {
	return &table[K, V]{rows: make(map[K]*row[K, V]), limit: limit}
}

// get returns k's row, adding it if absent. own turns a key that may alias a
// reused buffer into one the table can keep; it runs only when k is new.
func (t *table[K, V]) get(k K, own func(K) K) *row[K, V] {
	if r := t.rows[k]; r != nil {
		return r
	}
	if own != nil {
		k = own(k)
	}
	r := &row[K, V]{key: k}
	t.rows[k] = r
	if len(t.rows) > 2*t.limit {
		t.prune()
	}
	if t.rows[k] == nil { // pruned at once: keep it anyway, it is being counted now
		t.rows[k] = r
	}
	return r
}

// prune keeps the limit heaviest rows.
func (t *table[K, V]) prune() {
	if len(t.rows) <= t.limit {
		return
	}
	all := t.sorted(nil)
	for _, r := range all[t.limit:] {
		t.floor = max(t.floor, r.n)
		t.dropped++
		delete(t.rows, r.key)
	}
}

// merge adds o's rows to t, combining per-key data with add.
func (t *table[K, V]) merge(o *table[K, V], add func(dst, src *V)) {
	t.floor = max(t.floor, o.floor)
	t.dropped += o.dropped
	for k, src := range o.rows {
		dst := t.rows[k]
		if dst == nil {
			dst = &row[K, V]{key: k}
			t.rows[k] = dst
		}
		dst.n += src.n
		if add != nil {
			add(&dst.v, &src.v)
		}
	}
	if len(t.rows) > 2*t.limit {
		t.prune()
	}
}

// sorted returns the rows by count, heaviest first, ties ordered by keyCmp
// (in no particular order when keyCmp is nil).
func (t *table[K, V]) sorted(keyCmp func(a, b K) int) []*row[K, V] {
	all := make([]*row[K, V], 0, len(t.rows))
	for _, r := range t.rows {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b *row[K, V]) int {
		if c := cmp.Compare(b.n, a.n); c != 0 || keyCmp == nil {
			return c
		}
		return keyCmp(a.key, b.key)
	})
	return all
}

// exact reports whether every count in t is exact.
func (t *table[K, V]) exact() bool { return t.dropped == 0 }
