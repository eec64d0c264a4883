package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// lineTarget is a real TCP target for pool tests: it answers each line it reads
// with "ok\n", and closes a connection idle for idle (atomic, so a test can change
// it), with a reset when rst is set. A line "drop" is read and never answered:
// the target closes the connection instead.
type lineTarget struct {
	addr string
	idle atomic.Int64
	rst  bool
}

func startLineTarget(t *testing.T, idle time.Duration, rst bool) *lineTarget {
	t.Helper()
	lt := &lineTarget{rst: rst}
	lt.idle.Store(int64(idle))
	lt.addr = testutil.Serve(t, func(c net.Conn) { lt.serve(c.(*net.TCPConn)) })
	return lt
}

func (lt *lineTarget) serve(c *net.TCPConn) {
	defer c.Close()
	if lt.rst {
		defer c.SetLinger(0)
	}
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(time.Duration(lt.idle.Load())))
		line, err := br.ReadString('\n')
		if err != nil || line == "drop\n" {
			return
		}
		if _, err := io.WriteString(c, "ok\n"); err != nil {
			return
		}
	}
}

// exchange sends one line on c and reads the answer, as a request would.
func exchange(c *Conn, line string) error {
	if _, err := c.Write([]byte(line)); err != nil {
		return err
	}
	n, err := c.Read(c.Buf)
	if err != nil {
		return err
	}
	if string(c.Buf[:n]) != "ok\n" {
		return errors.New("unexpected answer " + string(c.Buf[:n]))
	}
	return nil
}

// use gets a connection, makes one exchange and releases it.
func use(t *testing.T, p *Pool, replayable bool) *Conn {
	t.Helper()
	c, err := p.Get(context.Background(), replayable)
	if err != nil {
		t.Fatal(err)
	}
	if err := exchange(c, "hello\n"); err != nil {
		t.Fatalf("exchange on a connection the pool handed out (reused %v, idle %v): %v", c.Reused, c.Idle, err)
	}
	c.Release()
	return c
}

// waitIdleClosed waits until the peer's FIN or RST has reached the pool's only
// idle connection.
func waitIdleClosed(t *testing.T, p *Pool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		st := peekOpen
		if len(p.idle) == 1 {
			st = p.idle[0].peek()
		}
		p.mu.Unlock()
		if st == peekClosed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the target's close did not arrive within 5 s")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
}

// A connection whose target closed it (FIN, or RST) while it was idle is never
// handed out: Get looks before it reuses.
func TestConnectionClosedByTargetIsNeverUsed(t *testing.T) {
	for _, rst := range []bool{false, true} {
		name := map[bool]string{false: "FIN", true: "RST"}[rst]
		t.Run(name, func(t *testing.T) {
			lt := startLineTarget(t, 50*time.Millisecond, rst)
			p := NewPool(lt.addr, Options{})
			defer p.Close()
			use(t, p, true)
			waitIdleClosed(t, p)
			c := use(t, p, true)
			if c.Reused {
				t.Error("a connection the target had closed was reused")
			}
			if s := p.Stats(); s.ClosedByTarget != 1 || s.Dials != 2 {
				t.Errorf("stats %+v, want one closed by the target and two dials", s)
			}
		})
	}
}

