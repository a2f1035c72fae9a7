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

// Scan is one page of a list read from the keys that start with Prefix:
// every list of every service reads its pages through Scan.Page, so that
// each has the same bounds.
//
// A filter that matches little must not make one request read the whole
// prefix: after examining MaxExamined keys the page ends short, and the
// last examined key is returned as the next token (a page may then hold
// fewer entries than asked, even none). A page may also end before Size
// entries when Full says so, which bounds its bytes.
type Scan struct {
	// Prefix selects the keys; nil means the whole bucket.
	Prefix []byte
	// After resumes the list strictly after this key (strictly before it
	// when Reverse); nil starts at the beginning.
	After []byte
	// From, when After is nil, starts the first page at the first key not
	// below it instead of the first key under Prefix (forward scans only);
	// it must start with Prefix.
	From []byte
	// Size is the most entries a page holds; it must be positive.
	Size int
	// Reverse walks from the greatest key down.
	Reverse bool
	// MaxExamined bounds the keys one page examines; 0 means
	// max(MaxScanFactor × Size, MinScan).
	MaxExamined int
	// Full, when set, is asked after each kept entry whether the page is
	// full already (for example, because its entries reached a byte budget).
	Full func() bool
}

// Scan bounds: by default a page examines MaxScanFactor × its size keys,
// and at least MinScan.
const (
	MaxScanFactor = 20
	MinScan       = 5000
)

// ErrEndOfList, returned by a keep function, ends the list at this key:
// Page returns no next key and no error. A list ordered by a bound uses it
// to stop where the rest cannot match.
var ErrEndOfList = errors.New("boltstore: end of list")

// Page calls keep for each key in order, beginning after s.After; keep
// reports whether the entry went into the page (a filter may skip it).
// Page returns a copy of the key to resume after when the list goes on —
// the last kept key of a full page, or the last examined key of a page cut
// short by MaxExamined — and nil at the end of the list. k and v are valid
// only inside the transaction.
func (s Scan) Page(c *bolt.Cursor, keep func(k, v []byte) (bool, error)) ([]byte, error) {
	if s.Size <= 0 {
		return nil, fmt.Errorf("boltstore: page size %d", s.Size)
	}
	budget := s.MaxExamined
	if budget <= 0 {
		budget = max(MaxScanFactor*s.Size, MinScan)
	}
	step, back := c.Next, c.Prev
	if s.Reverse {
		step, back = c.Prev, c.Next
	}
	kept := 0
	var last []byte
	for k, v := s.first(c); k != nil && bytes.HasPrefix(k, s.Prefix); k, v = step() {
		if last != nil {
			// A key follows a full page, so there is a next page (though a
			// filter may leave it empty).
			return last, nil
		}
		if budget == 0 {
			k, _ = back()
			return bytes.Clone(k), nil
		}
		budget--
		ok, err := keep(k, v)
		switch {
		case errors.Is(err, ErrEndOfList):
			return nil, nil
		case err != nil:
			return nil, err
		case !ok:
			continue
		}
		if kept++; kept == s.Size || (s.Full != nil && s.Full()) {
			last = bytes.Clone(k)
		}
	}
	return nil, nil
}

// first positions c on the first key of the page.
func (s Scan) first(c *bolt.Cursor) ([]byte, []byte) {
	switch {
	case !s.Reverse && s.After == nil && s.From != nil:
		return c.Seek(s.From)
	case !s.Reverse:
		return seekAfter(c, s.Prefix, s.After)
	}
	from := s.After
	if from == nil || !bytes.HasPrefix(from, s.Prefix) {
		if len(s.Prefix) == 0 {
			return c.Last()
		}
		// Keys under a prefix continue with a date, a number or an id,
		// never 0xff.
		from = append(bytes.Clone(s.Prefix), 0xff)
	}
	if k, _ := c.Seek(from); k == nil {
		return c.Last()
	}
	return c.Prev()
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
