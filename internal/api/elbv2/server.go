// Package elbv2 serves the Elastic Load Balancing v2 management API (version
// 2015-12-01, AWS Query protocol) that the AWS CLI, the AWS SDKs and Terraform
// speak: form-encoded POSTs dispatched on Action, checked with SigV4, answered
// in AWS's XML with AWS's error codes. Every change goes through the control
// plane (package control), which applies it to the running node and makes it
// durable before the response is written.
//
// The wire format, shapes, validation rules and error codes follow
// elbv2-api.md; the operations are in one file per resource kind.
package elbv2

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
	"github.com/albatross-lb/albatross/internal/state"
)

// DefaultMaxBodyBytes caps a request body. The largest legitimate ELBv2
// request (a rule with every condition and action) is a few KiB.
const DefaultMaxBodyBytes = 256 << 10

// TargetHealth is a target's health as the health checker reports it.
type TargetHealth struct {
	// State is initial, healthy, unhealthy, unused, draining or unavailable.
	State string
	// Reason and Description are AWS's reason code and text (empty when
	// healthy).
	Reason      string
	Description string
	// HealthCheckPort is the port health checks go to (0: the target's port).
	HealthCheckPort int
	// Anomalous and Mitigated are the anomaly detector's verdict, reported
	// as AnomalyDetection for groups with anomaly mitigation on.
	Anomalous, Mitigated bool
}

// HealthFunc returns the health of target addr of the named target group, and
// whether the health checker knows the target.
type HealthFunc func(targetGroup string, addr netip.AddrPort) (TargetHealth, bool)

// Options configures the API handler.
type Options struct {
	// Controller is the control plane the API reads and changes.
	Controller *control.Controller
	// Credentials are the access keys whose signatures are accepted. It must
	// not be empty.
	Credentials Credentials
	// Health reports target health; nil until a health checker is wired in,
	// and then DescribeTargetHealth says what the configuration knows.
	Health HealthFunc
	// CheckLogBucket, when set, writes ALB's test object
	// (AWSLogs/ACCOUNT/ELBAccessLogTestFile under prefix) to a log bucket
	// that ModifyLoadBalancerAttributes turns on or moves to; an error refuses
	// the call with InvalidConfigurationRequest, as ALB refuses a bucket it
	// cannot write to, and changes nothing.
	CheckLogBucket func(ctx context.Context, bucket, prefix string) error
	// MaxBodyBytes caps request bodies (DefaultMaxBodyBytes when zero).
	MaxBodyBytes int64
	// Now is the clock for signatures (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the API. Mount it on POST / of the admin server.
type Handler struct {
	opts Options
	log  *slog.Logger
}

// New returns an API handler.
func New(opts Options) (*Handler, error) {
	if opts.Controller == nil {
		return nil, errors.New("elbv2: no controller")
	}
	if len(opts.Credentials) == 0 {
		return nil, errors.New("elbv2: no API credentials")
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{opts: opts, log: opts.Logger}, nil
}

// call is one API request being served.
type call struct {
	h      *Handler
	ctx    context.Context
	action string
	f      form
	ctrl   *control.Controller
}

// operation serves one action: it writes the members of the {Action}Result
// element, or returns an error.
type operation func(c *call, w *xmlWriter) error

// updateThenWrite applies change as one durable transaction and, once it is
// committed, writes one resource as the only member of list: write reads it
// with the model as committed (for ARNs of the resources it refers to).
func updateThenWrite(c *call, w *xmlWriter, list string, change func(*control.Tx) error, write func(m *control.Model)) error {
	if err := c.ctrl.Update(c.ctx, change); err != nil {
		return err
	}
	m := c.ctrl.Model()
	w.list(list, 1, func(int) { write(m) })
	return nil
}

// operations maps Action to its implementation.
var operations map[string]operation

func init() {
	operations = map[string]operation{
		"CreateLoadBalancer":             createLoadBalancer,
		"DescribeLoadBalancers":          describeLoadBalancers,
		"DeleteLoadBalancer":             deleteLoadBalancer,
		"DescribeLoadBalancerAttributes": describeLoadBalancerAttributes,
		"ModifyLoadBalancerAttributes":   modifyLoadBalancerAttributes,
		"CreateTargetGroup":              createTargetGroup,
		"DescribeTargetGroups":           describeTargetGroups,
		"ModifyTargetGroup":              modifyTargetGroup,
		"DeleteTargetGroup":              deleteTargetGroup,
		"DescribeTargetGroupAttributes":  describeTargetGroupAttributes,
		"ModifyTargetGroupAttributes":    modifyTargetGroupAttributes,
		"RegisterTargets":                registerTargets,
		"DeregisterTargets":              deregisterTargets,
		"DescribeTargetHealth":           describeTargetHealth,
		"CreateListener":                 createListener,
		"DescribeListeners":              describeListeners,
		"ModifyListener":                 modifyListener,
		"DeleteListener":                 deleteListener,
		"CreateRule":                     createRule,
		"DescribeRules":                  describeRules,
		"ModifyRule":                     modifyRule,
		"DeleteRule":                     deleteRule,
		"SetRulePriorities":              setRulePriorities,
		"AddTags":                        addTags,
		"RemoveTags":                     removeTags,
		"DescribeTags":                   describeTags,
		"DescribeSSLPolicies":            describeSSLPolicies,
		"DescribeAccountLimits":          describeAccountLimits,
		"DescribeListenerAttributes":     describeListenerAttributes,
		"ModifyListenerAttributes":       modifyListenerAttributes,
		"SetSubnets":                     setSubnets,
		"SetSecurityGroups":              setSecurityGroups,
		"SetIpAddressType":               setIPAddressType,
		"AddListenerCertificates":        addListenerCertificates,
		"RemoveListenerCertificates":     removeListenerCertificates,
		"DescribeListenerCertificates":   describeListenerCertificates,

		"CreateTrustStore":                  createTrustStore,
		"DescribeTrustStores":               describeTrustStores,
		"ModifyTrustStore":                  modifyTrustStore,
		"DeleteTrustStore":                  deleteTrustStore,
		"AddTrustStoreRevocations":          addTrustStoreRevocations,
		"DescribeTrustStoreRevocations":     describeTrustStoreRevocations,
		"RemoveTrustStoreRevocations":       removeTrustStoreRevocations,
		"GetTrustStoreCaCertificatesBundle": getTrustStoreCaCertificatesBundle,
		"DescribeTrustStoreAssociations":    describeTrustStoreAssociations,
		"GetTrustStoreRevocationContent":    getTrustStoreRevocationContent,
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	action := ""
	defer func() {
		// A bug must never kill the admin server or leave the client with a
		// reset connection: answer InternalFailure and log it.
		if p := recover(); p != nil {
			h.log.Error("elbv2 API panic", "action", action, "panic", p)
			writeError(w, reqID, &apiError{Status: http.StatusInternalServerError, Code: codeInternalFailure, Message: "The request processing has failed because of an unknown error."})
		}
	}()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, reqID, &apiError{Status: http.StatusMethodNotAllowed, Code: codeInvalidAction, Message: "The ELBv2 API accepts POST requests only"})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, reqID, &apiError{Status: http.StatusRequestEntityTooLarge, Code: codeValidation, Message: fmt.Sprintf("Request body is larger than %d bytes", h.opts.MaxBodyBytes)})
			return
		}
		writeError(w, reqID, errorf(codeValidation, "Reading the request body failed: %v", err))
		return
	}
	if _, aerr := verifySigV4(r, body, h.opts.Credentials, h.opts.Now()); aerr != nil {
		writeError(w, reqID, aerr)
		return
	}
	params := map[string]string{}
	for _, src := range []string{r.URL.RawQuery, string(body)} {
		vals, err := url.ParseQuery(src)
		if err != nil {
			writeError(w, reqID, errorf(codeValidation, "The request is not valid form data (application/x-www-form-urlencoded): %v", err))
			return
		}
		for k, vs := range vals {
			if len(vs) > 1 {
				writeError(w, reqID, errorf(codeValidation, "Parameter '%s' is given more than once", k))
				return
			}
			params[k] = vs[0]
		}
	}
	action = params["Action"]
	if action == "" {
		writeError(w, reqID, errorf(codeMissingAction, "The request must contain the parameter Action"))
		return
	}
	if v := params["Version"]; v != APIVersion {
		writeError(w, reqID, errorf(codeInvalidAction, "Version '%s' is not supported: this endpoint serves Elastic Load Balancing v2 (Version=%s) only", v, APIVersion))
		return
	}
	op := operations[action]
	if op == nil {
		writeError(w, reqID, errorf(codeInvalidAction, "The action %s is not valid for this web service.", action))
		return
	}
	c := &call{h: h, ctx: r.Context(), action: action, f: form{m: params}, ctrl: h.opts.Controller}
	var out xmlWriter
	if err := op(c, &out); err != nil {
		aerr := h.toAPIError(action, err)
		writeError(w, reqID, aerr)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	var b strings.Builder
	b.WriteString(`<` + action + `Response xmlns="` + Namespace + `"><` + action + `Result>`)
	b.Write(out.b.Bytes())
	b.WriteString(`</` + action + `Result><ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata></` + action + `Response>`)
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	io.WriteString(w, b.String())
}

