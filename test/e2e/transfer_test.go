package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestSeedLeavesTransfersPending: the demo city's seed leaves transfers
// proposed by the sending clerks, which the receiving communities find
// among their incoming ones, and enters lapsed ones; a second seed finds
// them all in place.
func TestSeedLeavesTransfersPending(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	seed := append([]string{
		"seed", "--registry", s.registryAddr, "--key", s.signKey, "--retirees", "1500",
		"--activity", "", "--pension", "", "--handover", "",
	}, s.cliTLSArgs()...)

	out := s.socmgmt(t, seed...)
	created, present := pendingRow(t, out, "pending")
	if created == 0 || present != 0 {
		t.Fatalf("first seed: %d pending transfers created, %d present", created, present)
	}
	lapsed, _ := pendingRow(t, out, "lapsed")
	var gone struct {
		Transfers []transfer `json:"transfers"`
	}
	api.send(t, call{method: http.MethodGet, path: "/v1/transfers?state=LAPSED&pageSize=100", token: tk.admin}, http.StatusOK, &gone)
	if lapsed == 0 || len(gone.Transfers) != lapsed {
		t.Fatalf("%d transfers lapsed, the seed says %d", len(gone.Transfers), lapsed)
	}
	var list struct {
		Transfers []transfer `json:"transfers"`
	}
	api.send(t, call{method: http.MethodGet, path: "/v1/transfers?state=PROPOSED&pageSize=100", token: tk.admin}, http.StatusOK, &list)
	if len(list.Transfers) != created {
		t.Fatalf("%d transfers proposed, the seed says %d", len(list.Transfers), created)
	}
	for _, tr := range list.Transfers {
		if tr.FromCommunityID == tr.ToCommunityID || tr.RetireeName == "" || tr.RetireeIDNumberMasked == "" {
			t.Errorf("seeded transfer %+v", tr)
		}
	}

	out = s.socmgmt(t, seed...)
	again, present := pendingRow(t, out, "pending")
	if again != 0 || present != created {
		t.Errorf("second seed: %d pending transfers created, %d present; want 0 and %d", again, present, created)
	}
	if again, present := pendingRow(t, out, "lapsed"); again != 0 || present != lapsed {
		t.Errorf("second seed: %d lapsed transfers created, %d present; want 0 and %d", again, present, lapsed)
	}
}

// pendingRow reads the created and present counts of the seed summary's
// "pending transfers" or "lapsed transfers" row, as which names.
func pendingRow(t *testing.T, out, which string) (created, present int) {
	t.Helper()
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != which || f[1] != "transfers" {
			continue
		}
		c, err1 := strconv.Atoi(f[2])
		p, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s transfers row %q", which, line)
		}
		return c, p
	}
	t.Fatalf("no %s transfers row in the seed's summary:\n%s", which, out)
	return 0, 0
}
