package h2

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
)

// stream is one request and its response. The connection's mu guards its
// state; the handler's goroutine alone owns the response writer's buffers.
// Streams are pooled: one is reused once its handler has returned and it has
// left the connection's streams.
type stream struct {
	c  *Conn
	id uint32

	req    *http.Request // its context is the stream itself
	url    url.URL
	header http.Header // the request's
	vals   []string    // backing array of header's values
	order  []string    // header's keys in the order each first arrived
	resp   http.Header // the response's
	body   requestBody
	rw     responseWriter

	// Client side.
	in           []byte // body bytes received and not yet read
	inAt         int
	received     int64 // body bytes received
	declared     int64 // Content-Length, or -1
	recvWindow   int64 // what the client may still send
	recvUnacked  int64 // read and not yet returned to the client
	remoteDone   bool  // END_STREAM received
	gotTrailers  bool
	needContinue bool // Expect: 100-continue not yet answered
	readDeadline deadline
	rwake        chan struct{}
	readWaiting  atomic.Bool // a body read waits on rwake

	// Server side.
	sendWindow    int64
	waitingWindow bool
	localDone     bool // END_STREAM (or RST_STREAM) sent
	writeDeadline deadline
	wwake         chan struct{}
	writeWaiting  atomic.Bool // a write waits on wwake

	handler     http.Handler // set while the stream waits for a handler to finish
	peerReset   bool         // RST_STREAM received
	resetSent   bool
	closed      bool // left the connection's streams
	handlerDone bool

	// The request context: done closes when the stream ends, and the
	// functions registered by AfterFunc run then. afterMu guards afters and
	// gen, which counts the stream's reuses so that a stale stop function
	// cannot touch a later request's registrations.
	done chan struct{}
	ctl  *streamControl
}

// streamControl is the part of a stream's context that outlives one request:
// a stop function from AfterFunc may run after the stream has been reused, so
// this state is never overwritten, only reset under its lock.
type streamControl struct {
	mu       sync.Mutex
	canceled atomic.Bool
	afters   []func()
	gen      uint64
}

var streamPool = sync.Pool{New: func() any {
	st := &stream{
		header: make(http.Header),
		resp:   make(http.Header),
		rwake:  make(chan struct{}, 1),
		wwake:  make(chan struct{}, 1),
		ctl:    new(streamControl),
	}
	st.req = new(http.Request).WithContext(st)
	st.body.st = st
	st.rw.st = st
	return st
}}

// newStream returns a stream for id, pooled or new. Its send window is set
// when it joins the connection's streams, under mu.
func (c *Conn) newStream(id uint32) *stream {
	st := streamPool.Get().(*stream)
	st.c, st.id = c, id
	st.recvWindow = streamWindow
	return st
}

// releaseUnstarted pools a stream that never reached the connection's streams.
func (c *Conn) releaseUnstarted(st *stream) {
	c.mu.Lock()
	st.closed, st.handlerDone = true, true
	c.freeStream(st)
	c.mu.Unlock()
}

// freeStream pools st once nothing refers to it: its handler has returned
// and it has left the connection (mu held).
func (c *Conn) freeStream(st *stream) {
	clear(st.header)
	clear(st.resp)
	clear(st.vals[:cap(st.vals)])
	st.vals = st.vals[:0]
	clear(st.order[:cap(st.order)])
	st.order = st.order[:0]
	if cap(st.in) > maxKeptBuf {
		st.in = nil
	}
	out := st.rw.out[:0]
	if cap(out) > maxKeptBuf {
		out = nil
	}
	keys := st.rw.keys[:0]
	head := st.rw.head[:0]
	if cap(head) > maxKeptBuf {
		head = nil
	}
	ctl := st.ctl
	ctl.mu.Lock()
	ctl.gen++
	ctl.afters = ctl.afters[:0]
	ctl.canceled.Store(false)
	ctl.mu.Unlock()
	select {
	case <-st.rwake:
	default:
	}
	select {
	case <-st.wwake:
	default:
	}
	*st = stream{
		req: st.req, header: st.header, resp: st.resp, vals: st.vals, order: st.order, in: st.in[:0],
		rwake: st.rwake, wwake: st.wwake,
		body: requestBody{st: st}, rw: responseWriter{st: st, out: out, keys: keys, head: head},
		ctl: ctl,
	}
	// The request keeps its context (the stream itself); buildRequest sets
	// every other field it uses.
	streamPool.Put(st)
}

