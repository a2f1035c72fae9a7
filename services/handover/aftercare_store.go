package handover

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// errTaskNotFound is what a step on an unknown task gets (turned into
// 403 for callers who may not learn that).
var errTaskNotFound = fmt.Errorf("handover task %w", fault.ErrNotFound)

// taskIndexKey is t's key in bucketTasksByCommunity.
func taskIndexKey(t *pb.HandoverTask) []byte { return boltstore.Key(t.CommunityId, t.DueOn, t.Id) }

// putTasks files the tasks of a handover that completes in this
// transaction, each under its community and due date.
func (w *txn) putTasks(h *pb.Handover) error {
	tasks, err := newTasks(h, w.s.calendar, w.now)
	if err != nil {
		return err
	}
	if len(tasks) > MaxTasksPerHandover {
		return fmt.Errorf("handover %s: %d tasks, more than %d", h.Id, len(tasks), MaxTasksPerHandover)
	}
	b := w.tx.Bucket(bucketTasks)
	// Handover ids grow with time and tasks come in id order: the
	// records are appended, and full pages split less.
	b.FillPercent = 0.9
	keys := make([][]byte, len(tasks))
	for i, t := range tasks {
		if err := boltstore.PutProto(b, []byte(t.Id), t); err != nil {
			return err
		}
		if err := w.signalTask(t); err != nil {
			return err
		}
		keys[i] = taskIndexKey(t)
	}
	// bbolt keeps a node's keys in a sorted slice until the commit: keys
	// put in order are appended to it, others each move its tail, which
	// for 30,000 index entries of 20 communities costs seconds.
	slices.SortFunc(keys, bytes.Compare)
	ix := w.tx.Bucket(bucketTasksByCommunity)
	for _, k := range keys {
		if err := ix.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}

// TaskFilter selects tasks in ListTasks; zero fields match all.
type TaskFilter struct {
	// CommunityID is one community; Area a prefix of community ids (a
	// supervisor's street office or district code).
	CommunityID, Area string
	State             pb.HandoverTask_State
	// DueBefore (YYYY-MM-DD) keeps the tasks due before that day.
	DueBefore string
	// Visible, when set, leaves out what the caller may not see.
	Visible func(*pb.HandoverTask) bool
}

func (f TaskFilter) match(t *pb.HandoverTask) bool {
	return (f.State == pb.HandoverTask_STATE_UNSPECIFIED || t.State == f.State) &&
		(f.Visible == nil || f.Visible(t))
}

// prefix is the part of bucketTasksByCommunity f walks.
func (f TaskFilter) prefix() []byte {
	switch {
	case f.CommunityID != "":
		return boltstore.Prefix(f.CommunityID)
	case f.Area != "":
		return []byte(f.Area)
	}
	return nil
}

// ListTasks returns a page of tasks matching f by community, then due
// date, then id, walking the community index. Within one community the
// walk ends at the first task due on or after f.DueBefore.
func (s *Store) ListTasks(f TaskFilter, size int, after []byte) ([]*pb.HandoverTask, []byte, error) {
	var out []*pb.HandoverTask
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		tasks := tx.Bucket(bucketTasks)
		collect := boltstore.Collect(&out, f.match)
		scan := boltstore.Scan{Prefix: f.prefix(), After: after, Size: size, MaxExamined: s.maxExamined}
		var err error
		next, err = scan.Page(tx.Bucket(bucketTasksByCommunity).Cursor(), func(k, _ []byte) (bool, error) {
			parts := bytes.Split(k, []byte{0})
			if len(parts) != 3 {
				return false, fmt.Errorf("task index entry %q: want community, due date, id", k)
			}
			if f.DueBefore != "" && string(parts[1]) >= f.DueBefore {
				if f.CommunityID != "" {
					return false, boltstore.ErrEndOfList
				}
				return false, nil
			}
			v := tasks.Get(parts[2])
			if v == nil {
				return false, fmt.Errorf("task index entry %q without a task", k)
			}
			return collect(parts[2], v)
		})
		return err
	})
	return out, next, err
}

// mutateTask loads task id, checks that the caller may act on it
// (allowed sees nil when it does not exist) and the etag when given,
// applies fn and saves the next revision, in one transaction.
func (s *Store) mutateTask(id, etag string, allowed func(*pb.HandoverTask) error, fn func(*pb.HandoverTask) error) (*pb.HandoverTask, error) {
	var out *pb.HandoverTask
	err := s.update(func(w *txn) error {
		b := w.tx.Bucket(bucketTasks)
		old, err := boltstore.GetForChange(b, id, validTaskID(id), errTaskNotFound, etag, allowed)
		if err != nil {
			return err
		}
		t := proto.Clone(old).(*pb.HandoverTask)
		if err := fn(t); err != nil {
			return err
		}
		// The community and due date, and so the index entry, never
		// change.
		t.Etag = etagOf(revisionOf(old.Etag) + 1)
		t.UpdateTime = timestamppb.New(w.now)
		out = t
		if err := boltstore.PutProto(b, []byte(t.Id), t); err != nil {
			return err
		}
		if t.State != old.State {
			return w.signalTask(t)
		}
		return nil
	})
	return out, err
}
