package audit

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/gather"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

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

	checkpoints Checkpoints
	// beforeCommit is Options.beforeCommit.
	beforeCommit func()
	// signed is the sequence of the newest checkpoint; only run (and
	// NewLog before it) reads and writes it.
	signed uint64
}

type request struct {
	entries []*registryv1.AuditEntry
	done    chan error
	// one backs entries for a request of one retiree, the common read,
	// so that it needs no slice of its own.
	one [1]*registryv1.AuditEntry
}

// entryBox holds an entry and its time, so that a read's record takes
// one allocation rather than two.
type entryBox struct {
	entry registryv1.AuditEntry
	time  timestamppb.Timestamp
}

// newRequest returns the request of actor doing action to the retirees
// now, its entries allocated together.
func (l *Log) newRequest(actor Actor, action string, retireeIDs []string) *request {
	now := l.now()
	req := &request{}
	if len(retireeIDs) == 1 {
		req.entries = req.one[:]
	} else {
		req.entries = make([]*registryv1.AuditEntry, len(retireeIDs))
	}
	boxes := make([]entryBox, len(retireeIDs))
	for i, id := range retireeIDs {
		b := &boxes[i]
		// As timestamppb.New and NewEntry.
		b.time.Seconds, b.time.Nanos = now.Unix(), int32(now.Nanosecond()) //nolint:gosec // G115: below 1e9
		e := &b.entry
		e.Time, e.Subject, e.Role, e.Action = &b.time, actor.Subject, actor.Role, action
		e.RetireeId, e.RequestId = id, actor.RequestID
		req.entries[i] = e
	}
	return req
}

// Options configure a Log.
type Options struct {
	// Logger receives commit and indexing failures; nil discards them.
	Logger *zap.Logger
	// Now is the clock of entries and checkpoints; nil means time.Now.
	Now func() time.Time
	// DurableReads decides what Read waits for (see Read).
	DurableReads bool
	// Checkpoints say how the chain is signed.
	Checkpoints Checkpoints

	// beforeCommit, set only by tests, runs in the committer before each
	// commit: a stand-in for a commit stalled on a slow disk.
	beforeCommit func()
}

// NewLog starts a Log over db, whose Bucket must exist (see
// boltstore.CreateBuckets). It first chains what a Migration left
// unchained, in transactions of a bounded size, and signs the chain's
// head when entries follow the last checkpoint.
func NewLog(db *bolt.DB, o Options) (*Log, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	l := &Log{
		db: db, log: o.Logger, now: o.Now, durableReads: o.DurableReads,
		checkpoints: o.Checkpoints.withDefaults(), beforeCommit: o.beforeCommit,
		reqs: make(chan *request, queueSize), kick: make(chan struct{}, 1),
		quit: make(chan struct{}), stopped: make(chan struct{}), idxDone: make(chan struct{}),
	}
	if err := chainLegacy(db, l.log); err != nil {
		return nil, err
	}
	if err := db.View(func(tx *bolt.Tx) error {
		var err error
		l.signed, err = lastCheckpoint(tx.Bucket(Bucket))
		return err
	}); err != nil {
		return nil, err
	}
	if err := l.checkpoint(); err != nil {
		return nil, fmt.Errorf("audit checkpoint: %w", err)
	}
	go l.run()
	go l.indexer()
	return l, nil
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
	req := l.newRequest(actor, action, retireeIDs)
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
	req := l.newRequest(actor, action, retireeIDs)
	req.done = make(chan error, 1)
	return l.submit(ctx, req)
}

