package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/albatross-lb/albatross/internal/auth"
	"github.com/albatross-lb/albatross/internal/balance"
)

// cookieKeyFile is the file in the data directory that holds the key of the
// stickiness cookies, so that AWSALB, AWSALBAPP and AWSALBTG cookies issued
// before a restart still bind their clients after it.
const cookieKeyFile = "stickiness.key"

// openCookieKeys returns the stickiness cookie codec with the data
// directory's key, and the authentication service whose session and
// signing keys derive from the same key (so that every node of a cluster
// reads the others' sessions and signs x-amzn-oidc-data alike).
func openCookieKeys(opts Options) (*balance.Codec, *auth.Service, error) {
	key, err := loadCookieKey(opts.DataDir)
	if err != nil {
		return nil, nil, err
	}
	codec, err := balance.NewCodec(key)
	if err != nil {
		return nil, nil, err
	}
	svc, err := auth.NewService(auth.Options{Key: key, AllowInsecureIdP: opts.AllowInsecureIdP, Client: opts.IdPClient, Logger: opts.Logger})
	if err != nil {
		return nil, nil, err
	}
	return codec, svc, nil
}

// loadCookieKey reads the stickiness cookie key from dir, creating it on first
// use. The data directory already exists (the id registry made it).
func loadCookieKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, cookieKeyFile)
	key, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(key) != balance.KeySize {
			return nil, fmt.Errorf("stickiness cookie key %s: want %d bytes, got %d (delete the file to make a new key; current cookies then stop binding)", path, balance.KeySize, len(key))
		}
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read stickiness cookie key: %w", err)
	}
	key = make([]byte, balance.KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("make stickiness cookie key: %w", err)
	}
	if err := writeCookieKey(dir, key); err != nil {
		return nil, err
	}
	return key, nil
}

// writeCookieKey replaces the key file in dir atomically.
func writeCookieKey(dir string, key []byte) error {
	path := filepath.Join(dir, cookieKeyFile)
	tmp, err := os.CreateTemp(dir, cookieKeyFile+".*")
	if err != nil {
		return fmt.Errorf("write stickiness cookie key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return fmt.Errorf("write stickiness cookie key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write stickiness cookie key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write stickiness cookie key: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write stickiness cookie key: %w", err)
	}
	return nil
}

// ShareCookieKey makes the stickiness cookie key in dir the one a cluster of
// nodes shares, so that a cookie one node issued binds its client on every
// other: shared is given this node's key (made now if there is none) and
// returns the cluster's, the first one any node proposed. The cluster's key is
// kept in dir, so a node that starts while the cluster cannot tell it uses the
// key it was last given. Call it before New.
func ShareCookieKey(dir string, shared func(local []byte) ([]byte, error)) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	local, err := loadCookieKey(dir)
	if err != nil {
		return err
	}
	key, err := shared(local)
	if err != nil {
		return fmt.Errorf("the cluster's stickiness cookie key: %w", err)
	}
	if len(key) != balance.KeySize {
		return fmt.Errorf("the cluster's stickiness cookie key: want %d bytes, got %d", balance.KeySize, len(key))
	}
	if string(key) == string(local) {
		return nil
	}
	return writeCookieKey(dir, key)
}
