package state

import (
	"context"
	"testing"
)

// TestBoltRevisionCountsCommits: Bolt's revision is a counter that every
// Commit increases by one.
func TestBoltRevisionCountsCommits(t *testing.T) {
	b, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for want := int64(1); want <= 3; want++ {
		rev, err := b.Commit(context.Background(), want-1, []Op{Put("k", nil)})
		if err != nil || rev != want {
			t.Fatalf("commit %d: revision %d, %v", want, rev, err)
		}
	}
}
