package broadcast

import (
	"sync"
	"testing"
)

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestBroadcastClosesOnlyEarlierWaits(t *testing.T) {
	t.Parallel()
	var s Signal
	s.Broadcast() // nobody waits: nothing to wake, and no panic
	before := s.Wait()
	again := s.Wait()
	if closed(before) || closed(again) {
		t.Fatal("a wait is over before any broadcast")
	}
	s.Broadcast()
	if !closed(before) || !closed(again) {
		t.Fatal("a wait taken before the broadcast is still open")
	}
	after := s.Wait()
	if closed(after) {
		t.Fatal("a wait taken after the broadcast is already over")
	}
	s.Broadcast()
	if !closed(after) {
		t.Fatal("the second broadcast did not wake the wait taken after the first")
	}
}

func TestBroadcastWakesConcurrentWaiters(t *testing.T) {
	t.Parallel()
	var s Signal
	const waiters = 8
	var taken, woken sync.WaitGroup
	taken.Add(waiters)
	woken.Add(waiters)
	for range waiters {
		go func() {
			defer woken.Done()
			ch := s.Wait()
			taken.Done()
			<-ch
		}()
	}
	taken.Wait()
	s.Broadcast()
	woken.Wait()
}
