package handover

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
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
		SubmitTime: timestamppb.New(time.Date(2026, 6, 16, 10, 0, 0, 0, time.UTC)),
	}
	// Schema 3 makes it an agreement with the community's street office,
	// its retiree allocated to the community, with its tracks.
	migrated := proto.CloneOf(h)
	migrated.Kind, migrated.ReceiverCode = pb.Handover_AGREEMENT, servicetest.StreetAB
	migrated.Allocations = []*pb.Allocation{{CommunityId: communityA, RetireeIds: h.RetireeIds}}
	refreshTracks(migrated, "", nil)
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
	s := servicetest.WantVersion0Migrated(t, servicetest.Version0[*Store]{
		File: "handover.db", Buckets: allBuckets, Meta: bucketMeta, Version: storageSchema.Version,
		Records: func(tx *bolt.Tx) error {
			return errors.Join(
				boltstoretest.Put(tx, "meta", "outbox_seq", []byte{0, 0, 0, 0, 0, 0, 0, 1}),
				boltstoretest.PutProto(tx, "handovers", hid, h),
				boltstoretest.Put(tx, "handovers_by_enterprise", enterpriseX+"\x00"+hid, nil),
				boltstoretest.Put(tx, "outbox", "a\x00\x00\x00\x00\x00\x00\x00\x01", encoded),
			)
		},
		Open: func(path string) (*Store, error) { return OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)}) },
		Reads: func(s *Store) []servicetest.Read {
			return []servicetest.Read{
				{Name: "handover", Read: func() (any, error) { return s.GetHandover(hid) }, Want: migrated},
				{Name: "handovers of the enterprise", Read: func() (any, error) {
					hs, _, err := s.ListHandovers(Filter{EnterpriseCode: enterpriseX}, 10, nil)
					return hs, err
				}, Want: []*pb.Handover{migrated}},
				{Name: "handovers received in the district", Read: func() (any, error) {
					hs, _, err := s.ListHandovers(Filter{Area: servicetest.DistrictAB}, 10, nil)
					return hs, err
				}, Want: []*pb.Handover{migrated}},
				{Name: "outbox command", Read: func() (any, error) { return s.nextCommand(LaneActivity) }, Want: &command{seq: 1, kind: kindCreateVenue, handoverID: hid, part: "P1", payload: payload}},
			}
		},
		Opts: []cmp.Option{cmp.AllowUnexported(command{})},
	})
	if n := s.Backlog(); n != 1 {
		t.Errorf("backlog = %d, want the 1 queued command", n)
	}
}

// TestOpenStoreMigratesVersion1 opens a file of layout 1, which has no
// index of obligations by retiree, holding an obligation that names one;
// the migration indexes it, so that the retiree's death stops it.
func TestOpenStoreMigratesVersion1(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handover.db")
	hid := newHandoverID(time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC))
	h := &pb.Handover{Id: hid, State: pb.Handover_COMPLETED, EnterpriseCreditCode: enterpriseX, CommunityId: communityA, RetireeIds: []string{deadRetiree}}
	owed := &pb.OwedObligation{HandoverId: hid, EnterpriseCreditCode: enterpriseX, CommunityId: communityA,
		Obligation: &pb.Obligation{Kind: pb.Obligation_MEDICAL_UNINSURED, MonthlyAmountFen: 9000, RetireeId: deadRetiree}}
	key := string(boltstore.AppendU64(boltstore.Prefix(enterpriseX, hid), 0))
	v1 := slices.DeleteFunc(slices.Clone(allBuckets), func(b []byte) bool { return string(b) == string(bucketObligationsByRetiree) })
	boltstoretest.WriteFile(t, path, v1, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, string(bucketMeta), "schema_version", boltstore.U64(1)),
			boltstoretest.PutProto(tx, "handovers", hid, h),
			boltstoretest.PutProto(tx, "obligations", key, owed),
		)
	})
	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := boltstoretest.SchemaVersion(t, s.DB(), bucketMeta); v != storageSchema.Version {
		t.Errorf("schema version = %d, want %d", v, storageSchema.Version)
	}
	err = s.DB().Update(func(tx *bolt.Tx) error { return s.applyRetiree(tx, nil, died(deadRetiree, "2026-07-04")) })
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := s.ListObligations(ObligationFilter{}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].StopsFrom != "2026-08" {
		t.Errorf("obligations after the death = %v, want stopped from 2026-08", list)
	}
}

// TestOpenStoreMigratesVersion3 opens a file of layout 3, which has no
// buckets of archive files in custody, holding a submitted package with a
// dossier received before custody was kept; the migration adds the
// buckets, and the package's next dossier goes into custody.
func TestOpenStoreMigratesVersion3(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handover.db")
	hid := newHandoverID(time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC))
	h := &pb.Handover{
		Id: hid, State: pb.Handover_SUBMITTED, EnterpriseCreditCode: enterpriseX, ReceiverCode: servicetest.StreetAB,
		RetireeIds: []string{"abcdefghijklmnop", "bcdefghijklmnopq"}, Etag: "r2",
		SubmitTime: timestamppb.New(time.Date(2026, 6, 16, 10, 0, 0, 0, time.UTC)),
		Dossiers: []*pb.Dossier{
			{RetireeId: "abcdefghijklmnop", DossierNo: "D-1", Volumes: 1, State: pb.Dossier_RECEIVED, Checklist: fullChecklist()},
			{RetireeId: "bcdefghijklmnopq", DossierNo: "D-2", Volumes: 3, State: pb.Dossier_PENDING, Checklist: fullChecklist()},
		},
	}
	v3 := slices.DeleteFunc(slices.Clone(allBuckets), func(b []byte) bool {
		return slices.ContainsFunc(custodyBuckets, func(c []byte) bool { return string(c) == string(b) })
	})
	boltstoretest.WriteFile(t, path, v3, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, string(bucketMeta), "schema_version", boltstore.U64(3)),
			boltstoretest.PutProto(tx, "handovers", hid, h),
		)
	})
	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v := boltstoretest.SchemaVersion(t, s.DB(), bucketMeta); v != storageSchema.Version {
		t.Errorf("schema version = %d, want %d", v, storageSchema.Version)
	}
	allow := func(*pb.Handover) error { return nil }
	got, err := s.mutate(hid, "", Actor{Subject: "archivist-heping"}, allow, func(w *txn, cur *pb.Handover) (string, string, error) {
		detail, err := w.receiveArchives(cur, archiveReceipt{received: []string{"bcdefghijklmnopq"}}, w.actor)
		return actionArchivesReceived, detail, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Dossiers[0].ArchiveFileId != "" || got.Dossiers[1].ArchiveFileId == "" {
		t.Errorf("files %q, %q: want the second dossier's only", got.Dossiers[0].ArchiveFileId, got.Dossiers[1].ArchiveFileId)
	}
	files, _, err := s.ListArchiveFiles(ArchiveFilter{District: servicetest.DistrictAB}, 10, nil)
	if err != nil || len(files) != 1 || files[0].Volumes != 3 {
		t.Errorf("files in custody %v, %v", files, err)
	}
}