// The pool learns when the target closes idle connections, from its sweeps of
// the oldest idle connection, and then evicts connections before that age.
func TestPoolLearnsWhenTargetClosesIdleConnections(t *testing.T) {
	const targetIdle = 200 * time.Millisecond
	lt := startLineTarget(t, targetIdle, false)
	p := NewPool(lt.addr, Options{})
	defer p.Close()
	if l := p.Limits(); l.Known || l.Reuse != 60*time.Second || l.NonReplayable != UnprovenIdle {
		t.Fatalf("limits before learning %+v, want the configured 60 s and %v for requests that cannot be replayed", l, UnprovenIdle)
	}
	use(t, p, true)
	deadline := time.Now().Add(5 * time.Second)
	for !p.Limits().Known {
		if time.Now().After(deadline) {
			t.Fatal("nothing learned within 5 s")
		}
		p.EvictIdle(time.Now())
		time.Sleep(minSweep) // the sweep's own cadence
	}
	l := p.Limits()
	// Seen open last about one sweep before the close arrived (later on a
	// loaded machine, where the target's close is late).
	if l.KeepAlive > targetIdle+100*time.Millisecond || l.KeepAlive < targetIdle-100*time.Millisecond {
		t.Errorf("learned %v, want about the target's %v", l.KeepAlive, targetIdle)
	}
	if l.Reuse >= targetIdle || l.NonReplayable > l.KeepAlive/2 {
		t.Errorf("limits %+v: reuse must stay below the target's timeout, requests that cannot be replayed below half", l)
	}
	if p.Idle() != 0 {
		t.Errorf("%d idle connections left after the target closed the only one", p.Idle())
	}
	// A connection that reached the reuse limit is not handed out.
	c := use(t, p, true)
	p.mu.Lock()
	p.idle[0].idleSince = time.Now().Add(-l.Reuse)
	p.mu.Unlock()
	if d := use(t, p, true); d == c || d.Reused {
		t.Error("a connection idle for the reuse limit was handed out")
	}
}

// Learning adapts: when the target starts keeping connections longer, the
// sentinel (the oldest idle connection, kept past the reuse limit and never
// handed out) stays open, and the learned value rises.
func TestLearningFollowsATargetWhoseTimeoutGrows(t *testing.T) {
	lt := startLineTarget(t, 100*time.Millisecond, false)
	p := NewPool(lt.addr, Options{})
	defer p.Close()
	sweepUntil := func(what string, cond func(Limits) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(p.Limits()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: limits %+v after 5 s", what, p.Limits())
			}
			p.EvictIdle(time.Now())
			time.Sleep(minSweep)
		}
	}
	use(t, p, true)
	sweepUntil("learn 100 ms", func(l Limits) bool { return l.Known })
	learned := p.Limits().KeepAlive
	lt.idle.Store(int64(10 * time.Second))
	use(t, p, true) // a new connection, idle for ten seconds now
	sweepUntil("rise", func(l Limits) bool { return l.KeepAlive >= 4*learned && l.KeepAlive >= 300*time.Millisecond })
}

// A Keep-Alive: timeout= from the target bounds reuse from its first response.
func TestKeepAliveHintBoundsReuse(t *testing.T) {
	lt := startLineTarget(t, 10*time.Second, false)
	p := NewPool(lt.addr, Options{})
	defer p.Close()
	c, err := p.Get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	c.NoteKeepAlive(2)
	c.Release()
	if l := p.Limits(); l.Reuse != 1500*time.Millisecond || l.NonReplayable != time.Second {
		t.Errorf("limits after timeout=2: %+v, want reuse 1.5 s and 1 s for requests that cannot be replayed", l)
	}
	p.mu.Lock()
	p.idle[0].idleSince = time.Now().Add(-1600 * time.Millisecond)
	p.mu.Unlock()
	if d := use(t, p, true); d == c {
		t.Error("a connection idle beyond the announced timeout's margin was reused")
	}
}

// The limits, from each source, as a table.
func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name                string
		hint, learned, hard time.Duration
		vouched             bool
		reuse, nonReplay    time.Duration
	}{
		{"nothing known", 0, unknown, 60 * time.Second, false, 60 * time.Second, UnprovenIdle},
		{"operator vouched", 0, unknown, 4 * time.Second, true, 4 * time.Second, 4 * time.Second},
		{"hint 5 s", 5 * time.Second, unknown, 60 * time.Second, false, 4 * time.Second, 2500 * time.Millisecond},
		{"hint 1 s", time.Second, unknown, 60 * time.Second, false, 750 * time.Millisecond, 500 * time.Millisecond},
		{"learned below hint", 5 * time.Second, 300 * time.Millisecond, 60 * time.Second, false, 225 * time.Millisecond, 150 * time.Millisecond},
		{"configured below all", 5 * time.Second, unknown, 2 * time.Second, true, 2 * time.Second, 2 * time.Second},
		{"learned never reused", 0, 0, 60 * time.Second, false, 0, 0},
	} {
		k := newKeepAlive()
		k.hinted(tc.hint)
		k.learned.Store(int64(tc.learned))
		l := k.limits(tc.hard, tc.vouched)
		if l.Reuse != tc.reuse || l.NonReplayable != tc.nonReplay {
			t.Errorf("%s: reuse %v, non-replayable %v; want %v and %v", tc.name, l.Reuse, l.NonReplayable, tc.reuse, tc.nonReplay)
		}
	}
}

