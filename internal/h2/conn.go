// Package h2 serves HTTP/2 client connections (RFC 9113) to an http.Handler.
//
// It replaces golang.org/x/net/http2's server on the load balancer's hot
// path. That server runs every frame through a serving goroutine and every
// response write through channels to it, several goroutine hand-offs per
// request; here the connection's reading goroutine processes each frame
// itself, under the connection's lock, and a stream's handler encodes its
// response frames into the connection's output buffer directly, which one
// writer goroutine sends, so that frames that streams finish together leave
// in one TLS write. Framing is read and checked by x/net/http2's Framer and
// request header blocks are decoded by x/net/http2/hpack; response header
// blocks are encoded here without the dynamic table (hpack.go), and the
// connection and stream state machines, flow control, the limits that keep
// a hostile client bounded and the request and response mapping are this
// package's too.
//
// A Conn is one client connection; Server holds what its connections share.
// Each request's handler runs on a goroutine of its own, or on one of a
// pool's (Server.Workers), with an *http.Request whose context ends when the
// stream does (a reset from the client, the connection closing) and a
// response writer that also has FlushError, SetReadDeadline and
// SetWriteDeadline, as http.ResponseController expects.
package h2

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/albatross-lb/albatross/internal/gopool"
)

// Server holds the settings of the connections it serves.
type Server struct {
	// Handler serves each request.
	Handler http.Handler
	// MaxConcurrentStreams is the SETTINGS_MAX_CONCURRENT_STREAMS the
	// server advertises and enforces (default 128).
	MaxConcurrentStreams uint32
	// MaxHeaderListSize bounds a request's header list (RFC 9113 §6.5.2
	// size); a larger one is answered 431 (default 1 MiB).
	MaxHeaderListSize uint32
	// IdleTimeout ends a connection (GOAWAY) that has had no open stream
	// for this long; zero means never.
	IdleTimeout time.Duration
	// Log receives the connection's errors at debug level; nil discards.
	Log *slog.Logger
	// Workers, when set, runs handlers on goroutines shared by every
	// connection that names it; nil starts a goroutine per request.
	Workers *Workers
}

// Workers runs request handlers on goroutines that outlive one request, so
// that a request starts on a stack that earlier ones have already grown
// rather than growing a new one by copying (internal/gopool). One Workers
// serves any number of Servers and connections.
type Workers struct {
	pool *gopool.Pool[handlerTask]
}

// handlerTask is one request for a worker: the stream and its handler.
type handlerTask struct {
	c  *Conn
	st *stream
	h  http.Handler
}

// Worker pool bounds: how many wait for a request at most, and how long one
// waits before it exits.
const (
	maxIdleWorkers = 1024
	workerIdleTime = 10 * time.Second
)

// NewWorkers returns a pool of handler goroutines for Server.Workers.
func NewWorkers() *Workers {
	return &Workers{pool: gopool.New(func(t handlerTask) { t.c.runHandler(t.st, t.h) }, maxIdleWorkers, workerIdleTime)}
}

// Close stops the idle workers and waits for the busy ones to finish their
// requests. Requests started after Close run on goroutines of their own.
func (w *Workers) Close() { w.pool.Close() }

// startHandler runs h for st on a worker or a new goroutine.
func (c *Conn) startHandler(st *stream, h http.Handler) {
	if w := c.srv.Workers; w != nil {
		w.pool.Go(handlerTask{c: c, st: st, h: h})
		return
	}
	go c.runHandler(st, h)
}

// Flow-control windows the server grants its clients, and when it returns
// what a handler has read.
const (
	streamWindow = 1 << 20
	connWindow   = 1 << 20
	// windowUpdateAt is how many consumed bytes are returned at once: a
	// quarter of the window, so the client never waits on us while a
	// handler keeps reading.
	windowUpdateAt = streamWindow / 4
)