// cancel ends the stream's context (mu held) and runs the functions
// registered with AfterFunc.
func (st *stream) cancel() {
	ctl := st.ctl
	ctl.mu.Lock()
	if ctl.canceled.Swap(true) {
		ctl.mu.Unlock()
		return
	}
	if st.done != nil {
		close(st.done)
	}
	fs := ctl.afters
	ctl.afters = nil
	ctl.mu.Unlock()
	// Run outside the lock: a derived context's cancel calls its stop
	// function, which takes it. They run before the stream can be reused.
	for _, f := range fs {
		if f != nil {
			f()
		}
	}
	clear(fs)
	ctl.mu.Lock()
	if ctl.afters == nil {
		ctl.afters = fs[:0]
	}
	ctl.mu.Unlock()
}

// AfterFunc arranges for f to run when the stream's context ends. The
// context package uses it (for a parent that has it) to tie a derived
// context to this one without a goroutine of its own.
func (st *stream) AfterFunc(f func()) (stop func() bool) {
	ctl := st.ctl
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if ctl.canceled.Load() {
		go f()
		return func() bool { return false }
	}
	gen, i := ctl.gen, len(ctl.afters)
	ctl.afters = append(ctl.afters, f)
	return func() bool {
		ctl.mu.Lock()
		defer ctl.mu.Unlock()
		if ctl.gen != gen || i >= len(ctl.afters) || ctl.afters[i] == nil {
			return false
		}
		ctl.afters[i] = nil
		return true
	}
}

// wakeReader and wakeWriter wake the handler's blocked body read or write.
func (st *stream) wakeReader() {
	select {
	case st.rwake <- struct{}{}:
	default:
	}
}

func (st *stream) wakeWriter() {
	select {
	case st.wwake <- struct{}{}:
	default:
	}
}

// Deadline implements context.Context.
func (st *stream) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context. The channel is made on the first call:
// most requests never ask for it.
func (st *stream) Done() <-chan struct{} {
	ctl := st.ctl
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if st.done == nil {
		if ctl.canceled.Load() {
			return closedChan
		}
		st.done = make(chan struct{})
	}
	return st.done
}

// closedChan is the Done channel of a context that ended before anyone
// asked for one. It is closed once, when the package loads.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Err implements context.Context.
func (st *stream) Err() error {
	if st.ctl.canceled.Load() {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context: a request's context carries no values.
func (st *stream) Value(key any) any { return nil }

// runHandler runs the handler for st and then completes the response.
func (c *Conn) runHandler(st *stream, h http.Handler) {
	defer func() {
		e := recover()
		if e != nil && e != http.ErrAbortHandler {
			buf := make([]byte, 16<<10)
			buf = buf[:runtime.Stack(buf, false)]
			c.log.Error("HTTP/2 handler panic", "remote", c.remote, "panic", fmt.Sprint(e), "stack", string(buf))
		}
		c.mu.Lock()
		if e != nil {
			if !st.closed {
				c.resetLocked(st.id, http2.ErrCodeInternal)
			}
		} else {
			st.rw.finishLocked()
		}
		st.handlerDone = true
		if st.closed {
			c.freeStream(st)
		}
		c.handlers--
		c.startQueuedLocked()
		c.mu.Unlock()
		c.signal()
	}()
	h.ServeHTTP(&st.rw, st.req)
}

// startQueuedLocked starts the handler of the first stream waiting for one
// that is still open; the closed ones are let go.
func (c *Conn) startQueuedLocked() {
	for len(c.unstarted) > 0 && c.handlers < int(c.maxStreams) {
		st := c.unstarted[0]
		c.unstarted[0] = nil
		c.unstarted = c.unstarted[1:]
		if len(c.unstarted) == 0 {
			c.unstarted = nil
		}
		if st.closed {
			st.handlerDone = true
			c.freeStream(st)
			continue
		}
		h := st.handler
		st.handler = nil
		c.handlers++
		c.startHandler(st, h)
		return
	}
}

// requestBody is a request's body, read from the stream's DATA frames.
type requestBody struct{ st *stream }

// Read implements io.Reader.
func (b *requestBody) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if st.needContinue {
		st.needContinue = false
		if !st.closed && !st.rw.headSent {
			c.writeHeadersLocked(st.id, 100, nil, false)
			c.signal()
		}
	}
	for st.inAt == len(st.in) {
		switch {
		case st.remoteDone:
			return 0, io.EOF
		case st.closed:
			return 0, ErrStreamClosed
		case len(p) == 0:
			return 0, nil
		}
		c.mu.Unlock()
		st.readWaiting.Store(true)
		err := deadlineWait(st.rwake, st.readDeadline.get())
		st.readWaiting.Store(false)
		c.mu.Lock()
		if err != nil {
			return 0, err
		}
	}
	n := copy(p, st.in[st.inAt:])
	st.inAt += n
	if st.inAt == len(st.in) {
		st.in, st.inAt = st.in[:0], 0
	}
	c.returnConnLocked(int64(n))
	c.returnStreamLocked(st, int64(n))
	return n, nil
}

// Close implements io.Closer: the rest of the body is not wanted.
func (b *requestBody) Close() error { return nil }

// responseWriter is a stream's http.ResponseWriter. It keeps the response's
// head and the start of its body until the handler flushes, writes more than
// a frame's worth, or returns, so that a small response leaves as one
// HEADERS and one DATA frame.
type responseWriter struct {
	st          *stream
	status      int
	wroteHeader bool
	headSent    bool
	noBody      bool     // HEAD, 204 or 304
	trailers    []string // declared in a Trailer field
	out         []byte   // body not yet sent
	head        []byte   // the head's header block, encoded by WriteHead
	hasHead     bool     // WriteHead set the head: head is sent, not the map
	keys        []string
}

// flushAt is how much body the writer gathers before it sends.
const flushAt = 16 << 10

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.st.resp }

