// Package boltstoretest helps store tests build bbolt files the way an
// older build wrote them, with plain bbolt and literal bucket and key
// names, so that a test of a migration does not depend on the code it
// checks.
package boltstoretest

import (
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// WriteFile creates the file at path with plain bbolt: the buckets, then
// whatever fill writes, in one transaction.
func WriteFile(t testing.TB, path string, buckets [][]byte, fill func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return fill(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// Put stores value under key in the named bucket, which must exist.
func Put(tx *bolt.Tx, bucket, key string, value []byte) error {
	return tx.Bucket([]byte(bucket)).Put([]byte(key), value)
}

// PutProto stores the wire encoding of m under key in the named bucket.
func PutProto(tx *bolt.Tx, bucket, key string, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return Put(tx, bucket, key, v)
}

// SchemaVersion returns the storage schema version recorded in db.
func SchemaVersion(t testing.TB, db *bolt.DB, meta []byte) uint64 {
	t.Helper()
	var v uint64
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = boltstore.SchemaVersion(tx, meta)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// CheckPageSecret fails t unless pages accepts a token issued with the
// page-token secret an older build stored, so that clients holding one
// can go on paging after the upgrade.
func CheckPageSecret(t testing.TB, pages *boltstore.PageTokens, secret []byte) {
	t.Helper()
	old, err := boltstore.NewPageTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pages.Decode("scope", old.Encode("scope", []byte("key"))); err != nil {
		t.Errorf("a page token issued before opening: %v", err)
	}
}
