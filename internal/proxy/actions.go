package proxy

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
	"github.com/albatross-lb/albatross/internal/auth"
	"github.com/albatross-lb/albatross/internal/balance"
	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
	"github.com/albatross-lb/albatross/internal/route"
	"github.com/albatross-lb/albatross/internal/snapshot"
)

// This file holds step 3 of a request (routing: the listener's rules) and the
// parts of step 4 that choose where a forwarded request goes (target group,
// stickiness, balancing algorithm), plus the answers of redirect and
// fixed-response actions.

// errorReasonTGCookieInvalid is the access log's error_reason when an
// AWSALBTG cookie cannot be read (alb-data-plane.md §2.3).
const errorReasonTGCookieInvalid = "AWSALBTGCookieInvalid"

// routing is a connection's routing scratch space, reused across requests.
type routing struct {
	req    route.Request
	sticky balance.Scratch
	// cookies holds the Set-Cookie lines the response to the current request
	// carries (target and target group stickiness).
	cookies []byte
	// app is the application-cookie stickiness decided for the current
	// request, issued when the response is known (see appendAppCookie).
	app appSticky
	loc []byte // redirect URL
	// host and uri are the current request's Host and URL as the rule's
	// transforms rewrote them, nil when not rewritten; hostBuf and uriBuf
	// hold them, and in the original URL, between requests.
	host, uri       []byte
	hostBuf, uriBuf []byte
	inURI           []byte
	// auth is what the request's authentication action decided: headers
	// for the target and for the response (empty when it has none).
	auth auth.Result
}

// maxKeptRouting bounds the routing buffers a connection keeps between
// requests (a long query string or redirect URL grows them).
const maxKeptRouting = 4 << 10

// shrink drops routing buffers an unusual request grew.
func (r *routing) shrink() {
	if cap(r.req.Scratch) > maxKeptRouting {
		r.req.Scratch = nil
	}
	if cap(r.loc) > maxKeptRouting {
		r.loc = nil
	}
	if cap(r.cookies) > maxKeptRouting {
		r.cookies = nil
	}
	if cap(r.uriBuf) > maxKeptRouting || cap(r.inURI) > maxKeptRouting {
		r.uriBuf, r.inURI = nil, nil
	}
	r.auth.Shrink()
}

// appSticky is a pending AWSALBAPP cookie.
type appSticky struct {
	on bool
	// name is the application's cookie; issue is true when the client sent
	// both it and an AWSALBAPP cookie, so the binding is refreshed (or moved
	// to the new target after a failover) whatever the target answers.
	name  string
	issue bool
	s     balance.Sticky
}

// route runs the listener's rules on the current request and returns the
// action to run, recording the matched rule in the access log entry.
func (c *conn) route(l *snapshot.Listener) *snapshot.Action {
	c.rt.cookies = c.rt.cookies[:0]
	c.rt.app = appSticky{}
	c.rt.host, c.rt.uri = nil, nil
	c.rt.auth.Reset()
	c.e.MatchedRulePriority = accesslog.PriorityDefault
	act := l.DefaultAction
	if l.Rules != nil && l.Rules.Len() > 0 {
		req := &c.req
		rr := &c.rt.req
		rr.Method = req.Method
		rr.Authority = requestHost(req)
		rr.Host, _ = splitHostPort(rr.Authority)
		rr.Path, rr.Query = route.ParseTarget(req.Target)
		rr.Headers = req.Headers
		rr.Source = c.client.Addr()
		if rule := l.Rules.Match(rr); rule != nil {
			c.e.MatchedRulePriority = rule.Priority
			act = l.RuleActions[rule.Index]
		}
		rr.Headers = nil // do not pin the request's headers
	}
	c.e.ActionsExecuted = act.Logged
	return act
}

// authenticate runs the authentication action before act (act.Auth not
// nil). answered is true when it answered the request itself (a redirect to
// the identity provider, 401, 500, 561); keep is then whether the
// connection stays open. Otherwise the request goes on to act, with the
// headers the action added (c.rt.auth).
func (c *conn) authenticate(l *snapshot.Listener, act *snapshot.Action, hasBody bool) (answered, keep bool) {
	res := &c.rt.auth
	req := c.authRequest()
	act.Auth.Run(&req, res)
	if res.ErrorReason != "" {
		c.e.ErrorReason = res.ErrorReason
	}
	if res.Status == 0 {
		return false, false
	}
	c.e.ActionsExecuted = act.Auth.Logged
	return true, c.generated(l, res.Status, "text/html", nil, nil, hasBody)
}

