package upstream

import (
	"sync/atomic"
	"time"
)

// How a pool decides how long an idle connection may wait before it is no longer
// used, from three sources (the smallest wins):
//
//	| source                                  | limit                         |
//	|-----------------------------------------|-------------------------------|
//	| configuration (SetIdleTimeout)          | as configured                 |
//	| the target's Keep-Alive: timeout=N      | N minus a margin              |
//	| closes the pool has seen (learned)      | learned age minus a margin    |
//
// The margin is a quarter of the timeout, at most MaxMargin: enough for the
// target's FIN to be on the wire, for clocks to tick differently on both ends and
// for the target's idle timer to start before ours (it starts when the target
// has written its response; ours when we have read it).
//
// A request that cannot be replayed (a POST, a body no longer at hand) is held to
// a stricter limit, since a lost race cannot be repaired by a retry: half the
// known timeout, or UnprovenIdle while the target's timeout is unknown.

// MaxMargin is the largest safety margin kept below a target's keep-alive timeout.
const MaxMargin = time.Second

// UnprovenIdle is how long a connection may have been idle to carry a request
// that cannot be replayed while nothing is known of the target's keep-alive
// timeout. Common servers keep idle connections longer (gunicorn 2 s, Node.js and
// Apache 5 s, nginx 75 s), and a shorter one is learned from its first close.
const UnprovenIdle = time.Second

// Margin is the safety margin kept below a keep-alive timeout d.
func Margin(d time.Duration) time.Duration { return min(d/4, MaxMargin) }

// unknown marks a learned close age that has not been observed.
const unknown = -1

// keepAlive is what a pool knows about its target's keep-alive behaviour. Every
// field is atomic: Get reads it on the request path without a lock.
type keepAlive struct {
	// hint is the latest Keep-Alive: timeout= the target sent, 0 when none.
	hint atomic.Int64
	// learned is the idle age at which the target was seen to close
	// connections, or unknown. An earlier close lowers it; a connection seen
	// open for much longer raises it, so that it follows a target whose timeout
	// grows as well as one whose timeout shrinks.
	learned atomic.Int64
}

func newKeepAlive() *keepAlive {
	k := &keepAlive{}
	k.learned.Store(unknown)
	return k
}

// hinted records a Keep-Alive: timeout= value (0: the response had none).
func (k *keepAlive) hinted(d time.Duration) {
	if time.Duration(k.hint.Load()) != d {
		k.hint.Store(int64(d))
	}
}

// closed records that the target closed a connection at an idle age between lo
// (last seen open) and hi (found closed). It only ever lowers what was learned:
// a target's FIN reaches us some time after the target stopped reading, so a
// close seen later than expected says little, and one seen earlier says that
// the target's timeout shrank. The lower bound is kept, the age known to be safe.
func (k *keepAlive) closed(lo, hi time.Duration) {
	cur := time.Duration(k.learned.Load())
	if cur == unknown || hi < cur {
		k.learned.Store(int64(max(lo, 0)))
	}
}

// alive records that a connection was open at idle age d. A connection open
// for more than twice what was learned says that the target's timeout grew, and
// raises it to half that age; nearer ages are left alone, and the half kept back,
// because a target that has already decided to close looks open until its FIN
// arrives, which over a slow path can take a good part of the timeout.
func (k *keepAlive) alive(d time.Duration) {
	for {
		cur := k.learned.Load()
		if cur == unknown || int64(d) <= 2*cur {
			return
		}
		if k.learned.CompareAndSwap(cur, int64(d/2)) {
			return
		}
	}
}

// known returns the shortest keep-alive timeout the target announced or showed,
// and whether there is one.
func (k *keepAlive) known() (time.Duration, bool) {
	d, ok := time.Duration(0), false
	if h := time.Duration(k.hint.Load()); h > 0 {
		d, ok = h, true
	}
	if l := time.Duration(k.learned.Load()); l != unknown && (!ok || l < d) {
		d, ok = l, true
	}
	return d, ok
}

// Limits are the idle ages up to which a pooled connection is used.
type Limits struct {
	// Hard is the configured limit: no connection is kept idle longer.
	Hard time.Duration
	// Reuse is the limit for a request that can be replayed.
	Reuse time.Duration
	// NonReplayable is the limit for a request that cannot.
	NonReplayable time.Duration
	// KeepAlive is the target's keep-alive timeout as announced or learned, and
	// Known whether there is one.
	KeepAlive time.Duration
	Known     bool
}

// limits computes the current limits from the configured hard limit, whether the
// operator vouched for it (target_keep_alive.idle_timeout_seconds), and what is
// known of the target.
func (k *keepAlive) limits(hard time.Duration, vouched bool) Limits {
	l := Limits{Hard: hard, Reuse: hard}
	l.KeepAlive, l.Known = k.known()
	switch {
	case l.Known:
		l.Reuse = min(hard, l.KeepAlive-Margin(l.KeepAlive))
		l.NonReplayable = min(l.Reuse, l.KeepAlive/2)
	case vouched:
		l.NonReplayable = hard
	default:
		l.NonReplayable = min(hard, UnprovenIdle)
	}
	l.Reuse = max(l.Reuse, 0)
	return l
}
