package accesslog

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// flushSize is how many bytes the Path mode writer gathers before writing
// without waiting for the next tick.
const flushSize = 64 << 10

// fileSink appends lines to one file. Lines are gathered in memory and written
// with one write call per tick (or per flushSize bytes), so a busy node makes a
// few large writes rather than one per request. A failed write loses the lines
// of that batch (a partial write can leave a partial line in the file); the
// next batch is tried afresh.
type fileSink struct {
	path    string
	f       *os.File
	buf     []byte
	lines   int // lines in buf
	written *atomic.Uint64
	errs    errorLimiter
}

// openFileSink opens path for appending, creating it and its directory.
func openFileSink(path string, w *Writer) (*fileSink, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("access log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("access log %s: %w", path, err)
	}
	return &fileSink{
		path:    path,
		f:       f,
		buf:     make([]byte, 0, flushSize+4096),
		written: &w.written,
		errs:    errorLimiter{log: w.log, lost: &w.lost},
	}, nil
}

func (s *fileSink) write(line []byte, _ time.Time) {
	s.buf = append(s.buf, line...)
	s.lines++
	if len(s.buf) >= flushSize {
		s.flush()
	}
}

func (s *fileSink) tick(time.Time) { s.flush() }

// flush writes the gathered lines.
func (s *fileSink) flush() error {
	if s.lines == 0 {
		return nil
	}
	_, err := s.f.Write(s.buf)
	if err != nil {
		err = fmt.Errorf("access log %s: %w", s.path, err)
		s.errs.fail(err, s.lines)
	} else {
		s.written.Add(uint64(s.lines))
	}
	s.buf, s.lines = s.buf[:0], 0
	return err
}

func (s *fileSink) close() error {
	err := s.flush()
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("access log %s: %w", s.path, cerr)
	}
	return err
}

// abort closes the file under a blocked write. os.File allows Close to race
// with Write; the write then fails with os.ErrClosed.
func (s *fileSink) abort() { s.f.Close() }
