package main

import (
	"io"
	"log"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/servicetest"
)

// TestWatchersScenarioRuns runs the watchers scenario, small, against a
// freshly built registry: more watchers than registry's default cap
// (which the scenario raises), the harness's --rate-limits accepted, and
// a table with both kinds of watchers.
func TestWatchersScenarioRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts registry")
	}
	bin := filepath.Dir(servicetest.Build(t, "./services/registry/cmd/registry"))
	cfg := config{
		Bin: bin, Retirees: 50, Watchers: 70, LoadConcurrency: 4,
		Duration: time.Second, Concurrency: 1, Conns: 1, Timeout: 5 * time.Minute, Scenarios: "watchers",
	}
	var out strings.Builder
	if err := run(t.Context(), cfg, &out, log.New(io.Discard, "", 0)); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	table := out.String()
	for _, want := range []string{
		"70 idle WatchRetirees streams, one connection each, caught-up",
		"70 idle WatchRetirees streams, one connection each, stalled",
		"registry after those watchers closed",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
}
