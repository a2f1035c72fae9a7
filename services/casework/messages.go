package casework

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// This file queues casework's text messages (package sms) in the
// transactions of their causes, and keeps the retirees' message
// preferences. Triggers:
//
//   - a CERTIFICATION_DUE item opened from pension's feed: the retiree is
//     told CERTIFICATION_DUE_SOON, once per signal key;
//   - the activity notices (ACTIVITY_CHANGED, ACTIVITY_CANCELLED,
//     WAITLIST_PROMOTED): their message, once per feed entry;
//   - a complaint about a retiree resolved: complaintMessage, the store's
//     complaint-resolved hook (OnComplaintResolved), queues
//     COMPLAINT_RESOLVED once per ticket.

// MessageOptions configure the messages a Store queues.
type MessageOptions struct {
	// Signature prefixes every text; sms.DefaultSignature when empty.
	Signature string
	// Quiet are the hours nothing goes out; sms.DefaultQuietHours in
	// China's time when zero.
	Quiet sms.QuietHours
}

// The details of an activity notice its message tells (see
// signalfeed.DetailTitle and the others).
const (
	DetailTitle = signalfeed.DetailTitle
	DetailStart = signalfeed.DetailStart
	DetailPlace = signalfeed.DetailPlace
	DetailNote  = signalfeed.DetailNote
)

// newOutbox returns the store's outbox.
func (s *Store) newOutbox(o MessageOptions) (*sms.Outbox, error) {
	if o.Signature == "" {
		o.Signature = sms.DefaultSignature
	}
	if o.Quiet.Loc == nil {
		q, err := sms.ParseQuietHours(sms.DefaultQuietHours, workdays.ChinaTime)
		if err != nil {
			return nil, err
		}
		o.Quiet = q
	}
	r, err := sms.NewRenderer(o.Signature, sms.DefaultMaxRunes, o.Quiet.Loc)
	if err != nil {
		return nil, err
	}
	return sms.NewOutbox(sms.Options{Renderer: r, Quiet: o.Quiet, Codec: &s.Base, Now: s.now})
}

// Outbox is the store's SMS outbox, for the program's sms.Sender.
func (s *Store) Outbox() *sms.Outbox { return s.outbox }

// MessageSpec is a message EnqueueMessage queues about a retiree.
type MessageSpec struct {
	// Key names the cause for good, e.g. "complaint/<ticket>/resolved":
	// the same key is never queued twice. At most 96 characters; a longer
	// one is hashed.
	Key       string
	RetireeID string
	// CommunityID is the retiree's community; the projection's when
	// empty.
	CommunityID string
	Event       pb.MessageEvent
	Particulars sms.Particulars
}

// EnqueueMessage queues spec's message in tx, the transaction of its
// cause, addressed by the retiree's name as the projection knows it and
// under their message preferences (opted out: recorded SUPPRESSED). It
// reports whether a message was queued to go out. A retiree the
// projection does not know, or who died, is not written to (false, nil);
// particulars a template refuses are a fault.Invalid and nothing is
// written. The tickets part calls it when a complaint is resolved:
//
//	s.EnqueueMessage(tx, MessageSpec{Key: "complaint/" + t.Id + "/resolved",
//		RetireeID: t.RetireeId, Event: pb.MessageEvent_COMPLAINT_RESOLVED,
//		Particulars: sms.Particulars{Ticket: t.Id, Detail: resolution}})
func (s *Store) EnqueueMessage(tx *bolt.Tx, spec MessageSpec) (bool, error) {
	st, err := retireeOf(tx, spec.RetireeID)
	if errors.Is(err, errRetireeNotFound) || (err == nil && st.Status == registryv1.RetireeStatus_DECEASED) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	prefs, err := s.messagePrefs(tx, spec.RetireeID)
	if err != nil {
		return false, err
	}
	community := spec.CommunityID
	if community == "" {
		community = st.CommunityId
	}
	return s.outbox.Enqueue(tx, sms.Message{
		IdempotencyKey: messageKey(spec.Key), RetireeID: spec.RetireeID, CommunityID: community,
		Event: spec.Event, Addressee: sms.Addressee{Name: st.Name},
		Particulars: spec.Particulars, Preferences: prefs,
	})
}

// maxMessageKey bounds a message key as given; the outbox appends the
// recipient to it.
const maxMessageKey = 96

