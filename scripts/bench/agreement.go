package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The agreement scenario: issue 15's large roster.
const (
	agreementRetirees    = 10_000
	agreementCommunities = 20
	// agreementBatch is the retirees of one BatchAddRetirees, the most
	// the handover service takes in one call.
	agreementBatch = 1_000
	// agreementStreet is the receiving street office; its communities are
	// agreementStreet followed by 001 … 020.
	agreementStreet   = "210104001"
	agreementDistrict = "210104"
	// goalAgreement is issue 15's goal from the first batch until
	// registry shows every retiree community-managed.
	goalAgreement = 10 * time.Second
)

// agreementScenario hands 10,000 retirees over from an enterprise to a
// street office under an agreement, through the handover program with
// registry and activity behind it: the roster is added in batches of
// 1,000 with dossiers, submitted, verified by the bureau, allocated to 20
// communities by the street's supervisor, every track completed and the
// handover completed, until registry's socialisation report shows all
// 10,000 COMMUNITY-managed, each in the community it was allocated to.
// The time is measured from the first batch; loading the retirees into
// registry is not part of it.
func agreementScenario(ctx context.Context, h *harness) ([]row, error) {
	if p := h.missingProgram("handover-agreement", "handover", "activity"); p != "" {
		return skippedRows("handover agreement", p), nil
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
	code, byCommunity, err := loadAgreementRetirees(ctx, h, cl.registry)
	if err != nil {
		return nil, err
	}
	tk, err := h.agreementTokens(ctx, code)
	if err != nil {
		return nil, err
	}
	run := &agreementRun{cl: cl, tk: tk, code: code, byCommunity: byCommunity, marks: map[string]time.Duration{}}
	if err := run.handOver(ctx, h); err != nil {
		return nil, err
	}
	return run.rows(), nil
}

// agreementTokens are the contexts of the agreement's parties.
type agreementTokens struct {
	enterprise, bureau, street context.Context
}

// agreementTokens signs the tokens of the enterprise, the bureau and the
// receiving street's supervisor with the harness's key.
func (h *harness) agreementTokens(ctx context.Context, code string) (agreementTokens, error) {
	priv, err := authn.LoadPrivateKey(h.tokenKey)
	if err != nil {
		return agreementTokens{}, err
	}
	signer := authn.NewSigner(priv)
	ttl := min(h.cfg.Timeout+time.Hour, authn.DefaultMaxLifetime)
	as := func(p authn.Principal) (context.Context, error) {
		tok, err := signer.Sign(p, ttl, time.Now())
		if err != nil {
			return nil, err
		}
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), nil
	}
	var tk agreementTokens
	if tk.enterprise, err = as(authn.Principal{Subject: "bench-enterprise", Role: authn.RoleEnterprise, Enterprise: code}); err != nil {
		return tk, err
	}
	if tk.bureau, err = as(authn.Principal{Subject: "bench-bureau", Role: authn.RoleBureau}); err != nil {
		return tk, err
	}
	tk.street, err = as(authn.Principal{Subject: "bench-street", Role: authn.RoleStreet, Street: agreementStreet})
	return tk, err
}

// agreementCommunity is the id of the street's nth community (from 0).
func agreementCommunity(n int) string { return fmt.Sprintf("%s%03d", agreementStreet, n+1) }

// loadAgreementRetirees creates the street's communities, an enterprise
// and its agreementRetirees retirees, ENTERPRISE-managed, the nth living
// in community n mod 20, and returns the enterprise's credit code and the
// retirees' ids by community.
func loadAgreementRetirees(ctx context.Context, h *harness, registry registryv1.RegistryServiceClient) (string, map[string][]string, error) {
	for n := range agreementCommunities {
		if _, err := registry.CreateCommunity(ctx, &registryv1.CreateCommunityRequest{Community: &registryv1.Community{
			Id: agreementCommunity(n), Name: fmt.Sprintf("大东第%d社区", n+1), District: "大东区", Street: "大东街道",
			Kind: registryv1.CommunityKind_BLOCK, Households: 2000,
		}}); err != nil {
			return "", nil, fmt.Errorf("create community: %w", err)
		}
	}
	code, err := creditcode.Build("91", "210100", "MA0AGRE1")
	if err != nil {
		return "", nil, err
	}
	if _, err := registry.CreateEnterprise(ctx, &registryv1.CreateEnterpriseRequest{Enterprise: &registryv1.Enterprise{
		CreditCode: string(code), Name: "沈阳重型机器厂", Ownership: registryv1.Ownership_STATE, Status: registryv1.EnterpriseStatus_OPERATING,
	}}); err != nil {
		return "", nil, fmt.Errorf("create enterprise: %w", err)
	}
	h.log.Printf("loading %d retirees of one enterprise for the agreement", agreementRetirees)
	ids, err := createAgreementRetirees(ctx, h, registry, string(code))
	if err != nil {
		return "", nil, err
	}
	byCommunity := map[string][]string{}
	for n, id := range ids {
		c := agreementCommunity(n % agreementCommunities)
		byCommunity[c] = append(byCommunity[c], id)
	}
	return string(code), byCommunity, nil
}

