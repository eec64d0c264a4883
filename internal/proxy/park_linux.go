package proxy

import (
	"container/heap"
	"os"
	"sync"
	"syscall"
	"time"
)

// parker keeps idle client connections without a goroutine or buffers each: an
// epoll set (beside the Go runtime's own) reports when a parked connection's
// client sends its next request or closes, and a deadline heap closes those
// whose idle timeout expires first. One goroutine serves the whole set.
//
// A plain HTTP connection parks detached (detach): the proxy keeps a duplicate
// of its descriptor, in the set, and closes the net.Conn, whose netFD, addresses
// and runtime poll descriptor are then freed; what stays is the conn struct.
// On wake the descriptor is rebuilt into a connection (attach). A TLS
// connection's state cannot leave its tls.Conn, so it parks attached, as does
// a plain one whose last parking ended within detachAfter of its idle start:
// its socket is added to the set the first time it parks and re-armed
// (EPOLLONESHOT) each later time; closing the socket removes it. Each parking
// is known by a token that is never reused, so an event that races with an
// expiry or a close finds no connection and is ignored.
type parker struct {
	p *Proxy

	initOnce sync.Once
	initErr  error
	epfd     int
	// wakefd is an eventfd in the set: writing it interrupts the wait when a
	// deadline earlier than the one waited for arrives, or on stop.
	wakefd int
	done   chan struct{}

	mu       sync.Mutex
	conns    map[uint64]*conn
	deadline deadlineHeap
	token    uint64
	// waitUntil is when the loop's current wait ends; zero when it waits for
	// events only.
	waitUntil time.Time
	stopped   bool
	// resumes counts the parkings that ended with the client's bytes.
	resumes uint64
	// detachAfter is the package's detachAfter; tests shorten it before the
	// proxy serves.
	detachAfter time.Duration
}

// wakeToken marks the eventfd's events; parkings count from 1.
const wakeToken = 0

// detachAfter is how long a plain connection must have been idle when it wakes
// for its next parking to be detached again. Detaching and rebuilding costs
// seven system calls (about 9 µs of CPU here, BenchmarkDetachAttach) against
// one for an attached parking: a connection that comes back sooner parks
// attached, keeping its net.Conn (about 1 KiB more) until it is seen to stay
// idle longer.
const detachAfter = time.Second

func newParker(p *Proxy) *parker {
	return &parker{p: p, conns: make(map[uint64]*conn), detachAfter: detachAfter}
}

// init creates the epoll set and starts the loop, on the first parking.
func (k *parker) init() error {
	k.initOnce.Do(func() {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			k.initErr = err
			return
		}
		r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
		if errno != 0 {
			syscall.Close(epfd)
			k.initErr = errno
			return
		}
		wakefd := int(r)
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
		setToken(&ev, wakeToken)
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
			syscall.Close(wakefd)
			syscall.Close(epfd)
			k.initErr = err
			return
		}
		k.epfd, k.wakefd = epfd, wakefd
		k.done = make(chan struct{})
		go k.loop()
	})
	return k.initErr
}

// park hands an idle connection to the parker and reports whether it took it.
// When it does, the calling goroutine must forget the connection: the parker
// resumes it on a new goroutine, or closes it at its idle deadline.
func (k *parker) park(c *conn) bool {
	if k == nil || !c.parkable {
		return false
	}
	if err := k.init(); err != nil {
		k.p.log.Warn("idle connections keep a goroutine each: no poller", "err", err)
		return false
	}
	if sc := c.detachable(); sc != nil && !c.wokeSoon {
		return k.parkDetached(c, sc)
	}
	rc := c.pollConn()
	if rc == nil {
		return false
	}
	c.parkDeadline = c.idleSince.Add(c.ln.Load().LB.Attrs.IdleTimeout)

	k.mu.Lock()
	defer k.mu.Unlock()
	if k.stopped || c.stopping() {
		return false
	}
	k.token++
	tok := k.token
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setToken(&ev, tok)
	op := syscall.EPOLL_CTL_MOD
	if !c.parkRegistered {
		op = syscall.EPOLL_CTL_ADD
	}
	var ctlErr error
	if err := rc.Control(func(fd uintptr) {
		ctlErr = syscall.EpollCtl(k.epfd, op, int(fd), &ev)
	}); err != nil {
		return false
	}
	if ctlErr != nil {
		return false
	}
	c.parkRegistered = true
	c.parkToken = tok
	k.conns[tok] = c
	heap.Push(&k.deadline, c)
	if k.waitUntil.IsZero() || c.parkDeadline.Before(k.waitUntil) {
		k.wake()
	}
	return true
}

