package proxy

import (
	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/desync"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// Desync mitigation (spec §9) and invalid header names (spec §7.8): the part
// of the checks before routing that grades how the request is framed.

// classify grades the request head in c.req, records the class and reason in
// the access log entry and returns what the load balancer's
// routing.http.desync_mitigation_mode does with it.
func (c *conn) classify(l *snapshot.Listener) desync.Action {
	v := desync.Classify(&c.req)
	c.e.Classification, c.e.ClassificationReason = v.LogFields()
	return desync.ModeOf(l.LB.Attrs.DesyncMitigationMode).Decide(v)
}

// mitigate applies the desync mitigation mode to the parsed request and
// reports whether it is rejected (400, then close). A request forwarded in
// defensive mode although Ambiguous is marked so that its client and target
// connections both close after it.
func (c *conn) mitigate(l *snapshot.Listener) (reject bool) {
	c.closeTarget = false
	switch c.classify(l) {
	case desync.Reject:
		return true
	case desync.ForwardThenClose:
		c.req.KeepAlive = false
		c.closeTarget = true
	}
	return false
}

// classifyFramingError grades a head that the codec parsed whole but whose
// body length it cannot know (http1.Error.Complete), and returns the status to
// answer: 400 when the mode blocks the request, the codec's status otherwise.
// Such a request cannot be forwarded in any mode: nothing says where its body
// ends.
func (c *conn) classifyFramingError(l *snapshot.Listener, perr *http1.Error) int {
	if c.classify(l) == desync.Reject {
		return 400
	}
	return perr.Status
}

// classifyRefused grades a head the codec refused outright (NUL, bare CR, a
// malformed request line, a field line without a colon) for the access log.
// Such a request is answered with the codec's status in every mode: there is
// no reading of it that could be forwarded.
func (c *conn) classifyRefused() {
	v := desync.ClassifyRaw(c.buf[c.r:c.w], &c.req)
	c.e.Classification, c.e.ClassificationReason = v.LogFields()
}

// noteInvalidHeaders records in the entry whether the request has header names
// that are not [-A-Za-z0-9]+ and whether they are dropped or forwarded.
func (c *conn) noteInvalidHeaders(l *snapshot.Listener) {
	for _, h := range c.req.Headers {
		if !validHeaderName(h.Name) {
			if l.LB.Attrs.DropInvalidHeaderFields {
				c.e.InvalidHeaders = accesslog.InvalidHeadersDropped
			} else {
				c.e.InvalidHeaders = accesslog.InvalidHeadersForwarded
			}
			return
		}
	}
}
