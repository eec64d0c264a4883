package upstream

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// countingServer accepts connections and counts them; it answers nothing.
type countingServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startCounting(t *testing.T) *countingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &countingServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	})
	return s
}

func (s *countingServer) accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func TestReleasedConnectionIsReusedMostRecentFirst(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{})
	defer p.Close()
	a, err := p.Get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Get(context.Background(), true)
	if a.Reused || b.Reused {
		t.Fatal("new connections reported as reused")
	}
	a.Release()
	b.Release()
	c, _ := p.Get(context.Background(), true)
	if c != b || !c.Reused {
		t.Fatalf("got %p (reused %v), want the most recently released %p", c, c.Reused, b)
	}
	if p.Open() != 2 || p.Idle() != 1 {
		t.Errorf("open %d idle %d, want 2 and 1", p.Open(), p.Idle())
	}
}

// TestStatsCountReusesOfOpenAndDiscardedConnections: Reuses, counted on each
// connection while it is open, adds up those still open and those discarded.
func TestStatsCountReusesOfOpenAndDiscardedConnections(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{})
	defer p.Close()
	a, _ := p.Get(context.Background(), true)
	b, _ := p.Get(context.Background(), true)
	b.Release()
	for range 3 { // three requests ride b again
		c, err := p.Get(context.Background(), true)
		if err != nil || c != b {
			t.Fatalf("got %p, %v; want the pooled %p", c, err, b)
		}
		c.Release()
	}
	a.Release()
	a, _ = p.Get(context.Background(), true) // a once more
	if st := p.Stats(); st.Dials != 2 || st.Reuses != 4 {
		t.Fatalf("stats %+v, want 2 dials and 4 reuses", st)
	}
	a.Discard()
	b, _ = p.Get(context.Background(), true)
	b.Discard()
	if st := p.Stats(); st.Dials != 2 || st.Reuses != 5 || p.Open() != 0 {
		t.Errorf("after discarding both: stats %+v, open %d; want 2 dials, 5 reuses, none open", st, p.Open())
	}
}

func TestConnectionWithUnreadBytesIsNotReused(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{})
	defer p.Close()
	c, _ := p.Get(context.Background(), true)
	c.W = 3 // the target sent more than the response
	c.Release()
	if p.Idle() != 0 || p.Open() != 0 {
		t.Errorf("idle %d open %d: an out-of-step connection was kept", p.Idle(), p.Open())
	}
}

func TestIdleTimeoutAppliesToPooledConnections(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{})
	defer p.Close()
	p.SetIdleTimeout(50 * time.Millisecond)
	c, _ := p.Get(context.Background(), true)
	c.Release()
	// Get with a clock past the timeout leaves it to the sweep.
	if got := p.popYoung(time.Now().Add(time.Second), p.Limits().Reuse); got != nil {
		t.Fatal("a connection idle beyond the idle timeout was handed out")
	}
	// EvictIdle closes stale ones in the background sweep.
	p.EvictIdle(time.Now().Add(time.Second))
	if p.Idle() != 0 || p.Open() != 0 {
		t.Errorf("after eviction idle %d open %d, want 0 and 0", p.Idle(), p.Open())
	}
}

func TestMaxIdleBoundsThePool(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{MaxIdle: 2})
	defer p.Close()
	var cs []*Conn
	for i := 0; i < 4; i++ {
		c, err := p.Get(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	for _, c := range cs {
		c.Release()
	}
	if p.Idle() != 2 || p.Open() != 2 {
		t.Errorf("idle %d open %d, want 2 and 2", p.Idle(), p.Open())
	}
}

func TestDialErrorsAreClassified(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	_, err := NewPool(dead, Options{}).Get(context.Background(), true)
	var de *DialError
	if !errors.As(err, &de) || de.Timeout {
		t.Fatalf("refused: %v, want a DialError without Timeout", err)
	}
	// A context that has already expired stands in for the connect timeout.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	_, err = NewPool("127.0.0.1:9", Options{}).Get(ctx, true)
	if !errors.As(err, &de) || !de.Timeout {
		t.Fatalf("expired: %v, want a DialError with Timeout", err)
	}
}

func TestClosedPoolKeepsNothing(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{})
	c, _ := p.Get(context.Background(), true)
	p.Close()
	c.Release()
	if p.Idle() != 0 || p.Open() != 0 {
		t.Errorf("idle %d open %d after close", p.Idle(), p.Open())
	}
}

func TestPoolsRetainClosesRetiredTargets(t *testing.T) {
	s := startCounting(t)
	ps := NewPools(Options{})
	addr := s.ln.Addr().String()
	p := ps.Pool(addr)
	if ps.Pool(addr) != p {
		t.Fatal("a second lookup made a new pool")
	}
	c, _ := p.Get(context.Background(), true)
	c.Release()
	ps.Retain(map[string]bool{"127.0.0.1:1": true})
	if p.Idle() != 0 {
		t.Error("a retired target's idle connections stayed open")
	}
	if ps.Pool(addr) == p {
		t.Error("a retired pool was handed out again")
	}
}

// TestPassedDeadlineDoesNotRetireIdleConnection: a connection released with
// the read deadline of its last request still set, and idle past it, is open
// and is reused: the peek before reuse does not look at deadlines, and the
// next request sets its own.
func TestPassedDeadlineDoesNotRetireIdleConnection(t *testing.T) {
	s := startCounting(t)
	p := NewPool(s.ln.Addr().String(), Options{})
	defer p.Close()
	a, err := p.Get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Millisecond)
	a.SetReadDeadline(deadline)
	a.Release()
	testutil.WaitFor(t, 5*time.Second, "the released connection's deadline to pass", func() bool { return time.Now().After(deadline) })
	b, err := p.Get(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	if b != a || !b.Reused || s.accepted() != 1 {
		t.Fatalf("got %p (reused %v, %d connections accepted); want the released %p again", b, b.Reused, s.accepted(), a)
	}
}
