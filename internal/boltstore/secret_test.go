package boltstore

import (
	"bytes"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestLoadOrCreateSecret(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.db")
	bucket, name := []byte("meta"), []byte("page-token-secret")
	load := func(name []byte) []byte {
		t.Helper()
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s, err := LoadOrCreateSecret(db, bucket, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != SecretSize {
			t.Fatalf("secret is %d bytes", len(s))
		}
		return s
	}
	first := load(name)
	if bytes.Equal(first, make([]byte, SecretSize)) {
		t.Error("secret is all zeros")
	}
	if again := load(name); !bytes.Equal(first, again) {
		t.Error("secret changed across reopen")
	}
	if other := load([]byte("other")); bytes.Equal(first, other) {
		t.Error("two names share one secret")
	}
}

func TestLoadOrCreateSecretRejectsBadStoredValue(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	bucket, name := []byte("meta"), []byte("k")
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucket)
		if err != nil {
			return err
		}
		return b.Put(name, []byte("short"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := LoadOrCreateSecret(db, bucket, name); err == nil {
		t.Errorf("LoadOrCreateSecret = %x, want an error for a 5-byte stored secret", s)
	}
}
