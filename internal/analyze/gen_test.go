package analyze

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/albatross-lb/albatross/internal/accesslog"
)

// This file is the test generator: it writes ALB access logs with a known mix
// of requests (AWS's documented example lines, lines of every field version,
// the error patterns behind each finding, malformed lines; plain and gzip, in
// ALB's S3 key layout) and records the truth about every line it writes, so
// that tests can check every count, percentile and finding of a report
// against what was generated rather than against what the analyzer computes.

// AWS's documented example lines, verbatim (one line each; the docs wrap them
// for reading). awsDoc2016 is the launch-era HTTP example (18 fields); the
// others are the examples of the 2018-2023 user guide (fields 26 and 27
// unquoted, as the docs show them).
const (
	awsDoc2016       = `http 2016-08-10T22:08:42.945958Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354"`
	awsDocHTTP       = `http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.0.1:80 200 "-" "-"`
	awsDocHTTPS      = `https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" 10.0.0.1:80 200 "-" "-"`
	awsDocH2         = `h2 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.1.252:48160 10.0.0.66:9000 0.000 0.002 0.000 200 200 5 257 "GET https://10.0.2.105:773/ HTTP/2.0" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337327-72bd00b0343d75b906739c42" "-" "-" 1 2018-07-02T22:22:48.364000Z "redirect" "https://example.com:80/" "-" 10.0.0.66:9000 200 "-" "-"`
	awsDocWS         = `ws 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:40914 10.0.1.192:8010 0.001 0.003 0.000 101 101 218 587 "GET http://10.0.0.30:80/ HTTP/1.1" "-" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.1.192:8010 101 "-" "-"`
	awsDocWSS        = `wss 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:44244 10.0.0.171:8010 0.000 0.001 0.000 101 101 218 786 "GET https://10.0.0.30:443/ HTTP/1.1" "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 1 2018-07-02T22:22:48.364000Z "forward" "-" "-" 10.0.0.171:8010 101 "-" "-"`
	awsDocLambdaOK   = `http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "-" "-" "-" "-" "-"`
	awsDocLambdaFail = `http 2018-11-30T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 - 0.000 0.001 0.000 502 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2018-11-30T22:22:48.364000Z "forward" "-" "LambdaInvalidResponse" "-" "-" "-" "-"`
)

// The example lines of the data-plane spec §1.4 (current 34-field format).
const (
	spec460 = `https 2025-11-03T14:25:31.219377Z app/my-alb/50dc6c495c0c9188 198.51.100.77:60412 10.0.1.16:8080 -1 -1 -1 460 - 1730 0 "POST https://api.example.com:443/v1/reports HTTP/1.1" "python-requests/2.32.3" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bb3d-9f0e1d2c3b4a59687766a5b4" "api.example.com" "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 10 2025-11-03T14:25:01.212000Z "forward" "-" "-" "10.0.1.16:8080" "-" "-" "-" TID_0a1b2c3d4e5f60718293a4b5c6d7e8f9 "-" "-" "-" 198.51.100.10`
	spec502 = `http 2025-11-03T14:26:02.121905Z app/my-alb/50dc6c495c0c9188 203.0.113.99:40022 10.0.1.15:8080 -1 -1 -1 502 - 389 277 "GET http://www.example.com:80/orders/42 HTTP/1.1" "Go-http-client/1.1" - - arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-tg/5a03cc723870f039 "Root=1-6908bb7a-11aa22bb33cc44dd55ee66ff" "-" "-" 3 2025-11-03T14:26:02.118000Z "forward" "-" "-" "10.0.1.15:8080" "-" "-" "-" TID_7c6b5a4938271605f4e3d2c1b0a99887 "-" "-" "-" 198.51.100.10`
	spec504 = `h2 2025-11-03T14:27:50.432610Z app/my-alb/50dc6c495c0c9188 2001:db8:4006:812::200e:51844 10.0.2.61:8080 -1 -1 -1 504 - 57 202 "GET https://api.example.com:443/v1/items HTTP/2.0" "Mozilla/5.0 (X11; Linux x86_64)" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067 "Root=1-6908bbdc-0f1e2d3c4b5a69788796a5b4" "api.example.com" "session-reused" 10 2025-11-03T14:27:40.431000Z "forward" "-" "-" "10.0.2.61:8080" "-" "-" "-" TID_c0ffee00deadbeef0123456789abcdef "-" "-" "-" 198.51.100.10`
)

