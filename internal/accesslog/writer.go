package accesslog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Writer defaults.
const (
	DefaultBuffer        = 65536
	DefaultFlushInterval = time.Second
	DefaultInterval      = 5 * time.Minute

	// warnEvery limits warnings about dropped lines and write errors.
	warnEvery = 10 * time.Second
	// maxPooledLine keeps buffers of freak lines (8 KB user agents escaped to
	// 32 KB) out of the pool.
	maxPooledLine = 16 << 10
)

// Options configures a Writer. Exactly one of Path and Directory is set.
type Options struct {
	// Path: append lines to this file (created 0644 if missing, parent directory
	// created).
	Path string
	// Directory: write gzip files in ALB's S3 key layout below this directory
	// (spec §1.1), one per Interval:
	// DIR/AWSLogs/{account}/elasticloadbalancing/{region}/{yyyy}/{mm}/{dd}/
	// {account}_elasticloadbalancing_{region}_app.{name}.{id}_{end}_{node-ip}_{random}.log.gz
	Directory string
	// AccountID is 12 digits, for Directory naming.
	AccountID string
	// Region is for Directory naming (us-east-1).
	Region string
	// LoadBalancerID is "app/NAME/ID" (the elb field); "/" becomes "." in file
	// names.
	LoadBalancerID string
	// NodeIP is the node IP in file names ("127.0.0.1"), copied as given.
	NodeIP string
	// Buffer is how many lines may wait for the disk before new ones are dropped
	// (default DefaultBuffer). Lines are encoded when logged, so this bounds
	// memory at about Buffer times the line length.
	Buffer int
	// FlushInterval (default 1s) bounds how long a line waits in memory in Path
	// mode. In Directory mode it is how often the writer checks whether the
	// interval has ended; gzip files are delivered whole at the end of their
	// interval, so there is nothing to flush earlier.
	FlushInterval time.Duration
	// Interval is the Directory mode rotation period (default 5m), a whole number
	// of minutes because file names carry the interval end to the minute.
	// Intervals are aligned to multiples of Interval on the UTC clock.
	Interval time.Duration
	// SyncDirectory makes Directory mode push the open file's lines to disk
	// every FlushInterval (a gzip sync flush, not a new file), so that a
	// process killed mid-interval leaves them readable in the temporary
	// file: a spool that is salvaged at the next start (logship).
	SyncDirectory bool
	// FilePrefix is prepended to Directory mode file names; ALB's connection
	// logs use ConnLogFilePrefix (default: none, access log names).
	FilePrefix string
	// Logger receives write errors and drop warnings (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock, for tests (default time.Now). In Directory mode a line
	// belongs to the interval containing Now() at the time it was logged.
	Now func() time.Time
}

// Writer writes access log lines in the background. Log never blocks: it encodes
// the entry on the caller's goroutine and hands the line to a queue that one
// goroutine drains to the file. When the queue is full the line is dropped and
// counted, because a slow disk must not slow requests down. All methods are safe
// for concurrent use.
type Writer struct {
	queue chan queued
	pool  sync.Pool // of *[]byte
	now   func() time.Time
	stamp bool // whether lines need Now() (Directory mode)
	out   sink
	log   *slog.Logger
	every time.Duration // FlushInterval

	closed   atomic.Bool  // set by Close: Log drops from then on
	inflight atomic.Int64 // Log calls between their closed check and their send
	aborted  atomic.Bool  // Close's context ended: drop what is left

	written atomic.Uint64 // lines that reached the destination
	full    atomic.Uint64 // lines dropped because the queue was full or closed
	lost    atomic.Uint64 // lines dropped because writing them failed

	stop      chan struct{} // closed by Close
	done      chan struct{} // closed when the goroutine has finished
	closeOnce sync.Once
	closeErr  error // result of the final flush; read after done
}

// queued is one encoded line and, in Directory mode, when it was logged (Unix
// nanoseconds: half the size of a time.Time in a queue of 65536).
type queued struct {
	line *[]byte
	at   int64
}

// sink is a destination: the plain file or the gzip directory. Its methods are
// called from the writer goroutine only, except abort.
type sink interface {
	// write takes one line logged at at; it reports failures itself.
	write(line []byte, at time.Time)
	// tick runs every FlushInterval: flush, or finish an interval that ended.
	tick(now time.Time)
	// close flushes and closes for good.
	close() error
	// abort unblocks a write stuck on the destination by closing its file. It
	// is called from Close's goroutine.
	abort()
}

