package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// TestFrameFilterWritesInOrderAndDrainsOnClose checks the filter's queued
// writes: everything written before Close reaches the peer, in order, before
// the connection closes, and a write after Close fails.
func TestFrameFilterWritesInOrderAndDrainsOnClose(t *testing.T) {
	server, client := tcpPair(t)
	f := newFrameFilter(server)
	var want bytes.Buffer
	for i := range 2000 {
		msg := fmt.Appendf(nil, "frame %d;", i)
		want.Write(msg)
		if n, err := f.Write(msg); err != nil || n != len(msg) {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
	}
	got := make(chan []byte)
	go func() {
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(client)
		got <- b
	}()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, want.Bytes()) {
		t.Fatalf("the peer read %d bytes, want the %d written, in order", len(b), want.Len())
	}
	if _, err := f.Write([]byte("late")); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// TestFrameFilterReportsWriteError checks that once writing to the socket
// fails (the peer is gone), Write says so rather than queueing forever.
func TestFrameFilterReportsWriteError(t *testing.T) {
	server, client := tcpPair(t)
	f := newFrameFilter(server)
	defer f.Close()
	client.(*net.TCPConn).SetLinger(0) // close with a reset
	client.Close()
	msg := bytes.Repeat([]byte("x"), 1024)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := f.Write(msg); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a reset connection kept succeeding for 10 s")
		}
		time.Sleep(time.Millisecond) // let the writer reach the socket
	}
}
