package pension

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// certify records certifications as the bureau, failing the test on error.
func (h *harness) certify(t *testing.T, n int, days ...string) {
	t.Helper()
	for _, d := range days {
		h.certifyBy(t, bureauP, n, pb.CertificationMethod_DATA_MATCH, d)
	}
}

// certifyBy records one certification as p, failing the test on error.
func (h *harness) certifyBy(t *testing.T, p authn.Principal, n int, channel pb.CertificationMethod, day string) *pb.Certification {
	t.Helper()
	resp, err := h.client.RecordCertification(h.as(p), &pb.RecordCertificationRequest{
		RetireeId:     retireeID(n),
		Certification: &pb.Certification{Method: channel, CertifiedOn: day},
	})
	if err != nil {
		t.Fatalf("certify %d on %s by %s: %v", n, day, channel, err)
	}
	return resp.Certification
}

func TestCertifications(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(clerkP)
	record := func(n int, c *pb.Certification) (*pb.Certification, error) {
		resp, err := h.client.RecordCertification(ctx, &pb.RecordCertificationRequest{RetireeId: retireeID(n), Certification: c})
		return resp.GetCertification(), err
	}
	for _, tc := range []struct {
		name   string
		c      *pb.Certification
		fields []string
	}{
		{"no certification", nil, []string{"certification"}},
		{"no method", &pb.Certification{CertifiedOn: "2026-01-01"}, []string{"method"}},
		{"unknown method", &pb.Certification{Method: 9, CertifiedOn: "2026-01-01"}, []string{"method"}},
		{"pension start", &pb.Certification{Method: pb.CertificationMethod_PENSION_START, CertifiedOn: "2026-01-01"}, []string{"method"}},
		{"no date", &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT}, []string{"certifiedOn"}},
		{"bad date", &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2026-02-30"}, []string{"certifiedOn"}},
		{"future", &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2026-06-16"}, []string{"certifiedOn"}},
		{"before 2000", &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "1999-12-31"}, []string{"certifiedOn"}},
		{"bad reference", &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2026-01-01", Reference: "a b"}, []string{"reference"}},
		{"long reference", &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2026-01-01", Reference: string(make([]byte, 65))}, []string{"reference"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := record(0, tc.c)
			wantFields(t, err, tc.fields...)
		})
	}

	first, err := record(0, &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2025-01-10", Reference: "SY/2025-01.7", BatchId: "forged"})
	if err != nil {
		t.Fatal(err)
	}
	if first.RecordedBy != clerkP.Subject || first.RetireeId != retireeID(0) || first.RecordTime == nil || first.Reference != "SY/2025-01.7" || first.BatchId != "" {
		t.Errorf("recorded certification = %v", first)
	}
	again, err := record(0, &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2025-01-10"})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(first, again, protocmp.Transform()) {
		t.Errorf("a repeated certification was recorded anew: %v", again)
	}
	for _, d := range []string{"2024-01-05", "2026-01-08", "2023-01-11"} {
		h.certifyBy(t, bureauP, 0, pb.CertificationMethod_REMOTE_FACE, d) //nolint:staticcheck // SA1019: the earlier name must still be accepted
	}
	issued := "" // a token retiree 0's list issued
	got := servicetest.AllPages(t, 5, func(token string) ([]string, string, error) {
		resp, err := h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(0), PageSize: 3, PageToken: token})
		if resp.GetNextPageToken() != "" {
			issued = resp.GetNextPageToken()
		}
		var days []string
		for _, c := range resp.GetCertifications() {
			days = append(days, c.CertifiedOn)
		}
		return days, resp.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{"2026-01-08", "2025-01-10", "2024-01-05", "2023-01-11"}, got); diff != "" {
		t.Errorf("certifications newest first (-want +got):\n%s", diff)
	}
	_, err = h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(1), PageToken: issued + "x"})
	wantFields(t, err, "pageToken")

	_, err = h.client.RecordCertification(h.as(adminP), &pb.RecordCertificationRequest{
		RetireeId: retireeID(5), Certification: &pb.Certification{Method: pb.CertificationMethod_DATA_MATCH, CertifiedOn: "2026-03-01"},
	})
	wantReason(t, err, codes.FailedPrecondition, reasonDeceased)

	ent, err := h.client.GetEntitlement(ctx, &pb.GetEntitlementRequest{RetireeId: retireeID(0)})
	if err != nil {
		t.Fatal(err)
	}
	wantCert := &pb.CertificationState{
		Status: pb.CertificationStatus_CURRENT, LastCertifiedOn: "2026-01-08", DueOn: "2027-01-08", LastChannel: pb.CertificationMethod_FACE_APP,
	}
	if ent.State != pb.EntitlementState_ACTIVE || ent.NextDueOn != "2027-01-08" || ent.AsOf != "2026-06-15" || !cmp.Equal(wantCert, ent.Certification, protocmp.Transform()) {
		t.Errorf("entitlement = %v", ent)
	}
	_, err = h.client.GetEntitlement(ctx, &pb.GetEntitlementRequest{RetireeId: retireeID(0), AsOf: "2026-6-1"})
	wantFields(t, err, "asOf")
}

