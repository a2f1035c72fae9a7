// Package audit records who read or changed a retiree's personal data, in
// the owning service's bbolt file. Changes are recorded in their own
// transaction. Reads are recorded through Log.Read, in group-committed
// transactions: by default the record of a read is queued before the data
// is disclosed and is on disk within milliseconds (a crash can lose the
// last commit's worth); with durable reads (the services'
// --audit-durable-reads) the data is disclosed only once its record is on
// disk, at a measured cost of about a third of GetRetiree's throughput.
//
// The log is a hash chain: each entry carries the SHA-256 of itself and
// the chain before it, so that an entry changed, removed or moved breaks
// the chain at that entry. Every so many entries, and every so often, the
// Log signs the chain's head with the service's audit key (Ed25519): a
// checkpoint. Whoever edits the file without that key can rewrite the
// chain after the last checkpoint, but not before it. Verify walks the
// chain and the checkpoints and names the first entry that does not
// verify; `socmgmt audit verify` runs it on a backup.
package audit

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/tracing"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Bucket holds the audit log of the owning service. These key ranges
// share it:
//
//	0x01 seq           -> hash, AuditEntry  the log, appended in order (cheap
//	                                        to write however many retirees
//	                                        are read); hash is the chain
//	                                        hash (see chainHash), 32 bytes
//	0x02 retiree 0 seq -> (empty)           the per-retiree index, built from
//	                                        the log in large sorted batches
//	                                        by the Log's indexer, off the
//	                                        request path
//	0x03 seq           -> checkpoint        a signed checkpoint of the chain
//	                                        up to entry seq (see checkpoint)
//	0x00 "indexed"     -> seq               how far the index reaches
//	0x00 "legacy"      -> seq               present while entries up to seq,
//	                                        written before the chain, still
//	                                        wait to be chained (see Migration)
//	0x00 "chaining"    -> seq, hash         meanwhile, the last entry chained
//
// The chain's head is the last entry: a commit writes no key besides the
// entries it appends (and, now and then, a checkpoint), so that it dirties
// no page at the other end of the bucket.
//
// A listing reads the index and then scans the short tail of the log that
// is not indexed yet, so it is complete at any moment. The index is
// derived from the log and not part of the chain.
var Bucket = []byte("audit")

const (
	prefixLog        = 0x01
	prefixIndex      = 0x02
	prefixCheckpoint = 0x03
)

var (
	keyIndexed  = []byte{0x00, 'i', 'n', 'd', 'e', 'x', 'e', 'd'}
	keyLegacy   = []byte{0x00, 'l', 'e', 'g', 'a', 'c', 'y'}
	keyChaining = []byte{0x00, 'c', 'h', 'a', 'i', 'n', 'i', 'n', 'g'}
)

// Indexing is deferred work. Every indexTick the indexer looks at how many
// entries arrived since its last look: while reads are recorded faster than
// quietRate it leaves the index alone (its random writes would take CPU and
// the writer from the reads being served), unless more than maxBacklog
// entries wait. It indexes at most maxIndexBatch entries a transaction and
// rests as long as each batch took. Until an entry is indexed, a listing
// finds it by scanning the unindexed tail, which maxBacklog bounds (a few
// seconds of scanning at worst).
const (
	indexTick     = 500 * time.Millisecond
	quietRate     = 2_000 // entries a second
	maxBacklog    = 2_000_000
	maxIndexBatch = 5_000
)

// maxBatch bounds how many requests one audit transaction commits;
// queueSize how many may wait (then Record and Enqueue wait too). The queue
// absorbs the moments the writer is busy indexing or the disk stalls.
const (
	maxBatch  = 4096
	queueSize = 16384
)

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit log closed")

// Actor is who reads or changes.
type Actor struct {
	Subject   string
	Role      string
	RequestID string
	// Traceparent is the W3C trace context of the request when it is
	// traced, for the change log (not the audit log): a change's
	// consumers link their work to it.
	Traceparent string
}

// ActorOf is the actor of a request: the caller's principal and the
// request id the interceptors gave the call, so that a record leads to the
// request's log lines, and the call's trace when it is sampled.
func ActorOf(ctx context.Context, p *authn.Principal) Actor {
	return Actor{Subject: p.Subject, Role: string(p.Role), RequestID: grpcserver.RequestID(ctx), Traceparent: tracing.Traceparent(ctx)}
}

// NewEntry returns an entry of actor doing action to a retiree at a time.
func NewEntry(actor Actor, action, retireeID string, at time.Time) *registryv1.AuditEntry {
	return &registryv1.AuditEntry{
		Time:      timestamppb.New(at),
		Subject:   actor.Subject,
		Role:      actor.Role,
		Action:    action,
		RetireeId: retireeID,
		RequestId: actor.RequestID,
	}
}

