package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The handover scenario's package.
const (
	benchHandoverRetirees  = 5000
	benchHandoverCommunity = "210103002001"
	// goalHandover is DESIGN's goal from :complete until registry and
	// activity show the handover.
	goalHandover = 5 * time.Second
	// handoverPoll is how often the scenario looks at registry and
	// activity while it waits.
	handoverPoll = 5 * time.Millisecond
)

// handoverScenario hands 5,000 retirees and a clubhouse over from an
// enterprise to a community, through the handover program with registry
// and activity behind it, and measures the time from the clerk's
// :complete until registry's socialisation report shows all 5,000
// COMMUNITY-managed in the community and activity lists the clubhouse as
// a venue. The submit (5,000 registry checks) is reported beside it.
func handoverScenario(ctx context.Context, h *harness) ([]row, error) {
	if p := h.missingProgram("handover", "handover", "activity"); p != "" {
		return skippedRows("handover service", p), nil
	}
	st, err := h.startHandoverStack(ctx, filepath.Join(h.cfg.Bin, "handover"), filepath.Join(h.cfg.Bin, "activity"))
	if err != nil {
		return nil, err
	}
	defer st.stop()
	cl, err := h.dialHandoverStack(st)
	if err != nil {
		return nil, err
	}
	defer cl.close()

	code, ids, err := loadHandoverRetirees(ctx, h, cl.registry)
	if err != nil {
		return nil, err
	}
	ent, clerk, bureau, err := h.handoverTokens(ctx, code)
	if err != nil {
		return nil, err
	}
	submitted, submitRow, err := cl.submit(ent, benchPackage(code, ids))
	if err != nil {
		return nil, err
	}
	rows := []row{submitRow}
	if err := cl.receive(clerk, submitted); err != nil {
		return rows, err
	}
	if _, err := cl.handover.VerifyRoster(bureau, &handoverv1.VerifyRosterRequest{Id: submitted.Id, DocumentSha256: strings.Repeat("0", 64)}); err != nil {
		return rows, fmt.Errorf("verify roster: %w", err)
	}
	completeRow, err := cl.complete(ctx, h, clerk, submitted.Id)
	if err != nil {
		return rows, err
	}
	return append(rows, completeRow), nil
}

// handoverClients are the scenario's clients of the handover stack.
type handoverClients struct {
	registry registryv1.RegistryServiceClient
	activity activityv1.ActivityServiceClient
	handover handoverv1.HandoverServiceClient
	conns    []*grpc.ClientConn
}

// dialHandoverStack connects to the programs of st: registry and activity
// with the harness's admin token, handover with none, since each step
// carries the token of the enterprise or clerk who takes it.
func (h *harness) dialHandoverStack(st *handoverStack) (*handoverClients, error) {
	cl := &handoverClients{}
	admin, err := h.dial(st.registryAddr, 1)
	if err != nil {
		return nil, err
	}
	cl.conns = append(cl.conns, admin...)
	actConns, err := h.dial(st.activityAddr, 1)
	if err != nil {
		cl.close()
		return nil, err
	}
	cl.conns = append(cl.conns, actConns...)
	transport, err := h.transport()
	if err != nil {
		cl.close()
		return nil, err
	}
	hoConn, err := grpc.NewClient(st.handoverAddr, transport)
	if err != nil {
		cl.close()
		return nil, err
	}
	cl.conns = append(cl.conns, hoConn)
	cl.registry = registryv1.NewRegistryServiceClient(admin[0])
	cl.activity = activityv1.NewActivityServiceClient(actConns[0])
	cl.handover = handoverv1.NewHandoverServiceClient(hoConn)
	return cl, nil
}

// close closes the connections, newest first.
func (cl *handoverClients) close() {
	for i := len(cl.conns) - 1; i >= 0; i-- {
		cl.conns[i].Close()
	}
}

