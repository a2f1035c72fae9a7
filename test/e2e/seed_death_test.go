package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestSeedDeathWorkflow: the seed, against the real registry and pension
// service, files death reports from every source, leaves recovery cases
// in every state and claims in every state; a second seed finds them all
// and changes nothing.
func TestSeedDeathWorkflow(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	seed := append([]string{
		"seed", "--registry", s.registryAddr, "--key", s.signKey, "--retirees", "600",
		"--activity", "", "--pension", s.pensionAddr, "--handover", "",
	}, s.cliTLSArgs()...)

	first := s.socmgmt(t, seed...)
	rows := []string{"verified", "left reported", "rejected", "benefit rule",
		"case RECOVERY_OPEN", "case RECOVERY_ORDERED", "case RECOVERY_INSTALMENTS", "case RECOVERY_REPAID",
		"case RECOVERY_WRITTEN_OFF", "case RECOVERY_ENFORCEMENT", "case RECOVERY_VOID",
		"claim DRAFT", "claim SUBMITTED", "claim APPROVED", "claim REJECTED", "claim PAID", "claim VOID", "offset against a claim"}
	for _, name := range rows {
		created, present := summaryRow(t, first, name)
		switch name {
		case "verified":
			created -= 5 // one report from each of six sources
		case "case RECOVERY_OPEN":
			// The case opened by itself; the seed finds it and leaves it.
			created, present = created+present, 0
		}
		if created != 1 || present != 0 {
			t.Errorf("first seed: %s: %d created, %d present", name, created, present)
		}
	}
	for _, state := range []string{"RECOVERY_OPEN", "RECOVERY_ORDERED", "RECOVERY_INSTALMENTS", "RECOVERY_REPAID",
		"RECOVERY_WRITTEN_OFF", "RECOVERY_ENFORCEMENT", "RECOVERY_VOID"} {
		var list struct {
			Cases []struct {
				State        string `json:"state"`
				PrincipalFen string `json:"principalFen"`
			} `json:"cases"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/recoveryCases?state=" + state + "&pageSize=100", token: tk.bureau}, http.StatusOK, &list)
		if len(list.Cases) == 0 {
			t.Errorf("no recovery case %s after the seed", state)
		}
	}

	again := s.socmgmt(t, seed...)
	for _, name := range rows {
		if created, _ := summaryRow(t, again, name); created != 0 {
			t.Errorf("second seed: %s: %d created, want 0:\n%s", name, created, again)
		}
	}
}

// summaryRow reads the created and present counts of the seed summary's
// row name.
func summaryRow(t *testing.T, out, name string) (created, present int) {
	t.Helper()
	want := strings.Fields(name)
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) != len(want)+3 || strings.Join(f[:len(want)], " ") != name {
			continue
		}
		c, err1 := strconv.Atoi(f[len(want)])
		p, err2 := strconv.Atoi(f[len(want)+1])
		if err1 != nil || err2 != nil {
			t.Fatalf("row %q", line)
		}
		return c, p
	}
	t.Fatalf("no %q row in the seed's summary:\n%s", name, out)
	return 0, 0
}
