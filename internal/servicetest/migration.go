package servicetest

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
)

// MigratedStore is a service's store as its migration tests open it.
type MigratedStore interface {
	VersionedStore
	Close() error
}

// Version0 is a file in a service's layout of before storage versions
// were recorded (version 0: today's buckets and no version key), and
// what its store must read back once opened on it.
type Version0[S MigratedStore] struct {
	// File is the file's name.
	File string
	// Buckets are the buckets the file has.
	Buckets [][]byte
	// Records writes the file's records besides the page-token secret,
	// which every file has.
	Records func(tx *bolt.Tx) error
	// Open opens the service's store on the file at path.
	Open func(path string) (S, error)
	// Meta is the store's meta bucket, Version the schema version the
	// store must record there.
	Meta    []byte
	Version uint64
	// Reads are the reads of the opened store and what they must return;
	// Opts are added to their comparison.
	Reads func(s S) []Read
	Opts  []cmp.Option
}

// WantVersion0Migrated writes f with plain bbolt, opens the store on it,
// checks that the store migrated it (its schema version recorded, its
// page-token secret kept) and makes f's reads; it returns the store,
// which closes at the end of the test, for checks of the service's own.
func WantVersion0Migrated[S MigratedStore](t *testing.T, f Version0[S]) S {
	t.Helper()
	secret := bytes.Repeat([]byte{7}, 32)
	path := filepath.Join(t.TempDir(), f.File)
	boltstoretest.WriteFile(t, path, f.Buckets, func(tx *bolt.Tx) error {
		if err := boltstoretest.Put(tx, "meta", "page_secret", secret); err != nil {
			return err
		}
		return f.Records(tx)
	})
	s, err := f.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	WantMigrated(t, s, f.Meta, f.Version, secret)
	WantReads(t, f.Reads(s), f.Opts...)
	return s
}
