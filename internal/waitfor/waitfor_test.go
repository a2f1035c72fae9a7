package waitfor_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// fakeT is a test whose deadline is near, so that a wait in vain ends
// soon; it records what it was failed with.
type fakeT struct {
	testing.TB
	deadline time.Time
	failed   chan string
}

func newFakeT(t *testing.T) *fakeT {
	return &fakeT{TB: t, deadline: time.Now().Add(100 * time.Millisecond), failed: make(chan string, 1)}
}

func (f *fakeT) Deadline() (time.Time, bool) { return f.deadline, true }
func (f *fakeT) Helper()                     {}

// Fatalf records the message and ends the goroutine, as testing.T's does.
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed <- fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls wait with f in a goroutine of its own, as Fatalf ends it, and
// returns the failure message, or "" when wait returned.
func (f *fakeT) run(wait func(t testing.TB)) string {
	done := make(chan struct{})
	go func() {
		defer close(done)
		wait(f)
	}()
	<-done
	select {
	case msg := <-f.failed:
		return msg
	default:
		return ""
	}
}

func TestPoll(t *testing.T) {
	errNotYet := errors.New("not yet")
	errGone := errors.New("gone")
	tests := []struct {
		name      string
		check     func(n int32) error
		wantErr   error
		wantCalls int32
	}{
		{"holds at once", func(int32) error { return nil }, nil, 1},
		{"holds at the fifth check", func(n int32) error {
			if n < 5 {
				return errNotYet
			}
			return nil
		}, nil, 5},
		{"permanent error ends the wait", func(n int32) error {
			if n == 3 {
				return waitfor.Permanent(errGone)
			}
			return errNotYet
		}, errGone, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			err := waitfor.Poll(context.Background(), func(context.Context) error { return tc.check(calls.Add(1)) })
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Poll = %v, want %v", err, tc.wantErr)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("%d checks, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestPollEndsWithItsContext(t *testing.T) {
	t.Parallel()
	errNotYet := errors.New("still starting")
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	err := waitfor.Poll(ctx, func(context.Context) error {
		if calls.Add(1) == 3 {
			cancel()
		}
		return errNotYet
	})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, errNotYet) {
		t.Errorf("Poll = %v, want the context's error and the last check's", err)
	}
}

func TestTrue(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	waitfor.True(t, "the fourth check", func() bool { return n.Add(1) >= 4 })
	if got := n.Load(); got != 4 {
		t.Errorf("%d checks, want 4", got)
	}
}

func TestFailureSaysWhatWasAwaited(t *testing.T) {
	tests := []struct {
		name string
		wait func(t testing.TB)
		want []string
	}{
		{"True", func(t testing.TB) {
			waitfor.True(t, "the backlog to be empty", func() bool { return false })
		}, []string{"the backlog to be empty"}},
		{"NoError", func(t testing.TB) {
			waitfor.NoError(t, "registry to serve", func(context.Context) error { return errors.New("health: NOT_SERVING") })
		}, []string{"registry to serve", "health: NOT_SERVING"}},
		{"NoError permanent", func(t testing.TB) {
			waitfor.NoError(t, "registry to serve", func(context.Context) error {
				return waitfor.Permanent(errors.New("exited with status 1"))
			})
		}, []string{"registry to serve", "exited with status 1"}},
		{"Receive", func(t testing.TB) {
			_ = waitfor.Receive(t, "Run to return", make(chan error))
		}, []string{"Run to return"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := newFakeT(t).run(tc.wait)
			if msg == "" {
				t.Fatal("the wait returned; want it to fail the test")
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("failure %q does not say %q", msg, w)
				}
			}
		})
	}
}

func TestReceive(t *testing.T) {
	t.Parallel()
	ch := make(chan int, 1)
	ch <- 7
	if got := waitfor.Receive(t, "a value", ch); got != 7 {
		t.Errorf("Receive = %d, want 7", got)
	}
	closed := make(chan struct{})
	close(closed)
	waitfor.Receive(t, "the close", closed)
}

func TestContextEndsBeforeTheTestsDeadline(t *testing.T) {
	t.Parallel()
	f := newFakeT(t)
	ctx, cancel := waitfor.Context(f)
	defer cancel()
	d, ok := ctx.Deadline()
	if !ok || !d.Before(f.deadline) {
		t.Errorf("context deadline %v (set %v), want one before the test's %v", d, ok, f.deadline)
	}
}