// toAPIError maps an operation's error to AWS's shape.
func (h *Handler) toAPIError(action string, err error) *apiError {
	var aerr *apiError
	var verr *config.ValidationError
	var applyErr *control.ApplyError
	var storeErr *control.StoreError
	switch {
	case errors.As(err, &aerr):
		return aerr
	case errors.As(err, &applyErr):
		return errorf(codeInvalidConfiguration, "The node could not apply the change, so nothing was changed: %v", applyErr.Err)
	case errors.As(err, &verr):
		return errorf(codeInvalidConfiguration, "%s", strings.ReplaceAll(verr.Error(), "\n", "; "))
	case errors.Is(err, state.ErrUnavailable):
		h.log.Warn("elbv2: the state store is unavailable; the change was refused", "action", action, "err", err)
		return &apiError{Status: http.StatusServiceUnavailable, Code: "ServiceUnavailable",
			Message: "The state store is unavailable, so the change could not be made (the load balancers keep serving their last configuration): " + err.Error()}
	case errors.As(err, &storeErr):
		h.log.Error("elbv2: storing a change failed", "action", action, "err", err)
		return &apiError{Status: http.StatusInternalServerError, Code: codeInternalFailure, Message: "The change could not be stored durably, so nothing was changed: " + storeErr.Error()}
	}
	h.log.Error("elbv2: operation failed", "action", action, "err", err)
	return &apiError{Status: http.StatusInternalServerError, Code: codeInternalFailure, Message: err.Error()}
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", reqID)
	w.WriteHeader(e.Status)
	var b xmlWriter
	b.b.WriteString(`<ErrorResponse xmlns="` + Namespace + `">`)
	b.open("Error")
	b.leaf("Type", typ)
	b.leaf("Code", e.Code)
	b.leaf("Message", e.Message)
	b.close("Error")
	b.leaf("RequestId", reqID)
	b.b.WriteString(`</ErrorResponse>`)
	w.Write(b.b.Bytes())
}

// newRequestID returns a random UUID (version 4), as AWS request ids are.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
