package registry

import (
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// refusalOf returns the AssignRetireesRefusal detail of st, or nil.
func refusalOf(st *status.Status) *pb.AssignRetireesRefusal {
	for _, d := range st.Details() {
		if r, ok := d.(*pb.AssignRetireesRefusal); ok {
			return r
		}
	}
	return nil
}

// TestAssignRefusalIsTyped: an assignment that names retirees registry
// cannot assign changes nothing and leaves its key unused; besides the
// BadRequest clients have always had, the refusal names every refused
// retiree with a reason, uncapped.
func TestAssignRefusalIsTyped(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	h := newHarness(t, s, harnessOptions{})
	c, service := h.client, h.as(serviceP)
	ok1 := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_ENTERPRISE))
	ok2 := mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_ENTERPRISE))
	dead := mustCreate(t, s, newRetiree(t, 3, communityA, pb.ManagementMode_ENTERPRISE))
	if _, _, err := s.RecordDeath(dead.Id, "2025-01-01", "", pb.DeathReportSource_BUREAU_MATCH, admin, allow); err != nil {
		t.Fatal(err)
	}
	head, _, _ := s.Head()

	req := &pb.AssignRetireesRequest{
		RequestKey: "h-1", CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY,
		RetireeIds: []string{ok1.Id, unknownRetiree, dead.Id, idNumber(t, 9).Digits(), ok2.Id},
	}
	_, err := c.AssignRetirees(service, req)
	st := wantStatus(t, err, codes.InvalidArgument)
	if diff := cmp.Diff([]string{"retireeIds[1]", "retireeIds[2]", "retireeIds[3]"}, badFields(st)); diff != "" {
		t.Errorf("BadRequest fields (-want +got):\n%s", diff)
	}
	wantMsg := "invalid argument: retireeIds[1]: no retiree with this id; retireeIds[2]: retiree is not living; retireeIds[3]: no retiree with this id"
	if st.Message() != wantMsg {
		t.Errorf("message = %q, want %q", st.Message(), wantMsg)
	}
	want := &pb.AssignRetireesRefusal{Refused: []*pb.RefusedRetiree{
		{Index: 1, RetireeId: unknownRetiree, Reason: pb.AssignRefusal_RETIREE_NOT_FOUND},
		{Index: 2, RetireeId: dead.Id, Reason: pb.AssignRefusal_RETIREE_NOT_LIVING},
		// An ID number sent as a retiree id is not repeated.
		{Index: 3, Reason: pb.AssignRefusal_RETIREE_NOT_FOUND},
	}}
	if diff := cmp.Diff(want, refusalOf(st), protocmp.Transform()); diff != "" {
		t.Errorf("refusal (-want +got):\n%s", diff)
	}
	if after, _, _ := s.Head(); after != head {
		t.Errorf("a refused assignment moved the head from %d to %d", head, after)
	}

	// The key was not used: the rest goes under it.
	req.RetireeIds = []string{ok1.Id, ok2.Id}
	resp, err := c.AssignRetirees(service, req)
	if err != nil || resp.Assigned != 2 || resp.Replayed {
		t.Fatalf("the rest under the same key = %v, %v", resp, err)
	}

	t.Run("more than the BadRequest holds", func(t *testing.T) {
		ids := []string{ok1.Id}
		for len(ids) < fault.MaxViolations+51 {
			ids = append(ids, inputcheck.NewOpaqueID())
		}
		_, err := c.AssignRetirees(service, &pb.AssignRetireesRequest{RequestKey: "h-2", RetireeIds: ids, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY})
		st := wantStatus(t, err, codes.InvalidArgument)
		if n := len(badFields(st)); n != fault.MaxViolations {
			t.Errorf("BadRequest has %d violations, want the cap %d", n, fault.MaxViolations)
		}
		refused := refusalOf(st).GetRefused()
		if len(refused) != len(ids)-1 {
			t.Fatalf("refusal names %d retirees, want %d", len(refused), len(ids)-1)
		}
		for i, r := range refused {
			if int(r.Index) != i+1 || r.RetireeId != ids[i+1] || r.Reason != pb.AssignRefusal_RETIREE_NOT_FOUND {
				t.Errorf("refused[%d] = %v, want index %d id %s NOT_FOUND", i, r, i+1, ids[i+1])
			}
		}
	})
}

