package sms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const phone = "13812345678"

// phoneBook answers from a map of retiree ids; a missing one has no phone.
type phoneBook struct {
	phones map[string]string
	err    error
}

func (b phoneBook) Phone(_ context.Context, retireeID string, _ pb.Recipient) (string, error) {
	if b.err != nil {
		return "", b.err
	}
	p, ok := b.phones[retireeID]
	if !ok {
		return "", ErrNoPhone
	}
	return p, nil
}

// scriptedGateway answers each call with the next error of its script
// (nil once the script is used up) and records what it was sent.
type scriptedGateway struct {
	mu     sync.Mutex
	script []error
	sent   []Outgoing
}

func (g *scriptedGateway) Send(_ context.Context, o Outgoing) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sent = append(g.sent, o)
	if len(g.script) == 0 {
		return nil
	}
	err := g.script[0]
	g.script = g.script[1:]
	return err
}

type senderWorld struct {
	t       *testing.T
	clock   *testclock.Clock
	db      *bolt.DB
	outbox  *Outbox
	sender  *Sender
	gateway *scriptedGateway
	logs    *observer.ObservedLogs
}

func newSenderWorld(t *testing.T, now time.Time, script ...error) *senderWorld {
	t.Helper()
	w := &senderWorld{t: t, clock: testclock.New(now), db: openDB(t, ""), gateway: &scriptedGateway{script: script}}
	w.outbox = newOutbox(t, w.clock)
	core, logs := observer.New(zap.DebugLevel)
	w.logs = logs
	s, err := NewSender(w.db, w.outbox, SenderOptions{
		Phones: phoneBook{phones: map[string]string{"r1": phone}}, Gateway: w.gateway,
		Logger: zap.New(core), MaxAttempts: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	w.sender = s
	return w
}

func (w *senderWorld) enqueue(m Message) {
	w.t.Helper()
	if _, err := enqueue(w.t, w.db, w.outbox, m); err != nil {
		w.t.Fatal(err)
	}
}

// pass runs one SendDue and returns how many it handled.
func (w *senderWorld) pass() int {
	w.t.Helper()
	n, _, err := w.sender.SendDue(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

func (w *senderWorld) message(id string) *pb.Message {
	w.t.Helper()
	var m *pb.Message
	if err := w.db.View(func(tx *bolt.Tx) error {
		var err error
		m, err = w.outbox.Get(tx, id)
		return err
	}); err != nil {
		w.t.Fatal(err)
	}
	return m
}

// audits returns the reasons of the sender's audit entries of r1.
func (w *senderWorld) audits() []string {
	w.t.Helper()
	var out []string
	if err := w.db.View(func(tx *bolt.Tx) error {
		return audit.ForEach(tx, func(e *registryv1.AuditEntry) error {
			if e.Action != AuditAction || e.RetireeId != "r1" || e.Subject != DefaultActor.Subject {
				return fmt.Errorf("unexpected audit entry %v", e)
			}
			out = append(out, e.Reason)
			return nil
		})
	}); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// noPhoneInLogs fails unless no log line, message or field, holds five
// consecutive digits of the phone number.
func (w *senderWorld) noPhoneInLogs() {
	w.t.Helper()
	if w.logs.Len() == 0 {
		w.t.Fatal("nothing was logged")
	}
	for _, e := range w.logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		for i := 0; i+5 <= len(phone); i++ {
			if strings.Contains(line, phone[i:i+5]) {
				w.t.Errorf("log line holds %s of the phone number: %s", phone[i:i+5], line)
			}
		}
	}
}

// TestSendAndAudit: a due message goes to the gateway with its key and
// the number the phone book gives, is SENT with the number masked, and
// the send is audited in the same transaction.
func TestSendAndAudit(t *testing.T) {
	t.Parallel()
	w := newSenderWorld(t, at(2026, 12, 7, 10, 0))
	w.enqueue(dueSoon("k1", "r1"))
	if n := w.pass(); n != 1 {
		t.Fatalf("pass handled %d", n)
	}
	m := w.message(MessageID(1))
	if m.State != pb.DeliveryState_SENT || m.PhoneMasked != "138****5678" || m.Attempts != 1 ||
		!m.SentTime.AsTime().Equal(at(2026, 12, 7, 10, 0)) {
		t.Errorf("after the send: %v", m)
	}
	if len(w.gateway.sent) != 1 || w.gateway.sent[0] != (Outgoing{Phone: phone, Text: m.Text, IdempotencyKey: "k1/RETIREE"}) {
		t.Errorf("gateway got %v", w.gateway.sent)
	}
	if got := w.audits(); len(got) != 1 || got[0] != "SENT" {
		t.Errorf("audit reasons %v", got)
	}
	if n := w.pass(); n != 0 {
		t.Errorf("a sent message was taken again")
	}
	w.noPhoneInLogs()
}

// TestRetryThenSend: a failure (whose text quotes the number) keeps the
// message queued with the number masked out of the reason, retried after
// the backoff under the same key; every gateway call is audited.
func TestRetryThenSend(t *testing.T) {
	t.Parallel()
	w := newSenderWorld(t, at(2026, 12, 7, 10, 0), fmt.Errorf("platform busy sending to %s", phone))
	w.enqueue(dueSoon("k1", "r1"))
	w.pass()
	m := w.message(MessageID(1))
	if m.State != pb.DeliveryState_QUEUED || m.Attempts != 1 || strings.Contains(m.StateReason, "12345678") ||
		!strings.Contains(m.StateReason, "138****5678") || !m.SendAfter.AsTime().Equal(at(2026, 12, 7, 10, 0).Add(DefaultMinBackoff)) {
		t.Errorf("after a failure: %v", m)
	}
	if n := w.pass(); n != 0 {
		t.Errorf("retried before the backoff")
	}
	w.clock.Set(at(2026, 12, 7, 10, 0).Add(DefaultMinBackoff))
	w.pass()
	if m := w.message(MessageID(1)); m.State != pb.DeliveryState_SENT || m.Attempts != 2 || m.StateReason != "" {
		t.Errorf("after the retry: %v", m)
	}
	if len(w.gateway.sent) != 2 || w.gateway.sent[0].IdempotencyKey != w.gateway.sent[1].IdempotencyKey {
		t.Errorf("gateway got %v", w.gateway.sent)
	}
	if got := w.audits(); len(got) != 2 || got[0] != "RETRY" || got[1] != "SENT" {
		t.Errorf("audit reasons %v", got)
	}
	w.noPhoneInLogs()
}

// TestRetryIntoQuietHours: a retry that would fall in the quiet hours
// waits for their end.
func TestRetryIntoQuietHours(t *testing.T) {
	t.Parallel()
	w := newSenderWorld(t, at(2026, 12, 7, 20, 59).Add(50*time.Second), errors.New("HTTP 503"))
	w.enqueue(dueSoon("k1", "r1"))
	w.pass()
	if m := w.message(MessageID(1)); !m.SendAfter.AsTime().Equal(at(2026, 12, 8, 8, 0)) {
		t.Errorf("retry at %v, want 08:00 the next day", m.SendAfter.AsTime().In(shanghai))
	}
}

// TestFailAfterAttempts: after MaxAttempts failed calls the message is
// FAILED with the reason and leaves the due list; a refusal for good
// fails it at once.
func TestFailAfterAttempts(t *testing.T) {
	t.Parallel()
	busy := errors.New("sms gateway: HTTP 503")
	w := newSenderWorld(t, at(2026, 12, 7, 10, 0), busy, busy, busy)
	w.enqueue(dueSoon("k1", "r1"))
	for range 3 {
		w.pass()
		w.clock.Set(w.clock.Now().Add(time.Hour))
	}
	m := w.message(MessageID(1))
	if m.State != pb.DeliveryState_FAILED || m.Attempts != 3 || m.StateReason != "3 attempts; last: sms gateway: HTTP 503" {
		t.Errorf("after 3 failures: %v", m)
	}
	if n := w.pass(); n != 0 {
		t.Errorf("a failed message was taken again")
	}
	if got := w.audits(); strings.Join(got, " ") != "RETRY RETRY FAILED" {
		t.Errorf("audit reasons %v", got)
	}
	w.noPhoneInLogs()

	w = newSenderWorld(t, at(2026, 12, 7, 10, 0), fmt.Errorf("%w: HTTP 400", ErrRejected))
	w.enqueue(dueSoon("k2", "r1"))
	w.pass()
	if m := w.message(MessageID(1)); m.State != pb.DeliveryState_FAILED || m.Attempts != 1 ||
		m.StateReason != "sms gateway refused the message: HTTP 400" {
		t.Errorf("after a refusal: %v", m)
	}
	if got := w.audits(); strings.Join(got, " ") != "FAILED" {
		t.Errorf("audit reasons %v", got)
	}
}

// TestNoPhoneAtSendTime: a recipient without a number is SUPPRESSED
// without a gateway call or an audit entry; a phone book that fails is
// retried.
func TestNoPhoneAtSendTime(t *testing.T) {
	t.Parallel()
	w := newSenderWorld(t, at(2026, 12, 7, 10, 0))
	w.enqueue(dueSoon("k1", "r-nophone"))
	w.pass()
	if m := w.message(MessageID(1)); m.State != pb.DeliveryState_SUPPRESSED || m.StateReason != ReasonNoPhone || m.Attempts != 0 {
		t.Errorf("without a phone: %v", m)
	}
	if len(w.gateway.sent) != 0 {
		t.Errorf("gateway called: %v", w.gateway.sent)
	}

	w.sender.phones = phoneBook{err: errors.New("registry: Unavailable")}
	w.enqueue(dueSoon("k2", "r1"))
	w.pass()
	if m := w.message(MessageID(2)); m.State != pb.DeliveryState_QUEUED || m.Attempts != 1 || m.StateReason != "phone book: registry: Unavailable" {
		t.Errorf("phone book down: %v", m)
	}
	if got := w.audits(); len(got) != 0 {
		t.Errorf("audit reasons %v without a gateway call", got)
	}

	// Registry away for longer than every attempt would last: the
	// message waits, its attempts untouched.
	w.sender.phones = phoneBook{err: fmt.Errorf("%w: registry: Unavailable", ErrPhoneBookUnavailable)}
	w.enqueue(dueSoon("k3", "r1"))
	for range 5 {
		w.clock.Set(w.clock.Now().Add(time.Hour))
		w.pass()
	}
	if m := w.message(MessageID(3)); m.State != pb.DeliveryState_QUEUED || m.Attempts != 0 {
		t.Errorf("registry unavailable: %v, want QUEUED with no attempt used", m)
	}
}

// TestNothingGoesOutInQuietHours: a message queued in the day and still
// due at night (an outage held it up) waits for the morning.
func TestNothingGoesOutInQuietHours(t *testing.T) {
	t.Parallel()
	w := newSenderWorld(t, at(2026, 12, 7, 20, 55))
	w.enqueue(dueSoon("k1", "r1"))
	w.clock.Set(at(2026, 12, 7, 23, 30))
	n, next, err := w.sender.SendDue(context.Background())
	if err != nil || n != 0 || !next.Equal(at(2026, 12, 8, 8, 0)) {
		t.Errorf("SendDue at 23:30 = %d, %v, %v; want nothing sent, next at 08:00", n, next.In(shanghai), err)
	}
	if len(w.gateway.sent) != 0 {
		t.Errorf("gateway called in quiet hours: %v", w.gateway.sent)
	}
	w.clock.Set(at(2026, 12, 8, 8, 0))
	if n := w.pass(); n != 1 || w.message(MessageID(1)).State != pb.DeliveryState_SENT {
		t.Errorf("at 08:00: %d sent, message %v", n, w.message(MessageID(1)))
	}
}

// TestRunSendsWhatIsQueued: Run wakes on an enqueue and sends; it returns
// when its context ends.
func TestRunSendsWhatIsQueued(t *testing.T) {
	t.Parallel()
	w := newSenderWorld(t, at(2026, 12, 7, 10, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.sender.Run(ctx) }()
	w.enqueue(dueSoon("k1", "r1"))
	waitforState(t, w, MessageID(1), pb.DeliveryState_SENT)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitforState(t *testing.T, w *senderWorld, id string, want pb.DeliveryState) {
	t.Helper()
	waitfor.True(t, "message "+id+" "+want.String(), func() bool { return w.message(id).State == want })
}
