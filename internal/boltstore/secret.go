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
		if v := b.Get(name); v != nil {
			if len(v) != SecretSize {
				return fmt.Errorf("stored secret is %d bytes, want %d", len(v), SecretSize)
			}
			secret = append([]byte(nil), v...)
			return nil
		}
		secret = make([]byte, SecretSize)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		return b.Put(name, secret)
	})
	if err != nil {
		return nil, fmt.Errorf("load secret %q/%q: %w", bucket, name, err)
	}
	return secret, nil
}
