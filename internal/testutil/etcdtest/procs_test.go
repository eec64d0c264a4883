package etcdtest

import (
	"context"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) {
	RunMemberIfAsked()
	os.Exit(m.Run())
}

// TestProcessMembers: with one of three process members killed by SIGKILL a
// put succeeds; with two, a put fails within its deadline; with both back,
// every acknowledged put is there.
func TestProcessMembers(t *testing.T) {
	p := StartProcesses(t, 3)
	cli, err := clientv3.New(clientv3.Config{Endpoints: p.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	put := func(k, v string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(context.Background()), timeout)
		defer cancel()
		_, err := cli.Put(ctx, k, v)
		return err
	}
	if err := put("a", "1", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Kill(0)
	// The election after a leader's loss can refuse a request or two.
	var perr error
	for range 20 {
		if perr = put("b", "2", 5*time.Second); perr == nil {
			break
		}
	}
	if perr != nil {
		t.Fatalf("put with one member killed: %v", perr)
	}
	p.Kill(1)
	if err := put("c", "3", 2*time.Second); err == nil {
		t.Fatal("a put succeeded with two members of three killed")
	}
	p.Restart(0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, k := range []string{"a", "b"} {
		resp, err := cli.Get(ctx, k)
		if err != nil || len(resp.Kvs) != 1 {
			t.Errorf("get %s after the restart: %v %v", k, resp, err)
		}
	}
}