// authCallback answers the identity provider's redirect to
// /oauth2/idpresponse on a listener with OIDC actions.
func (c *conn) authCallback(l *snapshot.Listener, hasBody bool) bool {
	res := &c.rt.auth
	req := c.authRequest()
	auth.Callback(l.Callbacks, &req, res)
	c.e.ErrorReason = res.ErrorReason
	c.e.ActionsExecuted = "authenticate"
	status := res.Status
	if status == 0 {
		status = 500
	}
	return c.generated(l, status, "text/html", nil, nil, hasBody)
}

// authRequest is the current request as authentication actions see it.
func (c *conn) authRequest() auth.Request {
	req := auth.Request{Ctx: context.Background(), Host: requestHost(&c.req), Headers: c.req.Headers}
	req.Path, req.Query = route.ParseTarget(c.req.Target)
	return req
}

// isCallback reports whether the request is for the OIDC callback path.
func (c *conn) isCallback() bool {
	path, _ := route.ParseTarget(c.req.Target)
	return string(path) == auth.CallbackPath
}

// Values of the access log's request_transform_status. AWS documents only
// the field; "TransformSuccess" is what its logs show for a rewrite that took
// effect, and "TransformFailed" is Albatross's for one that produced an
// invalid host or URL (see docs/compatibility.md).
const (
	transformSuccess = "TransformSuccess"
	transformFailed  = "TransformFailed"
)

// transform applies a rule's transforms to the current request: the Host and
// URL it is forwarded with (c.rt.host, c.rt.uri), logged as transformed_host
// and transformed_uri. A regex that does not match leaves its part as it is.
// It returns false when a rewrite produced a host or URL that cannot be sent,
// which ALB answers with 500.
func (c *conn) transform(tf *route.Transforms) bool {
	ran, ok := false, true
	if tf.Host != nil {
		host, _ := splitHostPort(requestHost(&c.req))
		if out, matched := tf.Host.Apply(c.rt.hostBuf, host); matched {
			ran, c.rt.hostBuf = true, out
			if route.ValidHost(out) {
				c.rt.host = out
				c.e.TransformedHost = string(out)
			} else {
				ok = false
			}
		}
	}
	if tf.URL != nil {
		c.rt.inURI = appendOriginForm(c.rt.inURI[:0], c.req.Target)
		if out, matched := tf.URL.Apply(c.rt.uriBuf, c.rt.inURI); matched {
			ran, c.rt.uriBuf = true, out
			if route.ValidOriginForm(out) {
				c.rt.uri = out
				c.e.TransformedURI = string(out)
			} else {
				ok = false
			}
		}
	}
	switch {
	case !ok:
		c.e.RequestTransformStatus = transformFailed
	case ran:
		c.e.RequestTransformStatus = transformSuccess
	}
	return ok
}

// pickTarget chooses the target group (weights, group stickiness) and the
// target (target stickiness, else the group's algorithm) of a forward action,
// and prepares the stickiness cookies of the response. It returns nil when
// there is no target to send to (ALB's 503).
func (c *conn) pickTarget(l *snapshot.Listener, act *snapshot.Action, now time.Time) *snapshot.Target {
	tg := act.TargetGroup
	if tg == nil {
		if tg = c.pickGroup(l, act, now); tg == nil {
			return nil
		}
	}
	c.e.TargetGroupARN = tg.ARN
	// The candidates: the group's healthy targets, or all registered ones
	// when too few are healthy (ALB fails open); none means 503.
	targets, _ := tg.Candidates()
	if len(targets) == 0 {
		return nil
	}
	st := &tg.Attrs.Stickiness
	var t *snapshot.Target
	if st.Enabled {
		t = c.stickyTarget(l, tg, st, targets, now)
	}
	if t == nil {
		t = targets[tg.Policy.Pick(targets, now)]
	}
	if st.Enabled {
		s := balance.Sticky{Group: tg.StickyID, Target: t.Addr}
		switch st.Type {
		case config.StickinessAppCookie:
			s.Until = now.Add(st.AppCookieDuration)
			c.rt.app.on, c.rt.app.name, c.rt.app.s = true, st.AppCookieName, s
		default:
			s.Until = now.Add(st.LBCookieDuration)
			c.appendStickyCookies(l, balance.CookieLB, balance.CookieLBCORS, &s, now)
		}
	}
	return t
}

