package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/http1"
)

// ALB's error_reason values of authentication (alb-data-plane.md §2.3).
const (
	ReasonInvalidCookie             = "AuthInvalidCookie"
	ReasonInvalidGrant              = "AuthInvalidGrantError"
	ReasonInvalidIDToken            = "AuthInvalidIdToken"
	ReasonInvalidState              = "AuthInvalidStateParam"
	ReasonInvalidTokenResponse      = "AuthInvalidTokenResponse"
	ReasonInvalidUserinfoResponse   = "AuthInvalidUserinfoResponse"
	ReasonMissingCode               = "AuthMissingCodeParam"
	ReasonMissingHost               = "AuthMissingHostHeader"
	ReasonMissingState              = "AuthMissingStateParam"
	ReasonTokenEpFailed             = "AuthTokenEpRequestFailed"
	ReasonTokenEpTimeout            = "AuthTokenEpRequestTimeout"
	ReasonUnhandled                 = "AuthUnhandledException"
	ReasonUserinfoEpFailed          = "AuthUserinfoEpRequestFailed"
	ReasonUserinfoEpTimeout         = "AuthUserinfoEpRequestTimeout"
	ReasonUserinfoResponseSizeLimit = "AuthUserinfoResponseSizeExceeded"
)

// StatusIdPError is ALB's status when the identity provider returned an
// error.
const StatusIdPError = 561

const (
	// loginWindow is how long a login may take (ALB's fixed 15 minutes).
	loginWindow = 15 * time.Minute
	// nonceCookie binds a login's state to the browser that started it.
	nonceCookie = "AWSELBAuthNonce"
	// maxTokenResponse bounds the token endpoint's answer.
	maxTokenResponse = 64 << 10
	// dataLifetime is the lifetime of an x-amzn-oidc-data token; it is
	// signed again when less than dataRenew of it is left.
	dataLifetime = 2 * time.Minute
	dataRenew    = time.Minute
)

// oidcAction is a compiled authenticate-oidc (or -cognito) action.
type oidcAction struct {
	s      *Service
	c      config.AuthenticateOIDCConfig
	id     []byte
	signer string
	// authURL is the authorization endpoint with '?' or '&' appended;
	// extra is the encoded authentication_request_extra_params ("" or
	// "&k=v...").
	authURL, extra string
	// shards are the session cookie's names, NAME-0 to NAME-3.
	shards [maxShards]string
}

func (s *Service) newOIDC(c config.AuthenticateOIDCConfig, site Site) *oidcAction {
	o := &oidcAction{s: s, c: c, signer: site.LoadBalancerARN}
	for i := range o.shards {
		o.shards[i] = c.SessionCookieName + shardNames[i]
	}
	// The id names what a session belongs to: the load balancer (a session,
	// and its x-amzn-oidc-data whose signer is the load balancer, is never
	// one of another load balancer), the identity provider with all its
	// endpoints (a login's callback runs the token and user info endpoints
	// of the action that started it), the client and the cookie. Rules that
	// differ only in on_unauthenticated_request, scope or session_timeout
	// share their sessions, as ALB's do.
	o.id = actionID(site.LoadBalancerARN, c.Issuer, c.ClientID, c.AuthorizationEndpoint, c.TokenEndpoint, c.UserInfoEndpoint, c.SessionCookieName)
	o.authURL = c.AuthorizationEndpoint
	if strings.Contains(o.authURL, "?") {
		o.authURL += "&"
	} else {
		o.authURL += "?"
	}
	keys := make([]string, 0, len(c.AuthenticationRequestExtraParams))
	for k := range c.AuthenticationRequestExtraParams {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.extra += "&" + url.QueryEscape(k) + "=" + url.QueryEscape(c.AuthenticationRequestExtraParams[k])
	}
	return o
}

// Run runs the action on a request: res says whether to answer now or go on,
// with which headers.
func (a *Action) Run(req *Request, res *Result) {
	if a.jwt != nil {
		a.jwt.run(req, res)
		return
	}
	a.oidc.run(req, res)
}

