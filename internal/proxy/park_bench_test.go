//go:build linux

package proxy

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/testutil"
)

// BenchmarkParkedConnectionMemory measures what a parked client connection
// costs the proxy, as ../shared/bench/compare.py's idle scenario sees it: b.N
// connections are opened one after the other, each carries one request, and
// all wait idle until parked. The clients are bare sockets driven by system
// calls, so that nothing of theirs is on this process's heap. Reported per
// connection: heap-B/conn, the live heap after a collection (Go's HeapAlloc);
// poll-B/conn, what the runtime keeps off the heap (OtherSys, where its poll
// descriptors live, one per socket it polls); rss-B/conn, the process's
// resident memory (noisy: it counts garbage not yet returned to the system).
// Run it with a fixed count, -benchtime=5000x as compare.py does.
func BenchmarkParkedConnectionMemory(b *testing.B) {
	if os.Getenv("PARKPROF") != "" {
		runtime.MemProfileRate = 1
	}
	p := quietProxy()
	attrs := config.LoadBalancerAttributes{IdleTimeout: time.Hour, ClientKeepAlive: time.Hour}
	addr := netip.MustParseAddrPort(serve(b, p, testListener(attrs, nil, fixedTarget(b))))
	fds := make([]int, 0, b.N+1)
	b.Cleanup(func() {
		for _, fd := range fds {
			syscall.Close(fd)
		}
	})
	buf := make([]byte, 4096)
	open := func() {
		fd, err := rawRequest(addr, buf)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
	}
	// Warm the pools and the target connection before the first reading.
	open()
	waitParked(b, p, 1)
	m0, rss0 := memNow(b)
	b.ResetTimer()
	for range b.N {
		open()
	}
	waitParked(b, p, b.N+1)
	b.StopTimer()
	m1, rss1 := memNow(b)
	if f := os.Getenv("PARKPROF"); f != "" {
		w, _ := os.Create(f)
		pprof.WriteHeapProfile(w)
		w.Close()
	}
	n := float64(b.N)
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/n, "heap-B/conn")
	b.ReportMetric(float64(int64(m1.OtherSys)-int64(m0.OtherSys))/n, "poll-B/conn")
	b.ReportMetric(float64(rss1-rss0)/n, "rss-B/conn")
}

// rawRequest opens a blocking socket to addr, sends one GET on it, reads the
// response (the head and fixedTarget's 64-byte body) into buf, and returns
// the socket, kept alive.
func rawRequest(addr netip.AddrPort, buf []byte) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (int, error) {
		syscall.Close(fd)
		return -1, fmt.Errorf("%s: %w", what, err)
	}
	tv := syscall.Timeval{Sec: 10}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return fail("SO_RCVTIMEO", err)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrInet4{Port: int(addr.Port()), Addr: addr.Addr().As4()}); err != nil {
		return fail("connect", err)
	}
	if _, err := syscall.Write(fd, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		return fail("write", err)
	}
	n := 0
	for {
		m, err := syscall.Read(fd, buf[n:])
		if err != nil || m == 0 {
			return fail("read", fmt.Errorf("%d bytes of a response: %v", n, err))
		}
		n += m
		if i := bytes.Index(buf[:n], []byte("\r\n\r\n")); i >= 0 && n >= i+4+64 {
			return fd, nil
		}
	}
}

// waitParked waits until n connections are parked.
func waitParked(tb testing.TB, p *Proxy, n int) {
	tb.Helper()
	testutil.WaitFor(tb, 60*time.Second, strconv.Itoa(n)+" connections parked", func() bool {
		return p.parker.parked() == n
	})
}

// memNow collects garbage and returns the memory statistics and the
// process's resident bytes.
func memNow(tb testing.TB) (runtime.MemStats, int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(statm))
	if len(f) < 2 {
		tb.Fatalf("/proc/self/statm: %q", statm)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		tb.Fatalf("/proc/self/statm: %v", err)
	}
	return m, pages * int64(os.Getpagesize())
}

// BenchmarkParkedConnectionWake measures what a request costs on a
// connection that was parked: 64 keep-alive connections (the clients in the
// load generator's child process) each carry a request, then all wait until
// parked again, over and over. cpu-µs/op is this process's CPU time per
// request (getrusage), parking and waking included; allocs/op its
// allocations. Waking every 200 ms or so, the connections park attached
// (detachAfter); detach=always makes them park detached every time, paying
// the rebuild.
func BenchmarkParkedConnectionWake(b *testing.B) {
	b.Run("detach=adaptive", func(b *testing.B) { benchParkedWake(b, detachAfter) })
	b.Run("detach=always", func(b *testing.B) { benchParkedWake(b, 0) })
}

func benchParkedWake(b *testing.B, after time.Duration) {
	const conns = 64
	lg := startLoadGen(b)
	p := quietProxy()
	p.parker.detachAfter = after
	addr := serve(b, p, benchListener(b, lg.target))
	lg.command(b, "connect %s %d", addr, conns)
	lg.command(b, "run %d", 2*conns)
	waitParked(b, p, conns)
	b.ReportAllocs()
	cpu0 := testutil.ProcessCPU(b)
	b.ResetTimer()
	for left := b.N; left > 0; left -= conns {
		lg.command(b, "run %d", min(left, conns))
		waitParked(b, p, conns)
	}
	b.StopTimer()
	b.ReportMetric(float64((testutil.ProcessCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// TestConnStructFitsSizeClass holds the conn struct, most of what a parked
// plain connection keeps, to the allocator's 256-byte size class: a field
// added past it costs every parked connection 32 bytes more or worse.
func TestConnStructFitsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 256 {
		t.Fatalf("conn is %d bytes, more than the 256-byte size class; move what only an active connection needs into work", n)
	}
}

// BenchmarkDetachAttach measures what parking detached adds to a parking and
// its wake, without the request: duplicating the descriptor, closing the
// net.Conn, adding the duplicate to an epoll set and removing it, and
// rebuilding the connection on it (os.NewFile, which registers it with the
// runtime's poller). A connection parked attached (the TLS case, and every
// connection before) pays one epoll_ctl instead.
func BenchmarkDetachAttach(b *testing.B) {
	nc, peer := testutil.TCPPair(b)
	defer peer.Close()
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(epfd)
	p := quietProxy()
	c := &conn{p: p, nc: nc, parkFD: -1}
	defer func() {
		if c.nc != nil {
			c.nc.Close()
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		rc, err := c.nc.(plainSocket).SyscallConn()
		if err != nil {
			b.Fatal(err)
		}
		fd, err := dupSocket(rc)
		if err != nil {
			b.Fatal(err)
		}
		c.detach(fd)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			b.Fatal(err)
		}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, fd, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.attach(); err != nil {
			b.Fatal(err)
		}
	}
}