// createAgreementRetirees creates the retirees in registry, concurrently,
// and returns their ids in order.
func createAgreementRetirees(ctx context.Context, h *harness, registry registryv1.RegistryServiceClient, code string) ([]string, error) {
	ids := make([]string, agreementRetirees)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(h.cfg.LoadConcurrency, 64) {
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < agreementRetirees && ctx.Err() == nil; n = int(next.Add(1) - 1) {
				// Born 1940–1964: retired by now.
				birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n%birthDays)
				id, err := idnumber.Build(agreementDistrict, birth, n/birthDays%1000)
				if err != nil {
					cancel(err)
					return
				}
				resp, err := registry.CreateRetiree(ctx, &registryv1.CreateRetireeRequest{Retiree: &registryv1.Retiree{
					IdNumber: id.Digits(), Name: fmt.Sprintf("重型厂职工%05d", n), RetirementDate: birth.AddDate(60, 0, 0).Format(time.DateOnly),
					EnterpriseCreditCode: code, CommunityId: agreementCommunity(n % agreementCommunities), ManagementMode: registryv1.ManagementMode_ENTERPRISE,
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
	return ids, context.Cause(ctx)
}

// agreementRun is one run of the agreement: its parties, its retirees and
// the times of its steps since the first batch.
type agreementRun struct {
	cl          *handoverClients
	tk          agreementTokens
	code        string
	byCommunity map[string][]string
	id, etag    string
	start       time.Time
	marks       map[string]time.Duration
}

// mark records that step is done.
func (r *agreementRun) mark(step string) { r.marks[step] = time.Since(r.start) }

// handOver takes the agreement from creation to registry showing it.
func (r *agreementRun) handOver(ctx context.Context, h *harness) error {
	created, err := r.cl.handover.CreateHandover(r.tk.enterprise, &handoverv1.CreateHandoverRequest{Handover: agreementPackage(r.code)})
	if err != nil {
		return fmt.Errorf("create agreement: %w", err)
	}
	r.id, r.etag = created.Handover.Id, created.Handover.Etag
	h.log.Printf("handing over %d retirees under agreement %s", agreementRetirees, r.id)
	r.start = time.Now()
	for _, step := range []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"batches", r.addBatches}, {"submit", r.submit}, {"verify", r.verify},
		{"allocate", r.allocate}, {"tracks", r.settleTracks}, {"complete", r.complete},
		{"registry", r.awaitRegistry},
	} {
		if err := step.do(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		r.mark(step.name)
		h.log.Printf("agreement %s: %s done at %.2f s", r.id, step.name, r.marks[step.name].Seconds())
	}
	return nil
}

// agreementPackage is the agreement as the enterprise creates it: no
// retirees yet, which come in batches; funds for the community services,
// a clubhouse.
func agreementPackage(code string) *handoverv1.Handover {
	amount := int64(300_000) * agreementRetirees
	return &handoverv1.Handover{
		Kind:                 handoverv1.Handover_AGREEMENT,
		EnterpriseCreditCode: code,
		ReceiverCode:         agreementStreet,
		Plan: &handoverv1.HandoverPlan{Retirees: agreementRetirees, ArchiveVolumes: 2 * agreementRetirees, Assets: "职工俱乐部一处",
			StartOn: "2026-01-01", FinishBy: "2026-12-31", EmergencyPlanRef: "重机应急〔2026〕1号", AgreementNo: "大东移交〔2026〕8号"},
		Funds: &handoverv1.Funds{AmountFen: amount, Items: []*handoverv1.FundsItem{
			{Kind: handoverv1.FundsItem_SERVICE_FEES, AmountFen: amount, Description: "社区服务费"}}},
		Premises: []*handoverv1.Premises{{Name: "重型厂职工俱乐部", Address: "大东区东北大马路8号", AreaSqm: 1200, Capacity: 400, Use: "文体活动"}},
	}
}

// addBatches adds the roster in batches of agreementBatch, each retiree
// with a dossier.
func (r *agreementRun) addBatches(_ context.Context) error {
	var all []string
	for n := range agreementCommunities {
		all = append(all, r.byCommunity[agreementCommunity(n)]...)
	}
	for from := 0; from < len(all); from += agreementBatch {
		batch := make([]*handoverv1.BatchRetiree, 0, agreementBatch)
		for i, id := range all[from:min(from+agreementBatch, len(all))] {
			batch = append(batch, &handoverv1.BatchRetiree{RetireeId: id, Dossier: &handoverv1.Dossier{
				DossierNo: fmt.Sprintf("ZJ-%05d", from+i+1), Volumes: 2,
				Checklist: everyMaterial,
			}})
		}
		resp, err := r.cl.handover.BatchAddRetirees(r.tk.enterprise, &handoverv1.BatchAddRetireesRequest{Id: r.id, Etag: r.etag, Retirees: batch})
		if err != nil {
			return err
		}
		r.etag = resp.Etag
	}
	return nil
}

func (r *agreementRun) submit(_ context.Context) error {
	_, err := r.cl.handover.SubmitHandover(r.tk.enterprise, &handoverv1.SubmitHandoverRequest{Id: r.id, Etag: r.etag})
	return err
}

func (r *agreementRun) verify(_ context.Context) error {
	sum := sha256.Sum256([]byte("signed and stamped roster of " + r.id))
	_, err := r.cl.handover.VerifyRoster(r.tk.bureau, &handoverv1.VerifyRosterRequest{Id: r.id, DocumentSha256: hex.EncodeToString(sum[:]), Note: "已盖章"})
	return err
}

// allocate allocates each community's retirees to it, as the street's
// supervisor.
func (r *agreementRun) allocate(_ context.Context) error {
	for n := range agreementCommunities {
		c := agreementCommunity(n)
		if _, err := r.cl.handover.AllocateRetirees(r.tk.street, &handoverv1.AllocateRetireesRequest{Id: r.id, CommunityId: c, RetireeIds: r.byCommunity[c]}); err != nil {
			return fmt.Errorf("community %s: %w", c, err)
		}
	}
	return nil
}

// settleTracks receives the funds and every dossier and accepts the
// clubhouse with the group company's approval, as the receiving street.
func (r *agreementRun) settleTracks(_ context.Context) error {
	if _, err := r.cl.handover.ReceiveFunds(r.tk.street, &handoverv1.ReceiveFundsRequest{Id: r.id, AmountFen: int64(300_000) * agreementRetirees,
		VoucherNo: "ZJ-FUNDS-1", ReceivedOn: time.Now().In(cst).Format(time.DateOnly)}); err != nil {
		return fmt.Errorf("receive funds: %w", err)
	}
	var all []string
	for _, ids := range r.byCommunity {
		all = append(all, ids...)
	}
	if _, err := r.cl.handover.ReceiveArchives(r.tk.street, &handoverv1.ReceiveArchivesRequest{Id: r.id, Received: all}); err != nil {
		return fmt.Errorf("receive archives: %w", err)
	}
	if _, err := r.cl.handover.InspectPremises(r.tk.street, &handoverv1.InspectPremisesRequest{Id: r.id, PremisesId: "P1", Accepted: true,
		GroupApprovalRef: "重机集团〔2026〕12号", CommunityId: agreementCommunity(0)}); err != nil {
		return fmt.Errorf("inspect premises: %w", err)
	}
	return nil
}

func (r *agreementRun) complete(_ context.Context) error {
	_, err := r.cl.handover.CompleteHandover(r.tk.street, &handoverv1.CompleteHandoverRequest{Id: r.id})
	return err
}

// awaitRegistry polls registry's socialisation report until each
// community counts its retirees COMMUNITY-managed.
func (r *agreementRun) awaitRegistry(ctx context.Context) error {
	deadline := time.Now().Add(20 * goalAgreement)
	for {
		resp, err := r.cl.registry.GetSocialisationReport(ctx, &registryv1.GetSocialisationReportRequest{GroupBy: "community"})
		if err != nil {
			return fmt.Errorf("socialisation report: %w", err)
		}
		shown := 0
		for _, row := range resp.Rows {
			if want := len(r.byCommunity[row.Key]); want > 0 && row.CommunityManaged >= int64(want) {
				shown++
			}
		}
		if shown == agreementCommunities {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry shows %d of %d communities handed over after %v", shown, agreementCommunities, 20*goalAgreement)
		}
		if err := sleepCtx(ctx, handoverPoll); err != nil {
			return err
		}
	}
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rows are the scenario's figures: the whole, and each step's share.
func (r *agreementRun) rows() []row {
	m := r.marks
	total := m["registry"]
	return []row{{
		What: fmt.Sprintf("handover agreement: %s retirees added in batches of %s with dossiers, submitted, verified, allocated to %d communities, every track settled, completed, until registry shows all community-managed",
			formatCount(agreementRetirees), formatCount(agreementBatch), agreementCommunities),
		Value: fmt.Sprintf("%.2f s", total.Seconds()),
		Compared: fmt.Sprintf("batches %.2f s, :submit %.2f s, :verifyRoster %.2f s, 20 :allocate %.2f s, tracks %.2f s, :complete %.2f s, registry %.2f s",
			m["batches"].Seconds(), (m["submit"] - m["batches"]).Seconds(), (m["verify"] - m["submit"]).Seconds(),
			(m["allocate"] - m["verify"]).Seconds(), (m["tracks"] - m["allocate"]).Seconds(), (m["complete"] - m["tracks"]).Seconds(),
			(m["registry"] - m["complete"]).Seconds()),
		Goal:   fmt.Sprintf("≤ %.0f s", goalAgreement.Seconds()),
		Result: verdict(total <= goalAgreement),
	}}
}
