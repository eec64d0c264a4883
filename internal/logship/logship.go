// Package logship delivers the node's log files to S3-compatible storage, in
// ALB's bucket layout. The logs are written as today, one gzip file per
// interval in ALB's key layout (accesslog's Directory mode), into a spool
// directory per bucket and prefix (Dir); the Shipper uploads every complete
// file under the key its path names and deletes it once the store has it.
// So nothing is lost while the store is down (the spool holds it, within a
// bound), a node stopped with SIGTERM uploads what it has (Flush), and a node
// killed with kill -9 uploads its spool when it starts again.
package logship

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// Client stores objects; S3 (NewS3Client) implements it.
type Client interface {
	// PutObject stores body at key in bucket.
	PutObject(ctx context.Context, bucket, key string, body []byte) error
}

// DefaultMaxSpool bounds the spool when Options.MaxSpoolBytes is 0.
const DefaultMaxSpool = 1 << 30

// Options configures a Shipper.
type Options struct {
	// Spool is the directory the logs wait in (DATA-DIR/log-spool).
	Spool string
	// Client uploads.
	Client Client
	// MaxSpoolBytes bounds the spool (DefaultMaxSpool when 0): when the
	// files waiting exceed it, the oldest are dropped and their lines
	// counted (Dropped).
	MaxSpoolBytes int64
	// Every is how often the spool is scanned (5 s when 0).
	Every time.Duration
	// Dropped counts lines of log that were dropped ("access", "connection"
	// or "health_check").
	Dropped func(log string, lines int)
	// Logger receives the shipper's warnings (slog.Default when nil).
	Logger *slog.Logger
}

// Shipper uploads the spool's complete files. It is safe for concurrent use.
type Shipper struct {
	opts Options
	wake chan struct{}
	mu   sync.Mutex // serialises ship

	warnMu  sync.Mutex
	failing bool // the last upload failed; warned once
	dropped bool // dropped for want of room; warned once
}

// New returns a shipper of opts.Spool, creating it.
func New(opts Options) (*Shipper, error) {
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	if opts.MaxSpoolBytes <= 0 {
		opts.MaxSpoolBytes = DefaultMaxSpool
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Dropped == nil {
		opts.Dropped = func(string, int) {}
	}
	if err := os.MkdirAll(opts.Spool, 0o700); err != nil {
		return nil, fmt.Errorf("log spool: %w", err)
	}
	return &Shipper{opts: opts, wake: make(chan struct{}, 1)}, nil
}

// Spool returns the spool directory.
func (s *Shipper) Spool() string { return s.opts.Spool }

// bucketDir is the spool directory of one bucket: SPOOL/b-BUCKET. Below it,
// a file's path is its object key.
func (s *Shipper) bucketDir(bucket string) string {
	return filepath.Join(s.opts.Spool, "b-"+bucket)
}

// Dir returns the directory a log delivered to bucket under prefix is
// written in (accesslog's Directory mode writes AWSLogs/... below it).
// prefix is ALB's: "" or a path without "AWSLogs", no leading or trailing
// slash needed.
func (s *Shipper) Dir(bucket, prefix string) string {
	p := strings.Trim(prefix, "/")
	if p == "" {
		return s.bucketDir(bucket)
	}
	return filepath.Join(s.bucketDir(bucket), filepath.FromSlash(p))
}

// TestFileKey is where ALB writes its test object when logging is turned on.
func TestFileKey(prefix, account string) string {
	p := strings.Trim(prefix, "/")
	key := "AWSLogs/" + account + "/ELBAccessLogTestFile"
	if p != "" {
		key = p + "/" + key
	}
	return key
}

// WriteTestFile uploads ALB's ELBAccessLogTestFile for a load balancer whose
// logging to bucket was just turned on.
func (s *Shipper) WriteTestFile(ctx context.Context, bucket, prefix, account string) error {
	body := []byte("Enable AccessLog for ELB: " + time.Now().UTC().Format(time.RFC3339) + "\n")
	if err := s.opts.Client.PutObject(ctx, bucket, TestFileKey(prefix, account), body); err != nil {
		return fmt.Errorf("s3://%s/%s: %w", bucket, TestFileKey(prefix, account), err)
	}
	return nil
}

// Notify asks for a scan now (a file was completed).
func (s *Shipper) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run uploads the spool every Options.Every, and when notified, until ctx
// ends. Failed uploads wait for the next scan, with backoff.
func (s *Shipper) Run(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		wait := s.opts.Every
		if err := s.ship(ctx); err != nil && ctx.Err() == nil {
			// Retry soon after a failure, then less and less often.
			backoff = min(max(2*backoff, time.Second), time.Minute)
			wait = backoff
		} else {
			backoff = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-time.After(wait):
		}
	}
}

