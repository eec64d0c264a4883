package control

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/albatross-lb/albatross/internal/config"
	"github.com/albatross-lb/albatross/internal/node"
	"github.com/albatross-lb/albatross/internal/state"
	"github.com/albatross-lb/albatross/internal/testutil/etcdtest"
)

// discard is a data plane that takes every configuration.
type discard struct{}

func (discard) Apply(*config.Config) error { return nil }

// BenchmarkReloadEtcd measures a full reload of the prefix from etcd (load
// every record, decode, bind ids, compile), which is what a node does for
// each change it watches, at 1k, 10k and 50k target registrations (groups of
// 1,000 targets): applied to a data plane that takes it at once (plane=none),
// and to a real node, which compiles its snapshot (plane=node; its health
// checks off and no listener, so no target is contacted).
func BenchmarkReloadEtcd(b *testing.B) {
	cluster := etcdtest.Start(b, 1)
	for _, n := range []int{1000, 10000, 50000} {
		for _, plane := range []string{"none", "node"} {
			b.Run(fmt.Sprintf("targets=%d/plane=%s", n, plane), func(b *testing.B) { benchReload(b, cluster, n, plane) })
		}
	}
}

func benchReload(b *testing.B, cluster *etcdtest.Cluster, n int, plane string) {
	ctx := context.Background()
	st, err := state.OpenEtcd(ctx, state.EtcdOptions{Endpoints: cluster.Endpoints(), Prefix: fmt.Sprintf("/bench-%d-%s", n, plane)})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var dp Applier = discard{}
	if plane == "node" {
		nd, err := node.New(node.Options{DataDir: b.TempDir(), IDs: st.IDs(), DisableHealthChecks: true, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		defer nd.Shutdown(ctx)
		dp = nd
	}
	c, err := New(ctx, Options{Store: st, IDs: st.IDs(), Node: dp})
	if err != nil {
		b.Fatal(err)
	}
	for g := range n / 1000 {
		name := fmt.Sprintf("tg-%d", g)
		err := c.Update(ctx, func(tx *Tx) error {
			if err := addTargetGroup(name)(tx); err != nil {
				return err
			}
			tg := tx.Model().TargetGroupByName(name).Clone()
			for i := range 1000 {
				tg.Targets = append(tg.Targets, Target{ID: fmt.Sprintf("127.%d.%d.%d", g+1, i/250, i%250+1), Port: 8080})
			}
			tx.PutTargetGroup(tg)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		c.mu.Lock()
		err := c.reload(ctx)
		c.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
	}
}
