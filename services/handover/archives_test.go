package handover

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// archivistA2P is a second archivist of the receiving community's
// district: one asks for a loan, the other decides.
var archivistA2P = servicetest.Archivist("archivist-heping-2", servicetest.DistrictAB)

// Shorter names of the categories.
const (
	resume      = pb.ArchiveCategory_RESUME
	autobio     = pb.ArchiveCategory_AUTOBIOGRAPHY
	appraisal   = pb.ArchiveCategory_APPRAISAL
	education   = pb.ArchiveCategory_EDUCATION_TITLES
	partyLeague = pb.ArchiveCategory_PARTY_LEAGUE
	awards      = pb.ArchiveCategory_AWARDS
	wages       = pb.ArchiveCategory_WAGES_APPOINTMENTS
	explanation = "原单位出具书面说明：该材料于1998年搬迁时遗失"
)

func missingOf(c pb.ArchiveCategory, why string) *pb.MissingMaterial {
	return &pb.MissingMaterial{Category: c, Explanation: why}
}

func TestRequiredMaterials(t *testing.T) {
	t.Parallel()
	want := []pb.ArchiveCategory{resume, autobio, appraisal, education, wages}
	if diff := cmp.Diff(want, requiredMaterials(&pb.Dossier{}, false)); diff != "" {
		t.Errorf("every file (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(append(want, partyLeague), requiredMaterials(&pb.Dossier{}, true)); diff != "" {
		t.Errorf("a party member's file (-want +got):\n%s", diff)
	}
}

func TestUnexplainedMaterials(t *testing.T) {
	t.Parallel()
	full := []pb.ArchiveCategory{resume, autobio, appraisal, education, wages}
	tests := []struct {
		name    string
		dossier *pb.Dossier
		want    []pb.ArchiveCategory
	}{
		{"pending lacks everything", &pb.Dossier{State: pb.Dossier_PENDING, Checklist: full}, full},
		{"received complete", &pb.Dossier{State: pb.Dossier_RECEIVED, Checklist: full}, nil},
		{"received, the checklist lacks two", &pb.Dossier{State: pb.Dossier_RECEIVED, Checklist: []pb.ArchiveCategory{resume, education, wages}},
			[]pb.ArchiveCategory{autobio, appraisal}},
		{"one explanation explains one material only", &pb.Dossier{
			State: pb.Dossier_RECEIVED, Checklist: []pb.ArchiveCategory{resume, education, wages},
			MissingMaterials: []*pb.MissingMaterial{missingOf(autobio, explanation)},
		}, []pb.ArchiveCategory{appraisal}},
		{"each explained", &pb.Dossier{
			State: pb.Dossier_RECEIVED, Checklist: []pb.ArchiveCategory{resume, education, wages},
			MissingMaterials: []*pb.MissingMaterial{missingOf(autobio, explanation), missingOf(appraisal, explanation)},
		}, nil},
		{"found missing at receipt although listed", &pb.Dossier{
			State: pb.Dossier_RECEIVED, Checklist: full, MissingMaterials: []*pb.MissingMaterial{missingOf(resume, "")},
		}, []pb.ArchiveCategory{resume}},
		{"an optional material missing asks nothing", &pb.Dossier{
			State: pb.Dossier_RECEIVED, Checklist: full, MissingMaterials: []*pb.MissingMaterial{missingOf(awards, "")},
		}, nil},
		{"missing with one explanation for the dossier", &pb.Dossier{State: pb.Dossier_MISSING, Explanation: explanation}, nil},
		{"missing, some materials explained", &pb.Dossier{
			State: pb.Dossier_MISSING, MissingMaterials: []*pb.MissingMaterial{missingOf(resume, explanation), missingOf(wages, explanation)},
		}, []pb.ArchiveCategory{autobio, appraisal, education}},
		{"missing, a material awaiting its explanation", &pb.Dossier{
			State: pb.Dossier_MISSING, Explanation: explanation, MissingMaterials: []*pb.MissingMaterial{missingOf(resume, "")},
		}, []pb.ArchiveCategory{resume}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := unexplainedMaterials(tc.dossier)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("unexplained (-want +got):\n%s", diff)
			}
			if settled := dossierSettled(tc.dossier); settled != (len(tc.want) == 0) {
				t.Errorf("settled = %v with %v unexplained", settled, got)
			}
		})
	}
}