func (o *oidcAction) run(req *Request, res *Result) {
	now := o.s.now()
	b := openBufs.Get().(*openBuf)
	defer openBufs.Put(b)
	b.joined = sessionCookie(req.Headers, &o.shards, b.joined)
	if len(b.joined) > 0 {
		sess, nonce, err := o.s.open(o.id, b.joined, b)
		switch {
		case err != nil:
			res.ErrorReason = ReasonInvalidCookie
		case now.Unix() >= sess.Expires:
			// The session timed out: log in again.
		case sess.Refresh != "" && sess.AccessExpires != 0 && now.Unix() >= sess.AccessExpires:
			if o.refresh(req, res, sess, nonce, now) {
				return
			}
		default:
			o.forward(res, sess, nonce, now)
			return
		}
	}
	o.unauthenticated(req, res, now)
}

// unauthenticated answers a request without a valid session as
// on_unauthenticated_request says.
func (o *oidcAction) unauthenticated(req *Request, res *Result, now time.Time) {
	switch o.c.OnUnauthenticatedRequest {
	case config.UnauthenticatedAllow:
		return // on to the target, without the claims
	case config.UnauthenticatedDeny:
		res.Status = 401
		return
	}
	if len(req.Host) == 0 {
		res.answer(401, ReasonMissingHost)
		return
	}
	back := string(req.Path)
	if len(req.Query) > 0 {
		back += "?" + string(req.Query)
	}
	bind := randomToken(16)
	st := &state{Action: o.id, Nonce: randomToken(16), URL: back, Until: now.Add(loginWindow).Unix(), Bind: digestString(bind)}
	sealed, err := o.s.sealState(st)
	if err != nil {
		res.answer(500, ReasonUnhandled)
		return
	}
	loc := o.authURL + "client_id=" + url.QueryEscape(o.c.ClientID) +
		"&redirect_uri=" + url.QueryEscape(redirectURI(req.Host)) +
		"&response_type=code" +
		"&scope=" + url.QueryEscape(o.c.Scope) +
		"&state=" + sealed +
		"&nonce=" + st.Nonce + o.extra
	res.Status = 302
	res.header("Location", loc)
	res.setCookie(nonceCookie, bind, time.Time{}, int(loginWindow/time.Second))
}

func redirectURI(host []byte) string {
	return "https://" + string(host) + CallbackPath
}

// forward passes a request with a valid session on, with ALB's headers.
func (o *oidcAction) forward(res *Result, sess *session, nonce []byte, now time.Time) {
	e := o.s.data.get(nonce)
	if e == nil || now.After(e.dataExp.Add(-dataRenew)) {
		data, exp, err := o.signData(sess, now)
		if err != nil {
			res.answer(500, ReasonUnhandled)
			return
		}
		e = &cachedSession{sess: sess, data: string(data), dataExp: exp}
		o.s.data.put(nonce, e)
	}
	res.upstream("x-amzn-oidc-accesstoken", sess.Access)
	res.upstream("x-amzn-oidc-identity", sess.Subject)
	res.upstream("x-amzn-oidc-data", e.data)
}

