package servicedb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
)

// metaDataKeys, in the service's meta bucket, lists the data keys the
// values of the sealed buckets may be sealed under: key ids, 4 bytes
// each, increasing, 0 standing for plain text (written without a key). A
// key is added before anything is sealed under it, and the list is cut
// down to the current key once a pass has resealed every value, so that
// Open knows, without reading every record, whether the key file it is
// given opens them all.
var metaDataKeys = []byte("data_keys")

// ErrDataKeyNeeded is wrapped by Open's error for a file whose personal
// data is sealed, opened without a data key, or with a key file that
// lacks a key the file names.
var ErrDataKeyNeeded = errors.New("the data key file does not open this file's personal data")

// sealBatch is how many values one transaction of Open's sealing pass
// reseals.
const sealBatch = 1000

// sealer seals and opens the values of a service's sealed buckets.
type sealer struct {
	buckets [][]byte
	// ring is nil when the service keeps them in plain text.
	ring atomic.Pointer[datakey.Ring]
	// mu serialises the changes of ring and the passes that reseal.
	mu sync.Mutex
}

// aad is the additional data a value is sealed with: its bucket and key,
// so that a sealed value copied to another record does not open.
func aad(bucket, key []byte) []byte {
	return appendAAD(make([]byte, 0, len(bucket)+1+len(key)), bucket, key)
}

func appendAAD(dst, bucket, key []byte) []byte {
	return append(append(append(dst, bucket...), 0), key...)
}

// decodeBuf holds what Decode needs for one value; decodeBufs reuses
// them, so that a read costs no allocation for its sealing.
type decodeBuf struct{ aad, plain []byte }

var decodeBufs = sync.Pool{New: func() any { return new(decodeBuf) }}

// AppendSealed appends to dst the stored form of v, the value of a
// sealed bucket's key: sealed under the current data key, or v itself
// when the store has no keys.
func (b *Base) AppendSealed(dst, bucket, key, v []byte) []byte {
	r := b.seal.ring.Load()
	if r == nil {
		return append(dst, v...)
	}
	return r.Seal(dst, v, aad(bucket, key))
}

// Unseal returns the plain value of v, stored in a sealed bucket at key.
// A value that does not open (changed, moved, or under a key the store
// lacks) is an error, as is a plain value in a store that seals.
func (b *Base) Unseal(bucket, key, v []byte) ([]byte, error) {
	r := b.seal.ring.Load()
	if r == nil {
		return v, nil
	}
	plain, err := r.Open(nil, v, aad(bucket, key))
	if err != nil {
		return nil, fmt.Errorf("stored %s %q: %w", bucket, key, err)
	}
	return plain, nil
}

// UnsealWith returns the plain value of v, stored sealed at key in the
// sealed bucket named bucket, opened with ring: for a tool or a test that
// reads a store's file without opening the store.
func UnsealWith(ring *datakey.Ring, bucket, key, v []byte) ([]byte, error) {
	return ring.Open(nil, v, aad(bucket, key))
}

// PutProto stores m, encoded and sealed, under key in the sealed bucket
// named bucket of tx.
func (b *Base) PutProto(tx *bolt.Tx, bucket, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, b.AppendSealed(nil, bucket, key, v))
}

// GetProto decodes into m the sealed value at key in the sealed bucket
// named bucket of tx, or returns notFound when there is none.
func (b *Base) GetProto(tx *bolt.Tx, bucket, key []byte, m proto.Message, notFound error) error {
	v := tx.Bucket(bucket).Get(key)
	if v == nil {
		return notFound
	}
	return b.Decode(bucket, key, v, m)
}