// Finding classes the generator assigns to the lines it writes.
const (
	kNone = iota
	kGiveUp
	kKeepAlive
	kIdle504
	kConnect504
	k503
)

// rec is the truth about one generated line that parses.
type rec struct {
	file        string
	elb, tgt    int
	target      string // "-" or ip:port as the report prints it
	path        string // normalised, as the report should print it
	lb          string
	time        time.Time
	lat         [numLat]int64 // ms; -1 when not measured
	recv, sent  int64
	reason      string
	kind        int
	targetGroup string
	rawPath     string
}

// badLine is a generated malformed line.
type badLine struct {
	file string
	line int
}

// corpus is a set of generated files and the truth about them.
type corpus struct {
	t     *testing.T
	dir   string
	files []*genFile
	recs  []rec
	bad   []badLine
}

// genFile is one file being written.
type genFile struct {
	c     *corpus
	name  string // path as Run reports it
	gz    bool
	buf   bytes.Buffer
	lines int
}

func newCorpus(t *testing.T) *corpus { return &corpus{t: t, dir: t.TempDir()} }

// file starts a file at rel (slash-separated) under the corpus directory.
func (c *corpus) file(rel string, gz bool) *genFile {
	f := &genFile{c: c, name: filepath.Join(c.dir, filepath.FromSlash(rel)), gz: gz}
	c.files = append(c.files, f)
	return f
}

