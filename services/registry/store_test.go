package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

var admin = Actor{Subject: "admin-1", Role: "admin", RequestID: "req-1"}

func allow(*pb.Retiree) error { return nil }

func TestStoreCreateAndDuplicates(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)

	if _, err := s.CreateCommunity(&pb.Community{Id: communityA, Name: "x", District: "d", Street: "s", Kind: pb.CommunityKind_BLOCK}); !isRule(err, "COMMUNITY_EXISTS") {
		t.Errorf("duplicate community: %v", err)
	}
	if _, err := s.CreateEnterprise(&pb.Enterprise{CreditCode: enterpriseX, Name: "x", Ownership: pb.Ownership_STATE}); !isRule(err, "ENTERPRISE_EXISTS") {
		t.Errorf("duplicate enterprise: %v", err)
	}
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	if !inputcheck.IsOpaqueID(r.Id) || r.Etag == "" || r.Status != pb.RetireeStatus_LIVING {
		t.Fatalf("created retiree: %v", r)
	}
	again := newRetiree(t, 1, communityB, pb.ManagementMode_BUREAU)
	id, err := checkNewRetiree(again, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRetiree(again, id, admin); !isRule(err, reasonRetireeExists) {
		t.Errorf("duplicate ID number: %v", err)
	}
	got, err := s.GetRetiree(r.Id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, protocmp.Transform()); diff != "" {
		t.Errorf("get (-created +got):\n%s", diff)
	}
	found, err := s.LookupRetiree(idNumber(t, 1))
	if err != nil || found.Id != r.Id {
		t.Errorf("lookup = %v, %v", found.GetId(), err)
	}
	if _, err := s.LookupRetiree(idNumber(t, 2)); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("lookup unknown: %v", err)
	}
	if _, err := s.GetRetiree("aaaaaaaaaaaaaaaa"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}
}

func TestStoreCreateUnknownReferences(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)
	r := newRetiree(t, 1, "210199999999", pb.ManagementMode_ENTERPRISE)
	r.EnterpriseCreditCode = "91110000600037341L"
	id, err := checkNewRetiree(r, testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateRetiree(r, id, admin)
	var verr *fault.ValidationError
	if !errors.As(err, &verr) || len(verr.Fields) != 2 {
		t.Fatalf("err = %v, want two field violations", err)
	}
	if head, _, _ := s.Head(); head != 0 {
		t.Errorf("rejected create moved head to %d", head)
	}
}

func TestStoreMutationsAndHistory(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))

	patch := RetireePatch{Paths: []string{"phone", "name"}, Values: &pb.Retiree{Phone: "13900001111", Name: "新名字"}, Etag: r.Etag}
	updated, err := s.UpdateRetiree(r.Id, patch, admin, allow)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Phone != "13900001111" || updated.Name != "新名字" || updated.Etag == r.Etag {
		t.Errorf("updated = %v", updated)
	}
	if _, err := s.UpdateRetiree(r.Id, patch, admin, allow); !errors.Is(err, fault.ErrEtagMismatch) {
		t.Errorf("stale etag: %v", err)
	}
	moved, _, err := s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityC, Reason: "搬家", Direct: true}, admin, allow)
	if err != nil || moved.CommunityId != communityC {
		t.Fatalf("transfer = %v, %v", moved, err)
	}
	if _, _, err := s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityC, Reason: "again", Direct: true}, admin, allow); !isRule(err, reasonSameCommunity) {
		t.Errorf("transfer to same community: %v", err)
	}
	dead, _, err := s.RecordDeath(r.Id, "2026-01-02", "", pb.DeathReportSource_BUREAU_MATCH, admin, allow)
	if err != nil || dead.Status != pb.RetireeStatus_DECEASED {
		t.Fatalf("death = %v, %v", dead, err)
	}
	if _, _, err := s.RecordDeath(r.Id, "2026-01-03", "", pb.DeathReportSource_BUREAU_MATCH, admin, allow); !isRule(err, reasonNotLiving) {
		t.Errorf("second death: %v", err)
	}
	if _, _, err := s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityA, Reason: "x", Direct: true}, admin, allow); !isRule(err, reasonNotLiving) {
		t.Errorf("transfer of the deceased: %v", err)
	}

	hist, next, err := s.ListHistory(r.Id, 10, nil)
	if err != nil || next != nil {
		t.Fatal(err, next)
	}
	var kinds []pb.ChangeKind
	for _, h := range hist {
		kinds = append(kinds, h.Kind)
		for _, c := range h.Changes {
			if c.Field == "phone" && (c.NewValue == "13900001111" || c.OldValue == "13812345678") {
				t.Errorf("history holds a full phone number: %v", c)
			}
		}
	}
	want := []pb.ChangeKind{pb.ChangeKind_CREATED, pb.ChangeKind_UPDATED, pb.ChangeKind_TRANSFERRED, pb.ChangeKind_DIED}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("history kinds (-want +got):\n%s", diff)
	}
	// The deceased retiree no longer counts as living anywhere.
	_, total, _, err := s.SocialisationReport(groupCommunity, "", nil)
	if err != nil || total.Living != 0 {
		t.Errorf("report total = %v, %v", total, err)
	}
}

