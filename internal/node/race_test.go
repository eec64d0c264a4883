//go:build race

package node_test

// raceEnabled is true under the race detector, which makes each request many
// times slower: distribution tests send fewer requests and allow a wider
// margin then.
const raceEnabled = true
