package main

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/socmgmt/socmgmt/internal/authn"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The seed's agreements: an enterprise's agreement with the street office
// where its retirees live, allocated to three of the street's
// communities. One goes the whole way, each track settled by its own
// receiver; the other is left with every track that applies open, so
// that the demo city shows each track in each state (NOT_APPLICABLE,
// OPEN, COMPLETED).

const (
	// agreementParts is how many communities an agreement is allocated to.
	agreementParts = 3
	// agreementPerCommunity bounds the retirees of each part.
	agreementPerCommunity = 4
)

// agreementPick is the enterprise, receiving unit (a street office, or
// the district when no street office has enough of its retirees) and
// retirees (by the community they live in) of one agreement.
type agreementPick struct {
	enterprise *registryv1.Enterprise
	unit       string
	parts      map[string][]string
}

// retirees lists the pick's retirees, community by community.
func (p agreementPick) retirees() []string {
	var out []string
	for _, c := range slices.Sorted(maps.Keys(p.parts)) {
		out = append(out, p.parts[c]...)
	}
	return out
}

// seedAgreements adds the completed and the open agreement unless the
// city's enterprises have them already (an agreement without a
// community, completed or submitted).
func (hs *handoverSeeder) seedAgreements(ctx context.Context, plan *cityPlan, existing []*handoverv1.Handover, used map[string]bool) (created int, err error) {
	ours := map[string]bool{}
	for _, e := range plan.Enterprises {
		ours[e.CreditCode] = true
	}
	have := map[handoverv1.Handover_State]bool{}
	for _, h := range existing {
		if ours[h.EnterpriseCreditCode] && h.CommunityId == "" {
			have[h.State] = true
		}
	}
	// The open agreement leaves one part unallocated: two communities do.
	for _, want := range []struct {
		state handoverv1.Handover_State
		parts int
	}{{handoverv1.Handover_COMPLETED, agreementParts}, {handoverv1.Handover_SUBMITTED, 2}} {
		state, parts := want.state, want.parts
		if have[state] {
			continue
		}
		p, ok, err := hs.pickAgreement(ctx, plan, used, parts)
		if err != nil || !ok {
			if !ok && err == nil {
				fmt.Fprintf(hs.progress, "seed: no enterprise manages retirees in %d communities of one district; no %s agreement\n", parts, state)
			}
			return created, err
		}
		hs.logf("agreement %s: %d retirees of %s with unit %s, in %d communities", state, len(p.retirees()), p.enterprise.CreditCode, p.unit, len(p.parts))
		if err := hs.driveAgreement(ctx, p, state); err != nil {
			return created, fmt.Errorf("seed a %s agreement: %w", state, err)
		}
		for _, id := range p.retirees() {
			used[id] = true
		}
		created++
	}
	return created, nil
}

// pickAgreement finds the first operating enterprise, in the plan's
// order, with living retirees it still manages (none in a package) in
// parts communities of one street office, or else of one district.
func (hs *handoverSeeder) pickAgreement(ctx context.Context, plan *cityPlan, used map[string]bool, parts int) (agreementPick, bool, error) {
	for _, unitLen := range []int{9, 6} {
		for _, e := range plan.Enterprises {
			if e.Status != registryv1.EnterpriseStatus_OPERATING {
				continue
			}
			p, ok, err := hs.pickIn(ctx, e, used, unitLen, parts)
			if err != nil || ok {
				return p, ok, err
			}
		}
	}
	return agreementPick{}, false, nil
}

// pickIn picks e's retirees in parts communities of one unit, a street
// office (unitLen 9) or district (6), taking the first such unit.
func (hs *handoverSeeder) pickIn(ctx context.Context, e *registryv1.Enterprise, used map[string]bool, unitLen, parts int) (agreementPick, bool, error) {
	byCommunity, err := hs.unusedRetirees(ctx, e, used)
	if err != nil {
		return agreementPick{}, false, err
	}
	byUnit := map[string]map[string][]string{}
	for c, ids := range byCommunity {
		unit := c[:unitLen]
		if byUnit[unit] == nil {
			byUnit[unit] = map[string][]string{}
		}
		byUnit[unit][c] = ids
	}
	for _, unit := range slices.Sorted(maps.Keys(byUnit)) {
		communities := byUnit[unit]
		if len(communities) < parts {
			continue
		}
		p := agreementPick{enterprise: e, unit: unit, parts: map[string][]string{}}
		for _, c := range slices.Sorted(maps.Keys(communities))[:parts] {
			ids := communities[c]
			slices.Sort(ids)
			p.parts[c] = ids[:min(len(ids), agreementPerCommunity)]
		}
		return p, true, nil
	}
	return agreementPick{}, false, nil
}

