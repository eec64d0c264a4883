package route

import (
	"fmt"
	"strings"
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
)

// TestRedirectPlaceholdersFromFile: redirects written in the configuration
// file, with each component left out and with every placeholder where ALB
// allows it (mixed with literal text), parse and produce ALB's Location;
// placeholders where ALB does not allow them are refused naming the field.
func TestRedirectPlaceholdersFromFile(t *testing.T) {
	in := &RedirectInput{Scheme: "http", Host: []byte("www.example.com"), Port: "80", Path: []byte("/old/a"), Query: []byte("x=1")}
	for _, c := range []struct {
		redirect string // the YAML flow map's contents, status code added
		want     string // Location, or the error's text after the field path
	}{
		{"host: new.example.org, port: '8080', path: /n, query: q=1", "http://new.example.org:8080/n?q=1"},
		{"protocol: HTTPS, port: '8443', path: /n, query: q=1", "https://www.example.com:8443/n?q=1"},
		{"protocol: HTTPS, host: new.example.org, path: /n, query: q=1", "https://new.example.org:80/n?q=1"},
		{"protocol: HTTPS, host: new.example.org, port: '443', query: q=1", "https://new.example.org:443/old/a?q=1"},
		{"protocol: HTTPS, host: new.example.org, port: '443', path: /n", "https://new.example.org:443/n?x=1"},
		{"protocol: HTTPS, port: '443'", "https://www.example.com:443/old/a?x=1"},
		{"host: '#{host}', protocol: HTTPS", "https://www.example.com:80/old/a?x=1"},
		{"protocol: '#{protocol}', host: '#{host}', port: '#{port}', path: '/new/#{path}', query: '#{query}'", "http://www.example.com:80/new/old/a?x=1"},
		{"host: '#{host}.example.org'", "http://www.example.com.example.org:80/old/a?x=1"},
		{"host: 'eu.#{host}'", "http://eu.www.example.com:80/old/a?x=1"},
		{"path: '/#{host}/#{path}'", "http://www.example.com:80/www.example.com/old/a?x=1"},
		{"path: '/p#{port}/#{path}'", "http://www.example.com:80/p80/old/a?x=1"},
		{"port: '8080', query: 's=#{protocol}&h=#{host}&p=#{port}&path=#{path}&#{query}'", "http://www.example.com:8080/old/a?s=http&h=www.example.com&p=80&path=old/a&x=1"},
		{"host: '#{path}.example.org'", "redirect.host: may use only the placeholders #{host} here, got #{path}"},
		{"host: '#{port}.example.org'", "redirect.host: may use only the placeholders #{host} here, got #{port}"},
		{"host: '#{query}.example.org'", "redirect.host: may use only the placeholders #{host} here, got #{query}"},
		{"host: '#{protocol}.example.org'", "redirect.host: may use only the placeholders #{host} here, got #{protocol}"},
		{"host: 'a b.#{host}'", `redirect.host: must be a host name, optionally with #{host} (no spaces, '/', '?', '#', '@', '{' or '}' in its literal text), got "a b.#{host}"`},
		{"host: '#{host}/x'", `redirect.host: must be a host name, optionally with #{host} (no spaces, '/', '?', '#', '@', '{' or '}' in its literal text), got "#{host}/x"`},
		{"host: '#{host'", `redirect.host: has an unterminated placeholder in "#{host"`},
		{"protocol: '#{host}', host: new.example.org", `redirect.protocol: must be HTTP, HTTPS or #{protocol}, got "#{host}"`},
		{"port: '#{host}', host: new.example.org", `redirect.port: must be a port from 1 to 65535 or #{port}, got "#{host}"`},
		{"path: '/#{query}'", "redirect.path: may use only the placeholders #{host}, #{path}, #{port} here, got #{query}"},
		{"path: '/#{protocol}'", "redirect.path: may use only the placeholders #{host}, #{path}, #{port} here, got #{protocol}"},
		{"query: '#{query}'", "redirect: a redirect must change at least one of protocol, host, port or path; as written it redirects to itself"},
	} {
		file := `load_balancers:
  - name: web
    listeners:
      - port: 80
        default_actions: [{type: redirect, redirect: {` + c.redirect + `, status_code: HTTP_301}}]
`
		cfg, err := config.Parse("albatross.yaml", []byte(file))
		if strings.Contains(c.want, "://") {
			if err != nil {
				t.Errorf("{%s}: %v", c.redirect, err)
				continue
			}
			rd := CompileRedirect(*cfg.LoadBalancers[0].Listeners[0].DefaultActions[0].Redirect)
			if got := string(rd.AppendLocation(nil, in)); got != c.want {
				t.Errorf("{%s}: Location %s, want %s", c.redirect, got, c.want)
			}
			continue
		}
		want := fmt.Sprintf("albatross.yaml:5: load_balancers[0].listeners[0].default_actions[0].%s", c.want)
		if err == nil || err.Error() != want {
			t.Errorf("{%s}: error %v\nwant %s", c.redirect, err, want)
		}
	}
}
