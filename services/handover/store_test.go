package handover

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

var testActor = Actor{Subject: "test", Role: "admin"}

func openTestStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenStore(path, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// storedDraft puts a draft of n made-up retirees straight into s.
func storedDraft(t *testing.T, s *Store, n int) *pb.Handover {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016d", i)
	}
	h, err := s.CreateHandover(newDraft(packageFor(ids)), testActor, "created")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestStoreOutboxSurvivesReopen checks that the outbox and its backlog are
// read back from the file, lane by lane in queue order.
func TestStoreOutboxSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "handover.db")
	s := openTestStore(t, path)
	var ids []string
	for range 2 {
		h := storedDraft(t, s, assignBatch+1)
		_, err := s.mutate(h.Id, h.Etag, testActor, func(*pb.Handover) error { return nil }, func(w *txn, cur *pb.Handover) (string, string, error) {
			for _, pr := range cur.Premises {
				pr.Inspection = pb.Premises_ACCEPTED
			}
			settleAllocations(cur)
			cmds, err := completionCommands(cur)
			if err != nil {
				return "", "", err
			}
			return actionCompleted, "done", w.enqueue(cmds, "")
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, h.Id)
	}
	if b := s.Backlog(); b != 6 {
		t.Errorf("backlog %d, want 6", b)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, path)
	defer s.Close()
	if b := s.Backlog(); b != 6 {
		t.Errorf("backlog after reopening %d, want 6", b)
	}
	var order []string
	for _, l := range []Lane{LaneRegistry, LaneActivity} {
		for {
			c, err := s.nextCommand(l)
			if err != nil {
				t.Fatal(err)
			}
			if c == nil {
				break
			}
			order = append(order, idempotencyKey(c.handoverID, c.kind, c.part))
			if err := s.DB().Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Delete(outboxKey(l, c.seq)) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := []string{
		ids[0] + "/assign/1", ids[0] + "/assign/2", ids[1] + "/assign/1", ids[1] + "/assign/2",
		ids[0] + "/venue/P1", ids[1] + "/venue/P1",
	}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("outbox order (-want +got):\n%s", diff)
	}
}

// TestHandoverIDs checks that ids have their shape and sort by creation.
func TestHandoverIDs(t *testing.T) {
	base := time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 50 {
		id := newHandoverID(base.Add(time.Duration(i) * time.Millisecond))
		if !validHandoverID(id) {
			t.Fatalf("invalid id %q", id)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Errorf("ids do not sort by time: %v", ids)
	}
	for _, bad := range []string{"", "H", "h0000000000000000", "H000000000000000W", "H00000000000000000", "X0000000000000000", "H00000000/0000000"} {
		if validHandoverID(bad) {
			t.Errorf("%q passes as an id", bad)
		}
	}
}

// TestEventsAndPaging checks the timeline's sequence numbers and the
// event pages.
func TestEventsAndPaging(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "handover.db"))
	defer s.Close()
	h := storedDraft(t, s, 1)
	other := storedDraft(t, s, 1)
	for i := range 5 {
		var err error
		h, err = s.mutate(h.Id, h.Etag, testActor, func(*pb.Handover) error { return nil }, func(_ *txn, cur *pb.Handover) (string, string, error) {
			return actionUpdated, fmt.Sprintf("edit %d", i), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if h.Etag != "r6" {
		t.Errorf("etag after 6 revisions = %q", h.Etag)
	}
	seqs := servicetest.AllPages(t, 10, func(after []byte) ([]int64, []byte, error) {
		page, next, err := s.ListEvents(h.Id, 4, after)
		var seqs []int64
		for _, e := range page {
			seqs = append(seqs, e.Sequence)
		}
		return seqs, next, err
	})
	if !slices.Equal(seqs, []int64{1, 2, 3, 4, 5, 6}) {
		t.Errorf("sequences %v", seqs)
	}
	if page, _, _ := s.ListEvents(other.Id, 10, nil); len(page) != 1 || page[0].Sequence != 1 {
		t.Errorf("other handover's timeline: %v", page)
	}
	if page, _, err := s.ListEvents("../x", 10, nil); err != nil || len(page) != 0 {
		t.Errorf("malformed id: %v %v", page, err)
	}
}

// TestMutateChecks checks Mutate's guard and etag order: the guard
// decides before existence and etag are revealed.
func TestMutateChecks(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "handover.db"))
	defer s.Close()
	h := storedDraft(t, s, 1)
	deny := func(*pb.Handover) error { return authn.ErrPermissionDenied }
	allow := func(*pb.Handover) error { return nil }
	nop := func(*txn, *pb.Handover) (string, string, error) { return actionUpdated, "", nil }
	for _, tc := range []struct {
		name, id, etag string
		guard          func(*pb.Handover) error
		want           codes.Code
	}{
		{"denied, exists", h.Id, "", deny, codes.PermissionDenied},
		{"denied, missing", "H0000000000000000", "", deny, codes.PermissionDenied},
		{"denied, malformed", "bad", "", deny, codes.PermissionDenied},
		{"denied, stale", h.Id, "r9", deny, codes.PermissionDenied},
		{"allowed, missing", "H0000000000000000", "", allow, codes.NotFound},
		{"allowed, stale", h.Id, "r9", allow, codes.Aborted},
		{"allowed", h.Id, h.Etag, allow, codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.mutate(tc.id, tc.etag, testActor, tc.guard, nop)
			wantCode(t, apierror.ToStatus(t.Context(), nil, err), tc.want)
		})
	}
}

