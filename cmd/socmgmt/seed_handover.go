package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/authn"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// defaultHandoverAddr is where `make run` starts the handover service.
	defaultHandoverAddr = "127.0.0.1:9102"
	// handoverSize bounds the retirees of one seeded package.
	handoverSize = 20
	// handoverStandardFen is the funds per retiree of a seeded package:
	// 3,000 yuan.
	handoverStandardFen = 300_000
	// deliveryWait bounds the wait for the completed package's outbox.
	deliveryWait = 15 * time.Second
)

// seededStates are the states the seed leaves its packages in, one
// package each, every state of the workflow.
var seededStates = []handoverv1.Handover_State{
	handoverv1.Handover_COMPLETED, handoverv1.Handover_SUBMITTED, handoverv1.Handover_RETURNED,
	handoverv1.Handover_DRAFT, handoverv1.Handover_WITHDRAWN,
}

// handoverPick is the enterprise, community and retirees of one package.
type handoverPick struct {
	enterprise *registryv1.Enterprise
	community  string
	retirees   []string
}

// seedHandovers gives the demo city a handover package in each state of
// the workflow, each from a different enterprise still managing its
// retirees, taken through the steps as the enterprise and the receiving
// clerk would. States that a package of the city's enterprises already
// has are left alone, so that a second run adds nothing. An unreachable
// handover service is skipped with a note.
func seedHandovers(ctx context.Context, cfg seedConfig, priv ed25519.PrivateKey, registry registryv1.RegistryServiceClient, plan *cityPlan, out, progress io.Writer) error {
	// No call credentials: each step carries the token of the enterprise
	// or clerk who takes it.
	conn, err := dialOptional(ctx, cfg, "handover", cfg.handoverAddr, nil, progress, "handovers")
	if conn == nil {
		return err
	}
	defer conn.Close()
	hs := &handoverSeeder{
		client:   handoverv1.NewHandoverServiceClient(conn),
		registry: registry,
		signer:   authn.NewSigner(priv),
		progress: progress,
	}
	start := time.Now()
	created, present, err := hs.seed(ctx, plan)
	names := make([]string, len(created))
	for i, s := range created {
		names[i] = s.String()
	}
	fmt.Fprintf(out, "Seeded handovers into the handover service at %s in %v: %d created (%s), %d states already present\n",
		cfg.handoverAddr, time.Since(start).Round(100*time.Millisecond), len(created), strings.Join(names, ", "), present)
	if err != nil {
		return err
	}
	existing, used, err := hs.existing(ctx)
	if err != nil {
		return err
	}
	n, err := hs.seedAgreements(ctx, plan, existing, used)
	fmt.Fprintf(out, "Seeded %d agreements with a street office, allocated to %d communities each\n", n, agreementParts)
	if err != nil {
		return err
	}
	if existing, used, err = hs.existing(ctx); err != nil {
		return err
	}
	n, err = hs.seedMonthly(ctx, plan, existing, used)
	fmt.Fprintf(out, "Seeded %d monthly new-retiree handovers in one batch\n", n)
	return err
}

// handoverSeeder drives packages through the workflow with the tokens of
// the enterprises and clerks involved.
type handoverSeeder struct {
	client   handoverv1.HandoverServiceClient
	registry registryv1.RegistryServiceClient
	signer   *authn.Signer
	progress io.Writer
}

// as returns ctx with a token for p.
func (hs *handoverSeeder) as(ctx context.Context, p authn.Principal) (context.Context, error) {
	tok, err := hs.signer.Sign(p, seedTokenTTL, time.Now())
	if err != nil {
		return nil, err
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), nil
}

