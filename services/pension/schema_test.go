package pension

import (
	"bytes"
	"errors"
	"path/filepath"
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
	secret := bytes.Repeat([]byte{7}, 32)
	path := filepath.Join(t.TempDir(), "pension.db")
	projectionBuckets := [][]byte{
		[]byte("projection_retirees"), []byte("projection_by_idkey"),
		[]byte("projection_by_community"), []byte("projection_meta"),
	}
	boltstoretest.WriteFile(t, path, append(projectionBuckets, allBuckets...), func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.PutProto(tx, "payments", id+"\x002026-05", payment),
			boltstoretest.PutProto(tx, "projection_retirees", id, state),
		)
	})

	s, err := OpenStore(path, testKeyer(t), StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, 1, secret)
	servicetest.WantReads(t, []servicetest.Read{
		{Name: "payments", Read: func() (any, error) {
			m, _ := parseMonth("2026-05")
			return s.Payments(id, m, m)
		}, Want: []*pb.Payment{payment}},
		{Name: "projected retiree", Read: func() (any, error) { return s.Retiree(id) }, Want: state},
	})
}
