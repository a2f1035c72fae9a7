package casework

import (
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// A ticket and its COMPLAINT item end in the same state whichever is
// closed first: ResolveTicket completes the item through the core's
// completion (completeStep, so the item's history and counters are the
// core's), and completing the item (CompleteWorkItem) resolves the ticket
// through the COMPLAINT completion hook, ticketItemCompleted. Both record
// the resolution, who resolved and when on the ticket, and call the
// complaint-resolved hook for a ticket about a retiree.

// ComplaintResolved is what resolving a ticket about a retiree also does,
// in the resolving transaction: the messages part queues the
// COMPLAINT_RESOLVED message to the retiree here (idempotency key
// "complaint/<ticket id>/resolved"). OpenStore registers the messages'
// (complaintMessage); OnComplaintResolved replaces it before serving.
type ComplaintResolved func(tx *bolt.Tx, t *pb.Ticket) error

// OnComplaintResolved registers the complaint-resolved hook.
func (s *Store) OnComplaintResolved(fn ComplaintResolved) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.complaintResolved = fn
}

// ResolveTicket records the resolution of an OPEN ticket that allowed
// lets the actor change, completing its COMPLAINT item (claimed by the
// actor first when claim is set and it has no assignee).
func (s *Store) ResolveTicket(id, etag, resolution string, claim bool, actor Actor, allowed TicketAllowed) (*pb.Ticket, error) {
	var out *pb.Ticket
	err := s.Update(func(tx *bolt.Tx) error {
		t, err := ticketForChange(tx, id, etag, allowed)
		if err != nil {
			return err
		}
		if t.State != pb.TicketState_TICKET_OPEN {
			return fault.Rule(ReasonTicketState, "the ticket is resolved already")
		}
		it, err := getItem(tx, t.WorkItemId)
		if err != nil {
			return err
		}
		// The completion hook resolves the ticket; an OPEN ticket's item
		// is open, since it closes only with the ticket.
		if _, err := s.changeIn(tx, it, s.completeStep(resolution, claim, actor)); err != nil {
			return err
		}
		out, err = s.ticketView(tx, id)
		return err
	})
	return out, err
}

// isTicketItem reports whether it is the item of a ticket (not a
// call-back's follow-up).
func isTicketItem(it *pb.WorkItem) bool {
	_, ok := ticketOfItem(it)
	return ok
}

// ticketOfItem returns the id of the ticket whose item it is.
func ticketOfItem(it *pb.WorkItem) (string, bool) {
	id, ok := strings.CutPrefix(it.SourceKey, "ticket/")
	return id, it.Source == ticketSource && ok && !strings.Contains(id, "/")
}

// ticketItemCompleted is the COMPLAINT completion hook: completing a
// ticket's item resolves the ticket with the item's outcome. A follow-up
// item's completion changes no ticket (its ticket is CLOSED).
func (s *Store) ticketItemCompleted(tx *bolt.Tx, it *pb.WorkItem, actor Actor) error {
	id, ok := ticketOfItem(it)
	if !ok {
		return nil
	}
	t, err := getTicket(tx, id)
	if err != nil || t.State != pb.TicketState_TICKET_OPEN {
		return err
	}
	return s.resolveIn(tx, t, it.Outcome, actor, it.CloseTime.AsTime())
}

// resolveIn records a ticket's resolution in tx and calls the
// complaint-resolved hook for a ticket about a retiree.
func (s *Store) resolveIn(tx *bolt.Tx, old *pb.Ticket, resolution string, actor Actor, now time.Time) error {
	t := proto.Clone(old).(*pb.Ticket)
	t.State, t.Resolution, t.ResolvedBy, t.ResolveTime = pb.TicketState_TICKET_RESOLVED, resolution, actor.Subject, timestamppb.New(now)
	if err := s.putTicket(tx, old, t); err != nil {
		return err
	}
	s.mu.RLock()
	hook := s.complaintResolved
	s.mu.RUnlock()
	if hook == nil || t.RetireeId == "" {
		return nil
	}
	return hook(tx, t)
}

// RecordCallback records the satisfaction call-back of a RESOLVED ticket,
// which closes it. DISSATISFIED does not reopen it: it opens a follow-up
// COMPLAINT item (key "ticket/<id>/follow-up") in the ticket's community,
// due by the category's deadline from now, escalated once to the
// supervisors, with the call-back's note; the ticket names it.
func (s *Store) RecordCallback(id, etag string, sat pb.Satisfaction, note string, actor Actor, allowed TicketAllowed) (*pb.Ticket, error) {
	var out *pb.Ticket
	err := s.Update(func(tx *bolt.Tx) error {
		old, err := ticketForChange(tx, id, etag, allowed)
		if err != nil {
			return err
		}
		if old.State != pb.TicketState_TICKET_RESOLVED {
			return fault.Rule(ReasonTicketState, "a call-back is recorded once, after the ticket is resolved")
		}
		now := s.now()
		t := proto.Clone(old).(*pb.Ticket)
		t.State, t.Satisfaction, t.CallbackNote, t.CallbackTime = pb.TicketState_TICKET_CLOSED, sat, note, timestamppb.New(now)
		if sat == pb.Satisfaction_DISSATISFIED {
			if t.FollowUpItemId, err = s.openFollowUp(tx, t, note, actor, now); err != nil {
				return err
			}
		}
		if err := s.putTicket(tx, old, t); err != nil {
			return err
		}
		out, err = s.ticketView(tx, id)
		return err
	})
	return out, err
}

// openFollowUp opens the follow-up item of a dissatisfied call-back.
func (s *Store) openFollowUp(tx *bolt.Tx, t *pb.Ticket, note string, actor Actor, now time.Time) (string, error) {
	cat, err := categoryOf(tx, t.Category)
	if err != nil {
		return "", err
	}
	if cat == nil {
		return "", fault.Rule(ReasonUnknownCategory, "the ticket's category no longer exists", "field", "category")
	}
	it, _, err := s.openItem(tx, ItemSpec{
		Kind: pb.WorkKind_COMPLAINT, Subject: &pb.Subject{Kind: feedv1.SubjectKind_TICKET, Id: t.Id},
		RetireeID: t.RetireeId, CommunityID: t.CommunityId, Start: now, Due: s.dueOf(cat, now),
		Priority: cat.Priority, Summary: "【回访不满意】" + note, Source: ticketSource,
		SourceKey: "ticket/" + t.Id + "/follow-up", Actor: actor.Subject,
	})
	if err != nil {
		return "", err
	}
	it, err = s.changeIn(tx, it, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		escalate(it, now, actor.Subject, "dissatisfied call-back: "+note)
		return nil
	})
	if err != nil {
		return "", err
	}
	return it.Id, nil
}

// followItem moves an open ticket to the community its item moved to
// with its retiree (see applyRetiree), so that the clerks who now work
// the item may resolve the ticket and find it in their list.
func (s *Store) followItem(tx *bolt.Tx, it *pb.WorkItem) error {
	id, ok := ticketOfItem(it)
	if !ok {
		return nil
	}
	old, err := getTicket(tx, id)
	if err != nil || old.CommunityId == it.CommunityId || old.State != pb.TicketState_TICKET_OPEN {
		return err
	}
	t := proto.Clone(old).(*pb.Ticket)
	t.CommunityId = it.CommunityId
	return s.putTicket(tx, old, t)
}
