package proxy

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2/hpack"
)

// frameFilter sits between a client's HTTP/2 connection and x/net/http2's
// server and corrects two places where that server departs from RFC 9113, by
// rewriting the client's frames so that the server reaches the RFC's outcome
// itself (h2spec checks both):
//
//   - A SETTINGS frame that repeats a setting must be processed in order
//     (§6.5.3); x/net refuses it as a PROTOCOL_ERROR. The filter keeps the last
//     value of each repeated setting (the outcome of processing in order), or
//     the first invalid one, so that an invalid value is still refused.
//   - A request with a connection-specific header field (Connection,
//     Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, or TE other
//     than "trailers") is malformed and must be answered with a stream error
//     of type PROTOCOL_ERROR (§8.2.2); x/net answers 400 instead. The filter
//     decodes each header block with its own HPACK decoder (fed every block, so
//     its table stays in step with the server's) and, for such a block, appends
//     a literal field with an upper-case name, which x/net resets as a
//     PROTOCOL_ERROR stream error. A literal without indexing does not touch
//     the dynamic table, so both decoders stay in step.
//
// Anything the filter cannot follow (a frame larger than the server accepts, a
// header block it cannot decode) turns it into a plain pass-through; the
// server then rejects the connection on its own terms.
type frameFilter struct {
	net.Conn
	in  []byte // bytes read from the client, not yet filtered
	out []byte // filtered bytes; out[outAt:] not yet returned
	// outAt is how much of out Read has returned; out is emptied, keeping
	// its array, once all of it has been.
	outAt int
	err   error // read error to return once out is empty
	pass  bool  // pass-through from now on

	prefaceDone bool
	block       []byte // frames of a header block waiting for END_HEADERS
	// spare is the array of the last complete header block, for the next.
	spare      []byte
	blockBytes int
	bad        bool // the header block in progress is malformed
	dec        *hpack.Decoder

	// The write side: x/net/http2 flushes its frames after each write it
	// schedules, which for small responses is a system call or more per
	// request. Write instead appends to pending and a goroutine of the
	// filter's own (writeLoop) writes what has gathered, so that frames
	// that several streams finish together go out in one TLS write.
	wmu     sync.Mutex
	wcond   sync.Cond // signalled when pending drains or the writer fails
	pending []byte
	spareW  []byte
	werr    error
	closing bool
	wsig    chan struct{}
	wdone   chan struct{}
	closed  sync.Once
}

// h2MaxPending bounds the bytes Write holds for the writer; beyond it Write
// waits, as a write to a slow client's socket would.
const h2MaxPending = 256 << 10

// h2CloseDrain bounds how long Close waits for the frames written before it
// (a GOAWAY, the last responses) to leave before it closes the connection.
const h2CloseDrain = time.Second

var errFilterClosed = errors.New("HTTP/2 connection closed")

// HTTP/2 framing constants (RFC 9113 §4.1, §6).
const (
	h2FrameHeaderLen  = 9
	h2MaxFrame        = 1 << 14
	h2FrameHeaders    = 0x1
	h2FrameSettings   = 0x4
	h2FrameCont       = 0x9
	h2FlagEndHeaders  = 0x4
	h2FlagPadded      = 0x8
	h2FlagPriority    = 0x20
	h2FlagAck         = 0x1
	h2MaxBlock        = 256 << 10 // buffered header block limit
	h2ClientPrefaceLn = 24
	h2MaxKeptBuf      = 64 << 10 // larger filter buffers are not kept once empty
)

func newFrameFilter(c net.Conn) *frameFilter {
	f := &frameFilter{Conn: c, wsig: make(chan struct{}, 1), wdone: make(chan struct{})}
	f.wcond.L = &f.wmu
	f.dec = hpack.NewDecoder(4096, f.checkField)
	go f.writeLoop()
	return f
}

// Write implements net.Conn: it queues p for writeLoop and returns at once,
// unless as much as h2MaxPending is already waiting. It reports the error of
// an earlier write that failed.
func (f *frameFilter) Write(p []byte) (int, error) {
	f.wmu.Lock()
	for f.werr == nil && !f.closing && len(f.pending) >= h2MaxPending {
		f.wcond.Wait()
	}
	if f.werr != nil || f.closing {
		err := f.werr
		f.wmu.Unlock()
		if err == nil {
			err = errFilterClosed
		}
		return 0, err
	}
	f.pending = append(f.pending, p...)
	f.wmu.Unlock()
	select {
	case f.wsig <- struct{}{}:
	default:
	}
	return len(p), nil
}

