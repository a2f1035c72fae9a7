package boltstore

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// StorageFault returns err wrapped with fault.ErrStorageUnavailable when
// it says that the database could not be written for want of room: the
// disk or the quota is full (ENOSPC, EDQUOT), the file may not grow
// (EFBIG, bbolt's maximum size), or bbolt could not grow the file or its
// memory map. bbolt rolls the transaction back in every such case, so
// nothing of it was written. Any other err, nil included, is returned
// unchanged.
func StorageFault(err error) error {
	if err == nil || errors.Is(err, fault.ErrStorageUnavailable) || !storageFull(err) {
		return err
	}
	return fmt.Errorf("%w: %w", fault.ErrStorageUnavailable, err)
}

// storageFull reports whether err is one of the conditions StorageFault
// names.
func storageFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EFBIG) ||
		errors.Is(err, berrors.ErrMaxSizeReached) {
		return true
	}
	// bbolt formats these two with %s (db.go: allocate and grow), so the
	// cause is only in the text.
	msg := err.Error()
	return strings.Contains(msg, "file resize error") || strings.Contains(msg, "mmap allocate error")
}

// Update runs fn in a read-write transaction of db, as db.Update does, and
// reports a commit that failed for want of room as
// fault.ErrStorageUnavailable (see StorageFault).
func Update(db *bolt.DB, fn func(*bolt.Tx) error) error {
	return StorageFault(db.Update(fn))
}

// Batch runs fn as part of a batch of db, as db.Batch does, and reports a
// commit that failed for want of room as fault.ErrStorageUnavailable (see
// StorageFault). As with db.Batch, fn may run more than once.
func Batch(db *bolt.DB, fn func(*bolt.Tx) error) error {
	return StorageFault(db.Batch(fn))
}