// TestRecordCertificationChannels: clerks record what a community sees
// (IN_PERSON, HOME_VISIT, ACTIVITY) for their communities; the other
// channels are the bureau's, and PENSION_START is never recorded.
func TestRecordCertificationChannels(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	channels := []pb.CertificationMethod{
		pb.CertificationMethod_IN_PERSON, pb.CertificationMethod_HOME_VISIT, pb.CertificationMethod_ACTIVITY,
		pb.CertificationMethod_DATA_MATCH, pb.CertificationMethod_FACE_APP, pb.CertificationMethod_CONSULAR,
		pb.CertificationMethod_OTHER_REGION, pb.CertificationMethod_PENSION_START,
	}
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		ia = codes.InvalidArgument
	)
	want := map[string][]codes.Code{
		"admin":  {ok, ok, ok, ok, ok, ok, ok, ia},
		"bureau": {ok, ok, ok, ok, ok, ok, ok, ia},
		"clerk":  {ok, ok, ok, pd, pd, pd, pd, ia},
	}
	callers := map[string]authn.Principal{"admin": adminP, "bureau": bureauP, "clerk": clerkP}
	day := 0
	for role, wantCodes := range want {
		for i, channel := range channels {
			day++
			_, err := h.client.RecordCertification(h.as(callers[role]), &pb.RecordCertificationRequest{
				RetireeId:     retireeID(day % 5),
				Certification: &pb.Certification{Method: channel, CertifiedOn: testNow.AddDate(0, 0, -day).Format(time.DateOnly)},
			})
			if got := status.Code(err); got != wantCodes[i] {
				t.Errorf("%s recording %v: %v, want %v", role, channel, err, wantCodes[i])
			}
		}
	}
	// A clerk's own channel for another community's retiree is refused as
	// any of his reads there.
	_, err := h.client.RecordCertification(h.as(clerkP), &pb.RecordCertificationRequest{
		RetireeId: retireeID(6), Certification: &pb.Certification{Method: pb.CertificationMethod_HOME_VISIT, CertifiedOn: "2026-06-01"},
	})
	wantStatus(t, err, codes.PermissionDenied)
}

// workListFixture is a harness with 40 retirees in communityA with the
// work-list fields, retired on various days, certified at random (from a
// fixed seed) through various channels, one suspended by the bureau; 40
// is deceased and 41 lives in communityB.
func workListFixture(t *testing.T) *harness {
	t.Helper()
	keyer := testKeyer(t)
	rng := newRand(t)
	var states []*registryv1.RetireeState
	for n := range 42 {
		st := retiree(t, keyer, n, communityA)
		st.Name = fmt.Sprintf("退休人员%02d", n)
		st.IdNumberMasked = idnumber.Mask(idNumber(t, n).Digits())
		st.PhoneMasked = "138****56" + fmt.Sprintf("%02d", n)
		if n%5 == 0 {
			st.Flags = []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE}
		}
		switch {
		case n%7 == 3:
			// New retirees: their pension started between July 2024 and
			// June 2026.
			st.RetirementDate = testNow.AddDate(0, -1-rng.IntN(23), -rng.IntN(28)).Format(time.DateOnly)
		case n == 40:
			st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-01-20"
		case n == 41:
			st.CommunityId = communityB
		case n == 39:
			st.RetirementDate = "" // neither retired on a known day nor certified
		}
		states = append(states, st)
	}
	h := newHarness(t, newEnv(t, states...), harnessOptions{})
	channels := []pb.CertificationMethod{pb.CertificationMethod_DATA_MATCH, pb.CertificationMethod_FACE_APP, pb.CertificationMethod_HOME_VISIT}
	for n := range 39 {
		for range rng.IntN(3) {
			day := testNow.AddDate(0, 0, -rng.IntN(800)).Format(time.DateOnly)
			h.certifyBy(t, bureauP, n, channels[rng.IntN(len(channels))], day)
		}
	}
	h.decide(t, 1, "SUSPEND 2026-05 NOT_CERTIFIED")
	return h
}