// Decode decodes into m v, the sealed value at key in bucket.
func (b *Base) Decode(bucket, key, v []byte, m proto.Message) error {
	plain := v
	if r := b.seal.ring.Load(); r != nil {
		buf := decodeBufs.Get().(*decodeBuf)
		defer func() {
			// Personal data does not wait in the pool for the next read.
			clear(buf.plain)
			decodeBufs.Put(buf)
		}()
		buf.aad = appendAAD(buf.aad[:0], bucket, key)
		var err error
		if plain, err = r.Open(buf.plain[:0], v, buf.aad); err != nil {
			return fmt.Errorf("stored %s %q: %w", bucket, key, err)
		}
		buf.plain = plain
	}
	// Unmarshal copies what it keeps (strings, bytes), so the buffer may
	// be reused.
	if err := proto.Unmarshal(plain, m); err != nil {
		return fmt.Errorf("decode stored %T: %w", m, err)
	}
	return nil
}

// Collect is boltstore.Collect for the records of a sealed bucket: a
// keep function for boltstore's Scan that decodes each sealed value as a
// P and appends it to *out when match accepts it (every one when match is
// nil).
func Collect[M any, P interface {
	*M
	proto.Message
}](b *Base, bucket []byte, out *[]P, match func(P) bool) func(k, v []byte) (bool, error) {
	return func(k, v []byte) (bool, error) {
		m := P(new(M))
		if err := b.Decode(bucket, k, v, m); err != nil {
			return false, err
		}
		if match != nil && !match(m) {
			return false, nil
		}
		*out = append(*out, m)
		return true, nil
	}
}

// readDataKeys returns the key ids metaDataKeys lists.
func readDataKeys(meta *bolt.Bucket) ([]uint32, error) {
	v := meta.Get(metaDataKeys)
	if len(v)%4 != 0 {
		return nil, fmt.Errorf("stored data key list is %d bytes, not a multiple of 4", len(v))
	}
	ids := make([]uint32, 0, len(v)/4)
	for i := 0; i < len(v); i += 4 {
		ids = append(ids, binary.BigEndian.Uint32(v[i:]))
	}
	return ids, nil
}

func writeDataKeys(meta *bolt.Bucket, ids []uint32) error {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	v := make([]byte, 0, 4*len(ids))
	for _, id := range ids {
		v = binary.BigEndian.AppendUint32(v, id)
	}
	return meta.Put(metaDataKeys, v)
}

// addDataKey records that values may from now on be sealed under id (0:
// written in plain text).
func addDataKey(db *bolt.DB, meta []byte, id uint32) (ids []uint32, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(meta)
		if ids, err = readDataKeys(m); err != nil || slices.Contains(ids, id) {
			return err
		}
		ids = append(ids, id)
		return writeDataKeys(m, ids)
	})
	return ids, err
}

// prepareSealing checks ring (nil: plain text) against the data keys the
// file's values are sealed under, and records ring's current key before
// anything is sealed with it. When values were written in plain text, it
// seals them all and reports that the file should be compacted, so that
// no copy of their plain text stays behind in its free pages.
func (b *Base) prepareSealing(meta []byte, ring *datakey.Ring, log *zap.Logger) (compact bool, err error) {
	if len(b.seal.buckets) == 0 {
		return false, nil
	}
	var current uint32 // 0: plain text
	if ring != nil {
		current = ring.Current()
	}
	ids, err := addDataKey(b.db, meta, current)
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		switch {
		case id != 0 && ring == nil:
			return false, fmt.Errorf("%w: personal data here is encrypted under data key %d; start with --data-key naming the key file", ErrDataKeyNeeded, id)
		case id != 0 && !ring.Has(id):
			return false, fmt.Errorf("%w: personal data here is encrypted under data key %d, which %s does not hold", ErrDataKeyNeeded, id, ring.Path())
		}
	}
	b.seal.ring.Store(ring)
	if ring == nil || !slices.Contains(ids, 0) {
		return false, nil
	}
	n, err := b.resealAll(meta, ring)
	if err != nil {
		return false, fmt.Errorf("encrypt the personal data: %w", err)
	}
	log.Info("personal data encrypted", zap.Int("records", n), zap.Uint32("data_key", current))
	return n > 0, nil
}

