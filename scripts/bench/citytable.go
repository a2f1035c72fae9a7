package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// cityTable is the city scenario's table: a row per figure, a column per
// size, and the goal judged at the largest size measured.
type cityTable struct {
	sizes []int
	rows  []*cityRow
}

// cityRow is one figure of the city at each size. Empty cells print as a
// dash: a size not reached, or a part loaded once for every size.
type cityRow struct {
	what   string
	values []string
	goal   string
	result string
}

func newCityTable(sizes []int) *cityTable {
	return &cityTable{sizes: sizes}
}

// row returns the row named what, appending it when it is new: rows keep
// the order in which they were first set.
func (t *cityTable) row(what string) *cityRow {
	for _, r := range t.rows {
		if r.what == what {
			return r
		}
	}
	r := &cityRow{what: what, values: make([]string, len(t.sizes))}
	t.rows = append(t.rows, r)
	return r
}

// set writes the figure what at the size of column col.
func (t *cityTable) set(what string, col int, value string) {
	t.row(what).values[col] = value
}

// judge sets the goal of the figure what and whether the size measured
// last met it: a later size's verdict replaces an earlier one's.
func (t *cityTable) judge(what, goal string, met bool) {
	r := t.row(what)
	r.goal, r.result = goal, verdict(met)
}

// write prints the table as markdown.
func (t *cityTable) write(w io.Writer) {
	head := []string{"what"}
	align := []string{"---"}
	for _, n := range t.sizes {
		head = append(head, formatCount(int64(n)))
		align = append(align, "---:")
	}
	head = append(head, "goal", "result")
	align = append(align, "---", "---")
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	fmt.Fprintf(w, "|%s|\n", strings.Join(align, "|"))
	for _, r := range t.rows {
		cells := append(append([]string{r.what}, r.values...), r.goal, r.result)
		for i, c := range cells {
			if c == "" {
				c = "–"
			}
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

// printCityTable writes the run's settings and the city's table.
func printCityTable(out io.Writer, cfg config, t *cityTable) {
	if len(t.rows) == 0 {
		return
	}
	transport := "mutual TLS"
	if !cfg.TLS {
		transport = "plaintext"
	}
	fmt.Fprintf(out, "\nsocmgmt, a city measured: %d CPUs (GOMAXPROCS %d), %s, %s; %d communities; latencies from 1 client over %v after %v warm-up, GetRetiree from %d workers over %d connections (median of %d); goals are set for 2,000,000 retirees and judged at the largest size measured\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), transport, cityCommunities, cfg.Duration, cfg.Warmup, cfg.Concurrency, cfg.Conns, cfg.Reps)
	t.write(out)
}

// formatLoad writes how long loading n records took and the rate.
func formatLoad(n int, elapsed time.Duration) string {
	return fmt.Sprintf("%s (%s)", formatSeconds(elapsed), formatRate(float64(n)/elapsed.Seconds(), "records"))
}

// formatSeconds writes a duration in seconds with one decimal.
func formatSeconds(d time.Duration) string {
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// formatPercentiles writes a list's median and 99th percentile.
func formatPercentiles(s summary) string {
	return fmt.Sprintf("p50 %s, p99 %s", formatLatency(s.P50), formatLatency(s.P99))
}
