package casework

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// anyRetiree lets every care call through.
func anyRetiree(*registryv1.RetireeState) error { return nil }

// withFlags returns a living retiree of community A with flags.
func withFlags(name string, flags ...registryv1.RetireeFlag) *registryv1.RetireeState {
	st := livingIn(communityA, name)
	st.BirthDate, st.Flags = "1956-01-01", flags
	return st
}

// careItems returns the care items of a retiree by source key.
func (e *env) careItems(retiree string) map[string]*pb.WorkItem {
	e.t.Helper()
	out := map[string]*pb.WorkItem{}
	err := e.store.DB().View(func(tx *bolt.Tx) error {
		prefix := boltstore.Prefix(careSource)
		c := tx.Bucket(bucketSources).Cursor()
		for k, v := c.Seek(prefix); k != nil && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
			it, err := getItem(tx, string(v))
			if err != nil {
				return err
			}
			if it.RetireeId == retiree {
				out[it.SourceKey] = it
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) schedule(month string) ScheduleResult {
	e.t.Helper()
	m, _ := parseMonth(month)
	r, err := e.store.ScheduleMonth(context.Background(), m)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// TestScheduleMonth: HIGH gets a week item per Monday of the month (the
// last due in July), KEY the month, REGULAR the quarter in its first
// month; others nothing; a second run makes nothing; a tier changed
// mid-period applies from the next period.
func TestScheduleMonth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	high := withFlags("张高", registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_DEMENTIA)
	key := withFlags("李重", registryv1.RetireeFlag_EMPTY_NEST)
	regular := withFlags("王常")
	dead := withFlags("赵故", registryv1.RetireeFlag_LIVING_ALONE)
	dead.Status = registryv1.RetireeStatus_DECEASED
	e.retirees(high, key, regular, dead)
	r := e.schedule("2026-07")
	if r.Created != 4+1+1 || r.Existing != 0 {
		t.Fatalf("July: %+v, want 6 created", r)
	}
	if got := e.careItems(high.Id); len(got) != 4 || got["visit/"+high.Id+"/2026-W28"] == nil {
		t.Errorf("HIGH items %v", got)
	}
	if it := e.careItems(key.Id)["visit/"+key.Id+"/2026-07"]; it == nil || it.Kind != pb.WorkKind_CARE_VISIT || it.CommunityId != communityA || it.RetireeName != "李重" {
		t.Errorf("KEY item %v", it)
	}
	if it := e.careItems(regular.Id)["visit/"+regular.Id+"/2026-Q3"]; it == nil {
		t.Error("no REGULAR quarter item")
	}
	if len(e.careItems(dead.Id)) != 0 {
		t.Error("a deceased retiree was scheduled")
	}
	if r := e.schedule("2026-07"); r.Created != 0 || r.Existing != 6 {
		t.Errorf("second run %+v, want 0 created, 6 existing", r)
	}
	if r := e.schedule("2026-08"); r.Created != 5+1 {
		t.Errorf("August %+v, want 6: five Mondays, KEY (no REGULAR in a quarter's second month)", r)
	}
	// The clerk raises REGULAR to HIGH on Wednesday 9 September: the
	// weeks of September that began before get no item, the later ones do.
	e.clock.Set(time.Date(2026, 9, 9, 2, 0, 0, 0, time.UTC))
	if _, err := e.store.SetTier(regular.Id, pb.RiskTier_HIGH, "独居摔倒过", clerkActor, anyRetiree); err != nil {
		t.Fatal(err)
	}
	e.schedule("2026-09")
	got := e.careItems(regular.Id)
	if got["visit/"+regular.Id+"/2026-W37"] != nil || got["visit/"+regular.Id+"/2026-W38"] == nil {
		t.Errorf("after the change: %v", keysOf(got))
	}
}

func keysOf(m map[string]*pb.WorkItem) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCrisisVisit: a crisis opens an URGENT visit due 24 hours after the
// report; the clock turns AT_RISK in its last quarter and BREACHED
// after; a repeated request makes no second item.
func TestCrisisVisit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := withFlags("钱")
	e.retirees(r)
	it, err := e.store.ReportCrisis(r.Id, pb.CrisisKind_HOSPITAL_STAY, "req-1", "脑梗住院", clerkActor, anyRetiree)
	if err != nil {
		t.Fatal(err)
	}
	if it.Kind != pb.WorkKind_CRISIS_VISIT || it.Priority != pb.Priority_PRIORITY_URGENT || !it.DueTime.AsTime().Equal(testNow.Add(24*time.Hour)) {
		t.Fatalf("crisis item %v", it)
	}
	again, err := e.store.ReportCrisis(r.Id, pb.CrisisKind_HOSPITAL_STAY, "req-1", "脑梗住院", clerkActor, anyRetiree)
	if err != nil || again.Id != it.Id {
		t.Errorf("repeated report: %v, %v", again, err)
	}
	e.clock.Set(testNow.Add(19 * time.Hour))
	e.sweep()
	if got := e.item(it.Id).Clock; got != pb.Clock_AT_RISK {
		t.Errorf("after 19 hours: %v, want AT_RISK", got)
	}
	e.clock.Set(testNow.Add(24*time.Hour + time.Second))
	e.sweep()
	if got := e.item(it.Id); got.Clock != pb.Clock_BREACHED || got.EscalationLevel != 1 {
		t.Errorf("after 24 hours: %v level %d, want BREACHED, escalated", got.Clock, got.EscalationLevel)
	}
	dead := withFlags("孙")
	dead.Status = registryv1.RetireeStatus_DECEASED
	e.retirees(dead)
	_, err = e.store.ReportCrisis(dead.Id, pb.CrisisKind_DISASTER, "", "", clerkActor, anyRetiree)
	wantCode(t, err, codes.FailedPrecondition)
}

// visit is a visit of r at the clock's now less ago.
func (e *env) visit(r *registryv1.RetireeState, outcome pb.VisitOutcome, ago time.Duration) (*pb.Visit, *pb.CareProfile) {
	e.t.Helper()
	v, p, err := e.store.RecordVisit(&pb.Visit{
		RetireeId: r.Id, Method: pb.VisitMethod_HOME, Visitor: "王社工", Outcome: outcome,
		VisitTime: timestamppb.New(e.clock.Now().Add(-ago)),
	}, "", clerkActor, anyRetiree)
	if err != nil {
		e.t.Fatal(err)
	}
	return v, p
}

// outbox reads the queued registry calls.
func (e *env) outbox() []*careCommand {
	e.t.Helper()
	var out []*careCommand
	err := e.store.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketCareOutbox).ForEach(func(k, v []byte) error {
			seq, _ := boltstore.ParseU64(k)
			c, err := decodeCareCommand(seq, v)
			out = append(out, c)
			return err
		})
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}