// pickGroup chooses among the target groups of a weighted forward action:
// the one an AWSALBTG cookie names when group stickiness is on and the cookie
// is valid, else by weight.
func (c *conn) pickGroup(l *snapshot.Listener, act *snapshot.Action, now time.Time) *snapshot.TargetGroup {
	chosen := -1
	if act.GroupStickiness > 0 {
		if v := http1.CookieValue(c.req.Headers, balance.CookieTG); v != nil {
			s, ok := l.LB.Cookies.Open(v, &c.rt.sticky)
			switch {
			case !ok:
				c.e.ErrorReason = errorReasonTGCookieInvalid
			case now.Before(s.Until):
				for i, g := range act.Groups {
					if g.StickyID == s.Group && act.Weights[i] > 0 {
						chosen = i
						break
					}
				}
			}
		}
	}
	if chosen < 0 {
		chosen = balance.PickWeighted(act.Weights, act.TotalWeight)
	}
	if chosen < 0 {
		return nil
	}
	tg := act.Groups[chosen]
	if act.GroupStickiness > 0 {
		s := balance.Sticky{Group: tg.StickyID, Until: now.Add(act.GroupStickiness)}
		c.appendStickyCookies(l, balance.CookieTG, balance.CookieTGCORS, &s, now)
	}
	return tg
}

// stickyTarget returns the target the request's stickiness cookie binds it to,
// or nil when there is none to honour: no cookie, one that cannot be read,
// from another target group, expired, or naming a target that is not a
// candidate any more (deregistered, or unhealthy once health checks exist).
func (c *conn) stickyTarget(l *snapshot.Listener, tg *snapshot.TargetGroup, st *config.Stickiness, targets []*snapshot.Target, now time.Time) *snapshot.Target {
	name := balance.CookieLB
	if st.Type == config.StickinessAppCookie {
		// The client must return both the application's cookie and ours.
		if http1.CookieValue(c.req.Headers, st.AppCookieName) == nil {
			return nil
		}
		name = balance.CookieApp
	}
	v := http1.CookieValue(c.req.Headers, name)
	if v == nil {
		return nil
	}
	if st.Type == config.StickinessAppCookie {
		c.rt.app.issue = true
	}
	s, ok := l.LB.Cookies.Open(v, &c.rt.sticky)
	if !ok || s.Group != tg.StickyID || !now.Before(s.Until) {
		return nil
	}
	for _, t := range targets {
		if t.Addr == s.Target {
			return t
		}
	}
	return nil
}

// appendStickyCookies adds a stickiness cookie and its CORS twin to the
// response's Set-Cookie lines. The cookies themselves always expire in 7
// days; the stickiness duration is inside the value.
func (c *conn) appendStickyCookies(l *snapshot.Listener, name, corsName string, s *balance.Sticky, now time.Time) {
	b := c.rt.cookies
	b = append(b, "Set-Cookie: "...)
	b = append(b, name...)
	b = append(b, '=')
	value := len(b)
	b = l.LB.Cookies.Append(b, s, &c.rt.sticky)
	valueEnd := len(b)
	b = append(b, "; Expires="...)
	b = now.Add(balance.CookieLifetime).UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "; Path=/\r\n"...)
	attrs := len(b) - len("\r\n")
	// The CORS twin: same value and expiry, for cross-site requests.
	b = append(b, "Set-Cookie: "...)
	b = append(b, corsName...)
	b = append(b, '=')
	b = append(b, b[value:valueEnd]...)
	b = append(b, b[valueEnd:attrs]...)
	b = append(b, "; SameSite=None; Secure\r\n"...)
	c.rt.cookies = b
}

