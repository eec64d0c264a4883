package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Listener attributes: ALB's header modification (elbv2-api.md §3.10). The
// response header values are added to every response the listener sends, the
// target's own header of that name replaced; the Server switch removes the
// load balancer's Server header; the request header names rename the headers
// the load balancer adds from the TLS connection (and, with mutual TLS, from
// the client certificate).

// ResponseHeaderAttributes maps each routing.http.response.*.header_value key
// to the response header it sets, in the order Describe returns them.
var ResponseHeaderAttributes = []struct{ Key, Header string }{
	{"routing.http.response.strict_transport_security.header_value", "Strict-Transport-Security"},
	{"routing.http.response.access_control_allow_origin.header_value", "Access-Control-Allow-Origin"},
	{"routing.http.response.access_control_allow_methods.header_value", "Access-Control-Allow-Methods"},
	{"routing.http.response.access_control_allow_headers.header_value", "Access-Control-Allow-Headers"},
	{"routing.http.response.access_control_allow_credentials.header_value", "Access-Control-Allow-Credentials"},
	{"routing.http.response.access_control_expose_headers.header_value", "Access-Control-Expose-Headers"},
	{"routing.http.response.access_control_max_age.header_value", "Access-Control-Max-Age"},
	{"routing.http.response.content_security_policy.header_value", "Content-Security-Policy"},
	{"routing.http.response.x_content_type_options.header_value", "X-Content-Type-Options"},
	{"routing.http.response.x_frame_options.header_value", "X-Frame-Options"},
}

// RequestHeaderNameAttributes maps each routing.http.request.*.header_name key
// to the request header it renames.
var RequestHeaderNameAttributes = []struct{ Key, Header string }{
	{"routing.http.request.x_amzn_mtls_clientcert_serial_number.header_name", "X-Amzn-Mtls-Clientcert-Serial-Number"},
	{"routing.http.request.x_amzn_mtls_clientcert_issuer.header_name", "X-Amzn-Mtls-Clientcert-Issuer"},
	{"routing.http.request.x_amzn_mtls_clientcert_subject.header_name", "X-Amzn-Mtls-Clientcert-Subject"},
	{"routing.http.request.x_amzn_mtls_clientcert_validity.header_name", "X-Amzn-Mtls-Clientcert-Validity"},
	{"routing.http.request.x_amzn_mtls_clientcert_leaf.header_name", "X-Amzn-Mtls-Clientcert-Leaf"},
	{"routing.http.request.x_amzn_mtls_clientcert.header_name", "X-Amzn-Mtls-Clientcert"},
	{"routing.http.request.x_amzn_tls_version.header_name", "X-Amzn-Tls-Version"},
	{"routing.http.request.x_amzn_tls_cipher_suite.header_name", "X-Amzn-Tls-Cipher-Suite"},
}

// MaxHeaderValueAttribute bounds a response header value attribute.
const MaxHeaderValueAttribute = 1024

// listenerAttributes is the listener attribute table. Never modified.
var listenerAttributes = func() []attribute {
	t := []attribute{{"routing.http.response.server.enabled", "true", checkBool}}
	for _, a := range ResponseHeaderAttributes {
		t = append(t, attribute{a.Key, "", headerValueCheck(a.Header)})
	}
	for _, a := range RequestHeaderNameAttributes {
		t = append(t, attribute{a.Key, "", checkHeaderNameAttribute})
	}
	return t
}()

// ListenerAttributes are the listener attributes the data plane reads.
type ListenerAttributes struct {
	// ServerHeader is routing.http.response.server.enabled: when false the
	// load balancer sends no Server header of its own.
	ServerHeader bool
	// ResponseHeaders are the response headers to set, in table order; only
	// those with a value.
	ResponseHeaders []HeaderField
	// RequestHeaderNames maps a header the load balancer adds to a request
	// (canonical name, such as X-Amzn-Tls-Version) to the name it is sent
	// under; only renamed ones are present.
	RequestHeaderNames map[string]string
}

// HeaderField is one header name and value.
type HeaderField struct{ Name, Value string }

// RequestHeaderName returns the name the load balancer sends header under.
func (a ListenerAttributes) RequestHeaderName(header string) string {
	if n, ok := a.RequestHeaderNames[header]; ok {
		return n
	}
	return header
}

// DefaultListenerAttributes are a listener's attributes when none is set.
func DefaultListenerAttributes() ListenerAttributes { return ListenerAttributes{ServerHeader: true} }

// ListenerAttributeDefaults returns every listener attribute key with AWS's
// default, as DescribeListenerAttributes returns them for a new listener.
func ListenerAttributeDefaults() map[string]string { return defaults(listenerAttributes) }

// NormalizeListenerAttributes validates listener attributes (unknown keys and
// bad values are errors naming the key) and returns the complete map with
// defaults and the typed form.
func NormalizeListenerAttributes(attrs map[string]string) (map[string]string, ListenerAttributes, error) {
	full, probs := checkListenerAttributes(attrs)
	if len(probs) > 0 {
		return nil, ListenerAttributes{}, attrProblemsError(probs)
	}
	return full, typedListenerAttributes(full), nil
}

