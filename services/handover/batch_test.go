package handover

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// batchOf is a batch of ids, each with a dossier numbered from first
// when dossiers is set.
func batchOf(ids []string, first int, dossiers bool) []*pb.BatchRetiree {
	out := make([]*pb.BatchRetiree, len(ids))
	for i, id := range ids {
		out[i] = &pb.BatchRetiree{RetireeId: id}
		if dossiers {
			out[i].Dossier = &pb.Dossier{DossierNo: fmt.Sprintf("B-%05d", first+i), Volumes: 3,
				Checklist: []pb.ArchiveCategory{pb.ArchiveCategory_WAGES_APPOINTMENTS, pb.ArchiveCategory_RESUME, pb.ArchiveCategory_RESUME}}
		}
	}
	return out
}

// emptyDraft is a new package of enterprise X for community A with no
// retirees and funds of 1,000 fen.
func (w *world) emptyDraft() *pb.Handover {
	w.t.Helper()
	pkg := packageFor(nil)
	pkg.Funds = &pb.Funds{AmountFen: 1000}
	return w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: pkg}))
}

// TestBatchAddBuildsARoster: a roster added in batches, with dossiers,
// is the package's, in order, with checklists normalised and dossiers
// pending; each batch answers the new etag and the counts, the timeline
// records each, and the package submits.
func TestBatchAddBuildsARoster(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := w.retirees(7, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	h := w.emptyDraft()
	ent := w.as(enterpriseXP)
	etag := h.Etag
	for _, b := range []struct {
		from, to int
		dossiers bool
	}{{0, 3, true}, {3, 6, true}, {6, 7, false}} {
		resp, err := w.client.BatchAddRetirees(ent, &pb.BatchAddRetireesRequest{Id: h.Id, Etag: etag, Retirees: batchOf(ids[b.from:b.to], b.from, b.dossiers)})
		if err != nil {
			t.Fatalf("batch %d–%d: %v", b.from, b.to, err)
		}
		if resp.Etag == etag || resp.Retirees != int32(b.to) {
			t.Errorf("batch %d–%d answered etag %s (was %s), %d retirees", b.from, b.to, resp.Etag, etag, resp.Retirees)
		}
		etag = resp.Etag
	}
	got := w.get(h.Id)
	if got.Etag != etag || !slices.Equal(got.RetireeIds, ids) || len(got.Dossiers) != 6 {
		t.Fatalf("package: etag %s, retirees %v, %d dossiers; want %s, %v, 6", got.Etag, got.RetireeIds, len(got.Dossiers), etag, ids)
	}
	for i, d := range got.Dossiers {
		want := []pb.ArchiveCategory{pb.ArchiveCategory_RESUME, pb.ArchiveCategory_WAGES_APPOINTMENTS}
		if d.RetireeId != ids[i] || d.State != pb.Dossier_PENDING || d.DossierNo != fmt.Sprintf("B-%05d", i) || !slices.Equal(d.Checklist, want) {
			t.Errorf("dossier %d = %v", i, d)
		}
	}
	var updates int
	for _, e := range w.events(h.Id) {
		if e.Action == actionUpdated {
			updates++
		}
	}
	if updates != 3 {
		t.Errorf("%d UPDATED events, want one per batch", updates)
	}
	// The last retiree has no dossier: submit names it; with one, the
	// package submits.
	_, err := w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id, Etag: etag})
	wantReason(t, err, codes.FailedPrecondition, ReasonChecksFailed)
	rm, err := w.client.BatchRemoveRetirees(ent, &pb.BatchRemoveRetireesRequest{Id: h.Id, Etag: etag, RetireeIds: ids[6:]})
	if err != nil || rm.Retirees != 6 || rm.Dossiers != 6 {
		t.Fatalf("remove: %v %v", rm, err)
	}
	add, err := w.client.BatchAddRetirees(ent, &pb.BatchAddRetireesRequest{Id: h.Id, Etag: rm.Etag, Retirees: batchOf(ids[6:], 6, true)})
	if err != nil || add.Retirees != 7 || add.Dossiers != 7 {
		t.Fatalf("add again: %v %v", add, err)
	}
	sub := w.handover(w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id, Etag: add.Etag}))
	if sub.State != pb.Handover_SUBMITTED || len(sub.RetireeIds) != 7 {
		t.Errorf("submitted %v with %d retirees", sub.State, len(sub.RetireeIds))
	}
}

