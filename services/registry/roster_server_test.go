package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestServerResidenceAndCarers checks who sees the carers' phone numbers
// (as the retiree's own: in full from get and lookup to the roles that
// see personal data, masked everywhere else, the history included), that
// residence and residence_address stay one address, and that the reads
// are audited.
func TestServerResidenceAndCarers(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	c := h.client
	in := newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)
	in.ResidenceAddress = ""
	in.Residence = &pb.Residence{Kind: pb.Residence_ABROAD, Address: "Toronto, Ontario", Country: "CA"}
	in.Carers = []*pb.Carer{
		{Name: "李明", Relation: pb.Carer_CHILD, Phone: "13912345678", LegallyResponsible: true, EmergencyContact: true, PhoneMasked: "forged"},
		{Name: "王芳", Relation: pb.Carer_NEIGHBOUR},
	}
	created, err := c.CreateRetiree(h.as(clerkP), &pb.CreateRetireeRequest{Retiree: in})
	if err != nil {
		t.Fatal(err)
	}
	r := created.Retiree
	masked := []*pb.Carer{
		{Name: "李明", Relation: pb.Carer_CHILD, PhoneMasked: "139****5678", LegallyResponsible: true, EmergencyContact: true},
		{Name: "王芳", Relation: pb.Carer_NEIGHBOUR},
	}
	full := []*pb.Carer{
		{Name: "李明", Relation: pb.Carer_CHILD, Phone: "13912345678", PhoneMasked: "139****5678", LegallyResponsible: true, EmergencyContact: true},
		{Name: "王芳", Relation: pb.Carer_NEIGHBOUR},
	}
	wantCarers := func(name string, got, want []*pb.Carer) {
		t.Helper()
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s: carers (-want +got):\n%s", name, diff)
		}
	}
	wantCarers("create", r.Carers, masked)
	if r.ResidenceAddress != "Toronto, Ontario" || r.Residence.GetCountry() != "CA" {
		t.Errorf("created residence %v, address %q", r.Residence, r.ResidenceAddress)
	}
	got, err := c.GetRetiree(h.as(clerkP), &pb.GetRetireeRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	wantCarers("get by the clerk", got.Retiree.Carers, full)
	svc, err := c.GetRetiree(h.as(serviceP), &pb.GetRetireeRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	wantCarers("get by a service", svc.Retiree.Carers, masked)
	found, err := c.LookupRetiree(h.as(bureauP), &pb.LookupRetireeRequest{IdNumber: in.IdNumber})
	if err != nil {
		t.Fatal(err)
	}
	wantCarers("lookup", found.Retiree.Carers, full)
	list, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{ResidenceKind: pb.Residence_ABROAD})
	if err != nil || len(list.Retirees) != 1 {
		t.Fatalf("list of those living abroad: %v, %v", list, err)
	}
	wantCarers("list", list.Retirees[0].Carers, masked)

	// residence_address alone keeps the kind and changes the address.
	updated, err := c.UpdateRetiree(h.as(clerkP), &pb.UpdateRetireeRequest{
		Retiree:    &pb.Retiree{Id: r.Id, Etag: r.Etag, ResidenceAddress: "Vancouver", Carers: []*pb.Carer{{Name: "李明", Relation: pb.Carer_CHILD, Phone: "13700001111"}}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"residenceAddress", "carers"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := updated.Retiree
	if u.Residence.GetKind() != pb.Residence_ABROAD || u.Residence.GetAddress() != "Vancouver" || u.ResidenceAddress != "Vancouver" {
		t.Errorf("after an update of residenceAddress: residence %v, address %q", u.Residence, u.ResidenceAddress)
	}
	wantCarers("update", u.Carers, []*pb.Carer{{Name: "李明", Relation: pb.Carer_CHILD, PhoneMasked: "137****1111"}})

	hist, err := c.ListRetireeHistory(h.as(clerkP), &pb.ListRetireeHistoryRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	var carers []string
	for _, e := range hist.Entries {
		for _, ch := range e.Changes {
			for _, number := range []string{"13912345678", "13700001111"} {
				if strings.Contains(ch.OldValue+ch.NewValue, number) {
					t.Errorf("history entry %d shows a carer's phone number in full", e.Revision)
				}
			}
			if ch.Field == "carers" {
				carers = append(carers, ch.NewValue)
			}
		}
	}
	want := []string{
		"李明 (CHILD, 139****5678, legally responsible, emergency contact); 王芳 (NEIGHBOUR)",
		"李明 (CHILD, 137****1111)",
	}
	if !slices.Equal(carers, want) {
		t.Errorf("history of the carers %q, want %q", carers, want)
	}
	audit, err := c.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Action)
	}
	for _, read := range []string{"GetRetiree", "LookupRetiree", "ListRetirees", "ListRetireeHistory"} {
		if !slices.Contains(actions, read) {
			t.Errorf("audit log %v has no %s", actions, read)
		}
	}
}

// TestServerListByFlags lists a clerk's special groups over gRPC: the
// computed flags answer from the birth date, and a filter on them and on
// ages selects by it.
func TestServerListByFlags(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	mk := func(n int, birth string, flags ...pb.RetireeFlag) string {
		r := newRetiree(t, n, communityA, pb.ManagementMode_COMMUNITY)
		id, err := idnumber.Build("210102", mustDate(t, birth), n)
		if err != nil {
			t.Fatal(err)
		}
		r.IdNumber, r.RetirementDate, r.Flags = id.Digits(), "", flags
		return mustCreate(t, s, r).Id
	}
	alone80 := mk(1, "1946-06-15", pb.RetireeFlag_LIVING_ALONE) // 80 on testNow
	mk(2, "1946-06-16", pb.RetireeFlag_LIVING_ALONE)            // 79
	alone91 := mk(3, "1935-01-01", pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_VETERAN)
	mk(4, "1930-01-01") // 96, not alone
	alone97 := mk(5, "1929-01-01", pb.RetireeFlag_LIVING_ALONE)

	list, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{
		Flags: []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS}, MinAge: 80, MaxAge: 95,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list.Retirees {
		ids = append(ids, r.Id)
		if !slices.Contains(r.Flags, pb.RetireeFlag_AGED_80_PLUS) {
			t.Errorf("listed retiree born %s without AGED_80_PLUS: %v", r.BirthDate, r.Flags)
		}
	}
	// The list walks the index in birth-date order.
	if want := []string{alone91, alone80}; !slices.Equal(ids, want) {
		t.Errorf("living alone aged 80 to 95: %v, want %v", ids, want)
	}
	nineties, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{Flags: []pb.RetireeFlag{pb.RetireeFlag_AGED_90_PLUS, pb.RetireeFlag_LIVING_ALONE}})
	if err != nil {
		t.Fatal(err)
	}
	if len(nineties.Retirees) != 2 || nineties.Retirees[0].Id != alone97 ||
		!slices.Equal(nineties.Retirees[1].Flags, []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS, pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_90_PLUS, pb.RetireeFlag_VETERAN}) {
		t.Errorf("living alone aged 90+: %v", nineties.Retirees)
	}
	// A clerk's filter stays within its community.
	if _, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{CommunityId: communityB, Flags: []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}}); err == nil {
		t.Error("a clerk listed another community's special group")
	} else {
		wantStatus(t, err, codes.PermissionDenied)
	}
}
