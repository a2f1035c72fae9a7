// Package projection keeps a service's local copy of the registry's
// retirees — id, ID-number key, community, status and the few fields the
// service's rules need — fed by registry's WatchRetirees stream. The copy
// and its cursor live in the service's own bbolt file and change in one
// transaction, so a restart resumes exactly where it stopped, and the
// service's hot paths read it without calling registry.
package projection

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/gather"
	"github.com/socmgmt/socmgmt/internal/tracing"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Buckets the projection owns in the service's database.
var (
	bucketRetirees    = []byte("projection_retirees")     // retiree id -> RetireeState
	bucketByIDKey     = []byte("projection_by_idkey")     // ID-number HMAC -> retiree id
	bucketByCommunity = []byte("projection_by_community") // community id, 0, retiree id -> nil
	bucketMeta        = []byte("projection_meta")
	// bucketSeen collects the ids of a snapshot in progress, so that its
	// end can drop retirees registry no longer has (after registry was
	// restored from an older backup).
	bucketSeen = []byte("projection_snapshot_seen")
	keyCursor  = []byte("cursor")
	// keyEpoch is the epoch of registry's change log the cursor belongs
	// to (see registryv1.WatchRetireesRequest.epoch).
	keyEpoch = []byte("epoch")
	// seenMark is the value of a seen id: bbolt returns nil for an empty
	// value, which would read as "not seen".
	seenMark = []byte{1}
)

// maxApplyBatch bounds how many stream messages one transaction applies.
// A snapshot is applied in batches of up to maxSnapshotBatch: until its
// end the cursor stays 0 and a crash starts it again, so its commits
// need not be many, and each one rewrites the leaves its random keys
// (ID-number HMACs) land on, whatever their number.
const (
	maxApplyBatch    = 1000
	maxSnapshotBatch = 30_000
)

// ApplyHook lets the owning service keep its own derived data in step, in
// the same transaction as the projection change. old is nil for a retiree
// seen for the first time; cur is nil for a retiree dropped because
// registry no longer has it (registry restored from an older backup).
type ApplyHook func(tx *bolt.Tx, old, cur *registryv1.RetireeState) error

