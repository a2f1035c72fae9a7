package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// feedToken is the shape of a real one: 43 characters of base64url.
const feedToken = "q0T3uFf1oXbV5m0Yw8k2Jd7rLzA9sNcHeP4iGtU6xyE"

// fakeActivity keeps subscriptions in memory and serves their feeds,
// recording the metadata of each feed call.
type fakeActivity struct {
	activityv1.UnimplementedActivityServiceServer

	mu      sync.Mutex
	feeds   map[string]string // token -> subscription id
	feedMDs []metadata.MD
	etag    string
}

func (f *fakeActivity) SubscribeCalendar(_ context.Context, req *activityv1.SubscribeCalendarRequest) (*activityv1.SubscribeCalendarResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := "s" + strings.Repeat("a", 15)
	f.feeds[feedToken] = id
	return &activityv1.SubscribeCalendarResponse{
		Subscription: &activityv1.CalendarSubscription{Id: id, CommunityId: req.CommunityId},
		FeedToken:    feedToken, FeedPath: "/v1/calendars/" + feedToken + "/calendar.ics",
	}, nil
}

func (f *fakeActivity) RevokeCalendarSubscription(_ context.Context, req *activityv1.RevokeCalendarSubscriptionRequest) (*activityv1.RevokeCalendarSubscriptionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for token, id := range f.feeds {
		if id == req.Id {
			delete(f.feeds, token)
			return &activityv1.RevokeCalendarSubscriptionResponse{Subscription: &activityv1.CalendarSubscription{Id: id}}, nil
		}
	}
	return nil, status.Error(codes.NotFound, "calendar subscription not found")
}

func (f *fakeActivity) GetCalendarFeed(ctx context.Context, req *activityv1.GetCalendarFeedRequest) (*activityv1.GetCalendarFeedResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.feedMDs = append(f.feedMDs, md)
	if _, ok := f.feeds[req.FeedToken]; !ok {
		return nil, status.Error(codes.NotFound, "calendar feed not found")
	}
	return &activityv1.GetCalendarFeedResponse{Ics: testCalendar(), Etag: f.etag}, nil
}

func (f *fakeActivity) GetCommunityCalendar(ctx context.Context, _ *activityv1.GetCommunityCalendarRequest) (*activityv1.GetCommunityCalendarResponse, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("authorization")) == 0 {
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &activityv1.GetCommunityCalendarResponse{Ics: testCalendar(), Etag: f.etag}, nil
}

// setEtag changes the calendar's etag, as a change of an activity does.
func (f *fakeActivity) setEtag(etag string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.etag = etag
}

// feedMetadata returns the metadata of the last feed call.
func (f *fakeActivity) feedMetadata(t *testing.T) metadata.MD {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.feedMDs) == 0 {
		t.Fatal("no feed call reached the upstream")
	}
	return f.feedMDs[len(f.feedMDs)-1]
}

// testCalendar is a calendar of more than a kilobyte, which the gateway
// compresses for clients that accept gzip.
func testCalendar() []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nX-WR-CALNAME:" + strings.Repeat("社区活动", 100) + "\r\nEND:VCALENDAR\r\n")
}

// startCalendarGateway serves a fakeActivity behind a gateway whose log
// goes to the returned observer.
func startCalendarGateway(t *testing.T) (*fakeActivity, string, *observer.ObservedLogs) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeActivity{feeds: map[string]string{}, etag: "c1"}
	srv := grpc.NewServer()
	activityv1.RegisterActivityServiceServer(srv, fake)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	cfg := testConfig("")
	cfg.ActivityAddr = lis.Addr().String()
	core, logs := observer.New(zap.DebugLevel)
	_, url := startGateway(t, cfg, zap.New(core))
	return fake, url, logs
}

