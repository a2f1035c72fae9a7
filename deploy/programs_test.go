// Package deploy_test checks the deployment files against the programs
// they run: every setting they give is a flag the program has, every
// program has its unit, and the files are what their tools accept.
package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// programPkgs are the main packages of the programs that ship (the
// Makefile's PROGRAMS), by program name.
var programPkgs = map[string]string{
	"registry": "./services/registry/cmd/registry",
	"handover": "./services/handover/cmd/handover",
	"pension":  "./services/pension/cmd/pension",
	"activity": "./services/activity/cmd/activity",
	"casework": "./services/casework/cmd/casework",
	"gateway":  "./gateway/cmd/gateway",
	"socmgmt":  "./cmd/socmgmt",
}

// servers are the programs that serve, with their container ports: API
// and admin (the contract of tools/images and deploy/kubernetes).
var servers = map[string][2]int{
	"registry": {9101, 9201},
	"handover": {9102, 9202},
	"pension":  {9103, 9203},
	"activity": {9104, 9204},
	"casework": {9105, 9205},
	"gateway":  {8080, 9200},
}

// binDir holds the programs, built once for every test of the package.
var (
	binDir   string
	buildErr error
	build    sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// programBinary returns the path of name's binary, building every
// program on the first call.
func programBinary(t *testing.T, name string) string {
	t.Helper()
	build.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "socmgmt-deploy-test-"); buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + string(filepath.Separator)}
		for _, pkg := range programPkgs {
			args = append(args, pkg)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// flagLine matches a flag in a program's --help.
var flagLine = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// envNames returns the environment variables name's flags read
// (REGISTRY_DATA_DIR for registry's --data-dir), from its --help.
func envNames(t *testing.T, name string) map[string]bool {
	t.Helper()
	out, err := exec.Command(programBinary(t, name), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", name, err, out)
	}
	names := map[string]bool{}
	for _, m := range flagLine.FindAllStringSubmatch(string(out), -1) {
		names[strings.ToUpper(name+"_"+strings.ReplaceAll(m[1], "-", "_"))] = true
	}
	if len(names) < 5 {
		t.Fatalf("%s --help lists %d flags:\n%s", name, len(names), out)
	}
	return names
}
