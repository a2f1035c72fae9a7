// Package waitfor lets a test wait for state instead of time. It polls a
// condition with a short backoff until the condition holds, and fails
// the test, saying what it awaited, when the test's own deadline (go
// test -timeout) draws near. A test that sleeps a fixed while either
// waits too long or, on a slow machine, not long enough; one that waits
// for state does neither.
package waitfor

import (
	"context"
	"errors"
	"testing"
	"time"
)

const (
	// firstPause and maxPause bound the backoff between two checks: short
	// enough that a condition is seen soon after it holds, long enough
	// that a busy loop does not starve what it waits for.
	firstPause = time.Millisecond
	maxPause   = 50 * time.Millisecond
	// maxMargin caps the time left, after a failed wait, for the failure
	// to be reported and the test's cleanups to run before go test's own
	// timeout ends the whole binary without them.
	maxMargin = 30 * time.Second
)

// permanent marks a check error that no later check can change.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as final: Poll returns it at once instead of
// checking again, as when a process that was to become ready has exited.
func Permanent(err error) error { return permanent{err} }

// Poll calls check until it returns nil, pausing between calls with a
// backoff from a millisecond to 50 ms. It returns nil once check does; an
// error marked Permanent at once; and when ctx ends, ctx's error joined
// with check's last one. check gets ctx, to bound the calls it makes.
func Poll(ctx context.Context, check func(ctx context.Context) error) error {
	pause := firstPause
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		var p permanent
		if errors.As(err, &p) {
			return p.err
		}
		timer := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			timer.Stop()
			return errors.Join(ctx.Err(), err)
		case <-timer.C:
		}
		pause = min(2*pause, maxPause)
	}
}

// Context returns a context that ends shortly before t's deadline (the
// one go test -timeout sets), or never when t has none: what a test hands
// to a call that waits for state, such as a projection's WaitFor. It is
// not t.Context(), which ends before the cleanups run, so that cleanups
// can wait too.
func Context(t testing.TB) (context.Context, context.CancelFunc) {
	d, ok := deadline(t)
	if !ok {
		return context.WithCancel(context.Background())
	}
	return context.WithDeadline(context.Background(), d)
}

// deadline is the end of t's waits: t's deadline less a margin for the
// failure to be reported.
func deadline(t testing.TB) (time.Time, bool) {
	dt, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return time.Time{}, false
	}
	d, ok := dt.Deadline()
	if !ok {
		return time.Time{}, false
	}
	margin := min(time.Until(d)/10, maxMargin)
	return d.Add(-margin), true
}

// NoError waits until check returns nil and fails t with what and
// check's last error when t's deadline draws near or check returns an
// error marked Permanent. what names the awaited state: "the registry to
// serve".
func NoError(t testing.TB, what string, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := Context(t)
	defer cancel()
	start := time.Now()
	if err := Poll(ctx, check); err != nil {
		t.Fatalf("waited %v for %s, in vain: %v", time.Since(start).Round(time.Millisecond), what, err)
	}
}

// True waits until cond returns true and fails t with what when t's
// deadline draws near.
func True(t testing.TB, what string, cond func() bool) {
	t.Helper()
	NoError(t, what, func(context.Context) error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

// Receive waits for a value from ch, or for ch to be closed, and returns
// what it received; it fails t with what when t's deadline draws near.
func Receive[T any](t testing.TB, what string, ch <-chan T) T {
	t.Helper()
	ctx, cancel := Context(t)
	defer cancel()
	start := time.Now()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waited %v for %s, in vain", time.Since(start).Round(time.Millisecond), what)
		var zero T
		return zero
	}
}