func checkListenerAttributes(given map[string]string) (map[string]string, []attrProblem) {
	full, valid, probs := checkAttributes(listenerAttributes, given, "listener", notApplicableListener)
	seen := map[string]string{}
	for _, a := range RequestHeaderNameAttributes {
		v := strings.ToLower(full[a.Key])
		if !valid[a.Key] || v == "" {
			continue
		}
		if prev, dup := seen[v]; dup {
			probs = append(probs, attrProblem{key: a.Key, msg: fmt.Sprintf("names the same header %q as %s; each header needs its own name", full[a.Key], prev)})
		}
		seen[v] = a.Key
	}
	return full, probs
}

var notApplicableListener = map[string]string{
	"tcp.idle_timeout.seconds": "is a Network Load Balancer listener attribute; it does not apply to an Application Load Balancer",
}

func typedListenerAttributes(m map[string]string) ListenerAttributes {
	a := ListenerAttributes{ServerHeader: m["routing.http.response.server.enabled"] == "true"}
	for _, h := range ResponseHeaderAttributes {
		if v := m[h.Key]; v != "" {
			a.ResponseHeaders = append(a.ResponseHeaders, HeaderField{h.Header, v})
		}
	}
	for _, h := range RequestHeaderNameAttributes {
		if v := m[h.Key]; v != "" {
			if a.RequestHeaderNames == nil {
				a.RequestHeaderNames = map[string]string{}
			}
			a.RequestHeaderNames[h.Header] = v
		}
	}
	return a
}

// checkHeaderNameAttribute checks a renamed request header: an HTTP token of
// at most 40 characters that is not a header the load balancer manages.
func checkHeaderNameAttribute(v string) (string, error) {
	switch {
	case v == "":
		return "", nil
	case len(v) > MaxHeaderNameLength:
		return "", fmt.Errorf("must be at most %d characters, got %d", MaxHeaderNameLength, len(v))
	case !isTokenString(v):
		return "", fmt.Errorf("must be a header name (letters, digits and !#$%%&'*+-.^_`|~), got %q", v)
	}
	for _, reserved := range []string{"Host", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id", "Content-Length", "Transfer-Encoding", "Connection"} {
		if strings.EqualFold(v, reserved) {
			return "", fmt.Errorf("cannot be %s, a header the load balancer sets or that frames the request", reserved)
		}
	}
	return v, nil
}

// headerValueCheck returns the check of a response header value attribute:
// empty (the header is left alone), or a value of at most 1024 printable
// characters that fits the header's syntax.
func headerValueCheck(header string) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "" {
			return "", nil
		}
		if len(v) > MaxHeaderValueAttribute {
			return "", fmt.Errorf("must be at most %d characters, got %d", MaxHeaderValueAttribute, len(v))
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c < 0x20 || c > 0x7e {
				return "", fmt.Errorf("may contain only printable ASCII characters (no control characters or line breaks), got %q", v)
			}
		}
		if strings.TrimSpace(v) != v {
			return "", fmt.Errorf("must not start or end with a space, got %q", v)
		}
		switch header {
		case "Strict-Transport-Security":
			return v, checkHSTS(v)
		case "Access-Control-Allow-Credentials":
			if v != "true" {
				return "", fmt.Errorf("must be true (leave it empty to send no %s), got %q", header, v)
			}
		case "Access-Control-Max-Age":
			if n, err := strconv.Atoi(v); err != nil || n < -1 || strconv.Itoa(n) != v {
				return "", fmt.Errorf("must be a number of seconds (or -1), got %q", v)
			}
		case "Access-Control-Allow-Methods":
			for _, m := range strings.Split(v, ",") {
				if m = strings.TrimSpace(m); m != "*" && !isTokenString(m) {
					return "", fmt.Errorf("must be a comma-separated list of methods (GET, POST, ...) or *, got %q", v)
				}
			}
		case "Access-Control-Allow-Headers", "Access-Control-Expose-Headers":
			for _, h := range strings.Split(v, ",") {
				if h = strings.TrimSpace(h); h != "*" && !isTokenString(h) {
					return "", fmt.Errorf("must be a comma-separated list of header names or *, got %q", v)
				}
			}
		case "X-Content-Type-Options":
			if v != "nosniff" {
				return "", fmt.Errorf("must be nosniff, got %q", v)
			}
		case "X-Frame-Options":
			if v != "DENY" && v != "SAMEORIGIN" && !strings.HasPrefix(v, "ALLOW-FROM ") {
				return "", fmt.Errorf("must be DENY, SAMEORIGIN or ALLOW-FROM followed by an origin, got %q", v)
			}
		}
		return v, nil
	}
}

// checkHSTS checks a Strict-Transport-Security value: max-age=SECONDS, then
// optionally includeSubDomains and preload, separated by ";".
func checkHSTS(v string) error {
	parts := strings.Split(v, ";")
	age, ok := strings.CutPrefix(strings.TrimSpace(parts[0]), "max-age=")
	if n, err := strconv.Atoi(age); !ok || err != nil || n < 0 {
		return fmt.Errorf("must start with max-age=SECONDS (then optionally ; includeSubDomains and ; preload), got %q", v)
	}
	for _, p := range parts[1:] {
		switch strings.TrimSpace(p) {
		case "includeSubDomains", "preload":
		default:
			return fmt.Errorf("may hold only max-age, includeSubDomains and preload, got %q", v)
		}
	}
	return nil
}