// How observations move what was learned.
func TestLearningRules(t *testing.T) {
	k := newKeepAlive()
	k.alive(time.Hour) // open says nothing while nothing is known
	if _, ok := k.known(); ok {
		t.Fatal("an open connection made the timeout known")
	}
	k.closed(290*time.Millisecond, 330*time.Millisecond)
	check := func(what string, want time.Duration) {
		t.Helper()
		if got, _ := k.known(); got != want {
			t.Errorf("%s: learned %v, want %v", what, got, want)
		}
	}
	check("first close", 290*time.Millisecond)
	k.closed(400*time.Millisecond, 450*time.Millisecond)
	check("a later close (a FIN that took its time)", 290*time.Millisecond)
	k.alive(500 * time.Millisecond)
	check("open a little longer", 290*time.Millisecond)
	k.closed(100*time.Millisecond, 150*time.Millisecond)
	check("an earlier close", 100*time.Millisecond)
	k.alive(900 * time.Millisecond)
	check("open far longer", 450*time.Millisecond)
}

// The retry predicate on the errors a real target produces.
func TestRetryableOnRealFailures(t *testing.T) {
	lt := startLineTarget(t, 10*time.Second, true)
	p := NewPool(lt.addr, Options{})
	defer p.Close()

	// The target reads the request and closes without a byte of answer.
	use(t, p, true)
	c, err := p.Get(context.Background(), true)
	if err != nil || !c.Reused {
		t.Fatalf("no reused connection: %v", err)
	}
	_, err = c.Write([]byte("drop\n"))
	if err == nil {
		_, err = c.Read(c.Buf)
	}
	c.Discard()
	var ae *AttemptError
	if !errors.As(err, &ae) || !ae.Reused || !ae.Sent || ae.Responded || !ae.Closed {
		t.Fatalf("closed under the request: %#v, want reused, sent, closed, nothing received", err)
	}
	if !Retryable(err, true) || Retryable(err, false) {
		t.Error("a request that reached the target: want a retry only when it can be replayed")
	}

	// Nothing of the request left: the reset was already there. (A new pool:
	// the first one has learned from the close to reuse nothing.)
	p = NewPool(lt.addr, Options{})
	defer p.Close()
	d := use(t, p, true)
	d2, _ := p.Get(context.Background(), true)
	if d2 != d {
		t.Fatal("the released connection was not reused")
	}
	d2.Write([]byte("drop\n"))
	d2.Read(d2.Buf) // the reset arrives
	d2.sent = 0     // as for a new request on it
	_, err = d2.Write([]byte("GET\n"))
	d2.Discard()
	if !errors.As(err, &ae) || ae.Sent || !ae.Closed {
		t.Fatalf("write after a reset: %#v, want closed with nothing sent", err)
	}
	if !Retryable(err, false) {
		t.Error("a request of which nothing was sent must be retryable, whatever its method")
	}
}

