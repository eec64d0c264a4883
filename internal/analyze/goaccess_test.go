package analyze

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goAccessReport is the part of GoAccess's JSON output the comparison reads.
type goAccessReport struct {
	General struct {
		Total  int64 `json:"total_requests"`
		Valid  int64 `json:"valid_requests"`
		Failed int64 `json:"failed_requests"`
	} `json:"general"`
	StatusCodes struct {
		Data []struct {
			Data string `json:"data"` // "4xx Client Errors"
			Hits struct {
				Count int64 `json:"count"`
			} `json:"hits"`
			Items []struct {
				Data string `json:"data"` // "404 - Not Found: ..." or "Unknown"
				Hits struct {
					Count int64 `json:"count"`
				} `json:"hits"`
			} `json:"items"`
		} `json:"data"`
	} `json:"status_codes"`
}

// runGoAccess runs GoAccess's AWS ALB mode on file and returns its report.
func runGoAccess(t testing.TB, file string) *goAccessReport {
	t.Helper()
	bin, err := exec.LookPath("goaccess")
	if err != nil {
		t.Skip("goaccess is not installed (Debian package goaccess; .ci/run installs it)")
	}
	out := filepath.Join(t.TempDir(), "goaccess.json")
	cmd := exec.Command(bin, file, "--log-format=AWSALB", "--no-global-config", "-o", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goaccess: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep goAccessReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("goaccess JSON: %v", err)
	}
	return &rep
}

// concatenate writes the decompressed contents of files into one plain file.
func concatenate(t testing.TB, files []string, dst string) {
	t.Helper()
	var all bytes.Buffer
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		all.Write(data)
	}
	if err := os.WriteFile(dst, all.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestAgreesWithGoAccess runs GoAccess's AWS ALB mode and albatross logs on
// the same generated file: the counts by status code must agree, and so must
// the number of lines each rejects. GoAccess files codes it does not know
// (460) as "Unknown" in their class, so those are compared as the class total
// less the known codes. GoAccess cannot read IPv6 clients without brackets, as
// ALB writes them, so this mix has none (TestReportMatchesGeneratedMix covers
// them).
func TestAgreesWithGoAccess(t *testing.T) {
	c := newCorpus(t)
	buildMix(c, mixOptions{normal: 3000, ipv6: false, seed: 11})
	file := filepath.Join(t.TempDir(), "all.log")
	concatenate(t, c.names(), file)
	ga := runGoAccess(t, file)
	ours := run(t, []string{file}, Options{})

	if ga.General.Valid != ours.Requests {
		t.Errorf("requests: goaccess %d, albatross %d", ga.General.Valid, ours.Requests)
	}
	// GoAccess skips empty lines without counting them; albatross reports
	// them as malformed, like any line that is not an access log entry.
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	empty := int64(bytes.Count(data, []byte("\n\n")))
	if empty == 0 {
		t.Fatal("the mix has no empty line")
	}
	if ga.General.Failed != ours.MalformedLines-empty {
		t.Errorf("rejected lines: goaccess %d, albatross %d of which %d empty", ga.General.Failed, ours.MalformedLines, empty)
	}
	compared := 0
	for _, class := range ga.StatusCodes.Data {
		digit := class.Data[:1]
		var classTotal, known int64
		for code, n := range ours.ByELBStatus {
			if strings.HasPrefix(code, digit) {
				classTotal += n
			}
		}
		if class.Hits.Count != classTotal {
			t.Errorf("%s: goaccess %d, albatross %d", class.Data, class.Hits.Count, classTotal)
		}
		for _, item := range class.Items {
			if item.Data == "Unknown" {
				continue
			}
			code := item.Data[:3]
			if _, err := strconv.Atoi(code); err != nil {
				t.Fatalf("unexpected goaccess status item %q", item.Data)
			}
			known += item.Hits.Count
			compared++
			if ours.ByELBStatus[code] != item.Hits.Count {
				t.Errorf("status %s: goaccess %d, albatross %d", code, item.Hits.Count, ours.ByELBStatus[code])
			}
		}
		for _, item := range class.Items {
			if item.Data == "Unknown" && item.Hits.Count != classTotal-known {
				t.Errorf("%s unknown codes: goaccess %d, albatross %d", class.Data, item.Hits.Count, classTotal-known)
			}
		}
	}
	if compared < 5 {
		t.Errorf("only %d status codes compared", compared)
	}
	t.Logf("goaccess: %d valid, %d failed; albatross: %d requests, %d malformed; by status %v",
		ga.General.Valid, ga.General.Failed, ours.Requests, ours.MalformedLines, ours.ByELBStatus)
}