// Protocol limits.
const (
	initialWindow   = 65535 // RFC 9113 §6.9.2
	maxWindow       = 1<<31 - 1
	defaultMaxFrame = 1 << 14 // RFC 9113 §4.2
	prefaceTimeout  = 10 * time.Second
	// maxPending bounds the output the writer has not yet sent; a stream's
	// write waits beyond it, as a write to a slow client's socket would.
	maxPending = 256 << 10
	// maxControlPending bounds the output while a client makes the server
	// queue answers (SETTINGS, PING acknowledgements) faster than it reads
	// them; beyond it the connection ends with ENHANCE_YOUR_CALM.
	maxControlPending = 4 * maxPending
	// maxKeptBuf: larger output buffers are not kept once sent.
	maxKeptBuf = 64 << 10
	// closeDrain bounds how long a closing connection waits for what it has
	// written (a GOAWAY, the last responses) to leave.
	closeDrain = time.Second
)

// ErrStreamClosed is what a stream's reads and writes return once the stream
// has been reset or its connection has closed.
var ErrStreamClosed = errors.New("http2: stream closed")

var errConnClosed = errors.New("http2: connection closed")

// Conn is one HTTP/2 client connection.
type Conn struct {
	srv      *Server
	nc       net.Conn
	tlsState *tls.ConnectionState
	remote   string
	log      *slog.Logger
	fr       *http2.Framer
	// The reading goroutine's: the HPACK decoder, the header block being
	// read and the fragments of one split into CONTINUATION frames.
	dec       *hpack.Decoder
	block     headerBlock
	fragments []byte

	// mu guards everything below, the streams' state and the HPACK
	// encoder: the reading goroutine holds it while it processes a frame,
	// a handler while it reads its body or writes its response.
	mu          sync.Mutex
	streams     map[uint32]*stream
	maxClientID uint32 // highest stream the client has opened
	maxStreams  uint32
	// unackedSettings counts our SETTINGS frames the client has not
	// acknowledged.
	unackedSettings int
	// sendWindow is the connection-level window for our DATA frames.
	sendWindow int64
	// peerInitialWindow and peerMaxFrame are the client's settings.
	peerInitialWindow int64
	peerMaxFrame      int
	// recvWindow is what the client may still send on the connection;
	// recvUnacked is what handlers have read and is not yet returned.
	recvWindow  int64
	recvUnacked int64
	handlers    int       // handlers running
	unstarted   []*stream // streams waiting for a handler to finish
	prefaceSent bool      // the server's SETTINGS are queued
	goingAway   bool      // GOAWAY sent: no new streams
	goAwayID    uint32    // the last stream it lets through
	closed      bool      // the connection is ending; streams are closed
	idleTimer   *time.Timer
	canon       map[string]string // canonical names of other header fields

	// tableSizeUpdate: the client changed SETTINGS_HEADER_TABLE_SIZE and
	// the next header block starts with a size update (hpack.go).
	tableSizeUpdate bool
	encBuf          []byte
	keys            []string
	pending         []byte // frames for the writer to send
	spare           []byte
	werr            error
	wcond           sync.Cond // pending drained or the writer failed
	wsig            chan struct{}
	wdone           chan struct{}
	closing         bool // the writer closes the connection once pending is sent
}

