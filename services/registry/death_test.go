package registry

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// familyReport is a report by the retiree's daughter, with a death
// certificate.
func familyReport(id string) *pb.CreateDeathReportRequest {
	return &pb.CreateDeathReportRequest{
		Id: id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_FAMILY,
		Reporter:  &pb.DeathReporter{Name: "王小红", Relation: pb.Carer_CHILD, Phone: "13812345678"},
		Documents: []*pb.DeathDocument{{Kind: pb.DeathDocument_DEATH_CERTIFICATE, Reference: "医证2026-0601"}},
	}
}

// TestReportingDuty counts the 20 working days across the 2026 Mid-Autumn
// and National Day holidays: a death on Friday 25 September (a holiday)
// has Monday 28 to Wednesday 30 September, Thursday 8 and Friday 9
// October, the make-up Saturday 10 October, and then weekdays to Thursday
// 29 October.
func TestReportingDuty(t *testing.T) {
	t.Parallel()
	cal := workdays.Default()
	china := func(day string) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, day, workdays.ChinaTime)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(10 * time.Hour)
	}
	tests := []struct {
		died, filed, deadline string
		days                  int32
		late, provisional     bool
	}{
		{"2026-09-25", "2026-09-25", "2026-10-29", 0, false, false},
		{"2026-09-25", "2026-10-10", "2026-10-29", 6, false, false},
		{"2026-09-25", "2026-10-29", "2026-10-29", 20, false, false},
		{"2026-09-25", "2026-10-30", "2026-10-29", 21, true, false},
		// A deadline in a year the calendar does not know counts weekends
		// only, and says so.
		{"2027-12-20", "2027-12-20", "2028-01-17", 0, false, true},
	}
	for _, tc := range tests {
		got := reportingDuty(cal, tc.died, china(tc.filed))
		want := duty{deadline: tc.deadline, provisional: tc.provisional, daysTaken: tc.days, late: tc.late}
		if got != want {
			t.Errorf("death %s reported %s: %+v, want %+v", tc.died, tc.filed, got, want)
		}
	}
}

// TestDeathReportStates walks the state machine through the store: only
// a REPORTED report is verified or rejected, only a VERIFIED one
// reversed, and one retiree has one open report at a time.
func TestDeathReportStates(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	actor := Actor{Subject: "clerk-1", Role: "clerk"}
	file := func(id string) (*pb.DeathReport, error) {
		return s.CreateDeathReport(DeathReportInput{RetireeID: id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_HOSPITAL, Reporter: &pb.DeathReporter{}}, actor, allow)
	}
	decide := func(d *pb.DeathReport, dec DeathDecision) error {
		_, _, err := s.DecideDeathReport(d.Id, dec, "理由", actor, func(*pb.DeathReport) error { return nil })
		return err
	}
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	first, err := file(r.Id)
	if err != nil || first.State != pb.DeathReportState_REPORTED {
		t.Fatalf("file = %v, %v", first, err)
	}
	if _, err := file(r.Id); !isRule(err, reasonDeathReportOpen) {
		t.Errorf("second open report: %v", err)
	}
	if _, _, err := s.RecordDeath(r.Id, "2026-06-01", "", pb.DeathReportSource_BUREAU_MATCH, actor, allow); !isRule(err, reasonDeathReportOpen) {
		t.Errorf("recordDeath with a report open: %v", err)
	}
	if err := decide(first, ReverseDeath); !isRule(err, reasonDeathReportNotVerified) {
		t.Errorf("reverse a REPORTED report: %v", err)
	}
	if err := decide(first, RejectDeath); err != nil {
		t.Fatal(err)
	}
	for _, dec := range []DeathDecision{VerifyDeath, RejectDeath} {
		if err := decide(first, dec); !isRule(err, reasonDeathReportNotReported) {
			t.Errorf("decision %d on a REJECTED report: %v", dec, err)
		}
	}
	second, err := file(r.Id)
	if err != nil {
		t.Fatalf("a report after a rejection: %v", err)
	}
	if err := decide(second, VerifyDeath); err != nil {
		t.Fatal(err)
	}
	if _, err := file(r.Id); !isRule(err, reasonNotLiving) {
		t.Errorf("a report of a deceased retiree: %v", err)
	}
	if err := decide(second, VerifyDeath); !isRule(err, reasonDeathReportNotReported) {
		t.Errorf("verify twice: %v", err)
	}
	if err := decide(second, ReverseDeath); err != nil {
		t.Fatal(err)
	}
	if err := decide(second, ReverseDeath); !isRule(err, reasonDeathReportNotVerified) {
		t.Errorf("reverse twice: %v", err)
	}
	states := map[pb.DeathReportState]int{}
	list, _, err := s.ListDeathReports(DeathReportFilter{RetireeID: r.Id}, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		states[d.State]++
	}
	if states[pb.DeathReportState_REJECTED] != 1 || states[pb.DeathReportState_REVERSED] != 1 || len(list) != 2 {
		t.Errorf("the retiree's reports: %v", states)
	}
	for _, f := range []DeathReportFilter{{State: pb.DeathReportState_REVERSED}, {CommunityID: communityA, State: pb.DeathReportState_REVERSED}} {
		got, _, err := s.ListDeathReports(f, 100, nil)
		if err != nil || len(got) != 1 || got[0].Id != second.Id {
			t.Errorf("list %+v = %v, %v", f, got, err)
		}
	}
	if got, _, err := s.ListDeathReports(DeathReportFilter{CommunityID: communityA, State: pb.DeathReportState_REPORTED}, 100, nil); err != nil || len(got) != 0 {
		t.Errorf("REPORTED after the decisions = %v, %v", got, err)
	}
}