// signData signs the x-amzn-oidc-data JWT of a session: ES256, with ALB's
// header fields (kid, alg, signer, iss, client, exp) and the user claims.
func (o *oidcAction) signData(sess *session, now time.Time) ([]byte, time.Time, error) {
	exp := now.Add(dataLifetime)
	if end := time.Unix(sess.Expires, 0); end.Before(exp) {
		exp = end
	}
	hdr, err := json.Marshal(struct {
		Typ    string `json:"typ"`
		Kid    string `json:"kid"`
		Alg    string `json:"alg"`
		Iss    string `json:"iss"`
		Client string `json:"client"`
		Signer string `json:"signer"`
		Exp    int64  `json:"exp"`
	}{"JWT", o.s.kid, "ES256", o.c.Issuer, o.c.ClientID, o.signer, exp.Unix()})
	if err != nil {
		return nil, exp, err
	}
	claims := map[string]any{}
	if err := json.Unmarshal(sess.Claims, &claims); err != nil {
		return nil, exp, err
	}
	claims["exp"] = exp.Unix()
	claims["iss"] = o.c.Issuer
	payload, err := json.Marshal(claims)
	if err != nil {
		return nil, exp, err
	}
	enc := base64.RawURLEncoding
	tok := enc.AppendEncode(nil, hdr)
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, payload)
	sum := sha256.Sum256(tok)
	r, s, err := ecdsa.Sign(rand.Reader, o.s.sign, sum[:])
	if err != nil {
		return nil, exp, err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	tok = append(tok, '.')
	return enc.AppendEncode(tok, sig[:]), exp, nil
}

// Callback answers the identity provider's redirect to /oauth2/idpresponse:
// it finds, among the listener's OIDC actions, the one whose login the state
// names, exchanges the code and issues the session.
func Callback(actions []*Action, req *Request, res *Result) {
	q, err := url.ParseQuery(string(req.Query))
	if err != nil {
		res.answer(401, ReasonInvalidState)
		return
	}
	if q.Get("state") == "" {
		res.answer(401, ReasonMissingState)
		return
	}
	var s *Service
	for _, a := range actions {
		if a.oidc != nil {
			s = a.oidc.s
			break
		}
	}
	if s == nil {
		res.answer(401, ReasonInvalidState)
		return
	}
	st, nonce, err := s.openState(q.Get("state"))
	if err != nil {
		res.answer(401, ReasonInvalidState)
		return
	}
	var o *oidcAction
	for _, a := range actions {
		if a.oidc != nil && bytes.Equal(a.oidc.id, st.Action) {
			o = a.oidc
			break
		}
	}
	now := s.now()
	bind := http1.CookieValue(req.Headers, nonceCookie)
	if o == nil || now.Unix() >= st.Until || bind == nil || digestString(string(bind)) != st.Bind {
		res.answer(401, ReasonInvalidState)
		return
	}
	if !s.states.use(nonce, st.Until, now.Unix()) {
		res.answer(401, ReasonInvalidState) // replayed
		return
	}
	res.setCookie(nonceCookie, "", time.Time{}, -1)
	if q.Get("error") != "" {
		// The identity provider refused the login.
		res.answer(StatusIdPError, ReasonMissingCode)
		return
	}
	code := q.Get("code")
	if code == "" {
		res.answer(401, ReasonMissingCode)
		return
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI(req.Host)}}
	tok, reason, status := o.token(req.Ctx, form)
	if reason != "" {
		res.answer(status, reason)
		return
	}
	sub, reason := o.checkIDToken(tok.IDToken, st.Nonce, now)
	if reason != "" {
		res.answer(401, reason)
		return
	}
	sess, reason, status := o.newSession(req.Ctx, tok, now, now.Add(time.Duration(o.c.SessionTimeout)*time.Second))
	if reason != "" {
		res.answer(status, reason)
		return
	}
	if sess.Subject != sub {
		// OpenID Connect Core §5.3.2: the user info must be of the user the
		// ID token names, or the response is not to be used.
		o.s.log.Info("authenticate: user info is of another subject than the ID token", "endpoint", o.c.UserInfoEndpoint)
		res.answer(401, ReasonInvalidUserinfoResponse)
		return
	}
	if !o.issue(req, res, sess, now) {
		return
	}
	res.Status = 302
	res.header("Location", "https://"+string(req.Host)+st.URL)
}

