// Package signalfeed is the work-signal feed (socmgmt.feed.v1) of every
// service that has one, on both sides.
//
// A source service (registry, pension, handover, activity) keeps a Feed
// in its own bbolt file. It calls Emit (or Resolve) inside the write
// transaction that changes the cause of the work, so the feed and the
// service's data never disagree; its WatchWorkSignals handler calls
// Serve. The feed keeps a log of changes by revision, bounded by a
// retention, the open set (key -> latest state of every open signal) for
// snapshots, and an epoch (internal/epoch) so that a cursor of another
// history of the file is refused.
//
// A consumer (casework) runs a Follower per source: it keeps the source's
// cursor in the consumer's own file, in the same transaction as what it
// made of the entries, so that every entry is applied exactly once.
//
// Buckets: a source's file holds Buckets, a consumer's CursorBuckets; New
// and NewFollower create them when missing, and a service adds them to
// its storage schema in one migration step.
package signalfeed

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/broadcast"
	"github.com/socmgmt/socmgmt/internal/epoch"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// The buckets of a source's feed.
var (
	// bucketLog maps revision (8 bytes big-endian) to the CHANGE
	// SignalEvent written at it (without its epoch).
	bucketLog = []byte("signalfeed_log")
	// bucketOpen maps the key of every open signal to the SignalEvent of
	// its latest change: the snapshot.
	bucketOpen = []byte("signalfeed_open")
	// bucketLatest maps a key to the revision (8 bytes) and the SHA-256 of
	// the signal of its latest change, while that change is in the log:
	// how an emit identical to a resolved signal is known.
	bucketLatest = []byte("signalfeed_latest")
	// bucketMeta holds the head and oldest revisions and the epoch.
	bucketMeta = []byte("signalfeed_meta")

	metaHead   = []byte("head")
	metaOldest = []byte("oldest")

	epochKeys = epoch.Keys{Bucket: bucketMeta, Epoch: []byte("epoch"), InUse: []byte("in_use")}

	// Buckets are the buckets of a source's feed, for its storage schema.
	Buckets = [][]byte{bucketLog, bucketOpen, bucketLatest, bucketMeta}
)

// DefaultRetention is how many log entries a feed keeps by default.
const DefaultRetention = 100_000

// MinRetention is the smallest retention a feed accepts: a service's
// flag is validated against it.
const MinRetention = 1000

// Options configure a Feed.
type Options struct {
	// Source names the service in errors and logs ("registry").
	Source string
	// Retention is how many log entries are kept for consumers to replay
	// (0: DefaultRetention). A consumer whose cursor is older starts
	// again from a snapshot.
	Retention uint64
	// MaxWatchers bounds the Serve calls running at once (0: 64).
	MaxWatchers int
	// Logger receives the epoch's start; Now is the clock of change_time.
	Logger *zap.Logger
	Now    func() time.Time
}

// Feed is a source's work-signal feed in its bbolt file.
type Feed struct {
	db       *bolt.DB
	o        Options
	epoch    string
	changes  broadcast.Signal
	watchers chan struct{}
}

// New creates the feed's buckets in db when missing, marks the file in
// use and reads or starts its epoch. Close clears the mark; call it
// before closing db.
func New(db *bolt.DB, o Options) (*Feed, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxWatchers <= 0 {
		o.MaxWatchers = 64
	}
	if err := boltstore.CreateBuckets(db, Buckets...); err != nil {
		return nil, err
	}
	e, why, err := epoch.Open(db, epochKeys)
	if err != nil {
		return nil, err
	}
	if why != "" {
		o.Logger.Info("work-signal feed starts an epoch", zap.String("source", o.Source), zap.String("epoch", e), zap.String("why", why))
	}
	return &Feed{db: db, o: o, epoch: e, watchers: make(chan struct{}, o.MaxWatchers)}, nil
}

