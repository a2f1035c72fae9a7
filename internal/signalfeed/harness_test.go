package signalfeed

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/testclock"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

var t0 = time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)

func openDB(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// source is a producer's file with its feed.
type source struct {
	t     *testing.T
	path  string
	db    *bolt.DB
	feed  *Feed
	clock *testclock.Clock
	opts  Options
}

func newSource(t *testing.T, o Options) *source {
	s := &source{t: t, path: filepath.Join(t.TempDir(), "source.db"), clock: testclock.New(t0), opts: o}
	s.open()
	t.Cleanup(func() { _ = s.db.Close() })
	return s
}

func (s *source) open() {
	s.t.Helper()
	s.db = openDB(s.t, s.path)
	o := s.opts
	o.Source, o.Now = "test", s.clock.Now
	f, err := New(s.db, o)
	if err != nil {
		s.t.Fatal(err)
	}
	s.feed = f
}

// crash closes the file without closing the feed, as a crash leaves it,
// and opens it again.
func (s *source) crash() {
	s.t.Helper()
	if err := s.db.Close(); err != nil {
		s.t.Fatal(err)
	}
	s.open()
}

func (s *source) emit(sig *feedv1.WorkSignal) {
	s.t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error { return s.feed.Emit(tx, sig) }); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) resolve(key string) {
	s.t.Helper()
	if err := s.db.Update(func(tx *bolt.Tx) error {
		_, err := s.feed.Resolve(tx, key, "done")
		return err
	}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *source) head() uint64 {
	s.t.Helper()
	h, _, err := s.feed.Head()
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

func signal(key string) *feedv1.WorkSignal {
	return &feedv1.WorkSignal{
		Key: key, Kind: feedv1.SignalKind_DEATH_REPORT_UNVERIFIED, SubjectKind: feedv1.SubjectKind_DEATH_REPORT,
		SubjectId: "s-" + key, RetireeId: "r1", CommunityId: "110101001001",
		DueTime: timestamppb.New(t0.Add(72 * time.Hour)), Summary: "核实死亡报告",
	}
}

// pipe is an in-process WatchWorkSignals stream: Serve runs in a
// goroutine and its error reaches Recv as a gRPC status, as over the
// wire.
type pipe struct {
	header chan struct{}
	events chan *feedv1.SignalEvent
	done   chan struct{}
	err    error
}

func (p *pipe) Header() (metadata.MD, error) {
	select {
	case <-p.header:
		return nil, nil
	case <-p.done:
		return nil, p.err
	}
}

func (p *pipe) Recv() (*feedv1.SignalEvent, error) {
	select {
	case ev := <-p.events:
		return ev, nil
	case <-p.done:
		return nil, p.err
	}
}

// opener opens in-process streams of a source's feed and records the
// cursors asked for.
type opener struct {
	src    *source
	mu     sync.Mutex
	asked  []int64
	epochs []string
}

func (o *opener) open(ctx context.Context, since int64, epoch string) (Stream, error) {
	o.mu.Lock()
	o.asked, o.epochs = append(o.asked, since), append(o.epochs, epoch)
	feed := o.src.feed
	o.mu.Unlock()
	p := &pipe{header: make(chan struct{}), events: make(chan *feedv1.SignalEvent), done: make(chan struct{})}
	go func() {
		err := feed.Serve(ctx, Watch{
			SinceRevision: since, Epoch: epoch,
			SendHeader: func() error { close(p.header); return nil },
			Send: func(ev *feedv1.SignalEvent) error {
				select {
				case p.events <- ev:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			},
		})
		p.err = apierror.ToStatus(ctx, zap.NewNop(), err)
		close(p.done)
	}()
	return p, nil
}

func (o *opener) cursors() []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]int64(nil), o.asked...)
}

// consumer is a consumer's file: items (key -> generation and open mark)
// and how many times each revision was applied, both in the follower's
// transactions.
type consumer struct {
	t    *testing.T
	path string
	db   *bolt.DB
}

var (
	bucketItems   = []byte("items")   // key -> generation (8 bytes), 1 open / 0 closed
	bucketApplied = []byte("applied") // revision -> times applied
)

func newConsumer(t *testing.T) *consumer {
	c := &consumer{t: t, path: filepath.Join(t.TempDir(), "consumer.db")}
	c.db = openDB(t, c.path)
	t.Cleanup(func() { _ = c.db.Close() })
	if err := boltstore.CreateBuckets(c.db, bucketItems, bucketApplied); err != nil {
		t.Fatal(err)
	}
	return c
}

// apply is the consumer's Apply: it stamps the key with the generation
// and marks it open or closed.
func (c *consumer) apply(tx *bolt.Tx, ev *feedv1.SignalEvent, gen uint64) error {
	state := byte(1)
	if ev.Signal.Resolved {
		state = 0
	}
	if ev.Entry == feedv1.EntryKind_CHANGE {
		rev := boltstore.U64(uint64(ev.Revision))
		n := byte(0)
		if v := tx.Bucket(bucketApplied).Get(rev); v != nil {
			n = v[0]
		}
		if err := tx.Bucket(bucketApplied).Put(rev, []byte{n + 1}); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketItems).Put([]byte(ev.Signal.Key), append(boltstore.U64(gen), state))
}

// endSnapshot closes the open items the snapshot of gen did not name.
func (c *consumer) endSnapshot(tx *bolt.Tx, gen uint64) error {
	b := tx.Bucket(bucketItems)
	return b.ForEach(func(k, v []byte) error {
		g, err := boltstore.ParseU64(v[:8])
		if err != nil || g >= gen || v[8] == 0 {
			return err
		}
		return b.Put(k, append(boltstore.U64(g), 0))
	})
}

// open returns the keys of the open items.
func (c *consumer) open() map[string]bool {
	c.t.Helper()
	out := map[string]bool{}
	if err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
			if v[8] == 1 {
				out[string(k)] = true
			}
			return nil
		})
	}); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// appliedCounts returns how many times each revision was applied.
func (c *consumer) appliedCounts() map[uint64]int {
	c.t.Helper()
	out := map[uint64]int{}
	if err := c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApplied).ForEach(func(k, v []byte) error {
			rev, err := boltstore.ParseU64(k)
			out[rev] = int(v[0])
			return err
		})
	}); err != nil {
		c.t.Fatal(err)
	}
	return out
}

// follow starts a follower of src into c; the returned stop ends it and
// waits for Run to return.
func (c *consumer) follow(src *opener, o FollowerOptions) (*Follower, func()) {
	c.t.Helper()
	o.Source, o.Open = "test", src.open
	if o.Apply == nil {
		o.Apply = c.apply
	}
	o.EndSnapshot = c.endSnapshot
	o.MinBackoff, o.MaxBackoff = time.Millisecond, 10*time.Millisecond
	f, err := NewFollower(c.db, o)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	stop := func() { cancel(); <-done }
	c.t.Cleanup(stop)
	return f, stop
}
