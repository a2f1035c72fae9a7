package handover

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// completedAt is 2026-09-24 02:00 in China, still the 23rd in UTC: the
// Thursday before the Mid-Autumn and National Day holidays (25-27
// September, 1-7 October; Saturday 10 October worked). Ten working days
// later is 15 October, twenty 29 October.
var completedAt = time.Date(2026, 9, 23, 18, 0, 0, 0, time.UTC)

const (
	assignedOn = "2026-09-24"
	due10      = "2026-10-15"
	due20      = "2026-10-29"
)

// taskRow is what a test compares of a task.
type taskRow struct {
	ID, Retiree, Community, Kind, Due, State string
}

func rowsOf(tasks []*pb.HandoverTask) []taskRow {
	out := make([]taskRow, len(tasks))
	for i, t := range tasks {
		out[i] = taskRow{t.Id, t.RetireeId, t.CommunityId, t.Kind.String(), t.DueOn, t.State.String()}
	}
	return out
}

// completedPackage is a completed handover of retirees r1…rn, the first
// two allocated to community A and the rest to community B.
func completedPackage(id string, n int) *pb.Handover {
	h := &pb.Handover{Id: id, State: pb.Handover_COMPLETED, CommunityId: communityA, CompleteTime: timestamppb.New(completedAt)}
	a, b := &pb.Allocation{CommunityId: communityA}, &pb.Allocation{CommunityId: communityB}
	for i := range n {
		rid := fmt.Sprintf("r%d", i+1)
		h.RetireeIds = append(h.RetireeIds, rid)
		if i < 2 {
			a.RetireeIds = append(a.RetireeIds, rid)
		} else {
			b.RetireeIds = append(b.RetireeIds, rid)
		}
	}
	h.Allocations = []*pb.Allocation{a, b}
	return h
}

const testHandoverID = "H0000000000000001"

func TestNewTasks(t *testing.T) {
	t.Parallel()
	h := completedPackage(testHandoverID, 3)
	tasks, err := newTasks(h, workdays.Default(), completedAt)
	if err != nil {
		t.Fatal(err)
	}
	id := func(letter string, n int) string { return fmt.Sprintf("%s-%s%05d", testHandoverID, letter, n) }
	want := []taskRow{
		{id("C", 1), "r1", communityA, "CONTACT_CARD", due10, "OPEN"},
		{id("C", 2), "r2", communityA, "CONTACT_CARD", due10, "OPEN"},
		{id("C", 3), "r3", communityB, "CONTACT_CARD", due10, "OPEN"},
		{id("D", 1), "r1", communityA, "DATA_CHECK", due10, "OPEN"},
		{id("D", 2), "r2", communityA, "DATA_CHECK", due10, "OPEN"},
		{id("D", 3), "r3", communityB, "DATA_CHECK", due10, "OPEN"},
		{id("V", 1), "r1", communityA, "FIRST_VISIT", due20, "OPEN"},
		{id("V", 2), "r2", communityA, "FIRST_VISIT", due20, "OPEN"},
		{id("V", 3), "r3", communityB, "FIRST_VISIT", due20, "OPEN"},
	}
	if diff := cmp.Diff(want, rowsOf(tasks)); diff != "" {
		t.Errorf("tasks (-want +got):\n%s", diff)
	}
	for _, task := range tasks {
		if task.AssignedOn != assignedOn || task.DueOnProvisional || task.HandoverId != testHandoverID || task.Etag != "r1" || !validTaskID(task.Id) {
			t.Errorf("task %s: assigned %s, provisional %v, handover %s, etag %s", task.Id, task.AssignedOn, task.DueOnProvisional, task.HandoverId, task.Etag)
		}
	}

	// A retiree allocated to no community is an error, never a task
	// nobody does (completion requires every retiree allocated).
	unallocated := completedPackage(testHandoverID, 3)
	unallocated.Allocations = unallocated.Allocations[:1]
	if _, err := newTasks(unallocated, workdays.Default(), completedAt); err == nil {
		t.Error("tasks of a retiree allocated nowhere")
	}
	// A year the calendar does not know makes the due date provisional.
	late := completedPackage(testHandoverID, 1)
	late.CompleteTime = timestamppb.New(time.Date(2031, 3, 3, 2, 0, 0, 0, time.UTC))
	tasks, _ = newTasks(late, workdays.Default(), completedAt)
	if len(tasks) == 0 || !tasks[0].DueOnProvisional || tasks[0].DueOn != "2031-03-17" {
		t.Errorf("2031: %v", tasks)
	}
}

