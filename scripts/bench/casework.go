package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// caseworkRetirees is how many retirees the casework scenario loads
	// into registry, over caseworkCommunities communities.
	caseworkRetirees    = 20_000
	caseworkCommunities = 4
	// caseworkPage is a clerk's queue page.
	caseworkPage = 50
	// goalCaseworkQueueP99 is issue 16's goal for a clerk's queue page.
	goalCaseworkQueueP99 = 20 * time.Millisecond
)

// caseworkScenario runs the casework program beside a registry of
// caseworkRetirees retirees: it schedules a quarter's first month of care
// visits (every living retiree gets an item) through ScheduleVisits,
// then a clerk of one community reads the first page of its queue, with
// the counts by clock, again and again. The Go benchmarks of
// services/casework measure the same at city size (a million items, a
// month for 200,000 retirees) inside the store; this row measures it
// through the real program, its token check, limits and audit.
func caseworkScenario(ctx context.Context, h *harness) ([]row, error) {
	const what = "casework ListWorkItems"
	if p := h.missingProgram("casework queue", "casework"); p != "" {
		return skippedRows(what, p), nil
	}
	reg, err := h.startRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer h.release(reg.child)
	rconns, err := h.dial(reg.grpcAddr, h.cfg.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(rconns)
	communities, enterprises, err := seedReferences(ctx, registryv1.NewRegistryServiceClient(rconns[0]), seedCommunities)
	if err != nil {
		return nil, err
	}
	communities = communities[:min(caseworkCommunities, len(communities))]
	ids, _, err := loadRetirees(ctx, h, rconns, caseworkRetirees, communities, enterprises)
	if err != nil {
		return nil, err
	}
	cw, err := h.startService(ctx, "casework", filepath.Join(h.cfg.Bin, "casework"), "--registry-addr", reg.grpcAddr)
	if err != nil {
		return nil, err
	}
	defer h.release(cw.child)
	conns, err := h.dial(cw.grpcAddr, h.cfg.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(conns)
	client := caseworkv1.NewCaseworkServiceClient(conns[0])
	if err := awaitCaseworkProjection(ctx, client, ids[len(ids)-1]); err != nil {
		return nil, err
	}
	schedule, err := scheduleQuarter(ctx, client)
	if err != nil {
		return nil, err
	}
	clerk, done, err := h.clerkClient(cw.grpcAddr, communities[0])
	if err != nil {
		return nil, err
	}
	defer done()
	return []row{schedule, h.measureQueue(ctx, clerk, communities[0])}, nil
}

// awaitCaseworkProjection waits until casework knows the retiree id
// (the last loaded): its projection has followed registry that far.
func awaitCaseworkProjection(ctx context.Context, client caseworkv1.CaseworkServiceClient, id string) error {
	ctx, cancel := context.WithTimeout(ctx, projectionDeadline)
	defer cancel()
	for {
		_, err := client.GetCareProfile(ctx, &caseworkv1.GetCareProfileRequest{RetireeId: id})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("casework's projection did not reach the last retiree: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// scheduleQuarter schedules the next quarter's first month (every
// retiree's quarterly visit falls in it) and times it; the program's own
// daily run schedules only the current month.
func scheduleQuarter(ctx context.Context, client caseworkv1.CaseworkServiceClient) (row, error) {
	now := time.Now().UTC()
	q := time.Date(now.Year(), now.Month()-(now.Month()-1)%3+3, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	resp, err := client.ScheduleVisits(ctx, &caseworkv1.ScheduleVisitsRequest{Month: q.Format("2006-01")})
	if err != nil {
		return row{}, fmt.Errorf("ScheduleVisits: %w", err)
	}
	took := time.Since(start)
	if resp.Created == 0 {
		return row{}, errors.New("ScheduleVisits made no item")
	}
	return row{
		What:     fmt.Sprintf("casework ScheduleVisits: the visit items of %s for %s retirees over %d communities, one call", q.Format("2006-01"), formatCount(caseworkRetirees), caseworkCommunities),
		Value:    fmt.Sprintf("%.2f s", took.Seconds()),
		Compared: fmt.Sprintf("%s items made", formatCount(resp.Created)),
		P50:      "–", P99: "–", Goal: "–", Result: "–",
	}, nil
}

// clerkClient returns a casework client over a connection of its own
// that calls with the token of a clerk of community, signed with the
// harness's key, and a func that closes it.
func (h *harness) clerkClient(addr, community string) (caseworkv1.CaseworkServiceClient, func(), error) {
	priv, err := authn.LoadPrivateKey(h.tokenKey)
	if err != nil {
		return nil, nil, err
	}
	ttl := min(h.cfg.Timeout+time.Hour, authn.DefaultMaxLifetime)
	tok, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "bench-clerk", Role: authn.RoleClerk, Communities: []string{community}}, ttl, time.Now())
	if err != nil {
		return nil, nil, err
	}
	transport, err := h.transport()
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(addr, transport, grpc.WithPerRPCCredentials(authn.BearerCredentials(tok)))
	if err != nil {
		return nil, nil, err
	}
	return caseworkv1.NewCaseworkServiceClient(conn), func() { conn.Close() }, nil
}

// measureQueue measures the first page of a community's queue with its
// counts, read again and again by one clerk.
func (h *harness) measureQueue(ctx context.Context, client caseworkv1.CaseworkServiceClient, community string) row {
	list := runLoad(ctx, h.oneClient(), func(int) caller {
		return func(ctx context.Context) error {
			resp, err := client.ListWorkItems(ctx, &caseworkv1.ListWorkItemsRequest{CommunityId: community, PageSize: caseworkPage})
			if err == nil && (len(resp.Items) == 0 || resp.Counts == nil) {
				err = errors.New("an empty queue page")
			}
			return err
		}
	})
	r := measuredRow(fmt.Sprintf("casework ListWorkItems: a clerk's first queue page of %d with counts by clock, a community of %s retirees, 1 client (reads audited)",
		caseworkPage, formatCount(caseworkRetirees/caseworkCommunities)), list)
	if err := list.Err(); err != nil {
		r.Value = err.Error()
		r.Result = verdict(false)
		return r
	}
	r.Goal = fmt.Sprintf("p99 ≤ %g ms", float64(goalCaseworkQueueP99)/float64(time.Millisecond))
	r.Result = verdict(list.P99 <= goalCaseworkQueueP99)
	return r
}
