package handover

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

func validPackage() *pb.Handover { return packageFor([]string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}) }

// violatedFields returns the fields of a *ValidationError, sorted.
func violatedFields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *fault.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v, want *ValidationError", err, err)
	}
	var out []string
	for _, f := range ve.Fields {
		out = append(out, f.Field)
	}
	slices.Sort(out)
	return out
}

func TestCheckNewHandover(t *testing.T) {
	long := strings.Repeat("长", maxNameLen+1)
	for _, tc := range []struct {
		name   string
		edit   func(h *pb.Handover)
		fields []string
	}{
		{"valid", func(*pb.Handover) {}, nil},
		{"empty draft", func(h *pb.Handover) {
			*h = pb.Handover{EnterpriseCreditCode: enterpriseX, CommunityId: communityA}
		}, nil},
		{"enterprise and community", func(h *pb.Handover) { h.EnterpriseCreditCode, h.CommunityId = "91350100M000100Y44", "21010200100" }, []string{"communityId", "enterpriseCreditCode"}},
		{"retirees", func(h *pb.Handover) {
			h.RetireeIds = []string{"aaaaaaaaaaaaaaaa", "AAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaaa"}
		}, []string{"retireeIds[1]", "retireeIds[2]"}},
		{"too many retirees", func(h *pb.Handover) { h.RetireeIds = make([]string, MaxRetirees+1) }, []string{"retireeIds"}},
		{"funds", func(h *pb.Handover) { h.Funds = &pb.Funds{AmountFen: -1, PerRetireeStandardFen: maxAmountFen + 1} }, []string{"funds.amountFen", "funds.perRetireeStandardFen"}},
		{"dossiers", func(h *pb.Handover) {
			h.Dossiers[0].DossierNo = ""
			h.Dossiers[0].Volumes = 0
			h.Dossiers[1].RetireeId = h.Dossiers[0].RetireeId
			h.Dossiers[1].Checklist = []pb.ArchiveCategory{0, 99}
		}, []string{"dossiers[0].dossierNo", "dossiers[0].volumes", "dossiers[1].checklist[0]", "dossiers[1].checklist[1]", "dossiers[1].retireeId"}},
		{"premises", func(h *pb.Handover) {
			h.Premises = append(h.Premises, &pb.Premises{Id: "Q1", Name: long, Address: "x\ty", AreaSqm: math.NaN(), Capacity: maxCapacity + 1, Use: " 用途"})
		}, []string{"premises[1].address", "premises[1].areaSqm", "premises[1].capacity", "premises[1].id", "premises[1].name", "premises[1].use"}},
		{"too many premises", func(h *pb.Handover) { h.Premises = make([]*pb.Premises, MaxPremises+1) }, []string{"premises"}},
		{"obligations", func(h *pb.Handover) {
			h.Obligations = append(h.Obligations, &pb.Obligation{Kind: pb.Obligation_OTHER, MonthlyAmountFen: 0, Until: "2030-02-30"}, nil)
		}, []string{"obligations[1].description", "obligations[1].monthlyAmountFen", "obligations[1].until", "obligations[2]"}},
		{"too many obligations", func(h *pb.Handover) { h.Obligations = make([]*pb.Obligation, MaxObligations+1) }, []string{"obligations"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := validPackage()
			tc.edit(h)
			if diff := cmp.Diff(tc.fields, violatedFields(t, checkNewHandover(h))); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	if err := checkNewHandover(nil); err == nil {
		t.Error("nil handover accepted")
	}
}

func TestCheckNewHandoverNormalises(t *testing.T) {
	h := validPackage()
	h.EnterpriseCreditCode = strings.ToLower(enterpriseX)
	h.Dossiers[0].Checklist = []pb.ArchiveCategory{pb.ArchiveCategory_AWARDS, pb.ArchiveCategory_RESUME, pb.ArchiveCategory_AWARDS}
	if err := checkNewHandover(h); err != nil {
		t.Fatal(err)
	}
	if h.EnterpriseCreditCode != enterpriseX {
		t.Errorf("credit code %q", h.EnterpriseCreditCode)
	}
	if want := []pb.ArchiveCategory{pb.ArchiveCategory_RESUME, pb.ArchiveCategory_AWARDS}; !slices.Equal(h.Dossiers[0].Checklist, want) {
		t.Errorf("checklist %v, want %v", h.Dossiers[0].Checklist, want)
	}
}

func TestNewDraftClearsOutputFields(t *testing.T) {
	in := validPackage()
	in.Id, in.Etag, in.State, in.ReturnReason = "H1", "r9", pb.Handover_COMPLETED, "x"
	in.Funds.ReceivedFen = 5
	in.Funds.Receipts = []*pb.FundsReceipt{{VoucherNo: "V"}}
	in.Dossiers[0].State, in.Dossiers[0].Explanation = pb.Dossier_RECEIVED, "x"
	in.Premises[0].Id, in.Premises[0].Inspection, in.Premises[0].VenueId = "P7", pb.Premises_ACCEPTED, "v1"
	in.Delivery = &pb.Delivery{State: pb.Delivery_DELIVERED}
	h := newDraft(in)
	want := validPackage()
	want.State, want.Kind, want.ReceiverCode = pb.Handover_DRAFT, pb.Handover_AGREEMENT, communityA[:9]
	refreshTracks(want, "", nil)
	for _, d := range want.Dossiers {
		d.State = pb.Dossier_PENDING
	}
	want.Premises[0].Id, want.Premises[0].Inspection = "P1", pb.Premises_NOT_INSPECTED
	if diff := cmp.Diff(want, h, protocmp.Transform()); diff != "" {
		t.Errorf("draft (-want +got):\n%s", diff)
	}
}

func TestNormaliseMask(t *testing.T) {
	for _, tc := range []struct {
		name   string
		paths  []string
		want   []string
		fields []string
	}{
		{"proto names", []string{"community_id", "retiree_ids", "funds", "plan"}, []string{pathCommunity, pathRetirees, pathAmount, pathStandard, pathFundsItems, pathPlan}, nil},
		{"json names", []string{"communityId", "funds.amountFen", "dossiers", "premises", "obligations"}, []string{pathCommunity, pathAmount, pathDossiers, pathPremises, pathObligations}, nil},
		{"inferred from a REST body", []string{"id", "etag", "funds.per_retiree_standard_fen", "funds.amount_fen"}, []string{pathStandard, pathAmount}, nil},
		{"duplicates", []string{"funds", "funds.amountFen", "funds.items"}, []string{pathAmount, pathStandard, pathFundsItems}, nil},
		{"output fields", []string{"state", "delivery.state", "funds.received_fen"}, nil, []string{"updateMask", "updateMask", "updateMask"}},
		{"identity", []string{"enterpriseCreditCode"}, nil, []string{"updateMask"}},
		{"unknown", []string{"nope", "<script>"}, nil, []string{"updateMask", "updateMask"}},
		{"nothing", []string{"etag"}, nil, []string{"updateMask"}},
		{"empty", nil, nil, []string{"updateMask"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normaliseMask(tc.paths)
			if diff := cmp.Diff(tc.fields, violatedFields(t, err)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if err == nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("paths (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestApplyPatch checks the merge rules of an edit: clerk's records on
// dossiers and premises survive where the thing is unchanged.
func TestApplyPatch(t *testing.T) {
	old := newDraft(validPackage())
	old.State = pb.Handover_RETURNED
	old.Dossiers[0].State = pb.Dossier_RECEIVED
	old.Dossiers[1].State, old.Dossiers[1].Explanation = pb.Dossier_MISSING, "遗失"
	old.Premises = append(old.Premises, &pb.Premises{Id: "P2", Name: "乙", Address: "二号", AreaSqm: 20, Capacity: 10})
	old.Premises[0].Inspection, old.Premises[0].InspectionNotes = pb.Premises_ACCEPTED, "好"
	old.Premises[1].Inspection = pb.Premises_DECLINED

	values := proto.Clone(old).(*pb.Handover)
	values.RetireeIds = []string{"aaaaaaaaaaaaaaaa", "cccccccccccccccc"}
	values.Dossiers[1].DossierNo = "D-NEW" // a different dossier: pending again
	values.Premises[1].Capacity = 12       // changed: to be inspected again
	values.Premises = append(values.Premises, &pb.Premises{Id: "P1", Name: "重复"}, &pb.Premises{Name: "新"})
	h := proto.Clone(old).(*pb.Handover)
	removed, detail, err := applyPatch(h, Patch{Paths: []string{pathRetirees, pathDossiers, pathPremises}, Values: values})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{"bbbbbbbbbbbbbbbb"}) {
		t.Errorf("removed %v", removed)
	}
	if detail != "changed retireeIds, dossiers, premises" {
		t.Errorf("detail %q", detail)
	}
	gotD := []pb.Dossier_State{h.Dossiers[0].State, h.Dossiers[1].State}
	if !slices.Equal(gotD, []pb.Dossier_State{pb.Dossier_RECEIVED, pb.Dossier_PENDING}) || h.Dossiers[1].Explanation != "" {
		t.Errorf("dossiers %v", h.Dossiers)
	}
	type pr struct {
		ID         string
		Inspection pb.Premises_Inspection
	}
	var gotP []pr
	for _, p := range h.Premises {
		gotP = append(gotP, pr{p.Id, p.Inspection})
	}
	want := []pr{{"P1", pb.Premises_ACCEPTED}, {"P2", pb.Premises_NOT_INSPECTED}, {"P3", pb.Premises_NOT_INSPECTED}, {"P4", pb.Premises_NOT_INSPECTED}}
	if diff := cmp.Diff(want, gotP); diff != "" {
		t.Errorf("premises (-want +got):\n%s", diff)
	}

	submitted := proto.Clone(old).(*pb.Handover)
	submitted.State = pb.Handover_SUBMITTED
	if _, _, err := applyPatch(submitted, Patch{Paths: []string{pathCommunity}, Values: values}); err == nil {
		t.Error("edited a submitted package")
	}
}

// FuzzNormaliseMask: any mask gives either Patch paths a patch handles or
// violations that do not repeat what does not look like a field name.
func FuzzNormaliseMask(f *testing.F) {
	for _, s := range []string{"funds", "funds.amountFen", "etag", "state", "<x>", "retiree_ids\x00"} {
		f.Add(s, "community_id")
	}
	allowed := []string{pathCommunity, pathRetirees, pathAmount, pathStandard, pathDossiers, pathPremises, pathObligations, pathFundsItems, pathPlan}
	f.Fuzz(func(t *testing.T, a, b string) {
		paths, err := normaliseMask([]string{a, b})
		if err != nil {
			var ve *fault.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T", err)
			}
			for _, fv := range ve.Fields {
				// Whatever a description quotes looks like a field name.
				if _, rest, ok := strings.Cut(fv.Description, "\""); ok {
					quoted, _, _ := strings.Cut(rest, "\"")
					if !fieldNameRE.MatchString(quoted) {
						t.Errorf("violation quotes %q: %s", quoted, fv.Description)
					}
				}
			}
			return
		}
		for _, p := range paths {
			if !slices.Contains(allowed, p) {
				t.Errorf("path %q is not a patch path", p)
			}
		}
		// Every path the patch names is one applyPatch handles.
		h := newDraft(validPackage())
		if _, _, err := applyPatch(h, Patch{Paths: paths, Values: validPackage()}); err != nil {
			t.Errorf("applyPatch(%q): %v", paths, err)
		}
	})
}

// FuzzCheckNewHandover feeds decoded packages of any shape to the
// validation and the draft: no panic, and a package that passes keeps to
// the bounds.
func FuzzCheckNewHandover(f *testing.F) {
	seed, err := proto.Marshal(validPackage())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h := new(pb.Handover)
		if err := proto.Unmarshal(data, h); err != nil {
			return
		}
		if err := checkNewHandover(h); err != nil {
			return
		}
		d := newDraft(h)
		if len(d.RetireeIds) > MaxRetirees || len(d.Premises) > MaxPremises || len(d.Obligations) > MaxObligations {
			t.Fatalf("bounds broken: %d %d %d", len(d.RetireeIds), len(d.Premises), len(d.Obligations))
		}
		for _, p := range d.Premises {
			if !utf8.ValidString(p.Name) || p.Capacity < 1 || premisesNumber(p.Id) == 0 {
				t.Fatalf("premises %v", p)
			}
		}
		if d.State != pb.Handover_DRAFT || d.Funds.ReceivedFen != 0 || d.Delivery != nil {
			t.Fatalf("draft keeps output fields: %v", d)
		}
		_ = localSubmitViolations(d, FundsRule{"21"})
		_ = completeViolations(d)
	})
}

// FuzzCheckArchives: the archive lists of a ReceiveArchives never panic
// the checks, and what passes names each retiree once with a reason for
// each missing one and known categories, each once.
func FuzzCheckArchives(f *testing.F) {
	f.Add("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "遗失", int32(2), int32(2))
	f.Add("aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa", "", int32(0), int32(0))
	f.Add("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "", int32(3), int32(11))
	f.Fuzz(func(t *testing.T, received, missing, explanation string, c1, c2 int32) {
		m := []*pb.MissingDossier{{RetireeId: missing, Explanation: explanation}}
		materials := []*pb.MissingMaterial{{Category: pb.ArchiveCategory(c1)}, {Category: pb.ArchiveCategory(c2), Explanation: explanation}}
		r := archiveReceipt{missing: m, dossiers: []*pb.DossierReceipt{{RetireeId: received, MissingMaterials: materials}}}
		if err := checkArchives(r); err != nil {
			return
		}
		if received == missing || explanation == "" || !inputcheck.IsOpaqueID(received) || !inputcheck.IsOpaqueID(missing) {
			t.Fatalf("passed: %q %q %q", received, missing, explanation)
		}
		if c1 == c2 || c1 < 1 || c1 > 10 || c2 < 1 || c2 > 10 {
			t.Fatalf("categories passed: %d %d", c1, c2)
		}
		h := newDraft(packageFor([]string{received}))
		byRetiree := map[string]*pb.Dossier{received: h.Dossiers[0]}
		if err := checkReceiptTargets(byRetiree, r); err == nil {
			t.Fatalf("a dossier not in the package was accepted: %q", missing)
		}
	})
}