// Close clears the file's in-use mark, so that the next New keeps the
// epoch. It does not close the database.
func (f *Feed) Close() error { return epoch.Close(f.db, epochKeys) }

// Epoch is the feed's epoch, fixed while the feed is open.
func (f *Feed) Epoch() string { return f.epoch }

// Emit records sig, validated, as the latest state of its key, inside the
// caller's write transaction: a CHANGE entry at the next revision, the
// open set updated (a resolved signal leaves it). An emit identical to
// the key's latest state adds nothing. Watchers wake when tx commits.
// The oldest entries beyond the retention are deleted in bounded steps
// (see compactSlack). Emit does not keep sig.
func (f *Feed) Emit(tx *bolt.Tx, sig *feedv1.WorkSignal) error {
	sum, changed, err := changes(tx, sig)
	if err != nil || !changed {
		return err
	}
	return f.appendChange(tx, proto.Clone(sig).(*feedv1.WorkSignal), sum)
}

// changes validates sig and reports whether it changes its key's latest
// state, with its digest.
func changes(tx *bolt.Tx, sig *feedv1.WorkSignal) (sum []byte, changed bool, err error) {
	if err := Validate(sig); err != nil {
		return nil, false, err
	}
	if sum, err = signalSum(sig); err != nil {
		return nil, false, err
	}
	same, err := unchanged(tx, []byte(sig.Key), sig, sum)
	return sum, !same && err == nil, err
}

// Resolve emits the open signal under key again, resolved with
// resolution; a key that is not open is left alone. It reports whether
// the key was open. An open signal resolved is always a change, so it is
// not compared with the open one as Emit compares.
func (f *Feed) Resolve(tx *bolt.Tx, key, resolution string) (bool, error) {
	ev, err := Open(tx, key)
	if err != nil || ev == nil {
		return false, err
	}
	sig := ev.Signal // decoded for this call alone: Resolve may keep it
	sig.Resolved, sig.Resolution = true, resolution
	if err := Validate(sig); err != nil {
		return true, err
	}
	sum, err := signalSum(sig)
	if err != nil {
		return true, err
	}
	return true, f.appendChange(tx, sig, sum)
}

// appendChange appends validated sig, which changes its key's latest
// state and has digest sum, wakes the watchers when tx commits and
// compacts the log. It keeps sig.
func (f *Feed) appendChange(tx *bolt.Tx, sig *feedv1.WorkSignal, sum []byte) error {
	if err := appendEntry(tx, sig, sum, f.o.Now()); err != nil {
		return err
	}
	tx.OnCommit(f.changes.Broadcast)
	return compact(tx, f.o.Retention, compactSlack(f.o.Retention))
}

// compactSlack is how many entries beyond its retention a log holds
// before a change compacts it, deleting them together: a compaction
// seeks to the log's first entry, which done at every change was a tenth
// of a certification import's time. A small retention has none.
func compactSlack(retention uint64) uint64 { return min(retention/16, 64) }

// Open returns the latest change of the open signal under key in tx's
// file, or nil when the key is not open.
func Open(tx *bolt.Tx, key string) (*feedv1.SignalEvent, error) {
	v := tx.Bucket(bucketOpen).Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	ev := new(feedv1.SignalEvent)
	return ev, proto.Unmarshal(v, ev)
}

// Backfill is Emit for a storage migration, which runs before New: it
// creates the feed's buckets when missing and neither compacts nor wakes
// watchers (there are none yet).
func Backfill(tx *bolt.Tx, sig *feedv1.WorkSignal, now time.Time) error {
	for _, b := range Buckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	sum, changed, err := changes(tx, sig)
	if err != nil || !changed {
		return err
	}
	return appendEntry(tx, proto.Clone(sig).(*feedv1.WorkSignal), sum, now)
}