// Flush uploads every complete file now, retrying until the spool is empty
// or ctx ends; it returns the last upload error when ctx ends first.
func (s *Shipper) Flush(ctx context.Context) error {
	wait := 100 * time.Millisecond
	for {
		err := s.ship(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// spooled is one complete file waiting.
type spooled struct {
	path, bucket, key string
	size              int64
	mod               time.Time
}

// ship uploads what the spool holds, oldest first; it returns the first
// upload error (the files not uploaded stay).
func (s *Shipper) ship(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	files, err := s.scan()
	if err != nil {
		return err
	}
	files = s.bound(files)
	for _, f := range files {
		body, err := os.ReadFile(f.path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("log spool: %w", err)
		}
		if err := s.opts.Client.PutObject(ctx, f.bucket, f.key, body); err != nil {
			s.warnFailing(err, f)
			return err
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.opts.Logger.Warn("removing an uploaded log file from the spool", "path", f.path, "err", err)
		}
		s.recovered()
	}
	return nil
}

// scan lists the complete files of the spool (not the ones being written,
// whose names start with "."), oldest first.
func (s *Shipper) scan() ([]spooled, error) {
	var out []spooled
	buckets, err := os.ReadDir(s.opts.Spool)
	if err != nil {
		return nil, fmt.Errorf("log spool: %w", err)
	}
	for _, b := range buckets {
		name, ok := strings.CutPrefix(b.Name(), "b-")
		if !ok || !b.IsDir() {
			continue
		}
		root := filepath.Join(s.opts.Spool, b.Name())
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			out = append(out, spooled{path: path, bucket: name, key: filepath.ToSlash(rel), size: info.Size(), mod: info.ModTime()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("log spool: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b spooled) int { return a.mod.Compare(b.mod) })
	return out, nil
}

// bound drops the oldest files while the spool is over its bound, counting
// their lines, and returns the files left.
func (s *Shipper) bound(files []spooled) []spooled {
	var total int64
	for _, f := range files {
		total += f.size
	}
	for len(files) > 0 && total > s.opts.MaxSpoolBytes {
		f := files[0]
		files = files[1:]
		total -= f.size
		lines := countLines(f.path)
		if err := os.Remove(f.path); err != nil {
			continue
		}
		s.opts.Dropped(accesslog.FileKind(f.key), lines)
		s.warnMu.Lock()
		if !s.dropped {
			s.dropped = true
			s.opts.Logger.Warn("the log spool is full: dropping its oldest files (counted in albatross_log_lines_dropped_total)",
				"spool", s.opts.Spool, "max_bytes", s.opts.MaxSpoolBytes, "dropped", f.key)
		}
		s.warnMu.Unlock()
	}
	return files
}

// countLines counts the lines of a gzip file, as far as it can be read.
func countLines(path string) int {
	return bytes.Count(readWhole(path), []byte{'\n'})
}

func (s *Shipper) warnFailing(err error, f spooled) {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	if !s.failing {
		s.failing = true
		s.opts.Logger.Warn("uploading logs to S3 failed; they wait in the spool and are retried", "bucket", f.bucket, "key", f.key, "err", err)
	}
}

func (s *Shipper) recovered() {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	if s.failing {
		s.failing = false
		s.opts.Logger.Info("uploading logs to S3 works again")
	}
}

// Salvage turns the files an earlier run was writing when it was killed
// (".NAME.tmp", a gzip stream cut short) into complete files under their
// final names, keeping every whole line that reached the disk, so that the
// next scan uploads them. Lines the killed process still held in memory are
// lost. Call it before any log writes into the spool.
func (s *Shipper) Salvage() error {
	return filepath.WalkDir(s.opts.Spool, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		final, ok := strings.CutSuffix(strings.TrimPrefix(name, "."), ".tmp")
		if !ok || !strings.HasPrefix(name, ".") {
			return nil
		}
		data := readWhole(path)
		if cut := bytes.LastIndexByte(data, '\n'); cut >= 0 {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			zw.Write(data[:cut+1])
			zw.Close()
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), final), buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("log spool: salvage %s: %w", path, err)
			}
			s.opts.Logger.Info("salvaged a log file cut short by an earlier stop", "file", final, "bytes", cut+1)
		}
		return os.Remove(path)
	})
}

// readWhole returns what can be decompressed of a gzip file, up to where it
// is cut or damaged.
func readWhole(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		m, err := zr.Read(buf)
		out.Write(buf[:m])
		if err != nil {
			return out.Bytes()
		}
	}
}