// issue seals a session into the response's cookies.
func (o *oidcAction) issue(req *Request, res *Result, sess *session, now time.Time) bool {
	v, err := o.s.seal(o.id, sess)
	if err == nil {
		err = appendSessionCookies(res, &o.shards, v, countShards(req.Headers, &o.shards), now)
	}
	if err != nil {
		o.s.log.Warn("authenticate: cannot issue the session cookie", "issuer", o.c.Issuer, "err", err)
		res.answer(500, ReasonUserinfoResponseSizeLimit)
		return false
	}
	return true
}

// refresh renews a session whose access token expired with its refresh
// token, and passes the request on; false when it could not (the request
// is then unauthenticated). nonce is the old cookie's: requests that carry
// the same cookie at once (a browser loading a page) share one refresh,
// since a provider that rotates refresh tokens accepts the old one once.
func (o *oidcAction) refresh(req *Request, res *Result, old *session, nonce []byte, now time.Time) bool {
	call, first := o.s.refreshes.start(nonce, now)
	if !first {
		ctx := req.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		select {
		case <-call.done:
		case <-ctx.Done():
			return false
		}
		if call.sess == nil {
			res.ErrorReason = call.reason
			return false
		}
		return o.passRefreshed(req, res, call, now)
	}
	o.renew(req, old, now, call)
	o.s.refreshes.finish(nonce, call, now)
	if call.sess == nil {
		res.ErrorReason = call.reason
		return false
	}
	return o.passRefreshed(req, res, call, now)
}

// renew makes the refresh of call: the refresh_token grant, the user info,
// the new session sealed and its x-amzn-oidc-data signed.
func (o *oidcAction) renew(req *Request, old *session, now time.Time, call *refreshCall) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old.Refresh}}
	tok, reason, _ := o.token(req.Ctx, form)
	if reason != "" {
		call.reason = reason
		return
	}
	if tok.RefreshToken == "" {
		tok.RefreshToken = old.Refresh
	}
	sess, reason, _ := o.newSession(req.Ctx, tok, now, time.Unix(old.Expires, 0))
	if reason != "" {
		call.reason = reason
		return
	}
	if sess.Subject != old.Subject {
		call.reason = ReasonInvalidUserinfoResponse
		return
	}
	sealed, err := o.s.seal(o.id, sess)
	if err != nil {
		call.reason = ReasonUnhandled
		return
	}
	data, _, err := o.signData(sess, now)
	if err != nil {
		call.reason = ReasonUnhandled
		return
	}
	call.sess, call.sealed, call.data = sess, sealed, string(data)
}

// passRefreshed passes a request on with the renewed session of call: its
// cookies on the response, its headers to the target.
func (o *oidcAction) passRefreshed(req *Request, res *Result, call *refreshCall, now time.Time) bool {
	if err := appendSessionCookies(res, &o.shards, call.sealed, countShards(req.Headers, &o.shards), now); err != nil {
		o.s.log.Warn("authenticate: cannot issue the session cookie", "issuer", o.c.Issuer, "err", err)
		res.Header = res.Header[:0]
		res.ErrorReason = ReasonUserinfoResponseSizeLimit
		return false
	}
	res.upstream("x-amzn-oidc-accesstoken", call.sess.Access)
	res.upstream("x-amzn-oidc-identity", call.sess.Subject)
	res.upstream("x-amzn-oidc-data", call.data)
	return true
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
	Error        string `json:"error"`
}

