package main

import (
	"fmt"
	"slices"
	"time"
)

// spread is one figure measured once in each repetition of a scenario,
// so that the table can say how much it moved from run to run.
type spread []float64

// least, median and most are the smallest, middle and largest of the
// repetitions; the median of an even number is the mean of the middle
// two. Each is zero for none.
func (s spread) least() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Min(s)
}

func (s spread) most() float64 {
	if len(s) == 0 {
		return 0
	}
	return slices.Max(s)
}

func (s spread) median() float64 {
	if len(s) == 0 {
		return 0
	}
	v := slices.Sorted(slices.Values(s))
	m := len(v) / 2
	if len(v)%2 == 0 {
		return (v[m-1] + v[m]) / 2
	}
	return v[m]
}

// spreadOf collects f of each repetition.
func spreadOf[T any](reps []T, f func(T) float64) spread {
	s := make(spread, len(reps))
	for i, r := range reps {
		s[i] = f(r)
	}
	return s
}

// format writes the median, and after it the range when there were
// several repetitions: "19,610 req/s (18,950–20,102)". The median is
// what the goal column judges.
func (s spread) format(f func(float64) string) string {
	if len(s) <= 1 {
		return f(s.median())
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.median()), f(s.least()), f(s.most()))
}

// rateSpread, latencySpread and percentSpread format spreads of request
// rates, latencies in nanoseconds and shares (0.75 for 75 %).
func rateSpread(s spread) string {
	return s.format(func(v float64) string { return formatRate(v, "req") })
}

func latencySpread(s spread) string {
	return s.format(func(v float64) string { return formatLatency(time.Duration(v)) })
}

func percentSpread(s spread, of string) string {
	return s.format(func(v float64) string { return fmt.Sprintf("%.0f %%", 100*v) }) + " of " + of
}

// summaryRow is the row of one measurement repeated: its rate and
// latencies, each the median and range of the repetitions.
func summaryRow(what string, ss []summary) row {
	return row{
		What:  what,
		Value: rateSpread(spreadOf(ss, summary.Rate)),
		P50:   latencySpread(spreadOf(ss, func(s summary) float64 { return float64(s.P50) })),
		P99:   latencySpread(spreadOf(ss, func(s summary) float64 { return float64(s.P99) })),
	}
}

// ratio is part/whole, zero when whole is.
func ratio(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return part / whole
}
