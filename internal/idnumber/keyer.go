package idnumber

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash"
	"sync"
)

// MinKeyLen is the shortest key NewKeyer accepts: as long as the HMAC-SHA256
// output, so the key is not the weak point.
const MinKeyLen = 32

// ErrShortKey is returned by NewKeyer for a key shorter than MinKeyLen.
var ErrShortKey = errors.New("idnumber: HMAC key must be at least 32 bytes")

// Keyer turns ID numbers into HMAC-SHA256 keys for storage indexes, so
// that a copy of the database does not reveal the numbers and cannot be
// searched by trying all of them without the secret. It is safe for
// concurrent use.
type Keyer struct {
	// pool holds *keyState values: building a keyed HMAC costs two SHA-256
	// blocks and allocations, and a hash.Hash must not be shared between
	// goroutines.
	pool sync.Pool
}

// keyState carries its own input buffer because passing id.b to Write
// through the hash.Hash interface would move it to the heap on every call.
type keyState struct {
	mac hash.Hash
	buf [length]byte
}

// NewKeyer returns a Keyer for key, which it copies.
func NewKeyer(key []byte) (*Keyer, error) {
	if len(key) < MinKeyLen {
		return nil, ErrShortKey
	}
	key = append([]byte(nil), key...)
	k := &Keyer{}
	k.pool.New = func() any { return &keyState{mac: hmac.New(sha256.New, key)} }
	return k, nil
}

// Key returns the 32-byte HMAC-SHA256 of id's 18 characters. Equal IDs
// give equal keys, whichever form they were parsed from. The zero ID is
// keyed too (as 18 zero bytes); callers should not index it.
func (k *Keyer) Key(id ID) []byte {
	st := k.pool.Get().(*keyState)
	st.buf = id.b
	st.mac.Write(st.buf[:])
	out := st.mac.Sum(make([]byte, 0, sha256.Size))
	// Clear the number from pooled memory before the state sits idle.
	st.mac.Reset()
	st.buf = [length]byte{}
	k.pool.Put(st)
	return out
}
