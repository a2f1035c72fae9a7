package pension

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/audit"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// importGroupEntries returns the entries of the audit log that name an
// import group rather than a retiree, oldest first.
func importGroupEntries(t *testing.T, s *Store) []*registryv1.AuditEntry {
	t.Helper()
	var out []*registryv1.AuditEntry
	err := s.DB().View(func(tx *bolt.Tx) error {
		return audit.ForEach(tx, func(e *registryv1.AuditEntry) error {
			if e.ImportGroup != nil {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// commitGroups checks records and commits them in the groups given by
// sizes, as the import stream would, and returns the importer.
func commitGroups[In, R, S any](t *testing.T, e *env, kind importKind[In, R, S], rpc string, records []In, sizes ...int) *importer[In, R, S] {
	t.Helper()
	checker := &recordChecker{keyer: e.keyer, now: e.now.Now}
	im := newImporter(e.store, kind, rpc, "b-1", Actor{Subject: "bureau-1", Role: "bureau", RequestID: "req-1"})
	for _, n := range sizes {
		group := make([]R, 0, n)
		for _, in := range records[:n] {
			group = append(group, kind.check(checker, in))
		}
		records = records[n:]
		if _, err := im.commit(group); err != nil {
			t.Fatal(err)
		}
	}
	return im
}

// TestImportAuditsEachGroup checks that a bureau's import leaves one
// change-audit entry per committed group that stored anything, naming the
// batch, the caller and the records, and none per new record; a
// corrected certification is audited for its retiree besides.
func TestImportAuditsEachGroup(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	var states []*registryv1.RetireeState
	for n := range 4 {
		states = append(states, retiree(t, keyer, n, communityA))
	}
	e := newEnv(t, states...)
	dm := pb.CertificationMethod_DATA_MATCH
	records := []*pb.CertificationRecord{
		// The first group: three new, one unknown ID number.
		certRecord(t, 1, 0, "2026-03-01", dm, ""),
		certRecord(t, 2, 1, "2026-03-01", dm, "R-1"),
		certRecord(t, 3, 2, "2026-03-01", dm, ""),
		certRecord(t, 4, 9, "2026-03-01", dm, ""),
		// The second: a duplicate, a correction of the reference, a new one.
		certRecord(t, 5, 0, "2026-03-01", dm, ""),
		certRecord(t, 6, 1, "2026-03-01", dm, "R-2"),
		certRecord(t, 7, 3, "2026-03-02", dm, ""),
		// The third stores nothing.
		certRecord(t, 8, 3, "2026-03-02", dm, ""),
	}
	im := commitGroups(t, e, new(certificationKind), rpcImportCertifications, records, 4, 3, 1)
	if im.sum.Accepted != 4 || im.sum.Corrections != 1 || im.sum.Duplicates != 2 || im.sum.Rejected != 1 {
		t.Fatalf("summary %v", &im.sum)
	}

	entry := func(first, last, n int64) *registryv1.AuditEntry {
		return &registryv1.AuditEntry{
			Subject: "bureau-1", Role: "bureau", Action: rpcImportCertifications, RequestId: "req-1",
			ImportGroup: &registryv1.AuditedImportGroup{BatchId: "b-1", FirstIndex: first, LastIndex: last, Records: n},
		}
	}
	want := []*registryv1.AuditEntry{entry(1, 3, 3), entry(6, 7, 2)}
	if diff := cmp.Diff(want, importGroupEntries(t, e.store), protocmp.Transform(), protocmp.IgnoreFields(&registryv1.AuditEntry{}, "time")); diff != "" {
		t.Errorf("group entries (-want +got):\n%s", diff)
	}
	// Only the correction names a retiree.
	for n, want := range []int{0, 1, 0, 0} {
		if got := len(auditEntries(t, e.store, retireeID(n))); got != want {
			t.Errorf("retiree %d has %d audit entries, want %d", n, got, want)
		}
	}

	t.Run("payments too", func(t *testing.T) {
		im := commitGroups(t, e, new(paymentKind), rpcImportPayments, []*pb.PaymentRecord{
			payment(t, 10, 0, "2026-03", 300000),
			payment(t, 11, 1, "2026-03", 300000),
		}, 2)
		if im.sum.Accepted != 2 {
			t.Fatalf("summary %v", &im.sum)
		}
		got := importGroupEntries(t, e.store)
		last := got[len(got)-1]
		wantLast := entry(10, 11, 2)
		wantLast.Action = rpcImportPayments
		if diff := cmp.Diff(wantLast, last, protocmp.Transform(), protocmp.IgnoreFields(&registryv1.AuditEntry{}, "time")); diff != "" {
			t.Errorf("the payments' group entry (-want +got):\n%s", diff)
		}
	})
}

// auditEntries returns the audit entries of a retiree.
func auditEntries(t *testing.T, s *Store, id string) []*registryv1.AuditEntry {
	t.Helper()
	entries, _, err := s.ListAudit(id, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestImportTrustsOnlyCurrentLookUps checks the look-ahead of retirees:
// the commit uses what a read transaction found while the projection has
// not written since, and reads again once it has.
func TestImportTrustsOnlyCurrentLookUps(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	e := newEnv(t, retiree(t, keyer, 0, communityA), retiree(t, keyer, 1, communityA))
	checker := &recordChecker{keyer: e.keyer, now: e.now.Now}
	kind := new(certificationKind)
	im := newImporter(e.store, kind, rpcImportCertifications, "b", Actor{Subject: "bureau-1", Role: "bureau"})
	// lookedUp checks a record of retiree 0 and looks it up, then makes the
	// looked-up state say he died before the certification: a commit that
	// trusts the look-up refuses the record.
	var index int64
	lookedUp := func() []certificationRecord {
		t.Helper()
		index++
		group := []certificationRecord{kind.check(checker, certRecord(t, index, 0, "2026-03-01", pb.CertificationMethod_DATA_MATCH, ""))}
		if err := e.store.DB().View(func(tx *bolt.Tx) error {
			im.lookUp(tx, group)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !group[0].lookedUp || group[0].st == nil {
			t.Fatalf("record not looked up: %+v", group[0].recordHead)
		}
		group[0].st.Status, group[0].st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-01-01"
		return group
	}

	ack, err := im.commit(lookedUp())
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Rejections) != 1 || ack.Rejections[0].Reason != ReasonDateInvalid {
		t.Errorf("a current look-up was not used: rejections %v", ack.Rejections)
	}

	group := lookedUp()
	// Any projected change overtakes the look-up.
	other := retiree(t, keyer, 1, communityB)
	e.change(other, registryv1.ChangeKind_TRANSFERRED)
	ack, err = im.commit(group)
	if err != nil {
		t.Fatal(err)
	}
	if len(ack.Rejections) != 0 || im.sum.Accepted != 1 {
		t.Errorf("an overtaken look-up was used: rejections %v, %d accepted", ack.Rejections, im.sum.Accepted)
	}
}
