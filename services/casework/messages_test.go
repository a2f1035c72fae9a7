package casework

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// phones is a phone book of the tests: every retiree has a number.
type phones struct{}

func (phones) Phone(_ context.Context, retiree string, _ pb.Recipient) (string, error) {
	return "13900000001", nil
}

// fileLines reads the keys of a file gateway's lines.
func fileLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var l struct {
			IdempotencyKey string `json:"idempotencyKey"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, l.IdempotencyKey)
	}
	return keys
}

// Opt-out and quiet hours end to end: preferences set through the RPC, a
// certification signal for two retirees at 22:00 China time; the one who
// opted out gets a SUPPRESSED message, the other's waits until 08:00,
// addressed by their preferred name, and reaches the file gateway then,
// once; ListMessages shows each state.
func TestMessagesOptOutAndQuietHours(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	out, in := livingIn(communityA, "张三"), livingIn(communityA, "李四")
	h.retirees(out, in)
	ctx := h.as(clerkP)
	for _, p := range []*pb.MessagePreferences{{RetireeId: out.Id, OptedOut: true}, {RetireeId: in.Id, PreferredName: "李阿姨"}} {
		if _, err := h.client.SetMessagePreferences(ctx, &pb.SetMessagePreferencesRequest{Preferences: p}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := h.client.GetMessagePreferences(ctx, &pb.GetMessagePreferencesRequest{RetireeId: out.Id})
	if err != nil || !got.Preferences.OptedOut || got.Preferences.UpdatedBy != clerkP.Subject {
		t.Fatalf("preferences: %v, %v", got, err)
	}

	evening := time.Date(2026, 6, 15, 14, 0, 0, 0, time.UTC) // 22:00 in China
	h.clock.Set(evening)
	p := newProducer(t)
	f := h.follow(SourcePension, p.srv.Conn())
	due := evening.Add(20 * day)
	f.upTo(p.emit(
		at(workSignal("cert/out", feedv1.SignalKind_CERTIFICATION_DUE, out.Id, communityA), time.Time{}, due),
		at(workSignal("cert/in", feedv1.SignalKind_CERTIFICATION_DUE, in.Id, communityA), time.Time{}, due),
	))

	list := func(req *pb.ListMessagesRequest) []*pb.Message {
		t.Helper()
		resp, err := h.client.ListMessages(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Messages
	}
	if ms := list(&pb.ListMessagesRequest{RetireeId: out.Id}); len(ms) != 1 || ms[0].State != pb.DeliveryState_SUPPRESSED || ms[0].StateReason != sms.ReasonOptedOut {
		t.Fatalf("messages to the one who opted out: %v", ms)
	}
	morning := time.Date(2026, 6, 16, 0, 0, 0, 0, time.UTC) // 08:00 in China
	ms := list(&pb.ListMessagesRequest{RetireeId: in.Id})
	if len(ms) != 1 || ms[0].State != pb.DeliveryState_QUEUED || !ms[0].SendAfter.AsTime().Equal(morning) || !strings.Contains(ms[0].Text, "李阿姨") {
		t.Fatalf("messages to the other: %v", ms)
	}

	path := filepath.Join(t.TempDir(), "sms.jsonl")
	gw, err := sms.OpenFileGateway(path)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	sender, err := sms.NewSender(h.store.DB(), h.store.Outbox(), sms.SenderOptions{Phones: phones{}, Gateway: gw})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, err := sender.SendDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("sent in quiet hours: %d, %v", n, err)
	}
	h.clock.Set(morning)
	if n, _, err := sender.SendDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("sent at 08:00: %d, %v", n, err)
	}
	if keys := fileLines(t, path); len(keys) != 1 || keys[0] != ms[0].IdempotencyKey {
		t.Errorf("gateway file: %v, want only %s", keys, ms[0].IdempotencyKey)
	}
	all := list(&pb.ListMessagesRequest{CommunityId: communityA})
	states := map[string]pb.DeliveryState{}
	for _, m := range all {
		states[m.RetireeId] = m.State
	}
	if len(all) != 2 || states[out.Id] != pb.DeliveryState_SUPPRESSED || states[in.Id] != pb.DeliveryState_SENT {
		t.Errorf("community's messages after sending: %v", all)
	}
}

// Bad requests are refused naming the field, and change nothing.
func TestMessagesValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(adminP)
	for _, req := range map[string]*pb.SetMessagePreferencesRequest{
		"no preferences": {},
		"bad retiree":    {Preferences: &pb.MessagePreferences{RetireeId: "x y"}},
		"bad recipient":  {Preferences: &pb.MessagePreferences{RetireeId: unknownID, Recipients: []pb.Recipient{9}}},
		"long name":      {Preferences: &pb.MessagePreferences{RetireeId: unknownID, PreferredName: strings.Repeat("名", 40)}},
	} {
		_, err := h.client.SetMessagePreferences(ctx, req)
		servicetest.WantCode(t, err, codes.InvalidArgument)
	}
	for _, req := range []*pb.ListMessagesRequest{{}, {RetireeId: unknownID, CommunityId: communityA}, {CommunityId: "12"}} {
		_, err := h.client.ListMessages(ctx, req)
		servicetest.WantCode(t, err, codes.InvalidArgument)
	}
}

// Resolving a complaint about a retiree tells them once, by the
// hook OpenStore registers, with the ticket's number and the resolution
// on one short line.
func TestComplaintResolvedMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := livingIn(communityA, "张桂兰")
	e.retirees(r)
	tk := e.newTicket(retireeTicket(r.Id, "PAYMENT"))
	resolution := "已补发\n六月养老金" + strings.Repeat("，并说明原因", 20)
	if _, err := e.store.ResolveTicket(tk.Id, tk.Etag, resolution, true, clerkActor, anyTicket); err != nil {
		t.Fatal(err)
	}
	ms := e.messagesTo(r.Id)
	if len(ms) != 1 || ms[0].Event != pb.MessageEvent_COMPLAINT_RESOLVED || ms[0].State != pb.DeliveryState_QUEUED ||
		!strings.Contains(ms[0].Text, tk.Id) || !strings.Contains(ms[0].Text, "已补发 六月养老金") ||
		ms[0].IdempotencyKey != "complaint/"+tk.Id+"/resolved/RETIREE" {
		t.Fatalf("messages: %v", ms)
	}
}

// ListMessages pages a community's messages newest first under its page
// token, which another list refuses.
func TestListMessagesPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rs := []*registryv1.RetireeState{livingIn(communityA, "甲"), livingIn(communityA, "乙"), livingIn(communityA, "丙")}
	h.retirees(rs...)
	err := h.store.Update(func(tx *bolt.Tx) error {
		for _, r := range rs {
			if _, err := h.store.EnqueueMessage(tx, MessageSpec{Key: "complaint/" + r.Id, RetireeID: r.Id,
				Event: pb.MessageEvent_COMPLAINT_RESOLVED}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := h.as(clerkP)
	var names []string
	token := ""
	for range 3 {
		resp, err := h.client.ListMessages(ctx, &pb.ListMessagesRequest{CommunityId: communityA, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range resp.Messages {
			names = append(names, m.RetireeId)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
		_, err = h.client.ListMessages(ctx, &pb.ListMessagesRequest{RetireeId: rs[0].Id, PageToken: token})
		servicetest.WantCode(t, err, codes.InvalidArgument)
	}
	if want := []string{rs[2].Id, rs[1].Id, rs[0].Id}; !slices.Equal(names, want) {
		t.Errorf("pages: %v, want newest first %v", names, want)
	}
}
