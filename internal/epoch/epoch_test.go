package epoch

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestOpenKeepsTheEpochOnlyAfterClose(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "e.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k := Keys{Bucket: []byte("meta"), Epoch: []byte("epoch"), InUse: []byte("in_use")}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(k.Bucket); return err }); err != nil {
		t.Fatal(err)
	}
	first, why, err := Open(db, k)
	if err != nil || why != NewFile || first == "" {
		t.Fatalf("first open: %q %q %v", first, why, err)
	}
	if err := Close(db, k); err != nil {
		t.Fatal(err)
	}
	again, why, err := Open(db, k)
	if err != nil || why != "" || again != first {
		t.Fatalf("after a clean close: %q %q %v, want %q kept", again, why, err, first)
	}
	// Not closed: a crash, or a copy of the file in use.
	next, why, err := Open(db, k)
	if err != nil || why != NotClosed || next == first {
		t.Fatalf("open without close: %q %q %v, want a new epoch", next, why, err)
	}
}
