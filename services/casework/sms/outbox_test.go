package sms

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

const communityA = "210102001001"

// dueSoon is a certification reminder to retiree r with key.
func dueSoon(key, r string) Message {
	return Message{
		IdempotencyKey: key, RetireeID: r, CommunityID: communityA,
		Event: pb.MessageEvent_CERTIFICATION_DUE_SOON, Addressee: wang,
		Particulars: Particulars{CommunityName: "幸福里社区", DueDate: at(2026, 12, 31, 0, 0)},
	}
}

func enqueue(t *testing.T, db *bolt.DB, o *Outbox, m Message) (bool, error) {
	t.Helper()
	var queued bool
	err := db.Update(func(tx *bolt.Tx) error {
		var err error
		queued, err = o.Enqueue(tx, m)
		return err
	})
	return queued, err
}

func list(t *testing.T, db *bolt.DB, o *Outbox, by int, owner string) []*pb.Message {
	t.Helper()
	var out []*pb.Message
	after := ""
	for {
		var page []*pb.Message
		err := db.View(func(tx *bolt.Tx) error {
			var err error
			page, after, err = o.List(tx, by, owner, after, 2)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if after == "" {
			return out
		}
	}
}

// TestEnqueue: a message per recipient, queued to go at once by day and
// at 08:00 at night; the same key queues nothing again; an opted-out
// retiree's and a recipient without a phone are kept SUPPRESSED with the
// reason.
func TestEnqueue(t *testing.T) {
	t.Parallel()
	clock := testclock.New(at(2026, 12, 7, 22, 30))
	db := openDB(t, "")
	o := newOutbox(t, clock)
	text, err := newRenderer(t).Render(pb.MessageEvent_CERTIFICATION_DUE_SOON, Addressee{Name: "王秀英", Preferred: "王阿姨"}, dueSoon("", "").Particulars)
	if err != nil {
		t.Fatal(err)
	}

	both := dueSoon("cert/r1/2026-12", "r1")
	both.Preferences = &pb.MessagePreferences{PreferredName: "王阿姨", Recipients: []pb.Recipient{pb.Recipient_PRIMARY_CONTACT, pb.Recipient_RETIREE}}
	both.NoPhone = []pb.Recipient{pb.Recipient_PRIMARY_CONTACT}
	if queued, err := enqueue(t, db, o, both); err != nil || !queued {
		t.Fatalf("enqueue: %v %v", queued, err)
	}
	if queued, err := enqueue(t, db, o, both); err != nil || queued {
		t.Fatalf("enqueue again: %v %v", queued, err)
	}
	clock.Set(at(2026, 12, 8, 9, 0))
	out := dueSoon("cert/r2/2026-12", "r2")
	out.Preferences = &pb.MessagePreferences{OptedOut: true}
	if queued, err := enqueue(t, db, o, out); err != nil || queued {
		t.Fatalf("enqueue opted out: %v %v", queued, err)
	}

	night, morning := timestamppb.New(at(2026, 12, 7, 22, 30)), timestamppb.New(at(2026, 12, 8, 8, 0))
	nine := timestamppb.New(at(2026, 12, 8, 9, 0))
	want := []*pb.Message{
		{Id: MessageID(1), RetireeId: "r1", CommunityId: communityA, Event: pb.MessageEvent_CERTIFICATION_DUE_SOON,
			Recipient: pb.Recipient_PRIMARY_CONTACT, Text: text, State: pb.DeliveryState_SUPPRESSED, StateReason: ReasonNoPhone,
			IdempotencyKey: "cert/r1/2026-12/PRIMARY_CONTACT", CreateTime: night, SendAfter: morning},
		{Id: MessageID(2), RetireeId: "r1", CommunityId: communityA, Event: pb.MessageEvent_CERTIFICATION_DUE_SOON,
			Recipient: pb.Recipient_RETIREE, Text: text, State: pb.DeliveryState_QUEUED,
			IdempotencyKey: "cert/r1/2026-12/RETIREE", CreateTime: night, SendAfter: morning},
	}
	if diff := cmp.Diff(want, list(t, db, o, ByRetiree, "r1"), protocmp.Transform()); diff != "" {
		t.Errorf("r1's messages (-want +got):\n%s", diff)
	}
	r2 := list(t, db, o, ByRetiree, "r2")
	if len(r2) != 1 || r2[0].State != pb.DeliveryState_SUPPRESSED || r2[0].StateReason != ReasonOptedOut ||
		!r2[0].SendAfter.AsTime().Equal(nine.AsTime()) || r2[0].Text == "" {
		t.Errorf("r2's messages: %v", r2)
	}
	if got := list(t, db, o, ByCommunity, communityA); len(got) != 3 {
		t.Errorf("the community lists %d messages, want 3", len(got))
	}
	// Only the queued one is due, from 08:00.
	var due []*pb.Message
	_ = db.View(func(tx *bolt.Tx) error {
		due, _, err = o.due(tx, at(2026, 12, 8, 8, 0), 10)
		return err
	})
	if len(due) != 1 || due[0].Id != MessageID(2) {
		t.Errorf("due: %v", due)
	}

}

// TestEnqueueRefusesMalformed: every bad field is named, nothing written.
func TestEnqueueRefusesMalformed(t *testing.T) {
	t.Parallel()
	db := openDB(t, "")
	o := newOutbox(t, testclock.New(at(2026, 12, 7, 10, 0)))
	bad := dueSoon("", "r3")
	bad.CommunityID = "nope"
	_, err := enqueue(t, db, o, bad)
	var ve *fault.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Field != "idempotencyKey" || ve.Fields[1].Field != "communityId" {
		t.Errorf("malformed message: %v", err)
	}
	undated := dueSoon("k3", "r3")
	undated.Particulars.DueDate = time.Time{}
	if _, err := enqueue(t, db, o, undated); !errors.As(err, &ve) || ve.Fields[0].Field != "particulars.dueDate" {
		t.Errorf("a message without its particulars: %v", err)
	}
	if got := list(t, db, o, ByRetiree, "r3"); len(got) != 0 {
		t.Errorf("a refused message was written: %v", got)
	}
}

// TestEnqueueWakesSender: a committed enqueue closes the Queued channel; a
// rolled-back one does not.
func TestEnqueueWakesSender(t *testing.T) {
	t.Parallel()
	db := openDB(t, "")
	o := newOutbox(t, testclock.New(at(2026, 12, 7, 10, 0)))
	wake := o.Queued()
	errRollback := errors.New("rollback")
	err := db.Update(func(tx *bolt.Tx) error {
		if _, err := o.Enqueue(tx, dueSoon("k1", "r1")); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	select {
	case <-wake:
		t.Fatal("woken by a rolled-back enqueue")
	default:
	}
	if _, err := enqueue(t, db, o, dueSoon("k1", "r1")); err != nil {
		t.Fatal(err)
	}
	waitfor.Receive(t, "the wake-up of a committed enqueue", wake)
}

// The store of a service seals the outbox's messages as the rest.
var _ Codec = (*servicedb.Base)(nil)

// TestListNewest pages a retiree's messages newest first, the reverse of
// List, past a retiree whose id extends theirs and one whose id precedes.
func TestListNewest(t *testing.T) {
	t.Parallel()
	clock := testclock.New(at(2026, 12, 7, 10, 0))
	db := openDB(t, "")
	o := newOutbox(t, clock)
	for i := range 5 {
		for _, r := range []string{"r1", "r10", "r0"} {
			if _, err := enqueue(t, db, o, dueSoon(fmt.Sprintf("cert/%s/%d", r, i), r)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, owner := range []string{"r1", "r10", "r0", "r2"} {
		oldest := list(t, db, o, ByRetiree, owner)
		var newest []*pb.Message
		before := ""
		for {
			var page []*pb.Message
			err := db.View(func(tx *bolt.Tx) error {
				var err error
				page, before, err = o.ListNewest(tx, ByRetiree, owner, before, 2)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			newest = append(newest, page...)
			if before == "" {
				break
			}
		}
		slices.Reverse(newest)
		if diff := cmp.Diff(oldest, newest, protocmp.Transform()); diff != "" {
			t.Errorf("%s newest first, reversed, differs from oldest first (-want +got):\n%s", owner, diff)
		}
		want := 5
		if owner == "r2" {
			want = 0
		}
		if len(newest) != want {
			t.Errorf("%s: %d messages, want %d", owner, len(newest), want)
		}
	}
}
