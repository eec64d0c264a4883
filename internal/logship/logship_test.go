package logship

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/testutil/s3test"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// shipper returns a shipper of o uploading to srv with the test's
// credentials (a spool in the test's directory unless o names one).
func shipper(t testing.TB, srv *s3test.Server, o Options) *Shipper {
	t.Helper()
	s3test.SetEnv(t)
	c, err := NewS3Client(context.Background(), S3Options{Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	o.Client = c
	if o.Spool == "" {
		o.Spool = filepath.Join(t.TempDir(), "spool")
	}
	sh, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// writeLog writes n access log lines into dir, as a node does, and closes
// the file.
func writeLog(t testing.TB, dir string, n int) {
	t.Helper()
	writeLogPrefix(t, dir, n, "")
}

// writeLogPrefix is writeLog with file names starting with prefix (ALB's
// connection and health-check logs), the lines being access log lines.
func writeLogPrefix(t testing.TB, dir string, n int, prefix string) {
	t.Helper()
	w, err := accesslog.Open(accesslog.Options{Directory: dir, AccountID: "123456789012", Region: "us-east-1",
		LoadBalancerID: "app/web/0123456789abcdef", NodeIP: "10.0.0.7", FilePrefix: prefix, Buffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		// Lines that differ as real ones do (client port, path, trace id,
		// timings), so that they compress as real logs do.
		e := accesslog.Entry{Type: "http", Time: time.Now(), ELB: "app/web/0123456789abcdef",
			Client: netip.AddrPortFrom(netip.MustParseAddr("192.0.2.1"), uint16(1024+i%60000)), ELBStatusCode: 200,
			Request:               fmt.Appendf(nil, "GET http://x:80/users/%d/orders?page=%d HTTP/1.1", i*7919%100003, i%13),
			TraceID:               fmt.Appendf(nil, "Root=1-%08x-%024x", i, uint64(i)*0x9e3779b97f4a7c15),
			RequestProcessingTime: time.Duration(i%1000) * time.Microsecond, TargetProcessingTime: time.Duration(i*31%20000) * time.Microsecond}
		w.Log(&e)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, srv *s3test.Server, bucket, key string) []byte {
	t.Helper()
	out, err := srv.Client(t).GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return b
}

func gunzipLines(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

var albKey = regexp.MustCompile(`^prod/app/AWSLogs/123456789012/elasticloadbalancing/us-east-1/\d{4}/\d{2}/\d{2}/` +
	`123456789012_elasticloadbalancing_us-east-1_app\.web\.0123456789abcdef_\d{8}T\d{4}Z_10\.0\.0\.7_[a-z0-9]{8}\.log\.gz$`)

// TestShipUnderALBKeys: a log written into the spool reaches the bucket under
// ALB's key, whole, and leaves the spool; the test file is where ALB puts it.
func TestShipUnderALBKeys(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "logs")
	sh := shipper(t, srv, Options{})
	writeLog(t, sh.Dir("logs", "prod/app"), 25)
	if err := sh.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := srv.Keys(t, "logs", "")
	if len(keys) != 1 || !albKey.MatchString(keys[0]) {
		t.Fatalf("keys %q, want one access log under ALB's key", keys)
	}
	if lines := gunzipLines(t, get(t, srv, "logs", keys[0])); len(lines) != 25 {
		t.Errorf("%d lines uploaded, want 25", len(lines))
	}
	if files, _ := sh.scan(); len(files) != 0 {
		t.Errorf("the spool still holds %v", files)
	}
	if err := sh.WriteTestFile(context.Background(), "logs", "prod/app", "123456789012"); err != nil {
		t.Fatal(err)
	}
	if b := get(t, srv, "logs", "prod/app/AWSLogs/123456789012/ELBAccessLogTestFile"); !bytes.HasPrefix(b, []byte("Enable AccessLog for ELB: ")) {
		t.Errorf("test file %q", b)
	}
}

// TestShipWhileStoreDown: with the server down the file stays in the spool;
// once it is back, the next flush uploads it and nothing is lost.
func TestShipWhileStoreDown(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "logs")
	sh := shipper(t, srv, Options{})
	srv.Stop()
	writeLog(t, sh.Dir("logs", ""), 40)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	if err := sh.Flush(ctx); err == nil {
		t.Fatal("flush succeeded with the server down")
	}
	cancel()
	if files, _ := sh.scan(); len(files) != 1 {
		t.Fatalf("spool %v, want the one file kept", files)
	}
	srv.Restart()
	if err := sh.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	keys := srv.Keys(t, "logs", "AWSLogs/")
	if len(keys) != 1 {
		t.Fatalf("keys %q", keys)
	}
	if lines := gunzipLines(t, get(t, srv, "logs", keys[0])); len(lines) != 40 {
		t.Errorf("%d lines after the outage, want 40", len(lines))
	}
}

// TestSpoolBound: past its bound the spool drops its oldest files and counts
// their lines.
func TestSpoolBound(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "logs")
	dropped := map[string]int{}
	sh := shipper(t, srv, Options{MaxSpoolBytes: 1, Dropped: func(log string, n int) { dropped[log] += n }})
	srv.Stop()
	// Four files, oldest first: a health-check log of 7 lines and access
	// logs of 10, 11 and 12 lines.
	writeLogPrefix(t, sh.Dir("logs", ""), 7, accesslog.HealthLogFilePrefix)
	writeLog(t, sh.Dir("logs", ""), 10)
	writeLog(t, sh.Dir("logs", ""), 11)
	writeLog(t, sh.Dir("logs", ""), 12)
	files, err := sh.scan()
	if err != nil || len(files) != 4 {
		t.Fatalf("spool holds %d files (%v), want 4", len(files), err)
	}
	base := time.Now().Add(-time.Hour)
	for i, f := range files {
		// scan orders by modification time; make it the order of writing.
		if err := os.Chtimes(f.path, base.Add(time.Duration(i)*time.Minute), base.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ = sh.scan()
	if accesslog.FileKind(files[0].key) != accesslog.KindHealthCheck {
		t.Fatalf("oldest file %s is not the health-check log", files[0].key)
	}
	// Room for the two newest files only.
	sh.opts.MaxSpoolBytes = files[2].size + files[3].size
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	sh.Flush(ctx) // the server is down: nothing uploads, the bound drops
	if dropped["health_check"] != 7 || dropped["access"] != 10 || len(dropped) != 2 {
		t.Errorf("dropped %v, want exactly the 7 health-check and 10 access lines of the two oldest files", dropped)
	}
	srv.Restart()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := sh.Flush(ctx2); err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, key := range srv.Keys(t, "logs", "AWSLogs/") {
		lines += len(gunzipLines(t, get(t, srv, "logs", key)))
	}
	if lines != 23 {
		t.Errorf("uploaded %d lines, want the 23 of the two files kept", lines)
	}
	if files, _ := sh.scan(); len(files) != 0 {
		t.Errorf("spool %v after uploading", files)
	}
}

// TestSalvage: the file a killed node was writing (a gzip stream cut short)
// becomes a complete file of its whole lines, under its final name.
func TestSalvage(t *testing.T) {
	spool := t.TempDir()
	sh, err := New(Options{Spool: spool, Client: nil})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(sh.Dir("logs", ""), "AWSLogs", "123456789012", "elasticloadbalancing", "us-east-1", "2026", "12", "06")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("line one\nline two\nline thr"))
	zw.Flush() // on disk so far; the stream has no end
	tmp := filepath.Join(dir, ".x_20261206T1205Z_10.0.0.7_abcdefgh.log.gz.tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := sh.Salvage(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the cut file is still there: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "x_20261206T1205Z_10.0.0.7_abcdefgh.log.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := gunzipLines(t, b); strings.Join(lines, "|") != "line one|line two" {
		t.Errorf("salvaged %q", lines)
	}
}
