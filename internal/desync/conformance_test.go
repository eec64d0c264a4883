package desync

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/albatross-lb/albatross/internal/http1"
)

// The conformance test runs the test cases of AWS's http-desync-guardian
// library (the classification logic behind ALB's desync mitigation), read from
// ../shared/conformance/http-desync-guardian/ beside the module root. The files
// are never copied into this repository.

// corpusCase is one test case of the corpus (its FORMAT.md).
type corpusCase struct {
	Name    string `yaml:"name"`
	URI     string `yaml:"uri"`
	Method  string `yaml:"method"`
	Version string `yaml:"version"`
	Headers []struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
		Tier  string `yaml:"tier"`
	} `yaml:"headers"`
	Expected struct {
		Tier   string `yaml:"tier"`
		Reason string `yaml:"reason"`
	} `yaml:"expected"`
}

// corpusDir returns the corpus folder, or skips the test when it is absent.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test's directory: cannot locate ../shared/conformance")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "conformance", "http-desync-guardian")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("desync conformance corpus not found at %s (it sits beside the repository as ../shared/conformance/http-desync-guardian): %v", corpus, err)
	}
	return corpus
}

// loadCorpus reads every YAML file of the corpus, by file name.
func loadCorpus(t *testing.T) (files []string, cases map[string][]corpusCase) {
	dir := corpusDir(t)
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no YAML files in %s (%v)", dir, err)
	}
	sort.Strings(paths)
	cases = make(map[string][]corpusCase)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var cs []corpusCase
		if err := yaml.Unmarshal(data, &cs); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(cs) == 0 {
			t.Fatalf("%s: no test cases", p)
		}
		name := filepath.Base(p)
		files = append(files, name)
		cases[name] = cs
	}
	return files, cases
}

// unescape applies the corpus's own escapes on top of YAML's: \xNN is the
// character U+00NN (UTF-8 encoded, as the library's test harness builds its
// strings), \b \f \n \r \t as in C, and a backslash before any other character
// stands for that character.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		if rs[i] != '\\' || i+1 == len(rs) {
			b.WriteRune(rs[i])
			continue
		}
		i++
		switch rs[i] {
		case 'x':
			n, err := strconv.ParseUint(string(rs[i+1:min(i+3, len(rs))]), 16, 8)
			if err != nil {
				panic(fmt.Sprintf("bad \\x escape in %q", s))
			}
			b.WriteRune(rune(n))
			i += 2
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		default:
			b.WriteRune(rs[i])
		}
	}
	return b.String()
}

// request builds the parsed head of a case, fields as the case gives them.
func (c *corpusCase) request() *http1.Request {
	version := []byte(unescape(c.Version))
	req := &http1.Request{
		Method:   []byte(unescape(c.Method)),
		Target:   []byte(unescape(c.URI)),
		Proto:    version,
		RawProto: version,
	}
	for _, h := range c.Headers {
		req.Headers = append(req.Headers, http1.Header{Name: []byte(unescape(h.Name)), Value: []byte(unescape(h.Value))})
	}
	return req
}

// raw renders the case as bytes on the wire, as the library's own test does:
// "METHOD URI VERSION", then "name: value" lines, CRLF line ends.
func (c *corpusCase) raw() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", unescape(c.Method), unescape(c.URI), unescape(c.Version))
	for _, h := range c.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", unescape(h.Name), unescape(h.Value))
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// TestConformance checks every case's expected class and reason against
// Classify given the head as the case lists it (method, target, version,
// header names and values), which is how the library's own test runs them.
func TestConformance(t *testing.T) {
	files, cases := loadCorpus(t)
	total, passed := 0, 0
	for _, f := range files {
		filePassed := 0
		for _, c := range cases[f] {
			total++
			v := Classify(c.request())
			if v.Class.String() == c.Expected.Tier && reasonCode(v.Reason) == c.Expected.Reason {
				filePassed++
				continue
			}
			t.Errorf("%s: %q: got %v/%v, want %s/%s", f, c.Name, v.Class, v.Reason, c.Expected.Tier, c.Expected.Reason)
		}
		passed += filePassed
		t.Logf("%-30s %3d/%3d cases pass", f, filePassed, len(cases[f]))
	}
	t.Logf("%-30s %3d/%3d cases pass (class and reason)", "total", passed, total)
}

