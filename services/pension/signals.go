package pension

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Pension's work signals (see WatchWorkSignals):
//
//   - CERTIFICATION_DUE under "cert/<retiree>/<due on>": a living retiree
//     of a community whose next certification (its due date under the
//     community's rule, as the entitlement shows it) is due within 30
//     days or overdue. The due date moves with time, not only with
//     writes: SweepSignals, daily and at start, opens the signals of the
//     retirees who came into that range, and bucketCertSignalled records
//     which due date each retiree was signalled for. Recording a
//     certification that moves the due date past it resolves the signal
//     in the same transaction, as do a death, a move out of the community
//     and the bureau's STOP.
//   - RECOVERY_CASE_DUE under "recovery/<case>": a recovery case with a
//     due date (the order's, or the next unpaid instalment's), emitted
//     again whenever the due date changes and resolved when the case
//     closes, in the transaction that writes the case.

// certDueSoonDays is how many days before its due date a certification
// becomes work.
const certDueSoonDays = 30

// metaSignalBackfill, while present, says that the signals of what was
// open before the feed existed are still to be emitted (see
// backfillSignals).
var metaSignalBackfill = []byte("signal_backfill")

func certSignalKey(id, due string) string { return "cert/" + id + "/" + due }
func recoverySignalKey(id string) string  { return "recovery/" + id }

// certSignalled is a retiree's entry in bucketCertSignalled: the due date
// signalled, and the earliest certification day that satisfies it (whose
// next due date is after it under the rule of the sweep).
type certSignalled struct{ due, satisfiedFrom string }

func (c certSignalled) encode() []byte { return []byte(c.due + c.satisfiedFrom) }

func decodeCertSignalled(v []byte) (certSignalled, bool) {
	if len(v) != 20 {
		return certSignalled{}, false
	}
	return certSignalled{due: string(v[:10]), satisfiedFrom: string(v[10:])}, true
}

// certSignal is the open signal of retiree id of community, due on due.
func certSignal(id, community string, due time.Time) *feedv1.WorkSignal {
	return &feedv1.WorkSignal{
		Key: certSignalKey(id, formatDate(due)), Kind: feedv1.SignalKind_CERTIFICATION_DUE,
		SubjectKind: feedv1.SubjectKind_RETIREE, SubjectId: id, RetireeId: id, CommunityId: community,
		StartTime: timestamppb.New(workdays.EndOfDay(due.AddDate(0, 0, -certDueSoonDays-1))),
		DueTime:   timestamppb.New(workdays.EndOfDay(due)),
		Summary:   "待认证：提醒老人在" + formatDate(due) + "前完成领取养老金资格认证",
	}
}

// openCertSignal opens the signal of retiree id due on due, under rule,
// unless it is open already; one open for another due date is resolved.
func (s *Store) openCertSignal(tx *bolt.Tx, id, community string, rule certRule, due time.Time) error {
	b := tx.Bucket(bucketCertSignalled)
	old, had := decodeCertSignalled(b.Get([]byte(id)))
	if had && old.due == formatDate(due) {
		return nil
	}
	if had {
		if _, err := s.signals.Resolve(tx, certSignalKey(id, old.due), "due date changed"); err != nil {
			return err
		}
	}
	if err := s.signals.Emit(tx, certSignal(id, community, due)); err != nil {
		return err
	}
	from := rule.firstCertifiedDueFrom(due.AddDate(0, 0, 1))
	return b.Put([]byte(id), certSignalled{due: formatDate(due), satisfiedFrom: formatDate(from)}.encode())
}

// resolveCertSignal resolves retiree id's certification signal, if one is
// open, with resolution.
func resolveCertSignal(tx *bolt.Tx, f *signalfeed.Feed, id, resolution string) error {
	b := tx.Bucket(bucketCertSignalled)
	old, had := decodeCertSignalled(b.Get([]byte(id)))
	if !had {
		return nil
	}
	if _, err := f.Resolve(tx, certSignalKey(id, old.due), resolution); err != nil {
		return err
	}
	return b.Delete([]byte(id))
}

