package elbv2_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// testCerts writes self-signed certificates into the env's certificate
// directory as NAME.crt and NAME.key, and returns a pool that trusts them all.
func testCerts(t *testing.T, e *env, certs map[string][]string) *x509.CertPool {
	t.Helper()
	dir := filepath.Join(e.dir, "certificates")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for name, dnsNames := range certs {
		c, k, err := tlsconf.SelfSigned(dnsNames, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".crt"), c, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".key"), k, 0o600); err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(c)
	}
	return pool
}

func iamCert(name string) string { return "arn:aws:iam::000000000000:server-certificate/" + name }

// tlsGet sends one HTTPS request with SNI name to 127.0.0.1:port on client
// and returns the body and the DNS names of the certificate the server showed.
func tlsGet(t *testing.T, client *http.Client, port int, sni string) (string, []string, bool) {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("https://%s:%d/", sni, port), nil)
	if err != nil {
		t.Fatal(err)
	}
	reused := false
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	}))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET https://%s:%d/: %v", sni, port, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET https://%s:%d/: status %d %s", sni, port, resp.StatusCode, b)
	}
	return string(b), resp.TLS.PeerCertificates[0].DNSNames, reused
}

// httpsClient trusts pool and dials 127.0.0.1 whatever the host name, so that
// the URL's host is the SNI name. maxVersion 0 means Go's default.
func httpsClient(pool *x509.CertPool, maxVersion uint16) *http.Client {
	var d net.Dialer
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, "127.0.0.1:"+port)
		},
	}}
}

// httpsClientFor is a client whose every request makes a new TLS handshake,
// so that the certificate is chosen again. It accepts any certificate for
// the name (a name no certificate has gets the default one): the tests check
// which one was shown.
func httpsClientFor(pool *x509.CertPool, _ string) *http.Client {
	c := httpsClient(pool, 0)
	tr := c.Transport.(*http.Transport)
	tr.DisableKeepAlives = true
	tr.TLSClientConfig.InsecureSkipVerify = true
	return c
}