// WriteHeader implements http.ResponseWriter.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 100 && code < 200 {
		if code == http.StatusSwitchingProtocols {
			return // no upgrades in HTTP/2
		}
		c := w.st.c
		c.mu.Lock()
		if !w.st.closed {
			c.writeHeadersLocked(w.st.id, code, w.st.resp, false)
			c.signal()
		}
		c.mu.Unlock()
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	w.setStatus(code)
}

// setStatus records the final status and the trailers the head declares.
func (w *responseWriter) setStatus(code int) {
	w.wroteHeader = true
	w.status = code
	w.noBody = w.st.req.Method == "HEAD" || code == 204 || code == 304
	for _, v := range w.st.resp["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = http.CanonicalHeaderKey(strings.TrimSpace(k)); k != "" {
				w.trailers = append(w.trailers, k)
			}
		}
	}
}

// Field is a response header field for WriteHead.
type Field struct{ Name, Value []byte }

// HeadWriter is implemented by this package's response writers: WriteHead
// sets the response's status and header fields from a list, in its order,
// without a header map; Header's map is then not sent. Fields that may not
// be sent on an HTTP/2 stream (connection-specific ones, invalid names or
// values) are left out. It is WriteHeader for a handler that has its head as
// bytes (a proxy relaying an HTTP/1.1 response).
type HeadWriter interface {
	WriteHead(status int, fields []Field)
}

// HeaderOrderer is implemented by the server's http.ResponseWriter. HTTP/2
// keeps a request's header fields in order, which http.Header does not: a
// proxy that forwards them in the client's order reads the keys from here.
type HeaderOrderer interface {
	// HeaderOrder returns the request's header keys, canonical as in its
	// http.Header, in the order the client first sent each. Keys the server
	// takes out of the header map (Host, Expect, Trailer) may be listed and
	// then have no value. The slice is the stream's: it is valid until the
	// handler returns and must not be modified.
	HeaderOrder() []string
}

// HeaderOrder implements HeaderOrderer.
func (w *responseWriter) HeaderOrder() []string { return w.st.order }

// WriteHead implements HeadWriter.
func (w *responseWriter) WriteHead(status int, fields []Field) {
	if w.wroteHeader || status < 200 || status > 999 {
		return
	}
	w.WriteHeader(status)
	b := appendStatus(w.head[:0], status)
	for _, f := range fields {
		if sendable(f.Name) && validName(f.Name) && validValue(f.Value) {
			b = appendField(b, f.Name, f.Value)
		}
	}
	w.head = b
	w.hasHead = true
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) { return writeBody(w, p) }

// WriteString implements io.StringWriter.
func (w *responseWriter) WriteString(s string) (int, error) { return writeBody(w, s) }