func TestValidTaskID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		testHandoverID + "-C00001": true,
		testHandoverID + "-V10000": true,
		testHandoverID + "-D00017": true,
		testHandoverID + "-C00000": false,
		testHandoverID + "-C10001": false,
		testHandoverID + "-X00001": false,
		testHandoverID + "-C0001":  false,
		testHandoverID + "-C+0001": false,
		testHandoverID + "+C00001": false,
		"h0000000000000001-C00001": false,
		"":                         false,
	} {
		if got := validTaskID(id); got != want {
			t.Errorf("validTaskID(%q) = %v", id, got)
		}
	}
}

func TestCompleteTaskRules(t *testing.T) {
	t.Parallel()
	open := func() *pb.HandoverTask {
		return &pb.HandoverTask{State: pb.HandoverTask_OPEN, AssignedOn: assignedOn, DueOn: due10}
	}
	task := open()
	if err := completeTask(task, TaskDone{DoneOn: "2026-09-23", By: "clerk-a"}); !isInvalid(err, "doneOn") || task.State != pb.HandoverTask_OPEN {
		t.Errorf("done before the completion: %v, state %s", err, task.State)
	}
	if err := completeTask(task, TaskDone{DoneOn: assignedOn, Note: "已发联系卡", By: "clerk-a"}); err != nil {
		t.Fatal(err)
	}
	if task.State != pb.HandoverTask_DONE || task.DoneOn != assignedOn || task.DoneBy != "clerk-a" || task.Note != "已发联系卡" {
		t.Errorf("after completion: %v", task)
	}
	if err := completeTask(task, TaskDone{DoneOn: due10, By: "clerk-b"}); ruleReason(err) != ReasonTaskDone || task.DoneBy != "clerk-a" {
		t.Errorf("done twice: %v, by %s", err, task.DoneBy)
	}

	const today = "2026-10-01"
	for _, tc := range []struct {
		d     TaskDone
		field string
	}{
		{TaskDone{}, "doneOn"},
		{TaskDone{DoneOn: "2026-10-02"}, "doneOn"},
		{TaskDone{DoneOn: "1 October"}, "doneOn"},
		{TaskDone{DoneOn: today, Note: string(make([]rune, maxReasonLen+1))}, "note"},
	} {
		if err := checkTaskDone(tc.d, today); !isInvalid(err, tc.field) {
			t.Errorf("checkTaskDone(%+v) = %v, want a violation of %s", tc.d, err, tc.field)
		}
	}
	if err := checkTaskDone(TaskDone{DoneOn: today}, today); err != nil {
		t.Errorf("done today: %v", err)
	}
}

