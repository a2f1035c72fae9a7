package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// handoverDoc is the Handover resource as a client reads it. int64
// fields are JSON strings in protojson, and zero values are left out.
type handoverDoc struct {
	ID                   string   `json:"id"`
	State                string   `json:"state"`
	Kind                 string   `json:"kind"`
	EnterpriseCreditCode string   `json:"enterpriseCreditCode"`
	CommunityID          string   `json:"communityId"`
	ReceiverCode         string   `json:"receiverCode"`
	RetireeIDs           []string `json:"retireeIds"`
	Allocations          []struct {
		CommunityID string   `json:"communityId"`
		RetireeIDs  []string `json:"retireeIds"`
	} `json:"allocations"`
	RosterVerification struct {
		VerifiedBy     string `json:"verifiedBy"`
		DocumentSha256 string `json:"documentSha256"`
	} `json:"rosterVerification"`
	Tracks []struct {
		Kind         string `json:"kind"`
		State        string `json:"state"`
		ReceiverRole string `json:"receiverRole"`
		Items        int64  `json:"items,string"`
		Settled      int64  `json:"settled,string"`
		CompletedBy  string `json:"completedBy"`
	} `json:"tracks"`
	Funds struct {
		AmountFen   int64 `json:"amountFen,string"`
		ReceivedFen int64 `json:"receivedFen,string"`
	} `json:"funds"`
	Dossiers []struct {
		RetireeID   string `json:"retireeId"`
		State       string `json:"state"`
		Explanation string `json:"explanation"`
	} `json:"dossiers"`
	Premises []struct {
		ID         string  `json:"id"`
		Name       string  `json:"name"`
		Capacity   int     `json:"capacity"`
		AreaSqm    float64 `json:"areaSqm"`
		Inspection string  `json:"inspection"`
		VenueID    string  `json:"venueId"`
		// CommunityID is the community whose venue accepted premises
		// become; GroupApprovalRef the group company's approval.
		CommunityID      string `json:"communityId"`
		GroupApprovalRef string `json:"groupApprovalRef"`
	} `json:"premises"`
	Delivery struct {
		State     string `json:"state"`
		Commands  int    `json:"commands"`
		Delivered int    `json:"delivered"`
		LastError string `json:"lastError"`
	} `json:"delivery"`
	ReturnReason string `json:"returnReason"`
	Etag         string `json:"etag"`
}

// trackStates are the states of h's tracks by kind.
func (h handoverDoc) trackStates() map[string]string {
	out := make(map[string]string, len(h.Tracks))
	for _, tr := range h.Tracks {
		out[tr.Kind] = tr.State
	}
	return out
}

// registerRetirees registers n retirees of the enterprise creditCode in
// community A, ENTERPRISE-managed, with the enterprise's token, and
// returns their ids; their ID numbers are among the secrets of s.
func (rc *restClient) registerRetirees(t *testing.T, s *stack, token string, n int) []string {
	t.Helper()
	ids := make([]string, 0, n)
	for i := range n {
		birth := time.Date(1950, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 17*i)
		id, err := idnumber.Build("210102", birth, 100+i)
		if err != nil {
			t.Fatal(err)
		}
		s.secret(id.Digits())
		var r retiree
		rc.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: token, body: map[string]any{
			"idNumber": id.Digits(), "name": fmt.Sprintf("职工%02d", i), "communityId": communityA,
			"enterpriseCreditCode": creditCode, "managementMode": "ENTERPRISE", "retirementDate": "2012-05-01",
		}}, http.StatusOK, &r)
		ids = append(ids, r.ID)
	}
	return ids
}

