// Package elbv2test holds what tests that drive the ELBv2 API with the AWS SDK
// for Go v2 share.
package elbv2test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// HTTPClient returns the HTTP client to give the SDK (Options.HTTPClient).
//
// It works around a race between the SDK and net/http that a fast local
// server exposes (aws-sdk-go-v2 issues 1825 and 2737). smithy-go closes the
// request body as soon as the response headers arrive, and a closed body's
// WriteTo returns io.EOF. net/http's write loop sends the body and then reads
// the body once more to check that it holds no more than Content-Length bytes;
// when the response has already arrived and the SDK has closed the body, that
// check gets io.EOF, net/http treats it as a failed write and closes the
// connection, and the SDK, still reading the response, fails with "use of
// closed network connection". The server has done nothing wrong: it answered
// after reading the whole request. The request body is sent first (net/http
// flushes the headers before a body it cannot see is in memory), so the race
// needs no large request, only a quick answer.
//
// The client copies each request body into memory before net/http sees it,
// so net/http reads a body the SDK never closes. It does not retry anything:
// a request that fails still fails.
func HTTPClient() *http.Client {
	return &http.Client{Transport: bufferedBodies{http.DefaultTransport.(*http.Transport).Clone()}}
}

type bufferedBodies struct{ next http.RoundTripper }

func (b bufferedBodies) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return b.next.RoundTrip(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the request body: %w", err)
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return b.next.RoundTrip(r2)
}