// seed creates the packages of the states not yet present.
func (hs *handoverSeeder) seed(ctx context.Context, plan *cityPlan) (created []handoverv1.Handover_State, present int, err error) {
	existing, used, err := hs.existing(ctx)
	if err != nil {
		return nil, 0, err
	}
	ours := map[string]bool{}
	for _, e := range plan.Enterprises {
		ours[e.CreditCode] = true
	}
	have := map[handoverv1.Handover_State]bool{}
	for _, h := range existing {
		// Agreements without a community and monthly packages are
		// seedAgreements' and seedMonthly's own.
		if ours[h.EnterpriseCreditCode] && h.CommunityId != "" && h.Kind != handoverv1.Handover_MONTHLY_NEW_RETIREES {
			have[h.State] = true
		}
	}
	var missing []handoverv1.Handover_State
	for _, s := range seededStates {
		if have[s] {
			present++
		} else {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil, present, nil
	}
	picks, err := hs.pick(ctx, plan, len(missing), used)
	if err != nil {
		return nil, present, err
	}
	if len(picks) < len(missing) {
		fmt.Fprintf(hs.progress, "seed: only %d enterprises still manage retirees of their own; seeding %d of %d handover states\n",
			len(picks), len(picks), len(missing))
	}
	for i, p := range picks {
		state := missing[i]
		hs.logf("handover %s: %d retirees of %s to community %s", state, len(p.retirees), p.enterprise.CreditCode, p.community)
		if err := hs.drive(ctx, p, state); err != nil {
			return created, present, fmt.Errorf("seed a %s handover: %w", state, err)
		}
		created = append(created, state)
	}
	return created, present, nil
}

// existing lists every stored handover, and the retirees they name.
func (hs *handoverSeeder) existing(ctx context.Context) ([]*handoverv1.Handover, map[string]bool, error) {
	admin, err := hs.as(ctx, authn.Principal{Subject: "socmgmt-seed", Role: authn.RoleAdmin})
	if err != nil {
		return nil, nil, err
	}
	var all []*handoverv1.Handover
	used := map[string]bool{}
	err = eachPage(func(token string) (string, error) {
		resp, err := hs.client.ListHandovers(admin, &handoverv1.ListHandoversRequest{PageSize: 1000, PageToken: token})
		for _, h := range resp.GetHandovers() {
			all = append(all, h)
			for _, id := range h.RetireeIds {
				used[id] = true
			}
		}
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list handovers: %w", err)
	}
	return all, used, nil
}

// pick finds up to n enterprises, in the plan's order, with at least two
// living retirees they still manage in one community (none of them in a
// package already), and takes up to handoverSize of those. The registry
// client carries the seed's admin credentials itself.
func (hs *handoverSeeder) pick(ctx context.Context, plan *cityPlan, n int, used map[string]bool) ([]handoverPick, error) {
	var out []handoverPick
	for _, e := range plan.Enterprises {
		if len(out) == n {
			break
		}
		if e.Status != registryv1.EnterpriseStatus_OPERATING {
			continue
		}
		byCommunity, err := hs.unusedRetirees(ctx, e, used)
		if err != nil {
			return nil, err
		}
		best := ""
		for c, ids := range byCommunity {
			if len(ids) > len(byCommunity[best]) || (len(ids) == len(byCommunity[best]) && c < best) {
				best = c
			}
		}
		if ids := byCommunity[best]; len(ids) >= 2 {
			slices.Sort(ids)
			out = append(out, handoverPick{enterprise: e, community: best, retirees: ids[:min(len(ids), handoverSize)]})
		}
	}
	return out, nil
}

// unusedRetirees lists, by community, the living retirees enterprise e
// still manages itself that no package names yet.
func (hs *handoverSeeder) unusedRetirees(ctx context.Context, e *registryv1.Enterprise, used map[string]bool) (map[string][]string, error) {
	byCommunity := map[string][]string{}
	err := eachPage(func(token string) (string, error) {
		resp, err := hs.registry.ListRetirees(ctx, &registryv1.ListRetireesRequest{
			EnterpriseCreditCode: e.CreditCode, ManagementMode: registryv1.ManagementMode_ENTERPRISE,
			Status: registryv1.RetireeStatus_LIVING, PageSize: 1000, PageToken: token,
		})
		for _, r := range resp.GetRetirees() {
			if !used[r.Id] {
				byCommunity[r.CommunityId] = append(byCommunity[r.CommunityId], r.Id)
			}
		}
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		return nil, fmt.Errorf("list retirees of %s: %w", e.CreditCode, err)
	}
	return byCommunity, nil
}

// packageOf is the package of p: a dossier per retiree, funds at the
// standard, the enterprise's clubhouse and its pension items outside the
// pooling.
func packageOf(p handoverPick) *handoverv1.Handover {
	h := &handoverv1.Handover{
		EnterpriseCreditCode: p.enterprise.CreditCode,
		CommunityId:          p.community,
		RetireeIds:           p.retirees,
		Funds:                &handoverv1.Funds{AmountFen: handoverStandardFen * int64(len(p.retirees)), PerRetireeStandardFen: handoverStandardFen},
		Premises: []*handoverv1.Premises{{
			Name: "老干部活动室", Address: "原厂区生活区3号楼一层", AreaSqm: 120, Capacity: 40, Use: "棋牌、阅览、健身",
		}},
		Obligations: []*handoverv1.Obligation{{
			Kind: handoverv1.Obligation_PENSION_OUTSIDE_POOLING, Description: "统筹外养老金补贴",
			MonthlyAmountFen: 15_000 * int64(len(p.retirees)), Until: "2030-12-31",
		}},
	}
	all := []handoverv1.ArchiveCategory{
		handoverv1.ArchiveCategory_RESUME, handoverv1.ArchiveCategory_AUTOBIOGRAPHY, handoverv1.ArchiveCategory_APPRAISAL,
		handoverv1.ArchiveCategory_EDUCATION_TITLES, handoverv1.ArchiveCategory_POLITICAL_REVIEW, handoverv1.ArchiveCategory_PARTY_LEAGUE,
		handoverv1.ArchiveCategory_AWARDS, handoverv1.ArchiveCategory_DISCIPLINE, handoverv1.ArchiveCategory_WAGES_APPOINTMENTS,
		handoverv1.ArchiveCategory_OTHER_MATERIALS,
	}
	for i, id := range p.retirees {
		h.Dossiers = append(h.Dossiers, &handoverv1.Dossier{
			RetireeId: id, DossierNo: fmt.Sprintf("%s-%03d", p.enterprise.CreditCode[8:16], i+1), Volumes: int32(1 + i%3),
			Checklist: all[:6+i%5],
		})
	}
	return h
}

// drive creates p's package and takes it to state.
func (hs *handoverSeeder) drive(ctx context.Context, p handoverPick, state handoverv1.Handover_State) error {
	ent, err := hs.as(ctx, authn.Principal{Subject: "seed-enterprise-" + p.enterprise.CreditCode, Role: authn.RoleEnterprise, Enterprise: p.enterprise.CreditCode})
	if err != nil {
		return err
	}
	clerk, err := hs.as(ctx, authn.Principal{Subject: "seed-clerk-" + p.community, Role: authn.RoleClerk, Communities: []string{p.community}})
	if err != nil {
		return err
	}
	c := hs.client
	cr, err := c.CreateHandover(ent, &handoverv1.CreateHandoverRequest{Handover: packageOf(p)})
	if err != nil {
		return err
	}
	h := cr.Handover
	if state == handoverv1.Handover_DRAFT {
		return nil
	}
	sr, err := c.SubmitHandover(ent, &handoverv1.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		return err
	}
	h = sr.Handover
	switch state {
	case handoverv1.Handover_WITHDRAWN:
		_, err = c.WithdrawHandover(ent, &handoverv1.WithdrawHandoverRequest{Id: h.Id, Reason: "企业改制重组，移交暂缓"})
		return err
	case handoverv1.Handover_RETURNED:
		_, err = c.ReturnHandover(clerk, &handoverv1.ReturnHandoverRequest{Id: h.Id, Reason: "人事档案目录与实物不符，请核对后重新提交"})
		return err
	}
	// SUBMITTED is left half-way: part of the funds and of the archives
	// in. COMPLETED goes the whole way.
	if err := hs.receiveFirstHalf(clerk, h); err != nil || state == handoverv1.Handover_SUBMITTED {
		return err
	}
	bureau, err := hs.as(ctx, authn.Principal{Subject: "seed-bureau", Role: authn.RoleBureau})
	if err != nil {
		return err
	}
	if _, err := c.VerifyRoster(bureau, &handoverv1.VerifyRosterRequest{Id: h.Id, DocumentSha256: rosterDigest(h), Note: "花名册已核对，签字盖章"}); err != nil {
		return err
	}
	if err := hs.complete(clerk, h); err != nil {
		return err
	}
	return hs.awaitDelivery(clerk, h.Id)
}

// receiveFirstHalf receives, as the clerk whose token ctx carries, half of
// h's funds and the archives of the first half of its retirees.
func (hs *handoverSeeder) receiveFirstHalf(clerk context.Context, h *handoverv1.Handover) error {
	first := h.Funds.AmountFen / 2
	if _, err := hs.client.ReceiveFunds(clerk, &handoverv1.ReceiveFundsRequest{Id: h.Id, AmountFen: first, VoucherNo: "YJ-" + h.Id[len(h.Id)-6:] + "-1", ReceivedOn: dateDaysAgo(30)}); err != nil {
		return err
	}
	half := h.RetireeIds[:len(h.RetireeIds)/2]
	_, err := hs.client.ReceiveArchives(clerk, &handoverv1.ReceiveArchivesRequest{Id: h.Id, Dossiers: dossierReceipts(h, half)})
	return err
}

// dossierReceipts are the receipts of the dossiers of ids in h: a
// dossier whose checklist lacks the wage and appointment records, which
// every file must hold, arrives with that material explained in writing.
func dossierReceipts(h *handoverv1.Handover, ids []string) []*handoverv1.DossierReceipt {
	lacks := make(map[string]bool, len(h.Dossiers))
	for _, d := range h.Dossiers {
		lacks[d.RetireeId] = !slices.Contains(d.Checklist, handoverv1.ArchiveCategory_WAGES_APPOINTMENTS)
	}
	out := make([]*handoverv1.DossierReceipt, len(ids))
	for i, id := range ids {
		out[i] = &handoverv1.DossierReceipt{RetireeId: id}
		if lacks[id] {
			out[i].MissingMaterials = []*handoverv1.MissingMaterial{{
				Category: handoverv1.ArchiveCategory_WAGES_APPOINTMENTS, Explanation: "工资材料由原单位劳资科出具书面证明",
			}}
		}
	}
	return out
}

// complete receives the rest of h's funds and archives (one dossier
// explained as missing), accepts its premises and completes it, as the
// clerk after receiveFirstHalf.
func (hs *handoverSeeder) complete(clerk context.Context, h *handoverv1.Handover) error {
	c := hs.client
	total := h.Funds.AmountFen
	first := total / 2
	if _, err := c.ReceiveFunds(clerk, &handoverv1.ReceiveFundsRequest{Id: h.Id, AmountFen: total - first, VoucherNo: "YJ-" + h.Id[len(h.Id)-6:] + "-2", ReceivedOn: dateDaysAgo(7)}); err != nil {
		return err
	}
	rest := h.RetireeIds[len(h.RetireeIds)/2:]
	missing := []*handoverv1.MissingDossier{{RetireeId: rest[len(rest)-1], Explanation: "档案早年遗失，原单位已出具证明材料"}}
	if _, err := c.ReceiveArchives(clerk, &handoverv1.ReceiveArchivesRequest{Id: h.Id, Dossiers: dossierReceipts(h, rest[:len(rest)-1]), Missing: missing}); err != nil {
		return err
	}
	for _, pr := range h.Premises {
		if _, err := c.InspectPremises(clerk, &handoverv1.InspectPremisesRequest{Id: h.Id, PremisesId: pr.Id, Accepted: true, Notes: "房屋完好，可作社区活动场所"}); err != nil {
			return err
		}
	}
	done, err := c.CompleteHandover(clerk, &handoverv1.CompleteHandoverRequest{Id: h.Id})
	if err != nil {
		return err
	}
	hs.logf("handover %s completed; waiting up to %v for its delivery to registry and activity", done.Handover.Id, deliveryWait)
	return nil
}

// rosterDigest stands for the SHA-256 of the signed and stamped roster
// of h, as the bureau would scan it: the hash of its retiree ids.
func rosterDigest(h *handoverv1.Handover) string {
	sum := sha256.Sum256([]byte(strings.Join(h.RetireeIds, "\n")))
	return hex.EncodeToString(sum[:])
}

// awaitDelivery waits up to deliveryWait for the outbox of the completed
// package id to deliver it; a delivery still pending then is noted, not
// an error, as the outbox keeps trying. clerk carries the token it polls
// with and, being the seed's context underneath, ends the wait when the
// seed is cancelled.
func (hs *handoverSeeder) awaitDelivery(clerk context.Context, id string) error {
	deadline := time.Now().Add(deliveryWait)
	for {
		got, err := hs.client.GetHandover(clerk, &handoverv1.GetHandoverRequest{Id: id})
		if err != nil {
			return err
		}
		d := got.Handover.Delivery
		if d.GetState() == handoverv1.Delivery_DELIVERED {
			return nil
		}
		if time.Now().After(deadline) {
			hs.logf("handover %s: delivery still pending (%d of %d commands; last error: %s); the outbox keeps trying",
				id, d.GetDelivered(), d.GetCommands(), d.GetLastError())
			return nil
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-clerk.Done():
			return clerk.Err()
		}
	}
}

// dateDaysAgo is the date n days ago in China.
func dateDaysAgo(n int) string {
	return time.Now().In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, -n).Format(time.DateOnly)
}

func (hs *handoverSeeder) logf(format string, args ...any) {
	fmt.Fprintf(hs.progress, "seed: "+format+"\n", args...)
}