// Open validates opts, opens the destination and starts the writer goroutine.
func Open(opts Options) (*Writer, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	w := &Writer{
		queue: make(chan queued, opts.Buffer),
		now:   opts.Now,
		log:   opts.Logger,
		every: opts.FlushInterval,
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	w.pool.New = func() any { b := make([]byte, 0, 1024); return &b }
	var err error
	if opts.Path != "" {
		w.out, err = openFileSink(opts.Path, w)
	} else {
		w.stamp = true
		w.out, err = newDirSink(opts, w)
	}
	if err != nil {
		return nil, err
	}
	go w.run()
	return w, nil
}

// setDefaults fills in defaults and rejects inconsistent options.
func (o *Options) setDefaults() error {
	if (o.Path == "") == (o.Directory == "") {
		return errors.New("access log: set exactly one of Path and Directory")
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Directory != "" {
		return o.validateNaming()
	}
	return nil
}

// validateNaming checks the parts of Directory mode file names: each must be
// non-empty and free of the separators the name uses ("_", "/").
func (o *Options) validateNaming() error {
	if len(o.AccountID) != 12 || strings.Trim(o.AccountID, "0123456789") != "" {
		return fmt.Errorf("access log: account id %q is not 12 digits", o.AccountID)
	}
	if o.Region == "" || strings.Trim(o.Region, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
		return fmt.Errorf("access log: region %q is not like us-east-1", o.Region)
	}
	parts := strings.Split(o.LoadBalancerID, "/")
	if len(parts) != 3 || parts[0] != "app" || parts[1] == "" || parts[2] == "" || strings.ContainsAny(o.LoadBalancerID, "_ \\") {
		return fmt.Errorf("access log: load balancer id %q is not app/NAME/ID", o.LoadBalancerID)
	}
	if o.NodeIP == "" || strings.ContainsAny(o.NodeIP, "_/\\ ") {
		return fmt.Errorf("access log: node IP %q cannot be used in a file name", o.NodeIP)
	}
	if err := CheckInterval(o.Interval); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return nil
}

// CheckInterval accepts a Directory mode interval: a whole number of minutes
// (ALB's is 5), or, for tests, a whole number of seconds dividing a minute.
func CheckInterval(d time.Duration) error {
	if d <= 0 || d%time.Minute != 0 && (d%time.Second != 0 || time.Minute%d != 0) {
		return fmt.Errorf("interval %v is neither a whole number of minutes nor a whole number of seconds that divides a minute", d)
	}
	return nil
}

// Log encodes e at once (e may be reused as soon as Log returns) and queues the
// line. It never blocks: if the queue is full, or the writer is closed, the line
// is dropped and counted in Dropped.
func (w *Writer) Log(e *Entry) { w.put(e, nil, nil) }

// put encodes e, or else c, or else h, and queues the line.
func (w *Writer) put(e *Entry, c *ConnEntry, h *HealthEntry) {
	w.inflight.Add(1)
	defer w.inflight.Add(-1)
	if w.closed.Load() {
		w.full.Add(1)
		return
	}
	bp := w.pool.Get().(*[]byte)
	switch {
	case e != nil:
		*bp = AppendLine((*bp)[:0], e)
	case c != nil:
		*bp = AppendConnLine((*bp)[:0], c)
	default:
		*bp = AppendHealthLine((*bp)[:0], h)
	}
	q := queued{line: bp}
	if w.stamp {
		q.at = w.now().UnixNano()
	}
	select {
	case w.queue <- q:
	default:
		w.full.Add(1)
		w.release(bp)
	}
}

func (w *Writer) release(bp *[]byte) {
	if cap(*bp) <= maxPooledLine {
		w.pool.Put(bp)
	}
}

// Dropped returns the number of lines dropped so far: queue full, logged after
// Close, or lost to a write error.
func (w *Writer) Dropped() uint64 { return w.full.Load() + w.lost.Load() }

// Written returns the number of lines written so far: in Path mode, handed to
// the operating system; in Directory mode, in a gzip file renamed to its final
// name.
func (w *Writer) Written() uint64 { return w.written.Load() }

// Close stops accepting lines, writes the queued ones, flushes and closes the
// destination (in Directory mode the current gzip file gets its final name) and
// returns the first error of that final flush. It is idempotent; every call
// waits for the same end. If ctx ends first, Close closes the destination under
// the writer goroutine to unblock it, so the rest of the queue is dropped; it
// then returns ctx's error without waiting, and the goroutine exits as soon as
// its blocked write returns.
func (w *Writer) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		// A Log that saw closed == false may still be about to send; wait for it
		// so that its line is drained rather than stranded in the queue.
		for w.inflight.Load() != 0 {
			runtime.Gosched()
		}
		close(w.stop)
	})
	select {
	case <-w.done:
		return w.closeErr
	case <-ctx.Done():
	}
	select {
	case <-w.done: // finished just in time
		return w.closeErr
	default:
	}
	if w.aborted.CompareAndSwap(false, true) {
		w.out.abort()
	}
	return fmt.Errorf("access log: close: %w", ctx.Err())
}

