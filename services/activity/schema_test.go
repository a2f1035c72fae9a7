package activity

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
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
	if v := boltstoretest.SchemaVersion(t, s.DB(), bucketMeta); v != 1 {
		t.Errorf("schema version = %d, want 1", v)
	}
	boltstoretest.CheckPageSecret(t, s.PageTokens(), secret)
	anyone := func(string) error { return nil }
	for _, tc := range []struct {
		name string
		read func() (any, error)
		want any
	}{
		{"venue", func() (any, error) { return s.GetVenue(venue.Id, anyone) }, venue},
		{"venues of the community", func() (any, error) {
			venues, _, err := s.ListVenues(communityA, 10, nil)
			return venues, err
		}, []*pb.Venue{venue}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}
