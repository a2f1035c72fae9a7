package activity

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestCalendarSubscription follows a subscription through its life: a
// clerk subscribes, the feed answers its token with no bearer token and
// the same calendar as the clerk's own route, the subscription is listed
// for its owner (and for admin) without the token, and once revoked the
// feed is NOT_FOUND.
func TestCalendarSubscription(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.mustActivity(weekly(h.mustVenue(communityA, 50), sh(2026, 7, 6, 9, 0), time.Hour, 1, 4))
	clerk, bureau, admin := h.as(clerkP), h.as(bureauP), h.as(adminP)
	anonymous := context.Background()

	resp, err := h.client.SubscribeCalendar(clerk, &pb.SubscribeCalendarRequest{CommunityId: communityA, Label: "办公室电脑"})
	if err != nil {
		t.Fatal(err)
	}
	token, sub := resp.FeedToken, resp.Subscription
	if len(token) < 22 || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		t.Errorf("feed token %q is not at least 128 bits of base64url", token)
	}
	if want := "/v1/calendars/" + token + "/calendar.ics"; resp.FeedPath != want {
		t.Errorf("feed path = %q, want %q", resp.FeedPath, want)
	}
	wantSub := &pb.CalendarSubscription{
		Id: sub.Id, CommunityId: communityA, Owner: clerkP.Subject, OwnerRole: "clerk", Label: "办公室电脑",
		CreateTime: sub.CreateTime,
	}
	if diff := cmp.Diff(wantSub, sub, protocmp.Transform()); diff != "" || !sub.CreateTime.AsTime().Equal(testNow) {
		t.Errorf("subscription (-want +got):\n%s; created %v", diff, sub.CreateTime.AsTime())
	}

	feed, err := h.client.GetCalendarFeed(anonymous, &pb.GetCalendarFeedRequest{FeedToken: token})
	if err != nil {
		t.Fatalf("feed without a bearer token: %v", err)
	}
	own, err := h.client.GetCommunityCalendar(clerk, &pb.GetCommunityCalendarRequest{CommunityId: communityA})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(feed.Ics, own.Ics) || feed.Etag != own.Etag || feed.Etag == "" {
		t.Errorf("the feed (etag %q) is not the community's calendar (etag %q)", feed.Etag, own.Etag)
	}

	other, err := h.client.SubscribeCalendar(bureau, &pb.SubscribeCalendarRequest{CommunityId: communityA})
	if err != nil {
		t.Fatal(err)
	}
	list := func(ctx context.Context) []*pb.CalendarSubscription {
		t.Helper()
		return servicetest.AllPages(t, 10, func(page string) ([]*pb.CalendarSubscription, string, error) {
			r, err := h.client.ListCalendarSubscriptions(ctx, &pb.ListCalendarSubscriptionsRequest{CommunityId: communityA, PageSize: 1, PageToken: page})
			return r.GetSubscriptions(), r.GetNextPageToken(), err
		})
	}
	if diff := cmp.Diff([]*pb.CalendarSubscription{sub}, list(clerk), protocmp.Transform()); diff != "" {
		t.Errorf("the clerk's subscriptions (-want +got):\n%s", diff)
	}
	if got := list(admin); len(got) != 2 {
		t.Errorf("admin lists %d subscriptions, want the clerk's and the bureau's", len(got))
	}

	// Another owner may not revoke it; its owner may, once.
	_, err = h.client.RevokeCalendarSubscription(bureau, &pb.RevokeCalendarSubscriptionRequest{CommunityId: communityA, Id: sub.Id})
	wantCode(t, err, codes.PermissionDenied)
	revoked, err := h.client.RevokeCalendarSubscription(clerk, &pb.RevokeCalendarSubscriptionRequest{CommunityId: communityA, Id: sub.Id})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sub, revoked.Subscription, protocmp.Transform()); diff != "" {
		t.Errorf("revoked (-want +got):\n%s", diff)
	}
	_, err = h.client.GetCalendarFeed(anonymous, &pb.GetCalendarFeedRequest{FeedToken: token})
	servicetest.WantCode(t, err, codes.NotFound, token)
	if got := list(clerk); len(got) != 0 {
		t.Errorf("the clerk still lists %v", got)
	}
	_, err = h.client.RevokeCalendarSubscription(admin, &pb.RevokeCalendarSubscriptionRequest{CommunityId: communityA, Id: sub.Id})
	wantCode(t, err, codes.NotFound)

	// The bureau's feed still answers; admin revokes it.
	if _, err := h.client.GetCalendarFeed(anonymous, &pb.GetCalendarFeedRequest{FeedToken: other.FeedToken}); err != nil {
		t.Fatalf("the other feed: %v", err)
	}
	if _, err := h.client.RevokeCalendarSubscription(admin, &pb.RevokeCalendarSubscriptionRequest{CommunityId: communityA, Id: other.Subscription.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.GetCalendarFeed(anonymous, &pb.GetCalendarFeedRequest{FeedToken: other.FeedToken})
	wantCode(t, err, codes.NotFound)
}

// TestFeedTokenIsNotStored looks for a feed token in every key and value
// of the file: only its hash may be there.
func TestFeedTokenIsNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, token := e.mustSubscribe(communityA, subscriber{"clerk-a", "clerk"})
	err := e.store.DB().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			return walkBucket(b, func(k, v []byte) {
				if bytes.Contains(k, []byte(token)) || bytes.Contains(v, []byte(token)) {
					t.Errorf("bucket %s holds the feed token", name)
				}
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if community, err := e.store.feedCommunity(token); err != nil || community != communityA {
		t.Errorf("feedCommunity = %q, %v", community, err)
	}
}

// walkBucket calls fn with every key and value of b and its nested
// buckets.
func walkBucket(b *bolt.Bucket, fn func(k, v []byte)) error {
	return b.ForEach(func(k, v []byte) error {
		fn(k, v)
		if v == nil {
			if nested := b.Bucket(k); nested != nil {
				return walkBucket(nested, fn)
			}
		}
		return nil
	})
}

// TestCalendarSubscriptionRefusals sends what a subscription request must
// not carry: each is refused, naming the field, and nothing is stored.
func TestCalendarSubscriptionRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	clerk := h.as(clerkP)
	for _, tc := range []struct {
		name  string
		req   *pb.SubscribeCalendarRequest
		field string
	}{
		{"no community", &pb.SubscribeCalendarRequest{}, "communityId"},
		{"malformed community", &pb.SubscribeCalendarRequest{CommunityId: "21010200100x"}, "communityId"},
		{"label too long", &pb.SubscribeCalendarRequest{CommunityId: communityA, Label: strings.Repeat("长", maxLabelLen+1)}, "label"},
		{"label with a control character", &pb.SubscribeCalendarRequest{CommunityId: communityA, Label: "手机\x07"}, "label"},
		{"label with a bidirectional override", &pb.SubscribeCalendarRequest{CommunityId: communityA, Label: "\u202e机手"}, "label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.SubscribeCalendar(clerk, tc.req)
			st := wantCode(t, err, codes.InvalidArgument)
			if _, ok := violations(st)[tc.field]; !ok {
				t.Errorf("violations %v do not name %s", violations(st), tc.field)
			}
		})
	}
	if got, _, err := h.store.ListSubscriptions(communityA, nil, 10, nil); err != nil || len(got) != 0 {
		t.Errorf("stored after refusals: %v, %v", got, err)
	}

	t.Run("feed tokens that are not one", func(t *testing.T) {
		_, real := h.mustSubscribe(communityA, subscriber{"clerk-a", "clerk"})
		for _, token := range []string{
			"", "x", real[:len(real)-1], real + "A", strings.ToUpper(real[:1]) + real[1:] + "=",
			strings.Repeat("A", len(real)-1) + "B", // not the one spelling of its bits
			strings.Repeat("/", len(real)), strings.Repeat("中", len(real)/3),
		} {
			_, err := h.client.GetCalendarFeed(context.Background(), &pb.GetCalendarFeedRequest{FeedToken: token})
			st := wantCode(t, err, codes.NotFound)
			if token != "" && strings.Contains(st.Message(), token) {
				t.Errorf("the refusal repeats the token: %q", st.Message())
			}
		}
	})

	t.Run("too many", func(t *testing.T) {
		ctx := h.as(servicetest.Clerk("clerk-many", communityA))
		for i := range maxSubscriptionsPerOwner {
			if _, err := h.client.SubscribeCalendar(ctx, &pb.SubscribeCalendarRequest{CommunityId: communityA, Label: fmt.Sprint(i)}); err != nil {
				t.Fatalf("subscription %d: %v", i+1, err)
			}
		}
		_, err := h.client.SubscribeCalendar(ctx, &pb.SubscribeCalendarRequest{CommunityId: communityA})
		st := wantCode(t, err, codes.ResourceExhausted)
		if info := errorInfo(st); info.GetReason() != ReasonTooManySubscriptions {
			t.Errorf("ErrorInfo %v, want %s", info, ReasonTooManySubscriptions)
		}
		// The limit is per owner: another clerk of the community is not
		// held to this one's.
		if _, err := h.client.SubscribeCalendar(h.as(servicetest.Clerk("clerk-few", communityA)), &pb.SubscribeCalendarRequest{CommunityId: communityA}); err != nil {
			t.Errorf("another owner: %v", err)
		}
	})
}

