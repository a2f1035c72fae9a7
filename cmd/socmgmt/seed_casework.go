package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// defaultCaseworkAddr is where `make run` starts the casework service.
	defaultCaseworkAddr = "127.0.0.1:9105"
	// caseworkCommunities is how many of the city's communities get a
	// clerk's day of casework: visits, a crisis, complaints, own items.
	caseworkCommunities = 6
)

// caseworkSummary is what the casework part of a seed did, by kind.
type caseworkSummary struct {
	scheduled, visits, crises, tickets, items, preferences tally
}

func (s *caseworkSummary) rows() tallyRows {
	return tallyRows{
		{"visit items", &s.scheduled},
		{"visits", &s.visits},
		{"crises", &s.crises},
		{"tickets", &s.tickets},
		{"own items", &s.items},
		{"preferences", &s.preferences},
	}
}

// seedCasework gives the first caseworkCommunities communities a clerk's
// day: this month's visit items for the whole city (ScheduleVisits), a
// few visits recorded with each outcome but the ones that change
// registry, a crisis waiting for its 24-hour visit, complaints in each
// state, an item of the clerk's own waiting on a family and one claimed,
// and message preferences. Every call carries a request key or is
// idempotent by itself, so a second seed adds nothing. A casework
// service that does not answer is skipped.
func seedCasework(ctx context.Context, cfg seedConfig, priv ed25519.PrivateKey, registry registryv1.RegistryServiceClient, plan *cityPlan, out, progress io.Writer) error {
	conn, err := dialOptional(ctx, cfg, "casework", cfg.caseworkAddr, nil, progress, "casework")
	if conn == nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	s := newSeeder(registry, cfg.concurrency, progress)
	s.aborted, s.target = errActivityAborted, "a service"
	cs := &caseworkSeeder{seeder: s, casework: caseworkv1.NewCaseworkServiceClient(conn), signer: authn.NewSigner(priv), seed: cfg.seed, now: time.Now()}
	sum, err := cs.run(ctx, plan.Communities[:min(caseworkCommunities, len(plan.Communities))])
	fmt.Fprintf(out, "Seeded a clerk's day into the casework service at %s in %v:\n", cfg.caseworkAddr, time.Since(start).Round(100*time.Millisecond))
	sum.rows().write(out, 13)
	return err
}

// caseworkSeeder calls casework with the tokens of the people involved.
type caseworkSeeder struct {
	*seeder
	casework caseworkv1.CaseworkServiceClient
	signer   *authn.Signer
	seed     uint64
	now      time.Time
}

