package handover

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// TestOpenStoreMigratesVersion0 opens a file in the layout written before
// storage versions were recorded (version 0: today's buckets and no
// version key), built with plain bbolt, and reads its records back,
// including a command still waiting in the outbox.
func TestOpenStoreMigratesVersion0(t *testing.T) {
	t.Parallel()
	hid := newHandoverID(time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC))
	h := &pb.Handover{
		Id: hid, State: pb.Handover_COMPLETED, EnterpriseCreditCode: enterpriseX,
		CommunityId: communityA, RetireeIds: []string{"abcdefghijklmnop"},
	}
	payload, err := proto.Marshal(&activityv1.CreateVenueRequest{
		Venue:      &activityv1.Venue{CommunityId: communityA, Name: "活动室", Capacity: 40},
		RequestKey: hid + "/venue/P1",
	})
	if err != nil {
		t.Fatal(err)
	}
	// A command as encode writes it: version 1, kind 2 (venue), the
	// length-prefixed handover id and part, then the payload.
	encoded := append([]byte{1, 2, byte(len(hid))}, hid...)
	encoded = append(append(encoded, 2, 'P', '1'), payload...)
	secret := bytes.Repeat([]byte{7}, 32)
	path := filepath.Join(t.TempDir(), "handover.db")
	boltstoretest.WriteFile(t, path, allBuckets, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.Put(tx, "meta", "outbox_seq", []byte{0, 0, 0, 0, 0, 0, 0, 1}),
			boltstoretest.PutProto(tx, "handovers", hid, h),
			boltstoretest.Put(tx, "handovers_by_enterprise", enterpriseX+"\x00"+hid, nil),
			boltstoretest.Put(tx, "outbox", "a\x00\x00\x00\x00\x00\x00\x00\x01", encoded),
		)
	})

	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, 1, secret)
	if n := s.Backlog(); n != 1 {
		t.Errorf("backlog = %d, want the 1 queued command", n)
	}
	servicetest.WantReads(t, []servicetest.Read{
		{Name: "handover", Read: func() (any, error) { return s.GetHandover(hid) }, Want: h},
		{Name: "handovers of the enterprise", Read: func() (any, error) {
			hs, _, err := s.ListHandovers(Filter{EnterpriseCode: enterpriseX}, 10, nil)
			return hs, err
		}, Want: []*pb.Handover{h}},
		{Name: "outbox command", Read: func() (any, error) { return s.nextCommand(LaneActivity) }, Want: &command{seq: 1, kind: kindCreateVenue, handoverID: hid, part: "P1", payload: payload}},
	}, cmp.AllowUnexported(command{}))
}
