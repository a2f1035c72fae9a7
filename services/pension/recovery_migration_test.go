package pension

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestOpenStoreMigratesToRecovery opens a file of storage version 6 whose
// projection already has a retiree DECEASED on 15 March with payments for
// April and May, and one living: the migration indexes the death, and the
// open opens the case for April and May; a payment imported later for
// June would find the death (see TestDeathOpensRecoveryCase).
func TestOpenStoreMigratesToRecovery(t *testing.T) {
	t.Parallel()
	dead, alive := retireeID(1), retireeID(2)
	pay := func(id, m string, total int64) *pb.Payment {
		return &pb.Payment{RetireeId: id, Month: m, BasicFen: total, TotalFen: total, PaidOn: m + "-10", BatchId: "B1", Version: 1, Kind: pb.PaymentKind_REGULAR}
	}
	path := filepath.Join(t.TempDir(), "pension.db")
	secret := bytes.Repeat([]byte{7}, 32)
	key := func(p *pb.Payment) string {
		m, _ := parseMonth(p.Month)
		return string(paymentKey(nil, p.RetireeId, m, p.PaidOn, p.Kind))
	}
	march, april, may := pay(dead, "2026-03", 300000), pay(dead, "2026-04", 300001), pay(dead, "2026-05", 300002)
	aliveMay := pay(alive, "2026-05", 1)
	v6Buckets := append(append(projectionBuckets, v1Buckets...), bucketBenefitRules, bucketClaims, bucketClaimsByCommunity, bucketClaimsByRetiree)
	boltstoretest.WriteFile(t, path, v6Buckets, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(6)),
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.PutProto(tx, "projection_retirees", dead, &registryv1.RetireeState{
				Id: dead, CommunityId: communityA, Status: registryv1.RetireeStatus_DECEASED, DateOfDeath: "2026-03-15",
			}),
			boltstoretest.PutProto(tx, "projection_retirees", alive, &registryv1.RetireeState{Id: alive, CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING}),
			boltstoretest.PutProto(tx, "payments", key(march), march),
			boltstoretest.PutProto(tx, "payments", key(april), april),
			boltstoretest.PutProto(tx, "payments", key(may), may),
			boltstoretest.PutProto(tx, "payments", key(aliveMay), aliveMay),
		)
	})
	s, err := OpenStore(path, testKeyer(t), StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, storageSchema.Version, secret)
	cases, _, err := s.ListRecoveryCases(RecoveryFilter{CommunityID: communityA}, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 1 || cases[0].RetireeId != dead || cases[0].PrincipalFen != 600003 || len(cases[0].Months) != 2 {
		t.Fatalf("cases after the migration: %v", cases)
	}
	err = s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRecoveryBackfill) != nil {
			return errors.New("the backfill list is still there")
		}
		if got := string(tx.Bucket(bucketDeaths).Get([]byte(dead))); got != "2026-03-15" {
			return errors.New("the death is not indexed: " + got)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
