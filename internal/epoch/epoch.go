// Package epoch gives a change log kept in a bbolt file an epoch: a
// random id that its consumers keep beside their cursor and send back, so
// that a cursor of another history of the file is refused (EPOCH_CHANGED)
// and the consumer resynchronises from a snapshot.
//
// Revisions count up within one history of a file. Restoring a backup
// takes the file back to an older revision, and the writes that follow
// reuse revisions that consumers already hold under other changes:
// resuming from their cursor they would silently miss the changes in
// between.
//
// When does a file start a new epoch? A backup is a copy of a file in
// use: `socmgmt backup` and /debug/backup copy the live database, and so
// does a file-system snapshot or a cp of the file while the service runs.
// Open therefore marks the file in use and Close clears the mark. A file
// opened with the mark still set was either copied from a running service
// (a restore) or left by a service that crashed; both start a new epoch.
// For a crash that is more than needed, and costs each consumer one
// resynchronisation from a snapshot, never a missed change. A file
// without an epoch starts one too. The one copy that carries no mark is
// one of a service stopped cleanly: restoring such a cold copy is not
// noticed, so backups are taken from a running service.
package epoch

import (
	"crypto/rand"

	bolt "go.etcd.io/bbolt"
)

// Keys name where, in one bucket, a change log keeps its epoch and its
// in-use mark.
type Keys struct {
	Bucket []byte
	Epoch  []byte
	InUse  []byte
}

// Why a file starts a new epoch, as Open reports it.
const (
	// NewFile: the file had no epoch.
	NewFile = "new file"
	// NotClosed: the file was in use when it was last opened.
	NotClosed = "the file was not closed cleanly: restored from a copy of a running service, or the service stopped without closing it"
)

// Open marks the file in use and returns its epoch, starting a new one
// when the file has none or was not closed cleanly; why is "" when the
// epoch is the one the file had, else NewFile or NotClosed. The bucket
// must exist.
func Open(db *bolt.DB, k Keys) (epoch, why string, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(k.Bucket)
		epoch, why = string(b.Get(k.Epoch)), ""
		switch {
		case epoch == "":
			why = NewFile
		case b.Get(k.InUse) != nil:
			why = NotClosed
		}
		if why != "" {
			epoch = rand.Text()
			if err := b.Put(k.Epoch, []byte(epoch)); err != nil {
				return err
			}
		}
		return b.Put(k.InUse, []byte{1})
	})
	if err != nil {
		return "", "", err
	}
	return epoch, why, nil
}

// Close clears the in-use mark, so that the next Open keeps the epoch. A
// mark that cannot be cleared (a full disk) only costs a new epoch at the
// next Open.
func Close(db *bolt.DB, k Keys) error {
	return db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(k.Bucket)
		if b == nil {
			return nil // no bucket, no mark
		}
		return b.Delete(k.InUse)
	})
}