// workList reads a whole work list of community as p, in pages of size:
// the overdue list when within is 0, else the due-soon list.
func (h *harness) workList(t *testing.T, p authn.Principal, community, asOf string, within, size int32) []*pb.OverdueCertification {
	t.Helper()
	return servicetest.AllPages(t, 100, func(token string) ([]*pb.OverdueCertification, string, error) {
		if within == 0 {
			resp, err := h.client.ListOverdueCertifications(h.as(p), &pb.ListOverdueCertificationsRequest{
				CommunityId: community, AsOf: asOf, PageSize: size, PageToken: token,
			})
			return resp.GetOverdue(), resp.GetNextPageToken(), err
		}
		resp, err := h.client.ListDueSoonCertifications(h.as(p), &pb.ListDueSoonCertificationsRequest{
			CommunityId: community, AsOf: asOf, WithinDays: within, PageSize: size, PageToken: token,
		})
		return resp.GetDueSoon(), resp.GetNextPageToken(), err
	})
}

// statuses reads, one by one through GetEntitlement, the certification
// state on asOf of the retirees 0 to 41.
func (h *harness) statuses(t *testing.T, asOf string) map[string]*pb.CertificationState {
	t.Helper()
	out := map[string]*pb.CertificationState{}
	for n := range 42 {
		out[retireeID(n)] = h.entitlement(t, n, asOf).Certification
	}
	return out
}

