package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/importstream"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// rosterResult is what one ImportRetirees stream answered.
type rosterResult struct {
	acks    []*pb.RetireeImportAck
	summary *pb.RetireeImportSummary
	err     error
}

// rejections returns the stream's rejections by index.
func (r rosterResult) rejections() map[int64]*pb.RetireeRecordRejection {
	out := map[int64]*pb.RetireeRecordRejection{}
	for _, a := range r.acks {
		for _, rj := range a.Rejections {
			out[rj.Index] = rj
		}
	}
	return out
}

// lastDurable is the highest index acknowledged.
func (r rosterResult) lastDurable() int64 {
	var last int64
	for _, a := range r.acks {
		last = max(last, a.DurableThroughIndex)
	}
	return last
}

// importRoster sends a header for batch and the records on one stream,
// closes it and collects the answers.
func importRoster(ctx context.Context, c pb.RegistryServiceClient, batch string, records []*pb.RetireeRecord) rosterResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.ImportRetirees(ctx)
	if err != nil {
		return rosterResult{err: err}
	}
	go func() {
		msgs := []*pb.ImportRetireesRequest{{Message: &pb.ImportRetireesRequest_Header{
			Header: &pb.RetireeImportHeader{BatchId: batch, FormatVersion: 1, ExpectedRecords: int64(len(records))},
		}}}
		for _, r := range records {
			msgs = append(msgs, &pb.ImportRetireesRequest{Message: &pb.ImportRetireesRequest_Record{Record: r}})
		}
		for _, m := range msgs {
			if stream.Send(m) != nil {
				return
			}
		}
		_ = stream.CloseSend()
	}()
	var res rosterResult
	for {
		resp, err := stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			if res.summary == nil {
				res.err = errors.New("the stream ended without a summary")
			}
			return res
		case err != nil:
			res.err = err
			return res
		}
		if a := resp.GetAck(); a != nil {
			res.acks = append(res.acks, a)
		}
		if s := resp.GetSummary(); s != nil {
			res.summary = s
		}
	}
}

// rosterRecords returns records indexed from first of the fixture
// retirees n in [from, to).
func rosterRecords(t testing.TB, first int64, from, to int, community string, mode pb.ManagementMode) []*pb.RetireeRecord {
	t.Helper()
	var out []*pb.RetireeRecord
	for i, r := range retirees(t, from, to, community, mode) {
		out = append(out, &pb.RetireeRecord{Index: first + int64(i), Retiree: r})
	}
	return out
}

func wantRosterSummary(t *testing.T, got, want *pb.RetireeImportSummary) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