// parkDetached parks a connection with only its descriptor (and, over TLS,
// its tls.Conn): it duplicates the descriptor of its TCP socket sc, closes
// the TCP connection (the socket stays open through the duplicate) and
// registers the duplicate in the set. When the poller or the proxy refuses it
// afterwards, the connection is rebuilt and park reports false, or, when
// stopping, closed and park reports true.
func (k *parker) parkDetached(c *conn, sc plainSocket) bool {
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	if c.parkRegistered {
		// Parked attached before: the set knows the socket by the
		// descriptor about to be closed, which would leave a stale entry.
		k.mu.Lock()
		if !k.stopped {
			rc.Control(func(fd uintptr) { syscall.EpollCtl(k.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
		}
		k.mu.Unlock()
		c.parkRegistered = false
	}
	fd, err := dupSocket(rc)
	if err != nil {
		return false
	}
	c.parkDeadline = c.idleSince.Add(c.ln.Load().LB.Attrs.IdleTimeout)
	c.detach(fd)

	k.mu.Lock()
	if k.stopped || c.stopping() {
		k.mu.Unlock()
		c.close()
		return true
	}
	k.token++
	tok := k.token
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT}
	setToken(&ev, tok)
	if err := syscall.EpollCtl(k.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		k.mu.Unlock()
		if err := c.attach(); err != nil {
			k.p.log.Warn("closing an idle connection that could not be parked", "client", c.client.String(), "err", err)
			c.close()
			return true
		}
		return false
	}
	c.parkToken = tok
	k.conns[tok] = c
	heap.Push(&k.deadline, c)
	if k.waitUntil.IsZero() || c.parkDeadline.Before(k.waitUntil) {
		k.wake()
	}
	k.mu.Unlock()
	return true
}

// detachable returns the TCP socket of a connection that can park detached:
// a plain one, or the socket under a TLS one whose tlsSocket holds no bytes
// crypto/tls has yet to take. Else nil.
func (c *conn) detachable() plainSocket {
	sc, s := c.tcpSocket()
	if s != nil && (len(s.pending) > 0 || s.sealing) {
		return nil
	}
	return sc
}

// dupSocket duplicates the descriptor behind rc (close-on-exec).
func dupSocket(rc syscall.RawConn) (int, error) {
	var fd int
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			dupErr = errno
			return
		}
		fd = int(r)
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, os.NewSyscallError("fcntl", dupErr)
	}
	return fd, nil
}

// unregister takes a woken detached connection's descriptor out of the set
// before the connection is rebuilt on it. Only the loop calls it, so the set
// is open.
func (k *parker) unregister(c *conn) {
	if c.parkFD >= 0 {
		syscall.EpollCtl(k.epfd, syscall.EPOLL_CTL_DEL, int(c.parkFD), nil)
	}
}

// wake interrupts the loop's wait.
func (k *parker) wake() {
	one := [8]byte{1}
	syscall.Write(k.wakefd, one[:])
}

