package e2e

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// programs are the packages TestMain builds, relative to the module root.
var programs = []string{
	"./services/registry/cmd/registry",
	"./gateway/cmd/gateway",
	"./cmd/socmgmt",
	"./services/activity/cmd/activity",
	"./services/handover/cmd/handover",
	"./services/pension/cmd/pension",
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
	if err := buildPrograms(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binDir = dir
	return m.Run()
}

// buildPrograms runs `go build -o dir/ <programs>` in the module root.
func buildPrograms(dir string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	// `go test` runs with its own toolchain's go first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	args := append([]string{"build", "-o", dir + string(os.PathSeparator)}, programs...)
	cmd := exec.Command(goTool, args...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", root, err, out)
	}
	return nil
}

// moduleRoot walks up from the working directory to the one with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
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
