package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSpread(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s                   spread
		least, median, most float64
	}{
		{nil, 0, 0, 0},
		{spread{7}, 7, 7, 7},
		{spread{3, 1, 2}, 1, 2, 3},
		{spread{4, 1, 3, 2}, 1, 2.5, 4},
	}
	for _, tc := range tests {
		if got := [3]float64{tc.s.least(), tc.s.median(), tc.s.most()}; got != [3]float64{tc.least, tc.median, tc.most} {
			t.Errorf("%v: least, median, most = %v, want %v, %v, %v", tc.s, got, tc.least, tc.median, tc.most)
		}
	}
}

func TestSpreadFormat(t *testing.T) {
	t.Parallel()
	if got, want := rateSpread(spread{19610}), "19,610 req/s"; got != want {
		t.Errorf("one repetition: %q, want %q", got, want)
	}
	if got, want := rateSpread(spread{20102, 18950, 19610}), "19,610 req/s (18,950 req/s–20,102 req/s)"; got != want {
		t.Errorf("three repetitions: %q, want %q", got, want)
	}
	ms := float64(time.Millisecond)
	if got, want := latencySpread(spread{11.78 * ms, 3.8 * ms, 6 * ms}), "6.00 ms (3.80 ms–11.78 ms)"; got != want {
		t.Errorf("latencies: %q, want %q", got, want)
	}
	if got, want := percentSpread(spread{0.22, 0.36, 0.35}, "direct gRPC"), "35 % (22 %–36 %) of direct gRPC"; got != want {
		t.Errorf("shares: %q, want %q", got, want)
	}
}

// TestRegistryRowsJudgeTheMedian: each share is taken within its
// repetition, and the goal column follows the median, so that one bad
// repetition shows in the range without deciding the verdict.
func TestRegistryRowsJudgeTheMedian(t *testing.T) {
	t.Parallel()
	run := func(bare, direct, gateway float64, p99 time.Duration) registryRep {
		at := func(rate float64, p99 time.Duration) summary {
			return summary{Requests: int(rate * 10), Elapsed: 10 * time.Second, P50: time.Millisecond, P99: p99}
		}
		return registryRep{bare: at(bare, 2*time.Millisecond), size: 310, direct: at(direct, 3*time.Millisecond),
			half: at(direct/2, p99), halfOffered: direct / 2, gateway: at(gateway, 9*time.Millisecond), gatewayRan: true}
	}
	reps := []registryRep{
		run(26000, 19600, 4300, 11*time.Millisecond), // a bad repetition
		run(25000, 19000, 9700, 4*time.Millisecond),
		run(26000, 20000, 10000, 3*time.Millisecond),
	}
	rows := registryRows(reps)
	if len(rows) != 4 {
		t.Fatalf("%d rows, want bare, direct, paced and gateway", len(rows))
	}
	direct, half, gateway := rows[1], rows[2], rows[3]
	if direct.Result != "met" || !strings.HasPrefix(direct.Compared, "76 % (75 %–77 %) of bare") {
		t.Errorf("direct row: compared %q, result %q", direct.Compared, direct.Result)
	}
	if half.Result != "met" || !strings.HasPrefix(half.P99, "4.00 ms (3.00 ms–11.00 ms)") {
		t.Errorf("paced row: p99 %q, result %q; want the median 4 ms judged", half.P99, half.Result)
	}
	if gateway.Result != "met" || gateway.Compared != "50 % (22 %–51 %) of direct gRPC; p99 3.0× (3.0×–3.0×) direct's" {
		t.Errorf("gateway row: compared %q, result %q", gateway.Compared, gateway.Result)
	}
	slow := slices.Clone(reps)
	for i := range slow {
		slow[i].gateway.P99 = 10 * time.Millisecond // 3.3× direct's
	}
	if gw := registryRows(slow)[3]; gw.Result == "met" {
		t.Errorf("gateway row with a p99 3.3× direct's: result %q, want missed", gw.Result)
	}

	reps[1].half.Dropped = 12
	if half := registryRows(reps)[2]; half.Result == "met" {
		t.Errorf("paced row with requests not sent: result %q, want missed", half.Result)
	}
	reps[0].gatewayRan = false
	if gw := registryRows(reps)[3]; !strings.HasPrefix(gw.Value, "skipped") {
		t.Errorf("gateway row without a gateway: %q, want skipped", gw.Value)
	}
}
