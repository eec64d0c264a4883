package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/albatross-lb/albatross/internal/testutil"
	"github.com/albatross-lb/albatross/internal/testutil/testca"
	"github.com/albatross-lb/albatross/internal/tlsconf"
)

// headerTarget is a real HTTP target that remembers the headers of the last
// request that was not a health check.
type headerTarget struct {
	mu   sync.Mutex
	last http.Header
	addr string
}

func newHeaderTarget(t *testing.T) *headerTarget {
	ht := &headerTarget{}
	ht.addr = serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.UserAgent() != "ELB-HealthChecker/2.0" {
			ht.mu.Lock()
			ht.last = r.Header.Clone()
			ht.mu.Unlock()
		}
		io.WriteString(w, "target")
	}))
	return ht
}

func (ht *headerTarget) headers() http.Header {
	ht.mu.Lock()
	defer ht.mu.Unlock()
	return ht.last
}

// mtlsGet makes one HTTPS request with Go's TLS client presenting client (nil:
// none), sending extra headers; it returns the status, or the error.
func mtlsGet(addr string, client *testca.Client, extra http.Header) (int, error) {
	cfg := &tls.Config{InsecureSkipVerify: true}
	if client != nil {
		c := client.TLS()
		cfg.Certificates = []tls.Certificate{c}
	}
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

// TestMutualTLSThroughTheAPI drives trust stores and mutual TLS listeners
// with the real AWS SDK, and sends real clients (Go's TLS client and curl)
// through them to a real target.
func TestMutualTLSThroughTheAPI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	certDir := filepath.Join(data, "certificates")
	bucket := filepath.Join(certDir, "pki")
	if err := os.MkdirAll(bucket, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(bucket, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	writeCertificate(t, certDir, "web", "lb.example.test")

	root := testca.NewRoot(t, "Client Root")
	inter := root.Intermediate(t, "Client Issuing")
	stranger := testca.NewRoot(t, "Stranger Root").Client(t, "stranger", testca.ClientOptions{})
	good := inter.Client(t, "good.client", testca.ClientOptions{})
	revoked := inter.Client(t, "revoked.client", testca.ClientOptions{})
	expired := inter.Client(t, "expired.client", testca.ClientOptions{NotBefore: time.Now().Add(-3 * time.Hour), NotAfter: time.Now().Add(-2 * time.Hour)})
	write("bundle.pem", append(bytes.Clone(root.PEM), inter.PEM...))
	write("crl.pem", inter.CRL(t, revoked.Cert))
	write("not-a-bundle.pem", good.CertPEM) // a leaf is no CA
	for name, cl := range map[string]*testca.Client{"good": good, "stranger": stranger, "expired": expired, "revoked": revoked} {
		write(name+".pem", cl.CertPEM)
		write(name+".key", cl.KeyPEM)
	}

	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p, c := apiNode(t, data, admin)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node output:\n%s", p.stderr.String())
		}
	})
	ctx := context.Background()
	target := newHeaderTarget(t)
	host, tport, _ := net.SplitHostPort(target.addr)
	var port int32
	fmt.Sscan(tport, &port)

	lb, err := c.CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{Name: aws.String("mtls")})
	if err != nil {
		t.Fatal(err)
	}
	lbARN := lb.LoadBalancers[0].LoadBalancerArn
	tg, err := c.CreateTargetGroup(ctx, &elb.CreateTargetGroupInput{Name: aws.String("app"), Protocol: types.ProtocolEnumHttp, Port: aws.Int32(port), VpcId: aws.String("vpc-1"), TargetType: types.TargetTypeEnumIp})
	if err != nil {
		t.Fatal(err)
	}
	tgARN := tg.TargetGroups[0].TargetGroupArn
	if _, err := c.RegisterTargets(ctx, &elb.RegisterTargetsInput{TargetGroupArn: tgARN, Targets: []types.TargetDescription{{Id: aws.String(host), Port: aws.Int32(port)}}}); err != nil {
		t.Fatal(err)
	}

	// Bad trust store inputs.
	for _, tc := range []struct{ key, code string }{
		{"missing.pem", "CaCertificatesBundleNotFound"},
		{"not-a-bundle.pem", "InvalidCaCertificatesBundle"},
		{"../web.key", "InvalidCaCertificatesBundle"},
	} {
		_, err := c.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("bad"), CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String(tc.key)})
		if apiCode(err) != tc.code {
			t.Errorf("CreateTrustStore %s: %v, want %s", tc.key, err, tc.code)
		}
	}
	ts, err := c.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("clients"), CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String("bundle.pem"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("pki")}}})
	if err != nil {
		t.Fatal(err)
	}
	store := ts.TrustStores[0]
	tsARN := store.TrustStoreArn
	if aws.ToInt32(store.NumberOfCaCertificates) != 2 || store.Status != types.TrustStoreStatusActive || !strings.Contains(aws.ToString(tsARN), ":truststore/clients/") {
		t.Errorf("CreateTrustStore: %+v", store)
	}
	if _, err := c.CreateTrustStore(ctx, &elb.CreateTrustStoreInput{Name: aws.String("clients"), CaCertificatesBundleS3Bucket: aws.String("pki"), CaCertificatesBundleS3Key: aws.String("bundle.pem")}); apiCode(err) != "DuplicateTrustStoreName" {
		t.Errorf("duplicate trust store: %v", err)
	}
	if _, err := c.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{TrustStoreArns: []string{strings.Replace(aws.ToString(tsARN), "clients", "nope", 1)}}); apiCode(err) != "TrustStoreNotFound" {
		t.Errorf("DescribeTrustStores unknown: %v", err)
	}
	bundle, err := c.GetTrustStoreCaCertificatesBundle(ctx, &elb.GetTrustStoreCaCertificatesBundleInput{TrustStoreArn: tsARN})
	if err != nil {
		t.Fatal(err)
	}
	b64, ok := strings.CutPrefix(aws.ToString(bundle.Location), "data:application/x-pem-file;base64,")
	if raw, err := base64.StdEncoding.DecodeString(b64); !ok || err != nil || !bytes.Equal(raw, append(bytes.Clone(root.PEM), inter.PEM...)) {
		t.Errorf("GetTrustStoreCaCertificatesBundle location %.60q", aws.ToString(bundle.Location))
	}

	// Bad listener inputs.
	certs := []types.Certificate{{CertificateArn: aws.String("arn:aws:iam::000000000000:server-certificate/web")}}
	actions := []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tgARN}}
	verifyPort, ptPort := testutil.FreePort(t), testutil.FreePort(t)
	for _, tc := range []struct {
		name  string
		proto types.ProtocolEnum
		ma    *types.MutualAuthenticationAttributes
		code  string
	}{
		{"verify without a trust store", types.ProtocolEnumHttps, &types.MutualAuthenticationAttributes{Mode: aws.String("verify")}, "ValidationError"},
		{"unknown trust store", types.ProtocolEnumHttps, &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: aws.String(strings.Replace(aws.ToString(tsARN), "clients", "other", 1))}, "TrustStoreNotFound"},
		{"bad mode", types.ProtocolEnumHttps, &types.MutualAuthenticationAttributes{Mode: aws.String("strict")}, "ValidationError"},
		{"HTTP listener", types.ProtocolEnumHttp, &types.MutualAuthenticationAttributes{Mode: aws.String("passthrough")}, "ValidationError"},
	} {
		in := &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(verifyPort)), Protocol: tc.proto, DefaultActions: actions, MutualAuthentication: tc.ma}
		if tc.proto == types.ProtocolEnumHttps {
			in.Certificates = certs
		}
		if _, err := c.CreateListener(ctx, in); apiCode(err) != tc.code {
			t.Errorf("CreateListener %s: %v, want %s", tc.name, err, tc.code)
		}
	}

	vl, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(verifyPort)), Protocol: types.ProtocolEnumHttps, Certificates: certs, DefaultActions: actions,
		MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: tsARN, AdvertiseTrustStoreCaNames: types.AdvertiseTrustStoreCaNamesEnumOn}})
	if err != nil {
		t.Fatal(err)
	}
	vARN := vl.Listeners[0].ListenerArn
	if ma := vl.Listeners[0].MutualAuthentication; ma == nil || aws.ToString(ma.Mode) != "verify" || aws.ToString(ma.TrustStoreArn) != aws.ToString(tsARN) ||
		ma.AdvertiseTrustStoreCaNames != types.AdvertiseTrustStoreCaNamesEnumOn || aws.ToBool(ma.IgnoreClientCertificateExpiry) {
		t.Errorf("CreateListener MutualAuthentication %+v", ma)
	}
	if _, err := c.CreateListener(ctx, &elb.CreateListenerInput{LoadBalancerArn: lbARN, Port: aws.Int32(int32(ptPort)), Protocol: types.ProtocolEnumHttps, Certificates: certs, DefaultActions: actions,
		MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("passthrough")}}); err != nil {
		t.Fatal(err)
	}
	dl, err := c.DescribeListeners(ctx, &elb.DescribeListenersInput{LoadBalancerArn: lbARN})
	if err != nil || len(dl.Listeners) != 2 || aws.ToString(dl.Listeners[1].MutualAuthentication.Mode) != "passthrough" || aws.ToString(dl.Listeners[0].MutualAuthentication.TrustStoreArn) != aws.ToString(tsARN) {
		t.Errorf("DescribeListeners: %v %+v", err, dl)
	}
	if _, err := c.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: tsARN}); apiCode(err) != "TrustStoreInUse" {
		t.Errorf("DeleteTrustStore in use: %v", err)
	}
	// The store is associated with the load balancer of its verify listener.
	if as, err := c.DescribeTrustStoreAssociations(ctx, &elb.DescribeTrustStoreAssociationsInput{TrustStoreArn: tsARN}); err != nil ||
		len(as.TrustStoreAssociations) != 1 || aws.ToString(as.TrustStoreAssociations[0].ResourceArn) != aws.ToString(lbARN) {
		t.Errorf("DescribeTrustStoreAssociations: %v %+v", err, as)
	}
	if _, err := c.DescribeTrustStoreAssociations(ctx, &elb.DescribeTrustStoreAssociationsInput{TrustStoreArn: aws.String(strings.Replace(aws.ToString(tsARN), "clients", "nope", 1))}); apiCode(err) != "TrustStoreNotFound" {
		t.Errorf("DescribeTrustStoreAssociations of an unknown store: %v", err)
	}

	vAddr := fmt.Sprintf("127.0.0.1:%d", verifyPort)
	ptAddr := fmt.Sprintf("127.0.0.1:%d", ptPort)
	eventually(t, "the verify listener serving the good client", func() bool { st, _ := mtlsGet(vAddr, good, nil); return st == 200 })

	// advertise_trust_store_ca_names on: the client sees the store's CAs,
	// root and intermediate, in the CertificateRequest; passthrough names
	// none.
	if got := acceptableCAs(t, vAddr, good); !sameNames(got, root.Cert.RawSubject, inter.Cert.RawSubject) {
		t.Errorf("advertise on: the CertificateRequest names %q, want the trust store's two CAs", got)
	}
	if got := acceptableCAs(t, ptAddr, good); len(got) != 0 {
		t.Errorf("passthrough: the CertificateRequest names %q, want none", got)
	}

	// verify: the good chain gets through with ALB's headers, and a client's
	// own X-Amzn-Mtls-* headers never reach the target.
	st, err := mtlsGet(vAddr, good, http.Header{"X-Amzn-Mtls-Clientcert-Subject": {"CN=forged"}, "X-Amzn-Mtls-Clientcert": {"forged"}})
	if err != nil || st != 200 {
		t.Fatalf("good client: %d %v", st, err)
	}
	h := target.headers()
	if got := h.Values("X-Amzn-Mtls-Clientcert-Subject"); len(got) != 1 || got[0] != good.Cert.Subject.String() {
		t.Errorf("subject header %q, want %q", got, good.Cert.Subject.String())
	}
	if h.Get("X-Amzn-Mtls-Clientcert") != "" {
		t.Errorf("a client's X-Amzn-Mtls-Clientcert reached the target: %q", h.Get("X-Amzn-Mtls-Clientcert"))
	}
	if h.Get("X-Amzn-Mtls-Clientcert-Issuer") != "CN=Client Issuing,O=Albatross Test" ||
		h.Get("X-Amzn-Mtls-Clientcert-Serial-Number") != fmt.Sprintf("%X", good.Cert.SerialNumber.Bytes()) ||
		h.Get("X-Amzn-Mtls-Clientcert-Validity") != "NotBefore="+good.Cert.NotBefore.UTC().Format(time.RFC3339)+";NotAfter="+good.Cert.NotAfter.UTC().Format(time.RFC3339) {
		t.Errorf("verify headers %v", h)
	}
	if got := h.Get("X-Amzn-Mtls-Clientcert-Leaf"); got != good.LeafHeader() {
		t.Errorf("leaf header\n%q, want\n%q", got, good.LeafHeader())
	}

	// Refused: an unknown CA, an expired certificate, no certificate.
	for name, cl := range map[string]*testca.Client{"unknown CA": stranger, "expired": expired, "none": nil} {
		if st, err := mtlsGet(vAddr, cl, nil); err == nil {
			t.Errorf("%s: got through (%d)", name, st)
		}
	}
	// Expiry can be ignored; the CA names are no longer advertised.
	if _, err := c.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: vARN, MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("verify"), TrustStoreArn: tsARN,
		IgnoreClientCertificateExpiry: aws.Bool(true), AdvertiseTrustStoreCaNames: types.AdvertiseTrustStoreCaNamesEnumOff}}); err != nil {
		t.Fatal(err)
	}
	if st, err := mtlsGet(vAddr, expired, nil); err != nil || st != 200 {
		t.Errorf("expired with expiry ignored: %d %v", st, err)
	}
	if got := acceptableCAs(t, vAddr, good); len(got) != 0 {
		t.Errorf("advertise off: the CertificateRequest names %q, want none", got)
	}

	// Revocation: before the CRL the certificate passes, after it fails.
	if st, err := mtlsGet(vAddr, revoked, nil); err != nil || st != 200 {
		t.Errorf("not yet revoked: %d %v", st, err)
	}
	if _, err := c.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: tsARN, RevocationContents: []types.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("nope.crl")}}}); apiCode(err) != "RevocationContentNotFound" {
		t.Errorf("missing CRL: %v", err)
	}
	if _, err := c.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: tsARN, RevocationContents: []types.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("bundle.pem")}}}); apiCode(err) != "InvalidRevocationContent" {
		t.Errorf("a bundle as a CRL: %v", err)
	}
	added, err := c.AddTrustStoreRevocations(ctx, &elb.AddTrustStoreRevocationsInput{TrustStoreArn: tsARN, RevocationContents: []types.RevocationContent{{S3Bucket: aws.String("pki"), S3Key: aws.String("crl.pem"), RevocationType: types.RevocationTypeCrl}}})
	if err != nil || len(added.TrustStoreRevocations) != 1 || aws.ToInt64(added.TrustStoreRevocations[0].NumberOfRevokedEntries) != 1 {
		t.Fatalf("AddTrustStoreRevocations: %v %+v", err, added)
	}
	revID := aws.ToInt64(added.TrustStoreRevocations[0].RevocationId)
	if _, err := mtlsGet(vAddr, revoked, nil); err == nil {
		t.Error("a revoked certificate got through")
	}
	if st, err := mtlsGet(vAddr, good, nil); err != nil || st != 200 {
		t.Errorf("good client after the CRL: %d %v", st, err)
	}
	drs, err := c.DescribeTrustStoreRevocations(ctx, &elb.DescribeTrustStoreRevocationsInput{TrustStoreArn: tsARN})
	if err != nil || len(drs.TrustStoreRevocations) != 1 || aws.ToInt64(drs.TrustStoreRevocations[0].RevocationId) != revID || drs.TrustStoreRevocations[0].RevocationType != types.RevocationTypeCrl {
		t.Errorf("DescribeTrustStoreRevocations: %v %+v", err, drs)
	}
	// The revocation list reads back as it was added (a data: URL, no S3).
	rc, err := c.GetTrustStoreRevocationContent(ctx, &elb.GetTrustStoreRevocationContentInput{TrustStoreArn: tsARN, RevocationId: aws.Int64(revID)})
	if err != nil {
		t.Fatal(err)
	}
	crlB64, ok := strings.CutPrefix(aws.ToString(rc.Location), "data:application/pkix-crl;base64,")
	crlPEM, err := os.ReadFile(filepath.Join(bucket, "crl.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.StdEncoding.DecodeString(crlB64); !ok || err != nil || !bytes.Equal(raw, crlPEM) {
		t.Errorf("GetTrustStoreRevocationContent location %.60q", aws.ToString(rc.Location))
	}
	if _, err := c.GetTrustStoreRevocationContent(ctx, &elb.GetTrustStoreRevocationContentInput{TrustStoreArn: tsARN, RevocationId: aws.Int64(revID + 7)}); apiCode(err) != "RevocationIdNotFound" {
		t.Errorf("GetTrustStoreRevocationContent of an unknown id: %v", err)
	}
	if dts, err := c.DescribeTrustStores(ctx, &elb.DescribeTrustStoresInput{Names: []string{"clients"}}); err != nil || aws.ToInt64(dts.TrustStores[0].TotalRevokedEntries) != 1 {
		t.Errorf("DescribeTrustStores after the CRL: %v", err)
	}

	// The trust store, its CRL and the listener's setting are durable: a
	// restarted node enforces them as before.
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t)
	p, c = apiNode(t, data, admin)
	eventually(t, "the restarted node serving the good client", func() bool { st, _ := mtlsGet(vAddr, good, nil); return st == 200 })
	if _, err := mtlsGet(vAddr, revoked, nil); err == nil {
		t.Error("after a restart a revoked certificate got through")
	}
	if st, err := mtlsGet(vAddr, expired, nil); err != nil || st != 200 {
		t.Errorf("after a restart, expired with expiry ignored: %d %v", st, err)
	}

	// curl as a real client.
	if curl, err := exec.LookPath("curl"); err != nil {
		t.Log("curl not found; skipping the curl clients (.ci/run installs it)")
	} else {
		out, err := exec.Command(curl, "-sS", "-k", "--cert", filepath.Join(bucket, "good.pem"), "--key", filepath.Join(bucket, "good.key"), "https://"+vAddr+"/").CombinedOutput()
		if err != nil || string(out) != "target" {
			t.Errorf("curl --cert (verify): %v %s", err, out)
		}
		if got := target.headers().Get("X-Amzn-Mtls-Clientcert-Subject"); got != good.Cert.Subject.String() {
			t.Errorf("curl: subject header %q", got)
		}
		if out, err := exec.Command(curl, "-sS", "-k", "https://"+vAddr+"/").CombinedOutput(); err == nil {
			t.Errorf("curl without a certificate got through: %s", out)
		}
		for _, name := range []string{"stranger", "revoked"} {
			if out, err := exec.Command(curl, "-sS", "-k", "--cert", filepath.Join(bucket, name+".pem"), "--key", filepath.Join(bucket, name+".key"), "https://"+vAddr+"/").CombinedOutput(); err == nil {
				t.Errorf("curl --cert %s got through: %s", name, out)
			}
		}
		if out, err := exec.Command(curl, "-sS", "-k", "--cert", filepath.Join(bucket, "expired.pem"), "--key", filepath.Join(bucket, "expired.key"), "https://"+vAddr+"/").CombinedOutput(); err != nil || string(out) != "target" {
			t.Errorf("curl --cert expired, expiry ignored: %v %s", err, out)
		}
		// passthrough: the whole chain, byte-exact.
		out, err = exec.Command(curl, "-sS", "-k", "--cert", filepath.Join(bucket, "good.pem"), "--key", filepath.Join(bucket, "good.key"), "https://"+ptAddr+"/").CombinedOutput()
		if err != nil || string(out) != "target" {
			t.Errorf("curl --cert (passthrough): %v %s", err, out)
		}
		checkChainHeader(t, "curl passthrough", target.headers(), good)
	}
	// Go's client through passthrough, with a certificate no store trusts.
	if st, err := mtlsGet(ptAddr, stranger, http.Header{"X-Amzn-Mtls-Clientcert-Leaf": {"forged"}}); err != nil || st != 200 {
		t.Fatalf("passthrough: %d %v", st, err)
	}
	checkChainHeader(t, "Go passthrough", target.headers(), stranger)
	if target.headers().Get("X-Amzn-Mtls-Clientcert-Leaf") != "" {
		t.Error("a client's X-Amzn-Mtls-Clientcert-Leaf reached the target")
	}

	// Removing the listener frees the trust store.
	if _, err := c.RemoveTrustStoreRevocations(ctx, &elb.RemoveTrustStoreRevocationsInput{TrustStoreArn: tsARN, RevocationIds: []int64{revID + 7}}); apiCode(err) != "RevocationIdNotFound" {
		t.Errorf("RemoveTrustStoreRevocations unknown id: %v", err)
	}
	if _, err := c.RemoveTrustStoreRevocations(ctx, &elb.RemoveTrustStoreRevocationsInput{TrustStoreArn: tsARN, RevocationIds: []int64{revID}}); err != nil {
		t.Error(err)
	}
	if _, err := c.ModifyListener(ctx, &elb.ModifyListenerInput{ListenerArn: vARN, MutualAuthentication: &types.MutualAuthenticationAttributes{Mode: aws.String("off")}}); err != nil {
		t.Fatal(err)
	}
	if st, err := mtlsGet(vAddr, nil, nil); err != nil || st != 200 {
		t.Errorf("mode off: %d %v", st, err)
	}
	if as, err := c.DescribeTrustStoreAssociations(ctx, &elb.DescribeTrustStoreAssociationsInput{TrustStoreArn: tsARN}); err != nil || len(as.TrustStoreAssociations) != 0 {
		t.Errorf("DescribeTrustStoreAssociations with no verify listener left: %v %+v", err, as)
	}
	if _, err := c.DeleteTrustStore(ctx, &elb.DeleteTrustStoreInput{TrustStoreArn: tsARN}); err != nil {
		t.Errorf("DeleteTrustStore: %v", err)
	}
}