// Enqueue queues the entries for the next group commit and returns without
// waiting for it: the read is answered while its record is on its way to
// disk. A crash can lose the records of the last few milliseconds, never
// more than one commit's worth; Close flushes. The queue is bounded
// (queueSize requests); when it is full, Enqueue waits for room
// (back-pressure) as long as ctx allows and then fails with ctx's error,
// rather than drop a record. It does not fall back to a durable write:
// that would wait for the same committer, behind the same full queue.
// The queue is a channel, so no lock is held while the committer writes.
func (l *Log) Enqueue(ctx context.Context, actor Actor, action string, retireeIDs ...string) error {
	if len(retireeIDs) == 0 {
		return nil
	}
	return l.submit(ctx, l.newRequest(actor, action, retireeIDs))
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
// to maxBatch, until Close; between commits it signs the chain when the
// last checkpoint is older than the interval and entries follow it.
func (l *Log) run() {
	defer close(l.stopped)
	tick := time.NewTicker(l.checkpoints.Interval)
	defer tick.Stop()
	batch := make([]*request, 0, maxBatch)
	for {
		var first *request
		select {
		case first = <-l.reqs:
		case <-tick.C:
			if err := l.checkpoint(); err != nil {
				l.log.Error("audit checkpoint failed", zap.Error(err))
			}
			continue
		case <-l.quit:
			l.failQueued()
			if err := l.checkpoint(); err != nil {
				l.log.Error("audit checkpoint at close failed", zap.Error(err))
			}
			return
		}
		batch = gather.Queued(append(batch[:0], first), l.reqs, maxBatch)
		if l.beforeCommit != nil {
			l.beforeCommit()
		}
		l.answer(batch, l.commit(batch))
	}
}

// commit writes the entries of a batch in one transaction, chained, with
// a checkpoint when Checkpoints.Every entries follow the last one, and
// counts them for the indexer.
func (l *Log) commit(batch []*request) error {
	signed := l.signed
	err := boltstore.Update(l.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		h, err := readHead(b)
		if err != nil {
			return err
		}
		for _, r := range batch {
			for _, e := range r.entries {
				if err := appendEntry(b, &h, e); err != nil {
					return err
				}
			}
		}
		if l.checkpoints.Key == nil || h.seq-l.signed < uint64(l.checkpoints.Every) { //nolint:gosec // G115: Every is positive (withDefaults)
			return nil
		}
		signed = h.seq
		return putCheckpoint(b, l.checkpoints, h, l.now())
	})
	l.failing.Store(err != nil)
	if err != nil {
		l.log.Error("audit commit failed", zap.Int("requests", len(batch)), zap.Error(err))
		return err
	}
	l.signed = signed
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

// checkpoint signs the chain's head when entries follow the newest
// checkpoint, whoever wrote them (the Log's commits or changes' own
// transactions). Without a key it does nothing.
func (l *Log) checkpoint() error {
	if l.checkpoints.Key == nil {
		return nil
	}
	signed := l.signed
	err := boltstore.Update(l.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		h, err := readHead(b)
		if err != nil || h.seq <= l.signed {
			return err
		}
		signed = h.seq
		return putCheckpoint(b, l.checkpoints, h, l.now())
	})
	if err != nil {
		return err
	}
	l.signed = signed
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

// indexAll indexes the backlog, batch by batch, resting between batches
// as long as each took. It stops early when reads come in again faster
// than quietRate (the indexer's next quiet tick goes on), so that a long
// backlog indexed in a pause does not compete with the reads that follow
// it; at close, and past maxBacklog, it indexes everything.
func (l *Log) indexAll() error {
	for {
		start := time.Now()
		before := l.appended.Load()
		n, err := l.indexOnce()
		if err != nil || n < maxIndexBatch {
			return err
		}
		closing := false
		select {
		case <-time.After(time.Since(start)):
		case <-l.stopped:
			closing = true
		}
		if !closing && yieldToReads(l.appended.Load()-before, time.Since(start), l.pending.Load()) {
			return nil
		}
	}
}

// yieldToReads reports whether indexing should stop for now: appended
// entries came in over elapsed faster than quietRate, and the backlog
// since the last batch (pending) is below maxBacklog.
func yieldToReads(appended int64, elapsed time.Duration, pending int64) bool {
	return pending < maxBacklog && float64(appended) > quietRate*elapsed.Seconds()
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
			if err := decodeEntry(v, &e); err != nil {
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
