package boltstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// ErrBadKey reports a stored key that does not have the expected shape.
var ErrBadKey = errors.New("malformed key")

// U64 returns n as 8 big-endian bytes, whose byte order is numeric order.
func U64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

// AppendU64 appends n to dst as 8 big-endian bytes.
func AppendU64(dst []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, n)
}

// ParseU64 reads a number written by U64.
func ParseU64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: %d bytes, want 8", ErrBadKey, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// Key joins parts with 0x00 bytes. Because 0x00 sorts below every other
// byte, keys order like the tuples of their parts: Key("a", "z") sorts
// before Key("ab", "a").
//
// Key panics if a part contains 0x00, which would break that order and let
// one part pass for two; callers validate ids before building keys.
func Key(parts ...string) []byte {
	return appendKey(nil, parts, false)
}

// Prefix returns Key(parts...) followed by 0x00: the common prefix of all
// keys Key(parts..., more...), and of no other key. Prefix() is empty.
func Prefix(parts ...string) []byte {
	return appendKey(nil, parts, true)
}

func appendKey(dst []byte, parts []string, trailing bool) []byte {
	if len(parts) == 0 {
		return dst
	}
	n := len(parts)
	for i, p := range parts {
		if strings.IndexByte(p, 0) >= 0 {
			panic(fmt.Sprintf("boltstore: key part %d contains a 0x00 byte", i))
		}
		n += len(p)
	}
	if dst == nil {
		dst = make([]byte, 0, n)
	}
	for i, p := range parts {
		if i > 0 {
			dst = append(dst, 0)
		}
		dst = append(dst, p...)
	}
	if trailing {
		dst = append(dst, 0)
	}
	return dst
}

// ScanPrefix calls fn for each key that starts with prefix, in order,
// beginning strictly after after when after is non-nil, until fn returns
// false or an error. v is nil for nested buckets. k and v are valid only
// inside the transaction.
func ScanPrefix(c *bolt.Cursor, prefix, after []byte, fn func(k, v []byte) (bool, error)) error {
	k, v := seekAfter(c, prefix, after)
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// ScanPage fills one page of a list from the keys that start with prefix,
// beginning strictly after after when after is non-nil. keep is called for
// each key in order and reports whether the entry went into the page (a
// filter may skip it). After size kept entries ScanPage stops and returns a
// copy of the last kept key if any key under prefix follows it, so that the
// caller can encode it as the next page token; otherwise it returns nil.
//
// A filter that matches little must not make one request read the whole
// prefix: after examining MaxScanFactor × size keys (at least MinScan) the
// page ends short, and the last examined key is returned as the next token
// (a page may then hold fewer entries than asked, even none).
func ScanPage(c *bolt.Cursor, prefix, after []byte, size int, keep func(k, v []byte) (bool, error)) ([]byte, error) {
	if size <= 0 {
		return nil, fmt.Errorf("boltstore: page size %d", size)
	}
	budget := max(MaxScanFactor*size, MinScan)
	kept := 0
	var last []byte
	k, v := seekAfter(c, prefix, after)
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if last != nil {
			// A key follows a full page, so there is a next page (though a
			// filter may leave it empty).
			return last, nil
		}
		if budget == 0 {
			return bytes.Clone(prevKey(c)), nil
		}
		budget--
		ok, err := keep(k, v)
		if err != nil {
			return nil, err
		}
		if ok {
			if kept++; kept == size {
				last = bytes.Clone(k)
			}
		}
	}
	return nil, nil
}

// Scan bounds of ScanPage.
const (
	MaxScanFactor = 20
	MinScan       = 5000
)

// prevKey steps c back one key and returns it: the last key examined.
func prevKey(c *bolt.Cursor) []byte {
	k, _ := c.Prev()
	return k
}

// seekAfter positions c on the first key under prefix that is strictly
// greater than after (or the first key under prefix when after is nil).
func seekAfter(c *bolt.Cursor, prefix, after []byte) ([]byte, []byte) {
	if after == nil || bytes.Compare(after, prefix) < 0 {
		return c.Seek(prefix)
	}
	k, v := c.Seek(after)
	if bytes.Equal(k, after) {
		return c.Next()
	}
	return k, v
}