// submit creates pkg and submits it as the enterprise whose token ent
// carries, and returns the submitted package and the row of the submit.
func (cl *handoverClients) submit(ent context.Context, pkg *handoverv1.Handover) (*handoverv1.Handover, row, error) {
	cr, err := cl.handover.CreateHandover(ent, &handoverv1.CreateHandoverRequest{Handover: pkg})
	if err != nil {
		return nil, row{}, fmt.Errorf("create handover: %w", err)
	}
	start := time.Now()
	sr, err := cl.handover.SubmitHandover(ent, &handoverv1.SubmitHandoverRequest{Id: cr.Handover.Id})
	if err != nil {
		return nil, row{}, fmt.Errorf("submit handover: %w", err)
	}
	return sr.Handover, row{
		What:  fmt.Sprintf("handover: :submit of %s retirees (one BatchGetRetireeFacts call to registry)", formatCount(benchHandoverRetirees)),
		Value: fmt.Sprintf("%.2f s", time.Since(start).Seconds()),
	}, nil
}

// receive receives all of h's funds and archives and accepts its premises
// as the clerk whose token clerk carries.
func (cl *handoverClients) receive(clerk context.Context, h *handoverv1.Handover) error {
	if _, err := cl.handover.ReceiveFunds(clerk, &handoverv1.ReceiveFundsRequest{Id: h.Id, AmountFen: h.Funds.AmountFen,
		VoucherNo: "BENCH-1", ReceivedOn: time.Now().In(cst).Format(time.DateOnly)}); err != nil {
		return fmt.Errorf("receive funds: %w", err)
	}
	if _, err := cl.handover.ReceiveArchives(clerk, &handoverv1.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds}); err != nil {
		return fmt.Errorf("receive archives: %w", err)
	}
	if _, err := cl.handover.InspectPremises(clerk, &handoverv1.InspectPremisesRequest{Id: h.Id, PremisesId: "P1", Accepted: true}); err != nil {
		return fmt.Errorf("inspect premises: %w", err)
	}
	return nil
}

// complete completes package id as the clerk and returns the row of the
// time until registry and activity both show it.
func (cl *handoverClients) complete(ctx context.Context, h *harness, clerk context.Context, id string) (row, error) {
	h.log.Printf("completing the handover of %d retirees", benchHandoverRetirees)
	start := time.Now()
	if _, err := cl.handover.CompleteHandover(clerk, &handoverv1.CompleteHandoverRequest{Id: id}); err != nil {
		return row{}, fmt.Errorf("complete handover: %w", err)
	}
	completeCall := time.Since(start)
	registryAt, activityAt, err := cl.awaitShown(ctx, start)
	if err != nil {
		return row{}, err
	}
	total := max(registryAt, activityAt)
	return row{
		What:  fmt.Sprintf("handover: :complete of %s retirees and a clubhouse until registry's report and activity's venues show it", formatCount(benchHandoverRetirees)),
		Value: fmt.Sprintf("%.2f s", total.Seconds()),
		Compared: fmt.Sprintf(":complete answered in %s; registry at %.2f s, activity at %.2f s",
			formatLatency(completeCall), registryAt.Seconds(), activityAt.Seconds()),
		Goal:   fmt.Sprintf("≤ %.0f s", goalHandover.Seconds()),
		Result: verdict(total <= goalHandover),
	}, nil
}

// awaitShown polls registry and activity until both show the handover
// completed at start, and returns how long after start each did.
func (cl *handoverClients) awaitShown(ctx context.Context, start time.Time) (registryAt, activityAt time.Duration, err error) {
	for registryAt == 0 || activityAt == 0 {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		if time.Since(start) > 20*goalHandover {
			return 0, 0, fmt.Errorf("the handover did not show within %v (registry %v, activity %v)", 20*goalHandover, registryAt, activityAt)
		}
		if registryAt == 0 {
			n, err := communityManaged(ctx, cl.registry)
			if err != nil {
				return 0, 0, err
			}
			if n >= benchHandoverRetirees {
				registryAt = time.Since(start)
			}
		}
		if activityAt == 0 {
			resp, err := cl.activity.ListVenues(ctx, &activityv1.ListVenuesRequest{CommunityId: benchHandoverCommunity})
			if err != nil {
				return 0, 0, fmt.Errorf("list venues: %w", err)
			}
			if len(resp.Venues) > 0 {
				activityAt = time.Since(start)
			}
		}
		time.Sleep(handoverPoll)
	}
	return registryAt, activityAt, nil
}