// agreementOf is p's agreement: the package packageOf would make, made
// with the receiving unit instead of one community, with a plan, and its
// funds typed.
func agreementOf(p agreementPick) *handoverv1.Handover {
	ids := p.retirees()
	h := packageOf(handoverPick{enterprise: p.enterprise, retirees: ids})
	h.CommunityId, h.ReceiverCode = "", p.unit
	h.Funds.Items = []*handoverv1.FundsItem{
		{Kind: handoverv1.FundsItem_SERVICE_FEES, AmountFen: h.Funds.AmountFen / 2, Description: "社区服务管理费"},
		{Kind: handoverv1.FundsItem_PENSION_OUTSIDE_POOLING, AmountFen: h.Funds.AmountFen - h.Funds.AmountFen/2, Description: "统筹外项目一次性结算"},
	}
	var volumes int32
	for _, d := range h.Dossiers {
		volumes += d.Volumes
	}
	h.Plan = &handoverv1.HandoverPlan{
		Retirees:       int32(len(ids)),               //nolint:gosec // G115: at most agreementParts × agreementPerCommunity
		PartyMembers:   int32(len(partyMembersOf(p))), //nolint:gosec // G115: at most 2
		ArchiveVolumes: volumes, Assets: "老干部活动室一处（120平方米）",
		StartOn: dateDaysAgo(60), FinishBy: dateDaysAgo(-30), EmergencyPlanRef: "移交应急预案〔2026〕" + p.unit[4:],
		AgreementNo: "移交协议〔2026〕" + p.enterprise.CreditCode[8:14],
	}
	return h
}

// agreementActors are the tokens of the parties of an agreement: street
// is the receiving unit's supervisor, a street office's or a district's.
type agreementActors struct {
	enterprise, street, bureau, archivist context.Context
}

// unitSupervisor is the seed's supervisor of a street office or district.
func unitSupervisor(unit string) authn.Principal {
	if len(unit) == 6 {
		return authn.Principal{Subject: "seed-district-" + unit, Role: authn.RoleDistrict, District: unit}
	}
	return authn.Principal{Subject: "seed-street-" + unit, Role: authn.RoleStreet, Street: unit}
}

func (hs *handoverSeeder) agreementActors(ctx context.Context, p agreementPick) (agreementActors, error) {
	var a agreementActors
	var err error
	for _, step := range []struct {
		dst *context.Context
		p   authn.Principal
	}{
		{&a.enterprise, authn.Principal{Subject: "seed-enterprise-" + p.enterprise.CreditCode, Role: authn.RoleEnterprise, Enterprise: p.enterprise.CreditCode}},
		{&a.street, unitSupervisor(p.unit)},
		{&a.bureau, authn.Principal{Subject: "seed-bureau", Role: authn.RoleBureau}},
		{&a.archivist, authn.Principal{Subject: "seed-archivist-" + p.unit[:6], Role: authn.RoleArchivist, District: p.unit[:6]}},
	} {
		if *step.dst, err = hs.as(ctx, step.p); err != nil {
			return a, err
		}
	}
	return a, nil
}