// certifiedSignal resolves retiree id's certification signal when a
// certification made on day satisfies it: one Get when none is open.
func certifiedSignal(tx *bolt.Tx, f *signalfeed.Feed, id, day string) error {
	old, had := decodeCertSignalled(tx.Bucket(bucketCertSignalled).Get([]byte(id)))
	if !had || day < old.satisfiedFrom {
		return nil
	}
	return resolveCertSignal(tx, f, id, "certification recorded")
}

// certSignalOnMove resolves the certification signal of a retiree who
// left its community's due index (died, moved, no longer living).
func certSignalOnMove(tx *bolt.Tx, f *signalfeed.Feed, old, cur *registryv1.RetireeState) error {
	if !indexed(old) || indexed(cur) && cur.CommunityId == old.CommunityId {
		return nil
	}
	resolution := "no longer in the community"
	switch {
	case cur.GetStatus() == registryv1.RetireeStatus_DECEASED:
		resolution = "retiree deceased"
	case !living(cur) && cur != nil:
		resolution = "no longer a living pensioner"
	}
	return resolveCertSignal(tx, f, old.Id, resolution)
}

// sweepBatch is how many due-index entries one transaction of a sweep
// examines.
const sweepBatch = 500

// SweepSignals brings the time-driven signals up to date on day now: the
// certifications that came due (see above), community by community. The
// daily task and the start call it; tests call it with their clock.
func (s *Store) SweepSignals(now time.Time) error {
	if err := s.sweepCertifications(now); err != nil {
		return err
	}
	return s.SweepAnomalies(now)
}

// kickSweep asks the sweep task for an anomaly sweep soon, without
// waiting: payments change anomalies, not when certifications are due.
func (s *Store) kickSweep() { kick(s.sweep) }

// sweepCertifications opens the certification signals that came due.
func (s *Store) sweepCertifications(now time.Time) error {
	today := dayOf(now.In(workdays.ChinaTime))
	var community []byte
	for {
		next, err := s.nextDueCommunity(community)
		if err != nil || next == nil {
			return err
		}
		community = next
		if err := s.sweepCommunityCerts(string(community), today); err != nil {
			return fmt.Errorf("certification signals of community %s: %w", community, err)
		}
	}
}

// nextDueCommunity returns the first community in the due index after
// after (nil: the first), or nil when there is none.
func (s *Store) nextDueCommunity(after []byte) ([]byte, error) {
	var out []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		k, _ := c.First()
		if after != nil {
			k, _ = c.Seek(append(append([]byte(nil), after...), 1))
		}
		if k != nil {
			community, _, _, ok := splitDueKey(k)
			if !ok {
				return boltstore.ErrBadKey
			}
			out = []byte(community)
		}
		return nil
	})
	return out, err
}

// sweepCommunityCerts opens the certification signals of one community
// due by today + certDueSoonDays, sweepBatch entries a transaction.
func (s *Store) sweepCommunityCerts(community string, today time.Time) error {
	var after []byte
	for {
		var next []byte
		err := s.Update(func(tx *bolt.Tx) error {
			rule, err := ruleOn(tx, community, today)
			if err != nil {
				return err
			}
			end := formatDate(rule.firstCertifiedDueFrom(today.AddDate(0, 0, certDueSoonDays+1)))
			scan := boltstore.Scan{Prefix: boltstore.Prefix(community), After: after, Size: sweepBatch, MaxExamined: sweepBatch}
			next, err = scan.Page(tx.Bucket(bucketDue).Cursor(), func(k, _ []byte) (bool, error) {
				_, last, id, ok := splitDueKey(k)
				switch {
				case !ok:
					return false, boltstore.ErrBadKey
				case last >= end:
					return false, boltstore.ErrEndOfList
				case last == "":
					// No certification and no pension start known: no due
					// date to signal (the work list shows them).
					return false, nil
				}
				return true, s.sweepCert(tx, community, id, last, rule, today)
			})
			return err
		})
		if err != nil || next == nil {
			return err
		}
		after = next
	}
}

