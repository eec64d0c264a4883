package accesslog

import (
	"bytes"
	"testing"
	"time"
)

// FuzzParseLine checks that ParseLine never panics, and that whatever it
// accepts re-encodes to a line that parses back to the same entry, up to what
// AppendLine normalises (canonical), and re-encodes to the same bytes. Seeds
// are in testdata/fuzz/FuzzParseLine as well as below.
func FuzzParseLine(f *testing.F) {
	for _, l := range []string{spec200, spec460, spec502, spec504, first(spec200, 25), first(spec200, 18)} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e1 Entry
		if ParseLine(line, &e1) != nil {
			return
		}
		out1 := AppendLine(nil, &e1)
		var e2 Entry
		if err := ParseLine(out1, &e2); err != nil {
			t.Fatalf("re-encoded line does not parse: %v\n in: %q\nout: %q", err, line, out1)
		}
		if d := diffEntries(e2, canonical(e1)); d != "" {
			t.Fatalf("entry changed in the round trip:%s\n in: %q\nout: %q", d, line, out1)
		}
		if out2 := AppendLine(nil, &e2); !bytes.Equal(out1, out2) {
			t.Fatalf("encoding is not stable:\n1: %q\n2: %q", out1, out2)
		}
	})
}

// canonical returns e as ParseLine(AppendLine(e)) reads it back.
func canonical(e Entry) Entry {
	e.Time = canonicalTime(e.Time, time.Microsecond)
	e.RequestCreationTime = canonicalTime(e.RequestCreationTime, time.Millisecond)
	e.RequestProcessingTime = canonicalDuration(e.RequestProcessingTime)
	e.TargetProcessingTime = canonicalDuration(e.TargetProcessingTime)
	e.ResponseProcessingTime = canonicalDuration(e.ResponseProcessingTime)
	e.ELBStatusCode = canonicalStatus(e.ELBStatusCode)
	e.TargetStatusCode = canonicalStatus(e.TargetStatusCode)
	if string(e.Request) == "- - -" || len(e.Request) == 0 {
		e.Request = nil
	}
	e.UserAgent = canonicalBytes(truncate(e.UserAgent, MaxUserAgent))
	e.TraceID = canonicalBytes(e.TraceID)
	e.RedirectURL = canonicalBytes(e.RedirectURL)
	for _, s := range []*string{&e.Type, &e.ELB, &e.SSLCipher, &e.SSLProtocol, &e.TargetGroupARN, &e.DomainName,
		&e.ChosenCertARN, &e.ActionsExecuted, &e.ErrorReason, &e.Classification, &e.ClassificationReason,
		&e.ConnTraceID, &e.TransformedHost, &e.TransformedURI, &e.RequestTransformStatus} {
		if *s == "-" {
			*s = ""
		}
	}
	var attempts []Attempt
	for _, a := range e.Attempts {
		attempts = append(attempts, Attempt{a.Target, canonicalStatus(a.Status)})
	}
	if len(attempts) == 1 && attempts[0] == (Attempt{e.Target, e.TargetStatusCode}) {
		attempts = nil
	}
	e.Attempts = attempts
	e.Fields = 33
	if e.NodeIP.IsValid() {
		e.Fields = 34
	}
	return e
}

func canonicalTime(t time.Time, unit time.Duration) time.Time {
	if t.IsZero() || t.UTC().Year() > 9999 || t.UTC().Year() < 0 {
		return time.Time{}
	}
	t = t.UTC().Truncate(unit)
	if t.IsZero() {
		return time.Time{}
	}
	return t
}

func canonicalDuration(d time.Duration) time.Duration {
	if d < 0 {
		return NotMeasured
	}
	return d.Truncate(time.Millisecond)
}

func canonicalStatus(c int) int {
	if !validStatus(c) {
		return 0
	}
	return c
}

func canonicalBytes(b []byte) []byte {
	if len(b) == 0 || string(b) == "-" {
		return nil
	}
	return b
}

// FuzzParseConnLine and FuzzParseHealthLine check that the connection and
// health-check log parsers never panic, and that whatever they accept
// re-encodes to a line that parses and re-encodes to the same bytes.
func FuzzParseConnLine(f *testing.F) {
	for _, l := range []string{connExample, connExample2023, connFailed} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e1, e2 ConnEntry
		if ParseConnLine(line, &e1) != nil {
			return
		}
		out1 := AppendConnLine(nil, &e1)
		if err := ParseConnLine(out1, &e2); err != nil {
			t.Fatalf("re-encoded line does not parse: %v\n in: %q\nout: %q", err, line, out1)
		}
		if out2 := AppendConnLine(nil, &e2); !bytes.Equal(out1, out2) {
			t.Fatalf("encoding is not stable:\n in: %q\n 1: %q\n 2: %q", line, out1, out2)
		}
	})
}

func FuzzParseHealthLine(f *testing.F) {
	for _, l := range []string{healthExample, healthPass} {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e1, e2 HealthEntry
		if ParseHealthLine(line, &e1) != nil {
			return
		}
		out1 := AppendHealthLine(nil, &e1)
		if err := ParseHealthLine(out1, &e2); err != nil {
			t.Fatalf("re-encoded line does not parse: %v\n in: %q\nout: %q", err, line, out1)
		}
		if out2 := AppendHealthLine(nil, &e2); !bytes.Equal(out1, out2) {
			t.Fatalf("encoding is not stable:\n in: %q\n 1: %q\n 2: %q", line, out1, out2)
		}
	})
}