// messageKey is key, or its hash when longer than maxMessageKey.
func messageKey(key string) string {
	if len(key) <= maxMessageKey {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "h/" + hex.EncodeToString(sum[:])
}

// certificationDue queues CERTIFICATION_DUE_SOON for a certification
// item just opened; a message the retiree cannot be sent (unknown,
// deceased) is skipped.
func (s *Store) certificationDue(tx *bolt.Tx, it *pb.WorkItem) error {
	if it.RetireeId == "" {
		return nil
	}
	_, err := s.EnqueueMessage(tx, MessageSpec{
		Key: "cert/" + it.Source + "/" + it.SourceKey, RetireeID: it.RetireeId, CommunityID: it.CommunityId,
		Event: pb.MessageEvent_CERTIFICATION_DUE_SOON, Particulars: sms.Particulars{DueDate: it.DueTime.AsTime()},
	})
	return s.skipRefused(err, it.Source, it.SourceKey)
}

// notice queues the message of an activity notice, once per feed entry
// (the key hashes the source, the signal key, the epoch and the
// revision: a notice under the same key later is another message).
func (s *Store) notice(tx *bolt.Tx, source string, ev *feedv1.SignalEvent, event pb.MessageEvent) error {
	sig := ev.Signal
	if sig.RetireeId == "" {
		return nil
	}
	start, err := time.Parse(time.RFC3339, sig.Details[DetailStart])
	if err != nil || sig.Details[DetailTitle] == "" {
		s.log.Warn("activity notice without a title or start; no message", zap.String("source", source), zap.String("key", sig.Key))
		return nil
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{source, sig.Key, ev.Epoch, strconv.FormatInt(ev.Revision, 10)}, "\x00")))
	_, err = s.EnqueueMessage(tx, MessageSpec{
		Key: "notice/" + source + "/" + hex.EncodeToString(sum[:16]), RetireeID: sig.RetireeId, CommunityID: sig.CommunityId,
		Event: event,
		Particulars: sms.Particulars{
			Activity: sig.Details[DetailTitle], Start: start, Place: sig.Details[DetailPlace], Detail: sig.Details[DetailNote],
		},
	})
	return s.skipRefused(err, source, sig.Key)
}

// skipRefused logs and drops a message the templates refuse (a detail
// too long), so that the feed does not stall over it; other errors stand.
func (s *Store) skipRefused(err error, source, key string) error {
	var invalid *fault.ValidationError
	if errors.As(err, &invalid) {
		s.log.Warn("message refused by its template; not sent", zap.String("source", source), zap.String("key", key), zap.Error(err))
		return nil
	}
	return err
}

// messagePrefs reads a retiree's message preferences, or nil (the
// defaults).
func (s *Store) messagePrefs(tx *bolt.Tx, retiree string) (*pb.MessagePreferences, error) {
	p := new(pb.MessagePreferences)
	err := s.GetProto(tx, bucketMessagePrefs, []byte(retiree), p, errNoPrefs)
	if errors.Is(err, errNoPrefs) {
		return nil, nil
	}
	return p, err
}

var errNoPrefs = errors.New("no message preferences")

// MessagePreferences returns a retiree's preferences (the defaults when
// none were set) if allowed lets the caller see the retiree as the
// projection knows them; an unknown retiree is refused as allowed says.
func (s *Store) MessagePreferences(retiree string, allowed func(*registryv1.RetireeState) error) (*pb.MessagePreferences, error) {
	var out *pb.MessagePreferences
	err := s.DB().View(func(tx *bolt.Tx) error {
		st, err := s.visibleRetiree(tx, retiree, allowed)
		if err != nil {
			return err
		}
		if out, err = s.messagePrefs(tx, st.Id); err == nil && out == nil {
			out = &pb.MessagePreferences{RetireeId: st.Id, Recipients: []pb.Recipient{pb.Recipient_RETIREE}}
		}
		return err
	})
	return out, err
}

// SetMessagePreferences stores p (validated by the caller) for its
// retiree, if allowed lets the caller change them.
func (s *Store) SetMessagePreferences(p *pb.MessagePreferences, actor Actor, allowed func(*registryv1.RetireeState) error) (*pb.MessagePreferences, error) {
	out := proto.Clone(p).(*pb.MessagePreferences)
	out.Recipients = sms.Recipients(p)
	out.UpdateTime, out.UpdatedBy = timestamppb.New(s.now()), actor.Subject
	err := s.Update(func(tx *bolt.Tx) error {
		if _, err := s.visibleRetiree(tx, p.RetireeId, allowed); err != nil {
			return err
		}
		return s.PutProto(tx, bucketMessagePrefs, []byte(p.RetireeId), out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// visibleRetiree is the projection's state of retiree if allowed lets it
// be seen; an unknown retiree goes to allowed as nil.
func (s *Store) visibleRetiree(tx *bolt.Tx, retiree string, allowed func(*registryv1.RetireeState) error) (*registryv1.RetireeState, error) {
	st, err := retireeOf(tx, retiree)
	if err != nil && !errors.Is(err, errRetireeNotFound) {
		return nil, err
	}
	if aerr := allowed(st); aerr != nil {
		return nil, aerr
	}
	return st, err
}

// maxDetailRunes bounds the detail a message quotes (the templates'
// bound).
const maxDetailRunes = 60

// complaintMessage is the complaint-resolved hook OpenStore registers: the
// retiree is told COMPLAINT_RESOLVED, once per ticket, with the ticket's
// number and the resolution cut to one short line.
func (s *Store) complaintMessage(tx *bolt.Tx, t *pb.Ticket) error {
	_, err := s.EnqueueMessage(tx, MessageSpec{
		Key: "complaint/" + t.Id + "/resolved", RetireeID: t.RetireeId, CommunityID: t.CommunityId,
		Event: pb.MessageEvent_COMPLAINT_RESOLVED, Particulars: sms.Particulars{Ticket: t.Id, Detail: shortLine(t.Resolution)},
	})
	return s.skipRefused(err, "tickets", t.Id)
}

// shortLine is s on one line, cut to maxDetailRunes with an ellipsis.
func shortLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxDetailRunes {
		return string(r[:maxDetailRunes-1]) + "…"
	}
	return s
}
