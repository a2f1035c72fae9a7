package e2e

import (
	"bytes"
	"encoding/csv"
	"mime"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// TestExportsREST exports community A's roster through the real gateway
// and registry, as CSV and XLSX, with full numbers to its clerk and
// masked ones in a copy to hand on and to its street office's
// supervisor; another community's clerk is refused; and the
// socialisation report is asked as of past days.
func TestExportsREST(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)
	api.send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: tk.bureau,
		body: map[string]any{"creditCode": creditCode, "name": "福州第一机械厂", "ownership": "STATE", "status": "BANKRUPT"}}, http.StatusOK, nil)
	for _, r := range []struct{ idNumber, name, community, phone string }{
		{idNumber1, "张桂英", communityA, phone1},
		{idNumber3, "刘淑珍", communityA, phone3},
		{idNumber4, "陈志强", communityB, ""},
	} {
		body := map[string]any{"idNumber": r.idNumber, "name": r.name, "communityId": r.community, "managementMode": "COMMUNITY", "enterpriseCreditCode": creditCode}
		if r.phone != "" {
			body["phone"] = r.phone
		}
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.bureau, body: body}, http.StatusOK, nil)
	}
	roster := "/v1/exports/roster?communityId=" + communityA

	t.Run("csv", func(t *testing.T) {
		r := api.send(t, call{method: http.MethodGet, path: roster, token: tk.clerkA}, http.StatusOK, nil)
		wantFile(t, r, "text/csv; charset=utf-8", ".csv")
		if !bytes.HasPrefix(r.body, []byte("\ufeff")) {
			t.Error("no byte-order mark")
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		wantRoster(t, rows, true)
	})
	t.Run("xlsx", func(t *testing.T) {
		r := api.send(t, call{method: http.MethodGet, path: roster + "&format=xlsx", token: tk.clerkA}, http.StatusOK, nil)
		wantFile(t, r, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
		f, err := excelize.OpenReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetName(0))
		if err != nil {
			t.Fatal(err)
		}
		wantRoster(t, rows, true)
	})
	t.Run("masked copy", func(t *testing.T) {
		r := api.send(t, call{method: http.MethodGet, path: roster + "&masked=true", token: tk.clerkA}, http.StatusOK, nil)
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.body, []byte("\ufeff")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		wantRoster(t, rows, false)
	})
	t.Run("street supervisor, masked", func(t *testing.T) {
		street := s.cliToken(t, s.signKey, "--role", "street", "--street", communityA[:9], "--subject", "e2e-street")
		s.secret(street)
		r := api.send(t, call{method: http.MethodGet, path: roster + "&format=xlsx", token: street}, http.StatusOK, nil)
		f, err := excelize.OpenReader(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetName(0))
		if err != nil {
			t.Fatal(err)
		}
		wantRoster(t, rows, false)
		// Community B is another street's.
		api.send(t, call{method: http.MethodGet, path: "/v1/exports/roster?communityId=" + communityB, token: street}, http.StatusForbidden, nil)
	})
	t.Run("refusals", func(t *testing.T) {
		api.send(t, call{method: http.MethodGet, path: "/v1/exports/roster?communityId=" + communityA, token: tk.clerkB}, http.StatusForbidden, nil)
		api.send(t, call{method: http.MethodGet, path: roster}, http.StatusUnauthorized, nil)
		r := api.send(t, call{method: http.MethodGet, path: "/v1/exports/payroll?communityId=" + communityA, token: tk.clerkA}, http.StatusBadRequest, nil)
		if got := r.status(t).violatedFields(); len(got) != 1 || got[0] != "register" {
			t.Errorf("fields %v", got)
		}
	})
	t.Run("report as of", func(t *testing.T) {
		china := time.FixedZone("CST", 8*3600)
		now := time.Now().In(china)
		var rep struct {
			Rows  []map[string]any `json:"rows"`
			Total struct {
				Living        string  `json:"living"`
				CommunityRate float64 `json:"communityRate"`
			} `json:"total"`
			HistoryStart string `json:"historyStart"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/reports/socialisation?groupBy=district&asOf=" + now.Format(time.DateOnly), token: tk.bureau}, http.StatusOK, &rep)
		if rep.Total.Living != "3" || rep.Total.CommunityRate != 1 || len(rep.Rows) != 2 {
			t.Errorf("today's report: %+v", rep)
		}
		// The registry began today: a report as of yesterday counts no one.
		rep.Rows = nil
		api.send(t, call{method: http.MethodGet, path: "/v1/reports/socialisation?asOf=" + now.AddDate(0, 0, -1).Format(time.DateOnly), token: tk.bureau}, http.StatusOK, &rep)
		if len(rep.Rows) != 0 {
			t.Errorf("yesterday's report: %+v", rep)
		}
		r := api.send(t, call{method: http.MethodGet, path: "/v1/reports/socialisation?asOf=" + now.AddDate(0, 0, 2).Format(time.DateOnly), token: tk.bureau}, http.StatusBadRequest, nil)
		if got := r.status(t).violatedFields(); len(got) != 1 || got[0] != "asOf" {
			t.Errorf("fields %v", got)
		}
	})
}

// wantFile checks the headers of a downloaded register.
func wantFile(t *testing.T, r reply, contentType, ext string) {
	t.Helper()
	if got := r.header.Get("Content-Type"); got != contentType {
		t.Errorf("Content-Type %q, want %q", got, contentType)
	}
	disposition, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
	if err != nil || disposition != "attachment" || !strings.HasPrefix(params["filename"], "roster-"+communityA+"-") || !strings.HasSuffix(params["filename"], ext) {
		t.Errorf("Content-Disposition %q", r.header.Get("Content-Disposition"))
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
}

// wantRoster checks community A's roster: a heading and its two
// retirees, with full or masked numbers, and no one of community B.
func wantRoster(t *testing.T, rows [][]string, full bool) {
	t.Helper()
	if len(rows) != 3 || len(rows[0]) == 0 || rows[0][0] != "姓名" {
		t.Fatalf("roster rows %q", rows)
	}
	text := strings.Join(append(rows[1], rows[2]...), "|")
	for _, name := range []string{"张桂英", "刘淑珍"} {
		if !strings.Contains(text, name) {
			t.Errorf("%s is not on the roster", name)
		}
	}
	if strings.Contains(text, idNumber4) || strings.Contains(text, masked(idNumber4)) {
		t.Error("community B's retiree is on A's roster")
	}
	for _, number := range []string{idNumber1, idNumber3, phone1, phone3} {
		if strings.Contains(text, number) != full {
			t.Errorf("%s in full: %v, want %v", number[:3]+"…", !full, full)
		}
	}
	if !full && !strings.Contains(text, masked(idNumber1)) {
		t.Error("the masked roster does not show the masked ID number")
	}
}