// communityManaged is how many living retirees registry's report counts
// as COMMUNITY-managed in the scenario's community.
func communityManaged(ctx context.Context, registry registryv1.RegistryServiceClient) (int64, error) {
	resp, err := registry.GetSocialisationReport(ctx, &registryv1.GetSocialisationReportRequest{GroupBy: "community"})
	if err != nil {
		return 0, fmt.Errorf("socialisation report: %w", err)
	}
	for _, r := range resp.Rows {
		if r.Key == benchHandoverCommunity {
			return r.CommunityManaged, nil
		}
	}
	return 0, nil
}

// handoverStack is the programs of the handover scenario.
type handoverStack struct {
	registryAddr, activityAddr, handoverAddr string
	children                                 []*child
	h                                        *harness
}

func (s *handoverStack) stop() {
	for i := len(s.children) - 1; i >= 0; i-- {
		s.h.release(s.children[i])
	}
}

// startHandoverStack starts a registry, the activity program following it
// and the handover program in front of both, each with its own data
// directory. The token key is the private key: activity and handover mint
// their own service tokens, as in development.
func (h *harness) startHandoverStack(ctx context.Context, bin, actBin string) (*handoverStack, error) {
	st := &handoverStack{h: h}
	// start starts one program of the stack and returns its gRPC address;
	// after a failure it stops the ones already started.
	start := func(name, bin string, args ...string) (string, error) {
		p, err := h.startService(ctx, name, bin, args...)
		if err != nil {
			st.stop()
			return "", err
		}
		st.children = append(st.children, p.child)
		return p.grpcAddr, nil
	}
	var err error
	if st.registryAddr, err = start("handover-registry", filepath.Join(h.cfg.Bin, "registry"), "--id-key", h.idKey); err != nil {
		return nil, err
	}
	if st.activityAddr, err = start("handover-activity", actBin, "--registry-addr", st.registryAddr); err != nil {
		return nil, err
	}
	if st.handoverAddr, err = start("handover", bin, "--registry-addr", st.registryAddr, "--activity-addr", st.activityAddr); err != nil {
		return nil, err
	}
	return st, nil
}