// as returns ctx with a token for p.
func (cs *caseworkSeeder) as(ctx context.Context, p authn.Principal) context.Context {
	tok, err := cs.signer.Sign(p, seedTokenTTL, time.Now())
	if err != nil {
		// The key signed the seed's own admin token a moment ago.
		panic(err)
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func (cs *caseworkSeeder) run(parent context.Context, communities []*registryv1.Community) (*caseworkSummary, error) {
	ctx, abort := context.WithCancelCause(parent)
	defer abort(nil)
	sum := &caseworkSummary{}
	admin := cs.as(ctx, authn.Principal{Subject: "socmgmt-seed", Role: authn.RoleAdmin})
	if err := cs.awaitProjection(ctx, admin, communities); err != nil {
		return sum, err
	}
	month := cs.now.In(seasonZone).Format("2006-01")
	err := cs.call(admin, func(ctx context.Context) error {
		resp, err := cs.casework.ScheduleVisits(ctx, &caseworkv1.ScheduleVisitsRequest{Month: month})
		sum.scheduled.created.Add(resp.GetCreated())
		sum.scheduled.present.Add(resp.GetExisting())
		return err
	})
	if err != nil {
		cs.count(ctx, abort, &sum.scheduled, err, "schedule the visits of "+month)
	}
	cs.logf("a clerk's day of casework in %d communities", len(communities))
	cs.forEach(ctx, len(communities), func(ctx context.Context, i int) {
		cs.community(ctx, abort, sum, communities[i].GetId())
	})
	return sum, outcome(parent, ctx, sum.rows().failed(), "casework operations")
}

// awaitProjection (registry with ctx, casework with admin's token) waits, up to projectionWait, until casework knows the
// retirees registry has (its projection follows registry's change log):
// the last seeded community's first living retiree has a care profile.
func (cs *caseworkSeeder) awaitProjection(ctx, admin context.Context, communities []*registryv1.Community) error {
	if len(communities) == 0 {
		return nil
	}
	resp, err := cs.client.ListRetirees(ctx, &registryv1.ListRetireesRequest{
		CommunityId: communities[len(communities)-1].GetId(), Status: registryv1.RetireeStatus_LIVING, PageSize: 1,
	})
	if err != nil || len(resp.GetRetirees()) == 0 {
		return err
	}
	id := resp.GetRetirees()[0].GetId()
	deadline := time.Now().Add(projectionWait)
	for {
		_, err := cs.casework.GetCareProfile(admin, &caseworkv1.GetCareProfileRequest{RetireeId: id})
		if err == nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(projectionPoll):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// morning is the last 09:30 in the city before the seed: the time of
// its visits, the same for every seed of a day, so that a repeated seed
// sends the same requests.
func (cs *caseworkSeeder) morning() time.Time {
	d := cs.now.In(seasonZone)
	m := time.Date(d.Year(), d.Month(), d.Day(), 9, 30, 0, 0, seasonZone)
	if m.After(cs.now) {
		m = m.AddDate(0, 0, -1)
	}
	return m
}

// requestID is a UUID made of the seed and what, so that a repeated seed
// sends the same x-request-id (the crisis report is idempotent by it).
func (cs *caseworkSeeder) requestID(what string) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("seed-%d/%s", cs.seed, what)))
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-4" + x[13:16] + "-a" + x[17:20] + "-" + x[20:32]
}

// community seeds one community's day with its clerk's token.
func (cs *caseworkSeeder) community(ctx context.Context, abort context.CancelCauseFunc, sum *caseworkSummary, community string) {
	clerk := authn.Principal{Subject: "clerk-" + community, Role: authn.RoleClerk, Communities: []string{community}}
	cctx := cs.as(ctx, clerk)
	var roster *registryv1.ListRetireesResponse
	err := cs.call(ctx, func(ctx context.Context) error {
		var err error
		roster, err = cs.client.ListRetirees(ctx, &registryv1.ListRetireesRequest{CommunityId: community, Status: registryv1.RetireeStatus_LIVING, PageSize: 20})
		return err
	})
	if err != nil || len(roster.GetRetirees()) < 6 {
		var t tally
		cs.count(ctx, abort, &t, err, "list the retirees of community "+community)
		return
	}
	ids := make([]string, 0, len(roster.GetRetirees()))
	for _, r := range roster.GetRetirees() {
		ids = append(ids, r.GetId())
	}
	key := func(what string) string { return fmt.Sprintf("seed-%d/%s/%s", cs.seed, community, what) }
	cs.visits(cctx, abort, sum, ids, key)
	cs.crisis(cctx, abort, sum, ids[4])
	cs.tickets(cctx, abort, sum, community, ids, key)
	cs.ownItems(cctx, abort, sum, community, ids[5], key)
	cs.preferences(cctx, abort, sum, ids)
}

// visits records a home visit that found all well, a phone call, and one
// that found a need (opening a hardship item), on the seed's day.
func (cs *caseworkSeeder) visits(ctx context.Context, abort context.CancelCauseFunc, sum *caseworkSummary, ids []string, key func(string) string) {
	when := timestamppb.New(cs.morning())
	for i, v := range []*caseworkv1.Visit{
		{RetireeId: ids[0], Method: caseworkv1.VisitMethod_HOME, Visitor: "社区网格员", Outcome: caseworkv1.VisitOutcome_WELL, Note: "身体硬朗，生活自理"},
		{RetireeId: ids[1], Method: caseworkv1.VisitMethod_PHONE, Visitor: "社区网格员", Outcome: caseworkv1.VisitOutcome_WELL},
		{RetireeId: ids[2], Method: caseworkv1.VisitMethod_HOME, Visitor: "志愿者", Outcome: caseworkv1.VisitOutcome_NEEDS_HELP,
			Needs: []string{"MEALS"}, Referral: "街道助餐点", Note: "独居，做饭困难"},
	} {
		v.VisitTime = when
		err := cs.call(ctx, func(ctx context.Context) error {
			_, err := cs.casework.RecordVisit(ctx, &caseworkv1.RecordVisitRequest{Visit: v, RequestKey: key(fmt.Sprintf("visit/%d", i))})
			return err
		})
		cs.count(ctx, abort, &sum.visits, err, "record a visit")
	}
}

// crisis reports a hospital stay whose visit is due within 24 hours; the
// request id makes a second seed find it.
func (cs *caseworkSeeder) crisis(ctx context.Context, abort context.CancelCauseFunc, sum *caseworkSummary, retiree string) {
	day := cs.now.In(seasonZone).Truncate(24 * time.Hour)
	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", cs.requestID("crisis/"+retiree))
	err := cs.call(ctx, func(ctx context.Context) error {
		_, err := cs.casework.ReportCrisis(ctx, &caseworkv1.ReportCrisisRequest{
			RetireeId: retiree, Kind: caseworkv1.CrisisKind_HOSPITAL_STAY, OccurredTime: timestamppb.New(day), Note: "突发脑梗住院",
		})
		return err
	})
	cs.count(ctx, abort, &sum.crises, err, "report a crisis")
}

// tickets takes an emergency referred by the 12345 hotline (left open),
// a payment complaint resolved and called back, and another left open.
func (cs *caseworkSeeder) tickets(ctx context.Context, abort context.CancelCauseFunc, sum *caseworkSummary, community string, ids []string, key func(string) string) {
	for i, t := range []*caseworkv1.Ticket{
		{Channel: caseworkv1.TicketChannel_HOTLINE_12345, Category: "EMERGENCY", ReferralNumber: fmt.Sprintf("GD%08d", cs.seed*100+uint64(len(community))),
			Subject: &caseworkv1.Subject{Kind: feedv1.SubjectKind_RETIREE, Id: ids[3]}, RetireeId: ids[3],
			Description: "老人家中停水两天，行动不便，请社区协调", Complainant: "女儿"},
		{Channel: caseworkv1.TicketChannel_COUNTER, Category: "PAYMENT",
			Subject: &caseworkv1.Subject{Kind: feedv1.SubjectKind_RETIREE, Id: ids[0]}, RetireeId: ids[0],
			PaymentMonth: cs.now.In(seasonZone).AddDate(0, -1, 0).Format("2006-01"), Description: "上月养老金到账金额比以往少"},
		{Channel: caseworkv1.TicketChannel_TELEPHONE, Category: "OTHER",
			Subject: &caseworkv1.Subject{Kind: feedv1.SubjectKind_RETIREE, Id: ids[1]}, RetireeId: ids[1],
			Description: "希望社区增加书法班名额"},
	} {
		var resp *caseworkv1.CreateTicketResponse
		err := cs.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = cs.casework.CreateTicket(ctx, &caseworkv1.CreateTicketRequest{Ticket: t, RequestKey: key(fmt.Sprintf("ticket/%d", i))})
			return err
		})
		cs.count(ctx, abort, &sum.tickets, err, "create a "+t.Category+" ticket")
		if err != nil || i != 1 || resp.GetTicket().GetState() != caseworkv1.TicketState_TICKET_OPEN {
			continue
		}
		err = cs.call(ctx, func(ctx context.Context) error {
			r, err := cs.casework.ResolveTicket(ctx, &caseworkv1.ResolveTicketRequest{Id: resp.GetTicket().GetId(), Resolution: "经核实为个人所得税代扣，已向老人解释"})
			if err != nil {
				return err
			}
			_, err = cs.casework.RecordCallback(ctx, &caseworkv1.RecordCallbackRequest{Id: r.GetTicket().GetId(), Satisfaction: caseworkv1.Satisfaction_SATISFIED, Note: "老人表示理解"})
			return err
		})
		cs.count(ctx, abort, &sum.tickets, err, "resolve and call back a ticket")
	}
}

