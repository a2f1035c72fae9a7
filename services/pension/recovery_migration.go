package pension

import (
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/projection"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// recoveryMigration creates the recovery buckets and the index of deaths
// from the projection. The cases of deaths already projected are opened
// by OpenStore (backfillRecovery), which can seal them: the migration
// lists those retirees in bucketRecoveryBackfill.
var recoveryMigration = boltstore.Migration{
	From: 6, To: 7,
	Name:  "recovery cases, and the index of deaths",
	Apply: indexDeaths,
}

// bucketRecoveryBackfill lists the ids of the retirees whose recovery
// case OpenStore still has to open; it exists only between the migration
// to version 7 and the first open after it.
var bucketRecoveryBackfill = []byte("recovery_backfill")

func indexDeaths(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketDeaths, bucketRecoveryCases, bucketRecoveryByRetiree, bucketRecoveryByCommunity, bucketRecoveryRefs, bucketRecoveryBackfill} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return projection.ForEach(tx, func(st *registryv1.RetireeState) error {
		day, ok := deathOf(st)
		if !ok {
			return nil
		}
		if err := tx.Bucket(bucketDeaths).Put([]byte(st.Id), []byte(formatDate(day))); err != nil {
			return err
		}
		return tx.Bucket(bucketRecoveryBackfill).Put([]byte(st.Id), nil)
	})
}

// backfillRecovery opens the cases the migration to version 7 left to
// open, and drops its list.
func (s *Store) backfillRecovery() error {
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecoveryBackfill)
		if b == nil {
			return nil
		}
		err := b.ForEach(func(k, _ []byte) error {
			st, err := projection.Get(tx, string(k))
			if errors.Is(err, projection.ErrUnknownRetiree) {
				return nil
			}
			if err != nil {
				return err
			}
			if day, ok := deathOf(st); ok {
				return s.recomputePrincipal(tx, st, monthOf(day))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return tx.DeleteBucket(bucketRecoveryBackfill)
	})
}
