package registry

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestListRetireesPaging pages through 2,500 retirees with several page
// sizes, filters and callers: every retiree of the query exactly once.
func TestListRetireesPaging(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	const n = 2500
	var in []*pb.Retiree
	for i := range n {
		community := communityA
		if i%3 == 0 {
			community = communityB
		}
		in = append(in, newRetiree(t, i, community, pb.ManagementMode_COMMUNITY))
	}
	created := createMany(t, s, in)
	all := map[string]bool{}
	inA := map[string]bool{}
	for _, r := range created {
		all[r.Id] = true
		if r.CommunityId == communityA {
			inA[r.Id] = true
		}
	}

	// page lists every page of req and returns the ids in order.
	page := func(t *testing.T, ctx context.Context, req *pb.ListRetireesRequest) ([]string, int) {
		t.Helper()
		size := int(req.PageSize)
		if size == 0 {
			size = 50
		}
		pages := 0
		ids := servicetest.AllPages(t, n, func(token string) ([]string, string, error) {
			req.PageToken = token
			resp, err := h.client.ListRetirees(ctx, req)
			pages++
			if len(resp.GetRetirees()) > size {
				t.Fatalf("page %d has %d retirees, more than %d", pages, len(resp.Retirees), size)
			}
			return retireeIDs(resp.GetRetirees()), resp.GetNextPageToken(), err
		})
		return ids, pages
	}
	check := func(t *testing.T, ids []string, want map[string]bool) {
		t.Helper()
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("retiree %s listed twice", id)
			}
			if !want[id] {
				t.Fatalf("retiree %s does not belong in the list", id)
			}
			seen[id] = true
		}
		if len(seen) != len(want) {
			t.Errorf("listed %d retirees, want %d", len(seen), len(want))
		}
	}

	tests := []struct {
		name      string
		p         authn.Principal
		req       *pb.ListRetireesRequest
		want      map[string]bool
		wantPages int
	}{
		{"admin, 100 a page", adminP, &pb.ListRetireesRequest{PageSize: 100}, all, 25},
		{"admin, 1000 a page", adminP, &pb.ListRetireesRequest{PageSize: 1000}, all, 3},
		{"bureau, community A, 250 a page", bureauP, &pb.ListRetireesRequest{PageSize: 250, CommunityId: communityA}, inA, 7},
		{"clerk of A, default page size", clerkP, &pb.ListRetireesRequest{}, inA, 34},
		{"clerk of A, 1000 a page", clerkP, &pb.ListRetireesRequest{PageSize: 1000, CommunityId: communityA}, inA, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ids, pages := page(t, h.as(tc.p), tc.req)
			check(t, ids, tc.want)
			if pages != tc.wantPages {
				t.Errorf("%d pages, want %d", pages, tc.wantPages)
			}
		})
	}

	t.Run("page size may change between pages", func(t *testing.T) {
		ctx := h.as(adminP)
		i := 0
		ids := servicetest.AllPages(t, 1000, func(token string) ([]string, string, error) {
			resp, err := h.client.ListRetirees(ctx, &pb.ListRetireesRequest{PageSize: int32(7 + i*97%1000), PageToken: token})
			i++
			return retireeIDs(resp.GetRetirees()), resp.GetNextPageToken(), err
		})
		check(t, ids, all)
	})

	t.Run("a token belongs to its query", func(t *testing.T) {
		admin := h.as(adminP)
		first, err := h.client.ListRetirees(admin, &pb.ListRetireesRequest{PageSize: 10, CommunityId: communityA})
		if err != nil || first.NextPageToken == "" {
			t.Fatalf("first page = %v, %v", first, err)
		}
		tok := first.NextPageToken
		for _, req := range []*pb.ListRetireesRequest{
			{CommunityId: communityB, PageToken: tok},
			{PageToken: tok},
			{CommunityId: communityA, ManagementMode: pb.ManagementMode_COMMUNITY, PageToken: tok},
			{CommunityId: communityA, Status: pb.RetireeStatus_LIVING, PageToken: tok},
			{CommunityId: communityA, EnterpriseCreditCode: enterpriseX, PageToken: tok},
		} {
			_, err := h.client.ListRetirees(admin, req)
			wantFields(t, err, "pageToken")
		}
		// The same query continues with it, whoever asks.
		next, err := h.client.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{PageSize: 10, PageToken: tok})
		if err != nil || len(next.Retirees) != 10 || next.Retirees[0].Id == first.Retirees[9].Id {
			t.Errorf("second page for the clerk = %d retirees, %v", len(next.GetRetirees()), err)
		}
		// An admin token for everything does not page the clerk's list.
		everything, err := h.client.ListRetirees(admin, &pb.ListRetireesRequest{PageSize: 10})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.client.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{PageToken: everything.NextPageToken})
		wantFields(t, err, "pageToken")
	})
}

