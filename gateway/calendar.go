package gateway

import (
	"context"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/requestid"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// registerActivity adds the activity service's generated routes and the
// calendar feed, which the gateway serves itself so that it can answer
// text/calendar instead of JSON.
func registerActivity(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
	client := activityv1.NewActivityServiceClient(cc)
	if err := activityv1.RegisterActivityServiceHandlerClient(ctx, mux, client); err != nil {
		return err
	}
	return mux.HandlePath(http.MethodGet, calendarRoute, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		serveCalendar(mux, client, w, r, params["id"])
	})
}

// serveCalendar answers GET /v1/communities/{id}/calendar.ics. Like every
// route it needs a token: the Authorization header goes to the activity
// service, which checks it.
func serveCalendar(mux *runtime.ServeMux, client activityv1.ActivityServiceClient, w http.ResponseWriter, r *http.Request, community string) {
	md := metadata.MD{}
	if auth := r.Header.Get("Authorization"); auth != "" {
		md.Set("authorization", auth)
	}
	if st := stateFrom(r.Context()); st != nil {
		md.Set(requestid.Key, st.id)
	}
	ctx := metadata.NewOutgoingContext(r.Context(), md)
	resp, err := client.GetCommunityCalendar(ctx, &activityv1.GetCommunityCalendarRequest{CommunityId: community})
	if err != nil {
		_, outbound := runtime.MarshalerForRequest(mux, r)
		runtime.HTTPError(ctx, mux, outbound, w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Content-Disposition", `inline; filename="calendar.ics"`)
	h.Set("Content-Length", strconv.Itoa(len(resp.Ics)))
	h.Set("Cache-Control", "private, no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Ics) // a failed write means the client has gone
}