// write puts every file on disk.
func (c *corpus) write() {
	for _, f := range c.files {
		if err := os.MkdirAll(filepath.Dir(f.name), 0o755); err != nil {
			c.t.Fatal(err)
		}
		data := f.buf.Bytes()
		if f.gz {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data = z.Bytes()
		}
		if err := os.WriteFile(f.name, data, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// names returns the file names, in the order written.
func (c *corpus) names() []string {
	var out []string
	for _, f := range c.files {
		out = append(out, f.name)
	}
	return out
}

// firstFields cuts a line to its first n fields (quoted fields may hold spaces;
// the generator writes no escaped quotes).
func firstFields(line string, n int) string {
	i := 0
	for k := 0; k < n; k++ {
		if k > 0 {
			i++ // the space
		}
		if i < len(line) && line[i] == '"' {
			i += 1 + strings.IndexByte(line[i+1:], '"') + 1
		} else if sp := strings.IndexByte(line[i:], ' '); sp >= 0 {
			i += sp
		} else {
			i = len(line)
		}
	}
	return line[:i]
}

// entry writes e with its first fields fields (33 or 34 for today's format,
// fewer for older ones) and records its truth; path is the normalised path
// the report should show and kind the finding it belongs to.
func (f *genFile) entry(e accesslog.Entry, fields int, path string, kind int) {
	line := strings.TrimSuffix(string(accesslog.AppendLine(nil, &e)), "\n")
	if fields < 33 {
		line = firstFields(line, fields)
	}
	f.buf.WriteString(line + "\n")
	f.lines++
	r := rec{
		file: f.name, elb: e.ELBStatusCode, tgt: e.TargetStatusCode, target: "-", path: path, lb: e.ELB, time: e.Time,
		recv: e.ReceivedBytes, sent: e.SentBytes, kind: kind, targetGroup: e.TargetGroupARN,
	}
	if e.Target.IsValid() {
		r.target = e.Target.String()
	}
	r.lat[latRequest] = msOf(e.RequestProcessingTime)
	r.lat[latTarget] = msOf(e.TargetProcessingTime)
	r.lat[latResponse] = msOf(e.ResponseProcessingTime)
	r.lat[latElapsed] = -1
	if fields >= 22 {
		r.lat[latElapsed] = int64(e.Time.Sub(e.RequestCreationTime) / time.Millisecond)
	}
	if fields >= 25 {
		r.reason = e.ErrorReason
	}
	if fields < 17 {
		r.targetGroup = ""
	}
	if req := string(e.Request); req != "" {
		u, err := url.Parse(strings.Fields(req)[1])
		if err != nil {
			f.c.t.Fatal(err)
		}
		r.rawPath = u.Path
	}
	f.c.recs = append(f.c.recs, r)
}

func msOf(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d / time.Millisecond)
}

// raw writes a line given as text (an AWS or spec example) and records its
// truth from the values written out by hand in the test: the generator must
// not learn them from the code under test.
func (f *genFile) raw(line string, r rec) {
	f.buf.WriteString(line + "\n")
	f.lines++
	r.file = f.name
	f.c.recs = append(f.c.recs, r)
}

// malformed writes a line that must be reported as malformed at its position.
func (f *genFile) malformed(line string) {
	f.buf.WriteString(line + "\n")
	f.lines++
	f.c.bad = append(f.c.bad, badLine{f.name, f.lines})
}

// Generator constants: the load balancers, targets and target group.
const (
	genLB      = "app/my-alb/50dc6c495c0c9188"
	genLB2     = "app/other-alb/0123456789abcdef"
	genTG      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067"
	genTarget1 = "10.0.1.1:8080"
	genTarget2 = "10.0.1.2:8080"
	genTarget3 = "10.0.1.3:8080"
)

var genStart = time.Date(2025, 11, 3, 14, 0, 0, 0, time.UTC)

// mixOptions vary the generated mix.
type mixOptions struct {
	normal int  // ordinary requests
	ipv6   bool // include IPv6 clients (GoAccess cannot parse them)
	seed   uint64
}

// generator builds entries.
type generator struct {
	rng *rand.Rand
	o   mixOptions
}

// base returns a forwarded request on target to url, created at created,
// with the given processing times in ms (-1: not measured) and statuses.
func (g *generator) base(created time.Time, target, method, url string, req, tgt, resp int64, elb, ts int) accesslog.Entry {
	client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(g.rng.IntN(250) + 1)}), uint16(1024+g.rng.IntN(60000)))
	if g.o.ipv6 && g.rng.IntN(20) == 0 {
		client = netip.AddrPortFrom(netip.MustParseAddr("2001:db8::"+fmt.Sprint(g.rng.IntN(9000)+1)), uint16(1024+g.rng.IntN(60000)))
	}
	e := accesslog.Entry{
		Type: "https", ELB: genLB, Client: client,
		RequestProcessingTime:  dur(req),
		TargetProcessingTime:   dur(tgt),
		ResponseProcessingTime: dur(resp),
		ELBStatusCode:          elb, TargetStatusCode: ts,
		ReceivedBytes: int64(200 + g.rng.IntN(800)),
		Request:       []byte(method + " https://api.example.com:443" + url + " HTTP/1.1"),
		UserAgent:     []byte("Mozilla/5.0 (X11; Linux x86_64) test"),
		SSLCipher:     "TLS_AES_128_GCM_SHA256", SSLProtocol: "TLSv1.3",
		TargetGroupARN:      genTG,
		TraceID:             []byte(fmt.Sprintf("Root=1-%08x-%024x", created.Unix(), g.rng.Uint64())),
		DomainName:          "api.example.com",
		MatchedRulePriority: 10,
		RequestCreationTime: created,
		ActionsExecuted:     "forward",
		ConnTraceID:         fmt.Sprintf("TID_%016x%016x", g.rng.Uint64(), g.rng.Uint64()),
		NodeIP:              netip.MustParseAddr("198.51.100.10"),
	}
	if target != "-" {
		e.Target = netip.MustParseAddrPort(target)
	}
	if ts != 0 {
		e.SentBytes = int64(300 + g.rng.IntN(5000))
	}
	// time = creation + the processing times, plus under a millisecond.
	elapsed := max(req, 0) + max(tgt, 0) + max(resp, 0)
	e.Time = created.Add(time.Duration(elapsed)*time.Millisecond + time.Duration(g.rng.IntN(999))*time.Microsecond)
	return e
}

func dur(ms int64) time.Duration {
	if ms < 0 {
		return accesslog.NotMeasured
	}
	return time.Duration(ms) * time.Millisecond
}

