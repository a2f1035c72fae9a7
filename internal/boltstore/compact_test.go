package boltstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestCompactFileDropsWhatWasOverwritten: after a value is overwritten,
// its old bytes linger in the file's free pages until CompactFile, which
// keeps the live data and the buckets' sequences.
func TestCompactFileDropsWhatWasOverwritten(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.db")
	secret := bytes.Repeat([]byte("13912345678-"), 400)
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	write := func(v []byte) {
		t.Helper()
		if err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			if _, err := b.NextSequence(); err != nil {
				return err
			}
			return b.Put([]byte("k"), v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	write(secret)
	write([]byte("sealed"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); !bytes.Contains(data, secret) {
		t.Fatal("the overwritten value is not in the file before compaction: the test shows nothing")
	}
	if err := CompactFile(path, Options{}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); bytes.Contains(data, secret) {
		t.Error("the overwritten value is still in the compacted file")
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		if string(b.Get([]byte("k"))) != "sealed" || b.Sequence() != 2 {
			t.Errorf("after compaction: %q, sequence %d", b.Get([]byte("k")), b.Sequence())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