// NewConn prepares nc, a connection that has negotiated HTTP/2 (ALPN h2) or
// speaks it with prior knowledge, for Serve.
func (s *Server) NewConn(nc net.Conn) *Conn {
	c := &Conn{
		srv:               s,
		nc:                nc,
		remote:            nc.RemoteAddr().String(),
		log:               s.Log,
		streams:           make(map[uint32]*stream),
		maxStreams:        s.MaxConcurrentStreams,
		sendWindow:        initialWindow,
		peerInitialWindow: initialWindow,
		peerMaxFrame:      defaultMaxFrame,
		recvWindow:        connWindow,
		wsig:              make(chan struct{}, 1),
		wdone:             make(chan struct{}),
	}
	if c.maxStreams == 0 {
		c.maxStreams = 128
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if tc, ok := nc.(*tls.Conn); ok {
		cs := tc.ConnectionState()
		c.tlsState = &cs
	}
	c.wcond.L = &c.mu
	maxList := s.MaxHeaderListSize
	if maxList == 0 {
		maxList = 1 << 20
	}
	c.fr = http2.NewFramer(nil, bufio.NewReaderSize(nc, 16<<10))
	c.fr.SetMaxReadFrameSize(defaultMaxFrame)
	c.fr.MaxHeaderListSize = maxList
	c.dec = hpack.NewDecoder(4096, nil)
	c.dec.SetMaxStringLength(int(maxList))
	c.fr.SetReuseFrames()
	return c
}

// Serve serves the connection until it ends: the client closes it, a
// connection error, the idle timeout, or the end of a graceful Shutdown. It
// closes the connection before it returns; handlers still running then see
// their streams closed.
func (c *Conn) Serve() {
	go c.writeLoop()
	defer c.finish()
	var preface [len(http2.ClientPreface)]byte
	c.nc.SetReadDeadline(time.Now().Add(prefaceTimeout))
	if _, err := io.ReadFull(c.nc, preface[:]); err != nil || string(preface[:]) != http2.ClientPreface {
		c.log.Debug("HTTP/2 client preface missing", "remote", c.remote, "err", err)
		c.goAway(http2.ErrCodeProtocol)
		return
	}
	c.nc.SetReadDeadline(time.Time{})

	c.mu.Lock()
	c.prefaceLocked()
	if c.srv.IdleTimeout > 0 && !c.closed {
		c.idleTimer = time.AfterFunc(c.srv.IdleTimeout, c.onIdle)
	}
	c.mu.Unlock()
	c.signal()

	first := true
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			if !c.readError(err) {
				return
			}
			continue
		}
		if first {
			if _, ok := f.(*http2.SettingsFrame); !ok {
				c.goAway(http2.ErrCodeProtocol)
				return
			}
			first = false
		}
		if err := c.process(f); err != nil {
			if !c.frameError(err) {
				return
			}
		}
	}
}

// prefaceLocked queues the server's connection preface (its SETTINGS, and
// the connection window beyond the initial one) unless it has gone: it must
// be the first frame the client gets, a GOAWAY included.
func (c *Conn) prefaceLocked() {
	if c.prefaceSent {
		return
	}
	c.prefaceSent = true
	c.pending = appendSettings(c.pending,
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.maxStreams},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.fr.MaxHeaderListSize},
	)
	c.pending = appendWindowUpdate(c.pending, 0, connWindow-initialWindow)
	c.unackedSettings = 1
}

// readError handles an error from the Framer and reports whether the
// connection goes on.
func (c *Conn) readError(err error) bool {
	if err == http2.ErrFrameTooLarge {
		c.goAway(http2.ErrCodeFrameSize)
		return false
	}
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		return c.frameError(se)
	case errors.As(err, &ce):
		return c.frameError(ce)
	}
	c.log.Debug("HTTP/2 connection ended", "remote", c.remote, "err", err)
	return false
}

// frameError handles a frame's error: a stream error resets that stream, a
// connection error ends the connection with GOAWAY. It reports whether the
// connection goes on.
func (c *Conn) frameError(err error) bool {
	var se http2.StreamError
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &se):
		c.mu.Lock()
		c.resetLocked(se.StreamID, se.Code)
		calm := c.controlBacklogLocked()
		c.mu.Unlock()
		c.signal()
		if calm != nil {
			// A client that draws resets faster than it reads them.
			c.goAway(http2.ErrCodeEnhanceYourCalm)
			return false
		}
		return true
	case errors.As(err, &ce):
		c.log.Debug("HTTP/2 connection error", "remote", c.remote, "code", http2.ErrCode(ce), "detail", c.fr.ErrorDetail())
		c.goAway(http2.ErrCode(ce))
		return false
	}
	c.log.Debug("HTTP/2 connection ended", "remote", c.remote, "err", err)
	return false
}

