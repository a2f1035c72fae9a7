package boltstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// PutProto stores m, encoded, under key.
func PutProto(b *bolt.Bucket, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}

// GetProto decodes the value at key into m, or returns notFound when there
// is none. A value that does not decode is an error of its own (a damaged
// file), never notFound.
func GetProto(b *bolt.Bucket, key []byte, m proto.Message, notFound error) error {
	v := b.Get(key)
	if v == nil {
		return notFound
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return fmt.Errorf("decode stored %T: %w", m, err)
	}
	return nil
}
