package casework

import (
	"context"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// scheduleBatch is how many retirees one transaction of ScheduleMonth
// schedules: about 170 ms of write lock a transaction on the bench
// machine, and a city's month of 200,000 retirees in about 8 s (with 1,000
// a transaction it took 11 s, the pages of the large index B-trees
// being written again by each commit).
const scheduleBatch = 5000

// ScheduleResult counts what scheduling made and found made.
type ScheduleResult struct {
	Created, Existing int64
}

// ScheduleMonth makes the CARE_VISIT items of month (its first day, China
// time) for every LIVING retiree of the projection on their tier's
// schedule (see periodsOf), in batches of scheduleBatch retirees.
// Idempotent: an item is made once per visit/<retiree>/<period>.
func (s *Store) ScheduleMonth(ctx context.Context, month time.Time) (ScheduleResult, error) {
	var total ScheduleResult
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		r, next, err := s.ScheduleBatch(month, after, scheduleBatch)
		total.Created += r.Created
		total.Existing += r.Existing
		if err != nil || next == "" {
			return total, err
		}
		after = next
	}
}

// ScheduleBatch schedules month for the next n retirees of the
// projection after the id after, in one transaction, and returns the id
// to go on after ("" at the end).
func (s *Store) ScheduleBatch(month time.Time, after string, n int) (ScheduleResult, string, error) {
	var r ScheduleResult
	var next string
	err := s.Update(func(tx *bolt.Tx) error {
		r = ScheduleResult{}
		ids := inputcheck.NewOpaqueIDGroup()
		var err error
		next, err = projection.Range(tx, after, n, func(st *registryv1.RetireeState) error {
			return s.scheduleRetiree(tx, st, month, ids, &r)
		})
		return err
	})
	return r, next, err
}

// scheduleRetiree makes a retiree's items of month. A period that began
// before the retiree's override last changed gets no new item: a tier
// change applies from the next period.
func (s *Store) scheduleRetiree(tx *bolt.Tx, st *registryv1.RetireeState, month time.Time, ids *inputcheck.OpaqueIDGroup, r *ScheduleResult) error {
	if st.Status != registryv1.RetireeStatus_LIVING || st.CommunityId == "" {
		return nil
	}
	stored, err := storedProfile(tx, st.Id)
	if err != nil {
		return err
	}
	tier := tierOf(st, stored, month)
	var changed time.Time
	if v := tx.Bucket(bucketCareTierChanged).Get([]byte(st.Id)); v != nil {
		u, err := boltstore.ParseU64(v)
		if err != nil {
			return err
		}
		changed = time.Unix(int64(u), 0) //nolint:gosec // G115: keyTime wrote a non-negative Unix time
	}
	for _, p := range periodsOf(tier, month) {
		key := "visit/" + st.Id + "/" + p.key
		if tx.Bucket(bucketSources).Get(boltstore.Key(careSource, key)) != nil {
			r.Existing++
			continue
		}
		if p.start.Before(changed) {
			continue
		}
		it, _, err := s.openItem(tx, ItemSpec{
			Kind: pb.WorkKind_CARE_VISIT, Subject: retireeSubject(st.Id), RetireeID: st.Id, CommunityID: st.CommunityId,
			Start: p.start, Due: p.due, Priority: pb.Priority_PRIORITY_NORMAL, Summary: visitSummary[tier] + " " + p.key,
			Source: careSource, SourceKey: key, Actor: serviceSubject, IDs: ids,
		})
		if err != nil {
			return err
		}
		if err := reportItemMade(tx, it, p.reportMonth); err != nil {
			return err
		}
		r.Created++
	}
	return nil
}

// visitSummary is what a queue shows of a scheduled visit.
var visitSummary = map[pb.RiskTier]string{
	pb.RiskTier_HIGH: "每周探视", pb.RiskTier_KEY: "每月探视", pb.RiskTier_REGULAR: "季度探视",
}

// retireeSubject is the subject of an item about a retiree.
func retireeSubject(id string) *pb.Subject {
	return &pb.Subject{Kind: feedv1.SubjectKind_RETIREE, Id: id}
}

// periodOfKey reads the period back from a visit item's source key
// (visit/<retiree>/<period>): its key, and the month the report counts it
// in ("" for a quarter, which it does not count).
func periodOfKey(sourceKey string) (key, reportMonth string, ok bool) {
	rest, found := strings.CutPrefix(sourceKey, "visit/")
	if !found {
		return "", "", false
	}
	_, key, found = strings.Cut(rest, "/")
	if !found {
		return "", "", false
	}
	switch {
	case strings.Contains(key, "-W"):
		var y, w int
		if _, err := fmt.Sscanf(key, "%04d-W%02d", &y, &w); err != nil {
			return "", "", false
		}
		return key, mondayOfISOWeek(y, w).Format("2006-01"), true
	case strings.Contains(key, "-Q"):
		return key, "", true
	}
	return key, key, true
}

// mondayOfISOWeek is the Monday of ISO week w of year y, China time.
func mondayOfISOWeek(y, w int) time.Time {
	// 4 January is always in week 1.
	jan4 := time.Date(y, 1, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, 7*(w-1))
}

// DefaultScheduleInterval is how often the service schedules the current
// month (idempotent, so a restart scheduling again is harmless).
const DefaultScheduleInterval = 24 * time.Hour

// ScheduleTask schedules the current month at start and then every
// interval until ctx ends.
func (s *Store) ScheduleTask(interval time.Duration) grpcserver.Task {
	return grpcserver.Task{Name: "visit scheduler", Run: func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			r, err := s.ScheduleMonth(ctx, monthOf(s.now()))
			if err != nil && ctx.Err() == nil {
				s.log.Warn("scheduling visits failed", zap.Error(err))
			} else if r.Created > 0 {
				s.log.Info("visits scheduled", zap.Int64("created", r.Created), zap.Int64("existing", r.Existing))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}}
}
