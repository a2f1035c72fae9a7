package activity

import (
	"context"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// Activity's work signals (see WatchWorkSignals) are notices to a
// retiree, emitted resolved so that they never sit in the open set:
// ACTIVITY_CANCELLED to every retiree registered (confirmed or waiting)
// for an activity cancelled, under "activity-cancelled/<activity>/<retiree>",
// and WAITLIST_PROMOTED to a retiree whose waiting registration took a
// freed place, under "promoted/<activity>/<retiree>/<position>": the
// registration's position makes each promotion a key of its own, so a
// retiree who cancels, registers again and is promoted again is told
// again (the feed drops an emit identical to a resolved one). Both carry
// the activity's title, start (RFC 3339) and venue in their details. No
// RPC changes an activity's time or venue, so ACTIVITY_CHANGED is never
// emitted.

// noticeResolution is the resolution of every notice.
const noticeResolution = "notice"

// notice is the resolved signal of kind about activity a for retireeID.
func notice(tx *bolt.Tx, kind feedv1.SignalKind, key, summary string, a *pb.Activity, retireeID string) *feedv1.WorkSignal {
	venue := a.VenueId
	v := new(pb.Venue)
	if boltstore.GetProto(tx.Bucket(bucketVenues), []byte(a.VenueId), v, errVenueNotFound) == nil {
		venue = v.Name
	}
	return &feedv1.WorkSignal{
		Key: key, Kind: kind, SubjectKind: feedv1.SubjectKind_ACTIVITY, SubjectId: a.Id,
		RetireeId: retireeID, CommunityId: a.CommunityId,
		Resolved: true, Resolution: noticeResolution, Summary: summary,
		Details: map[string]string{
			signalfeed.DetailTitle: signalfeed.Clean(a.Title, signalfeed.MaxDetailLen),
			signalfeed.DetailStart: a.StartTime,
			signalfeed.DetailPlace: signalfeed.Clean(venue, signalfeed.MaxDetailLen),
		},
	}
}

// noticeCancelled tells retireeID, registered for a, that a is cancelled.
func (s *Store) noticeCancelled(tx *bolt.Tx, a *pb.Activity, retireeID string) error {
	return s.signals.Emit(tx, notice(tx, feedv1.SignalKind_ACTIVITY_CANCELLED,
		"activity-cancelled/"+a.Id+"/"+retireeID, "告知老人：其报名的活动已取消", a, retireeID))
}

// noticePromoted tells the retiree of r, promoted from a's waiting list,
// that it has a place.
func (s *Store) noticePromoted(tx *bolt.Tx, a *pb.Activity, r *pb.Registration) error {
	if r == nil {
		return nil
	}
	return s.signals.Emit(tx, notice(tx, feedv1.SignalKind_WAITLIST_PROMOTED,
		"promoted/"+a.Id+"/"+r.RetireeId+"/"+strconv.FormatInt(r.Position, 10), "告知老人：已从候补转为正式报名，可以参加活动", a, r.RetireeId))
}

// WatchWorkSignals implements pb.ActivityServiceServer: activity's
// work-signal feed (the notices above) under the contract of
// socmgmt.feed.v1. Role service or admin.
func (s *Server) WatchWorkSignals(req *pb.WatchWorkSignalsRequest, stream pb.ActivityService_WatchWorkSignalsServer) error {
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
