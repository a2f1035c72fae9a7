package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 0.50, 50 * time.Millisecond},
		{"q of 1 is the maximum", ms(1, 5, 9), 1, 9 * time.Millisecond},
		{"q of 0 is the minimum", ms(1, 5, 9), 0, 1 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.q); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// sleeper is a caller that takes d, or less when ctx ends first.
func sleeper(d time.Duration) caller {
	return func(ctx context.Context) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func TestRunLoadClosed(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name       string
		call       func() caller
		wantErrors bool
	}{
		{"all succeed", func() caller { return sleeper(2 * time.Millisecond) }, false},
		{"every other fails", func() caller {
			var n atomic.Int64
			return func(ctx context.Context) error {
				if err := sleeper(2 * time.Millisecond)(ctx); err != nil {
					return err
				}
				if n.Add(1)%2 == 0 {
					return errBoom
				}
				return nil
			}
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadSpec{Workers: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond}
			s := runLoad(context.Background(), spec, func(int) caller { return tc.call() })
			if s.Elapsed != spec.Duration {
				t.Errorf("Elapsed = %v, want %v", s.Elapsed, spec.Duration)
			}
			// A call takes at least 2ms however slow the machine, so a
			// worker begins at most 151 in the 300ms window: more means
			// calls of the warm-up or after the window were counted.
			if s.Requests == 0 || s.Requests > 4*151 {
				t.Errorf("Requests = %d, want between 1 and %d", s.Requests, 4*151)
			}
			if s.P50 < 2*time.Millisecond || s.P99 < s.P50 {
				t.Errorf("P50 = %v, P99 = %v: want P50 ≥ 2ms and P99 ≥ P50", s.P50, s.P99)
			}
			if got := s.Errors > 0; got != tc.wantErrors {
				t.Errorf("Errors = %d, want errors: %v", s.Errors, tc.wantErrors)
			}
			err := s.Err()
			if tc.wantErrors && (!errors.Is(err, errMeasurement) || !errors.Is(err, errBoom)) {
				t.Errorf("Err() = %v, want errMeasurement and the call's error", err)
			}
			if !tc.wantErrors && err != nil {
				t.Errorf("Err() = %v, want nil", err)
			}
		})
	}
}

// fakeTicks returns a closed channel of the times of a clock ticking every
// step from start+step through end, as the dispatcher's ticker would.
func fakeTicks(start time.Time, step, end time.Duration) <-chan time.Time {
	ticks := make(chan time.Time, int(end/step))
	for d := step; d <= end; d += step {
		ticks <- start.Add(d)
	}
	close(ticks)
	return ticks
}

// TestDispatchPaces ticks the dispatcher with a fake clock: at 2000 a
// second, the half-second window after a tenth of a second of warm-up
// releases 1000 jobs, whatever the machine's speed.
func TestDispatchPaces(t *testing.T) {
	start := time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)
	from, to := start.Add(100*time.Millisecond), start.Add(600*time.Millisecond)
	jobs := make(chan time.Time, 2000)
	dropped := dispatch(context.Background(), 2000, start, from, to, fakeTicks(start, dispatchTick, 700*time.Millisecond), jobs)
	if dropped != 0 {
		t.Errorf("dropped %d jobs with room in the queue", dropped)
	}
	inWindow, before := 0, 0
	for released := range jobs {
		switch {
		case released.Before(from):
			before++
		case released.Before(to):
			inWindow++
		default:
			t.Errorf("job released at %v, after the window", released.Sub(start))
		}
	}
	if inWindow != 1000 || before != 198 {
		t.Errorf("released %d jobs in the window and %d in the warm-up, want 1000 and 198", inWindow, before)
	}
}

// TestDispatchDropsWhenFull: with no worker taking jobs, a queue of 100
// takes the first 100 of the 249 jobs due in 2.5 s at 100 a second and
// the rest are dropped.
func TestDispatchDropsWhenFull(t *testing.T) {
	start := time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)
	to := start.Add(2500 * time.Millisecond)
	jobs := make(chan time.Time, 100)
	dropped := dispatch(context.Background(), 100, start, start, to, fakeTicks(start, dispatchTick, 2500*time.Millisecond), jobs)
	if dropped != 149 || len(jobs) != 100 {
		t.Errorf("dropped %d, queued %d; want 149 dropped and 100 queued", dropped, len(jobs))
	}
}

func TestRunLoadPaced(t *testing.T) {
	spec := loadSpec{Workers: 8, Warmup: 20 * time.Millisecond, Duration: 200 * time.Millisecond, Rate: 2000}
	s := runLoad(context.Background(), spec, func(int) caller { return sleeper(time.Millisecond) })
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	// Latency counts from the release of a job, so it includes the call.
	if s.P50 < time.Millisecond {
		t.Errorf("P50 = %v, want at least the call's 1ms", s.P50)
	}
}

func TestRunLoadStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int64
	done := make(chan summary, 1)
	go func() {
		done <- runLoad(ctx, loadSpec{Workers: 2, Duration: time.Hour}, func(int) caller {
			return func(ctx context.Context) error {
				calls.Add(1)
				return sleeper(time.Millisecond)(ctx)
			}
		})
	}()
	waitfor.True(t, "runLoad to make a few calls", func() bool { return calls.Load() >= 10 })
	cancel()
	// An hour-long run that ignored its context would not return.
	if s := waitfor.Receive(t, "runLoad to return after its context ended", done); s.Requests == 0 {
		t.Error("no requests before the context ended")
	}
}

func TestSummaryErr(t *testing.T) {
	tests := []struct {
		name string
		s    summary
		want error
	}{
		{"fine", summary{Requests: 10}, nil},
		{"no requests", summary{}, errNoRequests},
		{"dropped is a result", summary{Requests: 10, Dropped: 1}, nil},
		{"errors", summary{Requests: 10, Errors: 1, FirstErr: context.DeadlineExceeded}, context.DeadlineExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Err()
			if tc.want == nil {
				if err != nil {
					t.Errorf("Err() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, errMeasurement) {
				t.Errorf("Err() = %v, want %v and errMeasurement", err, tc.want)
			}
		})
	}
}
