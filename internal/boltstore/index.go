package boltstore

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// MoveIndex keeps a secondary index in step when a record's indexed value
// changes from from to to ("" for none): the index holds an empty value
// at Key(value, id) for each record id with that value. Call it in the
// transaction that writes the record.
func MoveIndex(b *bolt.Bucket, from, to, id string) error {
	if from == to {
		return nil
	}
	if from != "" {
		if err := b.Delete(Key(from, id)); err != nil {
			return err
		}
	}
	if to == "" {
		return nil
	}
	return b.Put(Key(to, id), nil)
}

// Index names a secondary index kept by MoveIndex and the value a list
// asks of it; an empty Value asks nothing of that index.
type Index struct {
	// Bucket is the name of the index's bucket.
	Bucket []byte
	// Value is the indexed value to list the records of.
	Value string
	// Prefix makes Value a prefix of the indexed values instead of a
	// whole one: the records of every value that starts with it, in the
	// order of their values. A supervisor's area, the first digits of
	// the community ids it oversees, is listed so.
	Prefix bool
}

// Records reads one page of the records in the bucket named records: the
// records with the Value of the first of indexes that has one, walked
// through that index (whose keys the page tokens then carry), or the whole
// bucket when none has one. keep sees each record's key and value in the
// records bucket, in the order of the walk. The caller checks the other
// values of its filter in keep. s.Prefix is ignored.
func (s Scan) Records(tx *bolt.Tx, records []byte, indexes []Index, keep func(k, v []byte) (bool, error)) ([]byte, error) {
	primary := tx.Bucket(records)
	for _, ix := range indexes {
		if ix.Value == "" {
			continue
		}
		s.Prefix = Prefix(ix.Value)
		if ix.Prefix {
			s.Prefix = []byte(ix.Value)
		}
		return s.Page(tx.Bucket(ix.Bucket).Cursor(), func(k, _ []byte) (bool, error) {
			// The id follows the first 0x00 after the prefix: values
			// hold none (Key refuses them).
			sep := bytes.IndexByte(k[len(ix.Value):], 0)
			if sep < 0 {
				return false, fmt.Errorf("index entry %q without a separator", k)
			}
			id := k[len(ix.Value)+sep+1:]
			v := primary.Get(id)
			if v == nil {
				return false, fmt.Errorf("index entry %q without a record in %s", k, records)
			}
			return keep(id, v)
		})
	}
	s.Prefix = nil
	return s.Page(primary.Cursor(), keep)
}
