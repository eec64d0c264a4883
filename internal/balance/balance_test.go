package balance

import (
	"sync"
	"testing"
)

func TestRoundRobinCyclesInOrder(t *testing.T) {
	var rr RoundRobin
	for i := 0; i < 9; i++ {
		if got := rr.Pick(3); got != i%3 {
			t.Fatalf("pick %d: got %d, want %d", i, got, i%3)
		}
	}
}

func TestRoundRobinEvenUnderConcurrency(t *testing.T) {
	var rr RoundRobin
	const workers, each, n = 8, 3000, 3
	counts := make([][n]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				counts[w][rr.Pick(n)]++
			}
		}(w)
	}
	wg.Wait()
	var total [n]int
	for _, c := range counts {
		for i, v := range c {
			total[i] += v
		}
	}
	for i, v := range total {
		if v != workers*each/n {
			t.Errorf("target %d got %d picks, want exactly %d", i, v, workers*each/n)
		}
	}
}