func TestHTTPSListenerWithSDK(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 1})
	pool := testCerts(t, e, map[string][]string{
		"default": {"default.example.test"},
		"api":     {"api.example.test"},
		"wild":    {"*.apps.example.test"},
	})
	c := e.client
	lbARN, tgARN := createLBAndTG(t, e, "tls-lb", "tls-tg")
	tgt := startTarget(t, "backend")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(tgt.ip), Port: aws.Int32(tgt.port)}}}); err != nil {
		t.Fatal(err)
	}
	port := e.ports[0]

	// Refused: each changes nothing.
	https := func(certs []types.Certificate, policy *string) error {
		_, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttps,
			Port: aws.Int32(int32(port)), Certificates: certs, SslPolicy: policy, DefaultActions: forward(tgARN)})
		return err
	}
	cert := func(arns ...string) []types.Certificate {
		var out []types.Certificate
		for _, a := range arns {
			out = append(out, types.Certificate{CertificateArn: aws.String(a)})
		}
		return out
	}
	wantCode(t, "HTTPS without a certificate", https(nil, nil), "ValidationError")
	wantAPIError[*types.CertificateNotFoundException](t, "unknown certificate", https(cert(iamCert("nope")), nil))
	wantAPIError[*types.CertificateNotFoundException](t, "unknown ACM certificate", https(cert("arn:aws:acm:us-east-1:000000000000:certificate/0b6e-nope"), nil))
	wantCode(t, "not a certificate ARN", https(cert("arn:aws:s3:::bucket/key"), nil), "ValidationError")
	wantCode(t, "path in certificate name", https(cert(iamCert("..")), nil), "ValidationError")
	wantCode(t, "two default certificates", https(cert(iamCert("default"), iamCert("api")), nil), "ValidationError")
	wantAPIError[*types.SSLPolicyNotFoundException](t, "unknown policy", https(cert(iamCert("default")), aws.String("ELBSecurityPolicy-Nope")))
	wantCode(t, "FIPS policy", https(cert(iamCert("default")), aws.String("ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04")), "InvalidConfigurationRequest")
	_, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(port)), Certificates: cert(iamCert("default")), DefaultActions: forward(tgARN)})
	wantCode(t, "HTTP listener with a certificate", err, "ValidationError")
	if ls, _ := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)}); len(ls.Listeners) != 0 {
		t.Fatalf("a refused CreateListener left %d listeners", len(ls.Listeners))
	}

	// Created with AWS's API default policy.
	out, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttps,
		Port: aws.Int32(int32(port)), Certificates: cert(iamCert("default")), DefaultActions: forward(tgARN)})
	if err != nil {
		t.Fatalf("CreateListener HTTPS: %v", err)
	}
	l := out.Listeners[0]
	if aws.ToString(l.SslPolicy) != "ELBSecurityPolicy-2016-08" || len(l.Certificates) != 1 || aws.ToString(l.Certificates[0].CertificateArn) != iamCert("default") || l.Protocol != types.ProtocolEnumHttps {
		t.Fatalf("listener %+v", l)
	}
	lARN := l.ListenerArn

	client := httpsClient(pool, 0)
	defer client.CloseIdleConnections()
	body, names, _ := tlsGet(t, client, port, "default.example.test")
	if body != "backend" || !slices.Equal(names, []string{"default.example.test"}) {
		t.Fatalf("HTTPS request: body %q, certificate %v", body, names)
	}

	// SNI certificates, added live: the kept-alive connection is not dropped.
	add, err := c.AddListenerCertificates(ctx(t), &elb.AddListenerCertificatesInput{ListenerArn: lARN, Certificates: cert(iamCert("api"), iamCert("wild"))})
	if err != nil || len(add.Certificates) != 2 {
		t.Fatalf("AddListenerCertificates: %+v %v", add, err)
	}
	if _, _, reused := tlsGet(t, client, port, "default.example.test"); !reused {
		t.Error("AddListenerCertificates closed a kept-alive connection")
	}
	for sni, want := range map[string]string{
		"api.example.test":      "api.example.test",
		"x.apps.example.test":   "*.apps.example.test",
		"default.example.test":  "default.example.test",
		"other.example.test":    "default.example.test",
		"a.b.apps.example.test": "default.example.test",
	} {
		if body, names, _ := tlsGet(t, httpsClientFor(pool, sni), port, sni); body != "backend" || !slices.Equal(names, []string{want}) {
			t.Errorf("SNI %s: body %q certificate %v, want %s", sni, body, names, want)
		}
	}
	// Adding one again is a no-op.
	if _, err := c.AddListenerCertificates(ctx(t), &elb.AddListenerCertificatesInput{ListenerArn: lARN, Certificates: cert(iamCert("api"))}); err != nil {
		t.Fatal(err)
	}

	// The quota: 25 certificates per load balancer besides the default ones;
	// this listener has 2, so 24 more are refused, whole.
	many := map[string][]string{}
	var manyARNs []string
	for i := range 24 {
		n := fmt.Sprintf("many%d", i)
		many[n] = []string{n + ".example.test"}
		manyARNs = append(manyARNs, iamCert(n))
	}
	testCerts(t, e, many)
	_, err = c.AddListenerCertificates(ctx(t), &elb.AddListenerCertificatesInput{ListenerArn: lARN, Certificates: cert(manyARNs...)})
	wantAPIError[*types.TooManyCertificatesException](t, "26 SNI certificates", err)

	// DescribeListenerCertificates, one per page.
	var got []types.Certificate
	p := elb.NewDescribeListenerCertificatesPaginator(c, &elb.DescribeListenerCertificatesInput{ListenerArn: lARN, PageSize: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		pg, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, pg.Certificates...)
	}
	if pages != 3 || len(got) != 3 || !aws.ToBool(got[0].IsDefault) || aws.ToString(got[0].CertificateArn) != iamCert("default") ||
		aws.ToBool(got[1].IsDefault) || aws.ToString(got[1].CertificateArn) != iamCert("api") || aws.ToString(got[2].CertificateArn) != iamCert("wild") {
		t.Fatalf("DescribeListenerCertificates: %d pages, %+v", pages, got)
	}
	// DescribeListeners shows the default certificate only, as AWS.
	dl, err := c.DescribeListeners(ctx(t), &elb.DescribeListenersInput{ListenerArns: []string{*lARN}})
	if err != nil || len(dl.Listeners[0].Certificates) != 1 {
		t.Fatalf("DescribeListeners: %+v %v", dl, err)
	}

	// Removing: the default is refused; others go, live.
	_, err = c.RemoveListenerCertificates(ctx(t), &elb.RemoveListenerCertificatesInput{ListenerArn: lARN, Certificates: cert(iamCert("api"), iamCert("default"))})
	wantAPIError[*types.OperationNotPermittedException](t, "remove the default certificate", err)
	if _, names, _ := tlsGet(t, httpsClientFor(pool, "api.example.test"), port, "api.example.test"); !slices.Equal(names, []string{"api.example.test"}) {
		t.Errorf("a refused RemoveListenerCertificates removed a certificate: %v", names)
	}
	if _, err := c.RemoveListenerCertificates(ctx(t), &elb.RemoveListenerCertificatesInput{ListenerArn: lARN, Certificates: cert(iamCert("api"))}); err != nil {
		t.Fatal(err)
	}
	if _, names, _ := tlsGet(t, httpsClientFor(pool, "api.example.test"), port, "api.example.test"); !slices.Equal(names, []string{"default.example.test"}) {
		t.Errorf("after removing api's certificate, SNI api.example.test got %v", names)
	}
	if _, _, reused := tlsGet(t, client, port, "default.example.test"); !reused {
		t.Error("RemoveListenerCertificates closed a kept-alive connection")
	}

	// Errors of the certificate calls.
	missing := *lARN + "0"
	missing = missing[:len(missing)-17] + "0123456789abcdef"
	_, err = c.AddListenerCertificates(ctx(t), &elb.AddListenerCertificatesInput{ListenerArn: aws.String(missing), Certificates: cert(iamCert("api"))})
	wantAPIError[*types.ListenerNotFoundException](t, "AddListenerCertificates unknown listener", err)
	_, err = c.DescribeListenerCertificates(ctx(t), &elb.DescribeListenerCertificatesInput{ListenerArn: aws.String(missing)})
	wantAPIError[*types.ListenerNotFoundException](t, "DescribeListenerCertificates unknown listener", err)
	_, err = c.RemoveListenerCertificates(ctx(t), &elb.RemoveListenerCertificatesInput{ListenerArn: aws.String(missing), Certificates: cert(iamCert("api"))})
	wantAPIError[*types.ListenerNotFoundException](t, "RemoveListenerCertificates unknown listener", err)
	_, err = c.AddListenerCertificates(ctx(t), &elb.AddListenerCertificatesInput{ListenerArn: lARN, Certificates: cert(iamCert("nope"))})
	wantAPIError[*types.CertificateNotFoundException](t, "AddListenerCertificates unknown certificate", err)

	// The policy applies: TLS 1.3 only refuses a TLS 1.2 client.
	if _, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-3-2021-06")}); err != nil {
		t.Fatal(err)
	}
	old := httpsClient(pool, tls.VersionTLS12)
	if _, err := old.Get(fmt.Sprintf("https://default.example.test:%d/", port)); err == nil {
		t.Error("a TLS 1.2 client was served under ELBSecurityPolicy-TLS13-1-3-2021-06")
	}
	if body, _, _ := tlsGet(t, httpsClientFor(pool, "default.example.test"), port, "default.example.test"); body != "backend" {
		t.Errorf("TLS 1.3 client: %q", body)
	}
	_, err = c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, SslPolicy: aws.String("ELBSecurityPolicy-Nope")})
	wantAPIError[*types.SSLPolicyNotFoundException](t, "ModifyListener unknown policy", err)

	// DescribeSSLPolicies lists exactly the policies listeners accept, and
	// every one of them is accepted.
	var names2 []string
	var marker *string
	for range 10 {
		pg, err := c.DescribeSSLPolicies(ctx(t), &elb.DescribeSSLPoliciesInput{PageSize: aws.Int32(10), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pg.SslPolicies {
			names2 = append(names2, aws.ToString(p.Name))
			if len(p.SslProtocols) == 0 || len(p.Ciphers) == 0 {
				t.Errorf("policy %s lists no protocols or ciphers", aws.ToString(p.Name))
			}
		}
		if marker = pg.NextMarker; marker == nil {
			break
		}
	}
	_, err = c.DescribeSSLPolicies(ctx(t), &elb.DescribeSSLPoliciesInput{Names: []string{"ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04"}})
	wantAPIError[*types.SSLPolicyNotFoundException](t, "DescribeSSLPolicies of a FIPS policy, which listeners refuse", err)
	if !slices.Equal(names2, tlsconf.Names()) {
		t.Errorf("DescribeSSLPolicies lists %v, tlsconf serves %v", names2, tlsconf.Names())
	}
	for _, n := range names2 {
		if _, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, SslPolicy: aws.String(n)}); err != nil {
			t.Errorf("ModifyListener SslPolicy %s: %v", n, err)
		}
	}

	// Replacing the default certificate keeps the SNI ones.
	if _, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, Certificates: cert(iamCert("api"))}); err != nil {
		t.Fatal(err)
	}
	dc, err := c.DescribeListenerCertificates(ctx(t), &elb.DescribeListenerCertificatesInput{ListenerArn: lARN})
	if err != nil || len(dc.Certificates) != 2 || aws.ToString(dc.Certificates[0].CertificateArn) != iamCert("api") || aws.ToString(dc.Certificates[1].CertificateArn) != iamCert("wild") {
		t.Fatalf("after replacing the default: %+v %v", dc, err)
	}
	if _, names, _ := tlsGet(t, httpsClientFor(pool, "other.example.test"), port, "other.example.test"); !slices.Equal(names, []string{"api.example.test"}) {
		t.Errorf("new default certificate not served: %v", names)
	}

	// Back to HTTP: certificates and policy are dropped and plain HTTP works.
	mo, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, Protocol: types.ProtocolEnumHttp})
	if err != nil || mo.Listeners[0].SslPolicy != nil || len(mo.Listeners[0].Certificates) != 0 {
		t.Fatalf("ModifyListener to HTTP: %+v %v", mo, err)
	}
	if code, body := get(t, port, "/"); code != 200 || body != "backend" {
		t.Errorf("HTTP after the switch: %d %q", code, body)
	}
	// And HTTPS again needs a certificate.
	_, err = c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, Protocol: types.ProtocolEnumHttps})
	wantCode(t, "ModifyListener to HTTPS without a certificate", err, "ValidationError")
	if _, err := c.ModifyListener(ctx(t), &elb.ModifyListenerInput{ListenerArn: lARN, Protocol: types.ProtocolEnumHttps,
		Certificates: cert(iamCert("default")), SslPolicy: aws.String("ELBSecurityPolicy-TLS13-1-2-2021-06")}); err != nil {
		t.Fatal(err)
	}

	// The listener, its certificates and its policy survive a restart.
	e.stop()
	e2 := startEnv(t, envOptions{dir: e.dir})
	dl, err = e2.client.DescribeListeners(ctx(t), &elb.DescribeListenersInput{ListenerArns: []string{*lARN}})
	if err != nil || aws.ToString(dl.Listeners[0].SslPolicy) != "ELBSecurityPolicy-TLS13-1-2-2021-06" {
		t.Fatalf("after restart: %+v %v", dl, err)
	}
	if body, names, _ := tlsGet(t, httpsClientFor(pool, "default.example.test"), port, "default.example.test"); body != "backend" || !slices.Equal(names, []string{"default.example.test"}) {
		t.Errorf("after restart: %q %v", body, names)
	}
}

