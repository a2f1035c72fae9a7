// Package audit records who read or changed a retiree's personal data, in
// the owning service's bbolt file. Changes are recorded in their own
// transaction. Reads are recorded through Log.Read, in group-committed
// transactions: by default the record of a read is queued before the data
// is disclosed and is on disk within milliseconds (a crash can lose the
// last commit's worth); with durable reads (the services'
// --audit-durable-reads) the data is disclosed only once its record is on
// disk, at a measured cost of about a third of GetRetiree's throughput.
package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/gather"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Bucket holds the audit log of the owning service. Three key ranges
// share it:
//
//	0x01 seq           -> AuditEntry   the log, appended in order (cheap to
//	                                   write however many retirees are read)
//	0x02 retiree 0 seq -> (empty)      the per-retiree index, built from the
//	                                   log in large sorted batches by the
//	                                   Log's indexer, off the request path
//	0x00 "indexed"     -> seq          how far the index reaches
//
// A listing reads the index and then scans the short tail of the log that
// is not indexed yet, so it is complete at any moment.
var Bucket = []byte("audit")

const (
	prefixLog   = 0x01
	prefixIndex = 0x02
)

var keyIndexed = []byte{0x00, 'i', 'n', 'd', 'e', 'x', 'e', 'd'}

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
}

