// Package s3test starts a real S3-compatible server for tests: Versity's S3
// gateway (versitygw, built from the Go module proxy; .ci/run installs it)
// with its POSIX backend, on a 127.0.0.1 ephemeral port, its buckets in the
// test's temporary directory, SigV4 authentication on the test's access key.
// Tests skip, saying how to get it, when the binary is absent. The server is
// killed when the test ends.
package s3test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// The test's S3 credentials.
const (
	AccessKeyID     = "AKIDS3TEST00000001"
	SecretAccessKey = "s3-test-secret"
	Region          = "us-east-1"
)

// GatewayVersion is the versitygw release .ci/run installs.
const GatewayVersion = "v1.8.0"

// Server is a running S3 gateway.
type Server struct {
	// URL is the S3 endpoint, http://127.0.0.1:PORT.
	URL  string
	t    testing.TB
	bin  string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
	out  *testutil.SyncBuffer
}

// Start starts the server and waits until it stores objects.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	port := strconv.Itoa(testutil.FreePort(t))
	s := &Server{URL: "http://127.0.0.1:" + port, t: t, bin: bin, args: []string{
		"--port", "127.0.0.1:" + port, "--access", AccessKeyID, "--secret", SecretAccessKey,
		"--region", Region, "--quiet", "posix", dir}}
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Restart starts the stopped server again on the same data and port and
// waits until it stores objects.
func (s *Server) Restart() {
	t := s.t
	t.Helper()
	cmd := exec.Command(s.bin, s.args...)
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", s.bin, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.cmd, s.done, s.out = cmd, done, out
	c := s.Client(t)
	deadline := time.Now().Add(60 * time.Second)
	// Ready is when an object can be stored, not when the port first accepts.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(readyBucket)})
		var owned *types.BucketAlreadyOwnedByYou
		var exists *types.BucketAlreadyExists
		if err == nil || errors.As(err, &owned) || errors.As(err, &exists) {
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(readyBucket), Key: aws.String("probe"), Body: strings.NewReader("ok")})
		}
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("the S3 gateway exited before it answered:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the S3 gateway is not answering after 60 s (%v):\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server with SIGKILL, as an outage would, and waits until it
// has exited.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
	if s.t.Failed() {
		s.t.Logf("S3 gateway output:\n%s", s.out.String())
	}
	s.cmd = nil
}

// Binary returns the path of the versitygw binary ($ALBATROSS_VERSITYGW, else
// versitygw on PATH, else $(go env GOPATH)/bin/versitygw), or skips.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ALBATROSS_VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("Versity's S3 gateway (versitygw) is not installed: go install github.com/versity/versitygw/cmd/versitygw@" + GatewayVersion + " (as .ci/run does), or set ALBATROSS_VERSITYGW")
	return ""
}

// readyBucket is the bucket the readiness probe writes to.
const readyBucket = "s3test-ready"

// SetEnv points the AWS SDK of this process, and of the processes it starts,
// at the test's credentials and region for the rest of the test: the
// credential variables, no instance metadata, and no shared config or
// credentials file (they name files that do not exist), so that nothing on
// the machine takes part.
func SetEnv(t testing.TB) {
	t.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", SecretAccessKey)
	t.Setenv("AWS_REGION", Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	none := filepath.Join(t.TempDir(), "none")
	t.Setenv("AWS_CONFIG_FILE", none)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
}

// Client returns an SDK client of the server with the test's credentials.
func (s *Server) Client(t testing.TB) *s3.Client {
	return s3.New(s3.Options{Region: Region, BaseEndpoint: aws.String(s.URL), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Timeout: 30 * time.Second}})
}

// Bucket creates a bucket.
func (s *Server) Bucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client(t).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
}

// Keys lists the keys of bucket under prefix.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(t), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}
