package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/authn"
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

// TestServerListByNameAndTail searches a roster over gRPC by a part of
// the name (trimmed, Latin letters in any case) and by the ID number's
// last 4 characters, alone and with flags; a clerk still sees its own
// community only, and a supervisor its area.
func TestServerListByNameAndTail(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	tails := map[string]string{}
	mk := func(seq int, community, name, birth string, flags ...pb.RetireeFlag) *pb.Retiree {
		r := newRetiree(t, seq, community, pb.ManagementMode_COMMUNITY)
		id, err := idnumber.Build("210102", mustDate(t, birth), seq)
		if err != nil {
			t.Fatal(err)
		}
		r.IdNumber, r.RetirementDate, r.Name, r.Flags = id.Digits(), "", name, flags
		r = mustCreate(t, s, r)
		tails[r.Id] = r.IdNumber[len(r.IdNumber)-4:]
		return r
	}
	xiuying := mk(11, communityA, "张秀英", "1940-03-01", pb.RetireeFlag_LIVING_ALONE)
	xiulan := mk(12, communityA, "张秀兰", "1941-03-01")
	li := mk(13, communityA, "李秀英", "1960-03-01", pb.RetireeFlag_LIVING_ALONE)
	aygul := mk(14, communityA, "Aygül Tursun", "1950-03-01")
	elsewhere := mk(15, communityB, "张秀英", "1942-03-01", pb.RetireeFlag_LIVING_ALONE)
	tail := func(r *pb.Retiree) string { return tails[r.Id] }

	alone := []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS}
	for _, tc := range []struct {
		name string
		as   authn.Principal
		req  *pb.ListRetireesRequest
		want []*pb.Retiree
	}{
		{"a part of the name, trimmed", clerkP, &pb.ListRetireesRequest{Name: " 秀英\u3000"}, []*pb.Retiree{xiuying, li}},
		{"the whole name", clerkP, &pb.ListRetireesRequest{Name: "张秀兰"}, []*pb.Retiree{xiulan}},
		{"Latin letters in another case", clerkP, &pb.ListRetireesRequest{Name: "aYGÜL tUR"}, []*pb.Retiree{aygul}},
		{"the tail", clerkP, &pb.ListRetireesRequest{IdNumberTail: tail(xiulan)}, []*pb.Retiree{xiulan}},
		{"name and tail", clerkP, &pb.ListRetireesRequest{Name: "秀", IdNumberTail: tail(li)}, []*pb.Retiree{li}},
		{"name and tail of two people", clerkP, &pb.ListRetireesRequest{Name: "张", IdNumberTail: tail(li)}, nil},
		{"name, living alone, over 80", clerkP, &pb.ListRetireesRequest{Name: "秀英", Flags: alone}, []*pb.Retiree{xiuying}},
		{"a name no one has", clerkP, &pb.ListRetireesRequest{Name: "王"}, nil},
		{"the clerk's community only", clerkP, &pb.ListRetireesRequest{Name: "张秀英"}, []*pb.Retiree{xiuying}},
		{"the street's whole area", streetP, &pb.ListRetireesRequest{Name: "张秀英"}, []*pb.Retiree{xiuying, elsewhere}},
		{"another community's tail, as its street", streetP, &pb.ListRetireesRequest{IdNumberTail: tail(elsewhere)}, []*pb.Retiree{elsewhere}},
		{"another community's tail, as the clerk", clerkP, &pb.ListRetireesRequest{IdNumberTail: tail(elsewhere)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.ListRetirees(h.as(tc.as), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, r := range resp.Retirees {
				got = append(got, r.Id)
				if r.IdNumber != "" || !strings.HasSuffix(r.IdNumberMasked, tails[r.Id]) {
					t.Errorf("listed ID number %q, masked %q", idnumber.Mask(r.IdNumber), r.IdNumberMasked)
				}
			}
			for _, r := range tc.want {
				want = append(want, r.Id)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("listed %v, want %v", got, want)
			}
		})
	}
	_, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{CommunityId: communityB, Name: "张秀英"})
	wantStatus(t, err, codes.PermissionDenied)
}

// TestServerListByNamePagesAndRefuses: a name one retiree in thirty has is
// looked for a bounded number of keys a page, the first pages answering
// none but a token to go on with; a token serves the name it was issued
// for only; and a bad name or tail is refused naming the field, without
// the value.
func TestServerListByNamePagesAndRefuses(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	s.maxExamined = 5
	c := h.client
	var rare string
	for i := range 30 {
		r := newRetiree(t, i, communityA, pb.ManagementMode_COMMUNITY)
		if i == 27 {
			r.Name = "王小明"
		}
		if r = mustCreate(t, s, r); i == 27 {
			rare = r.Id
		}
	}
	// Pages of 10 that examine 5 keys each: the one retiree is on one of
	// at least 6 pages, and the others but the last answer none but a
	// token.
	var found []string
	var pages, empty int
	var first string
	for token := ""; pages == 0 || token != ""; pages++ {
		if pages > 100 {
			t.Fatal("the list does not end")
		}
		resp, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{Name: "小明", PageSize: 10, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Retirees {
			found = append(found, r.Id)
		}
		if len(resp.Retirees) == 0 && resp.NextPageToken != "" {
			empty++
		}
		token = resp.NextPageToken
		if first == "" {
			first = token
		}
	}
	if !slices.Equal(found, []string{rare}) || pages < 30/5 || empty < 30/5-2 {
		t.Errorf("found %v in %d pages, %d of them empty with a token; want [%s] in at least %d", found, pages, empty, rare, 30/5)
	}
	_, err := c.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{Name: "小红", PageToken: first})
	wantFields(t, err, "pageToken")

	for _, tc := range []struct {
		name, field string
		req         *pb.ListRetireesRequest
	}{
		{"a name of 21 characters", "name", &pb.ListRetireesRequest{Name: strings.Repeat("秀", maxNameFilterLen+1)}},
		{"a name turned backwards", "name", &pb.ListRetireesRequest{Name: "秀\u202e英"}},
		{"a tail of 5 digits", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: "12345"}},
		{"a tail of 3 digits", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: "123"}},
		{"a tail with a lower-case x", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: "002x"}},
		{"a tail with X inside", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: "0X21"}},
		{"a tail with white space", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: " 0021"}},
		{"a full ID number as tail", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: "11010519491231002X"}},
		{"full-width digits", "idNumberTail", &pb.ListRetireesRequest{IdNumberTail: "００２１"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListRetirees(h.as(clerkP), tc.req)
			wantStatus(t, err, codes.InvalidArgument, tc.req.Name, tc.req.IdNumberTail)
			wantFields(t, err, tc.field)
		})
	}
}
