package gopool

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// goroutineID returns the calling goroutine's id, from its stack header.
func goroutineID() uint64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	buf = bytes.TrimPrefix(buf, []byte("goroutine "))
	id, err := strconv.ParseUint(string(buf[:bytes.IndexByte(buf, ' ')]), 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestTasksReuseAParkedWorker checks that a task started after another has
// finished runs on the same goroutine, and that the pool holds nothing of a
// finished task.
func TestTasksReuseAParkedWorker(t *testing.T) {
	ids := make(chan uint64, 2)
	p := New(func(ch chan uint64) { ch <- goroutineID() }, 4, time.Hour)
	defer p.Close()
	p.Go(ids)
	first := <-ids
	waitFor(t, "the worker to park", func() bool { return p.Idle() == 1 })
	p.Go(ids)
	if second := <-ids; second != first {
		t.Fatalf("second task ran on goroutine %d, want the parked worker %d", second, first)
	}
}

// TestIdleWorkersAreBounded runs more tasks at once than the pool keeps
// idle: once they finish, maxIdle workers wait and the rest have exited.
func TestIdleWorkersAreBounded(t *testing.T) {
	const maxIdle, tasks = 3, 10
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(tasks)
	p := New(func(struct{}) { started.Done(); <-release }, maxIdle, time.Hour)
	for range tasks {
		p.Go(struct{}{})
	}
	started.Wait() // all ten run at once: none was queued behind another
	if n := p.Idle(); n != 0 {
		t.Fatalf("%d idle workers while every task runs, want 0", n)
	}
	close(release)
	waitFor(t, "workers to finish", func() bool { return p.Idle() == maxIdle })
	p.Close() // waits for the seven that did not park to exit, too
	if n := p.Idle(); n != 0 {
		t.Fatalf("%d idle workers after Close", n)
	}
}

// TestIdleWorkersExit checks that workers no task took for a trim period
// exit, and that a worker in use is not stopped.
func TestIdleWorkersExit(t *testing.T) {
	ran := make(chan struct{}, 16)
	p := New(func(struct{}) { ran <- struct{}{} }, 8, 20*time.Millisecond)
	defer p.Close()
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(3)
	block := New(func(struct{}) { started.Done(); <-release }, 8, time.Hour)
	defer block.Close()
	for range 3 {
		p.Go(struct{}{})
		block.Go(struct{}{})
	}
	for range 3 {
		<-ran
	}
	waitFor(t, "idle workers to be trimmed", func() bool { return p.Idle() == 0 })
	// The pool still runs tasks once its workers are gone, and parks again.
	p.Go(struct{}{})
	<-ran
	waitFor(t, "idle workers to be trimmed again", func() bool { return p.Idle() == 0 })
	// Workers busy with a task are not trimmed, however long it runs.
	started.Wait()
	if n := block.Idle(); n != 0 {
		t.Fatalf("%d idle workers while their tasks run", n)
	}
	close(release)
	waitFor(t, "the released workers to park", func() bool { return block.Idle() == 3 })
}

// TestGoAfterClose checks that a task started after Close still runs.
func TestGoAfterClose(t *testing.T) {
	done := make(chan struct{})
	p := New(func(ch chan struct{}) { close(ch) }, 4, time.Hour)
	p.Close()
	p.Go(done)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a task started after Close did not run")
	}
	if n := p.Idle(); n != 0 {
		t.Fatalf("%d idle workers after Close", n)
	}
}

// deepTask uses about 24 KiB of stack, so that a new goroutine grows its
// stack several times for it (an HTTP/2 request through the load balancer's
// core grows it once, from 4 to 8 KiB).
//
//go:noinline
func deepTask(depth int) byte {
	var frame [1024]byte
	frame[depth%len(frame)] = byte(depth)
	if depth == 0 {
		return frame[0]
	}
	return deepTask(depth-1) + frame[depth%len(frame)]
}

// BenchmarkDeepTask compares a task that grows its stack run on a new
// goroutine each time with the same task on a pool's workers.
func BenchmarkDeepTask(b *testing.B) {
	b.Run("go", func(b *testing.B) {
		var wg sync.WaitGroup
		for range b.N {
			wg.Add(1)
			go func() { deepTask(24); wg.Done() }()
			wg.Wait()
		}
	})
	b.Run("pool", func(b *testing.B) {
		var wg sync.WaitGroup
		p := New(func(*sync.WaitGroup) { deepTask(24); wg.Done() }, 4, time.Hour)
		defer p.Close()
		for range b.N {
			wg.Add(1)
			p.Go(&wg)
			wg.Wait()
		}
	})
}
