package activity

import (
	"bytes"
	"errors"
	"path/filepath"
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
	secret := bytes.Repeat([]byte{7}, 32)
	path := filepath.Join(t.TempDir(), "activity.db")
	boltstoretest.WriteFile(t, path, allBuckets, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.PutProto(tx, "venues", venue.Id, venue),
			boltstoretest.Put(tx, "venues_by_community", communityA+"\x00"+venue.Id, nil),
		)
	})

	s, err := OpenStore(path, nil, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, 1, secret)
	anyone := func(string) error { return nil }
	servicetest.WantReads(t, []servicetest.Read{
		{Name: "venue", Read: func() (any, error) { return s.GetVenue(venue.Id, anyone) }, Want: venue},
		{Name: "venues of the community", Read: func() (any, error) {
			venues, _, err := s.ListVenues(communityA, 10, nil)
			return venues, err
		}, Want: []*pb.Venue{venue}},
	})
}
