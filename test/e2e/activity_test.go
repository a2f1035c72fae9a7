package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	ical "github.com/arran4/golang-ical"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// activityErrorInfo is the ErrorInfo of an activity error with its
// metadata, which rpcDetail leaves out.
type activityErrorInfo struct {
	Type     string            `json:"@type"`
	Reason   string            `json:"reason"`
	Metadata map[string]string `json:"metadata"`
}

// TestActivityService drives the activity service through the gateway as
// clerks do, with a real registry feeding its projection: venue, weekly
// activity, registration of a retiree created in registry, a clash, the
// scopes of two clerks, the calendar feed, the report, cancellations.
func TestActivityService(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	send := api.send

	var retireeID, venueID, activityID string
	must(t, "registry: communities and a retiree", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		var r retiree
		send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "phone": phone1,
			"flags": []string{"LIVING_ALONE"},
		}}, http.StatusOK, &r)
		retireeID = r.ID
	})

	// The first session is a week ahead, at 09:00 in Shanghai.
	cst := time.FixedZone("CST", 8*3600)
	y, m, d := time.Now().In(cst).AddDate(0, 0, 7).Date()
	first := time.Date(y, m, d, 9, 0, 0, 0, cst)
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }

	must(t, "clerk creates a venue and a weekly activity", func(t *testing.T) {
		var v struct{ ID, CommunityID string }
		send(t, call{method: http.MethodPost, path: "/v1/venues", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "name": "太原街社区活动中心", "address": "和平区太原街1号", "capacity": 40, "areaSqm": 120.5,
		}}, http.StatusOK, &v)
		if v.ID == "" || v.CommunityID != communityA {
			t.Fatalf("venue = %+v", v)
		}
		venueID = v.ID
		var a struct {
			ID, State, StartTime, TimeZone string
		}
		send(t, call{method: http.MethodPost, path: "/v1/activities", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "venueId": venueID, "title": "京剧票友会", "category": "CULTURE",
			"startTime": rfc(first), "endTime": rfc(first.Add(2 * time.Hour)), "capacity": 20,
			"recurrence": map[string]any{"intervalWeeks": 1, "count": 4},
		}}, http.StatusOK, &a)
		if a.ID == "" || a.State != "SCHEDULED" || a.TimeZone != "Asia/Shanghai" || a.StartTime != rfc(first) {
			t.Fatalf("activity = %+v", a)
		}
		activityID = a.ID
	})

	registrations := "/v1/activities/" + activityID + "/registrations"
	must(t, "registering the retiree once the projection knows her", func(t *testing.T) {
		c := call{method: http.MethodPost, path: registrations, token: tk.clerkA, body: map[string]any{"retireeId": retireeID}}
		var r reply
		waitfor.NoError(t, "the projection to learn of the retiree", func(context.Context) error {
			r = api.do(t, c)
			switch {
			case r.code == http.StatusOK:
				return nil
			case r.code == http.StatusBadRequest && bytes.Contains(r.body, []byte("unknown retiree")):
				return fmt.Errorf("%d %s", r.code, r.body)
			}
			return waitfor.Permanent(fmt.Errorf("%d, want 200\n%s", r.code, r.body))
		})
		var reg struct{ RetireeID, State string }
		r.decode(t, &reg)
		if reg.RetireeID != retireeID || reg.State != "CONFIRMED" {
			t.Fatalf("registration = %+v", reg)
		}
	})

	t.Run("the same retiree twice is 409", func(t *testing.T) {
		r := send(t, call{method: http.MethodPost, path: registrations, token: tk.clerkA, body: map[string]any{"retireeId": retireeID}}, http.StatusConflict, nil)
		if rs := r.status(t).reasons(); len(rs) != 1 || rs[0] != "ALREADY_REGISTERED" {
			t.Errorf("reasons = %v", rs)
		}
	})

	t.Run("a clash on the third week is 409 naming the activity", func(t *testing.T) {
		week3 := first.AddDate(0, 0, 14).Add(time.Hour)
		r := send(t, call{method: http.MethodPost, path: "/v1/activities", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "venueId": venueID, "title": "健康讲座", "category": "HEALTH",
			"startTime": rfc(week3), "endTime": rfc(week3.Add(time.Hour)), "capacity": 30,
		}}, http.StatusConflict, nil)
		var st struct {
			Details []activityErrorInfo `json:"details"`
		}
		r.decode(t, &st)
		if len(st.Details) != 1 || st.Details[0].Reason != "SCHEDULE_CONFLICT" ||
			st.Details[0].Metadata["conflicting_activity_id"] != activityID ||
			st.Details[0].Metadata["conflicting_occurrence_start"] != rfc(first.AddDate(0, 0, 14)) {
			t.Errorf("details = %+v", st.Details)
		}
		// Touching the session's end is not a clash.
		after := first.AddDate(0, 0, 14).Add(2 * time.Hour)
		send(t, call{method: http.MethodPost, path: "/v1/activities", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "venueId": venueID, "title": "健康讲座", "category": "HEALTH",
			"startTime": rfc(after), "endTime": rfc(after.Add(time.Hour)), "capacity": 30,
		}}, http.StatusOK, nil)
	})

	t.Run("scopes", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, token string
			body                      any
			want                      int
		}{
			{"other clerk reads the activity", http.MethodGet, "/v1/activities/" + activityID, tk.clerkB, nil, http.StatusForbidden},
			{"other clerk reads the venue", http.MethodGet, "/v1/venues/" + venueID, tk.clerkB, nil, http.StatusForbidden},
			{"other clerk reads an unknown activity", http.MethodGet, "/v1/activities/aaaaaaaaaaaaaaaa", tk.clerkB, nil, http.StatusForbidden},
			{"other clerk registers", http.MethodPost, registrations, tk.clerkB, map[string]any{"retireeId": retireeID}, http.StatusForbidden},
			{"other clerk lists the registrations", http.MethodGet, registrations, tk.clerkB, nil, http.StatusForbidden},
			{"other clerk's calendar of A", http.MethodGet, "/v1/communities/" + communityA + "/calendar.ics", tk.clerkB, nil, http.StatusForbidden},
			{"other clerk creates in A", http.MethodPost, "/v1/venues", tk.clerkB, map[string]any{"communityId": communityA, "name": "x", "capacity": 5}, http.StatusForbidden},
			{"admin reads an unknown activity", http.MethodGet, "/v1/activities/aaaaaaaaaaaaaaaa", tk.admin, nil, http.StatusNotFound},
			{"bureau reads the activity", http.MethodGet, "/v1/activities/" + activityID, tk.bureau, nil, http.StatusOK},
			{"bureau may not cancel", http.MethodPost, "/v1/activities/" + activityID + ":cancel", tk.bureau, map[string]any{"reason": "x"}, http.StatusForbidden},
			{"enterprise reads nothing", http.MethodGet, "/v1/venues?communityId=" + communityA, tk.enterprise, nil, http.StatusForbidden},
			{"no token", http.MethodGet, "/v1/activities/" + activityID, "", nil, http.StatusUnauthorized},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: tc.method, path: tc.path, token: tc.token, body: tc.body}
				api.do(t, c).want(t, c, tc.want)
			})
		}
	})

	t.Run("sessions of the month", func(t *testing.T) {
		var list struct {
			Occurrences []struct {
				ActivityID, StartTime, State string
				Number                       int
			}
		}
		path := fmt.Sprintf("/v1/activities?communityId=%s&from=%s&to=%s", communityA,
			strings.ReplaceAll(rfc(first.Add(-time.Hour)), "+", "%2B"), strings.ReplaceAll(rfc(first.AddDate(0, 0, 31)), "+", "%2B"))
		send(t, call{method: http.MethodGet, path: path, token: tk.bureau}, http.StatusOK, &list)
		var weekly []string
		for _, o := range list.Occurrences {
			if o.ActivityID == activityID {
				weekly = append(weekly, o.StartTime)
			}
		}
		if len(weekly) != 4 || weekly[0] != rfc(first) || weekly[3] != rfc(first.AddDate(0, 0, 21)) {
			t.Errorf("weekly sessions listed: %v", weekly)
		}
	})

	t.Run("calendar feed", func(t *testing.T) {
		path := "/v1/communities/" + communityA + "/calendar.ics"
		r := send(t, call{method: http.MethodGet, path: path, token: tk.clerkA}, http.StatusOK, nil)
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
			t.Errorf("Content-Type = %q", ct)
		}
		cal, err := ical.ParseCalendar(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("the feed does not parse: %v\n%s", err, r.body)
		}
		var found bool
		for _, e := range cal.Events() {
			if e.Id() != activityID+"@socmgmt" {
				continue
			}
			found = true
			start, err := e.GetStartAt()
			if err != nil || !start.Equal(first) {
				t.Errorf("DTSTART = %v (%v), want %v", start, err, first)
			}
			if rr := e.GetProperty(ical.ComponentPropertyRrule); rr == nil || rr.Value != "FREQ=WEEKLY;INTERVAL=1;COUNT=4" {
				t.Errorf("RRULE = %v", rr)
			}
		}
		if !found {
			t.Errorf("no event for the activity in:\n%s", r.body)
		}
		c := call{method: http.MethodGet, path: path}
		api.do(t, c).want(t, c, http.StatusUnauthorized)
	})

	t.Run("calendar subscription", func(t *testing.T) {
		calendarSubscription(t, s, api, tk, activityID)
	})

	t.Run("participation report", func(t *testing.T) {
		var rep struct {
			CommunityID string `json:"communityId"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/reports/participation?communityId=" + communityA, token: tk.clerkA}, http.StatusOK, &rep)
		if rep.CommunityID != communityA {
			t.Errorf("report = %+v", rep)
		}
	})

	t.Run("cancelling the registration and the activity", func(t *testing.T) {
		var resp struct {
			Registration struct{ State string } `json:"registration"`
		}
		send(t, call{method: http.MethodDelete, path: registrations + "/" + retireeID, token: tk.clerkA}, http.StatusOK, &resp)
		if resp.Registration.State != "CANCELLED" {
			t.Errorf("registration after DELETE: %+v", resp)
		}
		var a struct{ State, CancelReason string }
		send(t, call{method: http.MethodPost, path: "/v1/activities/" + activityID + ":cancel", token: tk.clerkA,
			body: map[string]any{"reason": "演员请假"}}, http.StatusOK, &a)
		if a.State != "CANCELLED" || a.CancelReason != "演员请假" {
			t.Errorf("cancelled activity = %+v", a)
		}
		r := api.do(t, call{method: http.MethodPost, path: "/v1/activities/" + activityID + ":cancel", token: tk.clerkA,
			body: json.RawMessage(`{"reason":"x","why":"y"}`)})
		if r.code != http.StatusBadRequest {
			t.Errorf("an unknown field: status %d, want 400: %s", r.code, r.body)
		}
	})
}

// calendarSubscription subscribes to community A's calendar as its clerk,
// reads the feed with no bearer token as a calendar app does, polls it
// with If-None-Match, and revokes it. The feed token joins the secrets no
// log may hold before it is first used.
func calendarSubscription(t *testing.T, s *stack, api *restClient, tk tokens, activityID string) {
	base := "/v1/communities/" + communityA + "/calendar"
	var sub struct {
		Subscription struct{ ID, CommunityID, OwnerRole string }
		FeedToken    string
		FeedPath     string
	}
	api.send(t, call{method: http.MethodPost, path: base + ":subscribe", token: tk.clerkA, body: map[string]any{"label": "手机"}}, http.StatusOK, &sub)
	s.secret(sub.FeedToken)
	if len(sub.FeedToken) < 22 || sub.FeedPath != "/v1/calendars/"+sub.FeedToken+"/calendar.ics" || sub.Subscription.OwnerRole != "clerk" {
		t.Fatalf("subscription = %+v", sub)
	}
	r := api.send(t, call{method: http.MethodGet, path: sub.FeedPath}, http.StatusOK, nil)
	cal, err := ical.ParseCalendar(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("the feed does not parse: %v", err)
	}
	found := false
	for _, e := range cal.Events() {
		found = found || e.Id() == activityID+"@socmgmt"
	}
	etag := r.header.Get("ETag")
	if !found || !strings.HasPrefix(r.header.Get("Content-Type"), "text/calendar") || !strings.HasPrefix(etag, `W/"`) {
		t.Errorf("feed: event found %v, Content-Type %q, ETag %q", found, r.header.Get("Content-Type"), etag)
	}
	api.send(t, call{method: http.MethodGet, path: sub.FeedPath, header: map[string]string{"If-None-Match": etag}}, http.StatusNotModified, nil)

	api.send(t, call{method: http.MethodPost, path: base + ":subscribe", token: tk.clerkB, body: map[string]any{}}, http.StatusForbidden, nil)
	api.send(t, call{method: http.MethodPost, path: "/v1/communities/210102009999/calendar:subscribe", token: tk.admin, body: map[string]any{}}, http.StatusNotFound, nil)
	var list struct {
		Subscriptions []struct{ ID string }
	}
	api.send(t, call{method: http.MethodGet, path: base + "/subscriptions", token: tk.clerkA}, http.StatusOK, &list)
	if len(list.Subscriptions) != 1 || list.Subscriptions[0].ID != sub.Subscription.ID {
		t.Errorf("the clerk's subscriptions: %+v", list)
	}
	api.send(t, call{method: http.MethodDelete, path: base + "/subscriptions/" + sub.Subscription.ID, token: tk.clerkA}, http.StatusOK, nil)
	api.send(t, call{method: http.MethodGet, path: sub.FeedPath}, http.StatusNotFound, nil)
}