// TestHandoverService is the handover as its users live it, through the
// gateway and the real registry, handover and activity programs: an
// enterprise registers and hands over 50 retirees with a clubhouse; a
// clerk of another community is refused; the receiving clerk returns the
// package, the enterprise fixes and resubmits it; the clerk records the
// funds in two parts, the archives with one dossier missing and
// explained, inspects the premises and completes. Then registry shows the
// 50 retirees managed by the community, the socialisation report has
// moved, and the clubhouse is a venue that takes bookings.
func TestHandoverService(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	send := api.send
	const retirees = 50
	const standardFen = 360000 // 3,600 yuan a head

	must(t, "registry: communities and the enterprise", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: tk.bureau, body: map[string]any{
			"creditCode": creditCode, "name": "沈阳重型机械厂", "ownership": "STATE", "status": "BANKRUPT",
		}}, http.StatusOK, nil)
	})

	var ids []string
	must(t, "the enterprise registers its retirees", func(t *testing.T) {
		ids = api.registerRetirees(t, s, tk.enterprise, retirees)
	})

	report := func(t *testing.T) reportRow {
		t.Helper()
		var rep report
		send(t, call{method: http.MethodGet, path: "/v1/reports/socialisation?groupBy=community", token: tk.bureau}, http.StatusOK, &rep)
		for _, row := range rep.Rows {
			if row.Key == communityA {
				return row
			}
		}
		t.Fatalf("no report row for %s: %+v", communityA, rep.Rows)
		return reportRow{}
	}
	before := report(t)
	if before.EnterpriseManaged != retirees || before.CommunityManaged != 0 {
		t.Fatalf("report before the handover: %+v", before)
	}

	dossiers := make([]map[string]any, len(ids))
	for i, id := range ids {
		dossiers[i] = map[string]any{"retireeId": id, "dossierNo": fmt.Sprintf("SY-2026-%03d", i+1), "volumes": 1 + i%3,
			"checklist": []string{"RESUME", "APPRAISAL", "WAGES_APPOINTMENTS"}}
	}
	premises := map[string]any{"name": "机械厂老干部活动中心", "address": "和平区太原北街18号", "areaSqm": 260.5, "capacity": 60, "use": "文体活动"}
	var h handoverDoc
	must(t, "the enterprise builds and submits the package", func(t *testing.T) {
		send(t, call{method: http.MethodPost, path: "/v1/handovers", token: tk.enterprise, body: map[string]any{
			"enterpriseCreditCode": creditCode, "communityId": communityA, "retireeIds": ids,
			"funds":    map[string]any{"amountFen": standardFen * retirees, "perRetireeStandardFen": standardFen},
			"dossiers": dossiers,
			"premises": []any{premises},
			"obligations": []any{
				map[string]any{"kind": "PENSION_OUTSIDE_POOLING", "description": "统筹外补贴", "monthlyAmountFen": 1500000, "until": "2035-12-31"},
				map[string]any{"kind": "PENSION_OUTSIDE_POOLING", "description": "独生子女补贴", "monthlyAmountFen": 10000, "until": "2035-12-31", "retireeId": ids[0]},
			},
		}}, http.StatusOK, &h)
		if h.State != "DRAFT" || h.ID == "" || len(h.RetireeIDs) != retirees || len(h.Premises) != 1 || h.Premises[0].ID == "" {
			t.Fatalf("created %+v", h)
		}
		send(t, call{method: http.MethodPost, path: "/v1/handovers/" + h.ID + ":submit", token: tk.enterprise, body: map[string]any{"etag": h.Etag}}, http.StatusOK, &h)
		if h.State != "SUBMITTED" {
			t.Fatalf("after submit: %s", h.State)
		}
	})
	path := "/v1/handovers/" + h.ID

	must(t, "a second package of the same retirees is refused, every one named", func(t *testing.T) {
		var other handoverDoc
		send(t, call{method: http.MethodPost, path: "/v1/handovers", token: tk.enterprise, body: map[string]any{
			"communityId": communityB, "retireeIds": []string{ids[3], missingID, ids[7]},
			"funds": map[string]any{"amountFen": 100},
		}}, http.StatusOK, &other)
		r := send(t, call{method: http.MethodPost, path: "/v1/handovers/" + other.ID + ":submit", token: tk.enterprise, body: map[string]any{}}, http.StatusBadRequest, nil)
		st := r.status(t)
		want := []string{"retireeIds[0]", "retireeIds[1]", "retireeIds[2]", "dossiers", "dossiers", "dossiers"}
		if got := st.violatedFields(); !slices.Equal(got, want) || !slices.Equal(st.reasons(), []string{"HANDOVER_CHECKS_FAILED"}) {
			t.Errorf("violations %q, reasons %q, want %q: %s", got, st.reasons(), want, r.body)
		}
		if !strings.Contains(string(r.body), "in handover "+h.ID) || !strings.Contains(string(r.body), "not a retiree of this enterprise") {
			t.Errorf("reasons missing from %s", r.body)
		}
		send(t, call{method: http.MethodPost, path: "/v1/handovers/" + other.ID + ":withdraw", token: tk.enterprise, body: map[string]any{"reason": "重复提交"}}, http.StatusOK, nil)
	})

	must(t, "a clerk of another community may not see or touch it", func(t *testing.T) {
		for _, c := range []call{
			{method: http.MethodGet, path: path, token: tk.clerkB},
			{method: http.MethodGet, path: path + "/events", token: tk.clerkB},
			{method: http.MethodPost, path: path + ":return", token: tk.clerkB, body: map[string]any{"reason": "不是我们社区的"}},
			{method: http.MethodPost, path: path + ":complete", token: tk.clerkB, body: map[string]any{}},
			// Whether or not the handover exists.
			{method: http.MethodGet, path: "/v1/handovers/H0000000000000000", token: tk.clerkB},
			// Nor may the enterprise do the clerk's part.
			{method: http.MethodPost, path: path + ":receiveFunds", token: tk.enterprise, body: map[string]any{"amountFen": 1, "voucherNo": "X", "receivedOn": "2026-01-05"}},
		} {
			send(t, c, http.StatusForbidden, nil)
		}
	})

	must(t, "the receiving clerk returns it", func(t *testing.T) {
		send(t, call{method: http.MethodPost, path: path + ":return", token: tk.clerkA, body: map[string]any{
			"etag": h.Etag, "reason": "活动中心可容纳人数与实际不符，请核实后重新提交",
		}}, http.StatusOK, &h)
		if h.State != "RETURNED" || h.ReturnReason == "" {
			t.Fatalf("after return: %+v", h)
		}
	})

	must(t, "the enterprise fixes it and resubmits", func(t *testing.T) {
		fixed := map[string]any{"id": h.Premises[0].ID, "name": premises["name"], "address": premises["address"],
			"areaSqm": premises["areaSqm"], "capacity": 45, "use": premises["use"]}
		// A stale etag is a conflict.
		send(t, call{method: http.MethodPatch, path: path, token: tk.enterprise, body: map[string]any{"etag": "r1", "premises": []any{fixed}}}, http.StatusConflict, nil)
		send(t, call{method: http.MethodPatch, path: path, token: tk.enterprise, body: map[string]any{"etag": h.Etag, "premises": []any{fixed}}}, http.StatusOK, &h)
		if h.State != "RETURNED" || h.Premises[0].Capacity != 45 || len(h.Dossiers) != retirees {
			t.Fatalf("after the fix: %+v", h)
		}
		send(t, call{method: http.MethodPost, path: path + ":submit", token: tk.enterprise, body: map[string]any{"etag": h.Etag}}, http.StatusOK, &h)
		if h.State != "SUBMITTED" {
			t.Fatalf("after resubmit: %s", h.State)
		}
	})

	total := int64(standardFen * retirees)
	must(t, "the clerk records the funds in two parts", func(t *testing.T) {
		first := total * 6 / 10
		send(t, call{method: http.MethodPost, path: path + ":receiveFunds", token: tk.clerkA, body: map[string]any{
			"amountFen": first, "voucherNo": "HZ-2026-0117", "receivedOn": "2026-01-17"}}, http.StatusOK, &h)
		r := send(t, call{method: http.MethodPost, path: path + ":receiveFunds", token: tk.clerkA, body: map[string]any{
			"amountFen": total - first + 1, "voucherNo": "HZ-2026-0203", "receivedOn": "2026-02-03"}}, http.StatusBadRequest, nil)
		if rs := r.status(t).reasons(); !slices.Equal(rs, []string{"FUNDS_OVER_RECEIVED"}) {
			t.Errorf("over-receipt reasons %q", rs)
		}
		send(t, call{method: http.MethodPost, path: path + ":receiveFunds", token: tk.clerkA, body: map[string]any{
			"amountFen": total - first, "voucherNo": "HZ-2026-0203", "receivedOn": "2026-02-03"}}, http.StatusOK, &h)
		if h.Funds.ReceivedFen != total {
			t.Fatalf("received %d of %d", h.Funds.ReceivedFen, total)
		}
	})

	must(t, "the clerk receives the archives, each missing material explained, one dossier missing and explained", func(t *testing.T) {
		// The checklists lack the autobiography and the education
		// records, which every file must hold: each needs its own
		// written explanation.
		received := make([]any, retirees-1)
		for i, id := range ids[:retirees-1] {
			received[i] = map[string]any{"retireeId": id, "missingMaterials": []any{
				map[string]any{"category": "AUTOBIOGRAPHY", "explanation": "本人自传未存档，原单位出具书面说明"},
				map[string]any{"category": "EDUCATION_TITLES", "explanation": "学历材料由原单位补出证明"},
			}}
		}
		send(t, call{method: http.MethodPost, path: path + ":receiveArchives", token: tk.clerkA, body: map[string]any{
			"dossiers": received,
			"missing":  []any{map[string]any{"retireeId": ids[retirees-1], "explanation": "档案于2008年移交时遗失，原单位已出具书面说明"}},
		}}, http.StatusOK, &h)
		if st := h.Dossiers[retirees-1]; st.State != "MISSING" || st.Explanation == "" || h.Dossiers[0].State != "RECEIVED" {
			t.Fatalf("dossiers: first %+v, last %+v", h.Dossiers[0], st)
		}
	})

	must(t, "the clerk inspects the premises, the bureau verifies the roster, and the clerk completes", func(t *testing.T) {
		// Not before the premises are inspected and the roster verified.
		r := send(t, call{method: http.MethodPost, path: path + ":complete", token: tk.clerkA, body: map[string]any{}}, http.StatusBadRequest, nil)
		if st := r.status(t); !slices.Equal(st.violatedFields(), []string{"rosterVerification", "premises[0]"}) {
			t.Errorf("incomplete: %s", r.body)
		}
		send(t, call{method: http.MethodPost, path: path + ":inspectPremises", token: tk.clerkA, body: map[string]any{
			"premisesId": h.Premises[0].ID, "accepted": true, "notes": "房屋结构完好，消防设施齐全"}}, http.StatusOK, &h)
		// Only the bureau verifies the roster.
		verify := map[string]any{"documentSha256": strings.Repeat("ab", 32), "note": "花名册已签字盖章"}
		send(t, call{method: http.MethodPost, path: path + ":verifyRoster", token: tk.clerkA, body: verify}, http.StatusForbidden, nil)
		send(t, call{method: http.MethodPost, path: path + ":verifyRoster", token: tk.bureau, body: map[string]any{"documentSha256": "abc"}}, http.StatusBadRequest, nil)
		send(t, call{method: http.MethodPost, path: path + ":verifyRoster", token: tk.bureau, body: verify}, http.StatusOK, &h)
		send(t, call{method: http.MethodPost, path: path + ":complete", token: tk.clerkA, body: map[string]any{"etag": h.Etag}}, http.StatusOK, &h)
		if h.State != "COMPLETED" || h.Delivery.Commands != 2 {
			t.Fatalf("after complete: %+v", h)
		}
	})

	must(t, "the outbox delivers", func(t *testing.T) {
		waitfor.NoError(t, "the handover to be delivered", func(context.Context) error {
			send(t, call{method: http.MethodGet, path: path, token: tk.clerkA}, http.StatusOK, &h)
			if h.Delivery.State != "DELIVERED" {
				return fmt.Errorf("delivery %+v", h.Delivery)
			}
			return nil
		})
		if h.Premises[0].VenueID == "" || h.Delivery.LastError != "" {
			t.Errorf("delivered: %+v, premises %+v", h.Delivery, h.Premises[0])
		}
	})

	must(t, "registry shows the retirees managed by the community", func(t *testing.T) {
		var list struct {
			Retirees      []retiree `json:"retirees"`
			NextPageToken string    `json:"nextPageToken"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/retirees?communityId=" + communityA + "&managementMode=COMMUNITY&pageSize=100", token: tk.clerkA}, http.StatusOK, &list)
		var got []string
		for _, r := range list.Retirees {
			got = append(got, r.ID)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(got, want) {
			t.Errorf("%d COMMUNITY-managed retirees in %s, want the %d handed over", len(got), communityA, len(want))
		}
		after := report(t)
		if after.CommunityManaged != before.CommunityManaged+retirees || after.EnterpriseManaged != before.EnterpriseManaged-retirees || after.Rate != 1 {
			t.Errorf("report moved from %+v to %+v", before, after)
		}
		// The enterprise no longer sees them as its own.
		send(t, call{method: http.MethodGet, path: retireePath(ids[0]), token: tk.enterprise}, http.StatusForbidden, nil)
	})

	must(t, "the clubhouse is a venue that takes bookings", func(t *testing.T) {
		var venues struct {
			Venues []struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				Capacity int    `json:"capacity"`
			} `json:"venues"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/venues?communityId=" + communityA, token: tk.clerkA}, http.StatusOK, &venues)
		if len(venues.Venues) != 1 || venues.Venues[0].ID != h.Premises[0].VenueID || venues.Venues[0].Capacity != 45 {
			t.Fatalf("venues %+v, want the clubhouse %s", venues.Venues, h.Premises[0].VenueID)
		}
		start := time.Now().In(time.FixedZone("CST", 8*3600)).Truncate(time.Hour).AddDate(0, 0, 7)
		var a struct {
			ID    string `json:"id"`
			State string `json:"state"`
		}
		send(t, call{method: http.MethodPost, path: "/v1/activities", token: tk.clerkA, body: map[string]any{
			"communityId": communityA, "venueId": h.Premises[0].VenueID, "title": "老职工迎新春联欢会", "category": "CULTURE",
			"startTime": start.Format(time.RFC3339), "endTime": start.Add(2 * time.Hour).Format(time.RFC3339), "capacity": 40,
		}}, http.StatusOK, &a)
		if a.ID == "" || a.State != "SCHEDULED" {
			t.Errorf("activity %+v", a)
		}
	})

	must(t, "re-sent commands act once", func(t *testing.T) {
		// The outbox's commands, sent again as after a lost answer, with
		// the service's own token: the same venue, and no second
		// assignment.
		svc := s.cliToken(t, s.signKey, "--role", "service", "--subject", "handover")
		s.secret(svc)
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+svc)
		actConn := s.dialGRPC(t, s.activityAddr)
		v, err := activityv1.NewActivityServiceClient(actConn).CreateVenue(ctx, &activityv1.CreateVenueRequest{
			RequestKey: h.ID + "/venue/" + h.Premises[0].ID,
			Venue: &activityv1.Venue{CommunityId: communityA, Name: premises["name"].(string), Address: premises["address"].(string),
				Capacity: 45, AreaSqm: premises["areaSqm"].(float64)},
		})
		if err != nil || v.Venue.Id != h.Premises[0].VenueID {
			t.Errorf("re-sent CreateVenue: %v, %v; want venue %s", v, err, h.Premises[0].VenueID)
		}
		regConn := s.dialGRPC(t, s.registryAddr)
		a, err := registryv1.NewRegistryServiceClient(regConn).AssignRetirees(ctx, &registryv1.AssignRetireesRequest{
			RequestKey: h.ID + "/assign/1", RetireeIds: ids, CommunityId: communityA,
			ManagementMode: registryv1.ManagementMode_COMMUNITY, Reason: "handover " + h.ID + " completed",
		})
		if err != nil || !a.Replayed {
			t.Errorf("re-sent AssignRetirees: %v, %v; want a replay", a, err)
		}
		var hist struct {
			Entries []struct {
				Kind string `json:"kind"`
			} `json:"entries"`
		}
		send(t, call{method: http.MethodGet, path: retireePath(ids[0]) + "/history", token: tk.clerkA}, http.StatusOK, &hist)
		assigned := 0
		for _, e := range hist.Entries {
			if e.Kind == "ASSIGNED" {
				assigned++
			}
		}
		if assigned != 1 {
			t.Errorf("%d ASSIGNED history entries, want 1: %+v", assigned, hist.Entries)
		}
		var venues struct {
			Venues []any `json:"venues"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/venues?communityId=" + communityA, token: tk.clerkA}, http.StatusOK, &venues)
		if len(venues.Venues) != 1 {
			t.Errorf("%d venues after the re-sent command, want 1", len(venues.Venues))
		}
	})

	must(t, "the timeline tells the story", func(t *testing.T) {
		var ev struct {
			Events []struct {
				Action    string `json:"action"`
				Actor     string `json:"actor"`
				ActorRole string `json:"actorRole"`
				State     string `json:"state"`
				Detail    string `json:"detail"`
			} `json:"events"`
		}
		send(t, call{method: http.MethodGet, path: path + "/events", token: tk.enterprise}, http.StatusOK, &ev)
		var actions []string
		for _, e := range ev.Events {
			actions = append(actions, e.Action)
			if e.Action == "RETURNED" && (e.Actor != subjectClerkA || e.ActorRole != "clerk") {
				t.Errorf("return by %s/%s", e.Actor, e.ActorRole)
			}
		}
		want := []string{"CREATED", "SUBMITTED", "RETURNED", "UPDATED", "SUBMITTED", "FUNDS_RECEIVED", "FUNDS_RECEIVED",
			"ARCHIVES_RECEIVED", "PREMISES_INSPECTED", "ROSTER_VERIFIED", "COMPLETED", "DELIVERED", "DELIVERED"}
		if !slices.Equal(actions, want) {
			t.Errorf("timeline %q, want %q", actions, want)
		}
	})

	must(t, "the enterprise's obligations are listed", func(t *testing.T) {
		var ob struct {
			Obligations []struct {
				HandoverID string `json:"handoverId"`
			} `json:"obligations"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/obligations?enterpriseCreditCode=" + creditCode + "&activeOn=2030-06-30", token: tk.bureau}, http.StatusOK, &ob)
		if len(ob.Obligations) != 2 || ob.Obligations[0].HandoverID != h.ID {
			t.Errorf("obligations %+v", ob.Obligations)
		}
		var later struct {
			Obligations []any `json:"obligations"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/obligations?activeOn=2036-01-01", token: tk.enterprise}, http.StatusOK, &later)
		if len(later.Obligations) != 0 {
			t.Errorf("obligations after their end: %+v", later.Obligations)
		}
	})

	must(t, "a retiree's death stops the obligation paid for him from the next month", func(t *testing.T) {
		shanghai, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			t.Fatal(err)
		}
		today := time.Now().In(shanghai)
		day := today.Format(time.DateOnly)
		next := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, shanghai).AddDate(0, 1, 0).Format("2006-01")
		send(t, call{method: http.MethodPost, path: retireePath(ids[0]) + ":recordDeath", token: tk.bureau, body: map[string]any{"dateOfDeath": day}}, http.StatusOK, nil)
		type owed struct {
			Obligation struct {
				RetireeID string `json:"retireeId"`
			} `json:"obligation"`
			StopsFrom  string `json:"stopsFrom"`
			StopReason string `json:"stopReason"`
		}
		var stopped owed
		waitfor.NoError(t, "the obligation stopped", func(context.Context) error {
			var ob struct {
				Obligations []owed `json:"obligations"`
			}
			send(t, call{method: http.MethodGet, path: "/v1/obligations?enterpriseCreditCode=" + creditCode + "&activeOn=" + day, token: tk.clerkA}, http.StatusOK, &ob)
			for _, o := range ob.Obligations {
				if o.Obligation.RetireeID == ids[0] && o.StopsFrom != "" {
					stopped = o
					return nil
				}
			}
			return fmt.Errorf("not stopped yet: %+v", ob.Obligations)
		})
		if stopped.StopsFrom != next || !strings.Contains(stopped.StopReason, day) {
			t.Errorf("stopped %+v, want from %s for a death on %s", stopped, next, day)
		}
		var ev struct {
			Events []struct {
				Action string `json:"action"`
			} `json:"events"`
		}
		send(t, call{method: http.MethodGet, path: path + "/events", token: tk.clerkA}, http.StatusOK, &ev)
		if n := len(ev.Events); n == 0 || ev.Events[n-1].Action != "OBLIGATION_STOPPED" {
			t.Errorf("timeline ends with %+v, want OBLIGATION_STOPPED", ev.Events)
		}
	})
}
