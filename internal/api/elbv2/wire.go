package elbv2

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the AWS Query wire format: reading Name.member.N form
// parameters, writing the XML envelope, and AWS's error shape.

// Namespace is the XML namespace of every ELBv2 response.
const Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

// APIVersion is the only Version this server speaks.
const APIVersion = "2015-12-01"

// maxMembers bounds the index of a list member: no ELBv2 list is longer than a
// few hundred, and the bound keeps a hostile index from mattering.
const maxMembers = 10000

// form is the request's parameters seen from a prefix ("" at the top,
// "Targets.member.1." inside a list).
type form struct {
	m      map[string]string
	prefix string
}

func (f form) get(name string) string { return f.m[f.prefix+name] }

func (f form) lookup(name string) (string, bool) {
	v, ok := f.m[f.prefix+name]
	return v, ok
}

// present reports whether the parameter, or any member or field of it, was
// sent ("DefaultActions=" counts: it is an empty list).
func (f form) present(name string) bool {
	full := f.prefix + name
	if _, ok := f.m[full]; ok {
		return true
	}
	for k := range f.m {
		if strings.HasPrefix(k, full+".") {
			return true
		}
	}
	return false
}

// sub is the struct at name.
func (f form) sub(name string) form { return form{m: f.m, prefix: f.prefix + name + "."} }

