package pension

import (
	"errors"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/projection"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// dueByLastCertification is the migration from storage version 2 to 3.
// Up to version 2 the due index filed a retiree under the due date of a
// rolling year after his latest recorded certification (empty when none,
// so that everyone never certified was due at once), with that date as
// the value; from version 3 it files him under the day of his last
// certification, counting the start of the pension as one, with its
// channel as the value (see due_index.go), which serves every rule.
//
// The step rebuilds the index from the projection and the certifications,
// and resets the projection's cursor: its next run takes a snapshot of
// registry, which brings the fields the work lists show (name, masked
// numbers) that the projected states of earlier versions lack.
var dueByLastCertification = boltstore.Migration{
	From: 2, To: 3,
	Name:  "due index by the last certification day; projection resynchronised from a snapshot",
	Apply: rebuildDueAndResync,
}

func rebuildDueAndResync(tx *bolt.Tx) error {
	if err := rebuildDueIndex(tx); err != nil {
		return err
	}
	return projection.ResetCursor(tx)
}

// rebuildDueIndex empties the due index and files every living retiree
// of the projection in it again.
func rebuildDueIndex(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(bucketDue); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return err
	}
	if _, err := tx.CreateBucket(bucketDue); err != nil {
		return err
	}
	return projection.ForEach(tx, func(st *registryv1.RetireeState) error {
		last, err := indexedLast(tx, st)
		if err != nil {
			return err
		}
		return moveDue(tx, nil, lastCert{}, st, last)
	})
}