// driveAgreement creates p's agreement, submits it and allocates its
// parts. A COMPLETED one then has every track settled by its receiver
// and is completed; a SUBMITTED one keeps its last part unallocated,
// half its archives and funds in, its premises uninspected and its
// roster unverified.
func (hs *handoverSeeder) driveAgreement(ctx context.Context, p agreementPick, state handoverv1.Handover_State) error {
	a, err := hs.agreementActors(ctx, p)
	if err != nil {
		return err
	}
	c := hs.client
	cr, err := c.CreateHandover(a.enterprise, &handoverv1.CreateHandoverRequest{Handover: agreementOf(p)})
	if err != nil {
		return err
	}
	members := partyMembersOf(p)
	if _, err := c.SetPartyMembers(a.enterprise, &handoverv1.SetPartyMembersRequest{Id: cr.Handover.Id, Members: members}); err != nil {
		return fmt.Errorf("declare party members: %w", err)
	}
	sr, err := c.SubmitHandover(a.enterprise, &handoverv1.SubmitHandoverRequest{Id: cr.Handover.Id})
	if err != nil {
		return err
	}
	h := sr.Handover
	communities := slices.Sorted(maps.Keys(p.parts))
	if state != handoverv1.Handover_COMPLETED {
		communities = communities[:len(communities)-1]
	}
	for _, community := range communities {
		if _, err := c.AllocateRetirees(a.street, &handoverv1.AllocateRetireesRequest{Id: h.Id, CommunityId: community, RetireeIds: p.parts[community]}); err != nil {
			return err
		}
	}
	stages := []handoverv1.PartyTransfer_State{handoverv1.PartyTransfer_SENT, handoverv1.PartyTransfer_RECEIVED, handoverv1.PartyTransfer_CONFIRMED}
	if state != handoverv1.Handover_COMPLETED {
		// One letter sent, the other member's not yet.
		if err := hs.transferParty(a, h, members[:1], stages[:1]); err != nil {
			return err
		}
		return hs.receiveAgreementHalf(a, h)
	}
	if err := hs.transferParty(a, h, members, stages); err != nil {
		return err
	}
	if err := hs.completeAgreement(a, h, communities[0]); err != nil {
		return err
	}
	return hs.keepInCustody(ctx, a, h.Id)
}

// partyMembersOf are the party members of p's agreement: its first two
// retirees, members of the enterprise's party committee.
func partyMembersOf(p agreementPick) []*handoverv1.PartyMember {
	ids := p.retirees()
	out := make([]*handoverv1.PartyMember, 0, 2)
	for _, id := range ids[:min(2, len(ids))] {
		out = append(out, &handoverv1.PartyMember{RetireeId: id, FromOrganisation: p.enterprise.Name + "党委"})
	}
	return out
}

// transferParty records stages of the members' party membership
// transfers to the street's party working committee, as the receiving
// unit's supervisor, a few days apart.
func (hs *handoverSeeder) transferParty(a agreementActors, h *handoverv1.Handover, members []*handoverv1.PartyMember, stages []handoverv1.PartyTransfer_State) error {
	for i, m := range members {
		for j, stage := range stages {
			req := &handoverv1.RecordPartyTransferRequest{Id: h.Id, RetireeId: m.RetireeId, Stage: stage, Date: dateDaysAgo(20 - 5*j)}
			if stage == handoverv1.PartyTransfer_SENT {
				req.IntroductionLetterNo = fmt.Sprintf("组介字〔2026〕%s%02d号", h.Id[len(h.Id)-3:], i+1)
				req.ToOrganisation = "街道党工委"
				req.ReceivingLevel = handoverv1.PartyTransfer_STREET
			}
			if _, err := hs.client.RecordPartyTransfer(a.street, req); err != nil {
				return fmt.Errorf("party transfer %v: %w", stage, err)
			}
		}
	}
	return nil
}

// keepInCustody shelves the files the completed agreement put in the
// archivist's custody, and lends the first out (approved by a second
// archivist) and lets the second be read and returned.
func (hs *handoverSeeder) keepInCustody(ctx context.Context, a agreementActors, handoverID string) error {
	got, err := hs.client.GetHandover(a.archivist, &handoverv1.GetHandoverRequest{Id: handoverID})
	if err != nil {
		return err
	}
	var files []string
	for _, d := range got.Handover.Dossiers {
		if d.ArchiveFileId != "" {
			files = append(files, d.ArchiveFileId)
		}
	}
	if len(files) < 2 {
		return fmt.Errorf("agreement %s put %d files in custody, want at least 2", handoverID, len(files))
	}
	checker, err := hs.as(ctx, authn.Principal{Subject: "seed-archivist-2", Role: authn.RoleArchivist, District: got.Handover.ReceiverCode[:6]})
	if err != nil {
		return err
	}
	c := hs.client
	for i, id := range files {
		if _, err := c.ShelveArchiveFile(a.archivist, &handoverv1.ShelveArchiveFileRequest{Id: id, ShelfLocation: fmt.Sprintf("A区-%02d架-%d层", 1+i/6, 1+i%6)}); err != nil {
			return fmt.Errorf("shelve: %w", err)
		}
	}
	loans := []struct {
		kind    handoverv1.ArchiveLoan_Kind
		who     string
		purpose string
	}{
		{handoverv1.ArchiveLoan_LOAN, "区人社局养老保险科", "核定视同缴费年限"},
		{handoverv1.ArchiveLoan_READING, "本人子女", "办理遗属待遇前查阅工作经历"},
	}
	for i, l := range loans {
		if _, err := c.RequestArchiveLoan(a.archivist, &handoverv1.RequestArchiveLoanRequest{Id: files[i], Kind: l.kind, Borrower: l.who, Purpose: l.purpose, DueOn: dateDaysAgo(-14)}); err != nil {
			return fmt.Errorf("request a loan: %w", err)
		}
		if _, err := c.DecideArchiveLoan(checker, &handoverv1.DecideArchiveLoanRequest{Id: files[i], Approved: true, Note: "经审批同意"}); err != nil {
			return fmt.Errorf("approve a loan: %w", err)
		}
	}
	_, err = c.ReturnArchiveFile(a.archivist, &handoverv1.ReturnArchiveFileRequest{Id: files[1]})
	return err
}

