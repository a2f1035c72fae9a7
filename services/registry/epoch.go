package registry

import (
	"crypto/rand"
	"errors"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// The change log's epoch.
//
// Revisions count up within one history of registry's file. Restoring a
// backup takes the file back to an older revision, and the writes that
// follow reuse revisions that consumers (pension's and activity's
// projections) already hold under other changes: resuming from their
// cursor they would silently miss the changes in between. So the change
// log has an epoch, a random id that consumers keep beside their cursor
// and send back; a cursor of another epoch is refused (EPOCH_CHANGED)
// and the consumer resynchronises from a snapshot.
//
// When does a file start a new epoch? A backup is a copy of a file in
// use: `socmgmt backup` and /debug/backup copy the live database, and so
// does a file-system snapshot or a cp of registry.db while registry runs.
// The store therefore marks its file in use (metaInUse) when it opens it
// and clears the mark when it closes it cleanly. A file opened with the
// mark still set was either copied from a running registry (a restore)
// or left by a registry that crashed; both start a new epoch. For a crash
// that is more than needed, and costs each consumer one resynchronisation
// from a snapshot, never a missed change. A file created afresh starts an
// epoch too. The one copy that carries no mark is one of a registry that
// was stopped cleanly: restoring such a cold copy is not noticed, so
// backups are taken from a running registry (see deploy/README.md).
var (
	// metaEpoch holds the change log's epoch.
	metaEpoch = []byte("changelog_epoch")
	// metaInUse is present while a store has the file open.
	metaInUse = []byte("in_use")
)

// Reasons openEpoch logs for starting a new epoch.
const (
	epochNewFile   = "new file"
	epochNotClosed = "the file was not closed cleanly: restored from a copy of a running registry, or registry stopped without closing it"
)

// openEpoch marks the file in use and returns its epoch, starting a new
// one when the file has none or was not closed cleanly.
func (s *Store) openEpoch() (string, error) {
	var epoch, why string
	err := s.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		epoch, why = string(meta.Get(metaEpoch)), ""
		switch {
		case epoch == "":
			why = epochNewFile
		case meta.Get(metaInUse) != nil:
			why = epochNotClosed
		}
		if why != "" {
			epoch = rand.Text()
			if err := meta.Put(metaEpoch, []byte(epoch)); err != nil {
				return err
			}
		}
		return meta.Put(metaInUse, []byte{1})
	})
	if err != nil {
		return "", err
	}
	switch why {
	case epochNewFile:
		s.log.Info("change log starts its first epoch", zap.String("epoch", epoch))
	case epochNotClosed:
		s.log.Warn("change log starts a new epoch; projections resynchronise from a snapshot", zap.String("epoch", epoch), zap.String("why", why))
	}
	return epoch, nil
}

// Epoch returns the change log's epoch (see WatchRetireesRequest.epoch).
func (s *Store) Epoch() string { return s.epoch }

// Close clears the file's in-use mark, so that the next open keeps the
// epoch, then closes the store. A mark that cannot be cleared (a full
// disk) only costs a new epoch at the next open.
func (s *Store) Close() error {
	err := s.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(metaInUse) })
	return errors.Join(err, s.Base.Close())
}