// loadHandoverRetirees creates the community, an enterprise and its
// benchHandoverRetirees retirees, ENTERPRISE-managed and living in the
// community, and returns the enterprise's credit code and their ids.
func loadHandoverRetirees(ctx context.Context, h *harness, registry registryv1.RegistryServiceClient) (string, []string, error) {
	if _, err := registry.CreateCommunity(ctx, &registryv1.CreateCommunityRequest{Community: &registryv1.Community{
		Id: benchHandoverCommunity, Name: "五里河社区", District: "沈河区", Street: "五里河街道", Kind: registryv1.CommunityKind_WORK_UNIT, Households: 6000,
	}}); err != nil {
		return "", nil, fmt.Errorf("create community: %w", err)
	}
	code, err := creditcode.Build("91", "210100", "MA0HAND1")
	if err != nil {
		return "", nil, err
	}
	if _, err := registry.CreateEnterprise(ctx, &registryv1.CreateEnterpriseRequest{Enterprise: &registryv1.Enterprise{
		CreditCode: string(code), Name: "沈阳变压器厂", Ownership: registryv1.Ownership_STATE, Status: registryv1.EnterpriseStatus_OPERATING,
	}}); err != nil {
		return "", nil, fmt.Errorf("create enterprise: %w", err)
	}
	h.log.Printf("loading %d retirees of one enterprise for the handover", benchHandoverRetirees)
	ids := make([]string, benchHandoverRetirees)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(h.cfg.LoadConcurrency, 64) {
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < benchHandoverRetirees && ctx.Err() == nil; n = int(next.Add(1) - 1) {
				birth := time.Date(1945, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n%birthDays)
				id, err := idnumber.Build("210103", birth, n/birthDays%1000)
				if err != nil {
					cancel(err)
					return
				}
				resp, err := registry.CreateRetiree(ctx, &registryv1.CreateRetireeRequest{Retiree: &registryv1.Retiree{
					IdNumber: id.Digits(), Name: fmt.Sprintf("变压器厂职工%04d", n), RetirementDate: birth.AddDate(60, 0, 0).Format(time.DateOnly),
					EnterpriseCreditCode: string(code), CommunityId: benchHandoverCommunity, ManagementMode: registryv1.ManagementMode_ENTERPRISE,
				}})
				if err != nil {
					cancel(fmt.Errorf("create retiree %d: %w", n, err))
					return
				}
				ids[n] = resp.GetRetiree().GetId()
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return "", nil, err
	}
	return string(code), ids, nil
}

// handoverTokens returns contexts carrying the enterprise's token and the
// receiving clerk's, signed with the harness's key.
func (h *harness) handoverTokens(ctx context.Context, code string) (ent, clerk, bureau context.Context, err error) {
	priv, err := authn.LoadPrivateKey(h.tokenKey)
	if err != nil {
		return nil, nil, nil, err
	}
	signer := authn.NewSigner(priv)
	ttl := min(h.cfg.Timeout+time.Hour, authn.DefaultMaxLifetime)
	entTok, err := signer.Sign(authn.Principal{Subject: "bench-enterprise", Role: authn.RoleEnterprise, Enterprise: code}, ttl, time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	clerkTok, err := signer.Sign(authn.Principal{Subject: "bench-clerk", Role: authn.RoleClerk, Communities: []string{benchHandoverCommunity}}, ttl, time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	bureauTok, err := signer.Sign(authn.Principal{Subject: "bench-bureau", Role: authn.RoleBureau}, ttl, time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+entTok),
		metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+clerkTok),
		metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+bureauTok), nil
}

// benchPackage is the scenario's package: every retiree with a dossier,
// funds at 3,000 yuan a head, and a clubhouse.
func benchPackage(code string, ids []string) *handoverv1.Handover {
	p := &handoverv1.Handover{
		EnterpriseCreditCode: code,
		CommunityId:          benchHandoverCommunity,
		RetireeIds:           ids,
		Funds:                &handoverv1.Funds{AmountFen: 300_000 * int64(len(ids)), PerRetireeStandardFen: 300_000},
		Premises:             []*handoverv1.Premises{{Name: "变压器厂职工俱乐部", Address: "沈河区五里河街8号", AreaSqm: 860, Capacity: 300, Use: "文体活动"}},
	}
	for i, id := range ids {
		p.Dossiers = append(p.Dossiers, &handoverv1.Dossier{RetireeId: id, DossierNo: fmt.Sprintf("BYQ-%05d", i+1), Volumes: 2,
			Checklist: everyMaterial})
	}
	return p
}

// everyMaterial is the checklist of a dossier holding every material an
// enterprise retiree's file must hold, so that receiving it settles it.
var everyMaterial = []handoverv1.ArchiveCategory{
	handoverv1.ArchiveCategory_RESUME, handoverv1.ArchiveCategory_AUTOBIOGRAPHY, handoverv1.ArchiveCategory_APPRAISAL,
	handoverv1.ArchiveCategory_EDUCATION_TITLES, handoverv1.ArchiveCategory_WAGES_APPOINTMENTS,
}
