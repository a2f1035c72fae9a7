package pension

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestOpenStoreMigratesVersion0 opens a file in the layout written before
// storage versions were recorded (version 0: today's buckets, the
// projection's among them, and no version key), built with plain bbolt,
// and reads its records back.
func TestOpenStoreMigratesVersion0(t *testing.T) {
	t.Parallel()
	id := retireeID(1)
	state := &registryv1.RetireeState{
		Id: id, IdNumberKey: testKeyer(t).Key(idNumber(t, 1)), CommunityId: communityA,
		Status: registryv1.RetireeStatus_LIVING, ManagementMode: registryv1.ManagementMode_COMMUNITY,
	}
	payment := &pb.Payment{
		RetireeId: id, Month: "2026-05", BasicFen: 300000, TotalFen: 300000,
		PaidOn: "2026-05-10", BatchId: "B1", Version: 1,
	}
	projectionBuckets := [][]byte{
		[]byte("projection_retirees"), []byte("projection_by_idkey"),
		[]byte("projection_by_community"), []byte("projection_meta"),
	}
	servicetest.WantVersion0Migrated(t, servicetest.Version0[*Store]{
		File: "pension.db", Buckets: append(projectionBuckets, allBuckets...), Meta: bucketMeta, Version: 1,
		Records: func(tx *bolt.Tx) error {
			return errors.Join(
				boltstoretest.PutProto(tx, "payments", id+"\x002026-05", payment),
				boltstoretest.PutProto(tx, "projection_retirees", id, state),
			)
		},
		Open: func(path string) (*Store, error) {
			return OpenStore(path, testKeyer(t), StoreOptions{Logger: zaptest.NewLogger(t)})
		},
		Reads: func(s *Store) []servicetest.Read {
			return []servicetest.Read{
				{Name: "payments", Read: func() (any, error) {
					m, _ := parseMonth("2026-05")
					return s.Payments(id, m, m)
				}, Want: []*pb.Payment{payment}},
				{Name: "projected retiree", Read: func() (any, error) { return s.Retiree(id) }, Want: state},
			}
		},
	})
}