// TestImportRetireesCreatesUpdatesAndDuplicates imports a roster, sends
// it again, then sends it with one retiree changed: new retirees are
// created with a CREATED history entry, an identical record changes
// nothing, a changed one is an UPDATED entry naming the batch, and every
// change is in the change log the other services follow.
func TestImportRetireesCreatesUpdatesAndDuplicates(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	ctx := h.as(bureauP)
	records := rosterRecords(t, 1, 0, 5, communityA, pb.ManagementMode_COMMUNITY)

	res := importRoster(ctx, h.client, "roster-1", records)
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantRosterSummary(t, res.summary, &pb.RetireeImportSummary{BatchId: "roster-1", Received: 5, Accepted: 5, LastIndex: 5})
	if res.lastDurable() != 5 {
		t.Errorf("durable through %d, want 5", res.lastDurable())
	}
	head, _, _ := s.Head()

	again := importRoster(ctx, h.client, "roster-1", records)
	if again.err != nil {
		t.Fatal(again.err)
	}
	wantRosterSummary(t, again.summary, &pb.RetireeImportSummary{BatchId: "roster-1", Received: 5, Duplicates: 5, LastIndex: 5})
	if after, _, _ := s.Head(); after != head {
		t.Errorf("a re-sent roster moved the head from %d to %d", head, after)
	}

	records[2].Retiree.Name = "改名后"
	records[2].Retiree.Flags = []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}
	// A record without the phone number or the address keeps those on
	// file: it changes nothing.
	records[3].Retiree.Phone, records[3].Retiree.ResidenceAddress = "", ""
	changed := importRoster(ctx, h.client, "roster-2", records)
	if changed.err != nil {
		t.Fatal(changed.err)
	}
	wantRosterSummary(t, changed.summary, &pb.RetireeImportSummary{BatchId: "roster-2", Received: 5, Duplicates: 4, Corrections: 1, LastIndex: 5})

	kept, err := s.LookupRetiree(idNumber(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	if kept.Phone != "13812345678" || kept.ResidenceAddress == "" {
		t.Errorf("a record without phone and address cleared them: %q, %q", kept.Phone, kept.ResidenceAddress)
	}
	r, err := s.LookupRetiree(idNumber(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "改名后" || len(r.Flags) != 1 || r.Status != pb.RetireeStatus_LIVING || r.CommunityId != communityA {
		t.Errorf("updated retiree: %v", r)
	}
	hist, err := h.client.ListRetireeHistory(ctx, &pb.ListRetireeHistoryRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []pb.ChangeKind
	for _, e := range hist.Entries {
		kinds = append(kinds, e.Kind)
	}
	if diff := cmp.Diff([]pb.ChangeKind{pb.ChangeKind_CREATED, pb.ChangeKind_UPDATED}, kinds); diff != "" {
		t.Errorf("history kinds (-want +got):\n%s", diff)
	}
	if last := hist.Entries[len(hist.Entries)-1]; last.Reason != "imported in batch roster-2" || last.ActorRole != "bureau" {
		t.Errorf("update entry: %v", last)
	}

	changes, _, _, err := s.ReadChanges(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 6 {
		t.Errorf("change log holds %d entries, want 5 creates and 1 update", len(changes))
	}
	progress, err := s.BatchProgress("roster-1")
	if err != nil {
		t.Fatal(err)
	}
	wantRosterSummary(t, progress, &pb.RetireeImportSummary{BatchId: "roster-1", Received: 10, Accepted: 5, Duplicates: 5, LastIndex: 5})
}

// TestImportRetireesRejections checks the reason each bad record gets,
// that the records around it are still imported, and that no rejection
// repeats an ID or phone number.
func TestImportRetireesRejections(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	ctx := h.as(bureauP)
	dead := mustCreate(t, s, newRetiree(t, 50, communityA, pb.ManagementMode_COMMUNITY))
	if _, err := h.client.RecordDeath(ctx, &pb.RecordDeathRequest{Id: dead.Id, DateOfDeath: "2026-01-02"}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, newRetiree(t, 51, communityA, pb.ManagementMode_COMMUNITY))

	mod := func(n int, f func(r *pb.Retiree)) *pb.Retiree {
		r := newRetiree(t, n, communityA, pb.ManagementMode_COMMUNITY)
		f(r)
		return r
	}
	cases := []struct {
		r      *pb.Retiree
		reason string
	}{
		{mod(1, func(r *pb.Retiree) { r.IdNumber = "110105194912310021" }), ReasonIDNumberInvalid},
		{mod(2, func(r *pb.Retiree) { r.Name = "" }), ReasonNameInvalid},
		{mod(3, func(r *pb.Retiree) { r.CommunityId = "21010200100" }), ReasonCommunityInvalid},
		{mod(4, func(r *pb.Retiree) { r.CommunityId = unknownCommunity }), ReasonCommunityUnknown},
		{mod(5, func(r *pb.Retiree) { r.EnterpriseCreditCode = "91210102MA0XXXXXX1" }), ReasonEnterpriseInvalid},
		{mod(6, func(r *pb.Retiree) { r.ManagementMode = pb.ManagementMode_MANAGEMENT_MODE_UNSPECIFIED }), ReasonManagementModeInvalid},
		{mod(7, func(r *pb.Retiree) { r.RetirementDate = "2010-13-01" }), ReasonRetirementDateInvalid},
		{mod(8, func(r *pb.Retiree) { r.Phone = "call me" }), ReasonPhoneInvalid},
		{mod(9, func(r *pb.Retiree) { r.Flags = []pb.RetireeFlag{99} }), ReasonFlagsInvalid},
		{mod(10, func(r *pb.Retiree) { r.Sex = otherSex(idNumber(t, 10).Sex()) }), ReasonSexInvalid},
		{nil, ReasonRetireeMissing},
		{mod(50, func(r *pb.Retiree) { r.Name = "复活" }), ReasonRetireeNotLiving},
		{mod(51, func(r *pb.Retiree) { r.CommunityId = communityB }), ReasonCommunityChanged},
	}
	var records []*pb.RetireeRecord
	var want []string
	for i, tc := range cases {
		index := int64(2*i + 1)
		records = append(records, &pb.RetireeRecord{Index: index, Retiree: tc.r})
		want = append(want, fmt.Sprint(index, " ", tc.reason))
		// A good record after each bad one.
		records = append(records, rosterRecords(t, index+1, 100+i, 101+i, communityA, pb.ManagementMode_COMMUNITY)...)
	}
	// An index that does not follow the one before.
	records = append(records, rosterRecords(t, 3, 200, 201, communityA, pb.ManagementMode_COMMUNITY)...)
	want = append(want, "3 "+ReasonIndexOutOfOrder)

	res := importRoster(ctx, h.client, "bad-rows", records)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var got []string
	for _, a := range res.acks {
		for _, rj := range a.Rejections {
			got = append(got, fmt.Sprint(rj.Index, " ", rj.Reason))
			checkRejection(t, rj)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	n := int64(len(cases))
	wantRosterSummary(t, res.summary, &pb.RetireeImportSummary{
		BatchId: "bad-rows", Received: 2*n + 1, Accepted: n, Rejected: n + 1, LastIndex: 2 * n,
	})
}

// checkRejection checks that a rejection says why, without personal data.
func checkRejection(t *testing.T, rj *pb.RetireeRecordRejection) {
	t.Helper()
	for _, secret := range personalData {
		if strings.Contains(rj.Message, secret) {
			t.Errorf("rejection %d carries personal data: %q", rj.Index, rj.Message)
		}
	}
	if rj.Message == "" {
		t.Errorf("rejection %d has no message", rj.Index)
	}
}

// otherSex is the sex that s is not.
func otherSex(s idnumber.Sex) pb.Sex {
	if s == idnumber.SexMale {
		return pb.Sex_FEMALE
	}
	return pb.Sex_MALE
}

// TestImportRetireesEnterpriseScope: an enterprise imports the retirees
// it manages itself; a record naming another enterprise, another mode,
// or a retiree on file under another enterprise is rejected on its own.
func TestImportRetireesEnterpriseScope(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	other := newRetiree(t, 60, communityB, pb.ManagementMode_ENTERPRISE)
	other.EnterpriseCreditCode = enterpriseY
	mustCreate(t, s, other)

	own := newRetiree(t, 1, communityA, pb.ManagementMode_ENTERPRISE)
	otherEnterprise := newRetiree(t, 2, communityA, pb.ManagementMode_ENTERPRISE)
	otherEnterprise.EnterpriseCreditCode = enterpriseY
	communityManaged := newRetiree(t, 3, communityA, pb.ManagementMode_COMMUNITY)
	onFileElsewhere := newRetiree(t, 60, communityB, pb.ManagementMode_ENTERPRISE)
	records := []*pb.RetireeRecord{{Index: 1, Retiree: own}, {Index: 2, Retiree: otherEnterprise}, {Index: 3, Retiree: communityManaged}, {Index: 4, Retiree: onFileElsewhere}}

	res := importRoster(h.as(enterpriseP), h.client, "ent-1", records)
	if res.err != nil {
		t.Fatal(res.err)
	}
	got := map[int64]string{}
	for i, rj := range res.rejections() {
		got[i] = rj.Reason
	}
	want := map[int64]string{2: ReasonNotPermitted, 3: ReasonNotPermitted, 4: ReasonNotPermitted}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	if res.summary.GetAccepted() != 1 {
		t.Errorf("accepted %d, want 1", res.summary.GetAccepted())
	}
	kept, err := s.LookupRetiree(idNumber(t, 60))
	if err != nil {
		t.Fatal(err)
	}
	if kept.EnterpriseCreditCode != enterpriseY || kept.CommunityId != communityB {
		t.Errorf("the other enterprise's retiree changed: %v", kept)
	}
}

// TestImportRetireesStreamErrors: a stream must open with a valid header,
// carry only records after it, and stay within its bound; a refusal
// changes nothing.
func TestImportRetireesStreamErrors(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	ctx := h.as(bureauP)

	if res := importRoster(ctx, h.client, "bad batch id", nil); res.err != nil {
		wantFields(t, res.err, "header.batchId")
	} else {
		t.Error("a bad batch id was accepted")
	}

	stream, err := h.client.ImportRetirees(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.ImportRetireesRequest{Message: &pb.ImportRetireesRequest_Record{Record: rosterRecords(t, 1, 0, 1, communityA, pb.ManagementMode_COMMUNITY)[0]}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantFields(t, err, "header")

	stream, err = h.client.ImportRetirees(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&pb.ImportRetireesRequest{Message: &pb.ImportRetireesRequest_Header{Header: &pb.RetireeImportHeader{BatchId: "big", ExpectedRecords: DefaultMaxStreamRecords + 1}}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantReason(t, err, codes.ResourceExhausted, importstream.ReasonTooManyRecords)

	if head, _, _ := s.Head(); head != 0 {
		t.Errorf("refused streams moved the head to %d", head)
	}
	if _, err := s.BatchProgress("big"); !isNotFound(err) {
		t.Errorf("progress of a refused batch: %v", err)
	}
}

// TestImportRetireesAuditsEachGroup: an import leaves one change-audit
// entry per committed group that stored anything, naming the batch and
// the records, and none per retiree.
func TestImportRetireesAuditsEachGroup(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	checker := &rowChecker{keyer: s.keyer, now: func() time.Time { return testNow }}
	im := newRosterImporter(s, "b-1", Actor{Subject: "bureau-1", Role: "bureau", RequestID: "req-1"}, "")
	records := rosterRecords(t, 1, 0, 10, communityA, pb.ManagementMode_COMMUNITY)
	for _, part := range [][]*pb.RetireeRecord{records[:4], records[4:], records[:4]} {
		var group []rosterRow
		for _, in := range part {
			group = append(group, checker.check(in))
		}
		if _, err := im.commit(group); err != nil {
			t.Fatal(err)
		}
	}
	var groups []*pb.AuditedImportGroup
	perRetiree := 0
	err := s.DB().View(func(tx *bolt.Tx) error {
		return audit.ForEach(tx, func(e *pb.AuditEntry) error {
			if e.ImportGroup != nil {
				if e.Action != rpcImportRetirees || e.Subject != "bureau-1" || e.RequestId != "req-1" {
					t.Errorf("group entry %v", e)
				}
				groups = append(groups, e.ImportGroup)
			} else if e.RetireeId != "" {
				perRetiree++
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []*pb.AuditedImportGroup{
		{BatchId: "b-1", FirstIndex: 1, LastIndex: 4, Records: 4},
		{BatchId: "b-1", FirstIndex: 5, LastIndex: 10, Records: 6},
	}
	if diff := cmp.Diff(want, groups, protocmp.Transform()); diff != "" {
		t.Errorf("group entries (-want +got):\n%s", diff)
	}
	if perRetiree != 0 {
		t.Errorf("%d entries name a retiree, want none", perRetiree)
	}
	// The third group re-sent records 1-4 out of order: rejected, stored
	// nothing, audited nothing.
	if im.sum.Rejected != 4 {
		t.Errorf("rejected %d, want 4", im.sum.Rejected)
	}
}

// FuzzRowCheck feeds the record checker arbitrary retirees: it never
// panics, and a record it passes has a key and a valid retiree.
func FuzzRowCheck(f *testing.F) {
	f.Add(int64(1), "11010519491231002X", "张三", "210102001001", "", int32(2), "13812345678", "2010-01-01")
	f.Add(int64(0), "", "", "", "91210102MA0XXXXXX1", int32(1), "+86 138", "2010-13-01")
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, index int64, idNumber, name, community, credit string, mode int32, phone, retired string) {
		c := &rowChecker{keyer: keyer, now: func() time.Time { return testNow }}
		r := &pb.Retiree{IdNumber: idNumber, Name: name, CommunityId: community, EnterpriseCreditCode: credit,
			ManagementMode: pb.ManagementMode(mode), Phone: phone, RetirementDate: retired}
		w := c.check(&pb.RetireeRecord{Index: index, Retiree: r})
		if w.reason == "" && (w.r == nil || len(w.idKey) == 0) {
			t.Fatalf("passed without a retiree or key: %+v", w)
		}
		if w.reason != "" && w.message == "" {
			t.Fatalf("rejected %s without a message", w.reason)
		}
		if len(idNumber) >= 6 && strings.Contains(w.message, idNumber) {
			t.Fatalf("message repeats the ID number: %q", w.message)
		}
	})
}