// maskedID is the shape of a masked ID number: area code, eight stars for
// the birth date, sequence and check character.
var maskedID = regexp.MustCompile(`^[1-9][0-9]{5}\*{8}[0-9]{3}[0-9X]$`)

// TestPersonalData: lists never carry full ID or phone numbers; single
// reads do, to those who may see them, except to services.
func TestPersonalData(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	var in []*pb.Retiree
	for i := range 30 {
		in = append(in, newRetiree(t, i, []string{communityA, communityB}[i%2], pb.ManagementMode_ENTERPRISE))
	}
	created := createMany(t, s, in)
	mine := created[0] // communityA, managed by enterpriseX
	byID := map[string]*pb.Retiree{}
	for _, r := range created {
		byID[r.Id] = r
	}

	for _, p := range []authn.Principal{adminP, bureauP, clerkP, enterpriseP} {
		t.Run("list as "+string(p.Role), func(t *testing.T) {
			resp, err := c.ListRetirees(h.as(p), &pb.ListRetireesRequest{PageSize: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Retirees) == 0 {
				t.Fatal("empty list")
			}
			for _, r := range resp.Retirees {
				stored := byID[r.Id]
				if r.IdNumber != "" || r.Phone != "" {
					t.Errorf("list entry %s has ID number or phone", r.Id)
				}
				want := stored.IdNumber[:6] + "********" + stored.IdNumber[14:]
				if r.IdNumberMasked != want || !maskedID.MatchString(r.IdNumberMasked) {
					t.Errorf("idNumberMasked = %q, want %q", r.IdNumberMasked, want)
				}
				if r.PhoneMasked != "138****5678" {
					t.Errorf("phoneMasked = %q", r.PhoneMasked)
				}
			}
		})
	}

	full := func(r *pb.Retiree) bool {
		return r.IdNumber == mine.IdNumber && r.Phone == mine.Phone && r.IdNumberMasked != "" && r.PhoneMasked != ""
	}
	for _, p := range []authn.Principal{adminP, bureauP, clerkP, enterpriseP} {
		t.Run("get and lookup as "+string(p.Role), func(t *testing.T) {
			got, err := c.GetRetiree(h.as(p), &pb.GetRetireeRequest{Id: mine.Id})
			if err != nil {
				t.Fatal(err)
			}
			if !full(got.Retiree) {
				t.Errorf("get: ID number or phone missing")
			}
			found, err := c.LookupRetiree(h.as(p), &pb.LookupRetireeRequest{IdNumber: mine.IdNumber})
			if err != nil {
				t.Fatal(err)
			}
			if !full(found.Retiree) {
				t.Errorf("lookup: ID number or phone missing")
			}
		})
	}
	t.Run("get as service", func(t *testing.T) {
		got, err := c.GetRetiree(h.as(serviceP), &pb.GetRetireeRequest{Id: mine.Id})
		if err != nil {
			t.Fatal(err)
		}
		r := got.Retiree
		if r.IdNumber != "" || r.Phone != "" {
			t.Error("a service gets the full ID or phone number")
		}
		if !maskedID.MatchString(r.IdNumberMasked) || r.PhoneMasked != "138****5678" || r.Name != mine.Name {
			t.Errorf("service view = %v", r)
		}
	})
	t.Run("changes answer with the masks only", func(t *testing.T) {
		clerk := h.as(clerkP)
		up, err := c.UpdateRetiree(clerk, &pb.UpdateRetireeRequest{
			Retiree:    &pb.Retiree{Id: mine.Id, Etag: mine.Etag, Name: "改名"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if up.Retiree.IdNumber != "" || up.Retiree.Phone != "" || !maskedID.MatchString(up.Retiree.IdNumberMasked) {
			t.Errorf("update answer: %q %q %q", idnumber.Mask(up.Retiree.IdNumber), up.Retiree.IdNumberMasked, up.Retiree.PhoneMasked)
		}
	})
	t.Run("watch carries keys, not numbers", func(t *testing.T) {
		stream, _ := h.watch(t, 0)
		for _, m := range recvN(t, stream, len(created)+1) {
			if m.Retiree == nil {
				continue
			}
			if r := byID[m.Retiree.Id]; r != nil && len(m.Retiree.IdNumberKey) != 32 {
				t.Errorf("retiree %s: key of %d bytes", r.Id, len(m.Retiree.IdNumberKey))
			}
			if servicetest.LooksLikeIDNumber(string(m.Retiree.IdNumberKey)) {
				t.Errorf("watch state carries an ID number")
			}
		}
	})
}

// TestSupervisorReads: a street or district supervisor reads the retirees
// of its area with their numbers masked, even by get and lookup, pages
// through its whole area, and each read is audited as anyone's is.
func TestSupervisorReads(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	var in []*pb.Retiree
	for i := range 9 {
		in = append(in, newRetiree(t, i, []string{communityA, communityB, communityC}[i%3], pb.ManagementMode_ENTERPRISE))
	}
	created := createMany(t, s, in)
	var inArea []string
	for _, r := range created {
		if r.CommunityId != communityC {
			inArea = append(inArea, r.Id)
		}
	}
	slices.Sort(inArea)
	mine := created[1] // communityB
	for _, p := range []authn.Principal{streetP, districtP} {
		t.Run(string(p.Role), func(t *testing.T) {
			ctx := withRequestID(h.as(p), "req-"+string(p.Role))
			got, err := c.GetRetiree(ctx, &pb.GetRetireeRequest{Id: mine.Id})
			if err != nil {
				t.Fatal(err)
			}
			found, err := c.LookupRetiree(ctx, &pb.LookupRetireeRequest{IdNumber: mine.IdNumber})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []*pb.Retiree{got.Retiree, found.Retiree} {
				if r.IdNumber != "" || r.Phone != "" || !maskedID.MatchString(r.IdNumberMasked) || r.PhoneMasked != "138****5678" || r.Name != mine.Name {
					t.Errorf("a supervisor's view: number %t, phone %t, masks %q %q", r.IdNumber != "", r.Phone != "", r.IdNumberMasked, r.PhoneMasked)
				}
			}
			listed := servicetest.AllPages(t, 10, func(token string) ([]*pb.Retiree, string, error) {
				resp, err := c.ListRetirees(h.as(p), &pb.ListRetireesRequest{PageSize: 2, PageToken: token})
				return resp.GetRetirees(), resp.GetNextPageToken(), err
			})
			ids := retireeIDs(listed)
			slices.Sort(ids)
			if diff := cmp.Diff(inArea, ids); diff != "" {
				t.Errorf("listed its area page by page (-want +got):\n%s", diff)
			}
			for _, r := range listed {
				if r.IdNumber != "" || r.Phone != "" {
					t.Errorf("list entry %s has its numbers", r.Id)
				}
			}
			// An age filter walks the city's birth-date index; the area
			// still bounds what it finds.
			aged := servicetest.AllPages(t, 10, func(token string) ([]*pb.Retiree, string, error) {
				resp, err := c.ListRetirees(h.as(p), &pb.ListRetireesRequest{PageSize: 2, PageToken: token, MinAge: 1})
				return resp.GetRetirees(), resp.GetNextPageToken(), err
			})
			ids = retireeIDs(aged)
			slices.Sort(ids)
			if diff := cmp.Diff(inArea, ids); diff != "" {
				t.Errorf("listed its area by age (-want +got):\n%s", diff)
			}
			// Transfers: one community of the area at a time.
			_, err = c.ListTransfers(h.as(p), &pb.ListTransfersRequest{})
			wantFields(t, err, "communityId")
			_, err = c.ListTransfers(h.as(p), &pb.ListTransfersRequest{CommunityId: communityC, Direction: pb.TransferDirection_INCOMING})
			wantStatus(t, err, codes.PermissionDenied)
			if _, err := c.ListTransfers(h.as(p), &pb.ListTransfersRequest{CommunityId: communityB, Direction: pb.TransferDirection_OUTGOING}); err != nil {
				t.Errorf("transfers out of a community of its area: %v", err)
			}
			// A page token of the whole area is no token for a community.
			first, err := c.ListRetirees(h.as(p), &pb.ListRetireesRequest{PageSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListRetirees(h.as(p), &pb.ListRetireesRequest{PageSize: 1, CommunityId: communityA, PageToken: first.NextPageToken})
			wantStatus(t, err, codes.InvalidArgument)

			audit, err := c.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: mine.Id})
			if err != nil {
				t.Fatal(err)
			}
			var actions []string
			for _, e := range audit.Entries {
				if e.Subject == p.Subject && e.Role == string(p.Role) && e.RequestId == rid("req-"+string(p.Role)) {
					actions = append(actions, e.Action)
				}
			}
			if diff := cmp.Diff([]string{"GetRetiree", "LookupRetiree"}, actions); diff != "" {
				t.Errorf("the supervisor's reads in the audit log (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuditLog: every read or change of a retiree's personal data is in
// its audit log, in order, with who, what and which request.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	as := func(p authn.Principal, rid string) context.Context { return withRequestID(h.as(p), rid) }

	created, err := c.CreateRetiree(as(clerkP, "req-create"), &pb.CreateRetireeRequest{Retiree: newRetiree(t, 1, communityA, pb.ManagementMode_ENTERPRISE)})
	if err != nil {
		t.Fatal(err)
	}
	r := created.Retiree
	mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY)) // listed too, audited under its own id
	steps := []struct {
		p    authn.Principal
		rid  string
		call func(ctx context.Context) error
	}{
		{adminP, "req-get", func(ctx context.Context) error {
			return servicetest.ErrOf(c.GetRetiree(ctx, &pb.GetRetireeRequest{Id: r.Id}))
		}},
		{bureauP, "req-lookup", func(ctx context.Context) error {
			return servicetest.ErrOf(c.LookupRetiree(ctx, &pb.LookupRetireeRequest{IdNumber: idNumber(t, 1).Digits()}))
		}},
		{clerkP, "req-list", func(ctx context.Context) error {
			return servicetest.ErrOf(c.ListRetirees(ctx, &pb.ListRetireesRequest{}))
		}},
		{clerkP, "req-update", func(ctx context.Context) error {
			_, err := c.UpdateRetiree(ctx, &pb.UpdateRetireeRequest{
				Retiree:    &pb.Retiree{Id: r.Id, Etag: r.Etag, Phone: "13900001111"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}},
			})
			return err
		}},
		{enterpriseP, "req-history", func(ctx context.Context) error {
			return servicetest.ErrOf(c.ListRetireeHistory(ctx, &pb.ListRetireeHistoryRequest{Id: r.Id}))
		}},
		{serviceP, "req-service", func(ctx context.Context) error {
			return servicetest.ErrOf(c.GetRetiree(ctx, &pb.GetRetireeRequest{Id: r.Id}))
		}},
		{bureauP, "req-transfer", func(ctx context.Context) error {
			return servicetest.ErrOf(c.TransferRetiree(ctx, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityB, Reason: "搬家"}))
		}},
		{serviceP, "req-assign", func(ctx context.Context) error {
			return servicetest.ErrOf(c.AssignRetirees(ctx, &pb.AssignRetireesRequest{RequestKey: "h-1", RetireeIds: []string{r.Id}, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY}))
		}},
		{adminP, "req-death", func(ctx context.Context) error {
			return servicetest.ErrOf(c.RecordDeath(ctx, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-03-01"}))
		}},
	}
	for _, st := range steps {
		if err := st.call(as(st.p, st.rid)); err != nil {
			t.Fatalf("%s: %v", st.rid, err)
		}
	}
	// Refused calls read nothing and are not audited.
	if _, err := c.GetRetiree(as(clerkP, "req-refused"), &pb.GetRetireeRequest{Id: r.Id}); err == nil {
		t.Fatal("clerk of A reads a retiree of B")
	}

	resp, err := c.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ Subject, Role, Action, RequestID, RetireeID string }
	var got []entry
	for _, e := range resp.Entries {
		if e.Time == nil {
			t.Errorf("entry %s has no time", e.RequestId)
		}
		got = append(got, entry{e.Subject, e.Role, e.Action, e.RequestId, e.RetireeId})
	}
	want := []entry{
		{"clerk-a", "clerk", "CreateRetiree", rid("req-create"), r.Id},
		{"admin-1", "admin", "GetRetiree", rid("req-get"), r.Id},
		{"bureau-shenyang", "bureau", "LookupRetiree", rid("req-lookup"), r.Id},
		{"clerk-a", "clerk", "ListRetirees", rid("req-list"), r.Id},
		{"clerk-a", "clerk", "UpdateRetiree", rid("req-update"), r.Id},
		{"enterprise-x", "enterprise", "ListRetireeHistory", rid("req-history"), r.Id},
		{"handover", "service", "GetRetiree", rid("req-service"), r.Id},
		{"bureau-shenyang", "bureau", "TransferRetiree", rid("req-transfer"), r.Id},
		{"handover", "service", "AssignRetirees", rid("req-assign"), r.Id},
		{"admin-1", "admin", "RecordDeath", rid("req-death"), r.Id},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}

	// Paging through a long log.
	for i := range 120 {
		if _, err := c.GetRetiree(as(bureauP, fmt.Sprintf("bulk-%d", i)), &pb.GetRetireeRequest{Id: r.Id}); err != nil {
			t.Fatal(err)
		}
	}
	all := servicetest.AllPages(t, 1000, func(token string) ([]string, string, error) {
		page, err := c.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: r.Id, PageSize: 50, PageToken: token})
		var ids []string
		for _, e := range page.GetEntries() {
			ids = append(ids, e.RequestId)
		}
		return ids, page.GetNextPageToken(), err
	})
	if len(all) != len(want)+120 || all[len(want)] != rid("bulk-0") || all[len(all)-1] != rid("bulk-119") {
		t.Errorf("paged audit log: %d entries, from %q to %q", len(all), all[len(want)], all[len(all)-1])
	}
	_, err = c.ListRetireeAuditLog(h.as(bureauP), &pb.ListRetireeAuditLogRequest{Id: r.Id})
	wantStatus(t, err, codes.PermissionDenied)
}

// retireeIDs are the ids of rs, in order.
func retireeIDs(rs []*pb.Retiree) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, r.Id)
	}
	return ids
}

// TestEnterpriseMoveIsTheBureaus: a clerk may correct the former
// enterprise of a retiree the community manages, and may send back the
// enterprise of one still managed by it unchanged, but moving such a
// retiree to another enterprise is the bureau's decision.
func TestEnterpriseMoveIsTheBureaus(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	update := func(p authn.Principal, r *pb.Retiree, code string) error {
		_, err := c.UpdateRetiree(h.as(p), &pb.UpdateRetireeRequest{
			Retiree:    &pb.Retiree{Id: r.Id, Etag: r.Etag, EnterpriseCreditCode: code},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enterpriseCreditCode"}},
		})
		return err
	}
	managed := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_ENTERPRISE))
	handed := mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY))
	tests := []struct {
		name string
		p    authn.Principal
		r    *pb.Retiree
		code string
		want codes.Code
	}{
		{"clerk moves an enterprise-managed retiree", clerkP, managed, enterpriseY, codes.PermissionDenied},
		{"clerk resends its enterprise", clerkP, managed, managed.EnterpriseCreditCode, codes.OK},
		{"clerk corrects a handed-over retiree's former enterprise", clerkP, handed, enterpriseY, codes.OK},
		{"bureau moves an enterprise-managed retiree", bureauP, managed, enterpriseY, codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			current, err := s.GetRetiree(tc.r.Id)
			if err != nil {
				t.Fatal(err)
			}
			if got := status.Code(update(tc.p, current, tc.code)); got != tc.want {
				t.Fatalf("code %v, want %v", got, tc.want)
			}
			after, err := s.GetRetiree(tc.r.Id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != codes.OK && after.Etag != current.Etag {
				t.Errorf("refused update changed the retiree: etag %s → %s", current.Etag, after.Etag)
			}
			if tc.want == codes.OK && after.EnterpriseCreditCode != tc.code {
				t.Errorf("enterprise %s, want %s", after.EnterpriseCreditCode, tc.code)
			}
		})
	}
}

