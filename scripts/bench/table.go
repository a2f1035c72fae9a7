package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// row is one line of the printed table. Empty cells print as a dash.
type row struct {
	// What names the figure and how it was measured.
	What string
	// Value is the main figure: a rate, a size.
	Value string
	// P50 and P99 are latency percentiles, for rows that have them.
	P50, P99 string
	// Compared is the figure relative to its reference ("68 % of bare").
	Compared string
	// Goal is DESIGN.md's goal for the figure.
	Goal string
	// Result says whether the goal was met.
	Result string
}

// verdict is the Result of a row with a goal.
func verdict(met bool) string {
	if met {
		return "met"
	}
	return "**missed**"
}

// measuredRow is the row of measurement s: its request rate and
// latencies.
func measuredRow(what string, s summary) row {
	return row{What: what, Value: formatRate(s.Rate(), "req"), P50: formatLatency(s.P50), P99: formatLatency(s.P99)}
}

// skippedRows are the rows of a scenario skipped for want of a program.
func skippedRows(what, program string) []row {
	return []row{{What: what, Value: "skipped: no " + program + " program"}}
}

func writeTable(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| what | value | p50 | p99 | compared | goal | result |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---|---|---|")
	for _, r := range rows {
		cells := []string{r.What, r.Value, r.P50, r.P99, r.Compared, r.Goal, r.Result}
		for i, c := range cells {
			if c == "" {
				c = "–"
			}
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

// formatCount writes n with thousands separators: 200,000.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatRate writes a per-second rate rounded to a whole number.
func formatRate(perSecond float64, unit string) string {
	return formatCount(int64(perSecond+0.5)) + " " + unit + "/s"
}

// formatLatency writes a latency in milliseconds with enough digits for
// sub-millisecond values.
func formatLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.2f ms", ms)
	default:
		return fmt.Sprintf("%.0f ms", ms)
	}
}

// formatBytes writes a size in MiB.
func formatBytes(n float64) string {
	return fmt.Sprintf("%.1f MiB", n/(1<<20))
}

// percentOf writes part as a percentage of whole.
func percentOf(part, whole float64, of string) string {
	if whole <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f %% of %s", 100*part/whole, of)
}