// TestScanBudget checks that a page ends at its size or its byte budget,
// whichever comes first, and that the pages cover everything once.
func TestScanBudget(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "handover.db"))
	defer s.Close()
	var want []string
	for range 7 {
		want = append(want, storedDraft(t, s, 1).Id)
	}
	// Ids made in the same millisecond sort by their random part.
	slices.Sort(want)
	one, err := proto.Marshal(mustGet(t, s, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name         string
		size, budget int
		pages        int
	}{
		{"by size", 3, 1 << 30, 3},
		{"by budget", 100, 2*len(one) + 1, 3},
		{"one at a time", 100, 1, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var after []byte
			pages := 0
			for {
				var next []byte
				err := s.DB().View(func(tx *bolt.Tx) error {
					var err error
					used := 0
					scan := boltstore.Scan{After: after, Size: tc.size, Full: func() bool { return used >= tc.budget }}
					next, err = scan.Page(tx.Bucket(bucketHandovers).Cursor(), func(k, v []byte) (bool, error) {
						got = append(got, string(k))
						used += len(v)
						return true, nil
					})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if next == nil {
					break
				}
				after = next
			}
			if !slices.Equal(got, want) || pages != tc.pages {
				t.Errorf("%d pages of %v, want %d of %v", pages, got, tc.pages, want)
			}
		})
	}
}

func mustGet(t *testing.T, s *Store, id string) *pb.Handover {
	t.Helper()
	h, err := s.GetHandover(id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestOwedOn checks which obligations are owed on a day.
func TestOwedOn(t *testing.T) {
	completed := timestamppb.New(time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)) // 2026-03-02 in China
	for _, tc := range []struct {
		until, day string
		want       bool
	}{
		{"", "2026-03-02", true},
		{"", "2026-03-01", false},
		{"2027-12-31", "2027-12-31", true},
		{"2027-12-31", "2028-01-01", false},
		{"2027-12-31", "", true},
	} {
		o := &pb.OwedObligation{CompleteTime: completed, Obligation: &pb.Obligation{Until: tc.until}}
		if got := owedOn(o, tc.day); got != tc.want {
			t.Errorf("until %q on %q: %v, want %v", tc.until, tc.day, got, tc.want)
		}
	}
}

// TestListHandovers checks what each caller's list holds, the filters and
// the page tokens.
func TestListHandovers(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	draft := w.draft(1)
	submitted := w.submitted(1)
	completed := w.completed(1)
	ids := w.retirees(1, enterpriseY, registryv1.ManagementMode_ENTERPRISE)
	pkgY := packageFor(ids)
	pkgY.EnterpriseCreditCode = enterpriseY
	pkgY.CommunityId = communityB
	y, err := w.client.CreateHandover(w.as(enterpriseYP), &pb.CreateHandoverRequest{Handover: pkgY})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.client.SubmitHandover(w.as(enterpriseYP), &pb.SubmitHandoverRequest{Id: y.Handover.Id}); err != nil {
		t.Fatal(err)
	}
	list := func(p authn.Principal, req *pb.ListHandoversRequest) ([]string, error) {
		var out []string
		for {
			resp, err := w.client.ListHandovers(w.as(p), req)
			if err != nil {
				return nil, err
			}
			for _, h := range resp.Handovers {
				out = append(out, h.Id)
			}
			if resp.NextPageToken == "" {
				return out, nil
			}
			req.PageToken = resp.NextPageToken
		}
	}
	for _, tc := range []struct {
		name string
		p    authn.Principal
		req  *pb.ListHandoversRequest
		want []string
		code codes.Code
	}{
		{"admin, all", adminP, &pb.ListHandoversRequest{PageSize: 2}, []string{draft.Id, submitted.Id, completed.Id, y.Handover.Id}, codes.OK},
		{"bureau, by state", bureauP, &pb.ListHandoversRequest{State: pb.Handover_SUBMITTED}, []string{submitted.Id, y.Handover.Id}, codes.OK},
		{"bureau, by enterprise", bureauP, &pb.ListHandoversRequest{EnterpriseCreditCode: enterpriseY}, []string{y.Handover.Id}, codes.OK},
		{"enterprise, its own", enterpriseXP, &pb.ListHandoversRequest{PageSize: 1}, []string{draft.Id, submitted.Id, completed.Id}, codes.OK},
		{"enterprise, another's", enterpriseXP, &pb.ListHandoversRequest{EnterpriseCreditCode: enterpriseY}, nil, codes.PermissionDenied},
		{"clerk, submitted to it", clerkAP, &pb.ListHandoversRequest{}, []string{submitted.Id, completed.Id}, codes.OK},
		{"clerk, completed", clerkAP, &pb.ListHandoversRequest{State: pb.Handover_COMPLETED, CommunityId: communityA}, []string{completed.Id}, codes.OK},
		{"clerk, another community", clerkAP, &pb.ListHandoversRequest{CommunityId: communityB}, nil, codes.PermissionDenied},
		{"clerk B", clerkBP, &pb.ListHandoversRequest{}, []string{y.Handover.Id}, codes.OK},
		{"service", serviceP, &pb.ListHandoversRequest{}, nil, codes.PermissionDenied},
		{"bad filters", adminP, &pb.ListHandoversRequest{State: 99, CommunityId: "x", EnterpriseCreditCode: "y"}, nil, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := list(tc.p, tc.req)
			wantCode(t, err, tc.code)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("list (-want +got):\n%s", diff)
			}
		})
	}
	// A page token belongs to its query.
	resp, err := w.client.ListHandovers(w.as(adminP), &pb.ListHandoversRequest{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.ListHandovers(w.as(adminP), &pb.ListHandoversRequest{PageSize: 1, State: pb.Handover_DRAFT, PageToken: resp.NextPageToken})
	wantFields(t, err, "pageToken")
}

// TestListObligations checks who sees which obligations, and the as-of
// date.
func TestListObligations(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	done := w.completed(1)
	w.submitted(1) // not completed: owes nothing yet
	for _, tc := range []struct {
		name string
		p    authn.Principal
		req  *pb.ListObligationsRequest
		want int
		code codes.Code
	}{
		{"bureau", bureauP, &pb.ListObligationsRequest{}, 1, codes.OK},
		{"bureau, by enterprise", bureauP, &pb.ListObligationsRequest{EnterpriseCreditCode: enterpriseY}, 0, codes.OK},
		{"enterprise", enterpriseXP, &pb.ListObligationsRequest{ActiveOn: "2030-12-31"}, 1, codes.OK},
		{"enterprise, after the end", enterpriseXP, &pb.ListObligationsRequest{ActiveOn: "2031-01-01"}, 0, codes.OK},
		{"enterprise, before completion", enterpriseXP, &pb.ListObligationsRequest{ActiveOn: "2020-01-01"}, 0, codes.OK},
		{"enterprise, another's", enterpriseXP, &pb.ListObligationsRequest{EnterpriseCreditCode: enterpriseY}, 0, codes.PermissionDenied},
		{"other enterprise", enterpriseYP, &pb.ListObligationsRequest{}, 0, codes.OK},
		{"receiving clerk", clerkAP, &pb.ListObligationsRequest{}, 1, codes.OK},
		{"other clerk", clerkBP, &pb.ListObligationsRequest{}, 0, codes.OK},
		{"street of the receiving community", streetAP, &pb.ListObligationsRequest{}, 1, codes.OK},
		{"district of the receiving community", districtAP, &pb.ListObligationsRequest{}, 1, codes.OK},
		{"district elsewhere", districtCP, &pb.ListObligationsRequest{}, 0, codes.OK},
		{"service", serviceP, &pb.ListObligationsRequest{}, 0, codes.PermissionDenied},
		{"bad date", adminP, &pb.ListObligationsRequest{ActiveOn: "2026-13-01"}, 0, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := w.client.ListObligations(w.as(tc.p), tc.req)
			wantCode(t, err, tc.code)
			if got := len(resp.GetObligations()); got != tc.want {
				t.Errorf("%d obligations, want %d", got, tc.want)
			}
			for _, o := range resp.GetObligations() {
				if o.HandoverId != done.Id || o.Obligation.GetMonthlyAmountFen() != 250000 || o.CompleteTime == nil {
					t.Errorf("obligation %v", o)
				}
			}
		})
	}
}

// TestListHandoversRareFilterIsBounded: a state filter that matches one
// handover in ten does not read every handover in one request.
func TestListHandoversRareFilterIsBounded(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	for range 9 {
		w.draft(1)
	}
	rare := w.submitted(1)
	w.store.maxExamined = 3
	pages := 0
	found := servicetest.AllPages(t, 100, func(after []byte) ([]string, []byte, error) {
		pages++
		list, next, err := w.store.ListHandovers(Filter{State: pb.Handover_SUBMITTED}, 10, after)
		var ids []string
		for _, h := range list {
			ids = append(ids, h.Id)
		}
		return ids, next, err
	})
	if len(found) != 1 || found[0] != rare.Id || pages < 10/3 {
		t.Errorf("found %v in %d pages, want [%s] in at least %d", found, pages, rare.Id, 10/3)
	}
}