// resealAll reseals, batch by batch, every value not sealed under ring's
// current key, and then records that only that key is in use.
func (b *Base) resealAll(meta []byte, ring *datakey.Ring) (int, error) {
	total := 0
	for c := (cursor{key: ring.Current()}); !c.done(len(b.seal.buckets)); {
		var r RotateBatch
		var err error
		if c, r, err = b.resealBatch(meta, ring, c, sealBatch); err != nil {
			return total, err
		}
		total += r.Resealed
	}
	return total, nil
}

// cursor is where a resealing pass is: the index of a sealed bucket and
// the last key done there, and the key the pass seals under.
type cursor struct {
	key    uint32
	bucket int
	after  []byte
}

func (c cursor) done(buckets int) bool { return c.bucket >= buckets }

// resealBatch reseals, in one transaction, up to limit values from c on
// that are not sealed under ring's current key, and returns where the
// next batch starts. At the end of the last bucket it records that only
// the current key is in use.
func (b *Base) resealBatch(meta []byte, ring *datakey.Ring, c cursor, limit int) (cursor, RotateBatch, error) {
	r := RotateBatch{KeyID: ring.Current()}
	err := b.Update(func(tx *bolt.Tx) error {
		for !c.done(len(b.seal.buckets)) && r.Examined < limit {
			var err error
			if c, err = resealIn(tx, b.seal.buckets[c.bucket], ring, c, limit, &r); err != nil {
				return err
			}
		}
		if !c.done(len(b.seal.buckets)) {
			return nil
		}
		return writeDataKeys(tx.Bucket(meta), []uint32{ring.Current()})
	})
	return c, r, err
}

// resealIn reseals values of bucket after c.after until r has examined
// limit, and moves c on (to the next bucket at the end of this one).
func resealIn(tx *bolt.Tx, bucket []byte, ring *datakey.Ring, c cursor, limit int, r *RotateBatch) (cursor, error) {
	bk := tx.Bucket(bucket)
	type put struct{ k, v []byte }
	var puts []put
	cur := bk.Cursor()
	k, v := cur.First()
	if c.after != nil {
		if k, v = cur.Seek(c.after); k != nil && bytes.Equal(k, c.after) {
			k, v = cur.Next()
		}
	}
	for ; k != nil && r.Examined < limit; k, v = cur.Next() {
		r.Examined++
		c.after = append(c.after[:0:0], k...)
		if id, ok := datakey.KeyID(v); ok && id == ring.Current() {
			continue
		}
		plain := v
		if datakey.IsSealed(v) {
			var err error
			if plain, err = ring.Open(nil, v, aad(bucket, k)); err != nil {
				return c, fmt.Errorf("stored %s %q: %w", bucket, k, err)
			}
		}
		puts = append(puts, put{k: c.after, v: ring.Seal(nil, plain, aad(bucket, k))})
	}
	if k == nil {
		c.bucket, c.after = c.bucket+1, nil
	}
	// Written after the walk: a Put while a cursor walks may move it.
	for _, p := range puts {
		if err := bk.Put(p.k, p.v); err != nil {
			return c, err
		}
	}
	r.Resealed += len(puts)
	return c, nil
}

// SealingMigration is the storage schema step, from version from, after
// which the values of a store's sealed buckets may be stored sealed. It
// records that those there now are in plain text, so that Open seals them
// as soon as it is given data keys; the version it records makes an older
// build, which would take a sealed value for a record, refuse the file.
func SealingMigration(from uint64, meta []byte) boltstore.Migration {
	return boltstore.Migration{
		From: from, To: from + 1, Name: "personal data encrypted at rest",
		Apply: func(tx *bolt.Tx) error {
			m, err := tx.CreateBucketIfNotExists(meta)
			if err != nil {
				return err
			}
			return writeDataKeys(m, []uint32{0})
		},
	}
}