// indexes returns the member indexes of list name, in numeric order.
func (f form) indexes(name string) []int {
	p := f.prefix + name + ".member."
	seen := map[int]bool{}
	for k := range f.m {
		if !strings.HasPrefix(k, p) {
			continue
		}
		rest := k[len(p):]
		if dot := strings.IndexByte(rest, '.'); dot >= 0 {
			rest = rest[:dot]
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || n > maxMembers {
			continue
		}
		seen[n] = true
	}
	out := make([]int, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// strings returns list name's string members.
func (f form) strings(name string) []string {
	var out []string
	for _, i := range f.indexes(name) {
		out = append(out, f.get(name+".member."+strconv.Itoa(i)))
	}
	return out
}

// structs returns list name's struct members.
func (f form) structs(name string) []form {
	var out []form
	for _, i := range f.indexes(name) {
		out = append(out, f.sub(name+".member."+strconv.Itoa(i)))
	}
	return out
}

// apiError is an error as AWS reports it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// errorf returns a client error (HTTP 400) with an AWS error code.
func errorf(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, args...)}
}

// AWS error codes used here (elbv2-api.md §1.4).
const (
	codeValidation               = "ValidationError"
	codeLoadBalancerNotFound     = "LoadBalancerNotFound"
	codeTargetGroupNotFound      = "TargetGroupNotFound"
	codeListenerNotFound         = "ListenerNotFound"
	codeRuleNotFound             = "RuleNotFound"
	codeDuplicateLoadBalancer    = "DuplicateLoadBalancerName"
	codeDuplicateTargetGroup     = "DuplicateTargetGroupName"
	codeDuplicateListener        = "DuplicateListener"
	codeResourceInUse            = "ResourceInUse"
	codeInvalidConfiguration     = "InvalidConfigurationRequest"
	codeInvalidTarget            = "InvalidTarget"
	codeTooManyTags              = "TooManyTags"
	codeDuplicateTagKeys         = "DuplicateTagKeys"
	codeOperationNotPermitted    = "OperationNotPermitted"
	codeIncompatibleProtocols    = "IncompatibleProtocols"
	codeUnsupportedProtocol      = "UnsupportedProtocol"
	codeInvalidLoadBalancerAct   = "InvalidLoadBalancerAction"
	codeSSLPolicyNotFound        = "SSLPolicyNotFound"
	codeCertificateNotFound      = "CertificateNotFound"
	codeTooManyCertificates      = "TooManyCertificates"
	codeTargetGroupAssociation   = "TargetGroupAssociationLimit"
	codeTooManyTargets           = "TooManyTargets"
	codeTooManyLoadBalancers     = "TooManyLoadBalancers"
	codeTooManyTargetGroups      = "TooManyTargetGroups"
	codeTooManyListeners         = "TooManyListeners"
	codeInvalidAction            = "InvalidAction"
	codeMissingAction            = "MissingAction"
	codeInternalFailure          = "InternalFailure"
	codeInvalidClientTokenID     = "InvalidClientTokenId"
	codeSignatureDoesNotMatch    = "SignatureDoesNotMatch"
	codeIncompleteSignature      = "IncompleteSignature"
	codeMissingAuthenticationTok = "MissingAuthenticationToken"
)

// validation collects constraint violations and reports them all in AWS's
// words: "2 validation errors detected: Value 'x' at 'port' failed to satisfy
// constraint: ...; ...".
type validation struct{ msgs []string }

func (v *validation) add(format string, args ...any) {
	v.msgs = append(v.msgs, fmt.Sprintf(format, args...))
}

// constraint records a value that failed a constraint.
func (v *validation) constraint(value, path, rule string) {
	v.add("Value '%s' at '%s' failed to satisfy constraint: %s", value, path, rule)
}

// required records a missing required member.
func (v *validation) required(path string) {
	v.add("Value null at '%s' failed to satisfy constraint: Member must not be null", path)
}

func (v *validation) err() *apiError {
	switch n := len(v.msgs); n {
	case 0:
		return nil
	case 1:
		return errorf(codeValidation, "1 validation error detected: %s", v.msgs[0])
	default:
		return errorf(codeValidation, "%d validation errors detected: %s", n, strings.Join(v.msgs, "; "))
	}
}

// intIn reads an optional integer parameter; ok is false when it is absent or
// invalid (then a problem is recorded).
func (v *validation) intIn(f form, name, path string, lo, hi int) (n int, ok bool) {
	s, present := f.lookup(name)
	if !present {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		v.constraint(s, path, "Member must be an integer")
		return 0, false
	case n < lo:
		v.constraint(s, path, fmt.Sprintf("Member must have value greater than or equal to %d", lo))
		return 0, false
	case n > hi:
		v.constraint(s, path, fmt.Sprintf("Member must have value less than or equal to %d", hi))
		return 0, false
	}
	return n, true
}

// boolean reads an optional boolean parameter.
func (v *validation) boolean(f form, name, path string) (b, ok bool) {
	s, present := f.lookup(name)
	if !present {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	v.constraint(s, path, "Member must be a boolean (true or false)")
	return false, false
}

// enum reads an optional string parameter that must be one of values.
func (v *validation) enum(f form, name, path string, values ...string) (string, bool) {
	s, present := f.lookup(name)
	if !present {
		return "", false
	}
	if !slices.Contains(values, s) {
		v.constraint(s, path, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
		return "", false
	}
	return s, true
}

// xmlWriter builds a response body.
type xmlWriter struct{ b bytes.Buffer }

func (w *xmlWriter) open(name string)  { w.b.WriteString("<" + name + ">") }
func (w *xmlWriter) close(name string) { w.b.WriteString("</" + name + ">") }

// leaf writes <name>value</name>, escaped; an empty value is <name/>.
func (w *xmlWriter) leaf(name, value string) {
	if value == "" {
		w.b.WriteString("<" + name + "/>")
		return
	}
	w.open(name)
	_ = xml.EscapeText(&w.b, []byte(value))
	w.close(name)
}

// opt writes a leaf only when value is not empty.
func (w *xmlWriter) opt(name, value string) {
	if value != "" {
		w.leaf(name, value)
	}
}

func (w *xmlWriter) int(name string, n int) { w.leaf(name, strconv.Itoa(n)) }

func (w *xmlWriter) bool(name string, b bool) { w.leaf(name, strconv.FormatBool(b)) }

// time writes an ISO 8601 UTC timestamp with milliseconds, as AWS does.
func (w *xmlWriter) time(name string, t time.Time) {
	w.leaf(name, t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

// list writes <name><member>…</member>…</name>, or <name/> for no members.
func (w *xmlWriter) list(name string, n int, member func(i int)) {
	if n == 0 {
		w.b.WriteString("<" + name + "/>")
		return
	}
	w.open(name)
	for i := range n {
		w.open("member")
		member(i)
		w.close("member")
	}
	w.close(name)
}

// stringList writes a list of strings.
func (w *xmlWriter) stringList(name string, values []string) {
	w.list(name, len(values), func(i int) { _ = xml.EscapeText(&w.b, []byte(values[i])) })
}
