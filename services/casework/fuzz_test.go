package casework

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// FuzzCheckCreate feeds arbitrary items to the validation of
// CreateWorkItem: it must never panic, and what it accepts is a hand-made
// kind in a well-formed community, with a bounded summary due after now
// and within the bound.
func FuzzCheckCreate(f *testing.F) {
	f.Add(int32(12), communityA, "送春联", "", int64(3600), int32(2), "k")
	f.Add(int32(9), "2101", "", "aaaaaaaaaaaaaaaa", int64(-5), int32(9), strings.Repeat("k", 200))
	f.Add(int32(7), communityB, "\x00", "x", int64(1<<40), int32(-1), "")
	f.Fuzz(func(t *testing.T, kind int32, community, summary, retiree string, dueIn int64, priority int32, key string) {
		req := &pb.CreateWorkItemRequest{RequestKey: key, Item: &pb.WorkItem{
			Kind: pb.WorkKind(kind), CommunityId: community, Summary: summary, RetireeId: retiree,
			DueTime: timestamppb.New(testNow.Add(time.Duration(dueIn) * time.Second)), Priority: pb.Priority(priority),
		}}
		spec, err := checkCreate(req, testNow)
		if err != nil {
			return
		}
		if spec.Kind != pb.WorkKind_OTHER && spec.Kind != pb.WorkKind_HARDSHIP {
			t.Fatalf("accepted kind %v", spec.Kind)
		}
		if !spec.Due.After(testNow) || spec.Due.Sub(testNow) > maxDueAhead || !utf8.ValidString(spec.Summary) || len(spec.Summary) == 0 || len(key) > maxKeyLen {
			t.Fatalf("accepted %+v", spec)
		}
		if _, ok := pb.Priority_name[int32(spec.Priority)]; !ok {
			t.Fatalf("accepted priority %d", spec.Priority)
		}
	})
}

// FuzzQueryOf feeds arbitrary list requests to the query of each kind of
// caller: it must never panic, and what it accepts stays in the caller's
// scope.
func FuzzQueryOf(f *testing.F) {
	f.Add(communityA, "me", int32(1), int32(2), int32(3))
	f.Add("", "", int32(0), int32(0), int32(0))
	f.Add("2101020010", "someone", int32(9), int32(-1), int32(40))
	callers := []authn.Principal{adminP, bureauP, clerkP, servicetest.Street("s", servicetest.StreetAB), servicetest.District("d", servicetest.DistrictC)}
	f.Fuzz(func(t *testing.T, community, assignee string, state, clock, kind int32) {
		req := &pb.ListWorkItemsRequest{CommunityId: community, Assignee: assignee, State: pb.WorkState(state), Clock: pb.Clock(clock), Kind: pb.WorkKind(kind)}
		for _, p := range callers {
			q, err := queryOf(&p, req)
			if err != nil {
				continue
			}
			if p.Is(authn.RoleAdmin, authn.RoleBureau) {
				continue
			}
			if q.Area && q.Community != p.Area() || !q.Area && !p.InArea(q.Community) {
				t.Fatalf("%s may list %+v", p.Role, q)
			}
		}
	})
}