// connErr is a connection error of code.
func connErr(code http2.ErrCode) error { return http2.ConnectionError(code) }

// streamErr is a stream error of code on stream id.
func streamErr(id uint32, code http2.ErrCode) error {
	return http2.StreamError{StreamID: id, Code: code}
}

// process handles one frame from the client.
func (c *Conn) process(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.processSettings(f)
	case *http2.HeadersFrame:
		b, err := c.readHeaders(f)
		if err != nil {
			return err
		}
		return c.processHeaders(b)
	case *http2.DataFrame:
		return c.processData(f)
	case *http2.WindowUpdateFrame:
		return c.processWindowUpdate(f)
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		c.mu.Lock()
		c.pending = appendPing(c.pending, f.Data)
		err := c.controlBacklogLocked()
		c.mu.Unlock()
		c.signal()
		return err
	case *http2.RSTStreamFrame:
		c.mu.Lock()
		defer c.mu.Unlock()
		if f.StreamID > c.maxClientID {
			return connErr(http2.ErrCodeProtocol) // an idle stream
		}
		if st := c.streams[f.StreamID]; st != nil {
			st.peerReset = true
			c.closeStreamLocked(st)
		}
		return nil
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			return streamErr(f.StreamID, http2.ErrCodeProtocol) // RFC 9113 §5.3.1
		}
		return nil
	case *http2.GoAwayFrame:
		c.Shutdown()
		return nil
	case *http2.PushPromiseFrame:
		return connErr(http2.ErrCodeProtocol) // clients cannot push
	}
	return nil // unknown and extension frames are ignored (§5.5)
}

// controlBacklogLocked ends a connection whose client lets answers pile up
// without reading them.
func (c *Conn) controlBacklogLocked() error {
	if len(c.pending) > maxControlPending {
		return connErr(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

func (c *Conn) processSettings(f *http2.SettingsFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.IsAck() {
		c.unackedSettings--
		if c.unackedSettings < 0 {
			return connErr(http2.ErrCodeProtocol)
		}
		return nil
	}
	// A repeated setting is processed in order: the last value wins
	// (RFC 9113 §6.5.3).
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			c.tableSizeUpdate = true
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - c.peerInitialWindow
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return connErr(http2.ErrCodeFlowControl)
				}
				st.wakeWriter()
			}
			c.peerInitialWindow = int64(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.pending = appendSettingsAck(c.pending)
	err = c.controlBacklogLocked()
	c.signal()
	return err
}

func (c *Conn) processWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return connErr(http2.ErrCodeFlowControl)
		}
		for _, st := range c.streams {
			if st.waitingWindow {
				st.wakeWriter()
			}
		}
		return nil
	}
	if f.StreamID > c.maxClientID {
		return connErr(http2.ErrCodeProtocol) // an idle stream
	}
	st := c.streams[f.StreamID]
	if st == nil {
		return nil // closed: ignored
	}
	st.sendWindow += inc
	if st.sendWindow > maxWindow {
		return streamErr(f.StreamID, http2.ErrCodeFlowControl)
	}
	st.wakeWriter()
	return nil
}