// TestCreateConflictIsAuditedAsALookup: a create refused because the ID
// number is on file keeps its 409, but it told the caller that the
// number is on file, so it is audited as the caller's look-up of that
// retiree, with the reason CREATE_CONFLICT; whoever the caller is.
func TestCreateConflictIsAuditedAsALookup(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	on := mustCreate(t, s, newRetiree(t, 1, communityB, pb.ManagementMode_COMMUNITY))
	again := func(community string) *pb.Retiree { return newRetiree(t, 1, community, pb.ManagementMode_ENTERPRISE) }
	for _, tc := range []struct {
		p    authn.Principal
		r    *pb.Retiree
		rid  string
		want codes.Code
	}{
		{enterpriseP, again(communityA), "conflict-enterprise", codes.AlreadyExists},
		{clerkP, again(communityA), "conflict-clerk", codes.AlreadyExists},
		{bureauP, again(communityC), "conflict-bureau", codes.AlreadyExists},
	} {
		_, err := h.client.CreateRetiree(withRequestID(h.as(tc.p), tc.rid), &pb.CreateRetireeRequest{Retiree: tc.r})
		wantReason(t, err, tc.want, reasonRetireeExists)
		if st, _ := status.FromError(err); strings.Contains(fmt.Sprint(st.Proto()), on.Id) {
			t.Errorf("the refusal names the retiree on file: %v", st)
		}
	}

	resp, err := h.client.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: on.Id})
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ Subject, Role, Action, Reason, RequestID string }
	var got []entry
	for _, e := range resp.Entries {
		got = append(got, entry{e.Subject, e.Role, e.Action, e.Reason, e.RequestId})
	}
	want := []entry{
		{"test", "admin", "CreateRetiree", "", ""}, // mustCreate's

		{enterpriseP.Subject, "enterprise", "LookupRetiree", "CREATE_CONFLICT", rid("conflict-enterprise")},
		{clerkP.Subject, "clerk", "LookupRetiree", "CREATE_CONFLICT", rid("conflict-clerk")},
		{bureauP.Subject, "bureau", "LookupRetiree", "CREATE_CONFLICT", rid("conflict-bureau")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log of the retiree on file (-want +got):\n%s", diff)
	}
}
