package signalfeed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// bucketCursors maps a source's name to its cursor in a consumer's file:
// revision (8 bytes), snapshot generation (8 bytes), epoch.
var bucketCursors = []byte("signalfeed_cursors")

// CursorBuckets are the buckets of a consumer's followers, for its
// storage schema.
var CursorBuckets = [][]byte{bucketCursors}

// DefaultMaxBatch bounds the entries one transaction of a Follower
// applies, unless FollowerOptions.MaxBatch says otherwise.
const DefaultMaxBatch = 500

// Stream is a WatchWorkSignals client stream as a Follower reads it. Any
// service's generated stream fits through StreamOf.
type Stream interface {
	Header() (metadata.MD, error)
	Recv() (*feedv1.SignalEvent, error)
}

// StreamOf adapts a generated WatchWorkSignals client stream (whose
// responses carry an event) to a Stream.
func StreamOf[R interface{ GetEvent() *feedv1.SignalEvent }](s interface {
	Header() (metadata.MD, error)
	Recv() (R, error)
}) Stream {
	return adapted[R]{s}
}

type adapted[R interface{ GetEvent() *feedv1.SignalEvent }] struct {
	s interface {
		Header() (metadata.MD, error)
		Recv() (R, error)
	}
}

func (a adapted[R]) Header() (metadata.MD, error) { return a.s.Header() }

func (a adapted[R]) Recv() (*feedv1.SignalEvent, error) {
	m, err := a.s.Recv()
	if err != nil {
		return nil, err
	}
	if ev := m.GetEvent(); ev != nil {
		return ev, nil
	}
	return nil, errors.New("watch response without an event")
}

// Opener opens a source's WatchWorkSignals stream from a cursor, e.g.
//
//	func(ctx context.Context, since int64, epoch string) (signalfeed.Stream, error) {
//		s, err := client.WatchWorkSignals(ctx, &registryv1.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
//		if err != nil {
//			return nil, err
//		}
//		return signalfeed.StreamOf(s), nil
//	}
type Opener func(ctx context.Context, sinceRevision int64, epoch string) (Stream, error)

// FollowerOptions configure a Follower.
type FollowerOptions struct {
	// Source names the source and its cursor: 1 to 32 of a-z, 0-9 and
	// "-" ("registry", "pension").
	Source string
	// Open opens the source's stream.
	Open Opener
	// Apply makes the consumer's data of one SNAPSHOT or CHANGE entry, in
	// the transaction that also stores the cursor; it returns an error
	// only for a failure of the consumer's own (the transaction rolls
	// back and the stream is read again later). It identifies a cause by
	// (source, ev.Signal.Key): an entry may come again in a later
	// snapshot, and a resolved signal may come for a key it never saw.
	//
	// generation is the snapshot generation: it counts up every time the
	// Follower starts from 0 (a new consumer, or after EPOCH_CHANGED or
	// REVISION_COMPACTED). Apply stamps what it keeps of each key with
	// it, so that EndSnapshot can tell what the latest snapshot named.
	Apply func(tx *bolt.Tx, ev *feedv1.SignalEvent, generation uint64) error
	// EndSnapshot runs at SNAPSHOT_END, in the transaction that stores the
	// cursor: the keys of this source that the consumer holds open and
	// whose stamp is older than generation are no longer open at the
	// source (resolved while the consumer was not following), so it
	// closes them. Nil: nothing to do.
	EndSnapshot func(tx *bolt.Tx, generation uint64) error
	// MaxBatch bounds the entries applied in one transaction (0:
	// DefaultMaxBatch).
	MaxBatch int
	// MinBackoff and MaxBackoff bound the wait between reconnects
	// (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	Logger                 *zap.Logger
}

var sourceName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// Follower follows one source's work-signal feed into a consumer's bbolt
// file. Run it in its own goroutine.
//
// A consumer uses it so (casework, for each source):
//
//   - Apply, per entry: find the item of (source, ev.Signal.Key); an open
//     signal creates it or brings it up to date, a resolved one closes it
//     (a resolved key the consumer never saw is ignored, or a notice is
//     acted on once); stamp the key with generation.
//   - EndSnapshot(generation): close every open item of this source whose
//     stamp is below generation: the source no longer has it open.
//
// The cursor is stored with what Apply did, so a consumer stopped at any
// point applies each change exactly once. A cursor of 0 means "start
// from a snapshot": a feed empty when its snapshot was taken is asked
// for a snapshot again at the next connection, which is harmless.
type Follower struct {
	db *bolt.DB
	o  FollowerOptions

	cursor     atomic.Uint64
	generation atomic.Uint64
	applied    atomic.Uint64
	connected  atomic.Bool
	// epoch is the cursor's epoch; only Run's goroutine uses it after
	// NewFollower.
	epoch string

	mu   sync.Mutex
	done chan struct{} // closed and replaced after every applied batch
}

