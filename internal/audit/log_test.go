package audit

import (
	"testing"
	"time"
)

// TestYieldToReads: indexing a backlog stops when reads come in faster
// than quietRate, unless the backlog has grown past maxBacklog.
func TestYieldToReads(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		appended int64
		elapsed  time.Duration
		pending  int64
		want     bool
	}{
		{0, time.Second, 0, false},
		{quietRate, time.Second, 0, false},
		{quietRate + 1, time.Second, 0, true},
		{1_000, 100 * time.Millisecond, 0, true},
		{1_000, 100 * time.Millisecond, maxBacklog, false},
		{100, 100 * time.Millisecond, 0, false},
	} {
		if got := yieldToReads(c.appended, c.elapsed, c.pending); got != c.want {
			t.Errorf("yieldToReads(%d, %v, %d) = %v, want %v", c.appended, c.elapsed, c.pending, got, c.want)
		}
	}
}
