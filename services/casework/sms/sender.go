package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// Defaults of SenderOptions.
const (
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = 30 * time.Second
	DefaultMaxBackoff  = 30 * time.Minute
	DefaultCallTimeout = 15 * time.Second
	// DefaultBatch is how many due messages one pass takes.
	DefaultBatch = 100
)

// maxIdle bounds how long Run sleeps without looking at the outbox, so
// that a clock set forward (or a message queued by another process) is
// noticed.
const maxIdle = time.Minute

// maxReason bounds a stored state reason.
const maxReason = 200

// AuditAction is the action of the audit entry each gateway call writes;
// the entry's reason is the outcome: SENT, RETRY or FAILED.
const AuditAction = "SendMessage"

// DefaultActor is who the audit log names for the sender.
var DefaultActor = audit.Actor{Subject: "casework-sms", Role: "service"}

// SenderOptions configures a Sender.
type SenderOptions struct {
	// Phones resolves numbers at send time; required.
	Phones PhoneBook
	// Gateway sends; required.
	Gateway Gateway
	Logger  *zap.Logger
	// Actor is who the audit entries name; DefaultActor when empty.
	Actor audit.Actor
	// MaxAttempts is how many gateway calls a message gets before it is
	// FAILED; DefaultMaxAttempts when zero.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before a retry, doubling
	// with each attempt; the defaults when zero.
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds one phone look-up and one gateway call together.
	CallTimeout time.Duration
	// Batch is how many due messages one pass takes; DefaultBatch when 0.
	Batch int
}

// Sender sends an Outbox's due messages. Each message is sent, then its
// outcome recorded in a transaction of its own together with an audit
// entry: a crash between the two sends the message again under the same
// idempotency key, so delivery to the gateway is at least once, and
// exactly once as a gateway that de-duplicates by key sees it. Only one
// Sender may run over an outbox.
type Sender struct {
	db      *bolt.DB
	outbox  *Outbox
	phones  PhoneBook
	gateway Gateway
	log     *zap.Logger
	actor   audit.Actor
	o       SenderOptions
}

// NewSender returns a Sender of outbox, whose buckets (and audit.Bucket)
// are in db.
func NewSender(db *bolt.DB, outbox *Outbox, o SenderOptions) (*Sender, error) {
	if o.Phones == nil || o.Gateway == nil {
		return nil, errors.New("sms: a sender needs a phone book and a gateway")
	}
	if err := db.View(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{audit.Bucket}, Buckets...) {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("sms: bucket %s missing from the schema", b)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Actor == (audit.Actor{}) {
		o.Actor = DefaultActor
	}
	o.MaxAttempts = cmpOr(o.MaxAttempts, DefaultMaxAttempts)
	o.MinBackoff = cmpOr(o.MinBackoff, DefaultMinBackoff)
	o.MaxBackoff = max(cmpOr(o.MaxBackoff, DefaultMaxBackoff), o.MinBackoff)
	o.CallTimeout = cmpOr(o.CallTimeout, DefaultCallTimeout)
	o.Batch = cmpOr(o.Batch, DefaultBatch)
	return &Sender{db: db, outbox: outbox, phones: o.Phones, gateway: o.Gateway, log: o.Logger, actor: o.Actor, o: o}, nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Run sends due messages until ctx ends, waking when messages are queued,
// when the next one falls due, and at least every minute.
func (s *Sender) Run(ctx context.Context) error {
	failures := int32(0)
	for ctx.Err() == nil {
		wake := s.outbox.Queued()
		n, next, err := s.SendDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.Error("sending messages", zap.Error(err))
		}
		if n > 0 && err == nil {
			continue
		}
		wait := maxIdle
		if !next.IsZero() {
			wait = min(max(next.Sub(s.outbox.now()), time.Millisecond), maxIdle)
		}
		if err != nil {
			// A pass that fails again and again (an outcome that cannot be
			// recorded, so its message would go to the gateway again)
			// backs off like a failing message does.
			failures++
			wait = s.backoff(failures)
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	return nil
}

// SendDue makes one pass: it sends up to the batch of due messages and
// returns how many it handled and when the next waiting one falls due.
func (s *Sender) SendDue(ctx context.Context) (int, time.Time, error) {
	if now := s.outbox.now(); s.outbox.quiet.Quiet(now) {
		// Nothing goes out in quiet hours, whenever it was queued: a
		// message held up by an outage waits for the morning.
		return 0, s.outbox.quiet.NextSendTime(now), nil
	}
	var msgs []*pb.Message
	var next time.Time
	if err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		msgs, next, err = s.outbox.due(tx, s.outbox.now(), s.o.Batch)
		return err
	}); err != nil {
		return 0, time.Time{}, err
	}
	for i, m := range msgs {
		if now := s.outbox.now(); s.outbox.quiet.Quiet(now) {
			return i, s.outbox.quiet.NextSendTime(now), nil
		}
		if err := s.send(ctx, m); err != nil {
			return i, next, err
		}
	}
	return len(msgs), next, nil
}

// outcome is what one attempt at a message came to.
type outcome struct {
	state  pb.DeliveryState
	reason string
	// masked is the number the gateway was given, masked; empty when the
	// gateway was not called.
	masked string
	// uncounted: the attempt did not reach the gateway for a passing
	// reason and does not count towards MaxAttempts.
	uncounted bool
}

// send attempts m once and records the outcome.
func (s *Sender) send(ctx context.Context, m *pb.Message) error {
	callCtx, cancel := context.WithTimeout(ctx, s.o.CallTimeout)
	defer cancel()
	out := s.attempt(callCtx, m)
	if ctx.Err() != nil {
		// Stopping: the message stays queued as it was.
		return ctx.Err()
	}
	log := s.log.With(zap.String("message_id", m.Id), zap.Stringer("event", m.Event), zap.Int32("attempt", m.Attempts+1))
	switch out.state {
	case pb.DeliveryState_SENT:
		log.Info("message sent")
	case pb.DeliveryState_QUEUED:
		log.Warn("message not sent; retrying", zap.String("reason", out.reason))
	default:
		log.Warn("message not sent", zap.Stringer("state", out.state), zap.String("reason", out.reason))
	}
	return s.record(m, out)
}

// attempt looks the number up and calls the gateway. Whatever it returns
// has the number masked out of it.
func (s *Sender) attempt(ctx context.Context, m *pb.Message) outcome {
	phone, err := s.phones.Phone(ctx, m.RetireeId, m.Recipient)
	switch {
	case errors.Is(err, ErrNoPhone):
		return outcome{state: pb.DeliveryState_SUPPRESSED, reason: clip(err.Error())}
	case errors.Is(err, ErrPhoneBookUnavailable):
		// Registry is away: the message waits without using up an
		// attempt, however long the outage.
		return outcome{state: pb.DeliveryState_QUEUED, reason: clip("phone book: " + err.Error()), uncounted: true}
	case err != nil:
		return s.retryOrFail(m, "phone book: "+err.Error(), "")
	case phone == "":
		return outcome{state: pb.DeliveryState_SUPPRESSED, reason: ReasonNoPhone}
	}
	masked := inputcheck.MaskPhone(phone)
	err = s.gateway.Send(ctx, Outgoing{Phone: phone, Text: m.Text, IdempotencyKey: m.IdempotencyKey})
	switch {
	case err == nil:
		return outcome{state: pb.DeliveryState_SENT, masked: masked}
	case errors.Is(err, ErrRejected):
		return outcome{state: pb.DeliveryState_FAILED, reason: redact(err.Error(), phone), masked: masked}
	}
	return s.retryOrFail(m, redact(err.Error(), phone), masked)
}

// retryOrFail keeps m queued for another attempt, or fails it when this
// was its last.
func (s *Sender) retryOrFail(m *pb.Message, reason, masked string) outcome {
	if int(m.Attempts)+1 >= s.o.MaxAttempts {
		return outcome{state: pb.DeliveryState_FAILED, reason: clip(fmt.Sprintf("%d attempts; last: %s", m.Attempts+1, reason)), masked: masked}
	}
	return outcome{state: pb.DeliveryState_QUEUED, reason: clip(reason), masked: masked}
}

// backoff is the wait after a message's attempt-th failed attempt.
func (s *Sender) backoff(attempt int32) time.Duration {
	d := s.o.MinBackoff
	for i := int32(1); i < attempt && d < s.o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.o.MaxBackoff)
}