// batchDelay is how long the writer goroutine lets lines gather while lines
// keep coming. A goroutine woken for every line costs a scheduler round trip per
// request; woken every batchDelay under load, it costs one per batch.
const batchDelay = 10 * time.Millisecond

// run is the writer goroutine. While no lines come it waits on the queue, so the
// first line wakes it; while lines keep coming it drains the queue every
// batchDelay instead, so loggers send without waking it.
func (w *Writer) run() {
	defer close(w.done)
	ticker := time.NewTicker(w.every)
	defer ticker.Stop()
	batch := time.NewTimer(batchDelay)
	batch.Stop()
	defer batch.Stop()
	batching := false
	warn := warner{log: w.log}
	for {
		var queue <-chan queued
		var wait <-chan time.Time
		if batching {
			wait = batch.C
		} else {
			queue = w.queue
		}
		select {
		case q := <-queue:
			w.handle(q)
			w.drainQueued()
			batching = true
			batch.Reset(batchDelay)
		case <-wait:
			// Keep batching while the last delay brought lines.
			if batching = w.drainQueued() > 0; batching {
				batch.Reset(batchDelay)
			}
		case <-ticker.C:
			now := w.now()
			// Lines logged before now go in first, so that an interval ending
			// at now gets all of its lines rather than a second file for the
			// few still queued.
			w.drainQueued()
			w.out.tick(now)
			warn.drops(w.full.Load(), false)
		case <-w.stop:
			w.drain()
			w.closeErr = w.out.close()
			warn.drops(w.full.Load(), true)
			return
		}
	}
}

// drainQueued handles the lines queued at the time of the call, not more
// (loggers faster than the disk must not keep the goroutine from its ticks),
// and returns how many it handled.
func (w *Writer) drainQueued() int {
	n := len(w.queue)
	for range n {
		w.handle(<-w.queue)
	}
	return n
}

// drain handles what is still queued after Close.
func (w *Writer) drain() {
	for {
		select {
		case q := <-w.queue:
			w.handle(q)
		default:
			return
		}
	}
}

func (w *Writer) handle(q queued) {
	if w.aborted.Load() {
		w.lost.Add(1)
	} else {
		w.out.write(*q.line, time.Unix(0, q.at))
	}
	w.release(q.line)
}

// warner rate-limits the warning about dropped lines. It uses the real clock,
// not Options.Now: it is about how often a human is bothered.
type warner struct {
	log      *slog.Logger
	reported uint64
	last     time.Time
}

// drops warns about lines dropped since the last warning, at most once per
// warnEvery unless final.
func (w *warner) drops(total uint64, final bool) {
	n := total - w.reported
	if n == 0 || !final && !w.last.IsZero() && time.Since(w.last) < warnEvery {
		return
	}
	w.log.Warn(fmt.Sprintf("access log: dropped %d lines: disk not keeping up", n), "dropped", n, "total", total)
	w.reported, w.last = total, time.Now()
}

// errorLimiter rate-limits write error logs and counts the lost lines; it is
// used by the sinks from the writer goroutine only.
type errorLimiter struct {
	log        *slog.Logger
	lost       *atomic.Uint64
	last       time.Time
	suppressed int
}

// fail records that lines lines were lost to err.
func (l *errorLimiter) fail(err error, lines int) {
	l.lost.Add(uint64(lines))
	if !l.last.IsZero() && time.Since(l.last) < warnEvery {
		l.suppressed++
		return
	}
	l.log.Error("access log: write failed, lines dropped", "err", err, "lines", lines, "suppressed_errors", l.suppressed)
	l.last, l.suppressed = time.Now(), 0
}