// Options configure a Projection.
type Options struct {
	// Logger receives connection and apply failures.
	Logger *zap.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnects
	// (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	// OnApply, when set, runs for every applied retiree state.
	OnApply ApplyHook
	// TracerProvider, when set, makes each applied batch that holds
	// traced changes a span linked to the trace of each change's write
	// (WatchRetireesResponse.traceparent). Nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Projection follows WatchRetirees into a bbolt file.
type Projection struct {
	db     *bolt.DB
	client registryv1.RegistryServiceClient
	log    *zap.Logger
	opts   Options
	// tracer is nil when applies are not traced.
	tracer trace.Tracer

	cursor    atomic.Uint64
	connected atomic.Bool
	// epoch is the epoch of the cursor; only Run's goroutine uses it
	// after New.
	epoch string
	// lastWrite is the id of the latest bbolt transaction that wrote
	// retirees (see LastWrite).
	lastWrite atomic.Uint64

	mu      sync.Mutex
	applied chan struct{} // closed and replaced after every applied batch
}

// New prepares the projection's buckets in db and reads its cursor. Run
// starts following.
func New(db *bolt.DB, client registryv1.RegistryServiceClient, o Options) (*Projection, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 5 * time.Second
	}
	if err := boltstore.CreateBuckets(db, bucketRetirees, bucketByIDKey, bucketByCommunity, bucketMeta, bucketSeen); err != nil {
		return nil, err
	}
	p := &Projection{db: db, client: client, log: o.Logger, opts: o, applied: make(chan struct{})}
	if o.TracerProvider != nil {
		p.tracer = o.TracerProvider.Tracer("github.com/socmgmt/socmgmt/internal/projection")
	}
	err := db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyCursor); v != nil {
			c, err := boltstore.ParseU64(v)
			if err != nil {
				return err
			}
			p.cursor.Store(c)
		}
		p.epoch = string(meta.Get(keyEpoch))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.Cursor() > 0 && p.epoch == "" {
		// A cursor stored before epochs were: nothing says which history
		// of registry's it belongs to, so it is not trusted.
		p.log.Warn("projection cursor has no epoch; resynchronising from a snapshot", zap.Uint64("cursor", p.Cursor()))
		if err := p.setCursor(0, ""); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Cursor is the registry revision the projection has applied through.
func (p *Projection) Cursor() uint64 { return p.cursor.Load() }

// LastWrite returns the id of the latest bbolt write transaction in which
// the projection changed, or began to change, the projected retirees; 0
// before any. A caller that looked retirees up in a read transaction with
// id S may rely on what it read, inside a later write transaction, while
// LastWrite() <= S: nothing has been projected since. The id is taken
// before the transaction commits, so a writer sees every projection
// transaction that ran before it; one that rolled back only makes a
// caller look again.
func (p *Projection) LastWrite() uint64 { return p.lastWrite.Load() }

// Connected reports whether a watch stream is currently open.
func (p *Projection) Connected() bool { return p.connected.Load() }

// WaitFor blocks until the projection has applied revision rev, or ctx
// ends. Tests and read-your-writes callers use it.
func (p *Projection) WaitFor(ctx context.Context, rev uint64) error {
	for {
		p.mu.Lock()
		ch := p.applied
		p.mu.Unlock()
		if p.Cursor() >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Run follows the registry until ctx ends, reconnecting with jittered
// exponential backoff when the stream breaks or registry is down. It
// returns nil when ctx is cancelled.
func (p *Projection) Run(ctx context.Context) error {
	backoff := p.opts.MinBackoff
	for {
		progressed, err := p.follow(ctx)
		p.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			backoff = p.opts.MinBackoff
		}
		p.log.Warn("registry watch interrupted; reconnecting", zap.Uint64("cursor", p.Cursor()), zap.Duration("backoff", backoff), zap.Error(err))
		wait := backoff/2 + rand.N(backoff/2+1) //nolint:gosec // G404: jitter, not a secret
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, p.opts.MaxBackoff)
	}
}

// follow runs one watch stream from the cursor, applying what arrives in
// batched transactions. It reports whether anything was applied.
func (p *Projection) follow(ctx context.Context) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.Cursor() == 0 {
		// A snapshot follows: start collecting its ids afresh.
		if err := p.db.Update(emptySeen); err != nil {
			return false, err
		}
	}
	stream, err := p.openWatch(ctx)
	if err != nil {
		return false, err
	}
	msgs, recvErr := receive(ctx, stream)
	if progressed, err = p.applyAll(msgs); err != nil {
		if errors.Is(err, errEpochChanged) {
			return p.streamEnded(err, progressed)
		}
		return progressed, err
	}
	return p.streamEnded(<-recvErr, progressed)
}

// openWatch opens a watch stream from the cursor and waits for registry
// to accept it. Registry sends its headers as soon as it accepts the
// watch, so an open stream is known even while no change arrives.
func (p *Projection) openWatch(ctx context.Context) (registryv1.RegistryService_WatchRetireesClient, error) {
	req := &registryv1.WatchRetireesRequest{SinceRevision: int64(p.Cursor()), Epoch: p.epoch} //nolint:gosec // G115: apply stores only revisions it checked are not negative
	stream, err := p.client.WatchRetirees(ctx, req)
	if err != nil {
		return nil, err
	}
	if _, err := stream.Header(); err != nil {
		return nil, err
	}
	p.connected.Store(true)
	return stream, nil
}

