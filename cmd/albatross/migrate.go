package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/albatross-lb/albatross/internal/state"
)

// runStore is `albatross store`: today its one command, migrate.
func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "migrate" {
		fmt.Fprintf(stderr, "Usage: albatross store migrate --from bbolt:DATA-DIR --to etcd://HOST:PORT[,...] [--etcd-prefix P]\n")
		return 2
	}
	fs := flag.NewFlagSet("store migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the one-node state: bbolt:DATA-DIR (the --data-dir of the node, stopped)")
	to := fs.String("to", "", "the cluster's store: etcd://HOST:PORT[,HOST:PORT...]")
	prefix := fs.String("etcd-prefix", state.DefaultEtcdPrefix, "the key `prefix` of the cluster's state")
	ca := fs.String("etcd-cacert", "", "PEM `file` of the etcd members' CA (turns on TLS)")
	cert := fs.String("etcd-cert", "", "PEM client certificate `file`")
	key := fs.String("etcd-key", "", "PEM client key `file`")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "albatross store migrate: "+format+"\n", a...)
		return code
	}
	dir, ok := strings.CutPrefix(*from, "bbolt:")
	if !ok || dir == "" {
		return fail(2, "--from: want bbolt:DATA-DIR, got %q", *from)
	}
	if *to == "" {
		return fail(2, "--to is required: etcd://HOST:PORT[,...]")
	}
	so := storeOptions{url: *to, prefix: *prefix, caFile: *ca, certFile: *cert, keyFile: *key, logger: slog.New(slog.NewTextHandler(stderr, nil))}
	if err := so.check(); err != nil {
		return fail(2, "%s", strings.ReplaceAll(err.Error(), "--store", "--to"))
	}
	n, ids, err := migrate(ctx, dir, so)
	if err != nil {
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stdout, "migrated %d resources and %d resource ids from %s to %s under %s\n", n, ids, dir, *to, *prefix)
	return 0
}

// migrate copies a node's bbolt state (resources and resource ids) into an
// empty etcd prefix, in one transaction (state.Etcd.Import): all of it or
// nothing.
func migrate(ctx context.Context, dir string, so storeOptions) (resources, ids int, err error) {
	if _, err := os.Stat(filepath.Join(dir, state.FileName)); err != nil {
		return 0, 0, fmt.Errorf("--from: %s holds no Albatross state (%w)", dir, err)
	}
	src, err := state.Open(dir)
	if err != nil {
		if errors.Is(err, state.ErrInUse) {
			return 0, 0, fmt.Errorf("--from: %w: stop the node that uses %s first", err, dir)
		}
		return 0, 0, fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	kvs, _, err := src.Load(ctx, "")
	if err != nil {
		return 0, 0, fmt.Errorf("--from: %w", err)
	}
	all, err := src.IDs().All()
	if err != nil {
		return 0, 0, fmt.Errorf("--from: %w", err)
	}
	dst, err := openEtcdStore(ctx, so)
	if err != nil {
		return 0, 0, err
	}
	defer dst.Close()
	if _, err := dst.Import(ctx, kvs, all); err != nil {
		if errors.Is(err, state.ErrNotEmpty) {
			return 0, 0, fmt.Errorf("--to: %w (migrate into another --etcd-prefix, or delete the keys)", err)
		}
		return 0, 0, fmt.Errorf("--to: copying %d resources and %d ids in one transaction: %w", len(kvs), len(all), err)
	}
	return len(kvs), len(all), nil
}
