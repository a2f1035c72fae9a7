package audit

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// legacyBatch bounds the entries one transaction chains when NewLog
// finishes a Migration: a log of millions of entries is chained in
// transactions of bounded memory, each committed before the next.
const legacyBatch = 20_000

// Migration is the storage schema step, from version from to from+1,
// that turns a service's audit log into a hash chain. It records how far
// the entries written before the chain reach; NewLog then chains them,
// oldest first, each keeping its stored bytes behind the hash it gains,
// in transactions of a bounded size (a crash resumes where the last one
// ended), before the service serves. Its first checkpoint signs them.
//
// The step itself rewrites nothing: one transaction rewriting a log of
// millions of entries would hold them all in memory.
func Migration(from uint64) boltstore.Migration {
	return boltstore.Migration{
		From: from, To: from + 1, Name: "chain the audit log",
		Apply: func(tx *bolt.Tx) error {
			b := tx.Bucket(Bucket)
			if b == nil {
				return nil
			}
			last := lastKey(b, prefixLog)
			if last == nil {
				return nil // no entries
			}
			return b.Put(keyLegacy, append([]byte(nil), last[1:]...))
		},
	}
}

// chainLegacy chains the entries a Migration left unchained, batch by
// batch, and then forgets how far they reached.
func chainLegacy(db *bolt.DB, log *zap.Logger) error {
	var pending bool
	if err := db.View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(Bucket).Get(keyLegacy) != nil
		return nil
	}); err != nil || !pending {
		return err
	}
	for more := true; more; {
		var through uint64
		err := db.Update(func(tx *bolt.Tx) error {
			var err error
			through, more, err = chainLegacyBatch(tx.Bucket(Bucket))
			return err
		})
		if err != nil {
			return fmt.Errorf("chain the audit log: %w", err)
		}
		log.Info("audit log chained", zap.Uint64("through", through))
	}
	return nil
}

// chainLegacyBatch chains up to legacyBatch unchained entries after the
// chain's head; more reports that some are left.
func chainLegacyBatch(b *bolt.Bucket) (through uint64, more bool, err error) {
	raw := b.Get(keyLegacy)
	if raw == nil {
		return 0, false, nil
	}
	legacy, err := boltstore.ParseU64(raw)
	if err != nil {
		return 0, false, fmt.Errorf("legacy mark: %w", err)
	}
	var h head // before the first entry until a batch is done
	if v := b.Get(keyChaining); v != nil {
		if h, err = decodeHead(v); err != nil {
			return 0, false, err
		}
	}
	type rewrite struct{ k, v []byte }
	var todo []rewrite
	c := b.Cursor()
	for k, v := c.Seek(logKey(h.seq + 1)); k != nil && k[0] == prefixLog && len(todo) < legacyBatch; k, v = c.Next() {
		seq, err := boltstore.ParseU64(k[1:])
		if err != nil {
			return 0, false, err
		}
		if seq > legacy {
			break
		}
		sum := chainHash(&h.hash, seq, v)
		nv := make([]byte, 0, hashLen+len(v))
		nv = append(append(nv, sum[:]...), v...)
		todo = append(todo, rewrite{k: append([]byte(nil), k...), v: nv})
		h.seq, h.hash = seq, sum
	}
	// Written after the walk: a Put while a cursor walks the bucket may
	// move it.
	for _, r := range todo {
		if err := b.Put(r.k, r.v); err != nil {
			return 0, false, err
		}
	}
	if len(todo) < legacyBatch || h.seq >= legacy {
		// Done: from now on the last entry is the head.
		return h.seq, false, errors.Join(b.Delete(keyLegacy), b.Delete(keyChaining))
	}
	return h.seq, true, b.Put(keyChaining, encodeHead(h))
}

// lastKey returns the last key of b that starts with prefix, nil when
// none does.
func lastKey(b *bolt.Bucket, prefix byte) []byte {
	c := b.Cursor()
	k, _ := c.Seek([]byte{prefix + 1})
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || k[0] != prefix {
		return nil
	}
	return k
}
