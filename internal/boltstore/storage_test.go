package boltstore_test

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/fault"
)

func TestStorageFault(t *testing.T) {
	t.Parallel()
	enospc := &fs.PathError{Op: "write", Path: "/srv/x.db", Err: syscall.ENOSPC}
	for _, tc := range []struct {
		name string
		err  error
		want bool // wrapped as fault.ErrStorageUnavailable
	}{
		{"nil", nil, false},
		{"disk full", enospc, true},
		{"disk full, wrapped", fmt.Errorf("commit: %w", enospc), true},
		{"quota", &fs.PathError{Op: "write", Path: "/srv/x.db", Err: syscall.EDQUOT}, true},
		{"file too large", &fs.PathError{Op: "write", Path: "/srv/x.db", Err: syscall.EFBIG}, true},
		{"bbolt's maximum size", berrors.ErrMaxSizeReached, true},
		{"bbolt cannot grow the file", errors.New("file resize error: no space left on device"), true},
		{"bbolt cannot grow the map", errors.New("mmap allocate error: cannot allocate memory"), true},
		{"I/O error", &fs.PathError{Op: "write", Path: "/srv/x.db", Err: syscall.EIO}, false},
		{"a domain error", fault.ErrNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := boltstore.StorageFault(tc.err)
			if wrapped := errors.Is(got, fault.ErrStorageUnavailable); wrapped != tc.want {
				t.Fatalf("StorageFault(%v) = %v: storage unavailable %v, want %v", tc.err, got, wrapped, tc.want)
			}
			if tc.err != nil && !errors.Is(got, tc.err) {
				t.Errorf("StorageFault(%v) = %v, lost its cause", tc.err, got)
			}
			if tc.err == nil && got != nil {
				t.Errorf("StorageFault(nil) = %v", got)
			}
			if again := boltstore.StorageFault(got); tc.want && again != got { //nolint:errorlint // the very same error value, not wrapped again
				t.Errorf("StorageFault wrapped twice: %v", again)
			}
		})
	}
}

// TestUpdateOnAFullDisk: a transaction committed while the disk is full
// fails as fault.ErrStorageUnavailable, wrapping the cause, and leaves
// nothing of itself behind; once there is room again the same database
// takes writes.
func TestUpdateOnAFullDisk(t *testing.T) {
	t.Parallel()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "x.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	put := func(key string) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("records"))
			if err != nil {
				return err
			}
			return b.Put([]byte(key), make([]byte, 10_000))
		}
	}
	if err := boltstore.Update(db, put("before")); err != nil {
		t.Fatal(err)
	}

	restore := boltstoretest.FillDisk(t, db)
	for _, write := range []struct {
		name string
		run  func(fn func(*bolt.Tx) error) error
	}{
		{"Update", func(fn func(*bolt.Tx) error) error { return boltstore.Update(db, fn) }},
		{"Batch", func(fn func(*bolt.Tx) error) error { return boltstore.Batch(db, fn) }},
	} {
		err := write.run(put("during-" + write.name))
		if !errors.Is(err, fault.ErrStorageUnavailable) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s on a full disk = %v, want storage unavailable wrapping ENOSPC", write.name, err)
		}
	}
	restore()

	if err := boltstore.Update(db, put("after")); err != nil {
		t.Fatalf("write once there is room again: %v", err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("check: %v", err)
		}
		b := tx.Bucket([]byte("records"))
		for key, want := range map[string]bool{"before": true, "during-Update": false, "during-Batch": false, "after": true} {
			if got := b.Get([]byte(key)) != nil; got != want {
				t.Errorf("key %s stored: %v, want %v", key, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
