package accesslog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
)

// noLeaks fails the test if goroutines started during it are still running
// shortly after it (and its other cleanups) ended. Call it first.
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		waitFor(t, 5*time.Second, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
	})
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("timed out after %v waiting for %s\n%s", timeout, what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// logsTo returns a logger that writes a Writer's slog output into b.
func logsTo(b *testutil.SyncBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// numbered returns the spec example entry with ReceivedBytes = i, so that lines
// can be told apart.
func numbered(i int) *Entry {
	e := spec200Entry()
	e.ReceivedBytes = int64(i)
	return &e
}

func lineOf(e *Entry) string { return string(AppendLine(nil, e)) }

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	good := Options{Directory: dir, AccountID: "123456789012", Region: "us-east-2", LoadBalancerID: "app/my-alb/50dc6c495c0c9188", NodeIP: "10.0.0.7"}
	tests := []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"neither", func(o *Options) { o.Directory = "" }, "exactly one of Path and Directory"},
		{"both", func(o *Options) { o.Path = filepath.Join(dir, "x.log") }, "exactly one of Path and Directory"},
		{"account", func(o *Options) { o.AccountID = "12345" }, "12 digits"},
		{"region", func(o *Options) { o.Region = "US_EAST" }, "region"},
		{"lb id", func(o *Options) { o.LoadBalancerID = "my-alb/50dc6c495c0c9188" }, "app/NAME/ID"},
		{"lb id underscore", func(o *Options) { o.LoadBalancerID = "app/my_alb/1" }, "app/NAME/ID"},
		{"node ip", func(o *Options) { o.NodeIP = "" }, "node IP"},
		{"interval", func(o *Options) { o.Interval = 90 * time.Second }, "whole number of minutes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.mutate(&o)
			w, err := Open(o)
			if err == nil {
				closeWriter(t, w)
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestWriterFileFlushInterval(t *testing.T) {
	noLeaks(t)
	path := filepath.Join(t.TempDir(), "new", "dir", "access.log")
	const flush = 100 * time.Millisecond
	w, err := Open(Options{Path: path, FlushInterval: flush})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWriter(t, w)

	want := lineOf(numbered(1)) + lineOf(numbered(2))
	start := time.Now()
	w.Log(numbered(1))
	w.Log(numbered(2))
	// Written is counted just after the write returns, so wait for both.
	waitFor(t, 5*time.Second, "lines in the file", func() bool { return readFile(t, path) == want && w.Written() == 2 })
	// Nothing but the tick writes them: the batch is far below flushSize and
	// the writer is open. (No bound on the delay is asserted: a loaded machine
	// running the race detector can take seconds to schedule the goroutine.)
	t.Logf("lines arrived after %v, flush interval %v", time.Since(start), flush)
	if w.Written() != 2 || w.Dropped() != 0 {
		t.Errorf("Written %d Dropped %d, want 2 0", w.Written(), w.Dropped())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestWriterCloseFlushesEverything(t *testing.T) {
	noLeaks(t)
	path := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(path, []byte("earlier line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(Options{Path: path, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 4, 10 // 40 lines of ~600 bytes stay below flushSize
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				w.Log(numbered(g*each + i))
			}
		})
	}
	wg.Wait()
	waitFor(t, 5*time.Second, "the queue to drain", func() bool { return len(w.queue) == 0 })
	if got := readFile(t, path); got != "earlier line\n" {
		t.Fatalf("file before Close = %q, want only the earlier line (nothing flushed before the interval)", got)
	}
	closeWriter(t, w)

	lines := strings.Split(strings.TrimSuffix(readFile(t, path), "\n"), "\n")
	if len(lines) != 1+goroutines*each || lines[0] != "earlier line" {
		t.Fatalf("file has %d lines, want earlier line + %d", len(lines), goroutines*each)
	}
	seen := map[int64]bool{}
	for _, l := range lines[1:] {
		e := mustParse(t, l)
		seen[e.ReceivedBytes] = true
	}
	if len(seen) != goroutines*each {
		t.Errorf("%d distinct lines, want %d", len(seen), goroutines*each)
	}
	if w.Written() != goroutines*each || w.Dropped() != 0 {
		t.Errorf("Written %d Dropped %d", w.Written(), w.Dropped())
	}

	// Close is idempotent, and Log after Close drops without panicking.
	if err := w.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	w.Log(numbered(0))
	if w.Dropped() != 1 {
		t.Errorf("Dropped after a Log after Close = %d, want 1", w.Dropped())
	}
}

// fifo creates a named pipe and opens its read end without blocking, so that
// the Writer can open it; nothing reads from it until the test does.
func fifo(t *testing.T) (path string, r *os.File) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "access.fifo")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	r = os.NewFile(uintptr(fd), path) // non-blocking: reads go through the poller
	t.Cleanup(func() { r.Close() })
	return path, r
}

// bigEntry makes lines of about 8.7 KB, so that a few fill a pipe.
func bigEntry(i int) *Entry {
	e := numbered(i)
	e.UserAgent = bytes.Repeat([]byte("u"), MaxUserAgent)
	return e
}

// fillUntilBlocked logs until the writer must be stuck on the pipe r, whose
// reader does not read, and lines are being dropped; it returns how many lines
// it logged. Lines can be dropped before the pipe is full when the goroutine
// is merely slow to start, so the bytes logged must also exceed what the pipe,
// the batch buffer and the queue can hold.
func fillUntilBlocked(t *testing.T, w *Writer, r *os.File) int {
	t.Helper()
	lineLen := len(lineOf(bigEntry(0)))
	minLines := (2*pipeSize(r)+2*flushSize)/lineLen + cap(w.queue)
	n := 0
	waitFor(t, 10*time.Second, "the writer to block", func() bool {
		for range 8 {
			w.Log(bigEntry(n))
			n++
		}
		return n > minLines && w.Dropped() > 0 && len(w.queue) == cap(w.queue)
	})
	return n
}

// pipeSize returns the capacity of pipe r (Linux F_GETPIPE_SZ), or 1 MB, the
// usual maximum, if it cannot tell.
func pipeSize(r *os.File) int {
	const getPipeSize = 1032 // F_GETPIPE_SZ
	size := 1 << 20
	if rc, err := r.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { // unlike Fd, leaves the pipe non-blocking
			if n, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, getPipeSize, 0); errno == 0 {
				size = int(n)
			}
		})
	}
	return size
}