// checkChainHeader checks that X-Amzn-Mtls-Clientcert holds exactly the chain
// the client presented, encoded as ALB does.
func checkChainHeader(t *testing.T, what string, h http.Header, cl *testca.Client) {
	t.Helper()
	if got := h.Get("X-Amzn-Mtls-Clientcert"); got != cl.ChainHeader() {
		t.Errorf("%s: chain header\n%q, want\n%q", what, got, cl.ChainHeader())
	}
}

// TestMutualTLSFromTheFile serves a verify listener and its trust store from
// the configuration file and checks the connection log's client certificate
// fields and failure reasons.
func TestMutualTLSFromTheFile(t *testing.T) {
	dir := t.TempDir()
	root := testca.NewRoot(t, "File Root")
	good := root.Client(t, "file.client", testca.ClientOptions{})
	revoked := root.Client(t, "revoked.file.client", testca.ClientOptions{})
	stranger := testca.NewRoot(t, "Nobody").Client(t, "stranger", testca.ClientOptions{})
	expired := root.Client(t, "old.client", testca.ClientOptions{NotBefore: time.Now().Add(-3 * time.Hour), NotAfter: time.Now().Add(-2 * time.Hour)})
	sc, sk, err := tlsconf.SelfSigned([]string{"lb.example.test"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"ca.pem": root.PEM, "crl.pem": root.CRL(t, revoked.Cert), "lb.crt": sc, "lb.key": sk} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	target := newHeaderTarget(t)
	host, tport, _ := net.SplitHostPort(target.addr)
	port := testutil.FreePort(t)
	cfg := fmt.Sprintf(`trust_stores:
  - name: clients
    ca_certificates_bundle: ca.pem
    revocations: [crl.pem]
load_balancers:
  - name: web
    connection_log: {path: conn.log}
    listeners:
      - port: %d
        address: 127.0.0.1
        protocol: HTTPS
        certificates: [{cert: lb.crt, key: lb.key}]
        mutual_authentication: {mode: verify, trust_store: clients}
        attributes:
          routing.http.request.x_amzn_mtls_clientcert_subject.header_name: X-Client-Subject
        default_actions: [{type: forward, target_group: app}]
target_groups:
  - name: app
    port: 80
    targets: [{id: %s, port: %s}]
`, port, host, tport)
	cfgPath := filepath.Join(dir, "albatross.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := start(t, "serve", "--config", cfgPath, "--data-dir", filepath.Join(dir, "data"), "--admin-addr", admin)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("node output:\n%s", p.stderr.String())
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	eventually(t, "the listener", func() bool { st, _ := mtlsGet(addr, good, nil); return st == 200 })
	if st, err := mtlsGet(addr, good, http.Header{"X-Client-Subject": {"CN=forged"}}); err != nil || st != 200 {
		t.Fatalf("good client: %d %v", st, err)
	}
	if got := target.headers().Values("X-Client-Subject"); len(got) != 1 || got[0] != good.Cert.Subject.String() {
		t.Errorf("renamed subject header %q", got)
	}
	if target.headers().Get("X-Amzn-Mtls-Clientcert-Subject") != "" {
		t.Error("the subject went under its old name too")
	}
	for _, cl := range []*testca.Client{stranger, expired, revoked} {
		if _, err := mtlsGet(addr, cl, nil); err == nil {
			t.Errorf("%s got through", cl.Cert.Subject)
		}
	}
	logPath := filepath.Join(dir, "conn.log")
	want := map[string]string{
		good.Cert.Subject.String():     "Success",
		stranger.Cert.Subject.String(): "Failed:ClientCertUntrusted",
		expired.Cert.Subject.String():  "Failed:ClientCertExpired",
		revoked.Cert.Subject.String():  "Failed:ClientCertCrlHit",
	}
	var lines []string
	eventually(t, "the connection log lines", func() bool {
		b, _ := os.ReadFile(logPath)
		lines = strings.Split(strings.TrimSpace(string(b)), "\n")
		found := 0
		for subj := range want {
			for _, l := range lines {
				if strings.Contains(l, `"`+subj+`"`) {
					found++
					break
				}
			}
		}
		return found == len(want)
	})
	for subj, status := range want {
		var cl *testca.Client
		for _, c := range []*testca.Client{good, stranger, expired, revoked} {
			if c.Cert.Subject.String() == subj {
				cl = c
			}
		}
		fields := fmt.Sprintf(`"%s" NotBefore=%s;NotAfter=%s %X %s `, subj, cl.Cert.NotBefore.UTC().Format(time.RFC3339), cl.Cert.NotAfter.UTC().Format(time.RFC3339), cl.Cert.SerialNumber.Bytes(), status)
		ok := false
		for _, l := range lines {
			if strings.Contains(l, fields) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("no connection log line with %q in:\n%s", fields, strings.Join(lines, "\n"))
		}
	}
}

// acceptableCAs makes a TLS handshake with Go's client presenting cl and
// returns the distinguished names of the CertificateRequest's acceptable CAs,
// as the client was told them.
func acceptableCAs(t *testing.T, addr string, cl *testca.Client) [][]byte {
	t.Helper()
	var names [][]byte
	cert := cl.TLS()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			names = cri.AcceptableCAs
			return &cert, nil
		}})
	if err != nil {
		t.Fatalf("handshake with %s: %v", addr, err)
	}
	conn.Close()
	return names
}

// sameNames reports whether got holds exactly the names want, in any order.
func sameNames(got [][]byte, want ...[]byte) bool {
	if len(got) != len(want) {
		return false
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || bytes.Equal(g, w)
		}
		if !found {
			return false
		}
	}
	return true
}