// writeBody is Write for bytes or a string: it gathers p until a frame's
// worth is waiting.
func writeBody[S ~string | ~[]byte](w *responseWriter, p S) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody {
		if w.st.req.Method == "HEAD" {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	w.out = append(w.out, p...)
	if len(w.out) >= flushAt {
		if err := w.send(false); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() { w.FlushError() }

// FlushError sends the head and the body written so far.
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.send(false)
}

// SetReadDeadline sets the deadline of the request body's reads.
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	w.st.readDeadline.set(t)
	if w.st.readWaiting.Load() {
		w.st.wakeReader() // it set the flag before it read the deadline
	}
	return nil
}

// SetWriteDeadline sets the deadline of writes that wait for the client
// (its flow-control window, or a full output buffer).
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	w.st.writeDeadline.set(t)
	if w.st.writeWaiting.Load() {
		w.st.wakeWriter()
	}
	return nil
}

// send sends the head if it has not gone and the body gathered so far, ending
// the stream if end. It waits for flow-control window as needed.
func (w *responseWriter) send(end bool) error {
	c := w.st.c
	c.mu.Lock()
	err := w.sendLocked(end)
	c.mu.Unlock()
	c.signal()
	return err
}

// sendLocked is send with mu held; it releases mu while it waits.
func (w *responseWriter) sendLocked(end bool) error {
	st, c := w.st, w.st.c
	if st.closed || st.localDone {
		return ErrStreamClosed
	}
	var trailers bool
	if end {
		trailers = w.hasTrailers()
	}
	if !w.headSent {
		if end && !trailers && !w.noBody {
			if _, ok := st.resp["Content-Length"]; !ok && !w.hasHead {
				// The whole body is known: say how long it is.
				st.resp["Content-Length"] = []string{itoa(int64(len(w.out)))}
			}
		}
		if err := c.waitPendingLocked(); err != nil {
			return err
		}
		if st.closed {
			return ErrStreamClosed
		}
		w.headSent = true
		headEnd := end && len(w.out) == 0 && !trailers
		if w.hasHead {
			c.queueBlockLocked(st.id, w.head, headEnd)
		} else {
			c.writeHeadersLocked(st.id, w.status, st.resp, headEnd)
		}
		if headEnd {
			w.endLocked()
			return nil
		}
	}
	data := w.out
	for len(data) > 0 {
		if len(c.pending) >= maxPending {
			c.signal()
			if err := c.waitPendingLocked(); err != nil {
				return err
			}
			if st.closed {
				return ErrStreamClosed
			}
			continue
		}
		n := min(int64(len(data)), st.sendWindow, c.sendWindow, int64(c.peerMaxFrame))
		if n <= 0 {
			if err := w.waitLocked(); err != nil {
				return err
			}
			continue
		}
		last := end && !trailers && n == int64(len(data))
		c.pending = appendData(c.pending, st.id, data[:n], last)
		st.sendWindow -= n
		c.sendWindow -= n
		data = data[n:]
		if last {
			w.out = w.out[:0]
			w.endLocked()
			return nil
		}
	}
	w.out = w.out[:0]
	if end {
		if trailers {
			c.writeTrailersLocked(st.id, st.resp, w.trailers)
		} else {
			c.pending = appendData(c.pending, st.id, nil, true)
		}
		w.endLocked()
	}
	return nil
}

// waitLocked waits, releasing mu, for the client to open the flow-control
// window, until the write deadline.
func (w *responseWriter) waitLocked() error {
	st, c := w.st, w.st.c
	st.waitingWindow = true
	c.mu.Unlock()
	c.signal()
	st.writeWaiting.Store(true)
	err := deadlineWait(st.wwake, st.writeDeadline.get())
	st.writeWaiting.Store(false)
	c.mu.Lock()
	st.waitingWindow = false
	if err != nil {
		return err
	}
	if st.closed {
		return ErrStreamClosed
	}
	if c.werr != nil || c.closed {
		return errConnClosed
	}
	return nil
}

