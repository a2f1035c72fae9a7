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

// Collect returns a keep function for Scan.Page and Scan.Records that
// decodes each value as a P and appends it to *out when match accepts it
// (every one when match is nil).
func Collect[M any, P interface {
	*M
	proto.Message
}](out *[]P, match func(P) bool) func(k, v []byte) (bool, error) {
	return func(_, v []byte) (bool, error) {
		m := P(new(M))
		if err := proto.Unmarshal(v, m); err != nil {
			return false, fmt.Errorf("decode stored %T: %w", m, err)
		}
		if match != nil && !match(m) {
			return false, nil
		}
		*out = append(*out, m)
		return true, nil
	}
}
