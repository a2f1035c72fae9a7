package pension

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// certRecord is a certification record of the n-th ID number.
func certRecord(t testing.TB, index int64, n int, day string, channel pb.CertificationMethod, reference string) *pb.CertificationRecord {
	t.Helper()
	return &pb.CertificationRecord{Index: index, IdNumber: idNumber(t, n).Digits(), CertifiedOn: day, Channel: channel, Reference: reference}
}

// decisionRec is a decision record of the n-th ID number.
func decisionRec(t testing.TB, index int64, n int, action pb.DecisionAction, m string, reason pb.DecisionReason, note string) *pb.DecisionRecord {
	t.Helper()
	return &pb.DecisionRecord{Index: index, IdNumber: idNumber(t, n).Digits(), Action: action, EffectiveMonth: m, Reason: reason, Note: note}
}

// wantRejections compares an import's rejections by index and checks
// that no message repeats an ID number.
func wantRejections(t *testing.T, res importResult, want map[int64]string) {
	t.Helper()
	for _, a := range res.acks {
		for _, rj := range a.Rejections {
			if servicetest.LooksLikeIDNumber(rj.Message) {
				t.Errorf("rejection %d message looks like an ID number: %q", rj.Index, rj.Message)
			}
		}
	}
	if diff := cmp.Diff(want, res.rejections()); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
}

func TestImportCertifications(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(bureauP)
	const (
		dataMatch = pb.CertificationMethod_DATA_MATCH
		faceApp   = pb.CertificationMethod_FACE_APP
	)
	batch := []*pb.CertificationRecord{
		certRecord(t, 1, 0, "2026-03-01", dataMatch, "DM/2026/0001"),
		certRecord(t, 2, 1, "2026-03-02", faceApp, ""),
		certRecord(t, 3, 1, "2026-03-02", pb.CertificationMethod_REMOTE_FACE, ""), //nolint:staticcheck // SA1019: FACE_APP's old name, still accepted, is the same channel
		certRecord(t, 4, 2, "2026-03-02", pb.CertificationMethod_IN_PERSON, ""),
		certRecord(t, 5, 100, "2026-03-02", dataMatch, ""),
		certRecord(t, 6, 0, "2026-02-30", dataMatch, ""),
		certRecord(t, 7, 0, "2026-06-16", dataMatch, ""),
		certRecord(t, 8, 0, "1999-12-31", dataMatch, ""),
		certRecord(t, 9, 0, "2026-03-03", pb.CertificationMethod_PENSION_START, ""),
		certRecord(t, 10, 0, "2026-03-03", pb.CertificationMethod_CERTIFICATION_METHOD_UNSPECIFIED, ""),
		certRecord(t, 11, 0, "2026-03-03", pb.CertificationMethod(99), ""),
		certRecord(t, 12, 0, "2026-03-03", dataMatch, "DM 1"),
		certRecord(t, 13, 0, "2026-03-03", dataMatch, strings.Repeat("r", 65)),
		certRecord(t, 14, 5, "2026-03-01", dataMatch, ""), // after the death on 2026-02-10
		certRecord(t, 15, 5, "2026-01-05", dataMatch, ""),
		{Index: 16, IdNumber: "110105194912310021", CertifiedOn: "2026-03-03", Channel: dataMatch},
		certRecord(t, 16, 3, "2026-03-03", dataMatch, ""), // index repeated
		certRecord(t, 18, 3, "2026-04-01", pb.CertificationMethod_OTHER_REGION, "X-1"),
		certRecord(t, 19, 6, "2026-06-15", pb.CertificationMethod_CONSULAR, ""),
	}
	res := certificationFraming.run(ctx, h.client, header("2026-03-dm"), batch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantRejections(t, res, map[int64]string{
		5: ReasonUnknownRetiree, 6: ReasonDateInvalid, 7: ReasonDateInFuture, 8: ReasonDateInvalid,
		9: ReasonChannelInvalid, 10: ReasonChannelInvalid, 11: ReasonChannelInvalid, 12: ReasonReferenceInvalid,
		13: ReasonReferenceInvalid, 14: ReasonDateInvalid, 16: ReasonIndexOutOfOrder,
	})
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026-03-dm", Received: 19, Accepted: 6, Duplicates: 1, Rejected: 12, LastIndex: 19})

	list, err := h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(0)})
	if err != nil {
		t.Fatal(err)
	}
	want := []*pb.Certification{{
		RetireeId: retireeID(0), Method: dataMatch, CertifiedOn: "2026-03-01", RecordedBy: bureauP.Subject,
		Reference: "DM/2026/0001", BatchId: "2026-03-dm",
	}}
	if diff := cmp.Diff(want, list.Certifications, protocmp.Transform(), protocmp.IgnoreFields(&pb.Certification{}, "record_time")); diff != "" {
		t.Errorf("retiree 0's certifications (-want +got):\n%s", diff)
	}

	t.Run("re-sent batch changes nothing", func(t *testing.T) {
		before := bucketKeys(t, h.store, bucketCertifications, bucketDue)
		res := certificationFraming.run(ctx, h.client, header("2026-03-dm"), batch)
		if res.err != nil {
			t.Fatal(res.err)
		}
		wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026-03-dm", Received: 19, Duplicates: 7, Rejected: 12, LastIndex: 19})
		if diff := cmp.Diff(before, bucketKeys(t, h.store, bucketCertifications, bucketDue)); diff != "" {
			t.Errorf("a re-sent batch changed the certifications (-before +after):\n%s", diff)
		}
	})

	t.Run("another reference corrects it", func(t *testing.T) {
		audits := auditCount(t, h, 3)
		res := certificationFraming.run(ctx, h.client, header("2026-04-fix"), []*pb.CertificationRecord{
			certRecord(t, 1, 3, "2026-04-01", pb.CertificationMethod_OTHER_REGION, "X-2"),
		})
		if res.err != nil {
			t.Fatal(res.err)
		}
		wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026-04-fix", Received: 1, Corrections: 1, LastIndex: 1})
		list, err := h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(3)})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Certifications) != 1 || list.Certifications[0].Reference != "X-2" {
			t.Errorf("retiree 3's certifications after the correction: %v", list.Certifications)
		}
		// The correction and the read just made.
		if got := auditCount(t, h, 3); got != audits+2 {
			t.Errorf("%d audit entries after the correction and a read, want %d", got, audits+2)
		}
	})
}