// sweepCert opens the signal of retiree id, last certified on last,
// unless the bureau has stopped its pension.
func (s *Store) sweepCert(tx *bolt.Tx, community, id, last string, rule certRule, today time.Time) error {
	day, ok := parseDate(last)
	if !ok {
		return fmt.Errorf("due index entry of retiree %s: %w", id, boltstore.ErrBadKey)
	}
	st, err := projection.Get(tx, id)
	if err != nil {
		return fmt.Errorf("due index entry of retiree %s: %w", id, err)
	}
	decisions, err := decisionsOf(tx, id)
	if err != nil {
		return err
	}
	if bureauView(st, decisions).stateIn(monthOf(today)).state == pb.EntitlementState_STOPPED {
		return resolveCertSignal(tx, s.signals, id, "pension stopped")
	}
	return s.openCertSignal(tx, id, community, rule, rule.dueOn(day))
}

// A certification sweep asked for by the projection waits until no
// retiree has come into the due index for certSweepSettle, at most
// certSweepMaxWait after it was first asked for: a roster arriving in many
// batches is swept once it is in, or once a minute while it streams,
// rather than over and over beside it.
const (
	certSweepSettle  = time.Second
	certSweepMaxWait = time.Minute
)

// RunSignalSweeps sweeps at once and then daily, sweeps the anomalies
// after each payment import and the certifications once retirees came
// into the due index, until ctx ends: the grpcserver.Task of the
// time-driven signals.
func (s *Store) RunSignalSweeps(ctx context.Context) error {
	tick := time.NewTicker(24 * time.Hour)
	defer tick.Stop()
	sweep := s.SweepSignals
	for {
		if err := sweep(s.now()); err != nil {
			// The next sweep tries again; what this one missed waits.
			s.log.Error("work-signal sweep failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			sweep = s.SweepSignals
		case <-s.sweep:
			sweep = s.SweepAnomalies
		case <-s.certSweep:
			if !s.settle(ctx) {
				return nil
			}
			sweep = s.sweepCertifications
		}
	}
}

// settle waits until the projection has asked for no certification sweep
// for certSweepSettle, or certSweepMaxWait has passed; false when ctx
// ended first.
func (s *Store) settle(ctx context.Context) bool {
	deadline := time.NewTimer(certSweepMaxWait)
	defer deadline.Stop()
	for {
		quiet := time.NewTimer(certSweepSettle)
		select {
		case <-ctx.Done():
			quiet.Stop()
			return false
		case <-deadline.C:
			quiet.Stop()
			return true
		case <-quiet.C:
			return true
		case <-s.certSweep:
			quiet.Stop()
		}
	}
}

// sweepCertsAfter asks for a certification sweep once write transaction
// tx commits, once however many retirees of tx ask.
func (s *Store) sweepCertsAfter(tx *bolt.Tx) {
	if s.certKickTx.Swap(tx) != tx {
		tx.OnCommit(func() { kick(s.certSweep) })
	}
}

// kick puts a token in c, without waiting: a sweep asked for while one
// is asked for already is the same sweep.
func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// recoveryDue is the due date of c's next step: the next unpaid
// instalment's (the instalments are paid in order, by what was repaid or
// offset since the plan summed to the balance), else the order's; ok is
// false for a case closed or without either.
func recoveryDue(c *pb.RecoveryCase) (string, bool) {
	if closed(c) {
		return "", false
	}
	if len(c.Instalments) > 0 {
		var planned int64
		for _, in := range c.Instalments {
			planned += in.AmountFen
		}
		paid, cum := planned-c.BalanceFen, int64(0)
		for _, in := range c.Instalments {
			if cum += in.AmountFen; cum > paid {
				return in.DueOn, true
			}
		}
	}
	if due := c.GetOrder().GetDueOn(); due != "" {
		return due, true
	}
	return "", false
}

// recoveryResolutions are the resolutions of a closed case's signal.
var recoveryResolutions = map[pb.RecoveryState]string{
	pb.RecoveryState_RECOVERY_REPAID:      "repaid",
	pb.RecoveryState_RECOVERY_WRITTEN_OFF: "written off",
	pb.RecoveryState_RECOVERY_VOID:        "void",
}

// signalRecovery keeps case c's signal in step with it, in the
// transaction that writes c.
func signalRecovery(tx *bolt.Tx, f *signalfeed.Feed, c *pb.RecoveryCase) error {
	if closed(c) {
		_, err := f.Resolve(tx, recoverySignalKey(c.Id), recoveryResolutions[c.State])
		return err
	}
	due, ok := recoveryDue(c)
	if !ok {
		return nil
	}
	day, ok := parseDate(due)
	if !ok {
		return fmt.Errorf("recovery case %s: due date %q: %w", c.Id, due, boltstore.ErrBadKey)
	}
	return f.Emit(tx, &feedv1.WorkSignal{
		Key: recoverySignalKey(c.Id), Kind: feedv1.SignalKind_RECOVERY_CASE_DUE,
		SubjectKind: feedv1.SubjectKind_RECOVERY_CASE, SubjectId: c.Id, RetireeId: c.RetireeId, CommunityId: c.CommunityId,
		DueTime: timestamppb.New(workdays.EndOfDay(day)),
		Summary: "追回多发养老金：跟进家属在" + due + "前还款",
	})
}

// Signals is the store's work-signal feed.
func (s *Store) Signals() *signalfeed.Feed { return s.signals }

// WatchWorkSignals implements pb.PensionServiceServer: pension's
// work-signal feed (the signals above) under the contract of
// socmgmt.feed.v1. Role service or admin.
func (s *Server) WatchWorkSignals(req *pb.WatchWorkSignalsRequest, stream pb.PensionService_WatchWorkSignalsServer) error {
	return s.store.Signals().Handle(stream.Context(), signalfeed.Handler{
		SinceRevision: req.SinceRevision, Epoch: req.Epoch,
		SendHeader: func() error { return stream.SendHeader(nil) },
		Send: func(ev *feedv1.SignalEvent) error {
			return stream.Send(&pb.WatchWorkSignalsResponse{Event: ev})
		},
		Stopping: s.stopping,
		Fail:     func(ctx context.Context, err error) error { return s.fail(ctx, err) },
	})
}

// signalBackfillBatch is how many recovery cases one transaction of the
// backfill emits.
const signalBackfillBatch = 500

// backfillSignals emits, once, the signals of what a build without the
// feed left open, after the migration that made the feed marked the
// file: the recovery cases with a due date (sealed: readable only once
// the data keys are), and the certifications due by the store's clock
// (the first sweep). Emitting is idempotent, so a backfill broken off
// starts again at the next open without duplicates.
func (s *Store) backfillSignals() error {
	var pending bool
	if err := s.DB().View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(bucketMeta).Get(metaSignalBackfill) != nil
		return nil
	}); err != nil || !pending {
		return err
	}
	var ids []string
	if err := s.ForEachRecoveryCase(func(c *pb.RecoveryCase) { ids = append(ids, c.Id) }); err != nil {
		return err
	}
	for len(ids) > 0 {
		n := min(len(ids), signalBackfillBatch)
		err := s.Update(func(tx *bolt.Tx) error {
			for _, id := range ids[:n] {
				c, err := getCase(tx, &s.Base, id)
				if err != nil {
					return err
				}
				if err := signalRecovery(tx, s.signals, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("emit the work signals of recovery cases: %w", err)
		}
		ids = ids[n:]
	}
	if err := s.SweepSignals(s.now()); err != nil {
		return fmt.Errorf("emit the work signals of certifications due: %w", err)
	}
	return s.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(metaSignalBackfill) })
}