// tickingStore is a seeded store whose clock moves a second at each
// reading, so that entries written at different moments differ in time.
func tickingStore(t *testing.T) *Store {
	t.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var ticks atomic.Int64
	s, err := OpenStore(filepath.Join(t.TempDir(), "registry.db"), keyer, StoreOptions{
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Now:          func() time.Time { return testNow.Add(time.Duration(ticks.Add(1)) * time.Second) },
		DurableReads: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	seedRefs(t, s)
	return s
}

// factAudits returns the BatchGetRetireeFacts entries of a retiree's
// audit log.
func factAudits(t *testing.T, s *Store, id string) []*pb.AuditEntry {
	t.Helper()
	entries, _, err := s.ListAudit(id, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(entries, func(e *pb.AuditEntry) bool { return e.Action != "BatchGetRetireeFacts" })
}

// TestBatchGetRetireeFacts: the facts of each id in the order asked, not
// found for unknown ids, no personal data, and one audit write per call
// with an entry for each retiree found.
func TestBatchGetRetireeFacts(t *testing.T) {
	t.Parallel()
	s := tickingStore(t)
	h := newHarness(t, s, harnessOptions{})
	c := h.client
	living := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_ENTERPRISE))
	handed := mustCreate(t, s, newRetiree(t, 2, communityB, pb.ManagementMode_COMMUNITY))
	dead := mustCreate(t, s, newRetiree(t, 3, communityA, pb.ManagementMode_ENTERPRISE))
	if _, _, err := s.RecordDeath(dead.Id, "2025-01-01", "", pb.DeathReportSource_BUREAU_MATCH, admin, allow); err != nil {
		t.Fatal(err)
	}
	other := newRetiree(t, 4, communityC, pb.ManagementMode_BUREAU)
	other.EnterpriseCreditCode = enterpriseY
	other = mustCreate(t, s, other)

	ids := []string{living.Id, unknownRetiree, handed.Id, "not-an-id", dead.Id, other.Id}
	resp, err := c.BatchGetRetireeFacts(withRequestID(h.as(serviceP), "req-facts-1"), &pb.BatchGetRetireeFactsRequest{Ids: ids})
	if err != nil {
		t.Fatal(err)
	}
	want := []*pb.RetireeFacts{
		{Id: living.Id, Found: true, Status: pb.RetireeStatus_LIVING, ManagementMode: pb.ManagementMode_ENTERPRISE, EnterpriseCreditCode: enterpriseX, CommunityId: communityA},
		{Id: unknownRetiree},
		{Id: handed.Id, Found: true, Status: pb.RetireeStatus_LIVING, ManagementMode: pb.ManagementMode_COMMUNITY, EnterpriseCreditCode: enterpriseX, CommunityId: communityB},
		{Id: "not-an-id"},
		{Id: dead.Id, Found: true, Status: pb.RetireeStatus_DECEASED, ManagementMode: pb.ManagementMode_ENTERPRISE, EnterpriseCreditCode: enterpriseX, CommunityId: communityA},
		{Id: other.Id, Found: true, Status: pb.RetireeStatus_LIVING, ManagementMode: pb.ManagementMode_BUREAU, EnterpriseCreditCode: enterpriseY, CommunityId: communityC},
	}
	if diff := cmp.Diff(want, resp.Facts, protocmp.Transform()); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	text := prototext.Format(resp)
	for _, r := range []*pb.Retiree{living, handed, dead, other} {
		for _, personal := range []string{r.IdNumber, r.Name, r.Phone, r.ResidenceAddress, idnumber.Mask(r.IdNumber)} {
			if strings.Contains(text, personal) {
				t.Errorf("the answer carries personal data of retiree %s", r.Id)
			}
		}
	}

	// One audit write: each retiree found has one entry of the call, all
	// stamped with the one moment of the write; unknown ids have none.
	var stamps []time.Time
	for _, id := range []string{living.Id, handed.Id, dead.Id, other.Id} {
		entries := factAudits(t, s, id)
		if len(entries) != 1 {
			t.Fatalf("retiree %s has %d BatchGetRetireeFacts entries, want 1", id, len(entries))
		}
		e := entries[0]
		if e.Subject != serviceP.Subject || e.Role != "service" || e.RequestId != rid("req-facts-1") {
			t.Errorf("audit entry = %v", e)
		}
		stamps = append(stamps, e.Time.AsTime())
	}
	if distinct := slices.Compact(slices.Clone(stamps)); len(distinct) != 1 {
		t.Errorf("the call's audit entries were written at %d moments, want 1: %v", len(distinct), stamps)
	}
	if n := len(factAudits(t, s, unknownRetiree)); n != 0 {
		t.Errorf("an unknown id has %d audit entries", n)
	}

	// A second call is a second write, of its own retirees only.
	if _, err := c.BatchGetRetireeFacts(withRequestID(h.as(adminP), "req-facts-2"), &pb.BatchGetRetireeFactsRequest{Ids: []string{living.Id, dead.Id}}); err != nil {
		t.Fatal(err)
	}
	first, second := factAudits(t, s, living.Id), factAudits(t, s, dead.Id)
	if len(first) != 2 || len(second) != 2 || len(factAudits(t, s, handed.Id)) != 1 {
		t.Fatalf("after a second call: %d and %d entries, want 2 each, and 1 for a retiree not asked again", len(first), len(second))
	}
	if !first[1].Time.AsTime().Equal(second[1].Time.AsTime()) || !first[1].Time.AsTime().After(first[0].Time.AsTime()) {
		t.Errorf("second call's entries at %v and %v, after the first's at %v", first[1].Time.AsTime(), second[1].Time.AsTime(), first[0].Time.AsTime())
	}
	if first[1].RequestId != rid("req-facts-2") || first[1].Role != "admin" {
		t.Errorf("second call's entry = %v", first[1])
	}

	// Nothing to ask is nothing to answer, and nothing to audit.
	empty, err := c.BatchGetRetireeFacts(h.as(serviceP), &pb.BatchGetRetireeFactsRequest{})
	if err != nil || len(empty.Facts) != 0 {
		t.Errorf("an empty call = %v, %v", empty, err)
	}
}
