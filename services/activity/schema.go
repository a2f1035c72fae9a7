package activity

import (
	"bytes"
	"errors"
	"slices"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Bucket names of the activity service's bbolt file, all in one place
// (the retiree projection keeps its own, see internal/projection). Keys
// are order-preserving: ids as strings, times as 8-byte big-endian Unix
// seconds, counters as big-endian numbers. Ids are fixed-width (idLen
// characters), so composite keys need no separator after an id that is
// followed by fixed-width parts; a 0 byte follows an id that starts a key
// (boltstore.Prefix) so that prefix scans stop at its end.
var (
	// bucketMeta holds only the keys boltstore owns.
	bucketMeta = boltstore.MetaBucket
	// bucketVenues maps venue id to Venue.
	bucketVenues = []byte("venues")
	// bucketVenuesByCommunity holds community id, 0, venue id -> nil.
	bucketVenuesByCommunity = []byte("venues_by_community")
	// bucketVenueKeys maps a CreateVenue request key to the fingerprint of
	// the venue first created with it and that venue's id.
	bucketVenueKeys = []byte("venue_keys")
	// bucketActivities maps activity id to Activity.
	bucketActivities = []byte("activities")
	// bucketActivityMeta maps activity id to its activityMeta: the
	// registration counters and the span of its sessions.
	bucketActivityMeta = []byte("activity_meta")
	// bucketOccurrences holds activity id, 0, number (4 bytes) -> start,
	// end: every session of an activity as it was expanded at creation.
	bucketOccurrences = []byte("occurrences")
	// bucketVenueSlots is the clash index: venue id, 0, start, activity
	// id, number -> end, state. Sessions are at most maxDuration long, so
	// the sessions that can overlap [s, e) start in [s-maxDuration, e).
	bucketVenueSlots = []byte("venue_slots")
	// bucketCommunitySlots lists sessions by community and time: community
	// id, 0, start, activity id, number -> end, state.
	bucketCommunitySlots = []byte("community_slots")
	// bucketRegistrations holds activity id, 0, position -> Registration.
	bucketRegistrations = []byte("registrations")
	// bucketRegistrationByRetiree holds activity id, 0, retiree id ->
	// position.
	bucketRegistrationByRetiree = []byte("registrations_by_retiree")
	// bucketRetireeRegistrationsV1 held retiree id, 0, activity id -> nil
	// up to version 4; bucketRetireeRegistrations replaced it in version 5.
	bucketRetireeRegistrationsV1 = []byte("retiree_registrations")
	// bucketRetireeRegistrations holds retiree id, 0, register time (8
	// bytes, Unix nanoseconds), activity id -> position: a retiree's
	// registrations in the order they were made, one per activity (a
	// registration made again after a cancellation replaces the old), so
	// that the retiree's page lists them latest first and a death or a
	// move can release their places (version 5).
	bucketRetireeRegistrations = []byte("retiree_registrations_by_time")
	// bucketAttendance holds activity id, 0, session start, retiree id ->
	// nil: who attended a session.
	bucketAttendance = []byte("attendance")
	// bucketAttendanceRecorded holds activity id, 0, session start -> the
	// number of confirmed places when the attendance was recorded.
	bucketAttendanceRecorded = []byte("attendance_recorded")
	// bucketAudit is the audit log of reads and changes of retirees (see
	// audit.Bucket).
	bucketAudit = audit.Bucket
	// bucketCalendarSubscriptions maps a calendar subscription's id to its
	// CalendarSubscription (version 2).
	bucketCalendarSubscriptions = []byte("calendar_subscriptions")
	// bucketCalendarFeeds maps the SHA-256 of a feed token (32 bytes) to
	// its subscription's id: the feed's only way in. The token itself is
	// stored nowhere (version 2).
	bucketCalendarFeeds = []byte("calendar_feeds")
	// bucketCalendarSubscriptionsByOwner holds community id, 0, owner key
	// (ownerKeyLen bytes), subscription id -> the SHA-256 of its token,
	// which revoking deletes from bucketCalendarFeeds (version 2).
	bucketCalendarSubscriptionsByOwner = []byte("calendar_subscriptions_by_owner")

	// bucketsV1 are the buckets of storage version 1.
	bucketsV1 = [][]byte{
		bucketMeta, bucketVenues, bucketVenuesByCommunity, bucketVenueKeys,
		bucketActivities, bucketActivityMeta, bucketOccurrences, bucketVenueSlots,
		bucketCommunitySlots, bucketRegistrations, bucketRegistrationByRetiree, bucketRetireeRegistrationsV1,
		bucketAttendance, bucketAttendanceRecorded, bucketAudit,
	}
	// calendarBuckets are the buckets version 2 adds.
	calendarBuckets = [][]byte{bucketCalendarSubscriptions, bucketCalendarFeeds, bucketCalendarSubscriptionsByOwner}

	allBuckets = slices.Concat(
		slices.DeleteFunc(slices.Clone(bucketsV1), func(b []byte) bool { return bytes.Equal(b, bucketRetireeRegistrationsV1) }),
		calendarBuckets, signalfeed.Buckets, [][]byte{bucketRetireeRegistrations},
	)
)

// storageSchema is the layout of activity.db, which OpenStore opens with
// boltstore.OpenVersioned; boltstore.Schema says how to change it.
var storageSchema = boltstore.Schema{
	Meta:       bucketMeta,
	Buckets:    allBuckets,
	Version:    5,
	Migrations: []boltstore.Migration{boltstore.RecordFirstVersion, calendarSubscriptions, audit.Migration(2), signalFeed, retireeRegistrationsByTime},
}

// calendarSubscriptions is the step to version 2: the buckets of calendar
// subscriptions, empty. A build before it must not open such a file: it
// would not know that feeds exist, nor keep them revocable.
var calendarSubscriptions = boltstore.Migration{
	From: 1, To: 2, Name: "calendar subscriptions",
	Apply: func(tx *bolt.Tx) error {
		for _, name := range calendarBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	},
}

// signalFeed is the step to version 4: the work-signal feed's buckets,
// created empty on open. Activity's signals are notices, resolved when
// emitted, so nothing is open to backfill. A build before it must not
// open such a file: its changes would emit no notices.
var signalFeed = boltstore.Migration{From: 3, To: 4, Name: "the work-signal feed"}

// retireeRegistrationsByTime is the step to version 5: a retiree's
// registrations indexed by the time they were made, built from the
// registrations stored, in place of the index by activity id, whose
// order meant nothing to a reader. A build before it must not open such
// a file: it would keep neither index.
var retireeRegistrationsByTime = boltstore.Migration{
	From: 4, To: 5, Name: "a retiree's registrations indexed by the time they were made",
	Apply: func(tx *bolt.Tx) error {
		byTime, err := tx.CreateBucketIfNotExists(bucketRetireeRegistrations)
		if err != nil {
			return err
		}
		err = tx.Bucket(bucketRegistrations).ForEach(func(_, v []byte) error {
			r := new(pb.Registration)
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			return byTime.Put(retireeRegistrationKey(r), boltstore.U64(keyU64(r.Position)))
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(bucketRetireeRegistrationsV1); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
			return err
		}
		return nil
	},
}
