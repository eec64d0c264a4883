package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// This file holds the generic half of the YAML decoder: walking yaml.Node trees
// with key paths and line numbers, so that every problem can name its place.
// parse.go holds the Albatross-specific half.

// decoder collects problems while walking one file's YAML tree.
type decoder struct {
	file  string
	probs []Problem
}

// add records a problem at n's line.
func (d *decoder) add(n *yaml.Node, path, format string, args ...any) {
	d.addLine(line(n), path, format, args...)
}

func (d *decoder) addLine(ln int, path, format string, args ...any) {
	d.probs = append(d.probs, Problem{File: d.file, Line: ln, Path: path, Message: fmt.Sprintf(format, args...)})
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// yamlLineRE matches the line number in yaml.v3's syntax errors.
var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as exactly one YAML document and returns its root node, or
// nil after recording why there is none. An empty document (nothing, or only
// comments, or null) is an empty mapping: a configuration with no resources,
// which a node whose resources come from the API starts from.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return emptyMapping()
		}
		d.syntaxError(data, err)
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.add(&extra, "", "only one YAML document is allowed in a configuration file")
	case !errors.Is(err, io.EOF):
		d.syntaxError(data, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if isNull(root) {
		return emptyMapping()
	}
	return root
}

func (d *decoder) syntaxError(data []byte, err error) {
	ln, msg := splitYAMLError(err)
	d.addLine(problemLine(data, ln, msg), "", "invalid YAML: %s", msg)
}

// splitYAMLError returns the line number (0 if none) and message of a yaml.v3
// error.
func splitYAMLError(err error) (int, string) {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		ln, _ := strconv.Atoi(m[1])
		return ln, m[2]
	}
	return 0, strings.TrimPrefix(msg, "yaml: ")
}

// maxProblemLineSearch bounds problemLine's work (it parses up to this many
// prefixes of the file).
const maxProblemLineSearch = 2000

// problemLine finds the line a syntax error is on. yaml.v3 reports the line where
// the enclosing block begins (its context mark), which can be far above the
// mistake; the first prefix of the file, cut at a line end at or after that
// line, that fails with the same message ends at the mistake. If no prefix
// does (a cut inside a multi-line value fails differently), yaml.v3's line
// stands.
func problemLine(data []byte, reported int, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxProblemLineSearch {
		return reported
	}
	end := 0
	for i, l := range lines {
		end += len(l)
		if i+1 < reported {
			continue
		}
		if err := decodeAll(data[:end]); err != nil {
			if _, m := splitYAMLError(err); m == msg {
				return i + 1
			}
		}
	}
	return reported
}

// decodeAll parses every document in data and returns the first error.
func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// resolve follows aliases (*name) to the node they refer to.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or an explicit null ("key:" with no value).
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind for "got ..." in messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	switch {
	case n == nil:
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.ShortTag() == "!!null":
		return "null"
	}
	return strconv.Quote(n.Value)
}

// join appends a key to a path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends a list index to a path.
func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// field is one key: value pair of a mapping.
type field struct {
	name     string
	key, val *yaml.Node
}

// pairs returns the entries of mapping n in order, with merge keys (<<: *base)
// expanded and duplicate keys reported. A null n is an empty mapping.
func (d *decoder) pairs(n *yaml.Node, path string) []field {
	if isNull(n) {
		return nil
	}
	m := resolve(n)
	if m.Kind != yaml.MappingNode {
		d.add(n, path, "must be a mapping (key: value lines), got %s", describe(n))
		return nil
	}
	var out, merged []field
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.ShortTag() == "!!merge" {
			merged = append(merged, d.mergePairs(v, path)...)
			continue
		}
		rk := resolve(k)
		if rk.Kind != yaml.ScalarNode {
			d.add(k, path, "keys must be plain strings, got %s", describe(k))
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			d.add(k, join(path, rk.Value), "duplicate key (first set on line %d)", first.Line)
			continue
		}
		seen[rk.Value] = k
		out = append(out, field{rk.Value, k, v})
	}
	// Keys written in the mapping itself override merged ones; among merged
	// mappings the first one wins, as YAML's merge key specifies.
	for _, f := range merged {
		if _, ok := seen[f.name]; !ok {
			seen[f.name] = f.key
			out = append(out, f)
		}
	}
	return out
}