// TestCalendarFeed subscribes through the gateway, reads the feed with
// no bearer token as a calendar app does, polls it with If-None-Match,
// and revokes it.
func TestCalendarFeed(t *testing.T) {
	t.Parallel()
	fake, url, logs := startCalendarGateway(t)
	bearer := map[string]string{"Authorization": "Bearer clerk.token.value"}

	resp := sendWant(t, newRequest(t, http.MethodPost, url+"/v1/communities/210102001001/calendar:subscribe", `{"label":"手机"}`, bearer), http.StatusOK)
	var sub struct {
		Subscription struct{ ID, CommunityID string }
		FeedToken    string
		FeedPath     string
	}
	if err := json.Unmarshal(resp.body, &sub); err != nil {
		t.Fatal(err)
	}
	if sub.FeedToken != feedToken || sub.Subscription.CommunityID != "210102001001" {
		t.Fatalf("subscribe answered %s", resp.body)
	}
	feed := url + sub.FeedPath

	// A calendar app sends no bearer token; one that does is not heard.
	resp = sendWant(t, newRequest(t, http.MethodGet, feed, "", map[string]string{"Authorization": "Bearer other.token"}), http.StatusOK)
	if md := fake.feedMetadata(t); len(md.Get("authorization")) != 0 {
		t.Errorf("the feed's upstream call carried authorization %q", md.Get("authorization"))
	}
	resp = sendWant(t, newRequest(t, http.MethodGet, feed, "", nil), http.StatusOK)
	if ct := resp.header.Get("Content-Type"); ct != "text/calendar; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !bytes.Equal(resp.body, testCalendar()) {
		t.Errorf("body = %q", resp.body)
	}
	etag := resp.header.Get("ETag")
	if etag != `W/"c1"` {
		t.Errorf("ETag = %q, want the upstream's etag as a weak tag", etag)
	}

	for _, tc := range []struct {
		name, ifNoneMatch string
		want              int
	}{
		{"unchanged", etag, http.StatusNotModified},
		{"unchanged, as a strong tag", `"c1"`, http.StatusNotModified},
		{"one of several", `"old", ` + etag, http.StatusNotModified},
		{"another etag", `W/"c0"`, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := sendWant(t, newRequest(t, http.MethodGet, feed, "", map[string]string{"If-None-Match": tc.ifNoneMatch}), tc.want)
			if tc.want == http.StatusNotModified && (len(resp.body) != 0 || resp.header.Get("ETag") != etag) {
				t.Errorf("304 with body %q and ETag %q", resp.body, resp.header.Get("ETag"))
			}
		})
	}
	// An activity changes: the poll gets the calendar again.
	fake.setEtag("c2")
	resp = sendWant(t, newRequest(t, http.MethodGet, feed, "", map[string]string{"If-None-Match": etag}), http.StatusOK)
	if got := resp.header.Get("ETag"); got != `W/"c2"` {
		t.Errorf("ETag after a change = %q", got)
	}

	t.Run("HEAD", func(t *testing.T) {
		resp := sendWant(t, newRequest(t, http.MethodHead, feed, "", nil), http.StatusOK)
		if len(resp.body) != 0 || resp.header.Get("ETag") == "" {
			t.Errorf("HEAD: body %q, ETag %q", resp.body, resp.header.Get("ETag"))
		}
	})
	t.Run("gzip", func(t *testing.T) {
		req := newRequest(t, http.MethodGet, feed, "", map[string]string{"Accept-Encoding": "gzip"})
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		zr, err := gzip.NewReader(res.Body)
		if err != nil {
			t.Fatalf("Content-Encoding %q: %v", res.Header.Get("Content-Encoding"), err)
		}
		body, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(body, testCalendar()) || res.Header.Get("ETag") != `W/"c2"` {
			t.Errorf("gzipped feed: %v, ETag %q, body %q", err, res.Header.Get("ETag"), body)
		}
	})

	sendWant(t, newRequest(t, http.MethodDelete, url+"/v1/communities/210102001001/calendar/subscriptions/"+sub.Subscription.ID, "", bearer), http.StatusOK)
	resp = sendWant(t, newRequest(t, http.MethodGet, feed, "", nil), http.StatusNotFound)
	if st := decodeStatus(t, resp.body); st.Code != codes.NotFound || strings.Contains(string(resp.body), feedToken) {
		t.Errorf("after revoking: %s", resp.body)
	}
	sendWant(t, newRequest(t, http.MethodGet, url+"/v1/calendars/"+strings.Repeat("A", 43)+"/calendar.ics", "", nil), http.StatusNotFound)

	// The log names the route, never the token.
	var routes []string
	for _, e := range logs.AllUntimed() {
		line, _ := json.Marshal(e.ContextMap())
		if strings.Contains(e.Message+string(line), feedToken) {
			t.Errorf("log entry %q %s holds the feed token", e.Message, line)
		}
		if r, ok := e.ContextMap()["route"].(string); ok {
			routes = append(routes, r)
		}
	}
	if !strings.Contains(strings.Join(routes, " "), feedRoute) {
		t.Errorf("no request was logged under %s: %v", feedRoute, routes)
	}
}

// TestCommunityCalendarETag: the bearer route has the feed's ETag and 304.
func TestCommunityCalendarETag(t *testing.T) {
	t.Parallel()
	_, url, _ := startCalendarGateway(t)
	path := url + "/v1/communities/210102001001/calendar.ics"
	bearer := map[string]string{"Authorization": "Bearer clerk.token.value"}
	resp := sendWant(t, newRequest(t, http.MethodGet, path, "", bearer), http.StatusOK)
	etag := resp.header.Get("ETag")
	if etag != `W/"c1"` {
		t.Fatalf("ETag = %q", etag)
	}
	sendWant(t, newRequest(t, http.MethodGet, path, "", map[string]string{"Authorization": bearer["Authorization"], "If-None-Match": etag}), http.StatusNotModified)
	// Without a token it is refused, If-None-Match or not.
	sendWant(t, newRequest(t, http.MethodGet, path, "", map[string]string{"If-None-Match": etag}), http.StatusUnauthorized)
}