func TestWriterDropsWhenQueueFull(t *testing.T) {
	noLeaks(t)
	path, r := fifo(t)
	var logs testutil.SyncBuffer
	w, err := Open(Options{Path: path, Buffer: 4, FlushInterval: 10 * time.Millisecond, Logger: logsTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	logged := fillUntilBlocked(t, w, r)

	// Now read what the writer manages to write, and let Close drain it.
	read := make(chan int)
	go func() {
		n := 0
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			n++
		}
		read <- n
	}()
	closeWriter(t, w)
	lines := <-read

	if w.Dropped() == 0 || w.Written()+w.Dropped() != uint64(logged) {
		t.Errorf("Written %d + Dropped %d, want > 0 dropped and %d in all", w.Written(), w.Dropped(), logged)
	}
	if uint64(lines) != w.Written() {
		t.Errorf("read %d lines, Written says %d", lines, w.Written())
	}
	if !strings.Contains(logs.String(), "access log: dropped") || !strings.Contains(logs.String(), "disk not keeping up") {
		t.Errorf("no drop warning in the log:\n%s", logs.String())
	}
}

func TestWriterCloseContextUnblocks(t *testing.T) {
	noLeaks(t)
	path, r := fifo(t) // never read
	var logs testutil.SyncBuffer
	w, err := Open(Options{Path: path, Buffer: 4, FlushInterval: 10 * time.Millisecond, Logger: logsTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	logged := fillUntilBlocked(t, w, r)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want a deadline error; logged %d written %d dropped %d, log:\n%s", err, logged, w.Written(), w.Dropped(), logs.String())
	}
	// The goroutine gives up on the closed pipe and accounts for every line.
	waitFor(t, 5*time.Second, "every line to be accounted for", func() bool {
		return w.Written()+w.Dropped() == uint64(logged)
	})
}

func TestWriterWriteErrors(t *testing.T) {
	noLeaks(t)
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	var logs testutil.SyncBuffer
	w, err := Open(Options{Path: "/dev/full", FlushInterval: 10 * time.Millisecond, Logger: logsTo(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	// Two separate failing flushes: both lose their line, only one is logged.
	w.Log(numbered(1))
	waitFor(t, 5*time.Second, "first line dropped", func() bool { return w.Dropped() == 1 })
	w.Log(numbered(2))
	waitFor(t, 5*time.Second, "second line dropped", func() bool { return w.Dropped() == 2 })
	closeWriter(t, w) // nothing left to flush, so no error
	if w.Written() != 0 {
		t.Errorf("Written = %d, want 0", w.Written())
	}
	if n := strings.Count(logs.String(), "write failed"); n != 1 {
		t.Errorf("%d write error logs, want 1 (rate-limited):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "no space left") {
		t.Errorf("log does not name the error:\n%s", logs.String())
	}
}

// fakeClock is an Options.Now that tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.set(t)
	return c
}

func (c *fakeClock) now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

const (
	dirAccount = "123456789012"
	dirRegion  = "us-east-2"
	dirLB      = "app/my-alb/50dc6c495c0c9188"
	dirNode    = "10.0.0.7"
)

func dirOptions(root string, clock *fakeClock) Options {
	return Options{
		Directory: root, AccountID: dirAccount, Region: dirRegion, LoadBalancerID: dirLB, NodeIP: dirNode,
		FlushInterval: 5 * time.Millisecond, Now: clock.now,
	}
}

// finalName matches a delivered file's base name; group 1 is the end time.
var finalName = regexp.MustCompile(`^123456789012_elasticloadbalancing_us-east-2_app\.my-alb\.50dc6c495c0c9188_(\d{8}T\d{4}Z)_10\.0\.0\.7_[a-z0-9]{8}\.log\.gz$`)

// delivered lists the final files below root by end time, with their lines,
// and checks on the way that every other file is a temporary one that cannot
// be mistaken for a final file, and that every final file is complete gzip.
func delivered(t *testing.T, root string) map[string][]string {
	t.Helper()
	files := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		m := finalName.FindStringSubmatch(name)
		if m == nil {
			if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") || !finalName.MatchString(name[1:len(name)-4]) {
				t.Errorf("unexpected file %s", path)
			}
			return nil
		}
		end, _ := time.Parse("20060102T1504Z", m[1])
		wantDir := filepath.Join(root, "AWSLogs", dirAccount, "elasticloadbalancing", dirRegion, end.Format("2006/01/02"))
		if filepath.Dir(path) != wantDir {
			t.Errorf("%s is not in %s", path, wantDir)
		}
		if _, dup := files[m[1]]; dup {
			t.Errorf("two files for the interval ending %s", m[1])
		}
		files[m[1]] = gunzipLines(t, path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func gunzipLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err := io.ReadAll(zr) // checks the CRC and length at the end
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
}

func linesOf(ids ...int) []string {
	var out []string
	for _, i := range ids {
		out = append(out, strings.TrimSuffix(lineOf(numbered(i)), "\n"))
	}
	return out
}

func trimmed(lines []string) []string {
	out := slices.Clone(lines)
	for i := range out {
		out[i] = strings.TrimSuffix(out[i], "\n")
	}
	return out
}

func tempFiles(t *testing.T, root string) int {
	n := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".tmp") {
			n++
		}
		return nil
	})
	return n
}

func TestWriterDirectoryRotation(t *testing.T) {
	noLeaks(t)
	root := t.TempDir()
	clock := newFakeClock(time.Date(2025, 11, 3, 14, 21, 30, 0, time.UTC))
	w, err := Open(dirOptions(root, clock))
	if err != nil {
		t.Fatal(err)
	}

	// Interval 14:20-14:25.
	for i := 1; i <= 3; i++ {
		w.Log(numbered(i))
	}
	waitFor(t, 5*time.Second, "the temporary file", func() bool { return tempFiles(t, root) == 1 })
	if got := delivered(t, root); len(got) != 0 {
		t.Fatalf("files delivered before the interval ended: %v", got)
	}

	// 14:25:00 exactly starts the next interval; its lines must not go into
	// the first file, which is delivered on the next tick.
	clock.set(time.Date(2025, 11, 3, 14, 25, 0, 0, time.UTC))
	w.Log(numbered(4))
	w.Log(numbered(5))
	waitFor(t, 5*time.Second, "the 14:25 file", func() bool { return len(delivered(t, root)) == 1 })
	if got := trimmed(delivered(t, root)["20251103T1425Z"]); !slices.Equal(got, linesOf(1, 2, 3)) {
		t.Errorf("14:25 file has %q", got)
	}

	// Jump past the empty 14:30-14:35 interval: the 14:30 file is delivered and
	// no 14:35 file appears.
	clock.set(time.Date(2025, 11, 3, 14, 36, 0, 0, time.UTC))
	waitFor(t, 5*time.Second, "the 14:30 file", func() bool { return len(delivered(t, root)) == 2 })
	w.Log(numbered(6))
	waitFor(t, 5*time.Second, "the 14:40 temporary file", func() bool { return tempFiles(t, root) == 1 })

	// Close delivers the current interval's file early, under its end time.
	closeWriter(t, w)
	got := delivered(t, root)
	want := map[string][]string{
		"20251103T1425Z": linesOf(1, 2, 3),
		"20251103T1430Z": linesOf(4, 5),
		"20251103T1440Z": linesOf(6),
	}
	if len(got) != len(want) {
		t.Errorf("delivered %d files, want %d: %v", len(got), len(want), slices.Collect(maps.Keys(got)))
	}
	for end, lines := range want {
		if g := trimmed(got[end]); !slices.Equal(g, lines) {
			t.Errorf("file ending %s has %d lines %q, want %d", end, len(g), g, len(lines))
		}
	}
	if n := tempFiles(t, root); n != 0 {
		t.Errorf("%d temporary files left", n)
	}
	if w.Written() != 6 || w.Dropped() != 0 {
		t.Errorf("Written %d Dropped %d, want 6 0", w.Written(), w.Dropped())
	}
}

// TestWriterDirectoryDeliveryDate checks that the date directories are those of
// the interval end: the last interval of a year is delivered in the next one.
func TestWriterDirectoryDeliveryDate(t *testing.T) {
	noLeaks(t)
	root := t.TempDir()
	clock := newFakeClock(time.Date(2025, 12, 31, 23, 57, 10, 0, time.UTC))
	o := dirOptions(root, clock)
	o.Interval = time.Hour
	w, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	w.Log(numbered(1))
	closeWriter(t, w)
	got := delivered(t, root)
	if lines := got["20260101T0000Z"]; len(lines) != 1 {
		t.Errorf("delivered %v, want one line in the file ending 20260101T0000Z", got)
	}
	if _, err := os.Stat(filepath.Join(root, "AWSLogs", dirAccount, "elasticloadbalancing", dirRegion, "2026", "01", "01")); err != nil {
		t.Error(err)
	}
}

func TestWriterDirectoryNoLinesNoFile(t *testing.T) {
	noLeaks(t)
	root := t.TempDir()
	clock := newFakeClock(time.Date(2025, 11, 3, 14, 21, 30, 0, time.UTC))
	w, err := Open(dirOptions(root, clock))
	if err != nil {
		t.Fatal(err)
	}
	clock.set(time.Date(2025, 11, 3, 14, 40, 0, 0, time.UTC))
	closeWriter(t, w)
	var files []string
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("files written without lines: %v", files)
	}
}