// TestBatchRefusals: a batch that breaks a rule changes nothing and says
// which field broke it.
func TestBatchRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ent := w.as(enterpriseXP)
	a, b, c := inputcheck.NewOpaqueID(), inputcheck.NewOpaqueID(), inputcheck.NewOpaqueID()
	// base is a draft holding a, with its dossier, and b without one.
	base := func() *pb.Handover {
		h := w.emptyDraft()
		resp, err := w.client.BatchAddRetirees(ent, &pb.BatchAddRetireesRequest{Id: h.Id, Etag: h.Etag,
			Retirees: []*pb.BatchRetiree{batchOf([]string{a}, 0, true)[0], {RetireeId: b}}})
		if err != nil {
			t.Fatal(err)
		}
		h.Etag = resp.Etag
		return h
	}
	add := func(rs ...*pb.BatchRetiree) func(h *pb.Handover) error {
		return func(h *pb.Handover) error {
			_, err := w.client.BatchAddRetirees(ent, &pb.BatchAddRetireesRequest{Id: h.Id, Etag: h.Etag, Retirees: rs})
			return err
		}
	}
	remove := func(ids ...string) func(h *pb.Handover) error {
		return func(h *pb.Handover) error {
			_, err := w.client.BatchRemoveRetirees(ent, &pb.BatchRemoveRetireesRequest{Id: h.Id, Etag: h.Etag, RetireeIds: ids})
			return err
		}
	}
	thousandAndOne := make([]string, MaxBatch+1)
	for i := range thousandAndOne {
		thousandAndOne[i] = inputcheck.NewOpaqueID()
	}
	withDossier := batchOf([]string{c}, 9, true)[0]
	badDossier := &pb.BatchRetiree{RetireeId: c, Dossier: &pb.Dossier{RetireeId: a, Volumes: 0, Checklist: []pb.ArchiveCategory{99}}}
	for _, tc := range []struct {
		name   string
		call   func(h *pb.Handover) error
		fields []string
	}{
		{"empty", add(), []string{"retirees"}},
		{"more than a thousand", add(batchOf(thousandAndOne, 0, false)...), []string{"retirees"}},
		{"not a retiree id", add(&pb.BatchRetiree{RetireeId: "张三"}), []string{"retirees[0].retireeId"}},
		{"twice in the batch", add(withDossier, &pb.BatchRetiree{RetireeId: c}), []string{"retirees[1].retireeId"}},
		{"a bad dossier", add(badDossier), []string{"retirees[0].dossier.checklist[0]", "retirees[0].dossier.dossierNo", "retirees[0].dossier.retireeId", "retirees[0].dossier.volumes"}},
		{"already in the package", add(withDossier, &pb.BatchRetiree{RetireeId: a}), []string{"retirees[1].retireeId"}},
		{"a second dossier", add(batchOf([]string{a}, 5, true)...), []string{"retirees[0].dossier", "retirees[0].retireeId"}},
		{"remove none", remove(), []string{"retireeIds"}},
		{"remove more than a thousand", remove(thousandAndOne...), []string{"retireeIds"}},
		{"remove one not in the package", remove(a, c), []string{"retireeIds[1]"}},
		{"remove one twice", remove(a, a), []string{"retireeIds[1]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := base()
			wantFields(t, tc.call(h), tc.fields...)
			if got := w.get(h.Id); got.Etag != h.Etag || len(got.RetireeIds) != 2 || len(got.Dossiers) != 1 {
				t.Errorf("a refused batch changed the package: etag %s -> %s, %d retirees, %d dossiers", h.Etag, got.Etag, len(got.RetireeIds), len(got.Dossiers))
			}
		})
	}
	t.Run("without an etag", func(t *testing.T) {
		h := base()
		h.Etag = ""
		wantFields(t, add(withDossier)(h), "etag")
		wantFields(t, remove(a)(h), "etag")
	})
	t.Run("with a stale etag", func(t *testing.T) {
		h := base()
		h.Etag = "r1"
		wantReason(t, add(withDossier)(h), codes.Aborted, "ETAG_MISMATCH")
		wantReason(t, remove(a)(h), codes.Aborted, "ETAG_MISMATCH")
	})
	t.Run("submitted", func(t *testing.T) {
		h := w.submitted(1)
		wantReason(t, add(withDossier)(h), codes.FailedPrecondition, ReasonWrongState)
		wantReason(t, remove(h.RetireeIds...)(h), codes.FailedPrecondition, ReasonWrongState)
	})
}

