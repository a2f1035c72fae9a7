package handover

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// custodyStart is the handover's clock at the start of the custody tests:
// late on 10 March 2026 in China, so that a UTC date would be a day
// behind.
var custodyStart = time.Date(2026, 3, 10, 23, 30, 0, 0, time.FixedZone("CST", 8*3600))

// fileOf returns the file of an answer, failing the test on an error.
func (w *world) fileOf(resp interface{ GetArchiveFile() *pb.ArchiveFile }, err error) *pb.ArchiveFile {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("%T: %v", resp, err)
	}
	return resp.GetArchiveFile()
}

// receivedFile is a new file in the custody of district AB's archivist:
// one retiree's dossier, received in a submitted package.
func (w *world) receivedFile() *pb.ArchiveFile {
	w.t.Helper()
	h := w.submitted(1)
	h = w.handover(w.client.ReceiveArchives(w.as(archivistAP), &pb.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds}))
	return w.fileOf(w.client.GetArchiveFile(w.as(archivistAP), &pb.GetArchiveFileRequest{Id: h.Dossiers[0].ArchiveFileId}))
}

// statistics reads district AB's statistics of this month as its
// supervisor.
func (w *world) statistics() *pb.GetArchiveStatisticsResponse {
	w.t.Helper()
	resp, err := w.client.GetArchiveStatistics(w.as(districtAP), &pb.GetArchiveStatisticsRequest{})
	if err != nil {
		w.t.Fatal(err)
	}
	return resp
}

// overdue lists district AB's overdue files' ids as its archivist.
func (w *world) overdue() []string {
	w.t.Helper()
	resp, err := w.client.ListArchiveFiles(w.as(archivistAP), &pb.ListArchiveFilesRequest{Overdue: true})
	if err != nil {
		w.t.Fatal(err)
	}
	var ids []string
	for _, f := range resp.ArchiveFiles {
		ids = append(ids, f.Id)
	}
	return ids
}

// TestCustodyLoans: a file is shelved, lent on a request that someone
// other than the requester approves, overdue after its due date (China
// time), and returned; a refused request leaves it on the shelf.
func TestCustodyLoans(t *testing.T) {
	t.Parallel()
	clock := testclock.New(custodyStart)
	w := newWorld(t, worldOptions{now: clock.Now})
	f := w.receivedFile()
	asA, asA2 := w.as(archivistAP), w.as(archivistA2P)

	f = w.fileOf(w.client.ShelveArchiveFile(asA, &pb.ShelveArchiveFileRequest{Id: f.Id, Etag: f.Etag, ShelfLocation: "二号库房 B柜 3层 12盒"}))
	if f.ShelfLocation != "二号库房 B柜 3层 12盒" || f.State != pb.ArchiveFile_IN_CUSTODY {
		t.Fatalf("shelved: %v", f)
	}
	loan := &pb.RequestArchiveLoanRequest{Id: f.Id, Kind: pb.ArchiveLoan_LOAN, Borrower: "区人社局 王科长", Purpose: "核对工龄", DueOn: "2026-03-20"}
	_, err := w.client.RequestArchiveLoan(asA, withDue(loan, "2026-04-10"))
	wantFields(t, err, "dueOn")
	_, err = w.client.RequestArchiveLoan(asA, withDue(loan, "2026-03-09"))
	wantFields(t, err, "dueOn")
	f = w.fileOf(w.client.RequestArchiveLoan(asA, loan))
	_, err = w.client.RequestArchiveLoan(asA2, loan)
	wantReason(t, err, codes.FailedPrecondition, ReasonLoanPending)
	_, err = w.client.DecideArchiveLoan(asA, &pb.DecideArchiveLoanRequest{Id: f.Id, Approved: true})
	wantReason(t, err, codes.FailedPrecondition, ReasonSelfApproval)
	f = w.fileOf(w.client.DecideArchiveLoan(asA2, &pb.DecideArchiveLoanRequest{Id: f.Id, Approved: true}))
	if f.State != pb.ArchiveFile_ON_LOAN || f.Loan.ApprovedBy != archivistA2P.Subject || f.Loan.RequestedBy != archivistAP.Subject {
		t.Fatalf("approved: %v", f)
	}
	if got := w.overdue(); len(got) != 0 {
		t.Errorf("overdue before the due date: %v", got)
	}
	// On the due date it is not overdue yet; the day after (in China,
	// still the 20th in UTC) it is.
	clock.Set(time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC))
	if got := w.overdue(); len(got) != 0 {
		t.Errorf("overdue on the due date: %v", got)
	}
	clock.Set(time.Date(2026, 3, 20, 16, 30, 0, 0, time.UTC))
	if got := w.overdue(); !cmp.Equal(got, []string{f.Id}) {
		t.Errorf("overdue the day after: %v", got)
	}
	st := w.statistics()
	if st.Received != 1 || st.Consulted != 1 || st.OnLoan != 1 || st.Overdue != 1 || st.SentOn != 0 {
		t.Errorf("statistics while overdue: %v", st)
	}
	_, err = w.client.ShelveArchiveFile(asA, &pb.ShelveArchiveFileRequest{Id: f.Id, Etag: "r1", ShelfLocation: "x"})
	wantCode(t, err, codes.Aborted)
	f = w.fileOf(w.client.ReturnArchiveFile(asA, &pb.ReturnArchiveFileRequest{Id: f.Id, Etag: f.Etag}))
	if f.State != pb.ArchiveFile_IN_CUSTODY || f.Loan != nil {
		t.Fatalf("returned: %v", f)
	}
	if got := w.overdue(); len(got) != 0 {
		t.Errorf("overdue after the return: %v", got)
	}
	_, err = w.client.ReturnArchiveFile(asA, &pb.ReturnArchiveFileRequest{Id: f.Id})
	wantReason(t, err, codes.FailedPrecondition, ReasonFileWrongState)

	f = refuseReading(t, w, f)
	wantCustody(t, w, f.Id, []string{
		"RECEIVED archivist-heping", "SHELVED archivist-heping", "LOAN_REQUESTED archivist-heping", "LOAN_APPROVED archivist-heping-2",
		"RETURNED archivist-heping", "LOAN_REQUESTED archivist-heping-2", "LOAN_REFUSED archivist-heping",
	})
}

