package elbv2_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// keepAliveConn is a client connection that sends HTTP/1.1 requests one at a
// time and keeps the connection open between them.
type keepAliveConn struct {
	nc net.Conn
	br *bufio.Reader
}

func dialKeepAlive(t *testing.T, nc net.Conn, err error) *keepAliveConn {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &keepAliveConn{nc: nc, br: bufio.NewReader(nc)}
}

func (k *keepAliveConn) send(path string) error {
	_, err := fmt.Fprintf(k.nc, "GET %s HTTP/1.1\r\nHost: lb.example.test\r\n\r\n", path)
	return err
}

func (k *keepAliveConn) response() (*http.Response, string, error) {
	k.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// closedByServer waits (up to 5 s) for the server to close the connection
// without sending anything.
func (k *keepAliveConn) closedByServer() error {
	k.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := k.br.ReadByte()
	switch {
	case err == nil:
		return fmt.Errorf("the server sent %q on an idle connection", b)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("the connection is still open 5 s after DeleteListener")
	case errors.Is(err, io.EOF):
		return nil
	}
	return nil // reset: closed as well
}

// TestDeleteListenerClosesConnections: after DeleteListener, kept-alive
// client connections of that listener are closed: idle ones at once (those
// still waiting on their goroutine, those parked, and TLS ones), and a busy
// one after its request in flight completes, answered with Connection: close.
// No request is served with the deleted listener's configuration.
func TestDeleteListenerClosesConnections(t *testing.T) {
	e := startEnv(t, envOptions{listeners: 2})
	c := e.client
	arrived := make(chan struct{}, 1)
	slow, releaseSlow := slowTarget(t, "A", arrived)
	lbARN, tgARN := createLBAndTG(t, e, "del", "del-tg")
	if _, err := c.RegisterTargets(ctx(t), &elb.RegisterTargetsInput{TargetGroupArn: aws.String(tgARN),
		Targets: []types.TargetDescription{{Id: aws.String(slow.ip), Port: aws.Int32(slow.port)}}}); err != nil {
		t.Fatal(err)
	}
	testCerts(t, e, map[string][]string{"del": {"lb.example.test"}})
	httpL, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttp,
		Port: aws.Int32(int32(e.ports[0])), DefaultActions: forward(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	httpsL, err := c.CreateListener(ctx(t), &elb.CreateListenerInput{LoadBalancerArn: aws.String(lbARN), Protocol: types.ProtocolEnumHttps,
		Port: aws.Int32(int32(e.ports[1])), Certificates: []types.Certificate{{CertificateArn: aws.String(iamCert("del"))}},
		DefaultActions: forward(tgARN)})
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", e.ports[0])
	open := func() *keepAliveConn {
		nc, err := net.Dial("tcp", addr)
		k := dialKeepAlive(t, nc, err)
		if err := k.send("/"); err != nil {
			t.Fatal(err)
		}
		if resp, body, err := k.response(); err != nil || resp.StatusCode != 200 || body != "A" {
			t.Fatalf("first request: %v %q %v", resp, body, err)
		}
		return k
	}
	// One connection idle long enough to be parked (no goroutine; parking
	// happens after 200 ms idle), one idle since just now, one busy, one TLS.
	parked := open()
	time.Sleep(400 * time.Millisecond) // let it reach the parked state; the test passes either way
	idle := open()
	busy := open()
	tc, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", e.ports[1]), &tls.Config{InsecureSkipVerify: true, ServerName: "lb.example.test", NextProtos: []string{"http/1.1"}})
	tlsIdle := dialKeepAlive(t, tc, err)
	if err := tlsIdle.send("/"); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := tlsIdle.response(); err != nil || resp.StatusCode != 200 {
		t.Fatalf("TLS request: %v %v", resp, err)
	}

	if err := busy.send("/slow"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request did not reach the target")
	}
	if _, err := c.DeleteListener(ctx(t), &elb.DeleteListenerInput{ListenerArn: httpL.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteListener(ctx(t), &elb.DeleteListenerInput{ListenerArn: httpsL.Listeners[0].ListenerArn}); err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]*keepAliveConn{"parked": parked, "idle": idle, "TLS idle": tlsIdle} {
		if err := k.closedByServer(); err != nil {
			t.Errorf("%s connection: %v", name, err)
		}
	}
	// The request in flight completes, and its connection then closes. Its
	// target answers only now, when the idle connections' closing shows that
	// the deletion has reached the data plane.
	releaseSlow()
	resp, body, err := busy.response()
	if err != nil || resp.StatusCode != 200 || body != "A" || !resp.Close {
		t.Fatalf("request in flight across DeleteListener: %+v %q %v (want 200 A with Connection: close)", resp, body, err)
	}
	if err := busy.closedByServer(); err != nil {
		t.Errorf("busy connection after its request: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the deleted listener's port still accepts connections")
	}
}
