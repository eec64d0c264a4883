package analyze

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// ConnOptions configure Connections.
type ConnOptions struct {
	// Since and Until bound the line's time: Since <= time < Until; zero
	// values do not bound.
	Since, Until time.Time
	// LoadBalancers keep lines whose elb field is one of these (full id or
	// name). Lines of ALB's older format, without elb, are kept.
	LoadBalancers []string
	// MaxMalformed is how many malformed lines are reported by position (all
	// are counted); 0 means 100, a negative value none.
	MaxMalformed int
	// Stdin is read for the input "-" (os.Stdin when nil).
	Stdin io.Reader
	// Top bounds the clients listed (0: 20).
	Top int
}

// ConnReport is what Connections found in connection logs: how many TLS
// connections were attempted, how many handshakes failed and why, from
// which clients, and which TLS versions, ciphers and key exchanges the
// successful ones used.
type ConnReport struct {
	Inputs int `json:"inputs"`
	// Lines is every line read; Connections the ones the options kept.
	Lines       int64 `json:"lines"`
	Connections int64 `json:"connections"`
	// Succeeded and Failed split Connections by tls_verify_status (Success,
	// Failed:REASON); lines with "-" (plain HTTP) are in neither.
	Succeeded int64 `json:"succeeded"`
	Failed    int64 `json:"failed"`
	// First and Last are the earliest and latest connection times kept.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// FailuresByReason counts failures by ALB's reason code, most first.
	FailuresByReason []ValueCount `json:"failures_by_reason"`
	// FailuresByClient lists the clients with the most failed handshakes.
	FailuresByClient []ClientFailures `json:"failures_by_client"`
	// TLSProtocols, TLSCiphers and KeyExchanges count the successful
	// handshakes by tls_protocol, tls_cipher and tls_keyexchange.
	TLSProtocols []ValueCount `json:"tls_protocols"`
	TLSCiphers   []ValueCount `json:"tls_ciphers"`
	KeyExchanges []ValueCount `json:"key_exchanges"`
	// HandshakeLatency summarises tls_handshake_latency of the successful
	// handshakes, in seconds.
	HandshakeLatency ConnLatency `json:"handshake_latency_seconds"`
	// ClientCertificates counts successful handshakes that presented a
	// client certificate (mutual TLS).
	ClientCertificates int64 `json:"client_certificates"`
	// MalformedLines counts lines that did not parse; Malformed lists the
	// first of them by file and line (as the access log report does).
	MalformedLines int64           `json:"malformed_lines"`
	Malformed      []MalformedLine `json:"malformed"`
}

// ValueCount is one value of a field and how many lines had it.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// ClientFailures is one client's failed handshakes, by reason.
type ClientFailures struct {
	ClientIP string       `json:"client_ip"`
	Failed   int64        `json:"failed"`
	Reasons  []ValueCount `json:"reasons"`
}

// ConnLatency is a latency summary in seconds.
type ConnLatency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// ConnInputs expands names into connection log files: files as named,
// directories walked recursively for ALB's connection log files (conn_log_
// or conn_log. names, possibly after the account id), and "-" for standard
// input.
func ConnInputs(names []string) ([]string, error) {
	srcs, _, err := inputsOf(names, accesslog.KindConnection)
	return srcs, err
}

// Connections reads the connection logs names (plain or gzip) and reports
// on them. An input that cannot be opened or read is an error; a line that
// does not parse is counted and listed, not fatal.
func Connections(ctx context.Context, names []string, opts ConnOptions) (*ConnReport, error) {
	if opts.MaxMalformed == 0 {
		opts.MaxMalformed = 100
	}
	if opts.Top <= 0 {
		opts.Top = 20
	}
	a := connAgg{opts: opts, rep: &ConnReport{Inputs: len(names), Malformed: []MalformedLine{}}, reasons: map[string]int64{}, protocols: map[string]int64{},
		ciphers: map[string]int64{}, kex: map[string]int64{}, clients: map[string]map[string]int64{}}
	filter := Filter{LoadBalancers: opts.LoadBalancers}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := a.read(name, &filter); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return a.finish(), nil
}

// connAgg accumulates a ConnReport.
type connAgg struct {
	opts                             ConnOptions
	rep                              *ConnReport
	reasons, protocols, ciphers, kex map[string]int64
	clients                          map[string]map[string]int64 // client → reason → count
	latencies                        []time.Duration
}

func (a *connAgg) read(name string, filter *Filter) error {
	raw, closeRaw, err := openSource(name, a.opts.Stdin)
	if err != nil {
		return err
	}
	defer closeRaw()
	in, closeGz, err := gunzipped(bufio.NewReaderSize(raw, 64<<10))
	if err != nil {
		return err
	}
	defer closeGz()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	lineNo := 0
	var e accesslog.ConnEntry
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(line) == 0 {
			continue
		}
		a.rep.Lines++
		if err := accesslog.ParseConnLine(line, &e); err != nil {
			a.rep.MalformedLines++
			if a.opts.MaxMalformed > 0 && len(a.rep.Malformed) < a.opts.MaxMalformed {
				a.rep.Malformed = append(a.rep.Malformed, MalformedLine{File: name, Line: lineNo, Error: err.Error()})
			}
			continue
		}
		a.add(&e, filter)
	}
	return sc.Err()
}