// TestCalendarOfAMissingCommunity: a community registry does not know is
// NOT_FOUND to admin and bureau, PermissionDenied to a clerk of another
// as usual, and a community with a venue is known without asking
// registry, which may be down.
func TestCalendarOfAMissingCommunity(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, p := range []authn.Principal{adminP, bureauP} {
		_, err := h.client.GetCommunityCalendar(h.as(p), &pb.GetCommunityCalendarRequest{CommunityId: unknownCommunity})
		wantCode(t, err, codes.NotFound)
		_, err = h.client.SubscribeCalendar(h.as(p), &pb.SubscribeCalendarRequest{CommunityId: unknownCommunity})
		wantCode(t, err, codes.NotFound)
	}
	_, err := h.client.GetCommunityCalendar(h.as(clerkP), &pb.GetCommunityCalendarRequest{CommunityId: unknownCommunity})
	wantCode(t, err, codes.PermissionDenied)
	// Registry knows communityC, where nothing is scheduled: its calendar
	// is empty, not missing.
	if _, err := h.client.GetCommunityCalendar(h.as(bureauP), &pb.GetCommunityCalendarRequest{CommunityId: servicetest.CommunityC}); err != nil {
		t.Errorf("a community without activities: %v", err)
	}

	t.Run("registry down", func(t *testing.T) {
		conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		srv := NewServer(h.store, ServerOptions{Registry: registryv1.NewRegistryServiceClient(conn)})
		h.mustVenue(communityB, 10)
		ctx := authn.NewContext(context.Background(), &bureauP)
		if _, err := srv.GetCommunityCalendar(ctx, &pb.GetCommunityCalendarRequest{CommunityId: communityB}); err != nil {
			t.Errorf("a community with a venue: %v", err)
		}
		_, err = srv.GetCommunityCalendar(ctx, &pb.GetCommunityCalendarRequest{CommunityId: servicetest.CommunityC})
		wantCode(t, err, codes.Unavailable)
	})
}