func (c *Conn) processData(f *http2.DataFrame) error {
	id := f.StreamID
	data := f.Data()
	length := int64(f.Length) // padding included: it counts for flow control
	c.mu.Lock()
	defer c.mu.Unlock()
	if id > c.maxClientID {
		return connErr(http2.ErrCodeProtocol) // an idle stream
	}
	if c.recvWindow < length {
		return connErr(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= length
	st := c.streams[id]
	if st == nil || st.remoteDone || st.gotTrailers {
		c.returnConnLocked(length)
		if st == nil && c.goingAway && id > c.goAwayID {
			return nil
		}
		return streamErr(id, http2.ErrCodeStreamClosed)
	}
	if st.recvWindow < length {
		c.returnConnLocked(length)
		return streamErr(id, http2.ErrCodeFlowControl)
	}
	st.recvWindow -= length
	if st.declared >= 0 && st.received+int64(len(data)) > st.declared {
		c.returnConnLocked(length)
		return streamErr(id, http2.ErrCodeProtocol) // more than Content-Length (§8.1.1)
	}
	st.received += int64(len(data))
	st.in = append(st.in, data...)
	if pad := length - int64(len(data)); pad > 0 {
		// Padding is nobody's to read: return it at once.
		c.returnConnLocked(pad)
		st.recvUnacked += pad
		c.returnStreamLocked(st, 0)
	}
	if f.StreamEnded() {
		if st.declared >= 0 && st.received != st.declared {
			return streamErr(id, http2.ErrCodeProtocol) // less than Content-Length
		}
		c.endRemoteLocked(st)
	}
	st.wakeReader()
	return nil
}

// returnConnLocked gives n bytes of the connection's receive window back to
// the client, batched.
func (c *Conn) returnConnLocked(n int64) {
	c.recvUnacked += n
	if c.recvUnacked >= windowUpdateAt || (c.recvWindow < windowUpdateAt && c.recvUnacked > 0) {
		c.pending = appendWindowUpdate(c.pending, 0, uint32(c.recvUnacked))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
		c.signal()
	}
}

// returnStreamLocked records that a handler read n bytes of st's body and
// returns the stream's window to the client, batched, while the client still
// sends.
func (c *Conn) returnStreamLocked(st *stream, n int64) {
	st.recvUnacked += n
	if st.remoteDone || st.recvUnacked < windowUpdateAt {
		return
	}
	c.pending = appendWindowUpdate(c.pending, st.id, uint32(st.recvUnacked))
	st.recvWindow += st.recvUnacked
	st.recvUnacked = 0
	c.signal()
}

// endRemoteLocked records the end of the client's side of st.
func (c *Conn) endRemoteLocked(st *stream) {
	st.remoteDone = true
	st.wakeReader()
	if st.localDone {
		c.closeStreamLocked(st)
	}
}

// resetLocked resets stream id with code (a stream error) and closes it.
func (c *Conn) resetLocked(id uint32, code http2.ErrCode) {
	c.pending = appendRSTStream(c.pending, id, code)
	c.signal()
	if st := c.streams[id]; st != nil {
		st.resetSent = true
		c.closeStreamLocked(st)
	}
}

// closeStreamLocked ends st: it leaves the connection's streams, its context
// ends and its handler's blocked reads and writes return.
func (c *Conn) closeStreamLocked(st *stream) {
	if st.closed {
		return
	}
	st.closed = true
	delete(c.streams, st.id)
	// What the client sent and nobody will read goes back to the
	// connection's window.
	if n := int64(len(st.in) - st.inAt); n > 0 {
		c.returnConnLocked(n)
	}
	st.in, st.inAt = st.in[:0], 0
	st.cancel()
	st.wakeReader()
	st.wakeWriter()
	if len(c.streams) == 0 {
		if c.goingAway {
			c.closeLocked()
		} else if c.idleTimer != nil {
			c.idleTimer.Reset(c.srv.IdleTimeout)
		}
	}
	if st.handlerDone {
		c.freeStream(st)
	}
}

// onIdle ends a connection that has had no open stream for the idle timeout.
func (c *Conn) onIdle() {
	c.mu.Lock()
	idle := len(c.streams) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.log.Debug("HTTP/2 connection idle", "remote", c.remote)
		c.goAway(http2.ErrCodeNo)
		c.closeAfterDrain()
	}
}

// Shutdown starts a graceful shutdown: GOAWAY naming the last stream the
// client opened, which finish; the connection closes after the last of them.
func (c *Conn) Shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goingAway || c.closed {
		return
	}
	c.goingAway = true
	c.goAwayID = c.maxClientID
	c.prefaceLocked()
	c.pending = appendGoAway(c.pending, c.goAwayID, http2.ErrCodeNo)
	c.signal()
	if len(c.streams) == 0 {
		c.closeLocked()
	}
}