// ActorOf is the actor of a request: the caller's principal and the
// request id the interceptors gave the call, so that a record leads to the
// request's log lines.
func ActorOf(ctx context.Context, p *authn.Principal) Actor {
	return Actor{Subject: p.Subject, Role: string(p.Role), RequestID: grpcserver.RequestID(ctx)}
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

// Put appends e to the log. Use it to audit a change in the change's own
// transaction; the indexer files it under its retiree later.
func Put(tx *bolt.Tx, e *registryv1.AuditEntry) error {
	b := tx.Bucket(Bucket)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v, err := proto.Marshal(e)
	if err != nil {
		return err
	}
	return b.Put(logKey(seq), v)
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
		if err := proto.Unmarshal(v, e); err != nil {
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
		if err := proto.Unmarshal(v, e); err != nil {
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

// Log records reads in group-committed transactions. While one transaction
// commits, new requests queue and form the next one; an idle log commits a
// lone request at once.
type Log struct {
	db       *bolt.DB
	log      *zap.Logger
	now      func() time.Time
	reqs     chan *request
	pending  atomic.Int64 // entries appended since the last indexing
	appended atomic.Int64 // entries appended in all, for the indexer's rate
	kick     chan struct{}
	idxDone  chan struct{} // closed when the indexer has exited
	quit     chan struct{} // closed by Close
	stopped  chan struct{} // closed when run has failed what was queued and exited
	closed   sync.Once

	durableReads bool
	// failing is set while commits fail (a full disk): then Read waits
	// for its record as with durableReads, so that no read is disclosed
	// whose record cannot be written. The first commit that succeeds
	// clears it.
	failing atomic.Bool
}

type request struct {
	entries []*registryv1.AuditEntry
	done    chan error
}

// NewLog starts a Log over db, whose Bucket must exist (see
// boltstore.CreateBuckets). now is the clock (time.Now when nil).
// durableReads decides what Read waits for (see Read).
func NewLog(db *bolt.DB, log *zap.Logger, now func() time.Time, durableReads bool) *Log {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{
		db: db, log: log, now: now, durableReads: durableReads,
		reqs: make(chan *request, queueSize), kick: make(chan struct{}, 1),
		quit: make(chan struct{}), stopped: make(chan struct{}), idxDone: make(chan struct{}),
	}
	go l.run()
	go l.indexer()
	return l
}

// Read records that actor read the data of the retirees, as the service
// is configured: with durable reads it is Record (the data is disclosed
// only once its read is on disk), otherwise Enqueue. While commits fail
// (a full disk) it is Record whatever the configuration: the reads are
// refused rather than disclosed unrecorded, and only those queued before
// the first failure are lost. Every service audits its reads through it.
func (l *Log) Read(ctx context.Context, actor Actor, action string, retireeIDs ...string) error {
	if l.durableReads || l.failing.Load() {
		return l.Record(ctx, actor, action, retireeIDs...)
	}
	return l.Enqueue(ctx, actor, action, retireeIDs...)
}

// ReadWithReason is Read for a disclosure that the action alone does not
// explain, such as a refused create that told the caller a retiree is on
// file: reason, an UPPER_SNAKE code, goes into each entry.
func (l *Log) ReadWithReason(ctx context.Context, actor Actor, action, reason string, retireeIDs ...string) error {
	if len(retireeIDs) == 0 {
		return nil
	}
	req := &request{entries: l.entries(actor, action, retireeIDs)}
	for _, e := range req.entries {
		e.Reason = reason
	}
	if l.durableReads || l.failing.Load() {
		req.done = make(chan error, 1)
	}
	return l.submit(ctx, req)
}

// Record writes that actor did action to each retiree and returns once the
// entries are durable. A caller must not disclose the data when it fails.
func (l *Log) Record(ctx context.Context, actor Actor, action string, retireeIDs ...string) error {
	if len(retireeIDs) == 0 {
		return nil
	}
	return l.submit(ctx, &request{entries: l.entries(actor, action, retireeIDs), done: make(chan error, 1)})
}

// Enqueue queues the entries for the next group commit and returns without
// waiting for it: the read is answered while its record is on its way to
// disk. A crash can lose the records of the last few milliseconds, never
// more than one commit's worth; Close flushes. When the queue is full,
// Enqueue waits (back-pressure) rather than drop a record.
func (l *Log) Enqueue(ctx context.Context, actor Actor, action string, retireeIDs ...string) error {
	if len(retireeIDs) == 0 {
		return nil
	}
	return l.submit(ctx, &request{entries: l.entries(actor, action, retireeIDs)})
}

func (l *Log) entries(actor Actor, action string, retireeIDs []string) []*registryv1.AuditEntry {
	now := l.now()
	entries := make([]*registryv1.AuditEntry, len(retireeIDs))
	for i, id := range retireeIDs {
		entries[i] = NewEntry(actor, action, id, now)
	}
	return entries
}

// submit queues req and, when it has a done channel, waits for its commit.
func (l *Log) submit(ctx context.Context, req *request) error {
	select {
	case <-l.quit:
		return ErrClosed
	default:
	}
	select {
	case l.reqs <- req:
	case <-l.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	if req.done == nil {
		return nil
	}
	select {
	case err := <-req.done:
		return err
	case <-l.stopped:
		// run exited; it answered every request it took, so an unanswered
		// one slipped into the queue after it drained.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	case <-ctx.Done():
		// The entries may still be committed; the caller gives up waiting
		// and discloses nothing.
		return ctx.Err()
	}
}

// run commits the queued requests, as many at a time as have queued up
// to maxBatch, until Close.
func (l *Log) run() {
	defer close(l.stopped)
	batch := make([]*request, 0, maxBatch)
	for {
		var first *request
		select {
		case first = <-l.reqs:
		case <-l.quit:
			l.failQueued()
			return
		}
		batch = gather.Queued(append(batch[:0], first), l.reqs, maxBatch)
		l.answer(batch, l.commit(batch))
	}
}

// commit writes the entries of a batch in one transaction and counts them
// for the indexer.
func (l *Log) commit(batch []*request) error {
	err := boltstore.Update(l.db, func(tx *bolt.Tx) error {
		for _, r := range batch {
			if err := putEntries(tx, r.entries); err != nil {
				return err
			}
		}
		return nil
	})
	l.failing.Store(err != nil)
	if err != nil {
		l.log.Error("audit commit failed", zap.Int("requests", len(batch)), zap.Error(err))
		return err
	}
	n := 0
	for _, r := range batch {
		n += len(r.entries)
	}
	l.appended.Add(int64(n))
	if l.pending.Add(int64(n)) >= maxBacklog {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// answer tells each waiting caller of a batch how its commit went; the
// records of a queued request whose commit failed are lost, which is
// logged.
func (l *Log) answer(batch []*request, err error) {
	for _, r := range batch {
		if r.done != nil {
			r.done <- err
		} else if err != nil {
			l.log.Error("queued audit records lost", zap.Int("entries", len(r.entries)))
		}
	}
}

// failQueued answers, with fail, whatever is still queued at Close rather
// than leave callers waiting.
func (l *Log) failQueued() {
	for {
		select {
		case r := <-l.reqs:
			l.fail(r)
		default:
			return
		}
	}
}

// fail answers a request that arrived after Close: a waiting caller gets
// ErrClosed; a queued one is written now, so that Close loses nothing.
func (l *Log) fail(r *request) {
	if r.done != nil {
		r.done <- ErrClosed
		return
	}
	if err := l.db.Update(func(tx *bolt.Tx) error { return putEntries(tx, r.entries) }); err != nil {
		l.log.Error("queued audit records lost at close", zap.Int("entries", len(r.entries)), zap.Error(err))
	}
}

// putEntries appends entries to the log within tx.
func putEntries(tx *bolt.Tx, entries []*registryv1.AuditEntry) error {
	for _, e := range entries {
		if err := Put(tx, e); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the log: waiting requests still queued fail with ErrClosed,
// queued Enqueue records are written.
func (l *Log) Close() {
	l.closed.Do(func() { close(l.quit) })
	<-l.stopped
	<-l.idxDone
}

// indexer files log entries under their retirees in large sorted batches,
// so that each index page is written once per batch rather than once per
// read, and mostly while the service is idle. It indexes what is left when
// the log closes.
func (l *Log) indexer() {
	defer close(l.idxDone)
	t := time.NewTicker(indexTick)
	defer t.Stop()
	seen := l.appended.Load()
	for {
		select {
		case <-t.C:
			now := l.appended.Load()
			busy := float64(now-seen) > quietRate*indexTick.Seconds()
			seen = now
			if busy && l.pending.Load() < maxBacklog {
				continue
			}
		case <-l.kick:
		case <-l.stopped:
			if err := l.indexAll(); err != nil {
				l.log.Error("audit indexing at close failed", zap.Error(err))
			}
			return
		}
		if err := l.indexAll(); err != nil {
			l.log.Error("audit indexing failed", zap.Error(err))
		}
	}
}

// indexAll indexes the whole backlog, batch by batch, resting between
// batches as long as each took.
func (l *Log) indexAll() error {
	for {
		start := time.Now()
		n, err := l.indexOnce()
		if err != nil || n < maxIndexBatch {
			return err
		}
		select {
		case <-time.After(time.Since(start)):
		case <-l.stopped:
		}
	}
}

// indexOnce indexes up to maxIndexBatch log entries past the indexed mark.
func (l *Log) indexOnce() (int, error) {
	l.pending.Store(0)
	// A look first, so that an idle log does not commit empty transactions.
	var behind bool
	if err := l.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		k, _ := b.Cursor().Seek(logKey(indexedThrough(b) + 1))
		behind = k != nil && k[0] == prefixLog
		return nil
	}); err != nil || !behind {
		return 0, err
	}
	n := 0
	err := l.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		done := indexedThrough(b)
		keys := make([][]byte, 0, 1024)
		c := b.Cursor()
		for k, v := c.Seek(logKey(done + 1)); k != nil && k[0] == prefixLog && len(keys) < maxIndexBatch; k, v = c.Next() {
			seq, err := boltstore.ParseU64(k[1:])
			if err != nil {
				return err
			}
			var e registryv1.AuditEntry
			if err := proto.Unmarshal(v, &e); err != nil {
				return err
			}
			keys = append(keys, boltstore.AppendU64(indexPrefix(e.RetireeId), seq))
			done = seq
		}
		if len(keys) == 0 {
			return nil
		}
		slices.SortFunc(keys, bytes.Compare)
		for _, k := range keys {
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
		n = len(keys)
		return b.Put(keyIndexed, boltstore.U64(done))
	})
	return n, err
}
