// Package gopool runs short tasks on goroutines that outlive them.
//
// A goroutine starts on a small stack and grows it by copying, and its grown
// stack is freed when it exits. A task that outgrows the first stack (an
// HTTP/2 stream through the request core goes from 4 to 8 KiB) therefore pays
// for a stack copy each time it runs on a new goroutine: 10-14 % of the load
// balancer's CPU samples under h2load, most of it the runtime looking up each
// frame's stack map. A Pool's worker runs one task after another on the stack
// the earlier ones grew, and waits, parked, for the next.
//
// Workers that stayed idle for a whole trim period exit, so a burst leaves no
// lasting cost beyond that period; the runtime's collector shrinks the stacks
// of those that wait meanwhile.
package gopool

import (
	"sync"
	"time"
)

// Pool runs tasks of type T with its run function, each on a worker
// goroutine. The zero value is not usable; call New.
type Pool[T any] struct {
	run      func(T)
	maxIdle  int
	idleTime time.Duration

	mu   sync.Mutex
	idle []*worker[T] // parked workers; the last parked is taken first
	// lowWater is the fewest workers idle since the last trim: the bottom
	// lowWater of idle were not taken for that whole period.
	lowWater int
	trim     *time.Timer // armed while any worker is idle
	armed    bool
	closed   bool
	wg       sync.WaitGroup
}

// worker is one goroutine of the pool; its channel carries its next task,
// and is closed to make it exit.
type worker[T any] struct {
	tasks chan T
}

// New returns a pool that runs each task with run. At most maxIdle workers
// wait for tasks at once (more finish and exit), and a worker idle for
// between idleTime and twice that exits.
func New[T any](run func(T), maxIdle int, idleTime time.Duration) *Pool[T] {
	p := &Pool[T]{run: run, maxIdle: maxIdle, idleTime: idleTime}
	p.trim = time.AfterFunc(idleTime, p.trimIdle)
	p.trim.Stop()
	return p
}

// Go runs run(t) on an idle worker, or on a new one when none is idle. It
// never blocks, also after Close: the task then runs on a goroutine of its
// own that exits after it.
func (p *Pool[T]) Go(t T) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.lowWater = min(p.lowWater, n-1)
		p.mu.Unlock()
		w.tasks <- t // buffered, and the worker waits for nothing else
		return
	}
	if p.closed {
		p.mu.Unlock()
		go p.run(t)
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	go p.work(&worker[T]{tasks: make(chan T, 1)}, t)
}

// work is a worker's life: run tasks until the pool has no room for it or
// it is told to exit.
func (p *Pool[T]) work(w *worker[T], t T) {
	defer p.wg.Done()
	for {
		p.run(t)
		var zero T
		t = zero // hold nothing of the task while parked
		if !p.park(w) {
			return
		}
		var ok bool
		if t, ok = <-w.tasks; !ok {
			return
		}
	}
}

// park records w as idle, or reports false when it should exit instead.
func (p *Pool[T]) park(w *worker[T]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.idle) >= p.maxIdle {
		return false
	}
	p.idle = append(p.idle, w)
	if !p.armed {
		p.armed = true
		p.lowWater = len(p.idle)
		p.trim.Reset(p.idleTime)
	}
	return true
}

// trimIdle stops the workers that were idle for the whole period since the
// last trim, and arms the next trim while any remain.
func (p *Pool[T]) trimIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	n := p.lowWater
	for _, w := range p.idle[:n] {
		close(w.tasks)
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	clear(p.idle[len(p.idle):cap(p.idle)])
	p.lowWater = len(p.idle)
	if len(p.idle) == 0 {
		p.armed = false
		return
	}
	p.trim.Reset(p.idleTime)
}

// Idle reports how many workers are waiting for a task.
func (p *Pool[T]) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close stops the idle workers and waits until every worker has exited:
// those running a task exit when it returns. Go still runs tasks after
// Close, each on a goroutine of its own that Close does not wait for.
func (p *Pool[T]) Close() {
	p.mu.Lock()
	p.closed = true
	p.trim.Stop()
	for _, w := range p.idle {
		close(w.tasks)
	}
	p.idle = nil
	p.mu.Unlock()
	p.wg.Wait()
}