// token calls the token endpoint with the client's credentials in HTTP
// Basic authentication (client_secret_basic).
func (o *oidcAction) token(ctx context.Context, form url.Values) (*tokenResponse, string, int) {
	if ctx == nil {
		ctx = context.Background()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, o.c.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, ReasonUnhandled, 500
	}
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.Header.Set("Accept", "application/json")
	hreq.SetBasicAuth(url.QueryEscape(o.c.ClientID), url.QueryEscape(o.c.ClientSecret))
	resp, err := o.s.client.Do(hreq)
	if err != nil {
		o.s.log.Warn("authenticate: token endpoint unreachable", "endpoint", o.c.TokenEndpoint, "err", err)
		return nil, ReasonTokenEpTimeout, 500
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, ReasonTokenEpTimeout, 500
	}
	var tok tokenResponse
	jsonErr := json.Unmarshal(body, &tok)
	if resp.StatusCode/100 != 2 {
		o.s.log.Info("authenticate: token endpoint refused", "endpoint", o.c.TokenEndpoint, "status", resp.StatusCode, "error", tok.Error)
		if tok.Error == "invalid_grant" {
			return nil, ReasonInvalidGrant, StatusIdPError
		}
		return nil, ReasonTokenEpFailed, StatusIdPError
	}
	if len(body) > maxTokenResponse || jsonErr != nil || tok.AccessToken == "" || tok.IDToken == "" && form.Get("grant_type") == "authorization_code" {
		o.s.log.Info("authenticate: invalid token response", "endpoint", o.c.TokenEndpoint, "bytes", len(body))
		return nil, ReasonInvalidTokenResponse, 500
	}
	return &tok, "", 0
}

// checkIDToken checks the ID token the token endpoint returned: issuer,
// audience, expiry and nonce; it returns the token's subject, or the
// error_reason. It came straight from the token endpoint over
// TLS, which OpenID Connect Core §3.1.3.7 lets stand for its signature (ALB
// is given no JWKS for it either).
func (o *oidcAction) checkIDToken(raw, nonce string, now time.Time) (string, string) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512, jose.PS256, jose.PS384, jose.PS512, jose.EdDSA})
	if err != nil {
		return "", ReasonInvalidIDToken
	}
	var c struct {
		jwt.Claims
		Nonce string `json:"nonce"`
	}
	if err := tok.UnsafeClaimsWithoutVerification(&c); err != nil {
		return "", ReasonInvalidIDToken
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Issuer: o.c.Issuer, AnyAudience: jwt.Audience{o.c.ClientID}, Time: now}, time.Minute); err != nil || c.Nonce != nonce || c.Subject == "" {
		return "", ReasonInvalidIDToken
	}
	return c.Subject, ""
}

// newSession fetches the user's claims and makes a session of them.
func (o *oidcAction) newSession(ctx context.Context, tok *tokenResponse, now, expires time.Time) (*session, string, int) {
	if ctx == nil {
		ctx = context.Background()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, o.c.UserInfoEndpoint, nil)
	if err != nil {
		return nil, ReasonUnhandled, 500
	}
	hreq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	hreq.Header.Set("Accept", "application/json")
	resp, err := o.s.client.Do(hreq)
	if err != nil {
		o.s.log.Warn("authenticate: user info endpoint unreachable", "endpoint", o.c.UserInfoEndpoint, "err", err)
		return nil, ReasonUserinfoEpTimeout, 500
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		o.s.log.Info("authenticate: user info endpoint refused", "endpoint", o.c.UserInfoEndpoint, "status", resp.StatusCode)
		return nil, ReasonUserinfoEpFailed, StatusIdPError
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxClaims+1))
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, ReasonUserinfoEpTimeout, 500
		}
		return nil, ReasonInvalidUserinfoResponse, 500
	}
	if len(body)+len(tok.AccessToken) > maxClaims {
		return nil, ReasonUserinfoResponseSizeLimit, 500
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(body, &claims); err != nil || claims.Sub == "" || !json.Valid(body) || body[0] != '{' {
		return nil, ReasonInvalidUserinfoResponse, 500
	}
	sess := &session{
		ID:      []byte(randomToken(12)),
		Subject: claims.Sub,
		Claims:  json.RawMessage(body),
		Access:  tok.AccessToken,
		Refresh: tok.RefreshToken,
		Expires: expires.Unix(),
	}
	if tok.ExpiresIn > 0 {
		sess.AccessExpires = now.Unix() + tok.ExpiresIn
	}
	return sess, "", 0
}

func digest(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func digestString(s string) string {
	return base64.RawURLEncoding.EncodeToString(digest([]byte(s)))
}
