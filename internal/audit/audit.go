// Package audit records who read or changed a retiree's personal data, in
// the owning service's bbolt file. Reads are recorded before the data is
// disclosed; concurrent reads share one transaction (group commit), so the
// cost of a commit is spread over every read waiting for it.
package audit

import (
	"context"
	"errors"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Bucket is where entries are kept: retiree id, 0, sequence -> AuditEntry.
var Bucket = []byte("audit")

// maxBatch bounds how many requests one audit transaction commits.
const maxBatch = 2048

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit log closed")

// Actor is who reads or changes.
type Actor struct {
	Subject   string
	Role      string
	RequestID string
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

// Put files e under its retiree with the bucket's next sequence, so a
// retiree's entries list in the order they were written. Use it to audit a
// change in the change's own transaction.
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
	return b.Put(boltstore.AppendU64(boltstore.Prefix(e.RetireeId), seq), v)
}

// List returns a page of a retiree's entries, oldest first.
func List(db *bolt.DB, retireeID string, size int, after []byte) ([]*registryv1.AuditEntry, []byte, error) {
	var out []*registryv1.AuditEntry
	var next []byte
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.ScanPage(tx.Bucket(Bucket).Cursor(), boltstore.Prefix(retireeID), after, size, func(_, v []byte) (bool, error) {
			e := new(registryv1.AuditEntry)
			if err := proto.Unmarshal(v, e); err != nil {
				return false, err
			}
			out = append(out, e)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// Log records reads in group-committed transactions. While one transaction
// commits, new requests queue and form the next one; an idle log commits a
// lone request at once.
type Log struct {
	db      *bolt.DB
	log     *zap.Logger
	now     func() time.Time
	reqs    chan *request
	quit    chan struct{} // closed by Close
	stopped chan struct{} // closed when run has failed what was queued and exited
	closed  sync.Once
}

type request struct {
	entries []*registryv1.AuditEntry
	done    chan error
}

// NewLog starts a Log over db, whose Bucket must exist (see
// boltstore.CreateBuckets). now is the clock (time.Now when nil).
func NewLog(db *bolt.DB, log *zap.Logger, now func() time.Time) *Log {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	l := &Log{db: db, log: log, now: now, reqs: make(chan *request, maxBatch), quit: make(chan struct{}), stopped: make(chan struct{})}
	go l.run()
	return l
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

func (l *Log) run() {
	defer close(l.stopped)
	batch := make([]*request, 0, maxBatch)
	for {
		var first *request
		select {
		case first = <-l.reqs:
		case <-l.quit:
			// Fail whatever is still queued rather than leave callers waiting.
			for {
				select {
				case r := <-l.reqs:
					l.fail(r)
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := l.db.Update(func(tx *bolt.Tx) error {
			for _, r := range batch {
				for _, e := range r.entries {
					if err := Put(tx, e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			l.log.Error("audit commit failed", zap.Int("requests", len(batch)), zap.Error(err))
		}
		for _, r := range batch {
			if r.done != nil {
				r.done <- err
			} else if err != nil {
				l.log.Error("queued audit records lost", zap.Int("entries", len(r.entries)))
			}
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
	if err := l.db.Update(func(tx *bolt.Tx) error {
		for _, e := range r.entries {
			if err := Put(tx, e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		l.log.Error("queued audit records lost at close", zap.Int("entries", len(r.entries)), zap.Error(err))
	}
}

// Close stops the log: waiting requests still queued fail with ErrClosed,
// queued Enqueue records are written.
func (l *Log) Close() {
	l.closed.Do(func() { close(l.quit) })
	<-l.stopped
}