// receiveAgreementHalf receives half of h's archives (as the archivist)
// and of its funds (as the street office).
func (hs *handoverSeeder) receiveAgreementHalf(a agreementActors, h *handoverv1.Handover) error {
	half := h.RetireeIds[:len(h.RetireeIds)/2]
	if _, err := hs.client.ReceiveArchives(a.archivist, &handoverv1.ReceiveArchivesRequest{Id: h.Id, Dossiers: dossierReceipts(h, half)}); err != nil {
		return err
	}
	_, err := hs.client.ReceiveFunds(a.street, &handoverv1.ReceiveFundsRequest{
		Id: h.Id, AmountFen: h.Funds.AmountFen / 2, VoucherNo: "XY-" + h.Id[len(h.Id)-6:] + "-1", ReceivedOn: dateDaysAgo(10),
	})
	return err
}

// completeAgreement settles every track of h, each by its own receiver,
// and completes it as the street office; the premises become a venue of
// venueCommunity.
func (hs *handoverSeeder) completeAgreement(a agreementActors, h *handoverv1.Handover, venueCommunity string) error {
	c := hs.client
	if _, err := c.VerifyRoster(a.bureau, &handoverv1.VerifyRosterRequest{Id: h.Id, DocumentSha256: rosterDigest(h), Note: "花名册已核对，签字盖章"}); err != nil {
		return err
	}
	missing := []*handoverv1.MissingDossier{{RetireeId: h.RetireeIds[0], Explanation: "档案早年遗失，原单位已出具书面证明"}}
	if _, err := c.ReceiveArchives(a.archivist, &handoverv1.ReceiveArchivesRequest{Id: h.Id, Dossiers: dossierReceipts(h, h.RetireeIds[1:]), Missing: missing}); err != nil {
		return err
	}
	if _, err := c.ReceiveFunds(a.street, &handoverv1.ReceiveFundsRequest{
		Id: h.Id, AmountFen: h.Funds.AmountFen, VoucherNo: "XY-" + h.Id[len(h.Id)-6:] + "-1", ReceivedOn: dateDaysAgo(10),
	}); err != nil {
		return err
	}
	for _, pr := range h.Premises {
		if _, err := c.InspectPremises(a.street, &handoverv1.InspectPremisesRequest{
			Id: h.Id, PremisesId: pr.Id, Accepted: true, Notes: "房屋完好，向社会开放", GroupApprovalRef: "集团批复〔2026〕" + h.Id[len(h.Id)-4:], CommunityId: venueCommunity,
		}); err != nil {
			return err
		}
	}
	done, err := c.CompleteHandover(a.street, &handoverv1.CompleteHandoverRequest{Id: h.Id})
	if err != nil {
		return err
	}
	hs.logf("agreement %s completed; waiting up to %v for its delivery", done.Handover.Id, deliveryWait)
	return hs.awaitDelivery(a.street, h.Id)
}

