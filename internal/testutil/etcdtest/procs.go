package etcdtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// memberEnv carries a process member's settings to the re-executed test
// binary (see RunMemberIfAsked).
const memberEnv = "ALBATROSS_ETCDTEST_MEMBER"

// procConfig is what a process member is started with.
type procConfig struct {
	Name, Dir, Peer, Client, InitialCluster, State string
}

// RunMemberIfAsked runs an etcd member and never returns when this process
// was started by StartProcesses to be one; otherwise it returns at once. Call
// it first in the TestMain of every package that uses StartProcesses.
func RunMemberIfAsked() {
	raw := os.Getenv(memberEnv)
	if raw == "" {
		return
	}
	var pc procConfig
	if err := json.Unmarshal([]byte(raw), &pc); err != nil {
		fmt.Fprintf(os.Stderr, "etcdtest member: %s: %v\n", memberEnv, err)
		os.Exit(2)
	}
	cfg := embed.NewConfig()
	cfg.Name = pc.Name
	cfg.Dir = pc.Dir
	cfg.ListenPeerUrls = []url.URL{{Scheme: "http", Host: pc.Peer}}
	cfg.AdvertisePeerUrls = cfg.ListenPeerUrls
	cfg.ListenClientUrls = []url.URL{{Scheme: "http", Host: pc.Client}}
	cfg.AdvertiseClientUrls = cfg.ListenClientUrls
	cfg.InitialCluster = pc.InitialCluster
	cfg.InitialClusterToken = "albatross-test"
	cfg.ClusterState = pc.State
	cfg.MaxTxnOps = MaxTxnOps
	// A member killed with SIGKILL must not lose what it acknowledged:
	// its log is fsync'd, as in production.
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	cfg.LogOutputs = []string{filepath.Join(filepath.Dir(pc.Dir), pc.Name+".log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "etcdtest member %s: %v\n", pc.Name, err)
		os.Exit(1)
	}
	select {
	case <-e.Server.ReadyNotify():
		fmt.Println("ready")
	case err := <-e.Err():
		fmt.Fprintf(os.Stderr, "etcdtest member %s: %v\n", pc.Name, err)
		os.Exit(1)
	}
	err = <-e.Err()
	fmt.Fprintf(os.Stderr, "etcdtest member %s stopped: %v\n", pc.Name, err)
	os.Exit(1)
}

// Procs is an etcd cluster whose members are separate processes (the test
// binary re-executed), so that a test can kill one with SIGKILL as a machine
// failure would. Every member is killed when the test ends.
type Procs struct {
	t       testing.TB
	mu      sync.Mutex
	members []*procMember
}

type procMember struct {
	cfg  procConfig
	cmd  *exec.Cmd // nil while killed
	done chan struct{}
	out  strings.Builder // the member's stderr, for failures
}

// StartProcesses starts a cluster of n process members and waits until every
// one serves. The calling package's TestMain must call RunMemberIfAsked.
func StartProcesses(t testing.TB, n int) *Procs {
	t.Helper()
	p := &Procs{t: t}
	base := t.TempDir()
	var initial []string
	for i := range n {
		peer, client := freeAddr(t), freeAddr(t)
		name := fmt.Sprintf("p%d", i)
		initial = append(initial, fmt.Sprintf("%s=http://%s", name, peer))
		p.members = append(p.members, &procMember{cfg: procConfig{Name: name, Dir: filepath.Join(base, name, "data"), Peer: peer, Client: client,
			State: embed.ClusterStateFlagNew}})
	}
	for _, m := range p.members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		if err := os.MkdirAll(filepath.Dir(m.cfg.Dir), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(p.Close)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	p.Restart(all...)
	return p
}

// Endpoints returns every member's client address, killed or not.
func (p *Procs) Endpoints() []string {
	var out []string
	for _, m := range p.members {
		out = append(out, m.cfg.Client)
	}
	return out
}

// URL returns the cluster as albatross's --store flag names it.
func (p *Procs) URL() string { return "etcd://" + strings.Join(p.Endpoints(), ",") }

// Kill kills member i with SIGKILL and waits until it has exited.
func (p *Procs) Kill(i int) {
	p.mu.Lock()
	m := p.members[i]
	cmd := m.cmd
	m.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-m.done
}

// Restart starts the given killed members (or, the first time, new ones)
// together and waits until each serves, which needs a quorum.
func (p *Procs) Restart(members ...int) {
	p.t.Helper()
	ready := make(chan error, len(members))
	for _, i := range members {
		m := p.members[i]
		cfg := m.cfg
		raw, _ := json.Marshal(cfg)
		exe, err := os.Executable()
		if err != nil {
			p.t.Fatal(err)
		}
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), memberEnv+"="+string(raw))
		setParentDeath(cmd)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			p.t.Fatal(err)
		}
		m.out.Reset()
		cmd.Stderr = &lockedWriter{mu: &p.mu, w: &m.out}
		if err := cmd.Start(); err != nil {
			p.t.Fatalf("start etcd member %s: %v", cfg.Name, err)
		}
		done := make(chan struct{})
		p.mu.Lock()
		m.cmd, m.done = cmd, done
		// Restarted members rejoin the cluster they were part of.
		m.cfg.State = embed.ClusterStateFlagExisting
		p.mu.Unlock()
		go func() {
			sc := bufio.NewScanner(stdout)
			ok := false
			for sc.Scan() {
				if sc.Text() == "ready" && !ok {
					ok = true
					ready <- nil
				}
			}
			cmd.Wait()
			close(done)
			if !ok {
				ready <- fmt.Errorf("etcd member %s exited before it was ready", cfg.Name)
			}
		}()
	}
	timeout := time.After(readyTimeout)
	for range members {
		select {
		case err := <-ready:
			if err != nil {
				p.mu.Lock()
				out := p.outputs()
				p.mu.Unlock()
				p.t.Fatalf("%v\n%s", err, out)
			}
		case <-timeout:
			p.t.Fatalf("etcd members %v not ready after %v", members, readyTimeout)
		}
	}
}

// outputs is every member's stderr; p.mu is held.
func (p *Procs) outputs() string {
	var b strings.Builder
	for _, m := range p.members {
		fmt.Fprintf(&b, "member %s:\n%s\n", m.cfg.Name, m.out.String())
	}
	return b.String()
}

// Close kills every member still running.
func (p *Procs) Close() {
	for i := range p.members {
		p.Kill(i)
	}
}

// lockedWriter serialises writes into w under mu.
type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
