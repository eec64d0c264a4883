// Package etcdtest starts real etcd servers (go.etcd.io/etcd/server/v3/embed)
// inside a test process: one member or a cluster of several, on 127.0.0.1
// ephemeral ports with their data in the test's temporary directory, stopped
// when the test ends. It is imported by tests only, so that etcd's server is
// never linked into the albatross binary.
package etcdtest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// readyTimeout bounds how long a member may take to join its cluster.
const readyTimeout = 60 * time.Second

// MaxTxnOps is the members' --max-txn-ops: well above etcd's default of 128,
// as docs/cluster.md asks of a production cluster, so that large changes
// fit in one transaction.
const MaxTxnOps = 16384

// Cluster is a running etcd cluster of embedded members.
type Cluster struct {
	t       testing.TB
	mu      sync.Mutex
	members []*Member
}

// Member is one etcd member of a Cluster.
type Member struct {
	// Name is the member's name: m0, m1, ...
	Name string
	// Client is the member's client address, host:port.
	Client string
	cfg    *embed.Config
	etcd   *embed.Etcd // nil while stopped
}

// Options are the settings of StartWith.
type Options struct {
	// Fsync makes the members fsync their log as a production member does
	// (Start turns it off: tests need no durability across a machine crash).
	// Measurements of write latency want it on.
	Fsync bool
}

// Start starts a cluster of n members and waits until every one is ready.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	return StartWith(t, n, Options{})
}

// StartWith is Start with opts.
func StartWith(t testing.TB, n int, opts Options) *Cluster {
	t.Helper()
	// A port freeAddr found free can be taken by another test process before
	// etcd binds it; the cluster is then started again on new ports.
	for attempt := 1; ; attempt++ {
		c, err := tryStart(t, n, opts)
		if err == nil {
			t.Cleanup(c.Close)
			return c
		}
		if !addrInUse(err) || attempt == startAttempts {
			t.Fatal(err)
		}
		t.Logf("etcd: %v; starting again on other ports", err)
	}
}

// startAttempts bounds how often StartWith tries new ports.
const startAttempts = 5

// addrInUse reports whether err is a member failing to bind its address.
func addrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// tryStart starts a cluster of n members on ports free a moment ago. On
// failure it stops whatever it started.
func tryStart(t testing.TB, n int, opts Options) (*Cluster, error) {
	c := &Cluster{t: t}
	var initial []string
	for i := range n {
		peer, client := freeAddr(t), freeAddr(t)
		name := fmt.Sprintf("m%d", i)
		cfg := embed.NewConfig()
		cfg.Name = name
		cfg.Dir = filepath.Join(t.TempDir(), name)
		cfg.ListenPeerUrls = []url.URL{{Scheme: "http", Host: peer}}
		cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
		cfg.ListenClientUrls = []url.URL{{Scheme: "http", Host: client}}
		cfg.AdvertiseClientUrls = cfg.ListenClientUrls
		cfg.InitialClusterToken = "albatross-test"
		cfg.MaxTxnOps = MaxTxnOps
		// Tests need no durability across a machine crash; fsync only slows
		// them down on a shared machine.
		cfg.UnsafeNoFsync = !opts.Fsync
		cfg.Logger = "zap"
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{filepath.Join(t.TempDir(), name+".log")}
		initial = append(initial, fmt.Sprintf("%s=http://%s", name, peer))
		c.members = append(c.members, &Member{Name: name, Client: client, cfg: cfg})
	}
	for _, m := range c.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	// The members of a new cluster start together: each waits for the others
	// to elect a leader. A member that cannot bind fails at once; the others
	// are then stopped, which ends their wait.
	errs := make(chan error, n)
	for _, m := range c.members {
		go func() { errs <- c.start(m) }()
	}
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
			go c.Close()
		}
	}
	if first != nil {
		c.Close()
		return nil, first
	}
	return c, nil
}

// Endpoints returns the client addresses (host:port) of every member, stopped
// or not.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.Client)
	}
	return out
}

// URL returns the cluster as albatross's --store flag names it:
// etcd://H:P,H:P,...
func (c *Cluster) URL() string { return "etcd://" + strings.Join(c.Endpoints(), ",") }

// Member returns member i.
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Stop stops member i and waits until it has stopped.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	e := c.members[i].etcd
	c.members[i].etcd = nil
	c.mu.Unlock()
	if e != nil {
		e.Close()
	}
}

// Restart starts the stopped member i again on its data directory and
// addresses and waits until it is ready (which needs a quorum).
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	m := c.members[i]
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	if err := c.start(m); err != nil {
		c.t.Fatal(err)
	}
}

// WaitLeaderless waits until running member i knows that it has no leader,
// as after losing its quorum.
func (c *Cluster) WaitLeaderless(t testing.TB, i int) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		c.mu.Lock()
		e := c.members[i].etcd
		c.mu.Unlock()
		if e == nil {
			t.Fatalf("etcd member %d is stopped", i)
		}
		if e.Server.Leader() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd member %d still has a leader after %v", i, readyTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops every member still running.
func (c *Cluster) Close() {
	for i := range c.members {
		c.Stop(i)
	}
}

func (c *Cluster) start(m *Member) error {
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return fmt.Errorf("start etcd member %s: %w", m.Name, err)
	}
	c.mu.Lock()
	m.etcd = e
	c.mu.Unlock()
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case <-e.Server.StopNotify():
		return fmt.Errorf("etcd member %s stopped before it was ready", m.Name)
	case err := <-e.Err():
		return fmt.Errorf("etcd member %s: %w", m.Name, err)
	case <-time.After(readyTimeout):
		return fmt.Errorf("etcd member %s not ready after %v", m.Name, readyTimeout)
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
// etcd binds its own sockets from URLs, so the port is chosen by binding and
// releasing it; another process taking it in between is possible but rare,
// and then the member fails to start with a clear error.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