// appendStickinessHeaders appends to a response head the Set-Cookie lines of
// the request's stickiness: those prepared by pickTarget, and the AWSALBAPP
// cookie when the target set the application's cookie or the client sent
// both cookies.
func (c *conn) appendStickinessHeaders(b []byte, l *snapshot.Listener, resp *http1.Response) []byte {
	b = append(b, c.rt.cookies...)
	b = append(b, c.rt.auth.Header...) // a renewed session's cookies
	app := &c.rt.app
	if !app.on || !(app.issue || setsCookie(resp.Headers, app.name)) {
		return b
	}
	b = append(b, "Set-Cookie: "...)
	b = append(b, balance.CookieApp...)
	b = append(b, '=')
	b = l.LB.Cookies.Append(b, &app.s, &c.rt.sticky)
	b = append(b, "; Expires="...)
	b = c.reqStart.Add(balance.CookieLifetime).UTC().AppendFormat(b, http.TimeFormat)
	return append(b, "; Path=/\r\n"...)
}

// setsCookie reports whether a response sets the cookie called name.
func setsCookie(headers []http1.Header, name string) bool {
	for _, h := range headers {
		if !http1.EqualFold(h.Name, "Set-Cookie") {
			continue
		}
		v := bytes.TrimLeft(h.Value, " \t")
		if len(v) > len(name) && v[len(name)] == '=' && string(v[:len(name)]) == name {
			return true
		}
	}
	return false
}

// redirect answers with a redirect action's Location.
func (c *conn) redirect(l *snapshot.Listener, act *snapshot.Action, hasBody bool) bool {
	req := &c.req
	rd := act.Redirect
	in := route.RedirectInput{Scheme: l.Scheme, Port: l.PortText}
	in.Host, _ = splitHostPort(requestHost(req))
	if len(in.Host) == 0 {
		in.Host = []byte(l.LB.DNSName)
	}
	in.Path, in.Query = route.ParseTarget(req.Target)
	c.rt.loc = rd.AppendLocation(c.rt.loc[:0], &in)
	if len(c.rt.loc) > route.MaxLocation {
		// ALB fails a redirect whose URL is too long
		// (HTTP_Redirect_Url_Limit_Exceeded_Count).
		return c.answer(l, 500, hasBody)
	}
	c.e.RedirectURL = c.rt.loc
	hdr := append(c.rt.cookies[:0], "Location: "...)
	hdr = append(hdr, c.rt.loc...)
	hdr = append(hdr, "\r\n"...)
	c.rt.cookies = hdr
	return c.generated(l, rd.Status, "text/html", hdr, nil, hasBody)
}

// fixedResponse answers with a fixed-response action's status and body.
func (c *conn) fixedResponse(l *snapshot.Listener, act *snapshot.Action, hasBody bool) bool {
	f := act.Fixed
	return c.generated(l, f.Status, f.ContentType, nil, f.Body, hasBody)
}

// generated sends a response the load balancer makes itself, with ALB's
// headers in ALB's order: a fixed response's body, or (body nil, type
// text/html) ALB's page for the status. extra holds more header lines.
func (c *conn) generated(l *snapshot.Listener, status int, contentType string, extra, body []byte, closeConn bool) bool {
	closeConn = closeConn || !c.req.KeepAlive || c.closing(l)
	page := body == nil && contentType == "text/html"
	n := len(body)
	if page {
		n = elbPageLen(status)
	}
	b := c.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = appendStatus(b, status)
	b = appendServerDate(b, &l.Headers)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, "\r\n"...)
	b = append(b, extra...)
	b = append(b, c.rt.auth.Header...)
	b = append(b, l.Headers.Response...)
	if closeConn {
		b = append(b, "Connection: close\r\n\r\n"...)
	} else {
		b = append(b, "Connection: keep-alive\r\n\r\n"...)
	}
	if string(c.req.Method) != "HEAD" {
		if page {
			b = appendELBPage(b, status)
		} else {
			b = append(b, body...)
		}
	}
	c.out = b
	if !c.writeClient(l.LB.Attrs.IdleTimeout, b) {
		closeConn = true
	}
	c.e.ELBStatusCode = status
	c.finish(l.LB)
	return !closeConn
}
