package node_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// h2specPath finds the h2spec binary (go install
// github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible), or "".
func h2specPath() string {
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	gobin := os.Getenv("GOBIN")
	if gobin == "" {
		out, err := exec.Command("go", "env", "GOPATH").Output()
		if err != nil {
			return ""
		}
		gobin = filepath.Join(strings.TrimSpace(string(out)), "bin")
	}
	p := filepath.Join(gobin, "h2spec")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// junitReport is the part of h2spec's JUnit report the test reads.
type junitReport struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Skipped *struct{} `xml:"skipped"`
			Error   *struct{} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestH2Spec runs h2spec (all of its suites: generic, http2, hpack) against
// an HTTPS listener forwarding to an HTTP/1.1 target, and requires every case
// to pass.
func TestH2Spec(t *testing.T) {
	bin := h2specPath()
	if bin == "" {
		t.Skip("h2spec not installed: go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible (.ci/run does)")
	}
	if testing.Short() {
		t.Skip("h2spec takes about 10 s")
	}
	target := startHTTPTarget(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello\n")
	})
	f := startTLSLB(t, []string{target.addr}, "ELBSecurityPolicy-TLS13-1-2-2021-06", nil)
	report := filepath.Join(t.TempDir(), "h2spec.xml")
	cmd := exec.Command(bin, "-t", "-k", "-h", "127.0.0.1", "-p", portOf(f.addr), "-j", report, "-o", "5")
	out, _ := cmd.CombinedOutput() // h2spec exits non-zero on any failure; the report says which
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report (%v):\n%s", err, out)
	}
	var r junitReport
	if err := xml.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	total, passed := 0, 0
	var failed []string
	for _, s := range r.Suites {
		for _, c := range s.Cases {
			total++
			if c.Failure == nil && c.Skipped == nil && c.Error == nil {
				passed++
			} else {
				failed = append(failed, s.Name+": "+c.Name)
			}
		}
	}
	t.Logf("h2spec: %d/%d cases passed", passed, total)
	if total == 0 || passed != total {
		t.Errorf("h2spec: %d of %d cases failed:\n%s\n\n%s", total-passed, total, strings.Join(failed, "\n"), lastLines(string(out), 60))
	}
	if want := 145; total != want {
		t.Errorf("h2spec ran %d cases, want %d (generic 44 + http2 94 + hpack 7)", total, want)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