// hasTrailers reports whether the response has trailers: declared ones with
// values, or fields named with http.TrailerPrefix.
func (w *responseWriter) hasTrailers() bool {
	h := w.st.resp
	for _, k := range w.trailers {
		if len(h[k]) > 0 {
			return true
		}
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// endLocked records that the response is complete; the stream closes if the
// client's side has ended, or is reset with NO_ERROR if the client is still
// sending a body nobody will read (RFC 9113 §8.1).
func (w *responseWriter) endLocked() {
	st, c := w.st, w.st.c
	st.localDone = true
	if st.remoteDone {
		c.closeStreamLocked(st)
		return
	}
	c.pending = appendRSTStream(c.pending, st.id, http2.ErrCodeNo)
	st.resetSent = true
	c.closeStreamLocked(st)
}

// finishLocked completes the response once the handler has returned.
func (w *responseWriter) finishLocked() {
	st := w.st
	if st.closed || st.localDone {
		return
	}
	if !w.wroteHeader {
		w.setStatus(http.StatusOK)
	}
	if err := w.sendLocked(true); err != nil && !st.closed {
		st.c.resetLocked(st.id, http2.ErrCodeInternal)
	}
}

// writeHeadersLocked encodes a header block (status, then h's fields but the
// trailers) and queues it as HEADERS and CONTINUATION frames.
func (c *Conn) writeHeadersLocked(id uint32, status int, h http.Header, end bool) {
	keys := c.keys[:0]
	for k := range h {
		if !strings.HasPrefix(k, http.TrailerPrefix) {
			keys = append(keys, k)
		}
	}
	c.encodeLocked(appendStatus(c.encBuf[:0], status), h, keys)
	c.queueBlockLocked(id, c.encBuf, end)
}

// writeTrailersLocked encodes the trailers (the declared fields and those
// named with http.TrailerPrefix) and queues them, ending the stream.
func (c *Conn) writeTrailersLocked(id uint32, h http.Header, declared []string) {
	keys := c.keys[:0]
	for _, k := range declared {
		if len(h[k]) > 0 {
			keys = append(keys, k)
		}
	}
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			keys = append(keys, k)
		}
	}
	c.encodeLocked(c.encBuf[:0], h, keys)
	c.queueBlockLocked(id, c.encBuf, true)
}

// encodeLocked appends to b, and leaves in encBuf, the fields of h under
// keys (sorted first, so that the order does not depend on the map's),
// without the http.TrailerPrefix of a trailer's key.
func (c *Conn) encodeLocked(b []byte, h http.Header, keys []string) {
	slices.Sort(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, http.TrailerPrefix)
		if !sendable(name) || !validName(name) {
			continue
		}
		for _, v := range h[k] {
			if validValue(v) {
				b = appendField(b, name, v)
			}
		}
	}
	c.encBuf = b
	clear(keys)
	c.keys = keys[:0]
}

// queueBlockLocked queues an encoded header block for stream id.
func (c *Conn) queueBlockLocked(id uint32, block []byte, end bool) {
	if c.tableSizeUpdate {
		c.tableSizeUpdate = false
		block = append([]byte{tableSizeZero}, block...)
	}
	first := true
	for first || len(block) > 0 {
		n := min(len(block), c.peerMaxFrame)
		frag := block[:n]
		block = block[n:]
		c.pending = appendHeaderFrame(c.pending, first, id, frag, end, len(block) == 0)
		first = false
	}
}

// notSendable are the connection-specific fields, which may not go on an
// HTTP/2 stream (RFC 9113 §8.2.2).
var notSendable = [...]string{"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"}

// sendable reports whether a response field, named in any case, may go on
// an HTTP/2 stream.
func sendable[S ~string | ~[]byte](name S) bool {
	for _, n := range notSendable {
		if len(n) == len(name) && equalFold(name, n) {
			return false
		}
	}
	return true
}

// equalFold reports whether name equals the lower-case ASCII n, ignoring case.
func equalFold[S ~string | ~[]byte](name S, n string) bool {
	for i := 0; i < len(n); i++ {
		if lower(name[i]) != n[i] {
			return false
		}
	}
	return true
}

// validName reports whether a (lower-case) field name may be sent.
func validName[S ~string | ~[]byte](name S) bool {
	for i := 0; i < len(name); i++ {
		if !httpguts.IsTokenRune(rune(name[i])) {
			return false
		}
	}
	return len(name) > 0
}

// validValue reports whether v may be sent as a field value.
func validValue[S ~string | ~[]byte](v S) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b == '\r' || b == '\n' || b == 0 {
			return false
		}
	}
	return true
}

// statusText is a status code's decimal form.
func statusText(code int) string {
	if code >= 100 && code < 600 {
		return statusStrings[code-100]
	}
	return itoa(int64(code))
}

var statusStrings = func() (s [500]string) {
	for i := range s {
		s[i] = itoa(int64(i + 100))
	}
	return s
}()

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// deadline is a read or write deadline that a handler sets, without the
// connection's lock, for every request it serves.
type deadline struct{ ns atomic.Int64 }

func (d *deadline) set(t time.Time) {
	if t.IsZero() {
		d.ns.Store(0)
	} else {
		d.ns.Store(t.UnixNano())
	}
}

func (d *deadline) get() time.Time {
	if ns := d.ns.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}
