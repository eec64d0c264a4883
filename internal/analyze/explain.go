package analyze

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// Explanation is one access log line read field by field, with what it says
// happened and what to change: the JSON document of `albatross logs explain
// --format json` (one per line given).
type Explanation struct {
	// Line is the line's number among the lines given, from 1.
	Line int `json:"line"`
	// Error is why the line could not be read as a request; the other
	// fields then hold what could be read.
	Error string `json:"error,omitempty"`
	// Fields are the line's fields in order, each named and explained.
	Fields []FieldReading `json:"fields"`
	// CutAfterField is set when the line ends before field 18: the fields
	// after it are unknown, not "-".
	CutAfterField int `json:"cut_after_field,omitempty"`
	// Finding is the code of the `albatross logs errors` finding this line is
	// an instance of, "" when none.
	Finding string `json:"finding,omitempty"`
	// Reading says in sentences what the line shows happened.
	Reading []string `json:"reading"`
	// Fixes are what to change, in order, with commands.
	Fixes []Fix `json:"fixes"`
}

// FieldReading is one field of a line.
type FieldReading struct {
	Number int    `json:"number"`
	Name   string `json:"name"`
	Value  string `json:"value"`
	// Meaning explains the value in words.
	Meaning string `json:"meaning"`
}

// maxShownValue bounds how much of a field's value an explanation repeats.
const maxShownValue = 512

// Explain reads one access log line (ALB's, or Albatross's) and explains it.
// n is its number among the lines given. It never fails: a line that cannot be
// read gets an Explanation whose Error says why.
func Explain(line []byte, n int) Explanation {
	x := Explanation{Line: n, Fields: []FieldReading{}, Reading: []string{}, Fixes: []Fix{}}
	raw, splitErr := accesslog.RawFields(line)
	var e accesslog.Entry
	err := accesslog.ParseLine(line, &e)
	for i, r := range raw {
		num := i + 1
		name := accesslog.FieldName(num)
		if name == "" {
			name = "(a field newer than this reader)"
		}
		x.Fields = append(x.Fields, FieldReading{Number: num, Name: name, Value: shown(r)})
	}
	switch {
	case err != nil:
		x.Error = err.Error()
		if splitErr == nil && len(raw) > 0 && len(raw) < accesslog.MinRequestFields {
			x.Error += fmt.Sprintf(". A line needs the fields up to %s (field %d) to be read as a request", accesslog.FieldName(accesslog.MinRequestFields), accesslog.MinRequestFields)
		}
		if !utf8.Valid(line) {
			x.Error += " (the line is not valid UTF-8: was it copied from a binary or gzip file?)"
		}
		return x
	}
	for i := range x.Fields {
		x.Fields[i].Meaning = fieldMeaning(&e, x.Fields[i].Number, x.Fields[i].Value)
	}
	if e.Cut() {
		x.CutAfterField = e.Fields
	}
	x.read(&e)
	return x
}

