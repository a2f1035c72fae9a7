package projection

import bolt "go.etcd.io/bbolt"

// Count returns how many retirees the projection holds (tests only: it
// walks the whole bucket).
func Count(tx *bolt.Tx) int { return tx.Bucket(bucketRetirees).Stats().KeyN }
