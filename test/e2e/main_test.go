package e2e

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/socmgmt/socmgmt/internal/servicetest"
)

// programs are the packages TestMain builds, relative to the module root.
var programs = []string{
	"./services/registry/cmd/registry",
	"./gateway/cmd/gateway",
	"./cmd/socmgmt",
	"./services/activity/cmd/activity",
	"./services/handover/cmd/handover",
	"./services/pension/cmd/pension",
	"./services/casework/cmd/casework",
}

// binDir is the directory of the binaries TestMain built; empty under
// -short, when nothing is built.
var binDir string

// TestMain builds the binaries once for every test of the package: a
// stack started from stale binaries would test yesterday's code.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "socmgmt-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := servicetest.GoBuild(dir, programs...); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// requireBinaries skips t under -short, where TestMain built nothing.
func requireBinaries(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	if binDir == "" {
		t.Fatal("binaries were not built")
	}
}