// record writes the outcome of an attempt at m, in one transaction with
// the audit entry of a gateway call. A message no longer QUEUED is left
// alone.
func (s *Sender) record(m *pb.Message, out outcome) error {
	seq, ok := parseMessageID(m.Id)
	if !ok {
		return fmt.Errorf("sms: malformed message id %q", m.Id)
	}
	return boltstore.Update(s.db, func(tx *bolt.Tx) error {
		cur, err := s.outbox.get(tx, seq)
		if err != nil {
			return err
		}
		if cur.State != pb.DeliveryState_QUEUED || !proto.Equal(cur.SendAfter, m.SendAfter) {
			return nil
		}
		now := s.outbox.now()
		next := proto.Clone(cur).(*pb.Message)
		next.State, next.StateReason = out.state, out.reason
		if out.state != pb.DeliveryState_SUPPRESSED && !out.uncounted {
			next.Attempts++
		}
		if out.masked != "" {
			next.PhoneMasked = out.masked
		}
		if out.state == pb.DeliveryState_SENT {
			next.SentTime = timestamppb.New(now)
		}
		if err := tx.Bucket(BucketDue).Delete(dueKey(cur.SendAfter.AsTime(), seq)); err != nil {
			return err
		}
		if out.state == pb.DeliveryState_QUEUED {
			next.SendAfter = timestamppb.New(s.outbox.quiet.NextSendTime(now.Add(s.backoff(next.Attempts))))
			if err := tx.Bucket(BucketDue).Put(dueKey(next.SendAfter.AsTime(), seq), nil); err != nil {
				return err
			}
		}
		if err := s.outbox.codec.PutProto(tx, BucketMessages, boltstore.U64(seq), next); err != nil {
			return err
		}
		return s.audit(tx, next, out, now)
	})
}

// audit records a gateway call: the recipient's number left the service.
func (s *Sender) audit(tx *bolt.Tx, m *pb.Message, out outcome, now time.Time) error {
	if out.masked == "" {
		return nil
	}
	reason := "RETRY"
	switch out.state {
	case pb.DeliveryState_SENT:
		reason = "SENT"
	case pb.DeliveryState_FAILED:
		reason = "FAILED"
	}
	e := audit.NewEntry(s.actor, AuditAction, m.RetireeId, now)
	e.Reason = reason
	return audit.Put(tx, e)
}

// redact takes a phone number, and its digits, out of an error text, for
// an error that quotes what it was sent.
func redact(s, phone string) string {
	masked := inputcheck.MaskPhone(phone)
	s = strings.ReplaceAll(s, phone, masked)
	if digits := onlyDigits(phone); len(digits) >= 6 {
		s = strings.ReplaceAll(s, digits, inputcheck.MaskPhone(digits))
	}
	return clip(s)
}

func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clip bounds a reason to maxReason characters.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxReason {
		return s
	}
	return string([]rune(s)[:maxReason-1]) + "…"
}