// ownItems sets a holiday call claimed by the clerk, and a hardship
// follow-up waiting on the family.
func (cs *caseworkSeeder) ownItems(ctx context.Context, abort context.CancelCauseFunc, sum *caseworkSummary, community, retiree string, key func(string) string) {
	due := timestamppb.New(cs.morning().AddDate(0, 0, 5).Add(8 * time.Hour))
	for i, it := range []*caseworkv1.WorkItem{
		{Kind: caseworkv1.WorkKind_OTHER, CommunityId: community, Summary: "元旦前电话慰问高龄老人", DueTime: due, Priority: caseworkv1.Priority_PRIORITY_NORMAL},
		{Kind: caseworkv1.WorkKind_HARDSHIP, CommunityId: community, RetireeId: retiree, Summary: "协助申请临时救助", DueTime: due, Priority: caseworkv1.Priority_PRIORITY_HIGH},
	} {
		err := cs.call(ctx, func(ctx context.Context) error {
			resp, err := cs.casework.CreateWorkItem(ctx, &caseworkv1.CreateWorkItemRequest{Item: it, RequestKey: key(fmt.Sprintf("item/%d", i))})
			if err != nil || resp.GetItem().GetState() != caseworkv1.WorkState_OPEN {
				return err
			}
			c, err := cs.casework.ClaimWorkItem(ctx, &caseworkv1.ClaimWorkItemRequest{Id: resp.GetItem().GetId()})
			if err != nil || i == 0 {
				return err
			}
			_, err = cs.casework.WaitWorkItem(ctx, &caseworkv1.WaitWorkItemRequest{
				Id: c.GetItem().GetId(), WaitingOn: caseworkv1.WaitingOn_FAMILY, Reason: "等待家属提供低保证明",
			})
			return err
		})
		cs.count(ctx, abort, &sum.items, err, "create an item of the clerk's own")
	}
}

// preferences gives one retiree a preferred name and opts another out.
func (cs *caseworkSeeder) preferences(ctx context.Context, abort context.CancelCauseFunc, sum *caseworkSummary, ids []string) {
	for _, p := range []*caseworkv1.MessagePreferences{
		{RetireeId: ids[0], PreferredName: "王阿姨", Recipients: []caseworkv1.Recipient{caseworkv1.Recipient_RETIREE, caseworkv1.Recipient_PRIMARY_CONTACT}},
		{RetireeId: ids[1], OptedOut: true},
	} {
		err := cs.call(ctx, func(ctx context.Context) error {
			_, err := cs.casework.SetMessagePreferences(ctx, &caseworkv1.SetMessagePreferencesRequest{Preferences: p})
			return err
		})
		cs.count(ctx, abort, &sum.preferences, err, "set message preferences")
	}
}