// isInvalid reports whether err is a validation error naming field.
func isInvalid(err error, field string) bool {
	var ve *fault.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// ruleReason is the reason of a *fault.RuleError, or "".
func ruleReason(err error) string {
	var re *fault.RuleError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

// openTaskStore is a store on a fresh file holding the tasks of the
// completed packages hs.
func openTaskStore(t *testing.T, hs ...*pb.Handover) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "handover.db"), StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	for _, h := range hs {
		if err := s.update(func(w *txn) error { return w.putTasks(h) }); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestListTasks(t *testing.T) {
	t.Parallel()
	later := completedPackage("H0000000000000002", 3)
	later.CompleteTime = timestamppb.New(completedAt.AddDate(0, 0, 5)) // 29 September: due 19 October and 2 November
	s := openTaskStore(t, completedPackage(testHandoverID, 3), later)
	list := func(f TaskFilter, size int) ([]taskRow, int) {
		t.Helper()
		var all []*pb.HandoverTask
		var after []byte
		pages := 0
		for {
			page, next, err := s.ListTasks(f, size, after)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, page...)
			if next == nil {
				return rowsOf(all), pages
			}
			after = next
		}
	}
	ids := func(rows []taskRow) []string {
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r.ID[len(testHandoverID)-1:]
		}
		return out
	}
	// Community B: r3 of each package, by due date, then id.
	rows, pages := list(TaskFilter{CommunityID: communityB}, 2)
	want := []string{"1-C00003", "1-D00003", "2-C00003", "2-D00003", "1-V00003", "2-V00003"}
	if diff := cmp.Diff(want, ids(rows)); diff != "" || pages != 3 {
		t.Errorf("community B in %d pages (-want +got):\n%s", pages, diff)
	}
	// Due before 16 October: the first package's 10-day tasks; the walk
	// of one community ends at the first task due later.
	rows, _ = list(TaskFilter{CommunityID: communityA, DueBefore: "2026-10-16"}, 50)
	if diff := cmp.Diff([]string{"1-C00001", "1-C00002", "1-D00001", "1-D00002"}, ids(rows)); diff != "" {
		t.Errorf("due before (-want +got):\n%s", diff)
	}
	// An area: both communities, A first; a filter of the caller's.
	rows, _ = list(TaskFilter{Area: communityA[:9], DueBefore: "2026-10-16", Visible: func(t *pb.HandoverTask) bool { return t.RetireeId != "r2" }}, 50)
	if diff := cmp.Diff([]string{"1-C00001", "1-D00001", "1-C00003", "1-D00003"}, ids(rows)); diff != "" {
		t.Errorf("area (-want +got):\n%s", diff)
	}
	if rows, _ := list(TaskFilter{}, 7); len(rows) != 18 {
		t.Errorf("all: %d tasks, want 18", len(rows))
	}

	// A done task leaves the OPEN list and joins the DONE one.
	id := testHandoverID + "-C00001"
	allow := func(*pb.HandoverTask) error { return nil }
	done, err := s.mutateTask(id, "r1", allow, func(t *pb.HandoverTask) error {
		return completeTask(t, TaskDone{DoneOn: "2026-09-28", By: "clerk-a"})
	})
	if err != nil || done.Etag != "r2" || done.State != pb.HandoverTask_DONE {
		t.Fatalf("complete: %v, %v", done, err)
	}
	if _, err := s.mutateTask(id, "r1", allow, func(*pb.HandoverTask) error { return nil }); !errors.Is(err, fault.ErrEtagMismatch) {
		t.Errorf("stale etag: %v", err)
	}
	if rows, _ := list(TaskFilter{CommunityID: communityA, State: pb.HandoverTask_DONE}, 50); len(rows) != 1 || rows[0].ID != id {
		t.Errorf("done: %v", rows)
	}
	if rows, _ := list(TaskFilter{CommunityID: communityA, State: pb.HandoverTask_OPEN}, 50); len(rows) != 11 {
		t.Errorf("open: %d, want 11", len(rows))
	}
	for _, bad := range []string{testHandoverID + "-C00009", "no-such-task"} {
		if _, err := s.mutateTask(bad, "", allow, func(*pb.HandoverTask) error { return nil }); !errors.Is(err, errTaskNotFound) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

// TestTasksInAnOlderFile: a file written before there were tasks (layout
// 2, without their buckets) opens with the buckets made, since nothing
// stored changes, and takes the tasks of a completion.
func TestTasksInAnOlderFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handover.db")
	v2 := slices.DeleteFunc(slices.Clone(allBuckets), func(b []byte) bool {
		return bytes.Equal(b, bucketTasks) || bytes.Equal(b, bucketTasksByCommunity)
	})
	boltstoretest.WriteFile(t, path, v2, func(tx *bolt.Tx) error {
		return boltstoretest.Put(tx, string(bucketMeta), "schema_version", boltstore.U64(2))
	})
	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close() //nolint:errcheck // read only after the update below
	if err := s.update(func(w *txn) error { return w.putTasks(completedPackage(testHandoverID, 1)) }); err != nil {
		t.Fatal(err)
	}
	if list, _, err := s.ListTasks(TaskFilter{CommunityID: communityA}, 10, nil); err != nil || len(list) != 3 {
		t.Errorf("tasks: %v, %v", list, err)
	}
}

// FuzzValidTaskID: an id from a URL is a task id only when it is exactly
// the id taskID gives for its parts.
func FuzzValidTaskID(f *testing.F) {
	for _, s := range []string{testHandoverID + "-C00001", testHandoverID + "-V10000", testHandoverID + "-D+0001", testHandoverID + "-C-0001", "", "H-C00001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !validTaskID(s) {
			return
		}
		n, err := strconv.Atoi(s[handoverIDLen+2:])
		i := slices.IndexFunc(taskKinds, func(k taskKind) bool { return k.letter == s[handoverIDLen+1] })
		if err != nil || i < 0 || taskID(s[:handoverIDLen], taskKinds[i], n) != s {
			t.Errorf("%q passes as a task id", s)
		}
	})
}
