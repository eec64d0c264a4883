package health

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/http1"
)

// UserAgent is the User-Agent of ALB's health checks.
const UserAgent = "ELB-HealthChecker/2.0"

const (
	// probeBufSize is a check's initial read buffer; it grows up to the
	// response head limit when a head needs it.
	probeBufSize = 4 << 10
	// maxDrain bounds the response body a check reads before closing, so that
	// a target is not reset in the middle of its answer (some log that as an
	// error) while a huge body cannot keep the checker busy.
	maxDrain = 64 << 10
)

var methodGET = []byte("GET")

// check runs one health check of target: a new TCP connection (TLS for
// HTTPS, certificate not verified), "GET path HTTP/1.1" with ALB's headers,
// the status code compared with the matcher, the connection closed. Nothing
// is reused from one check to the next but the read buffer, so a check can
// never pass on a connection a dead target left behind. The whole check,
// connect included, must finish within the timeout.
func check(ctx context.Context, s *settings, target netip.AddrPort, buf []byte) (Result, []byte) {
	addr := probeAddr(s, target)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	c, err := dialProbe(ctx, s, addr, nil)
	if err != nil {
		return failure(err), buf
	}
	defer c.Close()

	if cap(buf) < probeBufSize {
		buf = make([]byte, probeBufSize)
	}
	buf = buf[:cap(buf)]
	req := append(buf[:0], "GET "...)
	req = append(req, s.path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, addr...)
	req = append(req, "\r\nUser-Agent: "+UserAgent+"\r\n\r\n"...)
	if len(req) > len(buf) {
		buf = req // the path made it grow
	}
	if _, err := c.Write(req); err != nil {
		return failure(err), buf
	}

	var resp http1.Response
	w := 0
	for {
		n, err := c.Read(buf[w:])
		w += n
		if w > 0 {
			perr := http1.ParseResponse(buf[:w], &resp, methodGET)
			if perr == nil {
				if resp.Status < 200 && resp.Status != 101 {
					// An interim response: skip it.
					w = copy(buf, buf[resp.HeadLen:w])
					continue
				}
				break
			}
			if perr != http1.ErrIncomplete {
				return Result{Reason: ReasonFailedHealthChecks, Detail: "malformed response: " + perr.Error(), logReason: accesslog.HealthReasonInternalError}, buf
			}
		}
		if err != nil {
			if n > 0 {
				continue
			}
			if errors.Is(err, io.EOF) {
				err = errors.New("target closed the connection before a complete response head")
			}
			return failure(err), buf
		}
		if w == len(buf) {
			if len(buf) >= http1.MaxResponseHead+probeBufSize {
				return Result{Reason: ReasonFailedHealthChecks, Detail: "response head too large", logReason: accesslog.HealthReasonInternalError}, buf
			}
			nb := make([]byte, 2*len(buf))
			copy(nb, buf[:w])
			buf = nb
		}
	}
	drain(c, &resp, buf, w)
	if s.matcher.Match(resp.Status) {
		return Result{Pass: true, Code: resp.Status}, buf
	}
	return Result{Reason: ReasonResponseCodeMismatch, Code: resp.Status,
		Detail: "status " + strconv.Itoa(resp.Status) + " not in the matcher"}, buf
}

// probeAddr is the address a check of target connects to: the health check
// port, or the target's own.
func probeAddr(s *settings, target netip.AddrPort) string {
	port := s.port
	if port == 0 {
		port = target.Port()
	}
	return netip.AddrPortFrom(target.Addr(), port).String()
}

// dialProbe opens a check's new connection to addr: TCP, then TLS for an HTTPS
// check (certificate not verified, nextProtos offered by ALPN). The connection
// expires at ctx's deadline and is cut when ctx ends, so that a check the
// registry abandons stops at once.
func dialProbe(ctx context.Context, s *settings, addr string, nextProtos []string) (net.Conn, error) {
	deadline, _ := ctx.Deadline()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(deadline)
	context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	if !s.https {
		return nc, nil
	}
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true, NextProtos: nextProtos}) // ALB does not verify target certificates
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// drain reads what is left of the response body (up to maxDrain bytes, within
// the check's deadline) so that closing does not reset a target still writing.
// buf[:w] holds the head and whatever followed it.
func drain(c net.Conn, resp *http1.Response, buf []byte, w int) {
	rest := w - resp.HeadLen
	switch resp.Body {
	case http1.BodyLength:
		left := resp.ContentLength - int64(rest)
		if left > 0 && left <= maxDrain {
			io.CopyN(io.Discard, c, left)
		}
	case http1.BodyChunked:
		var sc http1.ChunkedScanner
		p := buf[resp.HeadLen:w]
		read := 0
		for read <= maxDrain {
			_, done, err := sc.Scan(p)
			if done || err != nil {
				return
			}
			n, rerr := c.Read(buf)
			if n == 0 && rerr != nil {
				return
			}
			p = buf[:n]
			read += n
		}
	case http1.BodyUntilClose:
		io.CopyN(io.Discard, c, maxDrain)
	}
}

// failure classifies a failed connect, write or read: a timeout is
// Target.Timeout, anything else (refused, reset, closed, TLS failure) is
// Target.FailedHealthChecks, and ConnectionReset in the health-check log.
func failure(err error) Result {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return Result{Reason: ReasonTimeout, Detail: err.Error()}
	}
	return Result{Reason: ReasonFailedHealthChecks, Detail: err.Error(), logReason: accesslog.HealthReasonConnectionReset}
}

// LogReason is the health-check log's reason_code for r (spec §1.6): "" for
// a pass; TimedOut; a status outside the matcher is TargetError when it is a
// 5xx and ResponseCodeMismatch otherwise (GRPCUnexpectedStatus for a gRPC
// check); a connection that failed is ConnectionReset; a response that
// could not be read is InternalError (GRPCStatusHeaderEmpty without a
// grpc-status).
func (r Result) LogReason(grpc bool) string {
	switch {
	case r.Pass:
		return ""
	case r.logReason != "":
		return r.logReason
	case r.Reason == ReasonTimeout:
		return accesslog.HealthReasonTimedOut
	case r.Reason == ReasonResponseCodeMismatch && grpc:
		return accesslog.HealthReasonGRPCUnexpectedStatus
	case r.Reason == ReasonResponseCodeMismatch && r.Code >= 500:
		return accesslog.HealthReasonTargetError
	case r.Reason == ReasonResponseCodeMismatch:
		return accesslog.HealthReasonResponseCodeMismatch
	}
	return accesslog.HealthReasonInternalError
}
