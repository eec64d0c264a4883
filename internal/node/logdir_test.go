package node_test

import (
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// TestAccessLogDirectoryInS3Layout: directory mode writes gzip files named and
// placed as ALB's S3 delivery does, holding one line per request.
func TestAccessLogDirectoryInS3Layout(t *testing.T) {
	t.Parallel()
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ln := listenLoopback(t, "127.0.0.1:0")
	addr := ln.Addr().(*net.TCPAddr).AddrPort()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(target.addr)
	yaml := `region: eu-west-1
account_id: "123456789012"
load_balancers:
  - name: logs-lb
    access_log: {directory: ` + filepath.Join(dir, "logs") + `}
    listeners:
      - {port: ` + strings.Split(addr.String(), ":")[1] + `, address: 127.0.0.1, protocol: HTTP, default_actions: [{type: forward, target_group: app}]}
target_groups:
  - {name: app, protocol: HTTP, port: 80, targets: [{id: ` + host + `, port: ` + port + `}]}
`
	n := startNode(t, ln, dir, yaml)
	for i := 0; i < 3; i++ {
		resp, err := http.Get("http://" + addr.String() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(filepath.Join(dir, "logs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("files %q, want exactly one gzip file", files)
	}
	rel, _ := filepath.Rel(filepath.Join(dir, "logs"), files[0])
	pattern := `^AWSLogs/123456789012/elasticloadbalancing/eu-west-1/\d{4}/\d{2}/\d{2}/123456789012_elasticloadbalancing_eu-west-1_app\.logs-lb\.[0-9a-f]{16}_\d{8}T\d{4}Z_127\.0\.0\.1_[0-9a-z]{8}\.log\.gz$`
	if !regexp.MustCompile(pattern).MatchString(filepath.ToSlash(rel)) {
		t.Fatalf("file %s does not follow ALB's S3 key layout", rel)
	}
	f, err := openGzip(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(f, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), f)
	}
	for _, l := range lines {
		var e accesslog.Entry
		if err := accesslog.ParseLine([]byte(l), &e); err != nil || e.ELBStatusCode != 200 || !strings.HasPrefix(e.ELB, "app/logs-lb/") {
			t.Errorf("line %q: %v", l, err)
		}
	}
}

func openGzip(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(zr)
	return string(b), err
}
