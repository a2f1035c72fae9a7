package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
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
			// 4 workers at 2ms a call for 300ms make at most 600 calls.
			if s.Requests == 0 || s.Requests > 600 {
				t.Errorf("Requests = %d, want between 1 and 600", s.Requests)
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

func TestRunLoadPaced(t *testing.T) {
	spec := loadSpec{Workers: 8, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond, Rate: 2000}
	s := runLoad(context.Background(), spec, func(int) caller { return sleeper(time.Millisecond) })
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	// 2000/s for half a second, give or take a tick at either end.
	if s.Requests < 900 || s.Requests > 1100 {
		t.Errorf("Requests = %d, want about 1000", s.Requests)
	}
	if s.P50 < time.Millisecond {
		t.Errorf("P50 = %v, want at least the call's 1ms", s.P50)
	}
}

func TestRunLoadPacedDropsWhenSaturated(t *testing.T) {
	// One worker serves 50 calls a second; 100 a second are offered and
	// the queue holds one second of them, so it overflows after about two.
	spec := loadSpec{Workers: 1, Duration: 2500 * time.Millisecond, Rate: 100}
	s := runLoad(context.Background(), spec, func(int) caller { return sleeper(20 * time.Millisecond) })
	if s.Dropped == 0 {
		t.Fatalf("Dropped = 0, want requests dropped (requests %d)", s.Requests)
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() = %v, want nil: dropping is the server's result, not a failed measurement", err)
	}
}

func TestRunLoadStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	s := runLoad(ctx, loadSpec{Workers: 2, Duration: time.Minute}, func(int) caller { return sleeper(time.Millisecond) })
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("runLoad took %v after its context ended", took)
	}
	if s.Requests == 0 {
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
