package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestImportRetireesCLI imports a bureau's roster, a CSV file with Chinese
// headers as Excel writes it, through the real CLI (socmgmt import
// retirees) into the real registry: the retirees are then listed through
// the gateway with masked numbers and a CREATED history entry, and the
// same file imported again changes nothing.
func TestImportRetireesCLI(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)
	api.send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: tk.bureau,
		body: map[string]any{"creditCode": creditCode, "name": "福州第一机械厂", "ownership": "STATE", "status": "BANKRUPT"}}, http.StatusOK, nil)

	file := filepath.Join(t.TempDir(), "花名册.csv")
	body := "\uFEFF2026年退休人员花名册\r\n" +
		"序号,身份证号,姓名,退休日期,统一社会信用代码,社区代码,管理方式,联系电话,特殊群体\r\n" +
		"1," + idNumber3 + ",刘淑珍,2010-06-01," + creditCode + "," + communityA + ",社区管理," + phone3 + ",独居、困难\r\n" +
		"2," + idNumber4 + ",陈国栋,2012-04-01," + creditCode + "," + communityA + ",企业管理,,\r\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out := s.importRoster(t, file)
	if !strings.Contains(strings.Join(strings.Fields(out), " "), "new retirees 2") {
		t.Errorf("the first import did not create two retirees:\n%s", out)
	}

	var page struct {
		Retirees []retiree `json:"retirees"`
	}
	api.send(t, call{method: http.MethodGet, path: "/v1/retirees?communityId=" + communityA, token: tk.clerkA}, http.StatusOK, &page)
	var names []string
	for _, r := range page.Retirees {
		names = append(names, r.Name)
		if r.IDNumber != "" || r.Phone != "" {
			t.Errorf("the list shows %s's numbers in full", r.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"刘淑珍", "陈国栋"}) {
		t.Fatalf("community A lists %v", names)
	}
	liu := page.Retirees[slices.IndexFunc(page.Retirees, func(r retiree) bool { return r.Name == "刘淑珍" })]
	if liu.ManagementMode != "COMMUNITY" || !slices.Equal(liu.Flags, []string{"LIVING_ALONE", "HARDSHIP"}) || liu.PhoneMasked == "" {
		t.Errorf("刘淑珍 listed as %+v", liu)
	}
	var hist struct {
		Entries []struct {
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
		} `json:"entries"`
	}
	api.send(t, call{method: http.MethodGet, path: retireePath(liu.ID) + "/history", token: tk.clerkA}, http.StatusOK, &hist)
	if len(hist.Entries) != 1 || hist.Entries[0].Kind != "CREATED" || !strings.HasPrefix(hist.Entries[0].Reason, "imported in batch ") {
		t.Errorf("history %+v, want one CREATED entry naming the batch", hist.Entries)
	}

	again := s.importRoster(t, file)
	if !strings.Contains(strings.Join(strings.Fields(again), " "), "new retirees 0 duplicates (unchanged) 2 updated 0") {
		t.Errorf("the second import changed something:\n%s", again)
	}
}

// importRoster runs socmgmt import retirees on file against the stack's
// registry and returns what it printed; a failure fails t.
func (s *stack) importRoster(t *testing.T, file string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "socmgmt"), append([]string{"import", "retirees", file, "--registry", s.registryAddr, "--key", s.signKey}, s.cliTLSArgs()...)...)
	cmd.Env = programEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("socmgmt import retirees: %v\n%s", err, out)
	}
	if v := containsAny(out, personalData...); v != "" {
		t.Errorf("the CLI printed personal data:\n%s", out)
	}
	return string(out)
}
