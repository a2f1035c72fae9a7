package casework

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// ticketSource is the Source of the COMPLAINT items tickets open; their
// keys are "ticket/<id>", and "ticket/<id>/follow-up" for the item a
// DISSATISFIED call-back opens.
const ticketSource = "tickets"

// Rule-failure reasons of tickets.
const (
	// ReasonTicketState refuses a change the ticket's state does not
	// allow (resolving one resolved, a call-back before resolution).
	ReasonTicketState = "TICKET_STATE"
	// ReasonUnknownCategory refuses a follow-up of a ticket whose
	// category no longer exists.
	ReasonUnknownCategory = "UNKNOWN_CATEGORY"
)

var errTicketNotFound = fmt.Errorf("ticket %w", fault.ErrNotFound)

// TicketPlace decides where a new ticket goes: given the community (the
// retiree's from the projection, or the request's for a handover) and
// whether the retiree is known, it returns nil to go on, or the error to
// answer.
type TicketPlace func(community string, known bool) error

// CreateTicket stores a validated ticket (channel, category, subject,
// retiree_id, payment_month, community_id for a handover, description,
// complainant, referral_number) and opens its COMPLAINT item, due when
// its category says, in one transaction. A request key (scoped to its
// caller) makes it idempotent as CreateItem's does.
func (s *Store) CreateTicket(in *pb.Ticket, requestKey string, actor Actor, place TicketPlace) (*pb.Ticket, error) {
	fp := ticketFingerprint(in)
	var out *pb.Ticket
	err := s.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketTicketRequestKeys)
		if requestKey != "" {
			if rec := keys.Get([]byte(requestKey)); rec != nil {
				if len(rec) != len(fp)+idLen || !bytes.Equal(rec[:len(fp)], fp) {
					return fault.Rule(ReasonRequestKeyReused, "this request key was used for a different ticket")
				}
				var err error
				out, err = s.ticketView(tx, string(rec[len(fp):]))
				return err
			}
		}
		t, err := s.newTicket(tx, in, actor, place)
		if err != nil {
			return err
		}
		if requestKey != "" {
			if err := keys.Put([]byte(requestKey), append(fp, t.Id...)); err != nil {
				return err
			}
		}
		out, err = s.ticketView(tx, t.Id)
		return err
	})
	return out, err
}

// newTicket places, stores and indexes a new ticket with its item.
func (s *Store) newTicket(tx *bolt.Tx, in *pb.Ticket, actor Actor, place TicketPlace) (*pb.Ticket, error) {
	t := proto.Clone(in).(*pb.Ticket)
	if t.Subject.GetKind() == feedv1.SubjectKind_RETIREE {
		st, err := retireeOf(tx, t.RetireeId)
		if err != nil {
			if err := place("", false); err != nil {
				return nil, err
			}
			return nil, fault.Invalid("ticket.subject.id", "no retiree has this id")
		}
		t.CommunityId = st.CommunityId
	}
	if err := place(t.CommunityId, true); err != nil {
		return nil, err
	}
	cat, err := categoryOf(tx, t.Category)
	if err != nil {
		return nil, err
	}
	if cat == nil {
		return nil, fault.Invalid("ticket.category", "no ticket category has this code")
	}
	now := s.now()
	t.Id = unusedID(tx.Bucket(bucketTickets), nil)
	t.State, t.CreateTime = pb.TicketState_TICKET_OPEN, timestamppb.New(now)
	t.DueTime = timestamppb.New(s.dueOf(cat, now))
	it, _, err := s.openItem(tx, ItemSpec{
		Kind: pb.WorkKind_COMPLAINT, Subject: &pb.Subject{Kind: feedv1.SubjectKind_TICKET, Id: t.Id},
		RetireeID: t.RetireeId, CommunityID: t.CommunityId, Start: now, Due: t.DueTime.AsTime(),
		Priority: cat.Priority, Summary: ticketSummary(cat, t), Source: ticketSource, SourceKey: "ticket/" + t.Id,
		Actor: actor.Subject,
	})
	if err != nil {
		return nil, err
	}
	t.WorkItemId = it.Id
	return t, s.putTicket(tx, nil, t)
}

// ticketSummary is what the queue shows of a ticket: its category's name
// and the start of the description.
func ticketSummary(cat *pb.TicketCategory, t *pb.Ticket) string {
	d := strings.ReplaceAll(t.Description, "\n", " ")
	if utf8.RuneCountInString(d) > 100 {
		d = string([]rune(d)[:100]) + "…"
	}
	return "【" + cat.Name + "】" + d
}

