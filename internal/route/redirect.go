package route

import (
	"strings"

	"github.com/albatross-lb/albatross/internal/config"
)

// MaxLocation is the longest redirect URL ALB sends; a longer one fails the
// redirect (HTTP_Redirect_Url_Limit_Exceeded_Count).
const MaxLocation = 8 << 10

// Redirect is a compiled redirect action: the status code and a template per
// URL component.
type Redirect struct {
	// Status is 301 or 302.
	Status int
	// protocol is "http" or "https", or empty for #{protocol}.
	protocol                string
	host, port, path, query template
}

// template is a redirect component: literal text and placeholders.
type template []part

type part struct {
	lit string
	ph  byte // 0 for literal text, else the placeholder's first letter after "#{"
}

// CompileRedirect compiles a validated redirect configuration (defaults filled
// in, see config.RedirectDefaults).
func CompileRedirect(c config.RedirectConfig) *Redirect {
	c = config.RedirectDefaults(c)
	r := &Redirect{Status: 301}
	if c.StatusCode == config.RedirectHTTP302 {
		r.Status = 302
	}
	if c.Protocol != config.PlaceholderProtocol {
		r.protocol = strings.ToLower(c.Protocol)
	}
	r.host, r.port, r.path, r.query = compileTemplate(c.Host), compileTemplate(c.Port), compileTemplate(c.Path), compileTemplate(c.Query)
	return r
}

var placeholders = map[string]byte{
	config.PlaceholderProtocol: 'r',
	config.PlaceholderHost:     'h',
	config.PlaceholderPort:     'o',
	config.PlaceholderPath:     'p',
	config.PlaceholderQuery:    'q',
}

func compileTemplate(s string) template {
	var t template
	for len(s) > 0 {
		i := strings.Index(s, "#{")
		if i < 0 {
			break
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			break
		}
		ph, ok := placeholders[s[i:i+end+1]]
		if !ok {
			t = append(t, part{lit: s[:i+end+1]})
			s = s[i+end+1:]
			continue
		}
		if i > 0 {
			t = append(t, part{lit: s[:i]})
		}
		t = append(t, part{ph: ph})
		s = s[i+end+1:]
	}
	if s != "" {
		t = append(t, part{lit: s})
	}
	return t
}

// RedirectInput is what a redirect may copy from the request.
type RedirectInput struct {
	// Scheme is the listener's protocol in lower case ("http").
	Scheme string
	// Host is the request's host without port; Port the listener's port.
	Host []byte
	Port string
	// Path and Query are the request's (Path with its leading "/", Query
	// without "?").
	Path, Query []byte
}

// AppendLocation appends the redirect URL for in:
// PROTOCOL://HOST:PORT/PATH[?QUERY], the port always written and "?" only with
// a non-empty query, nothing percent-encoded, as ALB sends it.
func (r *Redirect) AppendLocation(b []byte, in *RedirectInput) []byte {
	if r.protocol != "" {
		b = append(b, r.protocol...)
	} else {
		b = append(b, in.Scheme...)
	}
	b = append(b, "://"...)
	b = r.host.append(b, in)
	b = append(b, ':')
	b = r.port.append(b, in)
	b = r.path.append(b, in)
	q := len(b)
	b = append(b, '?')
	b = r.query.append(b, in)
	if len(b) == q+1 {
		b = b[:q]
	}
	return b
}

func (t template) append(b []byte, in *RedirectInput) []byte {
	for _, p := range t {
		switch p.ph {
		case 0:
			b = append(b, p.lit...)
		case 'r':
			b = append(b, in.Scheme...)
		case 'h':
			b = append(b, in.Host...)
		case 'o':
			b = append(b, in.Port...)
		case 'p':
			// #{path} is the path without its leading "/".
			path := in.Path
			if len(path) > 0 && path[0] == '/' {
				path = path[1:]
			}
			b = append(b, path...)
		case 'q':
			b = append(b, in.Query...)
		}
	}
	return b
}