// TestConfigFileHTTPS: HTTPS listeners and HTTP2 target groups declared in
// the configuration file reach the node through the control plane with their
// certificates, policy and protocol version, and the API describes them.
func TestConfigFileHTTPS(t *testing.T) {
	dir := t.TempDir()
	c, k, err := tlsconf.SelfSigned([]string{"file.example.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "file.crt"), c, 0o600)
	os.WriteFile(filepath.Join(dir, "file.key"), k, 0o600)
	tgt := startTarget(t, "F")
	port := testutil.FreePort(t)
	cfg, err := config.Parse("albatross.yaml", []byte(`
load_balancers:
  - name: file-tls
    listeners:
      - port: `+itoa(port)+`
        address: 127.0.0.1
        protocol: HTTPS
        ssl_policy: ELBSecurityPolicy-TLS13-1-3-2021-06
        certificates: [{cert: `+filepath.Join(dir, "file.crt")+`, key: `+filepath.Join(dir, "file.key")+`}]
        default_actions: [{type: forward, target_group: file-h2}]
target_groups:
  - name: file-h2
    protocol_version: HTTP2
    port: `+itoa(int(tgt.port))+`
    targets: [{id: 127.0.0.1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, envOptions{file: cfg})
	ls, err := e.client.DescribeListeners(ctx(t), &elb.DescribeListenersInput{LoadBalancerArn: lbARNByName(t, e, "file-tls")})
	if err != nil || len(ls.Listeners) != 1 {
		t.Fatalf("DescribeListeners: %+v %v", ls, err)
	}
	l := ls.Listeners[0]
	arn := aws.ToString(l.Certificates[0].CertificateArn)
	if l.Protocol != types.ProtocolEnumHttps || aws.ToString(l.SslPolicy) != "ELBSecurityPolicy-TLS13-1-3-2021-06" || len(arn) < len("arn:aws:acm:") || arn[:12] != "arn:aws:acm:" {
		t.Errorf("file HTTPS listener: %+v", l)
	}
	tg, err := e.client.DescribeTargetGroups(ctx(t), &elb.DescribeTargetGroupsInput{Names: []string{"file-h2"}})
	if err != nil || aws.ToString(tg.TargetGroups[0].ProtocolVersion) != "HTTP2" {
		t.Fatalf("file HTTP2 group: %+v %v", tg, err)
	}
	// The certificate the node serves is the one the API names.
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true, ServerName: "file.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; !slices.Equal(got, []string{"file.example.test"}) || conn.ConnectionState().Version != tls.VersionTLS13 {
		t.Errorf("served %v over %x", got, conn.ConnectionState().Version)
	}
	if want := tlsconf.CertificateARN("us-east-1", "000000000000", conn.ConnectionState().PeerCertificates[0].Raw); arn != want {
		t.Errorf("DescribeListeners says %s, the node logs %s", arn, want)
	}
}

func lbARNByName(t *testing.T, e *env, name string) *string {
	t.Helper()
	out, err := e.client.DescribeLoadBalancers(ctx(t), &elb.DescribeLoadBalancersInput{Names: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	return out.LoadBalancers[0].LoadBalancerArn
}