// ticketFingerprint identifies a ticket request's content.
func ticketFingerprint(t *pb.Ticket) []byte {
	h := sha256.New()
	for _, s := range []string{t.Channel.String(), t.Category, t.Subject.GetKind().String(), t.Subject.GetId(),
		t.RetireeId, t.PaymentMonth, t.CommunityId, t.Description, t.Complainant, t.ReferralNumber} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// ticketIndexKey is community, 0, create time, id.
func ticketIndexKey(t *pb.Ticket) []byte {
	return append(append(boltstore.Prefix(t.CommunityId), keyTime(t.CreateTime.AsTime())...), t.Id...)
}

// putTicket writes cur, the new revision of old (nil for a new ticket),
// with its index entry, in tx.
func (s *Store) putTicket(tx *bolt.Tx, old, cur *pb.Ticket) error {
	cur.Etag = etagOf(revisionOf(old.GetEtag()) + 1)
	// What an item says is read from the item, not stored twice.
	cur.Clock, cur.EscalationLevel = pb.Clock_CLOCK_UNSPECIFIED, 0
	if old != nil && old.CommunityId != cur.CommunityId {
		if err := tx.Bucket(bucketTicketsByCommunity).Delete(ticketIndexKey(old)); err != nil {
			return err
		}
	}
	if err := boltstore.PutProto(tx.Bucket(bucketTickets), []byte(cur.Id), cur); err != nil {
		return err
	}
	return tx.Bucket(bucketTicketsByCommunity).Put(ticketIndexKey(cur), []byte{enumByte(cur.State)})
}

// getTicket reads a ticket as stored in tx.
func getTicket(tx *bolt.Tx, id string) (*pb.Ticket, error) {
	t := new(pb.Ticket)
	if err := boltstore.GetProto(tx.Bucket(bucketTickets), []byte(id), t, errTicketNotFound); err != nil {
		return nil, err
	}
	return t, nil
}

// ticketView reads a ticket in tx with what its COMPLAINT item says now:
// its clock, escalation level and due time (moved on by the time the
// item's clock was paused).
func (s *Store) ticketView(tx *bolt.Tx, id string) (*pb.Ticket, error) {
	t, err := getTicket(tx, id)
	if err != nil {
		return nil, err
	}
	return t, s.fromItem(tx, t)
}

// fromItem fills in what a ticket shows of its item.
func (s *Store) fromItem(tx *bolt.Tx, t *pb.Ticket) error {
	it, err := getItem(tx, t.WorkItemId)
	if err != nil {
		return fmt.Errorf("ticket %s: its work item: %v", t.Id, err) //nolint:errorlint // corruption is not a 404
	}
	t.Clock, t.EscalationLevel, t.DueTime = s.clockAt(it, s.now()), it.EscalationLevel, it.DueTime
	return nil
}

// TicketAllowed is the object check of a ticket read or change: it sees
// the ticket and its COMPLAINT item, or nils when there is no ticket.
type TicketAllowed func(t *pb.Ticket, it *pb.WorkItem) error

// ticketForChange reads ticket id in tx for a read or change that allowed
// guards (a missing ticket first asks allowed(nil, nil); see
// boltstore.GetForChange) with an etag, when given, to match.
func ticketForChange(tx *bolt.Tx, id, etag string, allowed TicketAllowed) (*pb.Ticket, error) {
	return boltstore.GetForChange(tx.Bucket(bucketTickets), id, inputcheck.IsOpaqueID(id), errTicketNotFound, etag,
		func(t *pb.Ticket) error {
			if t == nil {
				return allowed(nil, nil)
			}
			it, err := getItem(tx, t.WorkItemId)
			if err != nil {
				return fmt.Errorf("ticket %s: its work item: %v", t.Id, err) //nolint:errorlint // corruption is not a 404
			}
			return allowed(t, it)
		})
}

// GetTicket returns a ticket the caller may see.
func (s *Store) GetTicket(id string, allowed TicketAllowed) (*pb.Ticket, error) {
	var out *pb.Ticket
	err := s.DB().View(func(tx *bolt.Tx) error {
		t, err := ticketForChange(tx, id, "", allowed)
		if err != nil {
			return err
		}
		out = t
		return s.fromItem(tx, t)
	})
	return out, err
}

// TicketQuery selects tickets: one community's (Area false), or those of
// every community whose id starts with Community (Area true), in one
// state or all.
type TicketQuery struct {
	Community string
	Area      bool
	State     pb.TicketState
}

// ListTickets pages q's tickets newest first (an area's by community,
// then newest first).
func (s *Store) ListTickets(q TicketQuery, size int, after []byte) ([]*pb.Ticket, []byte, error) {
	var out []*pb.Ticket
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		prefix := boltstore.Prefix(q.Community)
		if q.Area {
			prefix = []byte(q.Community)
		}
		scan := boltstore.Scan{Prefix: prefix, After: after, Size: size, Reverse: true}
		var err error
		next, err = scan.Page(tx.Bucket(bucketTicketsByCommunity).Cursor(), func(k, v []byte) (bool, error) {
			if len(v) != 1 {
				return false, fmt.Errorf("%w: ticket index value of %d bytes", boltstore.ErrBadKey, len(v))
			}
			if q.State != 0 && v[0] != enumByte(q.State) {
				return false, nil
			}
			id, err := idOfKey(k)
			if err != nil {
				return false, err
			}
			t, err := s.ticketView(tx, id)
			if err != nil {
				return false, fmt.Errorf("ticket index inconsistent: %v", err) //nolint:errorlint // corruption is not a 404
			}
			out = append(out, t)
			return true, nil
		})
		return err
	})
	return out, next, err
}