func TestStoreListPaging(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)
	const n = 2500
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		community := communityA
		if i%3 == 0 {
			community = communityB
		}
		r := mustCreate(t, s, newRetiree(t, i, community, pb.ManagementMode_COMMUNITY))
		if community == communityA {
			want[r.Id] = true
		}
	}
	seen := map[string]bool{}
	pages := 0
	servicetest.AllPages(t, 1000, func(after []byte) ([]*pb.Retiree, []byte, error) {
		list, next, err := s.ListRetirees(RetireeFilter{CommunityID: communityA}, 333, after)
		pages++
		for _, r := range list {
			if seen[r.Id] {
				t.Fatalf("retiree %s listed twice", r.Id)
			}
			if r.CommunityId != communityA {
				t.Fatalf("retiree of %s in list of %s", r.CommunityId, communityA)
			}
			seen[r.Id] = true
		}
		return list, next, err
	})
	if len(seen) != len(want) {
		t.Errorf("listed %d, want %d (pages %d)", len(seen), len(want), pages)
	}
}

func TestStoreChangeLogRetention(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 5)
	seedRefs(t, s)
	for i := 0; i < 12; i++ {
		mustCreate(t, s, newRetiree(t, i, communityA, pb.ManagementMode_COMMUNITY))
	}
	changes, head, oldest, err := s.ReadChanges(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if head != 12 {
		t.Errorf("head = %d, want 12", head)
	}
	if oldest != 8 || len(changes) != 5 || changes[0].Revision != 8 {
		t.Errorf("oldest = %d, %d changes from %d; want 5 from 8", oldest, len(changes), changes[0].GetRevision())
	}
}

func TestStoreAssignIdempotent(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, mustCreate(t, s, newRetiree(t, i, communityA, pb.ManagementMode_ENTERPRISE)).Id)
	}
	first, err := s.AssignRetirees("handover-1", ids, communityB, pb.ManagementMode_COMMUNITY, "handover", admin)
	if err != nil || first.Assigned != 5 || first.Replayed {
		t.Fatalf("assign = %v, %v", first, err)
	}
	head1, _, _ := s.Head()
	again, err := s.AssignRetirees("handover-1", ids, communityB, pb.ManagementMode_COMMUNITY, "handover", admin)
	if err != nil || !again.Replayed || again.Assigned != 5 {
		t.Fatalf("replay = %v, %v", again, err)
	}
	if head2, _, _ := s.Head(); head2 != head1 {
		t.Errorf("replay moved head %d -> %d", head1, head2)
	}
	if _, err := s.AssignRetirees("handover-1", ids[:2], communityB, pb.ManagementMode_COMMUNITY, "", admin); !isRule(err, reasonKeyReused) {
		t.Errorf("reused key: %v", err)
	}
	rows, _, _, err := s.SocialisationReport(groupCommunity, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Key == communityB && (row.Living != 5 || row.CommunityManaged != 5 || row.Rate != 1) {
			t.Errorf("row B = %v", row)
		}
		if row.Key == communityA && row.Living != 0 {
			t.Errorf("row A = %v", row)
		}
	}
	hist, _, _ := s.ListHistory(ids[0], 10, nil)
	if len(hist) != 2 {
		t.Errorf("history has %d entries, want create + assign", len(hist))
	}
}

