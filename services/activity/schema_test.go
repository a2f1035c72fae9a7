package activity

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// TestOpenStoreMigratesVersion0 opens a file in the layout written before
// storage versions were recorded (version 0: today's buckets and no
// version key), built with plain bbolt, and reads its records back.
func TestOpenStoreMigratesVersion0(t *testing.T) {
	t.Parallel()
	venue := &pb.Venue{Id: "abcdefghijklmnop", CommunityId: communityA, Name: "活动室", Address: "北市场街1号", Capacity: 40, AreaSqm: 80}
	anyone := func(string) error { return nil }
	servicetest.WantVersion0Migrated(t, servicetest.Version0[*Store]{
		File: "activity.db", Buckets: bucketsV1, Meta: bucketMeta, Version: storageSchema.Version,
		Records: func(tx *bolt.Tx) error {
			return errors.Join(
				boltstoretest.PutProto(tx, "venues", venue.Id, venue),
				boltstoretest.Put(tx, "venues_by_community", communityA+"\x00"+venue.Id, nil),
			)
		},
		Open: func(path string) (*Store, error) {
			return OpenStore(path, nil, StoreOptions{Logger: zaptest.NewLogger(t)})
		},
		Reads: func(s *Store) []servicetest.Read {
			return []servicetest.Read{
				{Name: "venue", Read: func() (any, error) { return s.GetVenue(venue.Id, anyone) }, Want: venue},
				{Name: "venues of the community", Read: func() (any, error) {
					venues, _, err := s.ListVenues(communityA, 10, nil)
					return venues, err
				}, Want: []*pb.Venue{venue}},
			}
		},
	})
}

// TestOpenStoreMigratesRetireeIndexToVersion5 opens a file of storage
// version 4, whose retirees' registrations are indexed by activity id,
// and checks that the index by the time of registration is built from
// the registrations stored, the old index dropped, and that the lists and
// a registration made again after the migration keep it in step.
func TestOpenStoreMigratesRetireeIndexToVersion5(t *testing.T) {
	t.Parallel()
	r1, r2 := livingIn(communityA, 1)[0], livingIn(communityA, 1)[0]
	venue := &pb.Venue{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Name: "活动室", Capacity: 40}
	activity := func(id string, day int) (*pb.Activity, activityMeta) {
		start := sh(2026, 7, day, 9, 0).Unix()
		return &pb.Activity{Id: id, CommunityId: communityA, VenueId: venue.Id, Title: "书法班", Capacity: 10, TimeZone: DefaultTimeZone, State: pb.Activity_SCHEDULED},
			activityMeta{nextPosition: 3, sessions: 1, firstStart: start, lastStart: start, lastEnd: start + 3600}
	}
	a, metaA := activity(inputcheck.NewOpaqueID(), 1)
	b, metaB := activity(inputcheck.NewOpaqueID(), 2)
	metaA.confirmed, metaB.confirmed, metaB.nextPosition = 1, 1, 2
	at := func(minute int) *timestamppb.Timestamp {
		return timestamppb.New(testNow.Add(time.Duration(minute) * time.Minute))
	}
	regs := []*pb.Registration{
		{ActivityId: a.Id, RetireeId: r1.Id, State: pb.Registration_CONFIRMED, Position: 1, RegisterTime: at(-30)},
		{ActivityId: a.Id, RetireeId: r2.Id, State: pb.Registration_CANCELLED, Position: 2, RegisterTime: at(-20)},
		{ActivityId: b.Id, RetireeId: r1.Id, State: pb.Registration_CONFIRMED, Position: 1, RegisterTime: at(-10)},
	}

	path := filepath.Join(t.TempDir(), "activity.db")
	secret := bytes.Repeat([]byte{7}, 32)
	v4Buckets := slices.Concat(bucketsV1, [][]byte{[]byte("projection_retirees")}, calendarBuckets, signalfeed.Buckets)
	boltstoretest.WriteFile(t, path, v4Buckets, func(tx *bolt.Tx) error {
		puts := []error{
			boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(4)),
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.PutProto(tx, "projection_retirees", r1.Id, r1),
			boltstoretest.PutProto(tx, "projection_retirees", r2.Id, r2),
			boltstoretest.PutProto(tx, "venues", venue.Id, venue),
		}
		for _, x := range []struct {
			a    *pb.Activity
			meta activityMeta
		}{{a, metaA}, {b, metaB}} {
			puts = append(puts,
				boltstoretest.PutProto(tx, "activities", x.a.Id, x.a),
				boltstoretest.Put(tx, "activity_meta", x.a.Id, x.meta.encode()),
				boltstoretest.Put(tx, "occurrences", string(occurrenceKey(x.a.Id, 1)), occurrenceValue(span{start: x.meta.firstStart, end: x.meta.lastEnd})),
			)
		}
		for _, r := range regs {
			puts = append(puts,
				boltstoretest.PutProto(tx, "registrations", string(boltstore.AppendU64(boltstore.Prefix(r.ActivityId), uint64(r.Position))), r),
				boltstoretest.Put(tx, "registrations_by_retiree", string(boltstore.Key(r.ActivityId, r.RetireeId)), boltstore.U64(uint64(r.Position))),
				// The version-4 index: retiree, activity -> nil.
				boltstoretest.Put(tx, "retiree_registrations", string(boltstore.Key(r.RetireeId, r.ActivityId)), nil),
			)
		}
		return errors.Join(puts...)
	})

	s, err := OpenStore(path, nil, StoreOptions{Logger: zaptest.NewLogger(t), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, storageSchema.Version, secret)
	wantIndexInStep(t, s)
	err = s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("retiree_registrations")) != nil {
			t.Error("the version-4 index is still there")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	listed := func(retireeID string) ([]string, error) {
		list, _, err := s.ListRetireeRegistrations(retireeID, allow, 10, nil)
		return registrationLines(list), err
	}
	servicetest.WantReads(t, []servicetest.Read{
		{Name: "r1's registrations", Read: func() (any, error) { return listed(r1.Id) }, Want: []string{b.Id + " CONFIRMED", a.Id + " CONFIRMED"}},
		{Name: "r2's registrations", Read: func() (any, error) { return listed(r2.Id) }, Want: []string{a.Id + " CANCELLED"}},
	})

	// r2 registers again: the cancelled registration's entry makes way.
	if _, err := s.Register(a.Id, r2.Id, fixture, allow); err != nil {
		t.Fatal(err)
	}
	wantIndexInStep(t, s)
	if got, err := listed(r2.Id); err != nil || !slices.Equal(got, []string{a.Id + " CONFIRMED"}) {
		t.Errorf("r2's registrations after registering again: %v, %v", got, err)
	}
}
