package handover

import (
	"context"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// signalWatch is handover's WatchWorkSignals for servicetest's readers.
func signalWatch(c pb.HandoverServiceClient) servicetest.SignalWatch {
	return func(ctx context.Context, since int64, epoch string) (func() (*feedv1.SignalEvent, error), error) {
		stream, err := c.WatchWorkSignals(ctx, &pb.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
		if err != nil {
			return nil, err
		}
		return func() (*feedv1.SignalEvent, error) {
			m, err := stream.Recv()
			return m.GetEvent(), err
		}, nil
	}
}

// watchSignalsOnce opens the feed from 0 and reads its first entry.
func watchSignalsOnce(ctx context.Context, c pb.HandoverServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	recv, err := signalWatch(c)(ctx, 0, "")
	if err != nil {
		return err
	}
	_, err = recv()
	return err
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// A package submitted to a community opens its receive step, which the
// return, the withdrawal and the completion resolve; a completion opens
// a signal per task, which recording the task done resolves.
func TestHandoverSignals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	open := w.submitted(1)
	returned := w.returned(1)
	withdrawn := w.withdrawn(1)
	done := w.completed(2)

	got, _ := servicetest.FeedOpen(t, w.store.Signals())
	want := []string{receiveSignalKey(open.Id)}
	for _, k := range []string{"C", "D", "V"} {
		for _, n := range []string{"00001", "00002"} {
			want = append(want, taskSignalKey(done.Id+"-"+k+n))
		}
	}
	slices.Sort(want)
	if keys := sortedKeys(got); !slices.Equal(keys, want) {
		t.Fatalf("open signals %v, want %v", keys, want)
	}
	recv := got[receiveSignalKey(open.Id)]
	if recv.Kind != feedv1.SignalKind_HANDOVER_STEP || recv.SubjectKind != feedv1.SubjectKind_HANDOVER || recv.CommunityId != communityA ||
		!recv.StartTime.AsTime().Equal(open.SubmitTime.AsTime()) || recv.DueTime.AsTime().Sub(open.SubmitTime.AsTime()) < 26*24*time.Hour {
		t.Errorf("receive step %v", recv)
	}
	visit := got[taskSignalKey(done.Id+"-V00001")]
	if visit.Kind != feedv1.SignalKind_HANDOVER_TASK_OPEN || visit.SubjectKind != feedv1.SubjectKind_HANDOVER_TASK ||
		visit.RetireeId != done.RetireeIds[0] || visit.CommunityId != communityA || visit.DueTime == nil {
		t.Errorf("first visit task %v", visit)
	}
	_, head := servicetest.FeedOpen(t, w.store.Signals())
	latest := map[string]*feedv1.WorkSignal{}
	for _, ev := range servicetest.ReadSignals(t, w.as(serviceP), signalWatch(w.client), 1, "", int(head-1)) {
		latest[ev.Signal.Key] = ev.Signal
	}
	for h, want := range map[*pb.Handover]string{returned: "returned", withdrawn: "withdrawn", done: "received"} {
		if sig := latest[receiveSignalKey(h.Id)]; sig == nil || !sig.Resolved || sig.Resolution != want {
			t.Errorf("%s's receive step: %v, want resolved %q", h.State, sig, want)
		}
	}

	card := done.Id + "-C00001"
	resp, err := w.client.CompleteHandoverTask(w.as(clerkAP), &pb.CompleteHandoverTaskRequest{Id: card, DoneOn: workdays.Today(time.Now()).Format(time.DateOnly)})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Task.State != pb.HandoverTask_DONE {
		t.Fatalf("task %v", resp.Task)
	}
	keys, end := servicetest.SnapshotKeys(t, w.as(serviceP), signalWatch(w.client))
	if want = slices.DeleteFunc(want, func(k string) bool { return k == taskSignalKey(card) }); !slices.Equal(keys, want) {
		t.Errorf("snapshot after the task %v, want %v", keys, want)
	}
	// The last change resolved the card's task.
	last := servicetest.ReadSignals(t, w.as(serviceP), signalWatch(w.client), end.Revision-1, end.Epoch, 1)[0]
	if last.Signal.Key != taskSignalKey(card) || !last.Signal.Resolved || last.Signal.Resolution != "task completed" {
		t.Errorf("last change %v", last)
	}
	servicetest.WantCode(t, watchSignalsOnce(w.as(clerkAP), w.client), codes.PermissionDenied)
}

// The open set survives a restart: a new open holds exactly the signals
// left open.
func TestTaskSignalsAfterRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handover.db")
	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.update(func(w *txn) error { return w.putTasks(completedPackage(testHandoverID, 1)) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.mutateTask(testHandoverID+"-D00001", "", func(*pb.HandoverTask) error { return nil }, func(t *pb.HandoverTask) error {
		return completeTask(t, TaskDone{DoneOn: "2026-09-24", By: "clerk-a"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() //nolint:errcheck // read only
	got, end := servicetest.FeedOpen(t, s.Signals())
	want := []string{taskSignalKey(testHandoverID + "-C00001"), taskSignalKey(testHandoverID + "-V00001")}
	if keys := sortedKeys(got); !slices.Equal(keys, want) || end != 4 {
		t.Errorf("open after a restart %v up to %d, want %v up to 4", keys, end, want)
	}
}

// A file of schema 4 gains the feed, whose first snapshot holds its open
// tasks and its submitted community package, and nothing else.
func TestSignalMigrationBackfills(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handover.db")
	v4 := slices.DeleteFunc(slices.Clone(allBuckets), func(b []byte) bool {
		return slices.ContainsFunc(signalfeed.Buckets, func(f []byte) bool { return string(f) == string(b) })
	})
	tasks, err := newTasks(completedPackage(testHandoverID, 1), workdays.Default(), completedAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := completeTask(tasks[0], TaskDone{DoneOn: "2026-09-24", By: "clerk-a"}); err != nil {
		t.Fatal(err)
	}
	submitted := &pb.Handover{Id: "H0000000000000009", State: pb.Handover_SUBMITTED, CommunityId: communityA, RetireeIds: []string{"r1"}, SubmitTime: tasks[0].UpdateTime}
	draft := &pb.Handover{Id: "H000000000000000A", State: pb.Handover_DRAFT, CommunityId: communityA}
	boltstoretest.WriteFile(t, path, v4, func(tx *bolt.Tx) error {
		for _, tk := range tasks {
			if err := boltstoretest.PutProto(tx, string(bucketTasks), tk.Id, tk); err != nil {
				return err
			}
		}
		for _, h := range []*pb.Handover{submitted, draft} {
			if err := boltstoretest.PutProto(tx, string(bucketHandovers), h.Id, h); err != nil {
				return err
			}
		}
		return boltstoretest.Put(tx, string(bucketMeta), "schema_version", boltstore.U64(4))
	})
	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() //nolint:errcheck // read only
	got, _ := servicetest.FeedOpen(t, s.Signals())
	want := []string{receiveSignalKey(submitted.Id), taskSignalKey(tasks[1].Id), taskSignalKey(tasks[2].Id)}
	slices.Sort(want)
	if keys := sortedKeys(got); !slices.Equal(keys, want) {
		t.Errorf("backfilled %v, want %v", keys, want)
	}
}