// TestServerDeathReportFlow files a report as the community's clerk,
// verifies it (DECEASED, change DIED), reverses it as bureau (LIVING,
// change DEATH_REVERSED), and reads the history, which shows every step.
func TestServerDeathReportFlow(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	head, _, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}
	clerk := h.as(clerkP)
	created, err := c.CreateDeathReport(clerk, familyReport(r.Id))
	if err != nil {
		t.Fatal(err)
	}
	d := created.DeathReport
	if d.State != pb.DeathReportState_REPORTED || d.Reporter.Phone != "" || d.Reporter.PhoneMasked != "138****5678" ||
		d.RetireeName != r.Name || d.ReportingDeadline != "2026-06-30" || d.WorkingDaysToReport != 10 || d.ReportedLate {
		t.Errorf("created %v", d)
	}
	got, err := c.GetDeathReport(clerk, &pb.GetDeathReportRequest{Id: d.Id})
	if err != nil || got.DeathReport.Reporter.Phone != "13812345678" {
		t.Errorf("the clerk's read = %v, %v", got, err)
	}
	if after, _, _ := s.Head(); after != head {
		t.Errorf("filing a report moved the head from %d to %d", head, after)
	}
	_, err = c.VerifyDeathReport(h.as(clerkP), &pb.VerifyDeathReportRequest{Id: "bbbbbbbbbbbbbbbb"})
	wantStatus(t, err, codes.PermissionDenied)
	verified, err := c.VerifyDeathReport(clerk, &pb.VerifyDeathReportRequest{Id: d.Id})
	if err != nil {
		t.Fatal(err)
	}
	if verified.Retiree.Status != pb.RetireeStatus_DECEASED || verified.Retiree.DateOfDeath != "2026-06-01" || verified.DeathReport.State != pb.DeathReportState_VERIFIED {
		t.Errorf("verified: %v", verified)
	}
	_, err = c.ReverseDeathReport(clerk, &pb.ReverseDeathReportRequest{Id: d.Id, Reason: "误报"})
	wantStatus(t, err, codes.PermissionDenied)
	_, err = c.ReverseDeathReport(h.as(bureauP), &pb.ReverseDeathReportRequest{Id: d.Id})
	wantFields(t, err, "reason")
	reversed, err := c.ReverseDeathReport(h.as(bureauP), &pb.ReverseDeathReportRequest{Id: d.Id, Reason: "同名误报"})
	if err != nil {
		t.Fatal(err)
	}
	lr := reversed.Retiree
	if lr.Status != pb.RetireeStatus_LIVING || lr.DateOfDeath != "" || lr.StatusEffectiveOn != dayOf(testNow) {
		t.Errorf("reversed: %v", lr)
	}
	_, err = c.VerifyDeathReport(clerk, &pb.VerifyDeathReportRequest{Id: d.Id})
	wantReason(t, err, codes.FailedPrecondition, reasonDeathReportNotReported)

	ctx, cancel := context.WithCancel(h.as(serviceP))
	defer cancel()
	stream, err := c.WatchRetirees(ctx, &pb.WatchRetireesRequest{SinceRevision: apiRevision(head)})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []pb.ChangeKind
	for _, ch := range recvN(t, stream, 2) {
		kinds = append(kinds, ch.Kind)
		if ch.Kind == pb.ChangeKind_DEATH_REVERSED && (ch.Retiree.Status != pb.RetireeStatus_LIVING || ch.Retiree.DateOfDeath != "") {
			t.Errorf("the feed's reversal: %v", ch.Retiree)
		}
	}
	if want := []pb.ChangeKind{pb.ChangeKind_DIED, pb.ChangeKind_DEATH_REVERSED}; !slices.Equal(kinds, want) {
		t.Errorf("feed kinds %v, want %v", kinds, want)
	}
	hist, err := c.ListRetireeHistory(clerk, &pb.ListRetireeHistoryRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	kinds = nil
	for _, e := range hist.Entries {
		kinds = append(kinds, e.Kind)
		if e.Kind != pb.ChangeKind_CREATED && (e.DeathReport.GetId() != d.Id || e.DeathReport.Reporter.GetPhone() != "") {
			t.Errorf("history entry %v carries report %v", e.Kind, e.DeathReport)
		}
	}
	if want := []pb.ChangeKind{pb.ChangeKind_CREATED, pb.ChangeKind_DEATH_REPORTED, pb.ChangeKind_DIED, pb.ChangeKind_DEATH_REVERSED}; !slices.Equal(kinds, want) {
		t.Errorf("history kinds %v, want %v", kinds, want)
	}
}

