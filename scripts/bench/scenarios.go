package main

import (
	"context"
	"strings"
)

// scenario measures one part of DESIGN.md's Performance table. run starts
// the programs it needs through the harness (which stops them at the end)
// and returns its rows; on error it returns the rows measured so far.
type scenario struct {
	name string
	run  func(ctx context.Context, h *harness) ([]row, error)
	// named scenarios run only when --scenarios names them, never as part
	// of all: they take far longer than make bench should.
	named bool
}

// scenarios lists every scenario in the order they run. A new figure is a
// new function here.
func scenarios() []scenario {
	return []scenario{
		{name: "registry", run: registryScenario},
		{name: "activity", run: activityScenario},
		{name: "pension", run: pensionScenario},
		{name: "roster", run: rosterScenario},
		{name: "overdue", run: overdueScenario},
		{name: "handover", run: handoverScenario},
		{name: "handover-agreement", run: agreementScenario},
		{name: "watchers", run: watchersScenario},
		{name: "casework", run: caseworkScenario},
		{name: "city", run: cityScenario, named: true},
	}
}

func scenarioNames() []string {
	var names []string
	for _, sc := range scenarios() {
		names = append(names, sc.name)
	}
	return names
}

func findScenario(name string) *scenario {
	for _, sc := range scenarios() {
		if sc.name == name {
			return &sc
		}
	}
	return nil
}

// selectScenarios returns the scenarios named in list (comma-separated,
// validated by config.validate), in their usual order; "all" is every
// scenario but those that run only when named.
func selectScenarios(list string) []scenario {
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		want[strings.TrimSpace(name)] = true
	}
	var out []scenario
	for _, sc := range scenarios() {
		if want[sc.name] || want["all"] && !sc.named {
			out = append(out, sc)
		}
	}
	return out
}