// NewFollower creates CursorBuckets in db when missing and reads the
// source's cursor.
func NewFollower(db *bolt.DB, o FollowerOptions) (*Follower, error) {
	if !sourceName.MatchString(o.Source) {
		return nil, fmt.Errorf("signalfeed: source name %q: want 1 to 32 of a-z, 0-9, -", o.Source)
	}
	if o.Open == nil || o.Apply == nil {
		return nil, errors.New("signalfeed: a follower needs Open and Apply")
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 5 * time.Second
	}
	if err := boltstore.CreateBuckets(db, CursorBuckets...); err != nil {
		return nil, err
	}
	f := &Follower{db: db, o: o, done: make(chan struct{})}
	err := db.View(func(tx *bolt.Tx) error {
		c, err := ReadCursor(tx, o.Source)
		f.cursor.Store(c.Revision)
		f.generation.Store(c.Generation)
		f.epoch = c.Epoch
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Cursor is a source's position in a consumer's file.
type Cursor struct {
	// Revision is the last change applied; 0: start from a snapshot.
	Revision uint64
	// Generation is the latest snapshot generation started.
	Generation uint64
	// Epoch is the epoch of Revision.
	Epoch string
}

// ReadCursor reads source's cursor in tx's file (the zero Cursor when
// there is none).
func ReadCursor(tx *bolt.Tx, source string) (Cursor, error) {
	b := tx.Bucket(bucketCursors)
	if b == nil {
		return Cursor{}, nil
	}
	v := b.Get([]byte(source))
	if v == nil {
		return Cursor{}, nil
	}
	if len(v) < 16 {
		return Cursor{}, fmt.Errorf("signalfeed: cursor of %s: %d bytes", source, len(v))
	}
	rev, err := boltstore.ParseU64(v[:8])
	if err != nil {
		return Cursor{}, err
	}
	gen, err := boltstore.ParseU64(v[8:16])
	return Cursor{Revision: rev, Generation: gen, Epoch: string(v[16:])}, err
}

// PutCursor stores source's cursor in tx's file, creating the bucket when
// missing. A consumer's storage migration may set Revision to 0 to have
// the source's signals applied again from a snapshot.
func PutCursor(tx *bolt.Tx, source string, c Cursor) error {
	b, err := tx.CreateBucketIfNotExists(bucketCursors)
	if err != nil {
		return err
	}
	v := append(boltstore.U64(c.Revision), boltstore.U64(c.Generation)...)
	return b.Put([]byte(source), append(v, c.Epoch...))
}

// Source is the follower's source name.
func (f *Follower) Source() string { return f.o.Source }

// Cursor is the source revision applied through.
func (f *Follower) Cursor() uint64 { return f.cursor.Load() }

// Generation is the latest snapshot generation started.
func (f *Follower) Generation() uint64 { return f.generation.Load() }

// Applied counts the entries applied since NewFollower.
func (f *Follower) Applied() uint64 { return f.applied.Load() }

// Connected reports whether a stream is open now.
func (f *Follower) Connected() bool { return f.connected.Load() }

// WaitFor blocks until the follower has applied revision rev, or ctx
// ends.
func (f *Follower) WaitFor(ctx context.Context, rev uint64) error {
	for {
		f.mu.Lock()
		ch := f.done
		f.mu.Unlock()
		if f.Cursor() >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run follows the source until ctx ends, reconnecting with jittered
// exponential backoff; it returns nil when ctx is cancelled. When the
// source refuses the cursor (REVISION_COMPACTED, REVISION_AHEAD,
// EPOCH_CHANGED) it starts again from 0: a new snapshot generation.
func (f *Follower) Run(ctx context.Context) error {
	backoff := f.o.MinBackoff
	for {
		progressed, err := f.follow(ctx)
		f.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			backoff = f.o.MinBackoff
		}
		f.o.Logger.Warn("work-signal watch interrupted; reconnecting", zap.String("source", f.o.Source),
			zap.Uint64("cursor", f.Cursor()), zap.Duration("backoff", backoff), zap.Error(err))
		wait := backoff/2 + rand.N(backoff/2+1) //nolint:gosec // G404: jitter, not a secret
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, f.o.MaxBackoff)
	}
}
