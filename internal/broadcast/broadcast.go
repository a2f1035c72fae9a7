// Package broadcast wakes every waiting goroutine at once when shared
// state changes: a waiter takes the channel of the next broadcast before
// it reads the state, so that a change committed in between is not
// missed. The stores use it to wake their watchers and delivery loops
// after a commit.
package broadcast

import "sync"

// Signal hands out the channel that the next Broadcast closes. The zero
// Signal is ready to use; a Signal must not be copied after first use.
type Signal struct {
	mu sync.Mutex
	// ch is the channel of the next broadcast; nil until someone waits,
	// so that a broadcast nobody waits for costs nothing.
	ch chan struct{}
}

// Wait returns a channel closed at the next Broadcast. Take it before
// reading the state it stands for, so that a change in between is not
// missed.
func (s *Signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

// Broadcast wakes everyone who called Wait since the last Broadcast.
func (s *Signal) Broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}
