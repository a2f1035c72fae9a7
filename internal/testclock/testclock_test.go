package testclock

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now() = %v, want %v", got, t0)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { c.Set(t0.Add(time.Duration(i) * time.Hour)); _ = c.Now() })
	}
	wg.Wait()
	t1 := t0.Add(time.Minute)
	c.Set(t1)
	if got := c.Now(); !got.Equal(t1) {
		t.Errorf("Now() after Set = %v, want %v", got, t1)
	}
}