// receiptFixture is a submitted package of three retirees whose funds and
// premises are settled: the first dossier's checklist lacks the
// autobiography and the appraisals.
func receiptFixture(w *world) (*pb.Handover, []string) {
	w.t.Helper()
	ids := w.retirees(3, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	pkg := packageFor(ids)
	pkg.Dossiers[0].Checklist = []pb.ArchiveCategory{resume, education, wages}
	ctx := w.as(clerkAP)
	h := w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: pkg}))
	h = w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id}))
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, DocumentSha256: rosterSHA}))
	h = w.handover(w.client.ReceiveFunds(ctx, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: h.Funds.AmountFen, VoucherNo: "V-1", ReceivedOn: "2026-01-05"}))
	for _, pr := range h.Premises {
		h = w.handover(w.client.InspectPremises(ctx, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: pr.Id, Accepted: true}))
	}
	return h, ids
}

// TestArchivesPerMaterial: each missing required material needs its own
// explanation; until each has one the dossier is unsettled and the
// handover cannot complete.
func TestArchivesPerMaterial(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h, ids := receiptFixture(w)
	ctx := w.as(archivistAP)
	// The first dossier arrives in one volume of two with the
	// autobiography explained, the second the old way, the third is
	// missing with two of its materials explained.
	h = w.handover(w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{
		Id:       h.Id,
		Dossiers: []*pb.DossierReceipt{{RetireeId: ids[0], VolumesReceived: 1, MissingMaterials: []*pb.MissingMaterial{missingOf(autobio, explanation)}}},
		Received: []string{ids[1]},
		Missing:  []*pb.MissingDossier{{RetireeId: ids[2], MissingMaterials: []*pb.MissingMaterial{missingOf(resume, explanation), missingOf(wages, explanation)}}},
	}))
	want := [][]*pb.MissingMaterial{
		{missingOf(autobio, explanation), missingOf(appraisal, "")},
		nil,
		{missingOf(resume, explanation), missingOf(autobio, ""), missingOf(appraisal, ""), missingOf(education, ""), missingOf(wages, explanation)},
	}
	for i, d := range h.Dossiers {
		if diff := cmp.Diff(want[i], d.MissingMaterials, protocmp.Transform()); diff != "" {
			t.Errorf("dossier %d materials (-want +got):\n%s", i, diff)
		}
		if d.ReceivedBy != archivistAP.Subject || d.ReceiveTime == nil {
			t.Errorf("dossier %d signed by %q at %v", i, d.ReceivedBy, d.ReceiveTime)
		}
	}
	wantArchivesTrack(t, h, pb.Track_OPEN, 1)
	_, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id})
	st := wantReason(t, err, codes.FailedPrecondition, ReasonIncomplete)
	if got := fieldsOf(st); !cmp.Equal(got, []string{"dossiers[0]", "dossiers[2]"}) {
		t.Errorf("incomplete fields %v", got)
	}
	if v := violations(st); len(v) == 0 || !strings.Contains(v[0], "APPRAISAL") || strings.Contains(v[0], "AUTOBIOGRAPHY") {
		t.Errorf("violations %v: want the first dossier's APPRAISAL only", v)
	}
	// One more explanation for the first dossier; the third's one
	// explanation stands for each material without its own.
	h = w.handover(w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{
		Id:       h.Id,
		Dossiers: []*pb.DossierReceipt{{RetireeId: ids[0], MissingMaterials: []*pb.MissingMaterial{missingOf(appraisal, "考核材料由原单位补出证明")}}},
		Missing:  []*pb.MissingDossier{{RetireeId: ids[2], Explanation: "整卷遗失"}},
	}))
	third := h.Dossiers[2].MissingMaterials
	if third[0].Explanation != explanation || third[1].Explanation != "整卷遗失" {
		t.Errorf("third dossier's materials %v: its own explanations stay, the dossier's fills the rest", third)
	}
	if h.Dossiers[0].VolumesReceived != 1 || h.Dossiers[1].VolumesReceived != 2 {
		t.Errorf("volumes received %d, %d; want 1 (as received) and 2 (the dossier's)", h.Dossiers[0].VolumesReceived, h.Dossiers[1].VolumesReceived)
	}
	wantArchivesTrack(t, h, pb.Track_COMPLETED, 3)
	h = w.handover(w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id}))
	if h.State != pb.Handover_COMPLETED {
		t.Fatalf("state %v", h.State)
	}
	wantNoRetirees(t, w.events(h.Id), ids)
}

