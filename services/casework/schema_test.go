package casework

import (
	"errors"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// TestSchema: a new file is written at version 1 with every bucket, keeps
// its items across a reopen, and a file a newer build wrote is refused.
func TestSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "casework.db")
	open := func() (*Store, error) { return OpenStore(path, nil, StoreOptions{Logger: zaptest.NewLogger(t)}) }
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	var it *pb.WorkItem
	err = s.Update(func(tx *bolt.Tx) error {
		if v, err := boltstore.SchemaVersion(tx, bucketMeta); err != nil || v != 1 {
			t.Errorf("schema version %d, %v; want 1", v, err)
		}
		for _, name := range bucketsV1 {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		it, _, err = s.openItem(tx, ItemSpec{Kind: pb.WorkKind_OTHER, CommunityID: communityA, Start: testNow, Due: testNow.Add(hour), Summary: "x"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = open(); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetItem(it.Id, anyone)
	if err != nil || got.Id != it.Id {
		t.Errorf("after a reopen: %v, %v", got, err)
	}
	// A newer build's file.
	err = s.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), boltstore.U64(storageSchema.Version+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := open(); !errors.Is(err, boltstore.ErrSchemaTooNew) {
		t.Errorf("a newer file opened: %v, want ErrSchemaTooNew", err)
	}
}