// TestServerDeathReportValidation refuses bad reports with the fields
// at fault, changing nothing.
func TestServerDeathReportValidation(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	edit := func(f func(*pb.CreateDeathReportRequest)) *pb.CreateDeathReportRequest {
		req := familyReport(r.Id)
		f(req)
		return req
	}
	tests := []struct {
		name   string
		req    *pb.CreateDeathReportRequest
		fields []string
	}{
		{"no date", edit(func(q *pb.CreateDeathReportRequest) { q.DateOfDeath = "" }), []string{"dateOfDeath"}},
		{"future", edit(func(q *pb.CreateDeathReportRequest) { q.DateOfDeath = "2027-01-01" }), []string{"dateOfDeath"}},
		{"no source", edit(func(q *pb.CreateDeathReportRequest) { q.Source = 0 }), []string{"source"}},
		{"family unnamed", edit(func(q *pb.CreateDeathReportRequest) { q.Reporter.Name = "" }), []string{"reporter.name"}},
		{"family without relation", edit(func(q *pb.CreateDeathReportRequest) { q.Reporter.Relation = 0 }), []string{"reporter.relation"}},
		{"bad phone", edit(func(q *pb.CreateDeathReportRequest) { q.Reporter.Phone = "call me" }), []string{"reporter.phone"}},
		{"document without kind", edit(func(q *pb.CreateDeathReportRequest) { q.Documents[0].Kind = 0 }), []string{"documents.kind"}},
		{"document without reference", edit(func(q *pb.CreateDeathReportRequest) { q.Documents[0].Reference = "" }), []string{"documents.reference"}},
		{"too many documents", edit(func(q *pb.CreateDeathReportRequest) {
			q.Documents = slices.Repeat(q.Documents, maxDeathDocuments+1)
		}), []string{"documents"}},
	}
	for _, tc := range tests {
		_, err := h.client.CreateDeathReport(h.as(clerkP), tc.req)
		wantFields(t, err, tc.fields...)
	}
	if list, _, err := s.ListDeathReports(DeathReportFilter{}, 100, nil); err != nil || len(list) != 0 {
		t.Errorf("reports after the refusals: %v, %v", list, err)
	}
}

// TestServerRecordDeathFilesReport: RecordDeath leaves a VERIFIED report
// of source BUREAU_MATCH behind, which bureau can reverse.
func TestServerRecordDeathFilesReport(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	resp, err := h.client.RecordDeath(h.as(bureauP), &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-05-01"})
	if err != nil {
		t.Fatal(err)
	}
	d := resp.DeathReport
	if d.State != pb.DeathReportState_VERIFIED || d.Source != pb.DeathReportSource_BUREAU_MATCH || !d.ReportedLate {
		t.Errorf("report %v", d)
	}
	list, err := h.client.ListDeathReports(h.as(clerkP), &pb.ListDeathReportsRequest{State: pb.DeathReportState_VERIFIED})
	if err != nil || len(list.DeathReports) != 1 || list.DeathReports[0].Id != d.Id {
		t.Errorf("the clerk's verified reports: %v, %v", list, err)
	}
	if _, err := h.client.ReverseDeathReport(h.as(bureauP), &pb.ReverseDeathReportRequest{Id: d.Id, Reason: "数据比对错误"}); err != nil {
		t.Fatal(err)
	}
}

// TestDeathReportsSurviveReopen: the reports and their indexes are in the
// file.
func TestDeathReportsSurviveReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	s := openStoreAt(t, path, 0)
	seedRefs(t, s)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	d, err := s.CreateDeathReport(DeathReportInput{RetireeID: r.Id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_HOSPITAL, Reporter: &pb.DeathReporter{}}, Actor{Subject: "x", Role: "bureau"}, allow)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStoreAt(t, path, 0)
	t.Cleanup(func() { _ = s.Close() })
	got, _, err := s.ListDeathReports(DeathReportFilter{CommunityID: communityA, State: pb.DeathReportState_REPORTED}, 10, nil)
	if err != nil || len(got) != 1 || got[0].Id != d.Id {
		t.Errorf("after reopening: %v, %v", got, err)
	}
}

