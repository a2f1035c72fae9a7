package casework

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// TestTicketAuthorizationMatrix calls the seven ticket RPCs with real
// tokens as every role, through gRPC and the REST gateway, on a ticket of
// the clerk's community (own), of community B (other; both in the area
// of the street and district supervisors), and a missing one. Admin does
// everything and alone sets categories; the bureau reads; a clerk makes,
// resolves and calls back its community's tickets; supervisors their
// area's; enterprises, archivists and the service role nothing; a
// refused call changes nothing.
func TestTicketAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		na = servicetest.NA
	)
	h := newHarness(t)
	calls := ticketCalls(t, h)
	type row = servicetest.Cells
	change, refused := row{ok, ok, nf}, row{pd, pd, pd}
	everyone := matrixRows(row{ok, ok, na}, row{ok, ok, na}, row{ok, ok, na}, row{ok, ok, na})
	everyone[servicetest.StreetElsewhereCaller], everyone[servicetest.DistrictElsewhereCaller] = row{ok, ok, na}, row{ok, ok, na}
	want := map[string]map[string]row{
		// Missing: a retiree nobody knows, a 400 for admin only.
		"CreateTicket":         matrixRows(row{ok, ok, codes.InvalidArgument}, refused, row{ok, pd, pd}, row{ok, ok, pd}),
		"GetTicket":            matrixRows(change, change, row{ok, pd, pd}, row{ok, ok, pd}),
		"ListTickets":          matrixRows(row{ok, ok, na}, row{ok, ok, na}, row{ok, pd, na}, row{ok, ok, na}),
		"ResolveTicket":        matrixRows(change, refused, row{ok, pd, pd}, row{ok, ok, pd}),
		"RecordCallback":       matrixRows(change, refused, row{ok, pd, pd}, row{ok, ok, pd}),
		"ListTicketCategories": everyone,
		"SetTicketCategory":    matrixRows(row{ok, ok, na}, row{pd, pd, na}, row{pd, pd, na}, row{pd, pd, na}),
	}
	h.runMatrix(t, calls, want)
}

// ticketCalls are the calls of the ticket matrix: each RPC on a fresh
// ticket of the target's community (a retiree's there), or a missing one.
func ticketCalls(t *testing.T, h *harness) map[string]func(servicetest.Target) call {
	retiree := map[servicetest.Target]string{}
	for tg, c := range map[servicetest.Target]string{servicetest.Own: communityA, servicetest.Other: communityB} {
		r := livingIn(c, "钱"+c[len(c)-3:])
		h.retirees(r)
		retiree[tg] = r.Id
	}
	community := map[servicetest.Target]string{servicetest.Own: communityA, servicetest.Other: communityB}
	fixture := func(tg servicetest.Target, resolved bool) *pb.Ticket {
		if tg == servicetest.Missing {
			return &pb.Ticket{Id: unknownID}
		}
		tk, err := h.store.CreateTicket(retireeTicket(retiree[tg], "OTHER"), "", clerkActor, everywhere)
		if err == nil && resolved {
			tk, err = h.store.ResolveTicket(tk.Id, "", "已处理", false, clerkActor, anyTicket)
		}
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	onTicket := func(resolved bool, mk func(tk *pb.Ticket) call) func(servicetest.Target) call {
		return func(tg servicetest.Target) call { return mk(fixture(tg, resolved)) }
	}
	return map[string]func(servicetest.Target) call{
		"CreateTicket": func(tg servicetest.Target) call {
			id := retiree[tg]
			if tg == servicetest.Missing {
				id = unknownID
			}
			req := &pb.CreateTicketRequest{Ticket: retireeTicket(id, "PAYMENT")}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.CreateTicket(ctx, req)) }, http.MethodPost, "/v1/tickets", req}
		},
		"GetTicket": onTicket(false, func(tk *pb.Ticket) call {
			req := &pb.GetTicketRequest{Id: tk.Id}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.GetTicket(ctx, req)) }, http.MethodGet, "/v1/tickets/" + tk.Id, nil}
		}),
		"ListTickets": func(tg servicetest.Target) call {
			req := &pb.ListTicketsRequest{CommunityId: community[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ListTickets(ctx, req)) }, http.MethodGet, "/v1/tickets?communityId=" + url.QueryEscape(req.CommunityId), nil}
		},
		"ResolveTicket": onTicket(false, func(tk *pb.Ticket) call {
			req := &pb.ResolveTicketRequest{Id: tk.Id, Resolution: "已补发"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ResolveTicket(ctx, req)) }, http.MethodPost, "/v1/tickets/" + tk.Id + ":resolve", req}
		}),
		"RecordCallback": onTicket(true, func(tk *pb.Ticket) call {
			req := &pb.RecordCallbackRequest{Id: tk.Id, Satisfaction: pb.Satisfaction_SATISFIED}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.RecordCallback(ctx, req)) }, http.MethodPost, "/v1/tickets/" + tk.Id + ":recordCallback", req}
		}),
		"ListTicketCategories": func(servicetest.Target) call {
			req := &pb.ListTicketCategoriesRequest{}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ListTicketCategories(ctx, req)) }, http.MethodGet, "/v1/ticketCategories", nil}
		},
		"SetTicketCategory": func(servicetest.Target) call {
			req := &pb.SetTicketCategoryRequest{Category: &pb.TicketCategory{Code: "HEATING", Name: "供暖补贴", DeadlineWorkingDays: 7, Priority: pb.Priority_PRIORITY_HIGH}}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.SetTicketCategory(ctx, req)) }, http.MethodPut, "/v1/ticketCategories/HEATING", req.Category}
		},
	}
}