// writeLoop writes what Write queued until the filter is closed and nothing
// is left, or a write fails.
func (f *frameFilter) writeLoop() {
	defer close(f.wdone)
	for range f.wsig {
		for {
			f.wmu.Lock()
			buf := f.pending
			if len(buf) == 0 || f.werr != nil {
				done := f.closing || f.werr != nil
				f.wmu.Unlock()
				if done {
					return
				}
				break
			}
			f.pending = f.spareW[:0]
			f.wmu.Unlock()
			_, err := f.Conn.Write(buf)
			f.wmu.Lock()
			if err != nil {
				f.werr = err
			}
			if cap(buf) <= h2MaxKeptBuf {
				f.spareW = buf[:0]
			}
			f.wcond.Broadcast()
			f.wmu.Unlock()
		}
	}
}

// Close implements net.Conn: it lets the frames already written leave (for
// up to h2CloseDrain), then closes the connection. Later writes fail.
func (f *frameFilter) Close() error {
	var err error
	f.closed.Do(func() {
		f.wmu.Lock()
		f.closing = true
		f.wcond.Broadcast()
		f.wmu.Unlock()
		select {
		case f.wsig <- struct{}{}:
		default:
		}
		t := time.NewTimer(h2CloseDrain)
		select {
		case <-f.wdone:
		case <-t.C:
		}
		t.Stop()
		err = f.Conn.Close() // also ends a write still blocked
		<-f.wdone
	})
	return err
}

// Read implements net.Conn.
func (f *frameFilter) Read(p []byte) (int, error) {
	for f.outAt == len(f.out) {
		if f.err != nil {
			return 0, f.err
		}
		if f.pass && len(f.in) == 0 {
			return f.Conn.Read(p)
		}
		if f.step() {
			continue
		}
		if cap(f.in)-len(f.in) < 4096 {
			f.in = append(f.in, make([]byte, 16<<10)...)[:len(f.in)]
		}
		n, err := f.Conn.Read(f.in[len(f.in):cap(f.in)])
		f.in = f.in[:len(f.in)+n]
		if err != nil && n == 0 {
			// Hand over what is buffered; the error follows.
			f.out = append(f.out, f.block...)
			f.out = append(f.out, f.in...)
			f.block, f.in = nil, nil
			f.err = err
		}
	}
	n := copy(p, f.out[f.outAt:])
	f.outAt += n
	if f.outAt == len(f.out) {
		f.out, f.outAt = f.out[:0], 0
		if cap(f.out) > h2MaxKeptBuf {
			f.out = nil
		}
	}
	return n, nil
}

// step filters what it can of f.in and reports whether it made progress.
func (f *frameFilter) step() bool {
	if f.pass {
		f.out = append(f.out, f.block...)
		f.out = append(f.out, f.in...)
		f.block, f.in = nil, f.in[:0]
		return len(f.out) > f.outAt
	}
	if !f.prefaceDone {
		if len(f.in) < h2ClientPrefaceLn {
			return false
		}
		f.out = append(f.out, f.in[:h2ClientPrefaceLn]...)
		f.consume(h2ClientPrefaceLn)
		f.prefaceDone = true
		return true
	}
	if len(f.in) < h2FrameHeaderLen {
		return false
	}
	length := int(f.in[0])<<16 | int(f.in[1])<<8 | int(f.in[2])
	if length > h2MaxFrame {
		f.pass = true
		return true
	}
	if len(f.in) < h2FrameHeaderLen+length {
		return false
	}
	frame := f.in[:h2FrameHeaderLen+length]
	switch typ := frame[3]; {
	case typ == h2FrameSettings && frame[4]&h2FlagAck == 0:
		f.out = appendSettings(f.out, frame)
	case typ == h2FrameHeaders || (typ == h2FrameCont && f.block != nil):
		f.headerFrame(frame)
	default:
		if f.block != nil {
			// A frame inside a header block: a connection error the
			// server reports itself.
			f.pass = true
			f.out = append(f.out, f.block...)
			f.block = nil
		}
		f.out = append(f.out, frame...)
	}
	f.consume(len(frame))
	return true
}

func (f *frameFilter) consume(n int) {
	rest := copy(f.in, f.in[n:])
	f.in = f.in[:rest]
}