// receive starts the goroutine that reads the stream, so that the next
// messages arrive while a batch is applied. It closes the message channel
// when it stops, then sends why on the error channel: the stream's error,
// or ctx's.
func receive(ctx context.Context, stream registryv1.RegistryService_WatchRetireesClient) (<-chan *registryv1.WatchRetireesResponse, <-chan error) {
	msgs := make(chan *registryv1.WatchRetireesResponse, maxSnapshotBatch)
	recvErr := make(chan error, 1)
	go func() {
		defer close(msgs)
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case msgs <- m:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()
	return msgs, recvErr
}

// applyAll applies the messages as they arrive, each time as many as have
// arrived up to maxApplyBatch (maxSnapshotBatch from a snapshot's
// entry), until msgs is closed. It reports whether anything was applied.
func (p *Projection) applyAll(msgs <-chan *registryv1.WatchRetireesResponse) (progressed bool, err error) {
	batch := make([]*registryv1.WatchRetireesResponse, 0, maxApplyBatch)
	for m := range msgs {
		limit := maxApplyBatch
		if m.Kind == registryv1.ChangeKind_SNAPSHOT {
			limit = maxSnapshotBatch
		}
		batch = gather.Queued(append(batch[:0], m), msgs, limit)
		if err := p.apply(batch); err != nil {
			return progressed, fmt.Errorf("apply: %w", err)
		}
		progressed = true
	}
	return progressed, nil
}

// streamEnded handles the error a stream ended with. When our cursor is no
// longer in registry's change log (we fell behind its retention, or
// registry was restored from a backup: its head is behind the cursor, or
// its epoch is another), it resets the cursor, so that the next stream
// starts over from a snapshot, whose end drops the retirees registry no
// longer has; that counts as progress.
func (p *Projection) streamEnded(err error, progressed bool) (bool, error) {
	reason := errorReason(err)
	if errors.Is(err, errEpochChanged) {
		reason = "EPOCH_CHANGED"
	}
	switch reason {
	case "REVISION_COMPACTED", "REVISION_AHEAD", "EPOCH_CHANGED":
	default:
		return progressed, err
	}
	p.log.Warn("cursor not in registry's change log; resynchronising from a snapshot", zap.String("reason", reason), zap.Uint64("cursor", p.Cursor()))
	if serr := p.setCursor(0, ""); serr != nil {
		return progressed, serr
	}
	return true, err
}

// errEpochChanged stops a stream whose changes are of another epoch than
// the cursor: registry checks the epoch when the watch starts, so this
// only guards against a registry that did not.
var errEpochChanged = errors.New("registry sent a change of another epoch")

// apply writes one batch of stream messages and the new cursor in one
// transaction. Snapshot entries do not move the cursor: a restart during a
// snapshot starts the snapshot again.
func (p *Projection) apply(batch []*registryv1.WatchRetireesResponse) error {
	span := p.traceApply(batch)
	err := p.applyBatch(batch)
	if span != nil {
		if err != nil {
			span.SetStatus(otelcodes.Error, "apply failed")
		}
		span.End()
	}
	return err
}

// applyBatch is apply without its span.
func (p *Projection) applyBatch(batch []*registryv1.WatchRetireesResponse) error {
	cursor, epoch := p.Cursor(), p.epoch
	err := p.db.Update(func(tx *bolt.Tx) error {
		p.lastWrite.Store(uint64(tx.ID())) //nolint:gosec // G115: bbolt's transaction ids count up from 0
		for _, m := range batch {
			if m.Revision < 0 {
				// Taken as unsigned it would move the cursor past every
				// later change.
				return fmt.Errorf("registry sent revision %d", m.Revision)
			}
			switch m.Kind {
			case registryv1.ChangeKind_SNAPSHOT_END:
				if err := p.dropUnseen(tx); err != nil {
					return err
				}
				cursor, epoch = uint64(m.Revision), m.Epoch
				continue
			case registryv1.ChangeKind_SNAPSHOT:
				if m.Retiree != nil {
					if err := tx.Bucket(bucketSeen).Put([]byte(m.Retiree.Id), seenMark); err != nil {
						return err
					}
				}
			default:
				if epoch != "" && m.Epoch != epoch {
					return errEpochChanged
				}
				if uint64(m.Revision) <= cursor {
					continue // already applied (a replay after reconnect)
				}
				cursor = uint64(m.Revision)
			}
			if m.Retiree == nil {
				continue
			}
			if err := p.put(tx, m.Retiree); err != nil {
				return err
			}
		}
		return putCursor(tx, cursor, epoch)
	})
	if err != nil {
		return err
	}
	p.cursor.Store(cursor)
	p.epoch = epoch
	p.mu.Lock()
	close(p.applied)
	p.applied = make(chan struct{})
	p.mu.Unlock()
	return nil
}

// maxLinks bounds the links of one apply span: the SDK's own default
// limit, so that none is dropped silently.
const maxLinks = 128

// traceApply starts the span of applying batch, linked to the traces of
// the changes in it whose writes were traced (at most maxLinks), or
// returns nil when the projection is not traced or no change was.
func (p *Projection) traceApply(batch []*registryv1.WatchRetireesResponse) trace.Span {
	if p.tracer == nil {
		return nil
	}
	var links []trace.Link
	for _, m := range batch {
		if len(links) == maxLinks {
			break
		}
		if m.Traceparent == "" {
			continue
		}
		sc := trace.SpanContextFromContext(tracing.ContextWithTraceparent(context.Background(), m.Traceparent))
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.Int64("socmgmt.registry.revision", m.Revision)}})
		}
	}
	if len(links) == 0 {
		return nil
	}
	_, span := p.tracer.Start(context.Background(), "projection apply", trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("socmgmt.projection.batch", len(batch))))
	return span
}