func (a *connAgg) add(e *accesslog.ConnEntry, filter *Filter) {
	if !a.opts.Since.IsZero() && e.Time.Before(a.opts.Since) || !a.opts.Until.IsZero() && !e.Time.Before(a.opts.Until) {
		return
	}
	if len(filter.LoadBalancers) > 0 && e.ELB != "" && !filter.matchLB(e.ELB) {
		return
	}
	r := a.rep
	r.Connections++
	if r.First.IsZero() || e.Time.Before(r.First) {
		r.First = e.Time
	}
	if e.Time.After(r.Last) {
		r.Last = e.Time
	}
	switch status := e.TLSVerifyStatus; {
	case status == "Success":
		r.Succeeded++
		a.protocols[strings.Clone(e.TLSProtocol)]++
		a.ciphers[strings.Clone(e.TLSCipher)]++
		if e.TLSKeyExchange != "" {
			a.kex[strings.Clone(e.TLSKeyExchange)]++
		}
		if e.HandshakeLatency >= 0 {
			a.latencies = append(a.latencies, e.HandshakeLatency)
		}
		if e.LeafClientCertSerialNumber != "" || e.LeafClientCertSubject != "" {
			r.ClientCertificates++
		}
	case strings.HasPrefix(status, "Failed"):
		r.Failed++
		reason := strings.TrimPrefix(strings.TrimPrefix(status, "Failed"), ":")
		if reason == "" {
			reason = "(none given)"
		}
		reason = strings.Clone(reason)
		a.reasons[reason]++
		client := "-"
		if e.Client.Addr().IsValid() {
			client = e.Client.Addr().String()
		}
		byReason := a.clients[client]
		if byReason == nil {
			byReason = map[string]int64{}
			a.clients[client] = byReason
		}
		byReason[reason]++
	}
}

func (a *connAgg) finish() *ConnReport {
	r := a.rep
	r.FailuresByReason = sortedCounts(a.reasons)
	r.TLSProtocols = sortedCounts(a.protocols)
	r.TLSCiphers = sortedCounts(a.ciphers)
	r.KeyExchanges = sortedCounts(a.kex)
	r.FailuresByClient = []ClientFailures{}
	for client, reasons := range a.clients {
		cf := ClientFailures{ClientIP: client, Reasons: sortedCounts(reasons)}
		for _, n := range reasons {
			cf.Failed += n
		}
		r.FailuresByClient = append(r.FailuresByClient, cf)
	}
	slices.SortFunc(r.FailuresByClient, func(x, y ClientFailures) int {
		return cmp.Or(cmp.Compare(y.Failed, x.Failed), strings.Compare(x.ClientIP, y.ClientIP))
	})
	if len(r.FailuresByClient) > a.opts.Top {
		r.FailuresByClient = r.FailuresByClient[:a.opts.Top]
	}
	if n := len(a.latencies); n > 0 {
		slices.Sort(a.latencies)
		at := func(q float64) float64 { return a.latencies[min(n-1, int(q*float64(n)))].Seconds() }
		r.HandshakeLatency = ConnLatency{P50: at(0.5), P99: at(0.99), Max: a.latencies[n-1].Seconds()}
	}
	return r
}

// sortedCounts lists m by count, most first, then by value.
func sortedCounts(m map[string]int64) []ValueCount {
	out := make([]ValueCount, 0, len(m))
	for v, n := range m {
		out = append(out, ValueCount{Value: v, Count: n})
	}
	slices.SortFunc(out, func(x, y ValueCount) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), strings.Compare(x.Value, y.Value))
	})
	return out
}

// WriteConnJSON writes rep as indented JSON.
func WriteConnJSON(w io.Writer, rep *ConnReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteConnText writes rep for a person.
func WriteConnText(w io.Writer, rep *ConnReport) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%d connections in %d files", rep.Connections, rep.Inputs)
	if !rep.First.IsZero() {
		fmt.Fprintf(tw, ", %s to %s", rep.First.UTC().Format(time.RFC3339), rep.Last.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "\n")
	pct := func(n int64) string {
		if rep.Connections == 0 {
			return "0%"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(rep.Connections))
	}
	fmt.Fprintf(tw, "TLS handshakes: %d succeeded, %d failed (%s)\n", rep.Succeeded, rep.Failed, pct(rep.Failed))
	if rep.Succeeded > 0 {
		l := rep.HandshakeLatency
		fmt.Fprintf(tw, "Handshake latency: p50 %.3f s, p99 %.3f s, max %.3f s\n", l.P50, l.P99, l.Max)
	}
	if rep.ClientCertificates > 0 {
		fmt.Fprintf(tw, "Client certificates presented: %d\n", rep.ClientCertificates)
	}
	section := func(title string, counts []ValueCount) {
		if len(counts) == 0 {
			return
		}
		fmt.Fprintf(tw, "\n%s\n", title)
		for _, c := range counts {
			fmt.Fprintf(tw, "  %s\t%d\n", c.Value, c.Count)
		}
	}
	section("Handshake failures by reason", rep.FailuresByReason)
	if len(rep.FailuresByClient) > 0 {
		fmt.Fprintf(tw, "\nClients with failed handshakes\n")
		for _, c := range rep.FailuresByClient {
			var reasons []string
			for _, r := range c.Reasons {
				reasons = append(reasons, fmt.Sprintf("%s %d", r.Value, r.Count))
			}
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", c.ClientIP, c.Failed, strings.Join(reasons, ", "))
		}
	}
	section("TLS versions", rep.TLSProtocols)
	section("Ciphers", rep.TLSCiphers)
	section("Key exchanges", rep.KeyExchanges)
	if rep.MalformedLines > 0 {
		fmt.Fprintf(tw, "\n%d malformed lines\n", rep.MalformedLines)
		for _, m := range rep.Malformed {
			fmt.Fprintf(tw, "  %s:%d: %s\n", m.File, m.Line, m.Error)
		}
	}
	return tw.Flush()
}