// errorLine is a load-balancer error: processing times -1, no target status,
// and a lifetime of elapsedMs.
func (g *generator) errorLine(created time.Time, target, url string, elb int, elapsedMs int64) accesslog.Entry {
	e := g.base(created, target, "GET", url, -1, -1, -1, elb, 0)
	e.Time = created.Add(time.Duration(elapsedMs)*time.Millisecond + time.Duration(g.rng.IntN(999))*time.Microsecond)
	if elb == 460 {
		e.SentBytes = 0
	} else {
		e.SentBytes = 277
	}
	return e
}

// at returns a creation time min minutes and some random seconds after genStart,
// at millisecond resolution as ALB logs it.
func (g *generator) at(minute int) time.Time {
	return genStart.Add(time.Duration(minute)*time.Minute + time.Duration(g.rng.IntN(59_000))*time.Millisecond)
}

// buildMix writes the standard mix into c: a plain file, two gzip files in
// ALB's S3 key layout, plus files a directory walk must skip.
func buildMix(c *corpus, o mixOptions) {
	g := &generator{rng: rand.New(rand.NewPCG(o.seed, 7)), o: o}
	s3 := "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2025/11/03/"
	files := []*genFile{
		c.file("plain.log", false),
		c.file(s3+"123456789012_elasticloadbalancing_us-east-1_app.my-alb.50dc6c495c0c9188_20251103T1405Z_10.0.0.1_abcd1234.log.gz", true),
		c.file(s3+"123456789012_elasticloadbalancing_us-east-1_app.my-alb.50dc6c495c0c9188_20251103T1410Z_10.0.0.2_efgh5678.log.gz", true),
	}
	pick := func() *genFile { return files[g.rng.IntN(len(files))] }

	// AWS's documented examples and the spec's, with their truth by hand.
	tg2 := "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"
	docTime := time.Date(2018, 7, 2, 22, 23, 0, 186641000, time.UTC)
	lambdaTime := time.Date(2018, 11, 30, 22, 23, 0, 186641000, time.UTC)
	el := int64(11822) // 22:23:00.186641 − 22:22:48.364000
	doc := "app/my-loadbalancer/50dc6c495c0c9188"
	files[0].raw(awsDoc2016, rec{elb: 200, tgt: 200, target: "10.0.0.1:80", path: "/", lb: doc, time: time.Date(2016, 8, 10, 22, 8, 42, 945958000, time.UTC),
		lat: [numLat]int64{0, 1, 0, -1}, recv: 34, sent: 366, targetGroup: tg2, rawPath: "/"})
	files[0].raw(awsDocHTTP, rec{elb: 200, tgt: 200, target: "10.0.0.1:80", path: "/", lb: doc, time: docTime, lat: [numLat]int64{0, 1, 0, el}, recv: 34, sent: 366, rawPath: "/"})
	files[0].raw(awsDocHTTPS, rec{elb: 200, tgt: 200, target: "10.0.0.1:80", path: "/", lb: doc, time: docTime, lat: [numLat]int64{86, 48, 37, el}, recv: 0, sent: 57, rawPath: "/"})
	files[1].raw(awsDocH2, rec{elb: 200, tgt: 200, target: "10.0.0.66:9000", path: "/", lb: doc, time: docTime, lat: [numLat]int64{0, 2, 0, el}, recv: 5, sent: 257, rawPath: "/"})
	files[1].raw(awsDocWS, rec{elb: 101, tgt: 101, target: "10.0.1.192:8010", path: "/", lb: doc, time: docTime, lat: [numLat]int64{1, 3, 0, el}, recv: 218, sent: 587, rawPath: "/"})
	files[2].raw(awsDocWSS, rec{elb: 101, tgt: 101, target: "10.0.0.171:8010", path: "/", lb: doc, time: docTime, lat: [numLat]int64{0, 1, 0, el}, recv: 218, sent: 786, rawPath: "/"})
	files[2].raw(awsDocLambdaOK, rec{elb: 200, tgt: 200, target: "-", path: "/", lb: doc, time: lambdaTime, lat: [numLat]int64{0, 1, 0, el}, recv: 34, sent: 366, rawPath: "/"})
	files[2].raw(awsDocLambdaFail, rec{elb: 502, tgt: 0, target: "-", path: "/", lb: doc, time: lambdaTime, lat: [numLat]int64{0, 1, 0, el}, recv: 34, sent: 366, reason: "LambdaInvalidResponse", rawPath: "/"})
	files[0].raw(spec460, rec{elb: 460, target: "10.0.1.16:8080", path: "/v1/reports", lb: genLB, time: time.Date(2025, 11, 3, 14, 25, 31, 219377000, time.UTC),
		lat: [numLat]int64{-1, -1, -1, 30007}, recv: 1730, sent: 0, kind: kGiveUp, targetGroup: genTG, rawPath: "/v1/reports"})
	files[1].raw(spec502, rec{elb: 502, target: "10.0.1.15:8080", path: "/orders/{id}", lb: genLB, time: time.Date(2025, 11, 3, 14, 26, 2, 121905000, time.UTC),
		lat: [numLat]int64{-1, -1, -1, 3}, recv: 389, sent: 277, kind: kKeepAlive, rawPath: "/orders/42"})
	if o.ipv6 {
		files[2].raw(spec504, rec{elb: 504, target: "10.0.2.61:8080", path: "/v1/items", lb: genLB, time: time.Date(2025, 11, 3, 14, 27, 50, 432610000, time.UTC),
			lat: [numLat]int64{-1, -1, -1, 10001}, recv: 57, sent: 202, kind: kConnect504, rawPath: "/v1/items"})
	}

	// Ordinary traffic over two hours, in every field version.
	targets := []string{genTarget1, genTarget2, genTarget3}
	versions := []int{34, 34, 34, 34, 34, 34, 33, 33, 29, 27, 25, 24, 20, 18}
	for i := range o.normal {
		if i%1000 == 500 { // malformed lines among the good ones
			pick().malformed(fmt.Sprintf("garbage %d", i))
		}
		created := g.at(g.rng.IntN(120))
		target := targets[g.rng.IntN(len(targets))]
		var url, norm string
		switch g.rng.IntN(4) {
		case 0:
			n := g.rng.IntN(100000)
			url, norm = fmt.Sprintf("/users/%d?expand=true", n), "/users/{id}"
		case 1:
			url, norm = "/v1/items", "/v1/items"
		case 2:
			url, norm = fmt.Sprintf("/orders/%08x-%04x-4%03x-a%03x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<12), g.rng.Uint64()&(1<<48-1)), "/orders/{id}"
		default:
			url, norm = "/static/app.js", "/static/app.js"
		}
		var tt int64
		switch r := g.rng.IntN(100); {
		case r < 70:
			tt = int64(1 + g.rng.IntN(100))
		case r < 95:
			tt = int64(100 + g.rng.IntN(800))
		default:
			tt = int64(1000 + g.rng.IntN(2000))
		}
		status := 200
		if g.rng.IntN(25) == 0 {
			status = 404
		}
		e := g.base(created, target, "GET", url, int64(g.rng.IntN(3)), tt, int64(g.rng.IntN(2)), status, status)
		if g.rng.IntN(10) == 0 {
			e.ELB = genLB2
		}
		pick().entry(e, versions[g.rng.IntN(len(versions))], norm, kNone)
	}
	// Redirects: answered by the load balancer, no target.
	for range 9 {
		e := g.base(g.at(g.rng.IntN(120)), "-", "GET", "/old", 0, -1, -1, 301, 0)
		e.ActionsExecuted = "redirect"
		e.SentBytes = 190
		pick().entry(e, 34, "/old", kNone)
	}
	// The slow path the clients give up on: it succeeds in 20-45 s...
	for i := range 20 {
		tt := int64(20000 + i*25000/19) // 20 s to 45 s
		pick().entry(g.base(g.at(30+i), genTarget2, "POST", "/v1/reports", 1, tt, 0, 200, 200), 34, "/v1/reports", kNone)
	}
	// ...and clients leave after 30 s (460), plus a few scattered 460s.
	for i := range 40 {
		pick().entry(g.errorLine(g.at(30+i), genTarget2, "/v1/reports", 460, int64(29_900+g.rng.IntN(200))), 34, "/v1/reports", kGiveUp)
	}
	for range 5 {
		pick().entry(g.errorLine(g.at(g.rng.IntN(120)), genTarget1, "/v1/items", 460, int64(1_200+g.rng.IntN(2_800))), 33, "/v1/items", kGiveUp)
	}
	// The keep-alive race: 502 at once, no target status.
	for range 25 {
		url := fmt.Sprintf("/orders/%d", 1000+g.rng.IntN(9000))
		pick().entry(g.errorLine(g.at(g.rng.IntN(120)), genTarget3, url, 502, int64(g.rng.IntN(6))), 34, "/orders/{id}", kKeepAlive)
	}
	// 502s the target answered itself.
	for range 4 {
		pick().entry(g.base(g.at(g.rng.IntN(120)), genTarget1, "GET", "/v1/items", 0, 120, 0, 502, 502), 34, "/v1/items", kNone)
	}
	// 504 at the 60 s idle timeout, and at the 10 s connect timeout.
	for range 12 {
		pick().entry(g.errorLine(g.at(g.rng.IntN(120)), genTarget1, "/v1/export", 504, int64(60_000+g.rng.IntN(50))), 34, "/v1/export", kIdle504)
	}
	for range 3 {
		pick().entry(g.errorLine(g.at(g.rng.IntN(120)), "10.0.2.9:8080", "/v1/items", 504, int64(10_000+g.rng.IntN(3))), 34, "/v1/items", kConnect504)
	}
	// 503 bursts from the load balancer: 20 over 14:40-14:41, 5 at 15:10.
	for i := range 25 {
		created := genStart.Add(40*time.Minute + time.Duration(i*6)*time.Second)
		if i >= 20 {
			created = genStart.Add(70*time.Minute + time.Duration(i)*time.Second)
		}
		e := g.errorLine(created, "-", "/v1/items", 503, 0)
		e.SentBytes = 317
		pick().entry(e, 34, "/v1/items", k503)
	}
	// 503s the target answered itself: not a finding.
	for range 7 {
		pick().entry(g.base(g.at(g.rng.IntN(120)), genTarget1, "GET", "/v1/items", 0, 3, 0, 503, 503), 34, "/v1/items", kNone)
	}
	// A request the load balancer could not parse: 400, "- - -".
	bad400 := g.base(g.at(5), "-", "GET", "/", -1, -1, -1, 400, 0)
	bad400.Request = nil
	bad400.TargetGroupARN = ""
	bad400.MatchedRulePriority = accesslog.PriorityNone
	bad400.ActionsExecuted = ""
	bad400.SentBytes = 272
	files[0].entry(bad400, 34, "-", kNone)
	// Malformed lines, in each file.
	good := string(accesslog.AppendLine(nil, &bad400))
	for _, f := range files {
		f.malformed("this is not an access log line")
		f.malformed(firstFields(good, 12))
		f.malformed(strings.Replace(strings.TrimSuffix(good, "\n"), " 400 - ", " 4x0 - ", 1))
		f.malformed(`https 2025-11-03T14:00:00.000000Z app/my-alb/50dc6c495c0c9188 203.0.113.1:1 - -1 -1 -1 400 - 0 0 "GET /unterminated`)
	}
	files[1].malformed("")

	// Files a directory walk skips: a connection log and a hidden file.
	conn := c.file(s3+"123456789012_elasticloadbalancing_us-east-1_app.my-alb.50dc6c495c0c9188_conn_log_20251103T1405Z_10.0.0.1_abcd1234.log.gz", true)
	conn.buf.WriteString("2023-10-04T17:05:15.514108Z 203.0.113.1 36280 443 TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4.036 - - - Success TID_3180a73013c8ca4bac2f731159d4b0fe\n")
	hidden := c.file(".DS_Store", false)
	hidden.buf.WriteString("\x00\x01binary")
	c.write()
	c.files = files // what Run must read
}

// truth computes the expected report figures from the records that keep.
type truth struct {
	recs []rec
	bad  []badLine
}

func (c *corpus) truth(keep func(r *rec) bool) truth {
	var t truth
	for i := range c.recs {
		if keep == nil || keep(&c.recs[i]) {
			t.recs = append(t.recs, c.recs[i])
		}
	}
	t.bad = c.bad
	return t
}

// quantileOf is the nearest-rank q-quantile of values (ms).
func quantileOf(values []int64, q float64) int64 {
	v := slices.Clone(values)
	slices.Sort(v)
	rank := int(q*float64(len(v)) + 0.999999999)
	return v[min(max(rank, 1), len(v))-1]
}
