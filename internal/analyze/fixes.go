package analyze

import (
	"fmt"
	"math"
	"strings"
)

// This file holds the one definition of each finding's remedies, and of what
// one line of each ELB status means. `albatross logs errors` phrases its
// findings over many lines with them (findings.go); `albatross logs explain`
// reads a single line with the same functions (explain.go), so the two never
// disagree.

// Fix is one thing to change, in words, with the command that makes or checks
// the change when there is one.
type Fix struct {
	Text    string `json:"text"`
	Command string `json:"command,omitempty"`
}

// fixText joins the texts of fixes into one paragraph (Finding.Fix).
func fixText(fixes []Fix) string {
	texts := make([]string, len(fixes))
	for i, f := range fixes {
		texts[i] = f.Text
	}
	return strings.Join(texts, " ")
}

// lbARNCommand is a shell expression for the ARN of the load balancer whose
// access-log elb field is elb (app/NAME/ID); NAME stands in when unknown.
func lbARNCommand(elb string) string {
	name := "NAME"
	if parts := strings.Split(elb, "/"); len(parts) == 3 && parts[1] != "" {
		name = parts[1]
	}
	return fmt.Sprintf(`"$(aws elbv2 describe-load-balancers --names %s --query 'LoadBalancers[0].LoadBalancerArn' --output text)"`, shellWord(name))
}

