package registry

import (
	"context"
	"errors"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// maxAuditBatch bounds how many read requests one audit transaction
// commits.
const maxAuditBatch = 2048

var errAuditClosed = errors.New("audit log closed")

func auditEntry(actor Actor, action, retireeID string, at time.Time) *pb.AuditEntry {
	return &pb.AuditEntry{
		Time:      timestamppb.New(at),
		Subject:   actor.Subject,
		Role:      actor.Role,
		Action:    action,
		RetireeId: retireeID,
		RequestId: actor.RequestID,
	}
}

// putAudit files e under its retiree with the bucket's next sequence, so a
// retiree's entries list in the order they were written.
func putAudit(tx *bolt.Tx, e *pb.AuditEntry) error {
	b := tx.Bucket(bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putProto(b, boltstore.AppendU64(boltstore.Prefix(e.RetireeId), seq), e)
}

// AuditReads records that actor read the given retirees, and returns once
// the record is durable: personal data is disclosed only after its read is
// on disk. Concurrent callers share one transaction (group commit), so the
// cost of a commit is spread over every read waiting for it.
func (s *Store) AuditReads(ctx context.Context, actor Actor, action string, retireeIDs ...string) error {
	if len(retireeIDs) == 0 {
		return nil
	}
	now := s.now()
	entries := make([]*pb.AuditEntry, len(retireeIDs))
	for i, id := range retireeIDs {
		entries[i] = auditEntry(actor, action, id, now)
	}
	return s.audit.write(ctx, entries)
}

// auditWriter commits audit entries of concurrent reads in shared
// transactions. While one transaction commits, new requests queue and form
// the next one; an idle writer commits a lone request at once.
type auditWriter struct {
	db     *bolt.DB
	log    *zap.Logger
	reqs   chan *auditRequest
	quit   chan struct{}
	closed sync.Once
	wg     sync.WaitGroup
}

type auditRequest struct {
	entries []*pb.AuditEntry
	done    chan error
}

func newAuditWriter(db *bolt.DB, log *zap.Logger) *auditWriter {
	a := &auditWriter{db: db, log: log, reqs: make(chan *auditRequest, maxAuditBatch), quit: make(chan struct{})}
	a.wg.Add(1)
	go a.run()
	return a
}

func (a *auditWriter) write(ctx context.Context, entries []*pb.AuditEntry) error {
	req := &auditRequest{entries: entries, done: make(chan error, 1)}
	select {
	case a.reqs <- req:
	case <-a.quit:
		return errAuditClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The entry may still be committed; the caller gives up waiting and
		// discloses nothing.
		return ctx.Err()
	}
}

func (a *auditWriter) run() {
	defer a.wg.Done()
	batch := make([]*auditRequest, 0, maxAuditBatch)
	for {
		var first *auditRequest
		select {
		case first = <-a.reqs:
		case <-a.quit:
			// Fail whatever is still queued rather than leave callers waiting.
			for {
				select {
				case r := <-a.reqs:
					r.done <- errAuditClosed
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxAuditBatch {
			select {
			case r := <-a.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := a.db.Update(func(tx *bolt.Tx) error {
			for _, r := range batch {
				for _, e := range r.entries {
					if err := putAudit(tx, e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			a.log.Error("audit commit failed", zap.Int("requests", len(batch)), zap.Error(err))
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (a *auditWriter) close() {
	a.closed.Do(func() { close(a.quit) })
	a.wg.Wait()
}