// headerFrame takes a HEADERS or CONTINUATION frame of a header block.
func (f *frameFilter) headerFrame(frame []byte) {
	payload := frame[h2FrameHeaderLen:]
	flags := frame[4]
	if frame[3] == h2FrameHeaders {
		if f.block != nil {
			f.pass = true
			f.out = append(f.out, f.block...)
			f.out = append(f.out, frame...)
			f.block = nil
			return
		}
		f.bad = false
		pad := 0
		if flags&h2FlagPadded != 0 {
			if len(payload) == 0 {
				f.passFrame(frame)
				return
			}
			pad = int(payload[0])
			payload = payload[1:]
		}
		if flags&h2FlagPriority != 0 {
			if len(payload) < 5 {
				f.passFrame(frame)
				return
			}
			payload = payload[5:]
		}
		if pad > len(payload) {
			f.passFrame(frame)
			return
		}
		payload = payload[:len(payload)-pad]
	}
	if _, err := f.dec.Write(payload); err != nil {
		f.passFrame(frame)
		return
	}
	if f.block == nil {
		f.block, f.spare = f.spare[:0], nil
	}
	f.block = append(f.block, frame...)
	if len(f.block) > h2MaxBlock {
		f.passFrame(nil)
		return
	}
	if flags&h2FlagEndHeaders == 0 {
		return
	}
	if err := f.dec.Close(); err != nil {
		f.passFrame(nil)
		return
	}
	if f.bad {
		// Clear END_HEADERS on the last frame and end the block with a
		// CONTINUATION holding the poison field.
		last := len(f.block) - len(frame)
		f.block[last+4] &^= h2FlagEndHeaders
		stream := binary.BigEndian.Uint32(frame[5:9]) & 0x7fffffff
		poison := []byte{0x00, 0x01, 'X', 0x00} // literal, new name "X", empty value
		f.block = append(f.block, 0, 0, byte(len(poison)), h2FrameCont, h2FlagEndHeaders)
		f.block = binary.BigEndian.AppendUint32(f.block, stream)
		f.block = append(f.block, poison...)
	}
	f.out = append(f.out, f.block...)
	if cap(f.block) <= h2MaxKeptBuf {
		f.spare = f.block[:0]
	}
	f.block = nil
}

// passFrame gives up filtering: the buffered block and frame go through as is.
func (f *frameFilter) passFrame(frame []byte) {
	f.pass = true
	f.out = append(f.out, f.block...)
	f.out = append(f.out, frame...)
	f.block = nil
}

// checkField marks the header block in progress malformed when a field is
// connection-specific (RFC 9113 §8.2.2).
func (f *frameFilter) checkField(hf hpack.HeaderField) {
	switch hf.Name {
	case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
		f.bad = true
	case "te":
		if hf.Value != "trailers" {
			f.bad = true
		}
	}
}

// appendSettings appends a SETTINGS frame with each repeated setting reduced
// to the value processing them in order leaves: the last one, or the first
// invalid one.
func appendSettings(dst, frame []byte) []byte {
	payload := frame[h2FrameHeaderLen:]
	if len(payload)%6 != 0 || len(payload) > 6*100 {
		return append(dst, frame...) // the server rejects it itself
	}
	type setting struct {
		id  uint16
		val uint32
	}
	var kept []setting
	dup := false
	for i := 0; i < len(payload); i += 6 {
		s := setting{binary.BigEndian.Uint16(payload[i:]), binary.BigEndian.Uint32(payload[i+2:])}
		found := false
		for j := range kept {
			if kept[j].id == s.id {
				found, dup = true, true
				if validSetting(kept[j].id, kept[j].val) {
					kept[j].val = s.val
				}
			}
		}
		if !found {
			kept = append(kept, s)
		}
	}
	if !dup {
		return append(dst, frame...)
	}
	n := 6 * len(kept)
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n), frame[3], frame[4])
	dst = append(dst, frame[5:9]...)
	for _, s := range kept {
		dst = binary.BigEndian.AppendUint16(dst, s.id)
		dst = binary.BigEndian.AppendUint32(dst, s.val)
	}
	return dst
}

// validSetting reports whether a setting's value is allowed (RFC 9113 §6.5.2).
func validSetting(id uint16, v uint32) bool {
	switch id {
	case 0x2: // ENABLE_PUSH
		return v <= 1
	case 0x4: // INITIAL_WINDOW_SIZE
		return v <= 1<<31-1
	case 0x5: // MAX_FRAME_SIZE
		return v >= 1<<14 && v <= 1<<24-1
	}
	return true
}
