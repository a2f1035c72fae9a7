package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFormatCount(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{999, "999"},
		{1000, "1,000"},
		{200000, "200,000"},
		{1234567, "1,234,567"},
		{-1234, "-1,234"},
	}
	for _, tc := range tests {
		if got := formatCount(tc.n); got != tc.want {
			t.Errorf("formatCount(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestFormatLatency(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{850 * time.Microsecond, "0.850 ms"},
		{3210 * time.Microsecond, "3.21 ms"},
		{250 * time.Millisecond, "250 ms"},
	}
	for _, tc := range tests {
		if got := formatLatency(tc.d); got != tc.want {
			t.Errorf("formatLatency(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestFormatHelpers(t *testing.T) {
	if got, want := formatRate(12345.6, "req"), "12,346 req/s"; got != want {
		t.Errorf("formatRate = %q, want %q", got, want)
	}
	if got, want := formatBytes(200<<20), "200.0 MiB"; got != want {
		t.Errorf("formatBytes = %q, want %q", got, want)
	}
	if got, want := percentOf(30, 50, "bare"), "60 % of bare"; got != want {
		t.Errorf("percentOf = %q, want %q", got, want)
	}
	if got := percentOf(30, 0, "bare"); got != "" {
		t.Errorf("percentOf with no reference = %q, want empty", got)
	}
	if verdict(true) == verdict(false) {
		t.Error("verdict does not tell met from missed")
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	writeTable(&b, []row{
		{What: "a|b", Value: "1 req/s", P50: "1.00 ms", P99: "2.00 ms", Compared: "50 % of x", Goal: "≥ 60 %", Result: "**missed**"},
		{What: "heap", Value: "5.0 MiB"},
	})
	want := `| what | value | p50 | p99 | compared | goal | result |
|---|---:|---:|---:|---|---|---|
| a\|b | 1 req/s | 1.00 ms | 2.00 ms | 50 % of x | ≥ 60 % | **missed** |
| heap | 5.0 MiB | – | – | – | – | – |
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("writeTable (-want +got):\n%s", diff)
	}
}
