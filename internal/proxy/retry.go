package proxy

import (
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/snapshot"
	"github.com/albatross-lb/albatross/internal/upstream"
)

// ReasonRetried is the error_reason (access log field 25) of a request that was
// sent a second time, on a new connection, after the target closed the reused
// connection its first attempt rode. ALB never retries and has no such code
// (spec §2.1, §2.3); the Albatross prefix keeps it apart from AWS's codes. The
// failed attempt stays in target:port_list and target_status_code_list (fields
// 26, 27) with the status "-".
const ReasonRetried = "AlbatrossRetriedOnNewConnection"

// replayable reports whether req can be sent again as it is: its method is
// idempotent and none of its body remains to be streamed from the client
// (remaining is what did not fit in the outgoing head), so that the whole
// request is still at hand.
func replayable(req *http1.Request, remaining int64) bool {
	switch req.Body {
	case http1.BodyNone:
	case http1.BodyLength:
		if remaining > 0 {
			return false
		}
	default:
		return false
	}
	return upstream.Idempotent(req.Method)
}

// retryAfter reports whether the request is to be sent once more after its
// attempt failed with err: only once, only when the target group's
// target_keep_alive.retry_mode is safe, and only when upstream.Retryable says it
// is safe. It records the retry in the access log entry and the pool's counters.
func (c *conn) retryAfter(t *snapshot.Target, err error, replayable bool, attempt int) bool {
	if attempt > 1 || !t.Retry || !upstream.Retryable(err, replayable) {
		return false
	}
	c.e.ErrorReason = ReasonRetried
	t.Pool.CountRetry()
	return true
}
