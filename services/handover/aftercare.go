package handover

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Aftercare: once a handover completes, the community each retiree was
// allocated to issues the retiree a contact card, checks the retiree's
// data against the roster and visits the retiree for the first time.
// Each is a task of that community's clerk, due a number of working days
// after the completion.

// ReasonTaskDone: the task was recorded done already.
const ReasonTaskDone = "HANDOVER_TASK_DONE"

// taskKind is one kind of task: the letter of its ids and how many
// working days after completion it is due.
type taskKind struct {
	kind     pb.HandoverTask_Kind
	letter   byte
	workdays int
}

// taskKinds are the tasks every retiree gets, in the order of their ids'
// letters, so that a handover's tasks are written in key order.
var taskKinds = []taskKind{
	{pb.HandoverTask_CONTACT_CARD, 'C', 10},
	{pb.HandoverTask_DATA_CHECK, 'D', 10},
	{pb.HandoverTask_FIRST_VISIT, 'V', 20},
}

// MaxTasksPerHandover bounds the tasks one completion writes: three for
// each of at most MaxRetirees retirees.
const MaxTasksPerHandover = 3 * MaxRetirees

// taskNumberDigits is the width of the retiree's position in a task id:
// enough for MaxRetirees.
const taskNumberDigits = 5

// taskIDLen is the length of a task id: the handover id, "-", the kind's
// letter and the retiree's position.
const taskIDLen = handoverIDLen + 2 + taskNumberDigits

// taskID is the id of the task of kind k for the n-th retiree (from 1) of
// handover h.
func taskID(handoverID string, k taskKind, n int) string {
	return fmt.Sprintf("%s-%c%0*d", handoverID, k.letter, taskNumberDigits, n)
}

// validTaskID reports whether s has the shape of a task id, so that
// malformed ids never reach a key.
func validTaskID(s string) bool {
	if len(s) != taskIDLen || !validHandoverID(s[:handoverIDLen]) || s[handoverIDLen] != '-' {
		return false
	}
	if !slices.ContainsFunc(taskKinds, func(k taskKind) bool { return k.letter == s[handoverIDLen+1] }) {
		return false
	}
	digits := s[handoverIDLen+2:]
	if strings.Trim(digits, "0123456789") != "" {
		return false
	}
	n, err := strconv.Atoi(digits)
	return err == nil && n >= 1 && n <= MaxRetirees
}

// newTasks returns the tasks of a completed handover: one of each kind
// for each retiree, for the community it is allocated to (completion
// requires every retiree allocated), due the
// kind's working days after the day (in China) the handover completed, as
// cal counts them. Tasks come kind by kind, each in the retirees' order:
// ascending ids.
func newTasks(h *pb.Handover, cal *workdays.Calendar, now time.Time) ([]*pb.HandoverTask, error) {
	if h.CompleteTime == nil {
		return nil, fmt.Errorf("tasks of handover %s: not completed", h.Id)
	}
	day := workdays.Today(h.CompleteTime.AsTime())
	assigned := day.Format(time.DateOnly)
	communities := retireeCommunities(h)
	out := make([]*pb.HandoverTask, 0, len(taskKinds)*len(h.RetireeIds))
	for _, k := range taskKinds {
		due, known := cal.AddWorkingDays(day, k.workdays)
		for i, rid := range h.RetireeIds {
			community := communities[rid]
			if community == "" {
				return nil, fmt.Errorf("tasks of handover %s: retireeIds[%d] is allocated to no community", h.Id, i)
			}
			out = append(out, &pb.HandoverTask{
				Id: taskID(h.Id, k, i+1), HandoverId: h.Id, RetireeId: rid, CommunityId: community,
				Kind: k.kind, AssignedOn: assigned, DueOn: due.Format(time.DateOnly), DueOnProvisional: !known,
				State: pb.HandoverTask_OPEN, Etag: etagOf(1), UpdateTime: timestamppb.New(now),
			})
		}
	}
	return out, nil
}

// TaskDone is what CompleteHandoverTask records.
type TaskDone struct {
	// DoneOn is YYYY-MM-DD, checked not to be in the future.
	DoneOn string
	Note   string
	// By is the subject who records it.
	By string
}

// checkTaskDone validates a task's completion before the task is read:
// done on a date, not after today.
func checkTaskDone(d TaskDone, today string) error {
	var v fault.Violations
	switch {
	case d.DoneOn == "":
		v.Add("doneOn", "required")
	case !parseDate(&v, "doneOn", d.DoneOn).IsZero() && d.DoneOn > today:
		v.Add("doneOn", "in the future")
	}
	inputcheck.Text(&v, "note", d.Note, false, maxReasonLen)
	return v.Err()
}

// completeTask records t done: only an OPEN task, and not on a day
// before its handover completed.
func completeTask(t *pb.HandoverTask, d TaskDone) error {
	if t.State != pb.HandoverTask_OPEN {
		return fault.Rule(ReasonTaskDone, "the task was recorded done on "+t.DoneOn, "state", t.State.String())
	}
	if d.DoneOn < t.AssignedOn {
		return fault.Invalid("doneOn", "before the handover completed on "+t.AssignedOn)
	}
	t.State, t.DoneOn, t.DoneBy, t.Note = pb.HandoverTask_DONE, d.DoneOn, d.By, d.Note
	return nil
}

// markOverdue sets the output-only overdue of tasks as of today.
func markOverdue(tasks []*pb.HandoverTask, today string) {
	for _, t := range tasks {
		t.Overdue = t.State == pb.HandoverTask_OPEN && t.DueOn < today
	}
}