// seedMonthly adds, unless the city's enterprises have one already, an
// enterprise's monthly new-retiree handovers created in one batch: the
// earlier month's taken to completion (which leaves the community's
// clerk its tasks, the first contact card issued), the later month's
// left submitted.
func (hs *handoverSeeder) seedMonthly(ctx context.Context, plan *cityPlan, existing []*handoverv1.Handover, used map[string]bool) (int, error) {
	ours := map[string]bool{}
	for _, e := range plan.Enterprises {
		ours[e.CreditCode] = true
	}
	for _, h := range existing {
		if ours[h.EnterpriseCreditCode] && h.Kind == handoverv1.Handover_MONTHLY_NEW_RETIREES {
			return 0, nil
		}
	}
	picks, err := hs.pick(ctx, plan, 1, used)
	if err != nil || len(picks) == 0 {
		if err == nil {
			fmt.Fprintln(hs.progress, "seed: no enterprise has two retirees left to hand over; no monthly handovers")
		}
		return 0, err
	}
	p := picks[0]
	half := len(p.retirees) / 2
	batch := make([]*handoverv1.Handover, 0, 2)
	for _, ids := range [][]string{p.retirees[:half], p.retirees[half:]} {
		h := packageOf(handoverPick{enterprise: p.enterprise, community: p.community, retirees: ids})
		h.Kind, h.Funds, h.Premises = handoverv1.Handover_MONTHLY_NEW_RETIREES, nil, nil
		batch = append(batch, h)
	}
	ent, err := hs.as(ctx, authn.Principal{Subject: "seed-enterprise-" + p.enterprise.CreditCode, Role: authn.RoleEnterprise, Enterprise: p.enterprise.CreditCode})
	if err != nil {
		return 0, err
	}
	resp, err := hs.client.BatchCreateHandovers(ent, &handoverv1.BatchCreateHandoversRequest{Handovers: batch})
	if err != nil {
		return 0, fmt.Errorf("batch create: %w", err)
	}
	hs.logf("monthly handovers: %d packages of %s for community %s", len(resp.Handovers), p.enterprise.CreditCode, p.community)
	for _, h := range resp.Handovers {
		if _, err := hs.client.SubmitHandover(ent, &handoverv1.SubmitHandoverRequest{Id: h.Id}); err != nil {
			return 0, err
		}
	}
	return len(resp.Handovers), hs.completeMonthly(ctx, p.community, resp.Handovers[0])
}

// completeMonthly takes a submitted monthly package to completion (the
// bureau verifies, the clerk receives the archives and completes) and
// has the clerk record the first contact card it then owes.
func (hs *handoverSeeder) completeMonthly(ctx context.Context, community string, h *handoverv1.Handover) error {
	bureau, err := hs.as(ctx, authn.Principal{Subject: "seed-bureau", Role: authn.RoleBureau})
	if err != nil {
		return err
	}
	clerk, err := hs.as(ctx, authn.Principal{Subject: "seed-clerk-" + community, Role: authn.RoleClerk, Communities: []string{community}})
	if err != nil {
		return err
	}
	c := hs.client
	if _, err := c.VerifyRoster(bureau, &handoverv1.VerifyRosterRequest{Id: h.Id, DocumentSha256: rosterDigest(h), Note: "当月新退休人员花名册已核对"}); err != nil {
		return err
	}
	if _, err := c.ReceiveArchives(clerk, &handoverv1.ReceiveArchivesRequest{Id: h.Id, Dossiers: dossierReceipts(h, h.RetireeIds)}); err != nil {
		return err
	}
	if _, err := c.CompleteHandover(clerk, &handoverv1.CompleteHandoverRequest{Id: h.Id}); err != nil {
		return err
	}
	if err := hs.awaitDelivery(clerk, h.Id); err != nil {
		return err
	}
	tasks, err := c.ListHandoverTasks(clerk, &handoverv1.ListHandoverTasksRequest{CommunityId: community, State: handoverv1.HandoverTask_OPEN, PageSize: 100})
	if err != nil {
		return err
	}
	for _, t := range tasks.Tasks {
		if t.HandoverId == h.Id && t.Kind == handoverv1.HandoverTask_CONTACT_CARD {
			_, err := c.CompleteHandoverTask(clerk, &handoverv1.CompleteHandoverTaskRequest{Id: t.Id, Etag: t.Etag, DoneOn: dateDaysAgo(0), Note: "联系卡已发放，本人签收"})
			return err
		}
	}
	return fmt.Errorf("the completed monthly handover %s left community %s no contact card to issue", h.Id, community)
}