func (d *decoder) mergePairs(v *yaml.Node, path string) []field {
	r := resolve(v)
	if r != nil && r.Kind == yaml.SequenceNode {
		var out []field
		for _, item := range r.Content {
			out = append(out, d.pairs(item, path)...)
		}
		return out
	}
	return d.pairs(v, path)
}

// mapping returns the entries of mapping n by key, reporting keys not in known.
// ok is false when n is not a mapping (nil or null n is an empty mapping).
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) (map[string]field, bool) {
	if !isNull(n) && resolve(n).Kind != yaml.MappingNode {
		d.add(n, path, "must be a mapping (key: value lines), got %s", describe(n))
		return nil, false
	}
	out := map[string]field{}
	for _, f := range d.pairs(n, path) {
		if !contains(known, f.name) {
			d.add(f.key, join(path, f.name), "unknown key%s", didYouMean(f.name, known))
			continue
		}
		out[f.name] = f
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// list returns the items of sequence n; a null n is an empty list.
func (d *decoder) list(n *yaml.Node, path string) []*yaml.Node {
	if isNull(n) {
		return nil
	}
	s := resolve(n)
	if s.Kind != yaml.SequenceNode {
		d.add(n, path, "must be a list (lines beginning with \"- \"), got %s", describe(n))
		return nil
	}
	return s.Content
}

// scalar returns the text of a scalar node: a plain, quoted or block string, or a
// number or boolean as written. A null node is "". ok is false (and a problem
// recorded) for mappings and lists.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	s := resolve(n)
	if s.Kind != yaml.ScalarNode {
		d.add(n, path, "must be a single value, got %s", describe(n))
		return "", false
	}
	return s.Value, true
}

// intIn returns the integer in n if it is one from lo to hi. YAML integers are
// read with YAML's rules (0x1F, 1_000); quoted decimal strings are accepted too,
// since AWS carries every number as a string.
func (d *decoder) intIn(n *yaml.Node, path string, lo, hi int) (int, bool) {
	s := resolve(n)
	v, ok := intValue(s)
	if ok && v >= lo && v <= hi {
		return v, true
	}
	got := describe(n) // quoted scalar text, or the kind of a mapping or list
	d.add(n, path, "must be an integer from %d to %d, got %s", lo, hi, got)
	return 0, false
}

// intValue reads an integer scalar.
func intValue(s *yaml.Node) (int, bool) {
	if s == nil || s.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch s.ShortTag() {
	case "!!int":
		var v int
		if err := s.Decode(&v); err != nil {
			return 0, false
		}
		return v, true
	case "!!str":
		return parseDecimal(s.Value)
	}
	return 0, false
}

// boolean returns the boolean in n (true or false, in any case YAML accepts).
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	s := resolve(n)
	if s != nil && s.Kind == yaml.ScalarNode {
		switch s.ShortTag() {
		case "!!bool":
			var v bool
			if err := s.Decode(&v); err == nil {
				return v, true
			}
		case "!!str":
			if c, err := checkBool(s.Value); err == nil {
				return c == "true", true
			}
		}
		d.add(n, path, "must be true or false, got %q", s.Value)
		return false, false
	}
	d.add(n, path, "must be true or false, got %s", describe(n))
	return false, false
}

// attributeValue returns an attribute value as AWS's API would carry it: YAML
// booleans become "true"/"false", YAML integers their decimal form, strings are
// kept as written and null is "".
func (d *decoder) attributeValue(n *yaml.Node, path string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	s := resolve(n)
	if s.Kind != yaml.ScalarNode {
		d.add(n, path, "must be a single value, got %s", describe(n))
		return "", false
	}
	switch s.ShortTag() {
	case "!!bool":
		var v bool
		if s.Decode(&v) == nil {
			return strconv.FormatBool(v), true
		}
	case "!!int":
		var v int64
		if s.Decode(&v) == nil {
			return strconv.FormatInt(v, 10), true
		}
	}
	return s.Value, true
}

// emptyMapping is the root of an empty configuration, on line 1.
func emptyMapping() *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: 1, Column: 1}
}
