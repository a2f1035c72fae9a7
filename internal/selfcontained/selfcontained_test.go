package selfcontained_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// programs are the main packages of every program that ships (Makefile's
// PROGRAMS).
var programs = []string{
	"github.com/socmgmt/socmgmt/services/registry/cmd/registry",
	"github.com/socmgmt/socmgmt/services/pension/cmd/pension",
	"github.com/socmgmt/socmgmt/services/activity/cmd/activity",
	"github.com/socmgmt/socmgmt/services/handover/cmd/handover",
	"github.com/socmgmt/socmgmt/services/casework/cmd/casework",
	"github.com/socmgmt/socmgmt/gateway/cmd/gateway",
	"github.com/socmgmt/socmgmt/cmd/socmgmt",
}

// TestEveryProgramLinksIt fails for a program that does not link this
// package in: its image would have no time zones and no CA roots.
func TestEveryProgramLinksIt(t *testing.T) {
	args := append([]string{"list", "-f", `{{.ImportPath}} {{join .Deps " "}}`}, programs...)
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(programs) {
		t.Fatalf("go list printed %d lines for %d programs", len(lines), len(programs))
	}
	for _, line := range lines {
		fields := strings.Fields(line)
		for _, want := range []string{"github.com/socmgmt/socmgmt/internal/selfcontained", "time/tzdata", "golang.org/x/crypto/x509roots/fallback"} {
			if !slices.Contains(fields[1:], want) {
				t.Errorf("%s does not link %s", fields[0], want)
			}
		}
	}
}
