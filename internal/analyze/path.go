package analyze

import "bytes"

// maxPathKey bounds a normalised path, so that one absurd URL cannot make a
// table key of megabytes. Longer paths are cut and end with "...".
const maxPathKey = 256

// idSegment replaces a path segment that looks like an identifier.
const idSegment = "{id}"

// requestPath returns the path of a logged request line (`METHOD URL
// VERSION`), without query: for ALB's absolute form
// `https://host:443/a/b?x` that is `/a/b`. It returns an empty, non-nil path for a URL without one and nil when the line has no
// readable URL (`- - -`, or a partly parsed `- http://host:80- -`).
func requestPath(req []byte) []byte {
	sp := bytes.IndexByte(req, ' ')
	if sp <= 0 || req[0] == '-' { // no method: ALB could not parse the request
		return nil
	}
	url := req[sp+1:]
	if end := bytes.LastIndexByte(url, ' '); end >= 0 {
		url = url[:end]
	}
	if i := bytes.Index(url, []byte("://")); i >= 0 {
		url = url[i+3:]
		slash := bytes.IndexByte(url, '/')
		if slash < 0 {
			return url[:0] // no path: the root
		}
		url = url[slash:]
	}
	if len(url) == 0 || url[0] != '/' {
		return nil
	}
	if q := bytes.IndexAny(url, "?#"); q >= 0 {
		url = url[:q]
	}
	return url
}

// normalizePath appends to dst the path p with identifier segments collapsed
// to "{id}", so that /users/123 and /users/456 count as one path. A segment is
// an identifier when it is
//   - all digits (123), or digits with punctuation and no letters (2025-11-03, 1.5);
//   - hexadecimal with dashes, at least 8 long and with a digit (UUIDs, hashes,
//     object ids: 5f0c6b2e9a1d4c3b, 123e4567-e89b-12d3-a456-426614174000);
//   - at least 20 long with a digit (opaque tokens).
//
// Other segments (v1, users, item42) are kept as they are.
func normalizePath(dst, p []byte) []byte {
	start := len(dst)
	for len(p) > 0 {
		// p starts at a '/' (or is the remainder of a relative path).
		if p[0] == '/' {
			dst = append(dst, '/')
			p = p[1:]
		} else {
			end := bytes.IndexByte(p, '/')
			if end < 0 {
				end = len(p)
			}
			seg := p[:end]
			if isIDSegment(seg) {
				dst = append(dst, idSegment...)
			} else {
				dst = append(dst, seg...)
			}
			p = p[end:]
		}
		// Checked after every step, slashes included: a path of 300 "/"
		// is as long as any other.
		if len(dst)-start > maxPathKey {
			dst = append(dst[:start+maxPathKey], "..."...)
			break
		}
	}
	if len(dst) == start {
		dst = append(dst, '/')
	}
	return dst
}

// isIDSegment reports whether a path segment looks like an identifier (see
// normalizePath).
func isIDSegment(s []byte) bool {
	var digits, letters, hexLetters, other int
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9':
			digits++
		case 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F':
			letters++
			hexLetters++
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
			letters++
		case c == '-':
			other++
		default:
			other++
		}
	}
	switch {
	case digits == 0:
		return false
	case letters == 0:
		return true // 123, 2025-11-03, 1.5
	case letters == hexLetters && len(s) >= 8 && digits+hexLetters+bytes.Count(s, []byte{'-'}) == len(s):
		return true // hex with dashes
	default:
		return len(s) >= 20
	}
}
