package boltstore

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/fault"
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

// GetForChange reads the record at id in b for a change that allowed
// guards, and returns it. A caller who may not act must get the same
// answer whether or not the record exists, so a missing record (or an id
// of the wrong shape: valid false) first asks allowed(nil), and only then
// gives notFound. Then allowed sees the record, and etag, when given, must
// be the record's, or the answer is fault.ErrEtagMismatch.
func GetForChange[M any, P interface {
	*M
	proto.Message
	GetEtag() string
}](b *bolt.Bucket, id string, valid bool, notFound error, etag string, allowed func(P) error) (P, error) {
	return ReadForChange(func(m P) error { return GetProto(b, []byte(id), m, notFound) }, valid, notFound, etag, allowed)
}

// ReadForChange is GetForChange for a record that read decodes into its
// argument, returning notFound when there is none: one stored sealed, say.
func ReadForChange[M any, P interface {
	*M
	proto.Message
	GetEtag() string
}](read func(P) error, valid bool, notFound error, etag string, allowed func(P) error) (P, error) {
	old := P(new(M))
	err := notFound
	if valid {
		err = read(old)
	}
	if err != nil {
		if aerr := allowed(nil); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err := allowed(old); err != nil {
		return nil, err
	}
	if etag != "" && etag != old.GetEtag() {
		return nil, fault.ErrEtagMismatch
	}
	return old, nil
}
