//go:build !linux

package proxy

import "errors"

// parker is absent where there is no epoll: idle connections keep their
// goroutine and buffers.
type parker struct{}

func newParker(*Proxy) *parker  { return nil }
func (*parker) park(*conn) bool { return false }
func (*parker) stop()           {}

// closeWhere has nothing to close: no connection is ever parked.
func (*parker) closeWhere(func(*conn) bool) {}

// closeDetached has nothing to close: no connection is ever detached.
func (*conn) closeDetached() {}

// attach is never called: without a poller no connection is detached.
func (*conn) attach() error {
	return errors.New("parked connections are not detached on this platform")
}
