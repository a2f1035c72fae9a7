package casework

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// producer is a test source of work signals built on signalfeed: a feed
// in its own bbolt file, served as pension's WatchWorkSignals over gRPC
// (without tokens, as a fake of another service).
type producer struct {
	t    testing.TB
	db   *bolt.DB
	feed *signalfeed.Feed
	srv  *servicetest.Server
}

// newProducer starts a producer served as pension that stops at the end
// of the test.
func newProducer(t testing.TB) *producer { return newProducerAs(t, SourcePension) }

// newProducerAs starts a producer served as source (pension or activity).
func newProducerAs(t testing.TB, source string) *producer {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "pension.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := signalfeed.New(db, signalfeed.Options{Source: source})
	if err != nil {
		t.Fatal(err)
	}
	p := &producer{t: t, db: db, feed: feed}
	// Registered before Serve's cleanup, so that it runs after it.
	t.Cleanup(func() { _ = feed.Close(); _ = db.Close() })
	p.srv = servicetest.Serve(t, servicetest.Options{Name: source, TCP: true, Register: func(srv *grpcserver.Server) {
		w := watcher{feed: feed, stopping: srv.Stopping()}
		switch source {
		case SourcePension:
			pensionv1.RegisterPensionServiceServer(srv.GRPC(), &fakePension{watcher: w})
		case SourceActivity:
			activityv1.RegisterActivityServiceServer(srv.GRPC(), &fakeActivity{watcher: w})
		default:
			t.Fatalf("no fake of %s", source)
		}
	}})
	return p
}

// watcher serves a producer's feed.
type watcher struct {
	feed     *signalfeed.Feed
	stopping <-chan struct{}
}

// serve runs one watch as the services' handlers do.
func (w watcher) serve(ctx context.Context, since int64, epoch string, sendHeader func() error, send func(*feedv1.SignalEvent) error) error {
	err := w.feed.Serve(ctx, signalfeed.Watch{
		SinceRevision: since, Epoch: epoch, SendHeader: sendHeader, Send: send, Stopping: w.stopping,
	})
	if err == nil || err == signalfeed.ErrStopping { //nolint:errorlint // the sentinel status itself
		return err
	}
	return apierror.ToStatus(ctx, nil, err)
}

// fakePension and fakeActivity serve a producer's feed as those services.
type fakePension struct {
	pensionv1.UnimplementedPensionServiceServer
	watcher
}

type fakeActivity struct {
	activityv1.UnimplementedActivityServiceServer
	watcher
}

func (f *fakeActivity) WatchWorkSignals(req *activityv1.WatchWorkSignalsRequest, stream grpc.ServerStreamingServer[activityv1.WatchWorkSignalsResponse]) error {
	return f.serve(stream.Context(), req.SinceRevision, req.Epoch, func() error { return stream.SendHeader(nil) },
		func(ev *feedv1.SignalEvent) error {
			return stream.Send(&activityv1.WatchWorkSignalsResponse{Event: ev})
		})
}

func (f *fakePension) WatchWorkSignals(req *pensionv1.WatchWorkSignalsRequest, stream grpc.ServerStreamingServer[pensionv1.WatchWorkSignalsResponse]) error {
	return f.serve(stream.Context(), req.SinceRevision, req.Epoch, func() error { return stream.SendHeader(nil) },
		func(ev *feedv1.SignalEvent) error { return stream.Send(&pensionv1.WatchWorkSignalsResponse{Event: ev}) })
}

// emit writes signals in one transaction and returns the feed's head.
func (p *producer) emit(sigs ...*feedv1.WorkSignal) uint64 {
	p.t.Helper()
	err := p.db.Update(func(tx *bolt.Tx) error {
		for _, sig := range sigs {
			if err := p.feed.Emit(tx, sig); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return p.head()
}

// resolve resolves the open signal of key.
func (p *producer) resolve(key, resolution string) uint64 {
	p.t.Helper()
	if err := p.db.Update(func(tx *bolt.Tx) error {
		_, err := p.feed.Resolve(tx, key, resolution)
		return err
	}); err != nil {
		p.t.Fatal(err)
	}
	return p.head()
}

func (p *producer) head() uint64 {
	p.t.Helper()
	h, _, err := p.feed.Head()
	if err != nil {
		p.t.Fatal(err)
	}
	return h
}

// follower is a running follower of a source.
type follower struct {
	*signalfeed.Follower
	t    testing.TB
	stop func()
}

// follow runs a follower of source over conn into the env's store until
// the test ends or stop is called.
func (e *env) follow(source string, conn grpc.ClientConnInterface) *follower {
	e.t.Helper()
	open, err := OpenerOf(source, conn)
	if err != nil {
		e.t.Fatal(err)
	}
	f, err := e.store.NewFollower(source, open, zaptest.NewLogger(e.t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	e.t.Cleanup(stop)
	return &follower{Follower: f, t: e.t, stop: stop}
}

// upTo waits until the follower has applied revision rev.
func (f *follower) upTo(rev uint64) {
	f.t.Helper()
	ctx, cancel := waitfor.Context(f.t)
	defer cancel()
	if err := f.WaitFor(ctx, rev); err != nil {
		f.t.Fatalf("follower did not reach revision %d (at %d): %v", rev, f.Cursor(), err)
	}
}

// bySource returns the item of (source, key), or nil.
func (e *env) bySource(source, key string) *pb.WorkItem {
	e.t.Helper()
	var it *pb.WorkItem
	err := e.store.DB().View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketSources).Get(boltstore.Key(source, key))
		if id == nil {
			return nil
		}
		var err error
		it, err = getItem(tx, string(id))
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// messagesTo lists the outbox's messages to a retiree.
func (e *env) messagesTo(retiree string) []*pb.Message {
	e.t.Helper()
	var out []*pb.Message
	err := e.store.DB().View(func(tx *bolt.Tx) error {
		var err error
		out, _, err = e.store.Outbox().List(tx, sms.ByRetiree, retiree, "", sms.MaxList)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// workSignal is an open signal of a kind about a retiree of a community.
func workSignal(key string, kind feedv1.SignalKind, retiree, community string) *feedv1.WorkSignal {
	return &feedv1.WorkSignal{
		Key: key, Kind: kind, SubjectKind: feedv1.SubjectKind_RETIREE, SubjectId: "s-" + key,
		RetireeId: retiree, CommunityId: community, Summary: "待办：" + kind.String(),
	}
}

// at sets a signal's start and due times (zero: unset).
func at(sig *feedv1.WorkSignal, start, due time.Time) *feedv1.WorkSignal {
	if !start.IsZero() {
		sig.StartTime = timestamppb.New(start)
	}
	if !due.IsZero() {
		sig.DueTime = timestamppb.New(due)
	}
	return sig
}
