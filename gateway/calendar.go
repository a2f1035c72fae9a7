package gateway

import (
	"context"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/entitytag"
	"github.com/socmgmt/socmgmt/internal/requestid"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// feedRoute is where a calendar subscription's feed is served, to anyone
// who has its URL: the feed token in it is the credential (calendar apps
// cannot send a bearer token). Logs and metrics name the route, never
// the path, so the token is never written down.
const feedRoute = "/v1/calendars/{feedToken}/calendar.ics"

// registerActivity adds the activity service's generated routes and the
// calendar feeds, which the gateway serves itself so that it can answer
// text/calendar instead of JSON.
func registerActivity(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
	client := activityv1.NewActivityServiceClient(cc)
	if err := activityv1.RegisterActivityServiceHandlerClient(ctx, mux, client); err != nil {
		return err
	}
	err := mux.HandlePath(http.MethodGet, calendarRoute, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		serveCalendar(mux, client, w, r, params["id"])
	})
	if err != nil {
		return err
	}
	return mux.HandlePath(http.MethodGet, feedRoute, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		serveFeed(mux, client, w, r, params["feedToken"])
	})
}

// serveCalendar answers GET /v1/communities/{id}/calendar.ics. Like every
// route it needs a token: the Authorization header goes to the activity
// service, which checks it.
func serveCalendar(mux *runtime.ServeMux, client activityv1.ActivityServiceClient, w http.ResponseWriter, r *http.Request, community string) {
	md := upstreamMetadata(r)
	if auth := r.Header.Get("Authorization"); auth != "" {
		md.Set("authorization", auth)
	}
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	resp, err := client.GetCommunityCalendar(ctx, &activityv1.GetCommunityCalendarRequest{CommunityId: community})
	if err != nil {
		upstreamError(ctx, mux, w, r, err)
		return
	}
	writeCalendar(w, resp.Ics, resp.Etag)
}

// serveFeed answers GET /v1/calendars/{feedToken}/calendar.ics. No
// Authorization header goes upstream, even when the app sends one: the
// feed token alone decides, and an unknown or revoked one is 404.
func serveFeed(mux *runtime.ServeMux, client activityv1.ActivityServiceClient, w http.ResponseWriter, r *http.Request, token string) {
	ctx := metadata.NewOutgoingContext(r.Context(), upstreamMetadata(r))
	resp, err := client.GetCalendarFeed(ctx, &activityv1.GetCalendarFeedRequest{FeedToken: token})
	if err != nil {
		upstreamError(ctx, mux, w, r, err)
		return
	}
	writeCalendar(w, resp.Ics, resp.Etag)
}

// upstreamMetadata is the metadata of a calendar's upstream call: the
// request id, so that the upstream's log and the gateway's share it.
func upstreamMetadata(r *http.Request) metadata.MD {
	md := languageMetadata(r)
	if md == nil {
		md = metadata.MD{}
	}
	if st := stateFrom(r.Context()); st != nil {
		md.Set(requestid.Key, st.id)
	}
	return md
}

// upstreamError answers the failed upstream call of a route the gateway
// serves itself (a calendar, an export) as every route does, as
// google.rpc.Status JSON.
func upstreamError(ctx context.Context, mux *runtime.ServeMux, w http.ResponseWriter, r *http.Request, err error) {
	_, outbound := runtime.MarshalerForRequest(mux, r)
	runtime.HTTPError(ctx, mux, outbound, w, r, err)
}

// writeCalendar answers with a calendar and its etag as a weak ETag: the
// calendar's DTSTAMP moves with the clock while the etag does not, and
// the body may be sent compressed, so the two are equivalent, not the
// same octets. The conditional middleware answers If-None-Match with 304.
func writeCalendar(w http.ResponseWriter, ics []byte, etag string) {
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `inline; filename="calendar.ics"`)
	h.Set("Content-Length", strconv.Itoa(len(ics)))
	h.Set("Cache-Control", "private, no-cache")
	if tag := entitytag.Quote(etag); tag != "" {
		h.Set("ETag", "W/"+tag)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ics) // a failed write means the client has gone
}