// wantNoRetirees checks that no event of a timeline names a retiree.
func wantNoRetirees(t *testing.T, events []*pb.Event, ids []string) {
	t.Helper()
	for _, e := range events {
		for _, id := range ids {
			if strings.Contains(e.Detail, id) {
				t.Errorf("event %s names a retiree: %q", e.Action, e.Detail)
			}
		}
	}
}

// TestArchivesIntoCustody: a dossier's first arrival files it in the
// custody of the receiving district's archivist, once; a dossier in
// custody cannot turn missing.
func TestArchivesIntoCustody(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h, ids := receiptFixture(w)
	ctx := w.as(archivistAP)
	h = w.handover(w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{Id: h.Id, Received: ids[:2]}))
	first := h.Dossiers[0].ArchiveFileId
	if first == "" || h.Dossiers[1].ArchiveFileId == "" || h.Dossiers[2].ArchiveFileId != "" {
		t.Fatalf("files %q %q %q: want the two received only", first, h.Dossiers[1].ArchiveFileId, h.Dossiers[2].ArchiveFileId)
	}
	h = w.handover(w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{
		Id: h.Id, Dossiers: []*pb.DossierReceipt{{RetireeId: ids[0], MissingMaterials: []*pb.MissingMaterial{missingOf(autobio, explanation)}}},
	}))
	if h.Dossiers[0].ArchiveFileId != first {
		t.Errorf("a second receipt made file %q, want %q kept", h.Dossiers[0].ArchiveFileId, first)
	}
	resp, err := w.client.GetArchiveFile(w.as(archivistAP), &pb.GetArchiveFileRequest{Id: first})
	if err != nil {
		t.Fatal(err)
	}
	f := resp.ArchiveFile
	want := &pb.ArchiveFile{
		Id: first, RetireeId: ids[0], HandoverId: h.Id, DossierNo: h.Dossiers[0].DossierNo, Volumes: 2,
		District: servicetest.DistrictAB, State: pb.ArchiveFile_IN_CUSTODY, ReceivedBy: archivistAP.Subject, Etag: "r1",
	}
	if diff := cmp.Diff(want, f, protocmp.Transform(), protocmp.IgnoreFields(&pb.ArchiveFile{}, "receive_time", "update_time")); diff != "" {
		t.Errorf("file (-want +got):\n%s", diff)
	}
	list, err := w.client.ListArchiveFiles(w.as(archivistAP), &pb.ListArchiveFilesRequest{})
	if err != nil || len(list.ArchiveFiles) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	_, err = w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{Id: h.Id, Missing: []*pb.MissingDossier{{RetireeId: ids[1], Explanation: "遗失"}}})
	wantReason(t, err, codes.FailedPrecondition, ReasonDossierInCustody)
	_, err = w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{Id: h.Id, Dossiers: []*pb.DossierReceipt{
		{RetireeId: ids[2], MissingMaterials: []*pb.MissingMaterial{{Category: awards}, {Category: awards}, {Category: 42}}},
	}})
	wantFields(t, err, "dossiers[0].missingMaterials[1].category", "dossiers[0].missingMaterials[2].category")
}

// wantArchivesTrack checks the state of h's archives track and how many
// of its three dossiers are settled.
func wantArchivesTrack(t *testing.T, h *pb.Handover, state pb.Track_State, settled int64) {
	t.Helper()
	for _, tr := range h.Tracks {
		if tr.Kind == pb.Track_ARCHIVES {
			if tr.State != state || tr.Items != 3 || tr.Settled != settled {
				t.Errorf("archives track %v, %d of %d settled; want %v, %d of 3", tr.State, tr.Settled, tr.Items, state, settled)
			}
			return
		}
	}
	t.Errorf("no archives track in %v", h.Tracks)
}
