package balance

import "math/rand/v2"

// PickWeighted returns index i with probability weights[i]/total, where total
// is the sum of weights: how a forward action with several target groups
// chooses one. It returns -1 when total is 0 (every weight 0).
func PickWeighted(weights []int, total int) int {
	if total <= 0 {
		return -1
	}
	x := rand.IntN(total)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