func (p *Projection) put(tx *bolt.Tx, st *registryv1.RetireeState) error {
	if st.Id == "" {
		return errors.New("retiree state without id")
	}
	retirees := tx.Bucket(bucketRetirees)
	var old *registryv1.RetireeState
	if v := retirees.Get([]byte(st.Id)); v != nil {
		old = new(registryv1.RetireeState)
		if err := proto.Unmarshal(v, old); err != nil {
			return err
		}
	}
	v, err := proto.Marshal(st)
	if err != nil {
		return err
	}
	if err := retirees.Put([]byte(st.Id), v); err != nil {
		return err
	}
	if len(st.IdNumberKey) > 0 {
		if err := tx.Bucket(bucketByIDKey).Put(st.IdNumberKey, []byte(st.Id)); err != nil {
			return err
		}
	}
	byCommunity := tx.Bucket(bucketByCommunity)
	if old != nil && old.CommunityId != st.CommunityId && old.CommunityId != "" {
		if err := byCommunity.Delete(boltstore.Key(old.CommunityId, st.Id)); err != nil {
			return err
		}
	}
	if st.CommunityId != "" {
		if err := byCommunity.Put(boltstore.Key(st.CommunityId, st.Id), nil); err != nil {
			return err
		}
	}
	if p.opts.OnApply != nil {
		return p.opts.OnApply(tx, old, st)
	}
	return nil
}

// dropUnseen removes, at the end of a snapshot, the retirees the snapshot
// did not name, and empties the list of names.
func (p *Projection) dropUnseen(tx *bolt.Tx) error {
	seen := tx.Bucket(bucketSeen)
	var gone [][]byte
	if err := tx.Bucket(bucketRetirees).ForEach(func(k, _ []byte) error {
		if seen.Get(k) == nil {
			gone = append(gone, bytes.Clone(k))
		}
		return nil
	}); err != nil {
		return err
	}
	for _, id := range gone {
		if err := p.remove(tx, string(id)); err != nil {
			return err
		}
	}
	if len(gone) > 0 {
		p.log.Warn("dropped retirees registry no longer has", zap.Int("count", len(gone)))
	}
	return emptySeen(tx)
}

// emptySeen empties the list of ids a snapshot has named.
func emptySeen(tx *bolt.Tx) error {
	if err := tx.DeleteBucket(bucketSeen); err != nil {
		return err
	}
	_, err := tx.CreateBucket(bucketSeen)
	return err
}

// remove deletes one retiree and its index entries.
func (p *Projection) remove(tx *bolt.Tx, id string) error {
	old, err := Get(tx, id)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketRetirees).Delete([]byte(id)); err != nil {
		return err
	}
	if len(old.IdNumberKey) > 0 {
		byKey := tx.Bucket(bucketByIDKey)
		if string(byKey.Get(old.IdNumberKey)) == id {
			if err := byKey.Delete(old.IdNumberKey); err != nil {
				return err
			}
		}
	}
	if old.CommunityId != "" {
		if err := tx.Bucket(bucketByCommunity).Delete(boltstore.Key(old.CommunityId, id)); err != nil {
			return err
		}
	}
	if p.opts.OnApply != nil {
		return p.opts.OnApply(tx, old, nil)
	}
	return nil
}

func (p *Projection) setCursor(c uint64, epoch string) error {
	err := p.db.Update(func(tx *bolt.Tx) error { return putCursor(tx, c, epoch) })
	if err == nil {
		p.cursor.Store(c)
		p.epoch = epoch
	}
	return err
}

// putCursor stores the cursor and its epoch.
func putCursor(tx *bolt.Tx, c uint64, epoch string) error {
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keyCursor, boltstore.U64(c)); err != nil {
		return err
	}
	if epoch == "" {
		return meta.Delete(keyEpoch)
	}
	return meta.Put(keyEpoch, []byte(epoch))
}