// TestBatchAddBound: a package takes MaxRetirees retirees in batches and
// not one more.
func TestBatchAddBound(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ent := w.as(enterpriseXP)
	h := w.emptyDraft()
	etag := h.Etag
	for range MaxRetirees / MaxBatch {
		ids := make([]string, MaxBatch)
		for i := range ids {
			ids[i] = inputcheck.NewOpaqueID()
		}
		resp, err := w.client.BatchAddRetirees(ent, &pb.BatchAddRetireesRequest{Id: h.Id, Etag: etag, Retirees: batchOf(ids, 0, false)})
		if err != nil {
			t.Fatal(err)
		}
		etag = resp.Etag
	}
	_, err := w.client.BatchAddRetirees(ent, &pb.BatchAddRetireesRequest{Id: h.Id, Etag: etag,
		Retirees: []*pb.BatchRetiree{{RetireeId: inputcheck.NewOpaqueID()}}})
	wantFields(t, err, "retirees")
	if got := w.get(h.Id); got.Etag != etag || len(got.RetireeIds) != MaxRetirees {
		t.Errorf("after the refusal: etag %s, %d retirees; want %s, %d", got.Etag, len(got.RetireeIds), etag, MaxRetirees)
	}
}

// TestBatchRemoveFromReturned: retirees taken out of a returned package
// lose their dossiers and their claims, so that another package may hand
// them over at once.
func TestBatchRemoveFromReturned(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h := w.returned(3)
	gone := h.RetireeIds[1:]
	resp, err := w.client.BatchRemoveRetirees(w.as(enterpriseXP), &pb.BatchRemoveRetireesRequest{Id: h.Id, Etag: h.Etag, RetireeIds: gone})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Retirees != 1 || resp.Dossiers != 1 {
		t.Errorf("answered %v", resp)
	}
	got := w.get(h.Id)
	if !slices.Equal(got.RetireeIds, h.RetireeIds[:1]) || len(got.Dossiers) != 1 || got.Dossiers[0].RetireeId != h.RetireeIds[0] {
		t.Errorf("package holds %v and dossiers %v", got.RetireeIds, got.Dossiers)
	}
	claims, err := w.store.OtherClaims("", h.RetireeIds)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := claims[h.RetireeIds[0]]; !ok || len(claims) != 1 {
		t.Errorf("claims %v: want only the retiree left in the package", claims)
	}
}

// TestRemoveRetireesDropsAllocations: a retiree taken out of a package
// leaves the community it was allocated to; an allocation left empty
// goes.
func TestRemoveRetireesDropsAllocations(t *testing.T) {
	t.Parallel()
	h := &pb.Handover{State: pb.Handover_RETURNED, RetireeIds: []string{"a", "b", "c"},
		Dossiers:    []*pb.Dossier{{RetireeId: "a"}, {RetireeId: "c"}},
		Allocations: []*pb.Allocation{{CommunityId: communityA, RetireeIds: []string{"a"}}, {CommunityId: communityB, RetireeIds: []string{"b", "c"}}}}
	if _, err := removeRetirees(h, []string{"a", "c"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.RetireeIds, []string{"b"}) || len(h.Dossiers) != 0 || len(h.Allocations) != 1 ||
		h.Allocations[0].CommunityId != communityB || !slices.Equal(h.Allocations[0].RetireeIds, []string{"b"}) {
		t.Errorf("left %v, %v, %v", h.RetireeIds, h.Dossiers, h.Allocations)
	}
}

// TestBatchFitsTheGatewayBody: the largest batch, every retiree with a
// dossier of the longest number and every category, is well inside the
// gateway's 1 MiB body limit as the JSON a client sends.
func TestBatchFitsTheGatewayBody(t *testing.T) {
	t.Parallel()
	all := make([]pb.ArchiveCategory, 0, maxChecklist)
	for c := range pb.ArchiveCategory_name {
		if c != 0 {
			all = append(all, pb.ArchiveCategory(c))
		}
	}
	req := &pb.BatchAddRetireesRequest{Etag: "r18446744073709551615"}
	for range MaxBatch {
		id := inputcheck.NewOpaqueID()
		req.Retirees = append(req.Retirees, &pb.BatchRetiree{RetireeId: id, Dossier: &pb.Dossier{
			RetireeId: id, DossierNo: "沈阳变压器厂档案第00000号", Volumes: maxVolumes, Checklist: all,
		}})
	}
	body, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(body) {
		t.Fatal("not JSON")
	}
	const gatewayLimit = 1 << 20
	t.Logf("a batch of %d retirees with full dossiers is %d bytes of JSON", MaxBatch, len(body))
	if len(body) > gatewayLimit/2 {
		t.Errorf("a full batch is %d bytes of JSON; the gateway takes %d", len(body), gatewayLimit)
	}
}
