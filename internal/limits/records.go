package limits

import (
	"context"
	"errors"
	"sync"
)

// errRecordsClosed ends an Acquire after its stream has ended.
var errRecordsClosed = errors.New("limits: import stream ended")

// recordsKey is the context key of an import stream's *Records.
type recordsKey struct{}

// Records is one import stream's share of its caller's records in
// flight: the handler acquires a record's place before it queues the
// record and releases it once the record is durable, so that however
// many streams a caller opens, no more of its records than its role's
// Records wait in memory at once. A caller over the bound is not refused:
// its streams wait, and gRPC's flow control holds back its sender.
//
// A nil *Records, as RecordsFrom returns outside a limited import,
// bounds nothing.
type Records struct {
	c *caller

	mu     sync.Mutex
	held   int
	closed bool
}

// RecordsFrom returns the Records of the import stream whose context is
// ctx, or nil when the stream is not limited.
func RecordsFrom(ctx context.Context) *Records {
	r, _ := ctx.Value(recordsKey{}).(*Records)
	return r
}

// Acquire waits until one more record of the stream may be in flight,
// or returns ctx's error, or an error once the stream has ended.
func (r *Records) Acquire(ctx context.Context) error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return errRecordsClosed
	}
	select {
	case r.c.records <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		// The stream ended while this waited: give the place back.
		<-r.c.records
		return errRecordsClosed
	}
	r.held++
	return nil
}

// Release gives back the places of n records that are durable now.
func (r *Records) Release(n int) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n = min(n, r.held)
	r.held -= n
	for range n {
		<-r.c.records
	}
}

// close gives back every place the stream still holds and refuses any
// later Acquire: the stream has ended.
func (r *Records) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for range r.held {
		<-r.c.records
	}
	r.held = 0
}
