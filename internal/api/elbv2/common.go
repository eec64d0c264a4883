package elbv2

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/control"
)

// Limits (elbv2-api.md §3.11): AWS's default quotas, so that what works here
// works on AWS.
const (
	maxLoadBalancers         = 50
	maxTargetGroups          = 3000
	maxListenersPerLB        = 50
	maxTargetsPerTargetGroup = 1000
	maxTagsPerResource       = 50
	maxDescribeARNs          = 20
	defaultPageSize          = 400
)

// Pagination.

// page returns the items of the page the request's Marker and PageSize select,
// and the marker of the next page ("" on the last). Markers are opaque: the
// creation sequence number of the next page's first item, so a page boundary
// survives deletions.
func page[T any](f form, items []T, seq func(T) int64) ([]T, string, error) {
	var v validation
	size := defaultPageSize
	if n, ok := v.intIn(f, "PageSize", "pageSize", 1, 400); ok {
		size = n
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	start := 0
	if m, ok := f.lookup("Marker"); ok && m != "" {
		from, err := decodeMarker(m)
		if err != nil {
			return nil, "", errorf(codeValidation, "Invalid marker '%s'", m)
		}
		start = len(items)
		for i, it := range items {
			if seq(it) >= from {
				start = i
				break
			}
		}
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = encodeMarker(seq(items[end]))
	}
	return items[start:end], next, nil
}

func encodeMarker(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("albatross:" + strconv.FormatInt(seq, 10)))
}

func decodeMarker(m string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil {
		return 0, err
	}
	s, ok := strings.CutPrefix(string(b), "albatross:")
	if !ok {
		return 0, errors.New("not a marker")
	}
	return strconv.ParseInt(s, 10, 64)
}

// Names.

// checkName validates a load balancer or target group name with AWS's
// messages; kind is "load balancer" or "target group".
func checkName(kind, name string) *apiError {
	label := "LoadBalancer"
	if kind == "target group" {
		label = "Target group"
	}
	switch {
	case name == "":
		return errorf(codeValidation, "%s name cannot be empty", label)
	case len(name) > config.MaxNameLength:
		return errorf(codeValidation, "The %s name '%s' cannot be longer than '%d' characters", kind, name, config.MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return errorf(codeValidation, "%s name cannot contain characters that are not letters, or digits or the dash.", label)
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return errorf(codeValidation, "%s name '%s' cannot begin or end with a hyphen", label, name)
	}
	if kind == "load balancer" && strings.HasPrefix(strings.ToLower(name), "internal-") {
		return errorf(codeValidation, "Load balancer name '%s' cannot begin with 'internal-'", name)
	}
	return nil
}

// Tags.

var tagRE = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)

// readTags reads a Tags list (Create* calls and AddTags). A missing list is
// nil; an empty one is an error when required.
func readTags(f form, name string) ([]control.Tag, error) {
	var v validation
	var tags []control.Tag
	seen := map[string]bool{}
	for i, tf := range f.structs(name) {
		path := fmt.Sprintf("tags.%d.member", i+1)
		k, hasKey := tf.lookup("Key")
		val := tf.get("Value")
		switch {
		case !hasKey:
			v.required(path + ".key")
			continue
		case utf8.RuneCountInString(k) < 1 || utf8.RuneCountInString(k) > 128:
			v.constraint(k, path+".key", "Member must have length between 1 and 128")
		case !tagRE.MatchString(k):
			v.constraint(k, path+".key", `Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
		case strings.HasPrefix(strings.ToLower(k), "aws:"):
			return nil, errorf(codeValidation, "Tag key '%s' is not valid: the 'aws:' prefix is reserved for AWS", k)
		}
		switch {
		case utf8.RuneCountInString(val) > 256:
			v.constraint(val, path+".value", "Member must have length less than or equal to 256")
		case !tagRE.MatchString(val):
			v.constraint(val, path+".value", `Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)
		}
		if seen[k] {
			return nil, errorf(codeDuplicateTagKeys, "Tag key '%s' is given more than once", k)
		}
		seen[k] = true
		tags = append(tags, control.Tag{Key: k, Value: val})
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	if len(tags) > maxTagsPerResource {
		return nil, errorf(codeTooManyTags, "A resource can have at most %d tags; the request has %d", maxTagsPerResource, len(tags))
	}
	return tags, nil
}

// mergeTags sets tags on old (overwriting values of existing keys).
func mergeTags(old, add []control.Tag) ([]control.Tag, error) {
	out := slices.Clone(old)
	for _, t := range add {
		i := slices.IndexFunc(out, func(o control.Tag) bool { return o.Key == t.Key })
		if i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	if len(out) > maxTagsPerResource {
		return nil, errorf(codeTooManyTags, "A resource can have at most %d tags; this change would leave it %d", maxTagsPerResource, len(out))
	}
	return out, nil
}

func writeTags(w *xmlWriter, name string, tags []control.Tag) {
	w.list(name, len(tags), func(i int) {
		w.leaf("Key", tags[i].Key)
		w.leaf("Value", tags[i].Value)
	})
}

// Attributes.

// readAttributes reads an Attributes list of {Key, Value}.
func readAttributes(f form) (map[string]string, error) {
	var v validation
	items := f.structs("Attributes")
	if len(items) == 0 {
		return nil, errorf(codeValidation, "1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null")
	}
	if len(items) > 20 {
		v.constraint(strconv.Itoa(len(items)), "attributes", "Member must have length less than or equal to 20")
	}
	out := map[string]string{}
	for i, af := range items {
		path := fmt.Sprintf("attributes.%d.member", i+1)
		k, ok := af.lookup("Key")
		if !ok {
			v.required(path + ".key")
			continue
		}
		val := af.get("Value")
		if len(k) > 256 {
			v.constraint(k, path+".key", "Member must have length less than or equal to 256")
		}
		if len(val) > 1024 {
			v.constraint(val, path+".value", "Member must have length less than or equal to 1024")
		}
		if _, dup := out[k]; dup {
			v.add("Attribute key '%s' is given more than once", k)
		}
		out[k] = val
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// attributeError turns the config package's attribute problems into AWS's
// ValidationError: "Load balancer attribute key 'x' is not recognized" for an
// unknown key, the problem's own words otherwise.
func attributeError(kind string, err error) error {
	var verr *config.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	msgs := make([]string, 0, len(verr.Problems))
	for _, p := range verr.Problems {
		if strings.HasPrefix(p.Message, "unknown ") {
			msgs = append(msgs, fmt.Sprintf("%s attribute key '%s' is not recognized (%s)", kind, p.Path, p.Message))
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s attribute '%s' %s", kind, p.Path, p.Message))
	}
	return errorf(codeValidation, "%s", strings.Join(msgs, "; "))
}

func writeAttributes(w *xmlWriter, attrs map[string]string) {
	keys := slices.Sorted(maps.Keys(attrs))
	w.list("Attributes", len(keys), func(i int) {
		w.leaf("Key", keys[i])
		w.leaf("Value", attrs[keys[i]])
	})
}

// require reads a required string parameter.
func require(v *validation, f form, name, path string) string {
	s, ok := f.lookup(name)
	if !ok || s == "" {
		v.required(path)
	}
	return s
}
