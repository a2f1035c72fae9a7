package registry

import (
	"errors"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/epoch"
)

// The change log's epoch (see internal/epoch): a consumer's cursor of
// another history of registry's file (restored from a backup, or left by
// a registry that crashed) is refused with EPOCH_CHANGED, and the
// consumer (pension's and activity's projections) resynchronises from a
// snapshot.
var (
	// metaEpoch holds the change log's epoch.
	metaEpoch = []byte("changelog_epoch")
	// metaInUse is present while a store has the file open.
	metaInUse = []byte("in_use")

	epochKeys = epoch.Keys{Bucket: bucketMeta, Epoch: metaEpoch, InUse: metaInUse}
)

// openEpoch marks the file in use and returns its epoch, starting a new
// one when the file has none or was not closed cleanly.
func (s *Store) openEpoch() (string, error) {
	e, why, err := epoch.Open(s.DB(), epochKeys)
	if err != nil {
		return "", err
	}
	switch why {
	case epoch.NewFile:
		s.log.Info("change log starts its first epoch", zap.String("epoch", e))
	case epoch.NotClosed:
		s.log.Warn("change log starts a new epoch; projections resynchronise from a snapshot", zap.String("epoch", e), zap.String("why", why))
	}
	return e, nil
}

// Epoch returns the change log's epoch (see WatchRetireesRequest.epoch).
func (s *Store) Epoch() string { return s.epoch }

// Close clears the file's in-use mark, so that the next open keeps the
// epoch, then closes the store. A mark that cannot be cleared (a full
// disk) only costs a new epoch at the next open.
func (s *Store) Close() error {
	var err error
	if s.signals != nil {
		err = s.signals.Close()
	}
	err = errors.Join(err, epoch.Close(s.DB(), epochKeys))
	return errors.Join(err, s.Base.Close())
}
