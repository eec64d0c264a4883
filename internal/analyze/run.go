package analyze

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultChunkSize is how many bytes of log one worker parses at a time.
// A line longer than this is reported as malformed.
const DefaultChunkSize = 1 << 20

// StdinName is the input name that reads standard input.
const StdinName = "-"

// Options configure Run.
type Options struct {
	// Filter selects the entries counted.
	Filter Filter
	// Workers is how many goroutines parse; 0 means GOMAXPROCS.
	Workers int
	// MaxMalformed is how many malformed lines are reported by position (all
	// are counted); 0 means 100, a negative value none.
	MaxMalformed int
	// ChunkSize overrides DefaultChunkSize (tests use small chunks to cross
	// chunk boundaries often).
	ChunkSize int
	// Stdin is read for the input "-" (os.Stdin when nil).
	Stdin io.Reader
	// Progress, when set, is called about every 200 ms while Run works, and
	// once more at the end with done set.
	Progress func(p Progress)
}

// Progress is how far Run has got.
type Progress struct {
	Elapsed   time.Duration
	ReadBytes int64 // bytes read from the inputs (compressed bytes for .gz)
	Total     int64 // total input size in bytes; -1 when unknown (stdin)
	Lines     int64 // lines parsed
	Done      bool
}

// source is one input stream.
type source struct {
	name string // as reported: the path, or "-" for stdin
	size int64  // -1 when unknown
}

// chunk is whole lines of one source, handed to a worker.
type chunk struct {
	src, seq int
	data     []byte
	buf      *[]byte // returned to the pool when parsed; nil for an overlong line
	overlong bool    // stands for one line longer than the chunk size
}

// Inputs expands names into the sources Run reads: files as named,
// directories walked recursively in lexical order (hidden entries, and ALB's
// connection and health-check log files, which share the S3 layout, are
// skipped and listed in skipped), and "-" for standard input.
func Inputs(names []string) (srcs []string, skipped []string, err error) {
	return inputsOf(names, accesslog.KindAccess)
}