// TestCalendarEtag: the etag stays while only the clock moves (DTSTAMP
// changes with it), and changes when an activity of the community is
// created or cancelled, but not for another community's.
func TestCalendarEtag(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(adminP)
	get := func() *pb.GetCommunityCalendarResponse {
		t.Helper()
		resp, err := h.client.GetCommunityCalendar(ctx, &pb.GetCommunityCalendarRequest{CommunityId: communityA})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	venue := h.mustVenue(communityA, 50)
	a := h.mustActivity(weekly(venue, sh(2026, 7, 6, 9, 0), time.Hour, 1, 4))
	first := get()
	h.clock.Set(testNow.Add(time.Minute))
	if later := get(); later.Etag != first.Etag || bytes.Equal(later.Ics, first.Ics) {
		t.Errorf("a minute on: etag %q (was %q), calendar changed %v; want the same etag over a new DTSTAMP",
			later.Etag, first.Etag, !bytes.Equal(later.Ics, first.Ics))
	}
	h.mustActivity(oneOff(h.mustVenue(communityB, 50), sh(2026, 7, 6, 9, 0), time.Hour))
	if got := get().Etag; got != first.Etag {
		t.Errorf("another community's activity changed the etag")
	}
	h.mustActivity(oneOff(venue, sh(2026, 7, 8, 9, 0), time.Hour))
	created := get().Etag
	if created == first.Etag {
		t.Error("a new activity did not change the etag")
	}
	if _, err := h.client.CancelActivity(h.as(clerkP), &pb.CancelActivityRequest{Id: a.Id, Reason: "下雨"}); err != nil {
		t.Fatal(err)
	}
	if got := get().Etag; got == created {
		t.Error("cancelling an activity did not change the etag")
	}
}