// goAway sends GOAWAY with code and, for an error, ends the connection: the
// writer closes it once what is queued has left.
func (c *Conn) goAway(code http2.ErrCode) {
	c.mu.Lock()
	if !c.closed {
		if !c.goingAway || code != http2.ErrCodeNo {
			c.goingAway = true
			c.goAwayID = c.maxClientID
			if code == http2.ErrCodeEnhanceYourCalm && c.prefaceSent {
				// The client let the server's answers pile up: they are
				// dropped (pending holds whole frames), so that the GOAWAY
				// is the next thing it reads.
				c.pending = c.pending[:0]
			}
			c.prefaceLocked()
			c.pending = appendGoAway(c.pending, c.goAwayID, code)
		}
		if code != http2.ErrCodeNo {
			c.closeLocked()
		}
	}
	c.mu.Unlock()
	c.signal()
}

// closeLocked ends the connection: every stream closes and the writer closes
// the connection once what is queued has left.
func (c *Conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.closing = true
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	for _, st := range c.streams {
		c.closeStreamLocked(st)
	}
	c.wcond.Broadcast()
	c.signal()
}

// closeAfterDrain waits (up to closeDrain) for the writer to send what is
// queued and close the connection, then closes it in any case.
func (c *Conn) closeAfterDrain() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
	c.signal()
	t := time.NewTimer(closeDrain)
	select {
	case <-c.wdone:
	case <-t.C:
	}
	t.Stop()
	c.nc.Close() // also ends a write still blocked
}

// finish ends the connection once the reading loop has stopped.
func (c *Conn) finish() {
	c.closeAfterDrain()
	<-c.wdone
}

// signal wakes the writer; it never blocks, so callers may hold mu.
func (c *Conn) signal() {
	select {
	case c.wsig <- struct{}{}:
	default:
	}
}

// writeLoop sends what the connection's goroutines have queued in pending,
// gathering everything queued since its last write into one, until the
// connection closes or a write fails. It closes the connection when it stops.
func (c *Conn) writeLoop() {
	defer close(c.wdone)
	defer c.nc.Close()
	for range c.wsig {
		// The signal made this goroutine the next to run, ahead of the
		// streams already runnable (responses whose target answered in the
		// same poll). Yield once so that they add their frames first and
		// all of them leave in one write.
		runtime.Gosched()
		for {
			c.mu.Lock()
			buf := c.pending
			if len(buf) == 0 || c.werr != nil {
				done := c.closing || c.werr != nil
				c.mu.Unlock()
				if done {
					return
				}
				break
			}
			c.pending = c.spare[:0]
			c.spare = nil
			c.mu.Unlock()
			if c.srv.IdleTimeout > 0 {
				// A client that stops reading is idle too.
				c.nc.SetWriteDeadline(time.Now().Add(c.srv.IdleTimeout))
			}
			_, err := c.nc.Write(buf)
			c.mu.Lock()
			if err != nil {
				c.werr = err
				c.closeLocked()
			}
			if cap(buf) <= maxKeptBuf {
				c.spare = buf[:0]
			}
			c.wcond.Broadcast()
			c.mu.Unlock()
		}
	}
}

// waitPendingLocked waits while the output is over maxPending.
func (c *Conn) waitPendingLocked() error {
	for len(c.pending) >= maxPending && c.werr == nil && !c.closed {
		c.wcond.Wait()
	}
	if c.werr != nil || c.closed {
		return errConnClosed
	}
	return nil
}

// deadlineWait blocks until wake is signalled or deadline d passes (never,
// for a zero d); it reports os.ErrDeadlineExceeded for the latter.
func deadlineWait(wake chan struct{}, d time.Time) error {
	if d.IsZero() {
		<-wake
		return nil
	}
	wait := time.Until(d)
	if wait <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-wake:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}