// loop waits for parked connections' events and deadlines.
func (k *parker) loop() {
	defer close(k.done)
	events := make([]syscall.EpollEvent, 256)
	var resume, expire []*conn
	for {
		k.mu.Lock()
		if k.stopped {
			k.mu.Unlock()
			syscall.Close(k.wakefd)
			syscall.Close(k.epfd)
			return
		}
		timeout := -1
		k.waitUntil = time.Time{}
		if len(k.deadline) > 0 {
			k.waitUntil = k.deadline[0].parkDeadline
			// Round up so that the deadline has passed when the wait ends.
			ms := (time.Until(k.waitUntil) + time.Millisecond - 1) / time.Millisecond
			timeout = int(max(ms, 0))
		}
		k.mu.Unlock()

		n, err := syscall.EpollWait(k.epfd, events, timeout)
		if err != nil && err != syscall.EINTR {
			k.p.log.Error("idle connection poller failed", "err", err)
			n = 0
		}
		woke := time.Now()

		k.mu.Lock()
		for i := range max(n, 0) {
			tok := token(&events[i])
			if tok == wakeToken {
				var b [8]byte
				syscall.Read(k.wakefd, b[:])
				continue
			}
			c := k.conns[tok]
			if c == nil {
				continue // expired or closed meanwhile
			}
			k.remove(c)
			k.resumes++
			c.wokeSoon = woke.Sub(c.idleSince) < k.detachAfter
			resume = append(resume, c)
		}
		now := time.Now()
		for len(k.deadline) > 0 && !k.deadline[0].parkDeadline.After(now) {
			c := k.deadline[0]
			k.remove(c)
			expire = append(expire, c)
		}
		k.mu.Unlock()

		for i, c := range resume {
			k.unregister(c)
			go c.resume()
			resume[i] = nil
		}
		for i, c := range expire {
			// Idle timeout with no request: ALB closes silently, no log line.
			if c.tls != nil {
				// Closing a TLS connection writes its close_notify alert,
				// which may wait on a client that does not read; not here.
				go c.close()
			} else {
				c.close()
			}
			expire[i] = nil
		}
		resume, expire = resume[:0], expire[:0]
	}
}

// remove takes a parked connection out of the table and the heap. k.mu is held.
func (k *parker) remove(c *conn) {
	delete(k.conns, c.parkToken)
	heap.Remove(&k.deadline, int(c.parkSlot))
	c.parkToken = 0
}

// closeWhere closes the parked connections for which match is true. A
// connection whose stopping() has become true is never parked again.
func (k *parker) closeWhere(match func(*conn) bool) {
	if k == nil {
		return
	}
	k.mu.Lock()
	var all []*conn
	for _, c := range k.conns {
		if !match(c) {
			continue
		}
		k.remove(c)
		all = append(all, c)
	}
	k.mu.Unlock()
	for _, c := range all {
		c.close()
	}
}

// stop ends the loop and releases the epoll set.
func (k *parker) stop() {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.stopped = true
	started := k.done != nil
	if started {
		k.wake()
	}
	k.mu.Unlock()
	if started {
		<-k.done
	}
}

// setToken stores a parking's token in an epoll event's user data.
func setToken(ev *syscall.EpollEvent, tok uint64) {
	ev.Fd = int32(uint32(tok))
	ev.Pad = int32(uint32(tok >> 32))
}

// token reads back what setToken stored.
func token(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// deadlineHeap orders parked connections by idle deadline.
type deadlineHeap []*conn

func (h deadlineHeap) Len() int { return len(h) }
func (h deadlineHeap) Less(i, j int) bool {
	return h[i].parkDeadline.Before(h[j].parkDeadline)
}
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].parkSlot = int32(i)
	h[j].parkSlot = int32(j)
}
func (h *deadlineHeap) Push(x any) {
	c := x.(*conn)
	c.parkSlot = int32(len(*h))
	*h = append(*h, c)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.parkSlot = -1
	return c
}

// parked reports how many connections are parked.
func (k *parker) parked() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.conns)
}

// resumed reports how many parked connections have been resumed.
func (k *parker) resumed() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.resumes
}
