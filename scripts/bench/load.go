package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// caller makes one request. Each worker gets its own from the factory it
// is given, so it may keep state (a random source, a client) without locks.
type caller func(ctx context.Context) error

// loadSpec describes one measurement.
type loadSpec struct {
	// Workers is the number of goroutines making requests.
	Workers int
	// Warmup is run before counting starts.
	Warmup time.Duration
	// Duration is how long requests are counted.
	Duration time.Duration
	// Rate, when positive, paces requests at this many per second (open
	// loop); zero lets every worker send its next request as soon as the
	// last one is answered (closed loop).
	Rate float64
}

// summary is the outcome of a measurement. Only requests begun within the
// counted window are in it.
type summary struct {
	// Requests is the number of successful requests.
	Requests int
	// Errors is the number of failed requests; FirstErr is one of them.
	Errors   int
	FirstErr error
	// Dropped counts paced requests that found every worker busy and the
	// queue full; they are not sent.
	Dropped int
	// Elapsed is the counted window.
	Elapsed time.Duration
	// P50 and P99 are latency percentiles of the successful requests.
	P50, P99 time.Duration
}

// Rate is the number of successful requests per second.
func (s summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Requests) / s.Elapsed.Seconds()
}

// Err reports a measurement that must not be trusted: one with failed
// requests, or none at all. Dropped requests are a result, not a failure:
// the server did not keep up with the offered rate.
func (s summary) Err() error {
	switch {
	case s.Errors > 0:
		return fmt.Errorf("%w: %d requests failed, e.g. %w", errMeasurement, s.Errors, s.FirstErr)
	case s.Requests == 0:
		return fmt.Errorf("%w: %w", errMeasurement, errNoRequests)
	}
	return nil
}

var (
	errMeasurement = errors.New("measurement failed")
	errNoRequests  = errors.New("no request completed in the counted window")
)

// expectedRate sizes the latency buffers: a guess at the most requests per
// second one measurement sees on a small machine. Beyond it the buffers
// grow, which costs a copy but stays correct.
const expectedRate = 100_000

// worker is one goroutine's record of a measurement, written only by it.
type worker struct {
	latencies []time.Duration
	errors    int
	firstErr  error
}

func (w *worker) record(latency time.Duration, err error) {
	if err != nil {
		w.errors++
		if w.firstErr == nil {
			w.firstErr = err
		}
		return
	}
	w.latencies = append(w.latencies, latency)
}

// runLoad makes requests with newCaller's callers as spec says and returns
// what it measured. It stops at the end of the window or when ctx is done;
// calls are made with a context that ends shortly after the window, so a
// stuck server cannot hold the run.
func runLoad(ctx context.Context, spec loadSpec, newCaller func(worker int) caller) summary {
	start := time.Now()
	from := start.Add(spec.Warmup)
	to := from.Add(spec.Duration)
	ctx, cancel := context.WithDeadline(ctx, to.Add(5*time.Second))
	defer cancel()

	perWorker := max(1024, int(spec.Duration.Seconds()*expectedRate)/spec.Workers)
	workers := make([]worker, spec.Workers)
	for i := range workers {
		workers[i].latencies = make([]time.Duration, 0, perWorker)
	}
	var dropped int
	var wg sync.WaitGroup
	if spec.Rate > 0 {
		jobs := make(chan time.Time, max(spec.Workers, int(spec.Rate)))
		for i := range workers {
			call := newCaller(i)
			wg.Go(func() { paced(ctx, &workers[i], call, jobs, from) })
		}
		ticker := time.NewTicker(dispatchTick)
		dropped = dispatch(ctx, spec.Rate, start, from, to, ticker.C, jobs)
		ticker.Stop()
	} else {
		for i := range workers {
			call := newCaller(i)
			wg.Go(func() { closed(ctx, &workers[i], call, from, to) })
		}
	}
	wg.Wait()
	return summarise(workers, dropped, spec.Duration)
}

// closed sends requests back to back until the window ends.
func closed(ctx context.Context, w *worker, call caller, from, to time.Time) {
	for ctx.Err() == nil {
		t0 := time.Now()
		if !t0.Before(to) {
			return
		}
		err := call(ctx)
		if !t0.Before(from) {
			w.record(time.Since(t0), err)
		}
	}
}

// paced sends a request for each job. Latency counts from when the
// dispatcher released the job, so time spent waiting for a free worker
// counts as it would for a real client.
func paced(ctx context.Context, w *worker, call caller, jobs <-chan time.Time, from time.Time) {
	for released := range jobs {
		err := call(ctx)
		if !released.Before(from) {
			w.record(time.Since(released), err)
		}
	}
}

// dispatchTick is the dispatcher's granularity: each tick releases the
// requests that fell due since the last. A millisecond keeps bursts small
// at the rates measured here without a busy loop.
const dispatchTick = time.Millisecond

// dispatch releases rate jobs per second from start until to, then closes
// jobs; each tick, carrying the time it stands for, releases those that
// fell due by then (a test ticks with a clock of its own). It returns how
// many jobs of the counted window found the queue full and were dropped.
func dispatch(ctx context.Context, rate float64, start, from, to time.Time, ticks <-chan time.Time, jobs chan<- time.Time) int {
	defer close(jobs)
	sent, dropped := 0, 0
	for {
		var now time.Time
		var ticking bool
		select {
		case <-ctx.Done():
			return dropped
		case now, ticking = <-ticks:
		}
		if !ticking || !now.Before(to) {
			return dropped
		}
		due := int(rate*now.Sub(start).Seconds()) - sent
		for range due {
			select {
			case jobs <- now:
			default:
				if !now.Before(from) {
					dropped++
				}
			}
		}
		sent += due
	}
}

// summarise merges the workers' records.
func summarise(workers []worker, dropped int, elapsed time.Duration) summary {
	s := summary{Dropped: dropped, Elapsed: elapsed}
	n := 0
	for i := range workers {
		n += len(workers[i].latencies)
	}
	all := make([]time.Duration, 0, n)
	for i := range workers {
		w := &workers[i]
		all = append(all, w.latencies...)
		s.Errors += w.errors
		if s.FirstErr == nil {
			s.FirstErr = w.firstErr
		}
	}
	slices.Sort(all)
	s.Requests = len(all)
	s.P50 = percentile(all, 0.50)
	s.P99 = percentile(all, 0.99)
	return s
}

// percentile returns the nearest-rank q-quantile of sorted latencies, or
// zero when there are none.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
