package registry

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Registry's work signals (see WatchWorkSignals): a death report waiting
// for verification, DEATH_REPORT_UNVERIFIED under key
// "death-report/<id>", opened in the transaction that files the report
// and resolved ("verified" or "rejected") in the one that decides it. A
// death recorded at once (RecordDeath) has nothing to verify and opens
// none.

// deathVerificationDays is the working days a community has to verify a
// death report: the report's own data has no verification deadline (its
// reporting deadline is the family's duty), so the signal is due at the
// end of the fifth working day after the day it was filed (China time).
const deathVerificationDays = 5

// metaSignalBackfill, while present, says that the death reports open
// before the feed existed are still to be emitted (see backfillSignals).
var metaSignalBackfill = []byte("signal_backfill")

// deathSignalKey is the feed key of death report id.
func deathSignalKey(id string) string { return "death-report/" + id }

// deathSignal is the open signal of REPORTED report d.
func deathSignal(d *pb.DeathReport, cal *workdays.Calendar) *feedv1.WorkSignal {
	filed := d.ReportTime.AsTime()
	due, _ := cal.AddWorkingDays(workdays.Today(filed), deathVerificationDays)
	end := workdays.EndOfDay(due)
	return &feedv1.WorkSignal{
		Key: deathSignalKey(d.Id), Kind: feedv1.SignalKind_DEATH_REPORT_UNVERIFIED,
		SubjectKind: feedv1.SubjectKind_DEATH_REPORT, SubjectId: d.Id,
		RetireeId: d.RetireeId, CommunityId: d.CommunityId,
		StartTime: timestamppb.New(filed), DueTime: timestamppb.New(end),
		Summary: "核实死亡报告：核对死亡证明等材料后核实或驳回",
	}
}

// signalDeathReport keeps d's signal in step with it, within the
// transaction that stores d: open while REPORTED, resolved when it is
// verified or rejected.
func (s *Store) signalDeathReport(tx *bolt.Tx, d *pb.DeathReport) error {
	switch d.State {
	case pb.DeathReportState_REPORTED:
		return s.signals.Emit(tx, deathSignal(d, s.calendar))
	case pb.DeathReportState_VERIFIED:
		_, err := s.signals.Resolve(tx, deathSignalKey(d.Id), "verified")
		return err
	case pb.DeathReportState_REJECTED:
		_, err := s.signals.Resolve(tx, deathSignalKey(d.Id), "rejected")
		return err
	}
	return nil
}

// signalBackfillBatch is how many open death reports one transaction of
// the backfill emits.
const signalBackfillBatch = 500

// backfillSignals emits the signals of the death reports left open by a
// build without the feed, once, after the migration that made the feed
// marked the file: the reports are sealed, and the data keys are known
// only after the migrations. Emitting is idempotent, so a backfill
// broken off starts again at the next open without duplicates.
func (s *Store) backfillSignals() error {
	var pending bool
	if err := s.DB().View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(bucketMeta).Get(metaSignalBackfill) != nil
		return nil
	}); err != nil || !pending {
		return err
	}
	var after []byte
	for {
		var next []byte
		err := s.Update(func(tx *bolt.Tx) error {
			var err error
			next, err = boltstore.Scan{After: after, Size: signalBackfillBatch, MaxExamined: signalBackfillBatch}.Page(
				tx.Bucket(bucketDeathReportOpen).Cursor(), func(_, id []byte) (bool, error) {
					d := new(pb.DeathReport)
					if err := s.GetProto(tx, bucketDeathReports, id, d, errDeathReportNotFound); err != nil {
						return false, err
					}
					return true, s.signalDeathReport(tx, d)
				})
			return err
		})
		if err != nil {
			return fmt.Errorf("emit the work signals of open death reports: %w", err)
		}
		if next == nil {
			break
		}
		after = next
	}
	return s.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(metaSignalBackfill) })
}

// Signals is the store's work-signal feed.
func (s *Store) Signals() *signalfeed.Feed { return s.signals }
