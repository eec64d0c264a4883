package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration: where it is and what is wrong.
// File and Line are zero when the input had no file (for example an attribute map
// from the ELBv2 API); Path is the key path such as
// "load_balancers[0].attributes.idle_timeout.timeout_seconds".
type Problem struct {
	File    string
	Line    int
	Path    string
	Message string
}

// Error formats the problem as "FILE:LINE: PATH: MESSAGE", leaving out the parts
// that are unknown.
func (p Problem) Error() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError is every problem found in one configuration or attribute set,
// in file order, so that a user can fix them all in one pass.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems as errors, so errors.As finds a Problem.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// problemsError returns nil for no problems, else a *ValidationError with the
// problems sorted by line (stable, so problems on one line keep the order in which
// they were found).
func problemsError(ps []Problem) error {
	if len(ps) == 0 {
		return nil
	}
	ps = append([]Problem(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return &ValidationError{Problems: ps}
}