// FuzzCheckTicket feeds arbitrary tickets to CreateTicket's validation:
// it must never panic, and what it accepts has a channel, a hotline's
// well-formed referral number (and only a hotline's), a description of
// 1–2000 characters without an ID or mobile number, and a subject.
func FuzzCheckTicket(f *testing.F) {
	f.Add(int32(3), "PAYMENT", int32(1), "aaaaaaaaaaaaaaaa", "老人反映养老金未到账", "A-2026-0001", "2026-05", "")
	f.Add(int32(2), "OTHER", int32(2), "h-1", "电话13812345678", "", "", communityA)
	f.Add(int32(4), "x", int32(0), "", "身份证110101194503011234", "编号", "2027-01", "21")
	f.Fuzz(func(t *testing.T, channel int32, category string, kind int32, subject, description, referral, month, community string) {
		req := &pb.CreateTicketRequest{Ticket: &pb.Ticket{
			Channel: pb.TicketChannel(channel), Category: category, Subject: &pb.Subject{Kind: feedv1.SubjectKind(kind), Id: subject},
			Description: description, ReferralNumber: referral, PaymentMonth: month, CommunityId: community,
		}}
		if checkTicket(req, testNow) != nil {
			return
		}
		tk := req.Ticket
		hotline := tk.Channel == pb.TicketChannel_HOTLINE_12345 || tk.Channel == pb.TicketChannel_HOTLINE_12333
		if _, ok := pb.TicketChannel_name[int32(tk.Channel)]; !ok || tk.Channel == 0 {
			t.Fatalf("accepted channel %d", tk.Channel)
		}
		if hotline != (tk.ReferralNumber != "") || (hotline && !referralRE.MatchString(tk.ReferralNumber)) {
			t.Fatalf("accepted referral %q on %v", tk.ReferralNumber, tk.Channel)
		}
		n := utf8.RuneCountInString(tk.Description)
		if n == 0 || n > maxDescription || !utf8.ValidString(tk.Description) || inputcheck.PersonalNumber(tk.Description) != "" ||
			servicetest.LooksLikeIDNumber(tk.Description) {
			t.Fatalf("accepted description %q", tk.Description)
		}
		if k := tk.Subject.GetKind(); k != feedv1.SubjectKind_RETIREE && k != feedv1.SubjectKind_HANDOVER {
			t.Fatalf("accepted subject %v", tk.Subject)
		}
	})
}

// FuzzApplySignal applies arbitrary feed entries twice in the follower's
// transaction: it must never fail or panic; a well-formed open signal of
// a work kind whose start has come has its one item (open, or closed
// already when the key was resolved before: one item ever per key), and
// a resolved one leaves its item (if any) closed.
func FuzzApplySignal(f *testing.F) {
	f.Add("cert/1", int32(1), "r1", communityA, int64(0), int64(3600), false, "", "")
	f.Add("notice/1", int32(8), "r2", communityB, int64(-60), int64(0), true, "太极拳", "2026-06-20T09:30:00+08:00")
	f.Add("a\x00b", int32(3), "", "", int64(7200), int64(-1), false, "", "")
	f.Add("step", int32(99), "x y", "2101", int64(1<<40), int64(-1<<40), true, strings.Repeat("题", 300), "soon")
	e := newEnv(f)
	// The store's log is the fuzz test's, which its targets must not use.
	e.store.log = zap.NewNop()
	f.Fuzz(func(t *testing.T, key string, kind int32, retiree, community string, startIn, dueIn int64, resolved bool, title, start string) {
		sig := &feedv1.WorkSignal{
			Key: key, Kind: feedv1.SignalKind(kind), SubjectKind: feedv1.SubjectKind_RETIREE, SubjectId: "s1",
			RetireeId: retiree, CommunityId: community, Resolved: resolved, Summary: "待办",
			Details: map[string]string{DetailTitle: title, DetailStart: start},
		}
		if startIn != 0 {
			sig.StartTime = timestamppb.New(testNow.Add(time.Duration(startIn) * time.Second))
		}
		if dueIn != 0 {
			sig.DueTime = timestamppb.New(testNow.Add(time.Duration(dueIn) * time.Second))
		}
		for range 2 {
			err := e.store.Update(func(tx *bolt.Tx) error {
				return e.store.applySignal(tx, SourcePension, &feedv1.SignalEvent{Revision: 1, Entry: feedv1.EntryKind_CHANGE, Signal: sig}, 1)
			})
			if err != nil {
				t.Fatalf("apply %v: %v", sig, err)
			}
		}
		if signalfeed.Validate(sig) != nil {
			return
		}
		_, work := signalRules[sig.Kind]
		var it *pb.WorkItem
		_ = e.store.DB().View(func(tx *bolt.Tx) error {
			if id := tx.Bucket(bucketSources).Get(boltstore.Key(SourcePension, key)); id != nil {
				it, _ = getItem(tx, string(id))
			}
			return nil
		})
		due := sig.StartTime == nil || !sig.StartTime.AsTime().After(testNow)
		switch {
		case work && !resolved && due:
			if it == nil {
				t.Fatalf("open signal %v: item %v", sig, it)
			}
		case work && resolved:
			if it != nil && isOpen(it.State) {
				t.Fatalf("resolved signal %v: item %v open", sig, it)
			}
		}
	})
}