// The predicate's table: each line is a case it must decide.
func TestRetryable(t *testing.T) {
	closed := func(f func(e *AttemptError)) error {
		e := &AttemptError{Reused: true, Sent: true, Closed: true, Err: io.EOF}
		f(e)
		return e
	}
	for _, tc := range []struct {
		name       string
		err        error
		replayable bool
		want       bool
	}{
		{"GET closed under it", closed(func(*AttemptError) {}), true, true},
		{"POST closed under it", closed(func(*AttemptError) {}), false, false},
		{"POST never sent", closed(func(e *AttemptError) { e.Sent = false }), false, true},
		{"new connection", closed(func(e *AttemptError) { e.Reused = false }), true, false},
		{"response started", closed(func(e *AttemptError) { e.Responded = true }), true, false},
		{"timeout", closed(func(e *AttemptError) { e.Closed = false }), true, false},
		{"dial error", &DialError{Err: io.EOF}, true, false},
		{"other error", io.EOF, true, false},
	} {
		if got := Retryable(tc.err, tc.replayable); got != tc.want {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A request that cannot be replayed rides only a connection idle for less than
// the stricter limit; a replayable one may take an older one.
func TestNonReplayableRequestTakesAFreshConnection(t *testing.T) {
	lt := startLineTarget(t, 10*time.Second, false)
	p := NewPool(lt.addr, Options{})
	defer p.Close()
	c := use(t, p, true)
	age := func() {
		p.mu.Lock()
		p.idle[0].idleSince = time.Now().Add(-UnprovenIdle - time.Millisecond)
		p.mu.Unlock()
	}
	age()
	if d := use(t, p, true); d != c {
		t.Error("a replayable request did not reuse a connection idle beyond the unproven limit")
	}
	age()
	if d := use(t, p, false); d == c {
		t.Error("a request that cannot be replayed rode a connection idle beyond the unproven limit")
	}
}

// MaxConns bounds the connections to a target: a request waits for one to be
// released, and gives up after the connect timeout.
func TestMaxConnsBoundsThePool(t *testing.T) {
	lt := startLineTarget(t, 10*time.Second, false)
	p := NewPool(lt.addr, Options{MaxConns: 1, ConnectTimeout: 100 * time.Millisecond})
	defer p.Close()
	a, err := p.Get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Get(context.Background(), true)
	var de *DialError
	if !errors.As(err, &de) || !de.Timeout || !errors.Is(err, ErrPoolFull) {
		t.Fatalf("a second connection beyond MaxConns 1: %v, want a timed-out DialError", err)
	}
	p.opts.ConnectTimeout = 5 * time.Second
	got := make(chan *Conn)
	go func() {
		c, err := p.Get(context.Background(), true)
		if err != nil {
			t.Error(err)
		}
		got <- c
	}()
	// Whether the waiter is already waiting (handed over) or not yet (taken
	// from the idle list), it gets the released connection.
	a.Release()
	select {
	case c := <-got:
		if c != a || p.Open() != 1 {
			t.Errorf("the waiting request got %p (open %d), want the released %p", c, p.Open(), a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request got no connection within 5 s")
	}
}

// TestWaiterSeesConnectionReleasedToIdle: a request waiting for a slot at
// MaxConns takes a connection that went to the idle list rather than to it
// (released while the request was between its look at the idle list and its
// wait), instead of waiting out the connect timeout.
func TestWaiterSeesConnectionReleasedToIdle(t *testing.T) {
	lt := startLineTarget(t, 10*time.Second, false)
	p := NewPool(lt.addr, Options{MaxConns: 1, ConnectTimeout: 10 * time.Second})
	defer p.Close()
	a, err := p.Get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		_, err := p.dial(context.Background(), time.Now().Add(10*time.Second), time.Minute)
		got <- err
	}()
	waiting := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.released != nil
	}
	for deadline := time.Now().Add(5 * time.Second); !waiting(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the request never waited for a slot")
		}
	}
	start := time.Now()
	p.pushIdle(a) // as a release that found nobody on handoff
	select {
	case err := <-got:
		if err != errReleased {
			t.Fatalf("waiting request: %v, want errReleased", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting request missed the connection released to the idle list")
	}
	if c, err := p.Get(context.Background(), true); err != nil || c != a {
		t.Errorf("Get after the release: %p, %v; want the released %p", c, err, a)
	}
	t.Logf("woken after %v", time.Since(start))
}
