package boltstore

import (
	"crypto/rand"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// SecretSize is the length of the secrets LoadOrCreateSecret makes.
const SecretSize = 32

// LoadOrCreateSecret returns the secret stored under name in bucket,
// creating the bucket and a random SecretSize-byte secret on first use.
// Keeping it in the database it protects means page tokens survive restarts
// and a restored backup keeps accepting the tokens it issued.
func LoadOrCreateSecret(db *bolt.DB, bucket, name []byte) ([]byte, error) {
	var secret []byte
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		secret, err = secretIn(b, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load secret %q/%q: %w", bucket, name, err)
	}
	return secret, nil
}

// secretIn returns the secret under name in b, storing a new one first if
// there is none.
func secretIn(b *bolt.Bucket, name []byte) ([]byte, error) {
	if v := b.Get(name); v != nil {
		if len(v) != SecretSize {
			return nil, fmt.Errorf("stored secret is %d bytes, want %d", len(v), SecretSize)
		}
		return append([]byte(nil), v...), nil
	}
	secret := make([]byte, SecretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	return secret, b.Put(name, secret)
}