// TestVerifyAfterTransfer: a report filed before the retiree moved to
// another community is not verified by the old one's decision; it is
// rejected and reported again there.
func TestVerifyAfterTransfer(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	admin := Actor{Subject: "admin-1", Role: "admin"}
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	d, err := s.CreateDeathReport(DeathReportInput{RetireeID: r.Id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_HOSPITAL, Reporter: &pb.DeathReporter{}}, admin, allow)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityB, Reason: "搬家", Direct: true}, admin, allow); err != nil {
		t.Fatal(err)
	}
	anyone := func(*pb.DeathReport) error { return nil }
	if _, _, err := s.DecideDeathReport(d.Id, VerifyDeath, "", admin, anyone); !isRule(err, reasonRetireeMoved) {
		t.Errorf("verify after a transfer: %v", err)
	}
	if _, _, err := s.DecideDeathReport(d.Id, RejectDeath, "已迁往他社区", admin, anyone); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDeathReport(DeathReportInput{RetireeID: r.Id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_HOSPITAL, Reporter: &pb.DeathReporter{}}, admin, allow); err != nil {
		t.Errorf("report again in the new community: %v", err)
	}
}

// TestStatusLineOfReversal: the monthly registers list a reversed death
// as a change of status effective on the reversal's day, not on the
// cleared date of death.
func TestStatusLineOfReversal(t *testing.T) {
	t.Parallel()
	changes := []*pb.FieldChange{
		{Field: "status", OldValue: "DECEASED", NewValue: "LIVING"},
		{Field: "statusEffectiveOn", OldValue: "2026-06-01", NewValue: "2026-06-15"},
		{Field: "dateOfDeath", OldValue: "2026-06-01"},
	}
	got := statusLine(changes[0], changes)
	if got.category != categoryStatus || got.effective != "2026-06-15" || got.to != "LIVING" {
		t.Errorf("line %+v", got)
	}
}

// FuzzCheckDeathReport: whatever a client sends, the check answers
// without panicking, and what it accepts is a report the store can keep:
// a past date, a known source and document kinds, text within bounds.
func FuzzCheckDeathReport(f *testing.F) {
	f.Add("2026-06-01", int32(1), "王小红", int32(2), "13812345678", int32(1), "医证-1")
	f.Add("2026-02-30", int32(9), "", int32(-1), "call me", int32(0), "")
	f.Add("", int32(5), "\x00", int32(99), "+86 138-1234-5678", int32(4), "a\nb")
	s := &Server{now: func() time.Time { return testNow }}
	f.Fuzz(func(t *testing.T, date string, source int32, name string, relation int32, phone string, kind int32, ref string) {
		req := &pb.CreateDeathReportRequest{
			Id: "aaaaaaaaaaaaaaaa", DateOfDeath: date, Source: pb.DeathReportSource(source),
			Reporter:  &pb.DeathReporter{Name: name, Relation: pb.Carer_Relation(relation), Phone: phone},
			Documents: []*pb.DeathDocument{{Kind: pb.DeathDocument_Kind(kind), Reference: ref}},
		}
		if s.checkDeathReport(req) != nil {
			return
		}
		d, err := time.Parse(time.DateOnly, date)
		if err != nil || d.After(testNow) {
			t.Errorf("accepted date %q", date)
		}
		if _, ok := pb.DeathReportSource_name[source]; !ok || source == 0 {
			t.Errorf("accepted source %d", source)
		}
		if _, ok := pb.DeathDocument_Kind_name[kind]; !ok || kind == 0 || ref == "" {
			t.Errorf("accepted document %d %q", kind, ref)
		}
		if phone != "" && !inputcheck.IsPhone(phone) {
			t.Errorf("accepted phone %q", phone)
		}
	})
}