// shellWord quotes s for a POSIX shell unless it is plain.
func shellWord(s string) string {
	plain := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:@%+=,", c)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// idleTimeoutCommand sets a load balancer's idle timeout.
func idleTimeoutCommand(elb string, seconds int) string {
	return fmt.Sprintf("aws elbv2 modify-load-balancer-attributes --load-balancer-arn %s --attributes Key=idle_timeout.timeout_seconds,Value=%d",
		lbARNCommand(elb), seconds)
}

// idleTimeoutAbove is an idle timeout comfortably above need seconds: at
// least ALB's default of 60, twice the need, rounded up to 10 s, at most
// ALB's maximum of 4000.
func idleTimeoutAbove(need float64) int {
	v := int(math.Ceil(2*need/10)) * 10
	return min(max(v, 60), 4000)
}

// timeoutAbove is a client timeout comfortably above need seconds: 1.5 times,
// rounded up to 10 s.
func timeoutAbove(need float64) int {
	return max(int(math.Ceil(1.5*need/10))*10, 10)
}

// giveUpFacts are the numbers behind a clients-give-up diagnosis.
type giveUpFacts struct {
	elb string // the load balancer (app/NAME/ID), "" if unknown
	// clientSec is when the clients gave up, after the request was received.
	clientSec float64
	// targetMaxSec is the longest the target took on these paths when it did
	// answer; < 0 when unknown.
	targetMaxSec float64
	// target and url are one target and one request URL (or path) concerned,
	// for the commands; either may be empty.
	target, url string
}

// hung reports whether the target answers these paths well within the time
// the clients waited: these requests hung rather than being slow work.
func (g giveUpFacts) hung() bool { return g.targetMaxSec >= 0 && g.targetMaxSec < g.clientSec }

// giveUpFixes are the remedies for 460s: clients that leave before the target
// answers.
func giveUpFixes(g giveUpFacts) []Fix {
	if g.hung() {
		f := Fix{Text: fmt.Sprintf("The target answers these paths within %s s, yet these requests were still unanswered after %s s: they hung at the target. "+
			"Look there for requests that wait without a deadline (locks, exhausted connection pools, calls to other services without a timeout) "+
			"around the times of the 460s. A 460 means the load balancer was still waiting for the target when the client left.",
			fsecs(g.targetMaxSec), fsecs(g.clientSec))}
		if g.target != "" {
			f.Command = "albatross doctor --target " + g.target + pathFlag(g.url)
		}
		return []Fix{f}
	}
	need := math.Round(math.Max(g.clientSec, g.targetMaxSec)*10) / 10
	url := orPlaceholder(g.url, "URL")
	return []Fix{
		{Text: fmt.Sprintf("Keep the load balancer's idle timeout above the time these requests need (more than %s s), so that once clients wait longer "+
			"the load balancer does not end them with a 504 instead.", fsecs(need)),
			Command: idleTimeoutCommand(g.elb, idleTimeoutAbove(need))},
		{Text: fmt.Sprintf("Give the clients a timeout above the time the target needs (more than %s s): the clients' own setting, "+
			"for example curl --max-time, a browser's fetch with an AbortSignal, Python requests' timeout=, Go's http.Client.Timeout.", fsecs(need)),
			Command: fmt.Sprintf("curl --max-time %d %s", timeoutAbove(need), shellWord(url))},
		{Text: fmt.Sprintf("Or have the target send bytes before %s s: answer long work at once (202) and let the client poll, or stream the response as it is made; "+
			"bytes flowing keep both the client's timeout and the load balancer's idle timeout from firing. A 460 means the load balancer was "+
			"still waiting for the target when the client left: no load balancer timeout ended these requests.", fsecs(math.Round(g.clientSec*10)/10))},
	}
}

func pathFlag(url string) string {
	p := url
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.IndexByte(p, '/'); j >= 0 {
			p = p[j:]
		} else {
			p = "/"
		}
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if !strings.HasPrefix(p, "/") {
		return ""
	}
	return " --path " + shellWord(p)
}

// keepAliveFixes are the remedies for the keep-alive race: targets closing
// kept-alive connections that the load balancer reuses.
func keepAliveFixes(target string) []Fix {
	t := orPlaceholder(target, "HOST:PORT")
	return []Fix{
		{Text: "Make every target's keep-alive (idle) timeout longer than the load balancer's idle_timeout.timeout_seconds (60 s by default): " +
			"for example Node.js server.keepAliveTimeout, Gunicorn --keep-alive, Apache KeepAliveTimeout, nginx keepalive_timeout. " +
			"albatross doctor measures how long the target keeps an idle connection and says what to set.",
			Command: "albatross doctor --target " + t},
		{Text: "With Albatross, target_keep_alive.idle_timeout_seconds closes pooled connections before the target does (and Albatross retries a " +
			"request the target never read on a new connection, so it does not lose this race).",
			Command: "aws elbv2 modify-target-group-attributes --endpoint-url http://ALBATROSS-ADMIN --target-group-arn ARN --attributes Key=target_keep_alive.idle_timeout_seconds,Value=4"},
	}
}

// idleFixes are the remedies for targets slower than the idle timeout.
func idleFixes(elb string, idleSec float64) []Fix {
	return []Fix{
		{Text: fmt.Sprintf("Raise idle_timeout.timeout_seconds above the slowest response of these paths (now about %s s), or make them answer sooner.", fsecs(idleSec)),
			Command: idleTimeoutCommand(elb, idleTimeoutAbove(idleSec))},
		{Text: "For long work, answer at once and let the client poll; sending response headers (or any bytes) early also keeps the connection alive, " +
			"since the idle timeout restarts with every byte."},
	}
}

// connectFixes are the remedies for targets that do not accept connections.
func connectFixes(target string) []Fix {
	t := orPlaceholder(target, "HOST:PORT")
	return []Fix{
		{Text: "Check that the targets listen and accept on their port (process up, listen backlog, connection limits), that security groups and network ACLs " +
			"let the load balancer reach them, and that targets being replaced are deregistered before they stop.",
			Command: "curl -sv --connect-timeout 10 -o /dev/null http://" + t + "/"},
	}
}

// noTargetsFixes are the remedies for 503s with no registered target.
func noTargetsFixes(tgARN string) []Fix {
	arn := orPlaceholder(tgARN, "ARN")
	return []Fix{
		{Text: "ALB answers 503 when the rule's target group has no registered targets (a group whose targets are all unhealthy still routes to them). " +
			"Check what deregistered the targets at those times: a deployment that replaced every target at once, scaling to zero, or a rule forwarding to an empty group; " +
			"keep at least one registered target through deployments.",
			Command: "aws elbv2 describe-target-health --target-group-arn " + shellWord(arn)},
	}
}

// orPlaceholder is v, or the placeholder a command shows when v is unknown.
func orPlaceholder(v, placeholder string) string {
	if v == "" {
		return placeholder
	}
	return v
}

// fsecs formats seconds for prose: "30", "2.5", "0.123".
func fsecs(s float64) string { return secs(int64(math.Round(s * 1000))) }

// elbCode is what an ELB status code means when the load balancer generated
// it, and what to do about it, for the codes no finding covers.
type elbCode struct {
	meaning string
	fixes   []Fix
}

// elbCodes are ALB's generated statuses (alb-data-plane.md §2.1).
var elbCodes = map[int]elbCode{
	400: {"The load balancer rejected the request as malformed: it broke HTTP's rules, exceeded a header limit (request line or one header over 16 K, all headers over 64 K), " +
		"lacked Host on HTTP/1.1, was a desync risk the mitigation mode refuses, or the client closed before sending its whole body.",
		[]Fix{{Text: "Look at the client that sent it (client:port, user_agent) and at classification and classification_reason for a desync verdict; a body cut short points at the client or a proxy before the load balancer."}}},
	401: {"An authenticate action refused the request (the identity provider denied it, or OnUnauthenticatedRequest is deny), or a jwt-validation action rejected its token.",
		[]Fix{{Text: "Check error_reason and the rule's authentication settings."}}},
	403: {"AWS WAF (or ALB's DDoS protection) blocked the request: actions_executed ends with waf.",
		[]Fix{{Text: "Check the web ACL rule that matched, in WAF's logs for this time."}}},
	405: {"The method was TRACE, which ALB does not support.", nil},
	408: {"The client sent no data, or not all of its request, within the load balancer's idle timeout.",
		[]Fix{{Text: "A client that opens connections and sends slowly or not at all: check the client, or raise the idle timeout if it sends large uploads slowly.",
			Command: "aws elbv2 describe-load-balancer-attributes --load-balancer-arn ARN"}}},
	413: {"The request body was too large for a Lambda target (over 1 MB).", nil},
	414: {"The request URL or query string was too large.", nil},
	460: {"The client closed the connection before the load balancer could answer; nothing was sent back. 460 exists only in the log.", nil},
	463: {"The X-Forwarded-For header the load balancer received held more than 30 addresses.",
		[]Fix{{Text: "A proxy chain, or a client, that appends to X-Forwarded-For without bound: find who sends it; routing.http.xff_header_processing.mode remove or preserve does not lift the limit."}}},
	464: {"The request's protocol did not fit the target group's protocol version (HTTP/1.1 to an HTTP2 or GRPC group, gRPC to an HTTP1 group).",
		[]Fix{{Text: "Send the protocol the target group expects, or change the group's protocol version."}}},
	500: {"The load balancer failed to act on the request: a WAF that could not be run, an identity provider's token or user-info endpoint that did not answer, claims over 11 K, a rule transform that produced an invalid URL, or a redirect URL over 8 K.",
		[]Fix{{Text: "Check error_reason and actions_executed for which of these it was."}}},
	501: {"The request's Transfer-Encoding was something other than chunked or identity.", nil},
	502: {"The load balancer got no valid response from the target: the connection was refused or reset, the target closed it while the request was outstanding, the response was malformed or its headers over 32 K, or the TLS handshake to an HTTPS target failed.",
		[]Fix{{Text: "Look at the target's own logs for this time; albatross doctor checks its keep-alive timeout and its TLS.", Command: "albatross doctor --target HOST:PORT"}}},
	503: {"The load balancer had no target to send the request to: the rule's target group has no registered targets.", nil},
	504: {"The target did not answer in time: the TCP connect did not complete within 10 s, or no response came within the idle timeout.", nil},
	505: {"The request used an HTTP version the connection does not support (HTTP/2 prior knowledge on an HTTP/1 connection).", nil},
	561: {"The identity provider of an authenticate action returned an error: error_reason names it.",
		[]Fix{{Text: "Check the identity provider's logs and the action's client id, secret and endpoints."}}},
}
