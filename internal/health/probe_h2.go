package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"github.com/albatross-lb/albatross/internal/accesslog"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http2"
)

// grpcEmptyMessage is a gRPC request body holding one empty message: not
// compressed, length 0. It is what a call with no arguments sends.
var grpcEmptyMessage = []byte{0, 0, 0, 0, 0}

// checkH2 runs one health check of an HTTP2 or GRPC group's target over
// HTTP/2, reached as the proxy reaches it: h2c with prior knowledge when the
// check's protocol is HTTP, TLS with ALPN h2 (certificate not verified) when
// HTTPS. Like check, it opens a new connection, sends one request and closes
// the connection, all within the timeout.
//
// An HTTP2 group's check is "GET path" judged by the HTTP status. A GRPC
// group's is a gRPC call: "POST path" with content-type application/grpc and
// one empty message, judged by the grpc-status the target answers (from the
// trailers, or from the headers of a trailers-only response) against the
// group's gRPC codes. A server that does not implement the method answers 12
// (UNIMPLEMENTED), which the default matcher accepts: it shows the server up.
func checkH2(ctx context.Context, s *settings, target netip.AddrPort) Result {
	addr := probeAddr(s, target)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c, err := dialProbe(ctx, s, addr, []string{"h2"})
	if err != nil {
		return failure(err)
	}
	defer c.Close()
	scheme := "http"
	if tc, ok := c.(*tls.Conn); ok {
		scheme = "https"
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			return Result{Reason: ReasonFailedHealthChecks, Detail: "target did not negotiate HTTP/2 (ALPN h2) in the TLS handshake, got " + strconv.Quote(p), logReason: accesslog.HealthReasonInternalError}
		}
	}
	tr := &http2.Transport{AllowHTTP: true, DisableCompression: true}
	cc, err := tr.NewClientConn(c)
	if err != nil {
		return h2Failure(ctx, err)
	}
	defer cc.Close()

	path, query, _ := strings.Cut(s.path, "?")
	req := &http.Request{
		Method:     "GET",
		URL:        &url.URL{Scheme: scheme, Host: addr, Path: path, RawQuery: query},
		Host:       addr,
		Header:     http.Header{"User-Agent": {UserAgent}},
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
	}
	if s.grpc {
		req.Method = "POST"
		req.Header["Content-Type"] = []string{"application/grpc"}
		req.Header["Te"] = []string{"trailers"}
		req.Body = io.NopCloser(bytes.NewReader(grpcEmptyMessage))
		req.ContentLength = int64(len(grpcEmptyMessage))
	}
	resp, err := cc.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return h2Failure(ctx, err)
	}
	defer resp.Body.Close()
	if !s.grpc {
		// Read what is left of a small body so that closing does not
		// interrupt the target's answer.
		io.CopyN(io.Discard, resp.Body, maxDrain)
		if s.matcher.Match(resp.StatusCode) {
			return Result{Pass: true, Code: resp.StatusCode}
		}
		return Result{Reason: ReasonResponseCodeMismatch, Code: resp.StatusCode,
			Detail: "status " + strconv.Itoa(resp.StatusCode) + " not in the matcher"}
	}

	// gRPC: a trailers-only response carries grpc-status in its headers;
	// otherwise it comes in the trailers, after the body.
	status := resp.Header.Get("Grpc-Status")
	if status == "" {
		n, err := io.CopyN(io.Discard, resp.Body, maxDrain+1)
		switch {
		case n > maxDrain:
			return Result{Reason: ReasonFailedHealthChecks, Detail: "gRPC response larger than " + strconv.Itoa(maxDrain) + " bytes", logReason: accesslog.HealthReasonInternalError}
		case err != nil && err != io.EOF:
			return h2Failure(ctx, err)
		}
		status = resp.Trailer.Get("Grpc-Status")
	}
	if status == "" {
		return Result{Reason: ReasonFailedHealthChecks,
			Detail: "response has no grpc-status (HTTP status " + strconv.Itoa(resp.StatusCode) + ")", logReason: accesslog.HealthReasonGRPCStatusHeaderEmpty}
	}
	code, err := strconv.Atoi(status)
	if err != nil || code < 0 || strconv.Itoa(code) != status {
		return Result{Reason: ReasonFailedHealthChecks, Detail: "malformed grpc-status " + strconv.Quote(status), logReason: accesslog.HealthReasonGRPCUnexpectedStatus}
	}
	if s.matcher.Match(code) {
		return Result{Pass: true, Code: code}
	}
	return Result{Reason: ReasonResponseCodeMismatch, Code: code,
		Detail: "grpc-status " + status + " not in the matcher"}
}

// h2Failure classifies a failed HTTP/2 exchange: the check's deadline is
// Target.Timeout even when the HTTP/2 client reports it as something else
// (a connection it saw closed), the rest as failure does.
func h2Failure(ctx context.Context, err error) Result {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return Result{Reason: ReasonTimeout, Detail: err.Error()}
	}
	return failure(err)
}
