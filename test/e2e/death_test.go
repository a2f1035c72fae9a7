package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// deathReport is a death report as REST answers it.
type deathReport struct {
	ID                 string `json:"id"`
	RetireeID          string `json:"retireeId"`
	State              string `json:"state"`
	DateOfDeath        string `json:"dateOfDeath"`
	Source             string `json:"source"`
	ReportingDeadline  string `json:"reportingDeadline"`
	WorkingDaysTo      int    `json:"workingDaysToReport"`
	RetireeName        string `json:"retireeName"`
	RetireeIDNumberMsk string `json:"retireeIdNumberMasked"`
	Reporter           struct {
		Name        string `json:"name"`
		Phone       string `json:"phone"`
		PhoneMasked string `json:"phoneMasked"`
	} `json:"reporter"`
}

// reporterPhone is the daughter's phone number: never in a log.
const reporterPhone = "13700002222"

// TestDeathReportThroughGateway: a clerk files a death report through
// the gateway and verifies it, and the retiree is DECEASED, which the
// activity service learns; bureau reverses it, the retiree is LIVING
// again, and activity registers her again once its projection follows.
func TestDeathReportThroughGateway(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	s.secret(reporterPhone)
	send := api.send

	var r retiree
	var activityID string
	must(t, "a retiree and an activity of her community", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY",
		}}, http.StatusOK, &r)
		var v struct{ ID string }
		send(t, call{method: http.MethodPost, path: "/v1/venues", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "name": "太原街社区活动中心", "address": "和平区太原街1号", "capacity": 40, "areaSqm": 120.5,
		}}, http.StatusOK, &v)
		start := time.Now().AddDate(0, 0, 7).Truncate(time.Hour)
		var a struct{ ID string }
		send(t, call{method: http.MethodPost, path: "/v1/activities", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "venueId": v.ID, "title": "京剧票友会", "category": "CULTURE",
			"startTime": start.Format(time.RFC3339), "endTime": start.Add(2 * time.Hour).Format(time.RFC3339), "capacity": 20,
		}}, http.StatusOK, &a)
		activityID = a.ID
	})

	dateOfDeath := time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, -3).Format(time.DateOnly)
	var report deathReport
	must(t, "clerk A files a report", func(t *testing.T) {
		send(t, call{method: http.MethodPost, path: retireePath(r.ID) + "/deathReports", token: tk.clerkA, body: map[string]any{
			"dateOfDeath": dateOfDeath, "source": "FAMILY",
			"reporter":  map[string]any{"name": "王小红", "relation": "CHILD", "phone": reporterPhone},
			"documents": []map[string]any{{"kind": "DEATH_CERTIFICATE", "reference": "医证-0001"}},
		}}, http.StatusOK, &report)
		if report.State != "REPORTED" || report.Reporter.Phone != "" || report.Reporter.PhoneMasked != "137****2222" ||
			report.ReportingDeadline == "" || report.RetireeIDNumberMsk != idNumber1Masked {
			t.Fatalf("filed %+v", report)
		}
		clerkB := call{method: http.MethodGet, path: "/v1/deathReports/" + report.ID, token: tk.clerkB}
		api.do(t, clerkB).want(t, clerkB, http.StatusForbidden)
		var list struct {
			DeathReports []deathReport `json:"deathReports"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/deathReports?state=REPORTED", token: tk.clerkA}, http.StatusOK, &list)
		if len(list.DeathReports) != 1 || list.DeathReports[0].ID != report.ID {
			t.Errorf("clerk A's open reports: %+v", list.DeathReports)
		}
	})

	must(t, "clerk A verifies it: DECEASED", func(t *testing.T) {
		var out struct {
			DeathReport deathReport `json:"deathReport"`
			Retiree     retiree     `json:"retiree"`
		}
		send(t, call{method: http.MethodPost, path: "/v1/deathReports/" + report.ID + ":verify", token: tk.clerkA, body: map[string]any{}}, http.StatusOK, &out)
		if out.DeathReport.State != "VERIFIED" || out.Retiree.Status != "DECEASED" || out.Retiree.DateOfDeath != dateOfDeath {
			t.Fatalf("verified: %+v", out)
		}
		var got retiree
		send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: tk.clerkA}, http.StatusOK, &got)
		if got.Status != "DECEASED" {
			t.Errorf("status %s", got.Status)
		}
	})

	register := call{method: http.MethodPost, path: "/v1/activities/" + activityID + "/registrations", token: tk.clerkA, body: map[string]any{"retireeId": r.ID}}
	must(t, "activity refuses to register the deceased", func(t *testing.T) {
		waitfor.NoError(t, "the activity projection to learn of the death", func(context.Context) error {
			rep := api.do(t, register)
			switch {
			case rep.code == http.StatusBadRequest && bytes.Contains(rep.body, []byte("not living")):
				return nil
			case rep.code == http.StatusBadRequest && bytes.Contains(rep.body, []byte("unknown retiree")):
				return fmt.Errorf("%d %s", rep.code, rep.body)
			}
			return waitfor.Permanent(fmt.Errorf("%d, want 400 not living\n%s", rep.code, rep.body))
		})
	})

	must(t, "bureau reverses it: LIVING again", func(t *testing.T) {
		c := call{method: http.MethodPost, path: "/v1/deathReports/" + report.ID + ":reverse", token: tk.clerkA, body: map[string]any{"reason": "误报"}}
		api.do(t, c).want(t, c, http.StatusForbidden)
		var out struct {
			DeathReport deathReport `json:"deathReport"`
			Retiree     retiree     `json:"retiree"`
		}
		send(t, call{method: http.MethodPost, path: "/v1/deathReports/" + report.ID + ":reverse", token: tk.bureau, body: map[string]any{"reason": "同名误报"}}, http.StatusOK, &out)
		if out.DeathReport.State != "REVERSED" || out.Retiree.Status != "LIVING" || out.Retiree.DateOfDeath != "" {
			t.Fatalf("reversed: %+v", out)
		}
		var h struct {
			Entries []struct {
				Kind string `json:"kind"`
			} `json:"entries"`
		}
		send(t, call{method: http.MethodGet, path: retireePath(r.ID) + "/history", token: tk.clerkA}, http.StatusOK, &h)
		var kinds []string
		for _, e := range h.Entries {
			kinds = append(kinds, e.Kind)
		}
		if fmt.Sprint(kinds) != "[CREATED DEATH_REPORTED DIED DEATH_REVERSED]" {
			t.Errorf("history kinds %v", kinds)
		}
	})

	must(t, "activity registers her again", func(t *testing.T) {
		waitfor.NoError(t, "the activity projection to learn of the reversal", func(context.Context) error {
			rep := api.do(t, register)
			switch {
			case rep.code == http.StatusOK:
				return nil
			case rep.code == http.StatusBadRequest && bytes.Contains(rep.body, []byte("not living")):
				return fmt.Errorf("%d %s", rep.code, rep.body)
			}
			return waitfor.Permanent(fmt.Errorf("%d, want 200\n%s", rep.code, rep.body))
		})
	})
}