// inputsOf is Inputs for the files of one of ALB's logs (accesslog.FileKind):
// in directories, the regular files (or links to them) of that kind; the
// other files are listed in skipped.
func inputsOf(names []string, kind string) (srcs []string, skipped []string, err error) {
	for _, name := range names {
		if name == StdinName {
			srcs = append(srcs, name)
			continue
		}
		info, err := os.Stat(name)
		if err != nil {
			return nil, nil, err
		}
		if !info.IsDir() {
			srcs = append(srcs, name)
			continue
		}
		err = filepath.WalkDir(name, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			base := d.Name()
			if path != name && strings.HasPrefix(base, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				skipped = append(skipped, path)
				return nil
			}
			if d.IsDir() {
				return nil
			}
			regular := d.Type().IsRegular()
			if d.Type()&fs.ModeSymlink != 0 { // a link to a file counts as that file
				info, err := os.Stat(path)
				regular = err == nil && info.Mode().IsRegular()
			}
			if !regular || accesslog.FileKind(base) != kind {
				skipped = append(skipped, path)
				return nil
			}
			srcs = append(srcs, path)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return srcs, skipped, nil
}

// runner is the state of one Run.
type runner struct {
	opts      Options
	srcs      []source
	chunkSize int
	pool      sync.Pool
	readBytes atomic.Int64
	lines     atomic.Int64

	mu         sync.Mutex
	lineCounts [][]int // per source, lines in each chunk
	inputErrs  []InputError
}

// Run reads the named inputs (files, or "-" for stdin; see Inputs for
// directories), parses every line in parallel and returns the report. Lines
// that do not parse are counted and reported by file and line number; an input
// that cannot be read to its end (a truncated .gz) is listed in the report's
// input errors, and what was read of it is counted. Run returns an error only
// when ctx ends.
func Run(ctx context.Context, names []string, opts Options) (*Report, error) {
	r := &runner{opts: opts, chunkSize: opts.ChunkSize}
	if r.chunkSize <= 0 {
		r.chunkSize = DefaultChunkSize
	}
	if r.opts.MaxMalformed == 0 {
		r.opts.MaxMalformed = 100
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var total int64
	for _, name := range names {
		src := source{name: name, size: -1}
		if name != StdinName {
			if info, err := os.Stat(name); err == nil {
				src.size = info.Size()
			}
		}
		if src.size < 0 || total < 0 {
			total = -1
		} else {
			total += src.size
		}
		r.srcs = append(r.srcs, src)
	}
	r.lineCounts = make([][]int, len(r.srcs))
	r.pool.New = func() any { b := make([]byte, r.chunkSize); return &b }

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	stopProgress := r.progress(ctx, start, total)

	chunks := make(chan chunk, workers)
	// Readers: one per source at a time, as many sources at once as workers,
	// so that many small .gz files decompress in parallel.
	next := make(chan int)
	var readers sync.WaitGroup
	for range min(workers, max(len(r.srcs), 1)) {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for i := range next {
				r.read(ctx, i, chunks)
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range r.srcs {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { readers.Wait(); close(chunks) }()

	shards := make([]*shard, workers)
	var parsers sync.WaitGroup
	for w := range shards {
		shards[w] = newShard(&r.opts.Filter, r.opts.MaxMalformed)
		parsers.Add(1)
		go func(s *shard) {
			defer parsers.Done()
			for c := range chunks {
				r.parse(s, c)
			}
		}(shards[w])
	}
	parsers.Wait()
	stopProgress()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := shards[0]
	for _, s := range shards[1:] {
		all.merge(s)
	}
	all.trimSamples()
	return r.report(all, time.Since(start)), nil
}

// progress starts reporting progress, if asked to; the returned function
// stops it after one last report.
func (r *runner) progress(ctx context.Context, start time.Time, total int64) func() {
	if r.opts.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	snapshot := func(final bool) Progress {
		return Progress{Elapsed: time.Since(start), ReadBytes: r.readBytes.Load(), Total: total, Lines: r.lines.Load(), Done: final}
	}
	go func() {
		defer close(done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				r.opts.Progress(snapshot(false))
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		r.opts.Progress(snapshot(true))
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// read reads source i into chunks of whole lines.
func (r *runner) read(ctx context.Context, i int, out chan<- chunk) {
	in, closeIn, err := openSource(r.srcs[i].name, r.opts.Stdin)
	if err != nil {
		r.inputError(i, err)
		return
	}
	defer closeIn()
	in, closeGz, err := gunzipped(bufio.NewReaderSize(countingReader{in, &r.readBytes}, 64<<10))
	if err != nil {
		r.inputError(i, fmt.Errorf("gzip: %w", err))
		return
	}
	defer closeGz()
	if err := r.split(ctx, i, in, out); err != nil {
		r.inputError(i, err)
	}
}

// openSource opens the input name: the file, or for StdinName stdin
// (os.Stdin when nil). done closes what it opened.
func openSource(name string, stdin io.Reader) (in io.Reader, done func(), err error) {
	if name == StdinName {
		if stdin == nil {
			stdin = os.Stdin
		}
		return stdin, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// gunzipped returns br, or a gzip reader over it when the stream starts with
// gzip's magic bytes, whatever the file is called; done closes the gzip
// reader.
func gunzipped(br *bufio.Reader) (in io.Reader, done func(), err error) {
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

// split cuts a stream into chunks that end at a line end (the last one may
// not) and sends them in order.
func (r *runner) split(ctx context.Context, src int, in io.Reader, out chan<- chunk) error {
	seq := 0
	send := func(c chunk) bool {
		c.src, c.seq = src, seq
		seq++
		select {
		case out <- c:
			return true
		case <-ctx.Done():
			if c.buf != nil {
				r.pool.Put(c.buf)
			}
			return false
		}
	}
	buf := r.pool.Get().(*[]byte)
	have := 0     // bytes in *buf
	skip := false // discarding the rest of an overlong line
	for {
		n, err := fill(in, (*buf)[have:])
		have += n
		eof := err == io.EOF
		if err != nil && !eof {
			if have > 0 && !skip {
				send(chunk{data: (*buf)[:have], buf: buf})
			} else {
				r.pool.Put(buf)
			}
			return err
		}
		data := (*buf)[:have]
		if skip {
			nl := bytes.IndexByte(data, '\n')
			if nl < 0 {
				have = 0
				if eof {
					r.pool.Put(buf)
					return nil
				}
				continue
			}
			skip = false
			have = copy(*buf, data[nl+1:])
			if !eof {
				continue
			}
			data = (*buf)[:have]
		}
		if eof {
			if have > 0 {
				if !send(chunk{data: data, buf: buf}) {
					return ctx.Err()
				}
			} else {
				r.pool.Put(buf)
			}
			return nil
		}
		cut := bytes.LastIndexByte(data, '\n') + 1
		if cut == 0 { // a whole chunk without a line end
			if !send(chunk{overlong: true}) {
				r.pool.Put(buf)
				return ctx.Err()
			}
			skip, have = true, 0
			continue
		}
		nb := r.pool.Get().(*[]byte)
		have = copy(*nb, data[cut:])
		if !send(chunk{data: data[:cut], buf: buf}) {
			r.pool.Put(nb)
			return ctx.Err()
		}
		buf = nb
	}
}

// fill reads into p until it is full or the reader fails. Unlike
// io.ReadFull it passes io.EOF through as is, so that a reader's own
// io.ErrUnexpectedEOF (a truncated gzip stream) stays an error.
func fill(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// parse counts the lines of one chunk into s.
func (r *runner) parse(s *shard, c chunk) {
	n := 0
	if c.overlong {
		n = 1
		s.lines++
		s.bad(c.src, c.seq, 1, fmt.Sprintf("line longer than %d bytes", r.chunkSize))
	}
	data := c.data
	for len(data) > 0 {
		n++
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			s.line(data, c.src, c.seq, n)
			break
		}
		s.line(data[:nl+1], c.src, c.seq, n)
		data = data[nl+1:]
	}
	if c.buf != nil {
		r.pool.Put(c.buf)
	}
	r.lines.Add(int64(n))
	r.mu.Lock()
	counts := r.lineCounts[c.src]
	if c.seq >= len(counts) {
		counts = append(counts, make([]int, c.seq+1-len(counts))...)
	}
	counts[c.seq] = n
	r.lineCounts[c.src] = counts
	r.mu.Unlock()
}

func (r *runner) inputError(src int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inputErrs = append(r.inputErrs, InputError{File: r.srcs[src].name, Error: err.Error()})
}

// position turns a sample's chunk-relative line into a line number in its
// source.
func (r *runner) position(s sample) int {
	line := s.line
	for _, n := range r.lineCounts[s.src][:s.seq] {
		line += n
	}
	return line
}

// sortedInputErrors returns the input errors in source order.
func (r *runner) sortedInputErrors() []InputError {
	order := make(map[string]int, len(r.srcs))
	for i, s := range r.srcs {
		order[s.name] = i
	}
	errs := slices.Clone(r.inputErrs)
	slices.SortStableFunc(errs, func(a, b InputError) int { return order[a.File] - order[b.File] })
	return errs
}