// appendEntry appends sig, whose digest is sum, at the next revision and
// keeps the open set and the latest index; the caller has validated sig
// and found it changes its key's latest state. The entry keeps sig.
func appendEntry(tx *bolt.Tx, sig *feedv1.WorkSignal, sum []byte, now time.Time) error {
	key := []byte(sig.Key)
	head, oldest, err := revisions(tx)
	if err != nil {
		return err
	}
	head++
	ev := &feedv1.SignalEvent{Revision: int64(head), Entry: feedv1.EntryKind_CHANGE, Signal: sig, ChangeTime: timestamppb.New(now)} //nolint:gosec // G115: revisions count up by one from 1
	v, err := proto.Marshal(ev)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketLog).Put(boltstore.U64(head), v); err != nil {
		return err
	}
	open := tx.Bucket(bucketOpen)
	if sig.Resolved {
		err = open.Delete(key)
	} else {
		err = open.Put(key, v)
	}
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketLatest).Put(key, append(boltstore.U64(head), sum...)); err != nil {
		return err
	}
	if oldest == 0 {
		oldest = 1
	}
	return putRevisions(tx, head, oldest)
}

// unchanged reports whether sig, whose digest is sum, is the latest state
// of key: the open signal's, or the resolved one's while its entry is in
// the log.
func unchanged(tx *bolt.Tx, key []byte, sig *feedv1.WorkSignal, sum []byte) (bool, error) {
	if v := tx.Bucket(bucketOpen).Get(key); v != nil {
		ev := new(feedv1.SignalEvent)
		if err := proto.Unmarshal(v, ev); err != nil {
			return false, err
		}
		return proto.Equal(ev.Signal, sig), nil
	}
	latest := tx.Bucket(bucketLatest).Get(key)
	return sig.Resolved && len(latest) == 8+sha256.Size && bytes.Equal(latest[8:], sum), nil
}

// signalSum is the SHA-256 of sig's deterministic encoding.
func signalSum(sig *feedv1.WorkSignal) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sig)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	return sum[:], nil
}

// compact deletes the oldest log entries beyond retention, and their
// keys' latest index where it points at them, once there are more than
// slack of them: at most slack+2 at a time, so that a log over its
// retention shrinks back to it.
func compact(tx *bolt.Tx, retention, slack uint64) error {
	head, oldest, err := revisions(tx)
	if err != nil || head < retention || head-retention < oldest+slack {
		return err
	}
	budget := slack + 2
	c := tx.Bucket(bucketLog).Cursor()
	latest := tx.Bucket(bucketLatest)
	for k, v := c.First(); k != nil && budget > 0; k, v = c.Next() {
		rev, err := boltstore.ParseU64(k)
		if err != nil {
			return err
		}
		if head-rev < retention {
			break
		}
		ev := new(feedv1.SignalEvent)
		if err := proto.Unmarshal(v, ev); err != nil {
			return err
		}
		key := []byte(ev.GetSignal().GetKey())
		if l := latest.Get(key); len(l) >= 8 && bytes.Equal(l[:8], k) {
			if err := latest.Delete(key); err != nil {
				return err
			}
		}
		if err := c.Delete(); err != nil {
			return err
		}
		oldest = rev + 1
		budget--
	}
	return putRevisions(tx, head, oldest)
}

// revisions reads the head revision (0: none yet) and the oldest kept.
func revisions(tx *bolt.Tx) (head, oldest uint64, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, 0, errors.New("signalfeed: the feed's buckets are missing")
	}
	if v := meta.Get(metaHead); v != nil {
		if head, err = boltstore.ParseU64(v); err != nil {
			return 0, 0, err
		}
	}
	if v := meta.Get(metaOldest); v != nil {
		if oldest, err = boltstore.ParseU64(v); err != nil {
			return 0, 0, err
		}
	}
	return head, oldest, nil
}

func putRevisions(tx *bolt.Tx, head, oldest uint64) error {
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(metaHead, boltstore.U64(head)); err != nil {
		return err
	}
	return meta.Put(metaOldest, boltstore.U64(oldest))
}