// Put appends e to the log, chained to the entry before it. Use it to
// audit a change in the change's own transaction; the indexer files it
// under its retiree later, and the Log's next checkpoint signs it.
func Put(tx *bolt.Tx, e *registryv1.AuditEntry) error {
	b := tx.Bucket(Bucket)
	h, err := readHead(b)
	if err != nil {
		return err
	}
	return appendEntry(b, &h, e)
}

// decodeEntry decodes a stored log value: the chain hash, then the entry.
func decodeEntry(v []byte, e *registryv1.AuditEntry) error {
	if len(v) < hashLen {
		return errors.New("audit entry shorter than its chain hash")
	}
	return proto.Unmarshal(v[hashLen:], e)
}

// ForEach calls fn with every entry of the log in tx, oldest first.
func ForEach(tx *bolt.Tx, fn func(*registryv1.AuditEntry) error) error {
	c := tx.Bucket(Bucket).Cursor()
	for k, v := c.Seek([]byte{prefixLog}); k != nil && k[0] == prefixLog; k, v = c.Next() {
		e := new(registryv1.AuditEntry)
		if err := decodeEntry(v, e); err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func logKey(seq uint64) []byte {
	return boltstore.AppendU64([]byte{prefixLog}, seq)
}

func indexPrefix(retireeID string) []byte {
	return append([]byte{prefixIndex}, boltstore.Prefix(retireeID)...)
}

func indexedThrough(b *bolt.Bucket) uint64 {
	v := b.Get(keyIndexed)
	if v == nil {
		return 0
	}
	n, _ := boltstore.ParseU64(v)
	return n
}

// List returns a page of a retiree's entries, oldest first. after is the
// previous page's last position (nil for the first page); next is nil when
// there is no more.
func List(db *bolt.DB, retireeID string, size int, after []byte) (page []*registryv1.AuditEntry, next []byte, err error) {
	var from uint64 // entries with a sequence above this
	if after != nil {
		if from, err = boltstore.ParseU64(after); err != nil {
			return nil, nil, err
		}
	}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		indexed := indexedThrough(b)
		var last uint64
		var more bool
		page, last, more, err = listIndexed(b, retireeID, from, size)
		if err != nil {
			return err
		}
		if !more {
			next = boltstore.U64(last)
			return nil
		}
		page, next, err = listUnindexed(b, retireeID, max(from, indexed)+1, size, page)
		return err
	})
	return page, next, err
}

// listIndexed reads up to size of a retiree's entries through its index,
// those with a sequence above from. last is the sequence of the last one
// read; more reports whether the page has room for more.
func listIndexed(b *bolt.Bucket, retireeID string, from uint64, size int) (page []*registryv1.AuditEntry, last uint64, more bool, err error) {
	prefix := indexPrefix(retireeID)
	var afterKey []byte
	if from > 0 {
		afterKey = boltstore.AppendU64(append([]byte(nil), prefix...), from)
	}
	more = true
	err = boltstore.ScanPrefix(b.Cursor(), prefix, afterKey, func(k, _ []byte) (bool, error) {
		seq, err := boltstore.ParseU64(k[len(prefix):])
		if err != nil {
			return false, err
		}
		v := b.Get(logKey(seq))
		if v == nil {
			return false, fmt.Errorf("audit index entry %d without log entry", seq)
		}
		e := new(registryv1.AuditEntry)
		if err := decodeEntry(v, e); err != nil {
			return false, err
		}
		page = append(page, e)
		last = seq
		more = len(page) < size
		return more, nil
	})
	return page, last, more, err
}

// listUnindexed fills page with the retiree's entries from the tail of
// the log the indexer has not reached, from sequence start, read with the
// same bound on keys examined as any list. next is the position the page
// ends at, nil when the log does.
func listUnindexed(b *bolt.Bucket, retireeID string, start uint64, size int, page []*registryv1.AuditEntry) ([]*registryv1.AuditEntry, []byte, error) {
	scan := boltstore.Scan{Prefix: []byte{prefixLog}, From: logKey(start), Size: size - len(page)}
	k, err := scan.Page(b.Cursor(), func(_, v []byte) (bool, error) {
		e := new(registryv1.AuditEntry)
		if err := decodeEntry(v, e); err != nil {
			return false, err
		}
		if e.RetireeId != retireeID {
			return false, nil
		}
		page = append(page, e)
		return true, nil
	})
	if err != nil || k == nil {
		return page, nil, err
	}
	seq, err := boltstore.ParseU64(k[1:])
	if err != nil {
		return page, nil, err
	}
	return page, boltstore.U64(seq), nil
}
