// Package testclock is a clock that a test sets, for code under test that
// takes its time from a func() time.Time. It imports nothing of this
// module, so that the tests of every package, authn's included, can use it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that a test sets; it is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock showing now.
func New(now time.Time) *Clock { return &Clock{now: now} }

// Now is the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