// wantWorkList checks a work list against the statuses GetEntitlement
// answers: it holds exactly the living retirees of communityA whose due
// date is in [from, to] (all dates "" reaches back to those without one),
// each with its state, ordered by due date.
func wantWorkList(t *testing.T, list []*pb.OverdueCertification, states map[string]*pb.CertificationState, from, to string) {
	t.Helper()
	var want, got []string
	for n := range 40 {
		st := states[retireeID(n)]
		if st.DueOn >= from && st.DueOn <= to {
			want = append(want, retireeID(n))
		}
	}
	for i, o := range list {
		got = append(got, o.RetireeId)
		st := states[o.RetireeId]
		if o.Status != st.GetStatus() || o.DueOn != st.GetDueOn() || o.LastCertifiedOn != st.GetLastCertifiedOn() || o.LastChannel != st.GetLastChannel() {
			t.Errorf("entry %v, but GetEntitlement says %v", o, st)
		}
		if i > 0 && o.DueOn < list[i-1].DueOn {
			t.Errorf("entry %d due %s after one due %s", i, o.DueOn, list[i-1].DueOn)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retirees listed (-want +got):\n%s", diff)
	}
}

// TestWorkLists: the overdue list of a community holds exactly the
// retirees GetEntitlement calls OVERDUE, and the due-soon list those due
// within its days, under the national default and under a window rule
// that takes effect mid-year.
func TestWorkLists(t *testing.T) {
	t.Parallel()
	h := workListFixture(t)
	check := func(t *testing.T, asOf string) {
		states := h.statuses(t, asOf)
		overdue := h.workList(t, clerkP, communityA, asOf, 0, 7)
		if len(overdue) == 0 {
			t.Fatalf("nobody overdue on %s: the fixture tests nothing", asOf)
		}
		d := day(t, asOf)
		wantWorkList(t, overdue, states, "", formatDate(d.AddDate(0, 0, -1)))
		for _, o := range overdue {
			if o.Status != pb.CertificationStatus_OVERDUE {
				t.Errorf("overdue list entry %v", o)
			}
		}
		dueSoon := h.workList(t, clerkP, communityA, asOf, 30, 7)
		wantWorkList(t, dueSoon, states, asOf, formatDate(d.AddDate(0, 0, 30)))
		for _, o := range dueSoon {
			if o.Status != pb.CertificationStatus_DUE_SOON {
				t.Errorf("due-soon list entry %v", o)
			}
		}
		wantWorkList(t, h.workList(t, bureauP, communityA, asOf, 200, 50), states, asOf, formatDate(d.AddDate(0, 0, 200)))
	}
	for _, asOf := range []string{"2026-06-15", "2026-08-01", "2026-10-01", "2027-03-01"} {
		t.Run("rolling on "+asOf, func(t *testing.T) { check(t, asOf) })
	}
	_, err := h.client.CreateCertificationRule(h.as(adminP), &pb.CreateCertificationRuleRequest{Rule: &pb.CertificationRule{
		RegionPrefix: "210102", EffectiveOn: "2026-07-01", Kind: pb.CertificationRuleKind_WINDOW, WindowOpens: "01-01", WindowDeadline: "09-30",
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, asOf := range []string{"2026-06-15", "2026-09-15", "2026-10-01", "2027-03-01"} {
		t.Run("window from July, on "+asOf, func(t *testing.T) { check(t, asOf) })
	}
}

// TestWorkListEntries: what an entry shows, the order of the list, its
// pages, its bound and who may read it.
func TestWorkListEntries(t *testing.T) {
	t.Parallel()
	h := workListFixture(t)
	all := h.workList(t, clerkP, communityA, "", 0, 50)
	if len(all) < 10 {
		t.Fatalf("%d overdue: the fixture tests little", len(all))
	}
	t.Run("entry", func(t *testing.T) {
		// Retiree 39 has no known certification: the longest overdue.
		first := all[0]
		if first.RetireeId != retireeID(39) || first.DueOn != "" || first.LastCertifiedOn != "" || first.Status != pb.CertificationStatus_OVERDUE {
			t.Errorf("first entry %v, want retiree 39 without dates", first)
		}
		number := map[string]int{}
		for n := range 42 {
			number[retireeID(n)] = n
		}
		for _, o := range all {
			n := number[o.RetireeId]
			wantEnt := pb.EntitlementState_ACTIVE
			if n == 1 {
				wantEnt = pb.EntitlementState_SUSPENDED
			}
			if o.Name != fmt.Sprintf("退休人员%02d", n) || o.IdNumberMasked != idnumber.Mask(idNumber(t, n).Digits()) ||
				o.PhoneMasked == "" || (n%5 == 0) != slices.Contains(o.Flags, registryv1.RetireeFlag_LIVING_ALONE) || o.Entitlement != wantEnt {
				t.Errorf("entry of retiree %d: %v", n, o)
			}
			if o.DueOn != "" && o.DaysOverdue != int32(daysBetween(day(t, o.DueOn), day(t, "2026-06-15"))) {
				t.Errorf("entry %v: days overdue", o)
			}
		}
		for i := 2; i < len(all); i++ {
			if all[i].DaysOverdue > all[i-1].DaysOverdue {
				t.Errorf("entry %d is %d days overdue after one %d days overdue", i, all[i].DaysOverdue, all[i-1].DaysOverdue)
			}
		}
	})
	t.Run("pages", func(t *testing.T) {
		for _, size := range []int32{1, 2, 7} {
			if diff := cmp.Diff(all, h.workList(t, bureauP, communityA, "", 0, size), protocmp.Transform()); diff != "" {
				t.Errorf("pages of %d (-one page +pages):\n%s", size, diff)
			}
		}
		// A page that ends with the list gives no token for an empty one.
		resp, err := h.client.ListOverdueCertifications(h.as(adminP), &pb.ListOverdueCertificationsRequest{CommunityId: communityA, PageSize: int32(len(all))})
		if err != nil || len(resp.Overdue) != len(all) || resp.NextPageToken != "" {
			t.Errorf("a page of exactly the list: %d entries, token %q, %v", len(resp.GetOverdue()), resp.GetNextPageToken(), err)
		}
	})
	t.Run("a page examines a bounded number of keys", func(t *testing.T) {
		h.store.maxExamined = 3
		defer func() { h.store.maxExamined = 0 }()
		resp, err := h.client.ListOverdueCertifications(h.as(adminP), &pb.ListOverdueCertificationsRequest{CommunityId: communityA, PageSize: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Overdue) > 3 || resp.NextPageToken == "" {
			t.Errorf("a page under a bound of 3 keys: %d entries, token %q", len(resp.Overdue), resp.NextPageToken)
		}
		if diff := cmp.Diff(all, h.workList(t, bureauP, communityA, "", 0, 50), protocmp.Transform()); diff != "" {
			t.Errorf("pages under the bound (-one page +pages):\n%s", diff)
		}
	})
	t.Run("the read is audited", func(t *testing.T) {
		before := auditCount(t, h, 39)
		h.workList(t, clerkP, communityA, "", 0, 50)
		if after := auditCount(t, h, 39); after != before+1 {
			t.Errorf("audit entries of a listed retiree: %d, then %d", before, after)
		}
	})
	t.Run("scope and arguments", func(t *testing.T) {
		_, err := h.client.ListDueSoonCertifications(h.as(clerkP), &pb.ListDueSoonCertificationsRequest{CommunityId: communityB})
		wantStatus(t, err, codes.PermissionDenied)
		for _, tc := range []struct {
			req    *pb.ListDueSoonCertificationsRequest
			fields []string
		}{
			{&pb.ListDueSoonCertificationsRequest{}, []string{"communityId"}},
			{&pb.ListDueSoonCertificationsRequest{CommunityId: communityA, WithinDays: 367}, []string{"withinDays"}},
			{&pb.ListDueSoonCertificationsRequest{CommunityId: communityA, WithinDays: -1}, []string{"withinDays"}},
			{&pb.ListDueSoonCertificationsRequest{CommunityId: communityA, AsOf: "2026-13-01"}, []string{"asOf"}},
			{&pb.ListDueSoonCertificationsRequest{CommunityId: communityA, PageToken: "x"}, []string{"pageToken"}},
		} {
			_, err := h.client.ListDueSoonCertifications(h.as(adminP), tc.req)
			wantFields(t, err, tc.fields...)
		}
		_, err = h.client.ListOverdueCertifications(h.as(adminP), &pb.ListOverdueCertificationsRequest{})
		wantFields(t, err, "communityId")
	})
}

// TestWorkListFollowsChanges: a certification, a transfer, a death and a
// new retirement date move retirees on and off the lists.
func TestWorkListFollowsChanges(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.certify(t, 0, "2024-02-01", "2025-05-01") // due 2026-05-01: 45 days overdue
	h.certify(t, 1, "2025-07-10")               // due 2026-07-10: within 30 days
	h.certify(t, 2, "2025-09-01")               // due later
	// 3 and 4 started their pension in February 2010; 5 died; 6 lives in
	// communityB.
	entries := func(list []*pb.OverdueCertification) []string {
		var out []string
		for _, o := range list {
			out = append(out, fmt.Sprintf("%s %s %s %d", o.RetireeId, o.LastCertifiedOn, o.DueOn, o.DaysOverdue))
		}
		return out
	}
	since2010 := []string{retireeID(3) + " 2010-02-01 2011-02-01 5613", retireeID(4) + " 2010-02-01 2011-02-01 5613"}
	slices.Sort(since2010)
	want := append(since2010, retireeID(0)+" 2025-05-01 2026-05-01 45")
	if diff := cmp.Diff(want, entries(h.workList(t, adminP, communityA, "", 0, 1))); diff != "" {
		t.Errorf("overdue in A (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{retireeID(1) + " 2025-07-10 2026-07-10 -25"}, entries(h.workList(t, adminP, communityA, "", 30, 1))); diff != "" {
		t.Errorf("due soon in A (-want +got):\n%s", diff)
	}

	h.certify(t, 0, "2026-06-01")
	st := h.registry.State(retireeID(3))
	st.CommunityId = communityB
	h.change(st, registryv1.ChangeKind_TRANSFERRED)
	st = h.registry.State(retireeID(4))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-06-01"
	h.change(st, registryv1.ChangeKind_DIED)
	st = h.registry.State(retireeID(2))
	st.RetirementDate = "2025-09-20" // pension from October 2025, after the certification
	h.change(st, registryv1.ChangeKind_UPDATED)
	if got := entries(h.workList(t, adminP, communityA, "", 0, 50)); len(got) != 0 {
		t.Errorf("overdue in A after the changes: %v", got)
	}
	if diff := cmp.Diff([]string{retireeID(1) + " 2025-07-10 2026-07-10 -25"}, entries(h.workList(t, adminP, communityA, "", 30, 50))); diff != "" {
		t.Errorf("due soon in A after the changes (-want +got):\n%s", diff)
	}
	want = []string{retireeID(1) + " 2025-07-10 2026-07-10 -25", retireeID(2) + " 2025-10-01 2026-10-01 -108"}
	if diff := cmp.Diff(want, entries(h.workList(t, adminP, communityA, "", 120, 50))); diff != "" {
		t.Errorf("due in 120 days in A after the changes (-want +got):\n%s", diff)
	}
	if got := h.workList(t, adminP, communityB, "", 0, 50); len(got) != 2 {
		t.Errorf("overdue in B = %v, want the transferred retiree and 6", entries(got))
	}
}

// TestMovedOutOfTheCity: a retiree whom a transfer out of the city made
// MOVED_OUT is no longer managed here: off the certification work lists,
// and nobody's to certify.
func TestMovedOutOfTheCity(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.certify(t, 0, "2024-02-01", "2025-05-01") // due 2026-05-01: overdue
	onList := func() bool {
		for _, o := range h.workList(t, adminP, communityA, "", 0, 50) {
			if o.RetireeId == retireeID(0) {
				return true
			}
		}
		return false
	}
	if !onList() {
		t.Fatal("the overdue retiree is not on the list")
	}
	st := h.registry.State(retireeID(0))
	st.Status = registryv1.RetireeStatus_MOVED_OUT
	h.change(st, registryv1.ChangeKind_MOVED_OUT_OF_CITY)
	if onList() {
		t.Error("the retiree moved out of the city is still on the overdue list")
	}
	if ent := h.entitlement(t, 0, ""); ent.Certification.GetStatus() != pb.CertificationStatus_CERTIFICATION_STATUS_UNSPECIFIED {
		t.Errorf("certification of the retiree moved out = %v, want none", ent.Certification)
	}
}

// TestWorkListKeepsAbsentRetirees: a retiree lost contact with, in prison
// or abroad still has to certify and stays on the overdue list; one who
// moved out of the city leaves it, as one who died does.
func TestWorkListKeepsAbsentRetirees(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	overdue := func() []string {
		var out []string
		for _, o := range h.workList(t, adminP, communityA, "", 0, 50) {
			out = append(out, o.RetireeId)
		}
		slices.Sort(out)
		return out
	}
	// 3 and 4 started their pension in February 2010 and never certified.
	before := overdue()
	if !slices.Contains(before, retireeID(3)) || !slices.Contains(before, retireeID(4)) {
		t.Fatalf("overdue %v, want 3 and 4 among them", before)
	}
	for _, status := range []registryv1.RetireeStatus{registryv1.RetireeStatus_LOST_CONTACT, registryv1.RetireeStatus_IMPRISONED, registryv1.RetireeStatus_ABROAD} {
		st := h.registry.State(retireeID(3))
		st.Status, st.StatusEffectiveOn = status, "2026-01-01"
		h.change(st, registryv1.ChangeKind_STATUS_CHANGED)
		if diff := cmp.Diff(before, overdue()); diff != "" {
			t.Errorf("overdue with 3 %s (-before +now):\n%s", status, diff)
		}
	}
	st := h.registry.State(retireeID(4))
	st.Status = registryv1.RetireeStatus_MOVED_OUT
	h.change(st, registryv1.ChangeKind_TRANSFERRED)
	want := slices.DeleteFunc(slices.Clone(before), func(id string) bool { return id == retireeID(4) })
	if diff := cmp.Diff(want, overdue()); diff != "" {
		t.Errorf("overdue with 4 moved out (-want +got):\n%s", diff)
	}
}
