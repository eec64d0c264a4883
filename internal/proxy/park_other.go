//go:build !linux

package proxy

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