// errorReason returns the ErrorInfo reason of a gRPC status error, if any.
func errorReason(err error) string {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

// ResetCursor sets the cursor stored in tx's file to 0, creating the
// projection's meta bucket when the file has none yet: the next Run
// starts over from a snapshot, which re-applies every retiree (through
// the ApplyHook too) and drops those registry no longer has. A service's
// storage migration calls it when its projection must take in fields
// that the states it holds lack.
func ResetCursor(tx *bolt.Tx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketMeta); err != nil {
		return err
	}
	return putCursor(tx, 0, "")
}

// ForEach calls fn for every retiree of the projection in tx's file, in
// id order, until fn returns an error; a file without a projection has
// none. A service's storage migration uses it to rebuild what it derives
// from the projection.
func ForEach(tx *bolt.Tx, fn func(*registryv1.RetireeState) error) error {
	b := tx.Bucket(bucketRetirees)
	if b == nil {
		return nil
	}
	return b.ForEach(func(_, v []byte) error {
		st := new(registryv1.RetireeState)
		if err := proto.Unmarshal(v, st); err != nil {
			return err
		}
		return fn(st)
	})
}

// Range calls fn for at most n retirees of the projection in tx's file,
// in id order, beginning after the id after ("" from the first), and
// returns the last id it gave fn, or "" once the projection has no more:
// a long walk over the roster in bounded transactions.
func Range(tx *bolt.Tx, after string, n int, fn func(*registryv1.RetireeState) error) (string, error) {
	b := tx.Bucket(bucketRetirees)
	if b == nil || n <= 0 {
		return "", nil
	}
	c := b.Cursor()
	k, v := c.First()
	if after != "" {
		if k, v = c.Seek([]byte(after)); k != nil && string(k) == after {
			k, v = c.Next()
		}
	}
	last := ""
	for ; k != nil && n > 0; k, v = c.Next() {
		st := new(registryv1.RetireeState)
		if err := proto.Unmarshal(v, st); err != nil {
			return "", err
		}
		if err := fn(st); err != nil {
			return "", err
		}
		last, n = string(k), n-1
	}
	return last, nil
}

// ErrUnknownRetiree is returned for a retiree the projection has not seen.
var ErrUnknownRetiree = errors.New("retiree not known to the projection")

// Get returns a retiree's state within the caller's transaction.
func Get(tx *bolt.Tx, id string) (*registryv1.RetireeState, error) {
	v := tx.Bucket(bucketRetirees).Get([]byte(id))
	if v == nil {
		return nil, ErrUnknownRetiree
	}
	st := new(registryv1.RetireeState)
	if err := proto.Unmarshal(v, st); err != nil {
		return nil, err
	}
	return st, nil
}

// IDForKey returns the retiree id filed under an ID-number HMAC within the
// caller's transaction.
func IDForKey(tx *bolt.Tx, idKey []byte) (string, error) {
	v := tx.Bucket(bucketByIDKey).Get(idKey)
	if v == nil {
		return "", ErrUnknownRetiree
	}
	return string(v), nil
}

// LookupKey returns the state of the retiree with the given ID-number HMAC.
func LookupKey(tx *bolt.Tx, idKey []byte) (*registryv1.RetireeState, error) {
	id, err := IDForKey(tx, idKey)
	if err != nil {
		return nil, err
	}
	return Get(tx, id)
}

// PageCommunity reads one page of the retirees of a community, in id
// order, starting after the retiree id after (empty: from the start), with
// the bounds of scan (its Prefix and After are set here). keep reports
// whether a retiree went into the page. next is the retiree id to resume
// after, or "" at the end of the community.
func PageCommunity(tx *bolt.Tx, community, after string, scan boltstore.Scan, keep func(*registryv1.RetireeState) (bool, error)) (next string, err error) {
	prefix := boltstore.Prefix(community)
	scan.Prefix, scan.After = prefix, nil
	if after != "" {
		scan.After = boltstore.Key(community, after)
	}
	retirees := tx.Bucket(bucketRetirees)
	last, err := scan.Page(tx.Bucket(bucketByCommunity).Cursor(), func(k, _ []byte) (bool, error) {
		v := retirees.Get(k[len(prefix):])
		if v == nil {
			return false, fmt.Errorf("projection index entry without retiree")
		}
		st := new(registryv1.RetireeState)
		if err := proto.Unmarshal(v, st); err != nil {
			return false, err
		}
		return keep(st)
	})
	if err != nil || last == nil {
		return "", err
	}
	return string(last[len(prefix):]), nil
}
