package pension

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// signalWatch is pension's WatchWorkSignals for servicetest's readers.
func signalWatch(c pb.PensionServiceClient) servicetest.SignalWatch {
	return func(ctx context.Context, since int64, epoch string) (func() (*feedv1.SignalEvent, error), error) {
		stream, err := c.WatchWorkSignals(ctx, &pb.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
		if err != nil {
			return nil, err
		}
		return func() (*feedv1.SignalEvent, error) {
			m, err := stream.Recv()
			return m.GetEvent(), err
		}, nil
	}
}

// watchSignalsOnce opens the feed from 0 and reads its first entry.
func watchSignalsOnce(ctx context.Context, c pb.PensionServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	recv, err := signalWatch(c)(ctx, 0, "")
	if err != nil {
		return err
	}
	_, err = recv()
	return err
}

func openKeys(t *testing.T, f *signalfeed.Feed) []string {
	t.Helper()
	open, _ := servicetest.FeedOpen(t, f)
	return slices.Sorted(maps.Keys(open))
}

// latestOf returns the latest change of key in the feed's log, read as
// a consumer from revision 0 of the log, or nil.
func resolutionOf(t *testing.T, h *harness, key string) string {
	t.Helper()
	_, end := servicetest.FeedOpen(t, h.store.Signals())
	evs := servicetest.ReadSignals(t, h.as(serviceP), signalWatch(h.client), 1, "", int(end-1))
	out := ""
	for _, ev := range evs {
		if ev.Signal.Key == key {
			out = "open"
			if ev.Signal.Resolved {
				out = ev.Signal.Resolution
			}
		}
	}
	return out
}

var anyone = func(*registryv1.RetireeState) error { return nil }

func certify(t *testing.T, s *Store, n int, day string) {
	t.Helper()
	if _, err := s.RecordCertification(retireeID(n), &pb.Certification{Method: pb.CertificationMethod_IN_PERSON, CertifiedOn: day}, Actor{Subject: "clerk-a", Role: "clerk"}, anyone); err != nil {
		t.Fatal(err)
	}
}

// The sweep opens a signal for each living retiree whose certification
// is overdue or due within 30 days, once per due date; a certification,
// a death and the bureau's STOP resolve it; a restart keeps exactly the
// open ones.
func TestCertificationSignals(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	today := testNow                     // 2026-06-15
	certify(t, h.store, 0, "2025-05-01") // due 2026-05-01: overdue
	certify(t, h.store, 1, "2025-07-01") // due 2026-07-01: within 30 days
	certify(t, h.store, 2, "2025-08-01") // due 2026-08-01: not yet
	certify(t, h.store, 3, "2025-07-10") // due 2026-07-10: within 30 days
	// 4 and 6 (community B) have no certification since the pension
	// started in 2010: overdue since 2011; 5 is dead.
	if err := h.store.sweepCertifications(today); err != nil {
		t.Fatal(err)
	}
	want := []string{
		certSignalKey(retireeID(0), "2026-05-01"), certSignalKey(retireeID(1), "2026-07-01"),
		certSignalKey(retireeID(3), "2026-07-10"), certSignalKey(retireeID(4), "2011-02-01"),
		certSignalKey(retireeID(6), "2011-02-01"),
	}
	slices.Sort(want)
	if got := openKeys(t, h.store.Signals()); !slices.Equal(got, want) {
		t.Fatalf("open after the sweep %v, want %v", got, want)
	}
	open, head := servicetest.FeedOpen(t, h.store.Signals())
	sig := open[certSignalKey(retireeID(1), "2026-07-01")]
	if sig.Kind != feedv1.SignalKind_CERTIFICATION_DUE || sig.SubjectKind != feedv1.SubjectKind_RETIREE || sig.CommunityId != communityA ||
		sig.RetireeId != retireeID(1) || sig.DueTime.AsTime().Format(time.DateOnly) != "2026-07-01" || !sig.StartTime.AsTime().Before(today) {
		t.Errorf("signal %v", sig)
	}
	// Sweeping again, a day later, adds nothing.
	if err := h.store.sweepCertifications(today.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if _, again := servicetest.FeedOpen(t, h.store.Signals()); again != head {
		t.Errorf("a second sweep moved the head from %d to %d", head, again)
	}

	certify(t, h.store, 0, "2026-06-15")
	// The bureau's import resolves as a clerk's call does.
	res := certificationFraming.run(h.as(bureauP), h.client, header("2026-06-dm"), []*pb.CertificationRecord{certRecord(t, 1, 1, "2026-06-10", pb.CertificationMethod_DATA_MATCH, "")})
	if res.err != nil || res.summary.GetRejected() != 0 {
		t.Fatalf("import: %v, rejections %v", res.err, res.rejections())
	}
	certify(t, h.store, 3, "2025-06-01") // older than the last: satisfies nothing
	h.die(t, 4, "2026-06-01")
	if _, err := h.client.RecordDecision(h.as(bureauP), &pb.RecordDecisionRequest{RetireeId: retireeID(6), Decision: &pb.EntitlementDecision{
		Action: pb.DecisionAction_STOP, EffectiveMonth: "2026-06", Reason: pb.DecisionReason_NOT_CERTIFIED,
	}}); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		certSignalKey(retireeID(0), "2026-05-01"): "certification recorded",
		certSignalKey(retireeID(4), "2011-02-01"): "retiree deceased",
		certSignalKey(retireeID(6), "2011-02-01"): "pension stopped",
		certSignalKey(retireeID(3), "2026-07-10"): "open",
		certSignalKey(retireeID(1), "2026-07-01"): "certification recorded",
	} {
		if got := resolutionOf(t, h, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	servicetest.WantCode(t, watchSignalsOnce(h.as(clerkP), h.client), codes.PermissionDenied)
	servicetest.WantCode(t, watchSignalsOnce(h.as(authn.Principal{Subject: "casework", Role: authn.RoleService}), h.client), codes.OK)

	h.close()
	h.open()
	want = []string{certSignalKey(retireeID(3), "2026-07-10")}
	if got := openKeys(t, h.store.Signals()); !slices.Equal(got, want) {
		t.Errorf("open after a restart %v, want %v", got, want)
	}
}

// A recovery case's signal follows its next due date: the order's, then
// the next unpaid instalment's, and is resolved once repaid.
func TestRecoveryCaseSignals(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-04", "2026-04-10", 100000)
	h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
	h.die(t, 0, "2026-03-15")
	id := h.oneCase(t, 0).Id
	key := recoverySignalKey(id)
	due := func() string {
		t.Helper()
		open, _ := servicetest.FeedOpen(t, h.store.Signals())
		sig, ok := open[key]
		if !ok {
			return ""
		}
		if sig.Kind != feedv1.SignalKind_RECOVERY_CASE_DUE || sig.SubjectKind != feedv1.SubjectKind_RECOVERY_CASE || sig.SubjectId != id || sig.CommunityId != communityA || sig.RetireeId != retireeID(0) {
			t.Errorf("signal %v", sig)
		}
		return sig.DueTime.AsTime().Add(-time.Hour).In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
	}
	if d := due(); d != "" {
		t.Fatalf("a case without an order is due %s", d)
	}
	if _, err := h.client.IssueRecoveryOrder(h.as(clerkP), &pb.IssueRecoveryOrderRequest{Id: id, DebtorName: "王芳", DebtorRelation: "daughter"}); err != nil {
		t.Fatal(err)
	}
	if d := due(); d != "2026-07-28" {
		t.Errorf("after the order due %q, want 2026-07-28", d)
	}
	if _, err := h.client.SetRecoveryInstalmentPlan(h.as(clerkP), &pb.SetRecoveryInstalmentPlanRequest{Id: id, Instalments: []*pb.RecoveryInstalment{{DueOn: "2026-07-01", AmountFen: 100000}, {DueOn: "2026-08-01", AmountFen: 100000}}}); err != nil {
		t.Fatal(err)
	}
	if d := due(); d != "2026-07-01" {
		t.Errorf("after the plan due %q, want 2026-07-01", d)
	}
	repay := func(ref string) {
		t.Helper()
		if _, err := h.client.RecordRecoveryRepayment(h.as(clerkP), &pb.RecordRecoveryRepaymentRequest{Id: id, AmountFen: 100000, PaidOn: "2026-06-14", BankReference: ref}); err != nil {
			t.Fatal(err)
		}
	}
	repay("BOC-0001")
	if d := due(); d != "2026-08-01" {
		t.Errorf("after the first instalment due %q, want 2026-08-01", d)
	}
	repay("BOC-0002")
	if d := due(); d != "" {
		t.Errorf("a repaid case is still due %s", d)
	}
	if got := resolutionOf(t, h, key); got != "repaid" {
		t.Errorf("resolution %q, want repaid", got)
	}
	if err := h.store.DB().View(func(tx *bolt.Tx) error {
		ev, err := signalfeed.Open(tx, key)
		if ev != nil {
			t.Errorf("still open: %v", ev)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A file of schema 7 (today's layout without the feed) gains the feed,
// whose first snapshot holds the open recovery cases with a due date, the
// certifications due on the store's day and the anomalies of the current
// and the previous month.
func TestSignalMigrationBackfills(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-04", "2026-04-10", 100000)
	h.die(t, 0, "2026-03-15")
	id := h.oneCase(t, 0).Id
	if _, err := h.client.IssueRecoveryOrder(h.as(clerkP), &pb.IssueRecoveryOrderRequest{Id: id, DebtorName: "王芳", DebtorRelation: "daughter"}); err != nil {
		t.Fatal(err)
	}
	certify(t, h.store, 1, "2025-08-01") // due 2026-08-01: not yet
	h.close()
	db, err := bolt.Open(h.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{bucketCertSignalled, bucketAnomalySignalled, bucketAnomalyExplanations}, signalfeed.Buckets...) {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), boltstore.U64(7))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	h.open()
	want := []string{recoverySignalKey(id)}
	for _, n := range []int{2, 3, 4, 6} {
		want = append(want, certSignalKey(retireeID(n), "2011-02-01"))
	}
	// Nobody living was paid for May, the previous month.
	for _, n := range []int{1, 2, 3, 4, 6} {
		want = append(want, anomalySignalKey(retireeID(n), "2026-05", pb.AnomalyKind_MISSING))
	}
	slices.Sort(want)
	if got := openKeys(t, h.store.Signals()); !slices.Equal(got, want) {
		t.Errorf("backfilled %v, want %v", got, want)
	}
}

// A retiree the projection brings into the due index, or moves to another
// community, asks for a certification sweep when the projection's
// transaction commits, so that its signal does not wait for the daily
// sweep; a change that leaves its due entry alone asks for none. The
// sweep task then opens the signal.
func TestProjectedRetireeAsksForACertificationSweep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	kicked := func() bool { return tookToken(e.store.certSweep) }
	kicked()
	st := retiree(t, e.keyer, 0, communityA)
	e.change(st, registryv1.ChangeKind_CREATED)
	if !kicked() {
		t.Fatal("a retiree new to the due index asked for no certification sweep")
	}
	st.ManagementMode = registryv1.ManagementMode_BUREAU
	e.change(st, registryv1.ChangeKind_UPDATED)
	if kicked() {
		t.Error("a change that leaves the due entry alone asked for a certification sweep")
	}
	st.CommunityId = communityB
	e.change(st, registryv1.ChangeKind_TRANSFERRED)
	if !kicked() {
		t.Error("a retiree moved to another community asked for no certification sweep")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.store.RunSignalSweeps(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	e.change(retiree(t, e.keyer, 1, communityA), registryv1.ChangeKind_CREATED)
	waitfor.True(t, "the projected retirees' certification signals", func() bool {
		keys := openKeys(t, e.store.Signals())
		return slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, retireeID(0)) }) &&
			slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, retireeID(1)) })
	})
}

// tookToken takes the token c holds, if it holds one, and reports whether
// it did: whether a sweep was asked for.
func tookToken(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
