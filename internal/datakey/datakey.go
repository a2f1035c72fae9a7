// Package datakey encrypts the personal data a service stores (ID
// numbers, phone numbers, addresses, bank-account fragments) with
// AES-256-GCM under data keys kept in a file outside the database, so
// that a copy of the database without that file reveals none of it.
//
// A key file holds one or more keys, each with a number, its key id. The
// key with the highest id seals; every key in the file opens. Each sealed
// value names the id of the key that sealed it, so that a key can be
// replaced while a service serves: add a key with a higher id, have the
// service reload the file and reseal its records (socmgmt
// rotate-data-key), and drop the old key once nothing names it.
//
// A sealed value is
//
//	0xFF, format (1), key id (4 bytes, big-endian), nonce (12), ciphertext and tag (16)
//
// and is opened with the additional data the caller sealed it with (the
// services use the bucket and the key the value is stored under, so that a
// sealed value moved to another record does not open). No protobuf
// encoding starts with 0xFF: the low three bits of its first byte would be
// wire type 7, which does not exist; so a stored protobuf message and a
// sealed one are told apart by their first byte.
package datakey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// KeySize is the length of a data key: AES-256.
const KeySize = 32

// Layout of a sealed value.
const (
	magic     = 0xFF
	format    = 1
	headerLen = 1 + 1 + 4
	nonceLen  = 12
	tagLen    = 16
	// Overhead is how much longer a sealed value is than what it seals.
	Overhead = headerLen + nonceLen + tagLen
)

// Errors of Open. Their texts never include the data.
var (
	// ErrNotSealed is returned for a value that is not a sealed value.
	ErrNotSealed = errors.New("datakey: value is not sealed")
	// ErrUnknownKey is wrapped by the error for a value sealed under a key
	// the ring does not have.
	ErrUnknownKey = errors.New("datakey: sealed under a key not in the key file")
	// ErrTampered is returned for a value that does not open under its
	// key and additional data: changed, damaged or moved.
	ErrTampered = errors.New("datakey: sealed value does not authenticate")
)

// Ring is a set of data keys, the one with the highest id sealing. It is
// safe for concurrent use and never changes; Reload returns a new Ring.
type Ring struct {
	// path is the file the ring was loaded from; empty for New's.
	path    string
	current uint32
	aeads   map[uint32]cipher.AEAD
}

// New returns a ring of keys, by key id (from 1), each KeySize bytes.
func New(keys map[uint32][]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("datakey: no keys")
	}
	r := &Ring{aeads: make(map[uint32]cipher.AEAD, len(keys))}
	for id, key := range keys {
		if id == 0 {
			return nil, errors.New("datakey: key id 0 is reserved")
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("datakey: key %d is %d bytes, want %d", id, len(key), KeySize)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("datakey: key %d: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("datakey: key %d: %w", id, err)
		}
		r.aeads[id] = aead
		r.current = max(r.current, id)
	}
	return r, nil
}

// Current is the id of the key that seals.
func (r *Ring) Current() uint32 { return r.current }

// IDs returns the ids of the ring's keys in increasing order.
func (r *Ring) IDs() []uint32 { return slices.Sorted(maps.Keys(r.aeads)) }

// Has reports whether the ring has the key id.
func (r *Ring) Has(id uint32) bool { _, ok := r.aeads[id]; return ok }

// Path is the file the ring was loaded from; empty for a ring built by New.
func (r *Ring) Path() string { return r.path }

// Seal appends to dst plaintext sealed under the current key with the
// additional data aad, which Open must be given too, and returns the
// extended slice. dst and plaintext must not overlap.
func (r *Ring) Seal(dst, plaintext, aad []byte) []byte {
	dst = slices.Grow(dst, Overhead+len(plaintext))
	dst = append(dst, magic, format)
	dst = binary.BigEndian.AppendUint32(dst, r.current)
	nonce := dst[len(dst) : len(dst)+nonceLen]
	// crypto/rand.Read never fails (Go 1.24 and later): it panics on an
	// unusable system source rather than return fewer bytes.
	_, _ = rand.Read(nonce)
	dst = dst[:len(dst)+nonceLen]
	// The header is not in aad: the key id picks the key that must open
	// the value, so a changed id fails anyway.
	return r.aeads[r.current].Seal(dst, nonce, plaintext, aad)
}

// Open appends to dst the plaintext of the sealed value v, which must
// have been sealed with aad, and returns the extended slice.
func (r *Ring) Open(dst, v, aad []byte) ([]byte, error) {
	id, ok := KeyID(v)
	if !ok || len(v) < Overhead {
		return nil, ErrNotSealed
	}
	aead := r.aeads[id]
	if aead == nil {
		return nil, fmt.Errorf("%w (key %d)", ErrUnknownKey, id)
	}
	nonce := v[headerLen : headerLen+nonceLen]
	out, err := aead.Open(dst, nonce, v[headerLen+nonceLen:], aad)
	if err != nil {
		return nil, ErrTampered
	}
	return out, nil
}

// IsSealed reports whether v has the form of a sealed value (which Open
// still checks).
func IsSealed(v []byte) bool {
	_, ok := KeyID(v)
	return ok
}

// KeyID returns the id of the key v is sealed under; ok is false when v
// is not a sealed value.
func KeyID(v []byte) (id uint32, ok bool) {
	if len(v) < headerLen || v[0] != magic || v[1] != format {
		return 0, false
	}
	return binary.BigEndian.Uint32(v[2:headerLen]), true
}