// refuseReading asks for a reading of f as one archivist and has the
// other refuse it: a refusal needs its reason, and leaves the file where
// it was.
func refuseReading(t *testing.T, w *world, f *pb.ArchiveFile) *pb.ArchiveFile {
	t.Helper()
	asA, asA2 := w.as(archivistAP), w.as(archivistA2P)
	f = w.fileOf(w.client.RequestArchiveLoan(asA2, &pb.RequestArchiveLoanRequest{Id: f.Id, Kind: pb.ArchiveLoan_READING, Borrower: "社区 李书记", Purpose: "查阅履历", DueOn: "2026-03-21"}))
	_, err := w.client.DecideArchiveLoan(asA, &pb.DecideArchiveLoanRequest{Id: f.Id})
	wantFields(t, err, "note")
	f = w.fileOf(w.client.DecideArchiveLoan(asA, &pb.DecideArchiveLoanRequest{Id: f.Id, Note: "非本人授权，不予查阅"}))
	if f.State != pb.ArchiveFile_IN_CUSTODY || f.Loan != nil {
		t.Fatalf("refused: %v", f)
	}
	if st := w.statistics(); st.Consulted != 1 || st.OnLoan != 0 || st.Overdue != 0 {
		t.Errorf("statistics after the return and the refusal: %v", st)
	}
	return f
}

func withDue(r *pb.RequestArchiveLoanRequest, due string) *pb.RequestArchiveLoanRequest {
	c := proto.Clone(r).(*pb.RequestArchiveLoanRequest)
	c.DueOn = due
	return c
}