func TestStoreAuditGroupCommit(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	ctx := context.Background()
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		go func() { errs <- s.AuditReads(ctx, admin, "GetRetiree", r.Id) }()
	}
	for i := 0; i < 50; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	entries, _, err := s.ListAudit(r.Id, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 51 { // the create plus 50 reads
		t.Errorf("%d audit entries, want 51", len(entries))
	}
	if err := s.DB().View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Errorf("consistency check: %v", err)
	}
}

func isRule(err error, reason string) bool {
	var r *fault.RuleError
	return errors.As(err, &r) && r.Reason == reason
}

// TestStoreListRareFilterIsBounded: a filter that matches one retiree in
// thirty does not read the whole community in one request: the pages
// examine five keys each, and paging on finds the one.
func TestStoreListRareFilterIsBounded(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	s.maxExamined = 5
	seedRefs(t, s)
	var rare string
	for i := range 30 {
		mode := pb.ManagementMode_COMMUNITY
		if i == 27 {
			mode = pb.ManagementMode_ENTERPRISE
		}
		r := mustCreate(t, s, newRetiree(t, i, communityA, mode))
		if i == 27 {
			rare = r.Id
		}
	}
	f := RetireeFilter{CommunityID: communityA, Mode: pb.ManagementMode_ENTERPRISE}
	pages := 0
	found := servicetest.AllPages(t, 100, func(after []byte) ([]string, []byte, error) {
		pages++
		list, next, err := s.ListRetirees(f, 10, after)
		return retireeIDs(list), next, err
	})
	if len(found) != 1 || found[0] != rare || pages < 30/5 {
		t.Errorf("found %v in %d pages, want [%s] in at least %d", found, pages, rare, 30/5)
	}
}

// TestStoreListRareNameIsBounded: a name or an ID number's tail that one
// retiree in thirty has, for which no index helps, is looked for five
// keys a page, in the community's index, among the flag's, or among all
// retirees, and paging on finds the one.
func TestStoreListRareNameIsBounded(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	s.maxExamined = 5
	seedRefs(t, s)
	var rare *pb.Retiree
	for i := range 30 {
		r := newRetiree(t, i, communityA, pb.ManagementMode_COMMUNITY)
		// Sequence numbers of their own: no two tails alike.
		id, err := idnumber.Build("210102", time.Date(1950, 3, 1, 0, 0, 0, 0, time.UTC), 100+i)
		if err != nil {
			t.Fatal(err)
		}
		r.IdNumber, r.Flags = id.Digits(), []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}
		if i == 27 {
			r.Name = "王小明"
		}
		if r = mustCreate(t, s, r); i == 27 {
			rare = r
		}
	}
	tail := rare.IdNumber[len(rare.IdNumber)-4:]
	for _, f := range []RetireeFilter{
		{CommunityID: communityA, Name: "小明"},
		{CommunityID: communityA, IDNumberTail: tail},
		{CommunityID: communityA, Name: "小明", Flags: []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}},
		{IDNumberTail: tail},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			pages := 0
			found := servicetest.AllPages(t, 100, func(after []byte) ([]string, []byte, error) {
				pages++
				list, next, err := s.ListRetirees(f, 10, after)
				return retireeIDs(list), next, err
			})
			if len(found) != 1 || found[0] != rare.Id || pages < 30/5 {
				t.Errorf("found %v in %d pages, want [%s] in at least %d", found, pages, rare.Id, 30/5)
			}
		})
	}
}
