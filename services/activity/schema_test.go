package activity

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
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