// TestConformanceThroughCodec sends every case through the whole path a
// request takes: its bytes on the wire (written as the library's own test
// writes them) are parsed by internal/http1, and what the codec accepts, or
// rejects only for its framing (Error.Complete), is classified.
//
// Writing a case's fields as lines can change what the head says: a CR or LF
// inside a field breaks its line, a name that starts with whitespace after the
// first field continues the previous field's value (obs-fold), an empty target
// disappears between two spaces, a field written after an HTTP/0.9 request
// line is not part of the head. The class must then only be non-compliant, as
// in the library's own test, which also accepts any non-compliant class when
// the reason found is one that such rewriting causes (MultilineHeader,
// MissingHeaderColon, SpaceInUri, AmbiguousUri, NonCrLfLineTermination).
// Otherwise it must be the expected class.
//
// A head the codec rejects outright gets 400 in every mode. That is allowed
// only when ALB's default mode blocks the case too (expected Severe), when the
// wire form is not the case's head (above), or for HTTP/0.9, which Albatross
// answers with 400 (docs/compatibility.md). The class that the 400's log line
// carries (ClassifyRaw) is held to the same rule as classified heads.
func TestConformanceThroughCodec(t *testing.T) {
	files, cases := loadCorpus(t)
	var classified, exact, rewritten, rejected, rejectedSevere, rejected09, rawExact, rawRewritten int
	for _, f := range files {
		for _, c := range cases[f] {
			var req http1.Request
			err := http1.ParseRequest(c.raw(), &req)
			var perr *http1.Error
			http09 := strings.TrimSpace(unescape(c.Version)) == "" || unescape(c.Version) == "HTTP/0.9"
			if (err != nil && !(errors.As(err, &perr) && perr.Complete)) || (err == nil && req.Major == 0) {
				rejected++
				switch {
				case c.Expected.Tier == "Severe":
					rejectedSevere++
				case http09:
					rejected09++
				}
				if c.Expected.Tier != "Severe" && !c.rewritten() && !http09 {
					t.Errorf("%s: %q (%s/%s): codec rejects with %v", f, c.Name, c.Expected.Tier, c.Expected.Reason, err)
				}
				if http09 {
					continue
				}
				// The 400's log line carries the class ClassifyRaw finds.
				judge(t, f, &c, ClassifyRaw(c.raw(), &req), "refused head logged as", &rawExact, &rawRewritten)
				continue
			}
			classified++
			judge(t, f, &c, Classify(&req), "through the codec got", &exact, &rewritten)
		}
	}
	t.Logf("through the codec: %d cases classified (%d with the expected class, %d non-compliant for a reason the wire form causes); "+
		"%d answered 400 by the codec (%d expected Severe, %d HTTP/0.9, %d whose wire form is not the case's head)",
		classified, exact, rewritten, rejected, rejectedSevere, rejected09, rejected-rejectedSevere-rejected09)
	t.Logf("refused heads (HTTP/0.9 aside) logged by ClassifyRaw: %d with the expected class, %d non-compliant for a reason the wire form causes",
		rawExact, rawRewritten)
}

// judge counts v as the case's expected class (exact), or as non-compliant
// where writing the case as lines explains the difference (rewritten), and
// reports any other verdict as an error.
func judge(t *testing.T, file string, c *corpusCase, v Verdict, what string, exact, rewritten *int) {
	t.Helper()
	switch {
	case v.Class.String() == c.Expected.Tier:
		*exact++
	case (rewriteReasons[v.Reason] || c.rewritten()) && v.Class != Compliant:
		*rewritten++
	default:
		t.Errorf("%s: %q: %s %v/%v, want %s/%s", file, c.Name, what, v.Class, v.Reason, c.Expected.Tier, c.Expected.Reason)
	}
}

// rewriteReasons are the reasons that writing a case as lines can cause.
var rewriteReasons = map[Reason]bool{
	MultilineHeader:        true,
	MissingHeaderColon:     true,
	SpaceInURI:             true,
	AmbiguousURI:           true,
	NonCRLFLineTermination: true,
}

// rewritten reports whether writing the case as lines changes its structure:
// a CR or LF inside the method, target, version or a header name or value, a
// header name after the first that starts with whitespace, or an empty target.
func (c *corpusCase) rewritten() bool {
	if unescape(c.URI) == "" {
		return true
	}
	for i, h := range c.Headers {
		if n := unescape(h.Name); i > 0 && n != "" && (n[0] == ' ' || n[0] == '\t') {
			return true
		}
	}
	fields := []string{c.Method, c.URI, c.Version}
	for _, h := range c.Headers {
		fields = append(fields, h.Name, h.Value)
	}
	for _, s := range fields {
		if strings.ContainsAny(unescape(s), "\r\n") {
			return true
		}
	}
	return false
}

// reasonCode is the reason as the corpus spells it: "Compliant" where the
// access log writes "-".
func reasonCode(r Reason) string {
	if r == ReasonNone {
		return "Compliant"
	}
	return r.String()
}