// TestImportedCertificationKeepsTheDueIndex imports certifications into
// one store and records the same by calls into another: the due-date
// index must end the same, whatever its definition.
func TestImportedCertificationKeepsTheDueIndex(t *testing.T) {
	t.Parallel()
	imported, recorded := importFixture(t, harnessOptions{}), importFixture(t, harnessOptions{})
	certs := []struct {
		n   int
		day string
	}{{0, "2026-03-01"}, {1, "2025-11-30"}, {0, "2026-01-10"}, {6, "2026-06-01"}, {5, "2026-01-05"}}
	var records []*pb.CertificationRecord
	for i, c := range certs {
		records = append(records, certRecord(t, int64(i+1), c.n, c.day, pb.CertificationMethod_IN_PERSON, ""))
		_, err := recorded.client.RecordCertification(recorded.as(bureauP), &pb.RecordCertificationRequest{
			RetireeId: retireeID(c.n), Certification: &pb.Certification{Method: pb.CertificationMethod_IN_PERSON, CertifiedOn: c.day},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	res := certificationFraming.run(imported.as(bureauP), imported.client, header("due"), records)
	if res.err != nil || res.summary.GetAccepted() != int64(len(certs)) {
		t.Fatalf("import: %v, summary %v", res.err, res.summary)
	}
	if diff := cmp.Diff(dueIndex(t, recorded.store), dueIndex(t, imported.store)); diff != "" {
		t.Errorf("due-date index (-recorded +imported):\n%s", diff)
	}
}

// dueIndex returns the due-date index as "key=value" strings.
func dueIndex(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDue).ForEach(func(k, v []byte) error {
			out = append(out, fmt.Sprintf("%q=%q", k, v))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportDecisions(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(bureauP)
	const (
		suspend, restore, stop = pb.DecisionAction_SUSPEND, pb.DecisionAction_RESTORE, pb.DecisionAction_STOP
		none                   = pb.DecisionReason_DECISION_REASON_UNSPECIFIED
		notCertified           = pb.DecisionReason_NOT_CERTIFIED
	)
	withRef := func(r *pb.DecisionRecord, ref string) *pb.DecisionRecord { r.Reference = ref; return r }
	batch := []*pb.DecisionRecord{
		withRef(decisionRec(t, 1, 0, suspend, "2026-03", notCertified, "no answer at home"), "D-1"),
		decisionRec(t, 2, 0, restore, "2026-06", none, ""),
		withRef(decisionRec(t, 3, 0, suspend, "2026-03", notCertified, "no answer at home"), "D-1"),
		decisionRec(t, 4, 1, stop, "2026-07", pb.DecisionReason_DECEASED, ""), // the next month is allowed
		decisionRec(t, 5, 1, suspend, "2026-08", notCertified, ""),
		decisionRec(t, 6, 1, pb.DecisionAction_DECISION_ACTION_UNSPECIFIED, "2026-05", notCertified, ""),
		decisionRec(t, 7, 1, suspend, "2026-05", none, ""),
		decisionRec(t, 8, 1, restore, "2026-05", pb.DecisionReason_OTHER, ""),
		decisionRec(t, 9, 1, suspend, "2026-05", notCertified, "two\nlines"),
		decisionRec(t, 10, 1, suspend, "2026-05", notCertified, strings.Repeat("长", 501)),
		withRef(decisionRec(t, 11, 1, suspend, "2026-05", notCertified, ""), "bad ref"),
		decisionRec(t, 12, 1, suspend, "2026-13", notCertified, ""),
		decisionRec(t, 13, 1, suspend, "2026-05", pb.DecisionReason(42), ""),
		decisionRec(t, 14, 1, pb.DecisionAction(9), "2026-05", notCertified, ""),
		decisionRec(t, 15, 100, suspend, "2026-05", notCertified, ""),
		// Recorded in this order in one group, the RESTORE first: the
		// SUSPEND is in force for April although its key sorts first.
		decisionRec(t, 16, 2, restore, "2026-04", none, ""),
		decisionRec(t, 17, 2, suspend, "2026-04", pb.DecisionReason_LOST_CONTACT, ""),
	}
	res := decisionFraming.run(ctx, h.client, header("2026-06-decisions"), batch)
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantRejections(t, res, map[int64]string{
		5: ReasonMonthInFuture, 6: ReasonActionInvalid, 7: ReasonReasonInvalid, 8: ReasonReasonInvalid,
		9: ReasonNoteInvalid, 10: ReasonNoteInvalid, 11: ReasonReferenceInvalid, 12: ReasonMonthInvalid,
		13: ReasonReasonInvalid, 14: ReasonActionInvalid, 15: ReasonUnknownRetiree,
	})
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026-06-decisions", Received: 17, Accepted: 5, Duplicates: 1, Rejected: 11, LastIndex: 17})
	if got, want := decisionsInForce(t, h.store, 2), []string{"2026-04 RESTORE v1", "2026-04 SUSPEND v1"}; !cmp.Equal(got, want) {
		t.Errorf("retiree 2's decisions in order = %v, want %v", got, want)
	}

	fix := withRef(decisionRec(t, 1, 0, suspend, "2026-03", notCertified, "moved away"), "D-1")
	res = decisionFraming.run(ctx, h.client, header("2026-06-fix"), []*pb.DecisionRecord{fix})
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026-06-fix", Received: 1, Corrections: 1, LastIndex: 1})
	list, err := h.client.ListDecisions(ctx, &pb.ListDecisionsRequest{RetireeId: retireeID(0)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range list.Decisions {
		got = append(got, fmt.Sprintf("%s %v %v v%d %q %s %s", d.EffectiveMonth, d.Action, d.Reason, d.Version, d.Note, d.Reference, d.BatchId))
	}
	want := []string{
		`2026-06 RESTORE DECISION_REASON_UNSPECIFIED v1 ""  2026-06-decisions`,
		`2026-03 SUSPEND NOT_CERTIFIED v2 "moved away" D-1 2026-06-fix`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("retiree 0's decisions, newest month first (-want +got):\n%s", diff)
	}
	if n := len(bucketKeys(t, h.store, bucketDecisionVersions)); n != 1 {
		t.Errorf("%d replaced decision versions kept, want 1", n)
	}
}

// decisionsInForce returns the n-th retiree's decisions as decisionsOf
// orders them.
func decisionsInForce(t *testing.T, s *Store, n int) []string {
	t.Helper()
	var out []string
	err := s.DB().View(func(tx *bolt.Tx) error {
		list, err := decisionsOf(tx, retireeID(n))
		for _, d := range list {
			out = append(out, fmt.Sprintf("%s %v v%d", d.EffectiveMonth, d.Action, d.Version))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportResumeAfterDroppedStream drops each kind of stream after an
// acknowledgement, resumes after it, then re-sends the whole batch.
func TestImportResumeAfterDroppedStream(t *testing.T) {
	t.Parallel()
	t.Run("payments", func(t *testing.T) {
		t.Parallel()
		testResume(t, paymentFraming, rpcImportPayments, func(i int64) *pb.PaymentRecord {
			return payment(t, i, int(i%5), fmt.Sprintf("2026-%02d", 1+i/5), 300000)
		})
	})
	t.Run("certifications", func(t *testing.T) {
		t.Parallel()
		testResume(t, certificationFraming, rpcImportCertifications, func(i int64) *pb.CertificationRecord {
			return certRecord(t, i, int(i%5), fmt.Sprintf("2026-0%d-01", 1+i/5), pb.CertificationMethod_DATA_MATCH, "")
		})
	})
	t.Run("decisions", func(t *testing.T) {
		t.Parallel()
		testResume(t, decisionFraming, rpcImportDecisions, func(i int64) *pb.DecisionRecord {
			return decisionRec(t, i, int(i%5), pb.DecisionAction_SUSPEND, fmt.Sprintf("2026-%02d", 1+i/5), pb.DecisionReason_OTHER, "")
		})
	})
}

// testResume sends records 1 to 4 of a batch of 10, waits for their
// acknowledgement and drops the stream; a second stream sends the rest,
// a third all ten again.
func testResume[Req, Resp, In any](t *testing.T, f importFraming[Req, Resp, In], rpc string, record func(i int64) In) {
	h := importFixture(t, harnessOptions{})
	var records []In
	for i := int64(1); i <= 10; i++ {
		records = append(records, record(i))
	}
	ctx, cancel := context.WithCancel(h.as(bureauP))
	stream, err := f.open(ctx, h.client)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(f.header(header("resume"))); err != nil {
		t.Fatal(err)
	}
	for _, r := range records[:4] {
		if err := stream.Send(f.record(r)); err != nil {
			t.Fatal(err)
		}
	}
	for durable := int64(0); durable < 4; {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		ack, _ := f.answer(resp)
		durable = ack.GetDurableThroughIndex()
	}
	cancel()

	res := f.run(h.as(bureauP), h.client, header("resume"), records[4:])
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "resume", Received: 6, Accepted: 6, LastIndex: 10})
	res = f.run(h.as(bureauP), h.client, header("resume"), records)
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "resume", Received: 10, Duplicates: 10, LastIndex: 10})
	progress, err := h.store.BatchProgress(rpc, "resume")
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, progress, &pb.ImportSummary{BatchId: "resume", Received: 20, Accepted: 10, Duplicates: 10, LastIndex: 10})
}

// TestImportStreamBounds checks the header and the bound of the new
// streams, as TestImportStreamRules does for payments.
func TestImportStreamBounds(t *testing.T) {
	t.Parallel()
	t.Run("certifications", func(t *testing.T) {
		t.Parallel()
		testBounds(t, certificationFraming, rpcImportCertifications, func(i int64) *pb.CertificationRecord {
			return certRecord(t, i, int(i%5), fmt.Sprintf("2026-0%d-01", 1+i/5), pb.CertificationMethod_DATA_MATCH, "")
		})
	})
	t.Run("decisions", func(t *testing.T) {
		t.Parallel()
		testBounds(t, decisionFraming, rpcImportDecisions, func(i int64) *pb.DecisionRecord {
			return decisionRec(t, i, int(i%5), pb.DecisionAction_SUSPEND, fmt.Sprintf("2026-%02d", 1+i/5), pb.DecisionReason_OTHER, "")
		})
	})
}

// testBounds runs refused streams against a store whose streams carry at
// most 5 records.
func testBounds[Req, Resp, In any](t *testing.T, f importFraming[Req, Resp, In], rpc string, record func(i int64) In) {
	h := importFixture(t, harnessOptions{maxRecords: 5})
	ctx := h.as(bureauP)
	one := []In{record(1)}
	wantFields(t, f.run(ctx, h.client, nil, one).err, "header")
	wantFields(t, f.run(ctx, h.client, &pb.ImportHeader{BatchId: "b/1"}, one).err, "header.batchId")
	res := f.run(ctx, h.client, &pb.ImportHeader{BatchId: "big", ExpectedRecords: 6}, one)
	wantStatus(t, res.err, codes.ResourceExhausted)
	if _, err := h.store.BatchProgress(rpc, "big"); !isNotFound(err) {
		t.Errorf("a refused stream left progress: %v", err)
	}

	var records []In
	for i := int64(1); i <= 8; i++ {
		records = append(records, record(i))
	}
	res = f.run(ctx, h.client, header("too-long"), records)
	wantReason(t, res.err, codes.ResourceExhausted, reasonTooManyRecords)
	// What was acknowledged stays; nothing beyond the bound landed.
	if p, err := h.store.BatchProgress(rpc, "too-long"); err == nil && (p.Received < res.lastDurable() || p.Received > 5) {
		t.Errorf("%d records received after acks through %d, want between them and 5", p.Received, res.lastDurable())
	}
}
