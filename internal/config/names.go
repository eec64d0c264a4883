package config

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLength is the longest load balancer or target group name AWS accepts.
const MaxNameLength = 32

// ValidName checks AWS's rules for load balancer and target group names: 1-32
// characters, only ASCII letters, digits and hyphens, not beginning or ending with
// a hyphen. Load balancer names have one more rule, see ValidLoadBalancerName.
// The error is a message without the name's key path, ready for a Problem.
func ValidName(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	if len(s) > MaxNameLength {
		return fmt.Errorf("must be at most %d characters, got %d (%q)", MaxNameLength, len(s), s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' {
			return fmt.Errorf("may contain only letters, digits and hyphens, got %q", s)
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return fmt.Errorf("must not begin or end with a hyphen, got %q", s)
	}
	return nil
}

// ValidLoadBalancerName is ValidName plus AWS's load balancer rule that a name may
// not begin with "internal-" (AWS uses that prefix for internal load balancers'
// DNS names).
func ValidLoadBalancerName(s string) error {
	if err := ValidName(s); err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(s), "internal-") {
		return fmt.Errorf("must not begin with \"internal-\", got %q", s)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// suggest returns the candidate that s most likely misspells, or "" if none is
// close: a candidate that differs from s only in case, that has s as a whole
// dot- or underscore-separated prefix or a dot-separated suffix (a key written
// in part, such as "interval" for "interval_seconds"), or
// that is within a small edit distance relative to the length of s.
func suggest(s string, candidates []string) string {
	for _, c := range candidates {
		if strings.EqualFold(s, c) {
			return c
		}
	}
	var part []string
	for _, c := range candidates {
		if strings.HasPrefix(c, s+".") || strings.HasPrefix(c, s+"_") || strings.HasSuffix(c, "."+s) {
			part = append(part, c)
		}
	}
	if len(part) == 1 {
		return part[0]
	}
	best, bestDist := "", 0
	limit := max(1, min(3, len(s)/4))
	for _, c := range candidates {
		d := editDistance(s, c)
		if d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean formats suggest's answer as a message suffix.
func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