// wantCustody checks a file's custody record: each step's action and
// actor, in order.
func wantCustody(t *testing.T, w *world, id string, want []string) {
	t.Helper()
	resp, err := w.client.ListArchiveFileEvents(w.as(archivistAP), &pb.ListArchiveFileEventsRequest{Id: id, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range resp.Events {
		got = append(got, e.Action+" "+e.Actor)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("custody record (-want +got):\n%s", diff)
	}
}

// TestCustodySendOn: a file is sent on only once registry's transfer of
// the retiree out of the district has reached handover's projection, to
// the district the retiree lives in now.
func TestCustodySendOn(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{follow: true})
	f := w.receivedFile()
	w.waitProjected(f.RetireeId, servicetest.CommunityB)
	send := &pb.SendOnArchiveFileRequest{Id: f.Id, ToCustodian: "沈河区档案馆 接收人 赵"}
	_, err := w.client.SendOnArchiveFile(w.as(archivistAP), send)
	wantReason(t, err, codes.FailedPrecondition, ReasonRetireeNotMoved)
	// A move within the district changes nothing.
	w.transfer(f.RetireeId, servicetest.CommunityA)
	w.waitProjected(f.RetireeId, servicetest.CommunityA)
	_, err = w.client.SendOnArchiveFile(w.as(archivistAP), send)
	wantReason(t, err, codes.FailedPrecondition, ReasonRetireeNotMoved)

	w.transfer(f.RetireeId, servicetest.CommunityC)
	w.waitProjected(f.RetireeId, servicetest.CommunityC)
	wrong := &pb.SendOnArchiveFileRequest{Id: f.Id, ToCustodian: send.ToCustodian, ToDistrict: "210104"}
	_, err = w.client.SendOnArchiveFile(w.as(archivistAP), wrong)
	wantReason(t, err, codes.FailedPrecondition, ReasonRetireeNotMoved)
	f = w.fileOf(w.client.SendOnArchiveFile(w.as(archivistAP), send))
	want := &pb.ArchiveSendOn{ToDistrict: servicetest.DistrictC, ToCustodian: send.ToCustodian, ToCommunityId: servicetest.CommunityC, SentBy: archivistAP.Subject}
	if diff := cmp.Diff(want, f.SendOn, protocmp.Transform(), protocmp.IgnoreFields(&pb.ArchiveSendOn{}, "send_time")); diff != "" || f.State != pb.ArchiveFile_SENT_ON {
		t.Errorf("sent on %v (-want +got):\n%s", f.State, diff)
	}
	_, err = w.client.RequestArchiveLoan(w.as(archivistAP), &pb.RequestArchiveLoanRequest{Id: f.Id, Kind: pb.ArchiveLoan_READING, Borrower: "x", Purpose: "y", DueOn: dateIn(time.Now())})
	wantReason(t, err, codes.FailedPrecondition, ReasonFileWrongState)
	if st := w.statistics(); st.Received != 1 || st.SentOn != 1 {
		t.Errorf("statistics %v", st)
	}
	wantCustody(t, w, f.Id, []string{"RECEIVED archivist-heping", "SENT_ON archivist-heping"})
}

// transfer moves a retiree to community in registry, as admin.
func (w *world) transfer(id, community string) {
	w.t.Helper()
	_, err := w.registry.TransferRetiree(w.as(adminP), &registryv1.TransferRetireeRequest{Id: id, ToCommunityId: community, Reason: "随子女居住"})
	if err != nil {
		w.t.Fatal(err)
	}
}

// waitProjected waits until handover's projection has the retiree in
// community.
func (w *world) waitProjected(id, community string) {
	w.t.Helper()
	waitfor.NoError(w.t, "retiree "+id+" projected in "+community, func(context.Context) error {
		return w.store.DB().View(func(tx *bolt.Tx) error {
			st, err := projection.Get(tx, id)
			if err != nil {
				return err
			}
			if st.CommunityId != community {
				return fmt.Errorf("in %s", st.CommunityId)
			}
			return nil
		})
	})
}

// TestCustodyStore: the loan index follows a file's loans, and the
// statistics count each day's steps in their period only.
func TestCustodyStore(t *testing.T) {
	t.Parallel()
	clock := testclock.New(custodyStart)
	s, err := OpenStore(filepath.Join(t.TempDir(), "handover.db"), StoreOptions{Logger: zaptest.NewLogger(t), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	actor := Actor{Subject: "archivist-heping", Role: "archivist"}
	var ids []string
	for i := range 3 {
		h := &pb.Handover{Id: fmt.Sprintf("H%016d", i), CommunityId: servicetest.CommunityA}
		d := &pb.Dossier{RetireeId: fmt.Sprintf("r%015d", i), DossierNo: "D", Volumes: 1}
		if err := s.update(func(w *txn) error { return w.takeIntoCustody(h, d, 1, actor) }); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ArchiveFileId)
		clock.Set(clock.Now().Add(24 * time.Hour))
	}
	lend := func(id, due string) {
		t.Helper()
		_, err := s.changeFile(id, "", actor, func(*pb.ArchiveFile) error { return nil }, func(_ *txn, f *pb.ArchiveFile) (string, string, error) {
			f.State, f.Loan = pb.ArchiveFile_ON_LOAN, &pb.ArchiveLoan{State: pb.ArchiveLoan_APPROVED, DueOn: due}
			return custodyLoanApproved, "lent", nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lend(ids[2], "2026-03-20")
	lend(ids[0], "2026-03-11")
	list, _, err := s.ListArchiveFiles(ArchiveFilter{District: servicetest.DistrictAB, Overdue: true, Today: "2026-03-21"}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{list[0].Id, list[1].Id}; len(list) != 2 || !cmp.Equal(got, []string{ids[0], ids[2]}) {
		t.Errorf("overdue by due date: %v", got)
	}
	st, err := s.ArchiveStatistics(servicetest.DistrictAB, "2026-03-11", "2026-03-12", "2026-03-15")
	if err != nil {
		t.Fatal(err)
	}
	// Received on the 10th, 11th and 12th (China time); both loans on
	// the 13th.
	want := &pb.GetArchiveStatisticsResponse{District: servicetest.DistrictAB, From: "2026-03-11", To: "2026-03-12", Received: 2, OnLoan: 2, Overdue: 1}
	if diff := cmp.Diff(want, st, protocmp.Transform()); diff != "" {
		t.Errorf("statistics (-want +got):\n%s", diff)
	}
	if _, err := s.GetArchiveFile("F0000000000000000"); !errors.Is(err, errArchiveFileNotFound) {
		t.Errorf("missing file: %v", err)
	}
}