// shown is a raw field as an explanation repeats it: valid UTF-8, bounded.
func shown(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > maxShownValue {
		s = s[:maxShownValue] + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return s
}

// fsec formats a processing time for prose.
func durSec(d time.Duration) string { return fsecs(d.Seconds()) }

// fieldMeaning explains one field's value.
func fieldMeaning(e *accesslog.Entry, n int, v string) string {
	dash := v == "-"
	switch accesslog.FieldName(n) {
	case "type":
		return map[string]string{"http": "HTTP/1.x without TLS", "https": "HTTP/1.x over TLS", "h2": "HTTP/2 over TLS", "grpcs": "gRPC over TLS",
			"ws": "WebSocket", "wss": "WebSocket over TLS"}[v] + " (the client's connection)"
	case "time":
		return "when the load balancer sent the response to the client, or gave up (UTC)"
	case "elb":
		return "the load balancer: app/NAME/ID"
	case "client:port":
		return "the client's address and port, as the load balancer saw it"
	case "target:port":
		if dash {
			return "no target: the request was never sent to one (rejected, redirected, answered by the load balancer, or no target available)"
		}
		return "the target the request was sent to"
	case "request_processing_time":
		if e.RequestProcessingTime < 0 {
			return "-1: the load balancer could not dispatch the request to a target (the client closed or sent a malformed request first, or no target was reachable)"
		}
		return fmt.Sprintf("%s s from receiving the request to sending it to the target", durSec(e.RequestProcessingTime))
	case "target_processing_time":
		if e.TargetProcessingTime < 0 {
			return "-1: no complete answer came from a target: it was never sent, the target closed the connection, the idle timeout fired, or the response was malformed"
		}
		return fmt.Sprintf("%s s from sending the request to the target until the target began its response", durSec(e.TargetProcessingTime))
	case "response_processing_time":
		if e.ResponseProcessingTime < 0 {
			return "-1: the load balancer did not relay a target's response to the client (there was none, or the client was gone)"
		}
		return fmt.Sprintf("%s s from the target's first response byte until the load balancer began sending it to the client", durSec(e.ResponseProcessingTime))
	case "elb_status_code":
		if e.TargetStatusCode == 0 && e.ELBStatusCode != 0 {
			return "the status the load balancer generated itself (the target sent none): " + elbCodeMeaning(e.ELBStatusCode)
		}
		return "the status the load balancer sent to the client"
	case "target_status_code":
		if dash {
			return "-: the target sent no status, so the status above is the load balancer's own"
		}
		return "the status the target answered; the load balancer passed it on"
	case "received_bytes":
		return "bytes of the request received from the client (headers and body)"
	case "sent_bytes":
		if v == "0" {
			return "0: nothing was sent to the client"
		}
		return "bytes of the response sent to the client"
	case "request":
		return "the request line: method, URL with the host and port the client addressed, protocol"
	case "user_agent":
		return "the client's User-Agent"
	case "ssl_cipher", "ssl_protocol":
		if dash {
			return "-: not a TLS connection"
		}
		return "the TLS cipher suite or protocol the client negotiated"
	case "target_group_arn":
		if dash {
			return "-: no target group was chosen"
		}
		return "the target group of the rule that matched"
	case "trace_id":
		return "the X-Amzn-Trace-Id the load balancer passed to the target (search the target's logs for it)"
	case "domain_name", "chosen_cert_arn":
		if dash {
			return "-: no TLS SNI name, or not a TLS listener"
		}
		return "the SNI name the client sent, or the certificate chosen for it"
	case "matched_rule_priority":
		if v == "0" {
			return "0: the listener's default rule"
		}
		if dash {
			return "-: no rule was evaluated (the request was rejected first)"
		}
		return "the priority of the rule that matched"
	case "request_creation_time":
		return "when the load balancer received the request's first byte (time minus this is the request's whole duration)"
	case "actions_executed":
		return "the rule actions that ran (forward, redirect, fixed-response, authenticate, waf, ...)"
	case "redirect_url":
		return "the redirect's Location, when a redirect action ran"
	case "error_reason":
		if dash {
			return "-: no error code (plain target errors and connection failures never set one)"
		}
		return "the load balancer's error code for authentication, Lambda, WAF or weighted target group failures"
	case "target:port_list", "target_status_code_list":
		return "the targets that processed the request and their statuses (today one, as in fields 5 and 10)"
	case "classification", "classification_reason":
		if dash {
			return "-: the request was compliant with RFC 7230 (desync mitigation found nothing)"
		}
		return "the desync mitigation verdict on the request (Acceptable, Ambiguous or Severe) and why"
	case "conn_trace_id":
		return "the client connection's id: the same on every request of the connection and in the connection log"
	case "transformed_host", "transformed_uri":
		if dash {
			return "-: no rule transform rewrote it"
		}
		return "the host or URL a rule transform rewrote the request to"
	case "request_transform_status":
		return "the outcome of the rule's transforms (- when none ran)"
	case "ip_address":
		return "the address of the load balancer node that handled the request"
	}
	return "a field this reader does not know"
}

func elbCodeMeaning(code int) string {
	if c, ok := elbCodes[code]; ok {
		return strconv.Itoa(code) + ": " + c.meaning
	}
	return strconv.Itoa(code)
}

// lineElapsedMs is how long the request took, in milliseconds: time −
// request_creation_time, or for a line cut short (Entry.Cut) the
// sum of the processing times it measured (request and target at least);
// -1 when unknown.
func lineElapsedMs(e *accesslog.Entry) int64 {
	if !e.Time.IsZero() && !e.RequestCreationTime.IsZero() && !e.Time.Before(e.RequestCreationTime) {
		return int64(e.Time.Sub(e.RequestCreationTime) / time.Millisecond)
	}
	if e.Cut() && e.RequestProcessingTime >= 0 && e.TargetProcessingTime >= 0 {
		d := e.RequestProcessingTime + e.TargetProcessingTime + max(e.ResponseProcessingTime, 0)
		return int64(d / time.Millisecond)
	}
	return -1
}

// roundSeconds reports whether s is a round number of seconds (a multiple of
// 5 within 50 ms): the mark of a configured timeout rather than of work.
func roundSeconds(s float64) bool {
	r := math.Round(s)
	return r >= 5 && math.Abs(s-r) <= 0.05 && int(r)%5 == 0
}

// read fills the reading and the fixes from the same definitions as the
// findings of `albatross logs errors`.
func (x *Explanation) read(e *accesslog.Entry) {
	say := func(format string, a ...any) { x.Reading = append(x.Reading, fmt.Sprintf(format, a...)) }
	elapsed := lineElapsedMs(e)
	target := ""
	if e.Target.IsValid() {
		target = e.Target.String()
	}
	url := requestURL(e.Request)
	if x.CutAfterField > 0 {
		say("The line ends after field %d (%s): the fields after it are unknown, so this reading uses only the first %d.", x.CutAfterField, accesslog.FieldName(x.CutAfterField), x.CutAfterField)
	}
	if e.TargetStatusCode != 0 {
		say("The target answered %d and the load balancer passed it on (elb_status_code %d): this status is the application's, not the load balancer's.", e.TargetStatusCode, e.ELBStatusCode)
		if e.TargetStatusCode >= 500 {
			x.Fixes = append(x.Fixes, Fix{Text: "Look in the target's own logs for this request (trace_id) and what it did.", Command: traceGrep(e)})
		}
		return
	}
	if e.ELBStatusCode == 0 {
		say("No status was logged.")
		return
	}
	class := classOf(e, elapsed)
	switch class {
	case classGiveUp:
		x.Finding = CodeClientsGiveUp
		g := giveUpFacts{elb: e.ELB, targetMaxSec: -1, target: target, url: url}
		waited := -1.0
		switch {
		case e.TargetProcessingTime >= 0:
			waited = e.TargetProcessingTime.Seconds()
			g.clientSec = float64(lineElapsedMs(e)) / 1000
			say("The client closed the connection %s s after the load balancer sent the request to the target %s (target_processing_time), before the target answered: "+
				"the load balancer logged 460 and sent nothing (sent_bytes %d).", fsecs(waited), target, e.SentBytes)
		case elapsed >= 0:
			waited = float64(elapsed) / 1000
			g.clientSec = float64(lineElapsedMs(e)) / 1000
			say("The client closed the connection %s s after the load balancer received the request (time − request_creation_time), before any answer: "+
				"the load balancer logged 460 and sent nothing.", fsecs(waited))
		default:
			say("The client closed the connection before the load balancer could answer: the load balancer logged 460 and sent nothing. The line does not say how long it waited.")
		}
		if waited >= 0 {
			if roundSeconds(waited) {
				say("A round %s s points at a timeout on the client's side (a client library, a browser, a proxy or a gateway in front of the load balancer), not at the work taking that long by chance.", fsecs(math.Round(waited)))
			}
			say("The load balancer's idle timeout did not fire: had it, the line would be a 504. The request was still with the target when the client left.")
			x.Fixes = giveUpFixes(g)
		}
	case classKeepAlive:
		x.Finding = CodeTargetClosesKeep
		say("The load balancer sent the request to %s, which closed (or reset) the connection without answering: no target status, no error_reason, target_processing_time -1%s.",
			target, failedAt(elapsed))
		say("This is the keep-alive race: the target's keep-alive timeout is shorter than the load balancer's idle timeout, so it closes a kept-alive connection as the load balancer reuses it. " +
			"albatross doctor --target measures the target's keep-alive timeout and confirms it.")
		x.Fixes = keepAliveFixes(target)
	case classIdle504:
		x.Finding = CodeSlowerThanIdle
		say("The load balancer sent the request to %s and waited for an answer; none came before its idle timeout, so it answered 504 itself%s.", target, after(elapsed))
		idle := 60.0
		if elapsed > 0 {
			idle = float64(elapsed) / 1000
		}
		x.Fixes = idleFixes(e.ELB, idle)
	case classConnect504:
		x.Finding = CodeTargetConnectTimout
		say("The load balancer could not connect to %s within its fixed 10 s connect timeout%s, and answered 504.", target, after(elapsed))
		x.Fixes = connectFixes(target)
	case class503:
		x.Finding = CodeNoHealthyTargets
		say("The load balancer had no target to send the request to and answered 503: the rule's target group (%s) had no registered target.", orDash(e.TargetGroupARN))
		x.Fixes = noTargetsFixes(e.TargetGroupARN)
	default:
		say("The load balancer answered %s.", elbCodeMeaning(e.ELBStatusCode))
		if e.ErrorReason != "" {
			say("error_reason %s names the cause.", e.ErrorReason)
		}
		if c, ok := elbCodes[e.ELBStatusCode]; ok && c.fixes != nil {
			x.Fixes = append(x.Fixes, c.fixes...)
		}
	}
	if e.Classification != "" {
		say("Desync mitigation classified the request %s (%s).", e.Classification, orDash(e.ClassificationReason))
	}
}

func failedAt(elapsed int64) string {
	if elapsed < 0 {
		return ""
	}
	return fmt.Sprintf(", %s s after the request arrived", secs(elapsed))
}

func after(elapsed int64) string {
	if elapsed < 0 {
		return ""
	}
	return fmt.Sprintf(" (%s s after the request arrived)", secs(elapsed))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// requestURL is the URL of a logged request line ("GET URL HTTP/1.1").
func requestURL(req []byte) string {
	f := strings.Fields(string(req))
	if len(f) >= 2 && f[1] != "-" {
		return f[1]
	}
	return ""
}

// traceGrep is a command that finds the request in a target's logs.
func traceGrep(e *accesslog.Entry) string {
	if len(e.TraceID) == 0 {
		return ""
	}
	root := string(e.TraceID)
	if i := strings.Index(root, "Root="); i >= 0 {
		root = root[i+5:]
		if j := strings.IndexByte(root, ';'); j >= 0 {
			root = root[:j]
		}
	}
	return "grep -r " + shellWord(root) + " TARGET-LOG-DIR"
}

// WriteExplanations writes explanations as text for a person: each field with
// its value and meaning, then the reading and the fixes with their commands.
func WriteExplanations(w io.Writer, xs []Explanation) error {
	p := &printer{w: w}
	for i, x := range xs {
		if i > 0 {
			p.printf("\n")
		}
		p.printf("Line %d\n", x.Line)
		for _, f := range x.Fields {
			v := f.Value
			if len(v) > 60 {
				v = v[:57] + "..."
			}
			p.printf("  %2d %-25s %s\n", f.Number, f.Name, v)
			if f.Meaning != "" {
				p.printf("     %-25s %s\n", "", f.Meaning)
			}
		}
		if x.Error != "" {
			p.printf("  Not readable as a request: %s\n", x.Error)
			continue
		}
		p.printf("Reading\n")
		for _, r := range x.Reading {
			p.printf("  - %s\n", r)
		}
		if len(x.Fixes) > 0 {
			if x.Finding != "" {
				p.printf("What to change (finding %s of albatross logs errors)\n", x.Finding)
			} else {
				p.printf("What to change\n")
			}
			for j, f := range x.Fixes {
				p.printf("  %d. %s\n", j+1, f.Text)
				if f.Command != "" {
					p.printf("     $ %s\n", f.Command)
				}
			}
		}
	}
	return p.err
}
