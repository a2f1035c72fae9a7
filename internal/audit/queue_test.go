package audit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// stalledCommit stands in for a commit stuck on a slow disk: the
// committer blocks before its commit until release is called.
type stalledCommit struct {
	entered chan struct{}
	gate    chan struct{}
	release func()
}

func newStalledCommit(t *testing.T) *stalledCommit {
	s := &stalledCommit{entered: make(chan struct{}, 1), gate: make(chan struct{})}
	s.release = sync.OnceFunc(func() { close(s.gate) })
	return s
}

// hook is the Log's beforeCommit.
func (s *stalledCommit) hook() {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-s.gate
}

// startStalledLog starts a Log whose committer has taken one queued read
// and is stuck in its commit until the returned stall is released.
func startStalledLog(t *testing.T, db *bolt.DB) (*Log, *stalledCommit) {
	t.Helper()
	s := newStalledCommit(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), beforeCommit: s.hook})
	t.Cleanup(func() {
		// Released first: Close waits for the committer.
		s.release()
		l.Close()
	})
	if err := l.Read(context.Background(), Actor{Subject: "clerk-7"}, "GetRetiree", "0000000000000000"); err != nil {
		t.Fatal(err)
	}
	waitfor.Receive(t, "the committer to start a commit", s.entered)
	return l, s
}

// TestReadsDoNotWaitForACommit: while a commit is stuck (in production
// behind a slow fsync), a read that
// is not configured durable queues its record and returns; the records
// are all written once the commit can go on.
func TestReadsDoNotWaitForACommit(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l, stall := startStalledLog(t, db)

	const reads = 100
	const id = "aaaaaaaaaaaaaaaa"
	for range reads {
		// Each returns with the commit still blocked: were Read to wait
		// for it, the test would hang here until its deadline.
		if err := l.Read(context.Background(), Actor{Subject: "clerk-7"}, "GetRetiree", id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(l.reqs); n != reads {
		t.Fatalf("%d requests queued while the commit is blocked, want %d", n, reads)
	}

	stall.release()
	waitfor.True(t, "the queued reads to be committed", func() bool { return len(l.reqs) == 0 })
	l.Close()
	if n := len(entriesOf(t, db, id)); n != reads {
		t.Errorf("%d entries written, want %d", n, reads)
	}
}

// TestFullQueuePushesBack: when queueSize records wait behind a stuck
// commit, the next read waits for room (back-pressure, nothing dropped)
// for as long as its caller's context allows, and fails with the
// context's error, queueing nothing, when that ends.
func TestFullQueuePushesBack(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l, stall := startStalledLog(t, db)

	actor := Actor{Subject: "clerk-7"}
	for range queueSize {
		if err := l.Read(context.Background(), actor, "GetRetiree", "aaaaaaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Read(ctx, actor, "GetRetiree", "bbbbbbbbbbbbbbbb"); !errors.Is(err, context.Canceled) {
		t.Fatalf("read into a full queue with its context ended = %v, want context.Canceled", err)
	}
	if n := len(l.reqs); n != queueSize {
		t.Fatalf("%d requests queued, want %d", n, queueSize)
	}

	// A read that may wait gets its turn once the commit goes on.
	done := make(chan error, 1)
	go func() { done <- l.Read(context.Background(), actor, "GetRetiree", "bbbbbbbbbbbbbbbb") }()
	stall.release()
	if err := waitfor.Receive(t, "the waiting read to be queued", done); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if n := len(entriesOf(t, db, "bbbbbbbbbbbbbbbb")); n != 1 {
		t.Errorf("%d entries of the read that waited, want 1", n)
	}
}

// TestNewRequestEntriesAreNewEntry: the entries a read queues, allocated
// together, are what NewEntry makes.
func TestNewRequestEntriesAreNewEntry(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 8, 0, 0, 123456789, time.UTC)
	l := &Log{now: func() time.Time { return at }}
	actor := Actor{Subject: "clerk-7", Role: "clerk", RequestID: "01HZY3V6Q8J8K2M7T4W9X0ABCD"}
	for _, ids := range [][]string{{"aaaaaaaaaaaaaaaa"}, {"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"}} {
		req := l.newRequest(actor, "GetRetiree", ids)
		if len(req.entries) != len(ids) {
			t.Fatalf("%d entries for %d retirees", len(req.entries), len(ids))
		}
		for i, id := range ids {
			if want := NewEntry(actor, "GetRetiree", id, at); !proto.Equal(req.entries[i], want) {
				t.Errorf("entry %d = %v, want %v", i, req.entries[i], want)
			}
		}
	}
}
