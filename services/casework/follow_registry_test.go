package casework

import (
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// registryWorld is a real registry served on a loopback port, with a
// casework store whose projection and follower call it as the casework
// service.
type registryWorld struct {
	*env
	keys servicetest.Keys
	reg  *registrytest.Registry
	conn *grpc.ClientConn
	rc   registryv1.RegistryServiceClient
}

func newRegistryWorld(t *testing.T) *registryWorld {
	t.Helper()
	keys := servicetest.NewKeys(t)
	reg := registrytest.Start(t, registrytest.Options{Keys: keys})
	conn := reg.Dial(grpc.WithPerRPCCredentials(keys.ServiceCredentials("casework")))
	return &registryWorld{env: newEnvOn(t, registryv1.NewRegistryServiceClient(conn)), keys: keys, reg: reg, conn: conn,
		rc: registryv1.NewRegistryServiceClient(reg.Conn())}
}

// retiree creates a living retiree of community A in registry.
func (w *registryWorld) retiree(serial int, name string) string {
	w.t.Helper()
	resp, err := w.rc.CreateRetiree(w.keys.As(w.t, adminP), &registryv1.CreateRetireeRequest{Retiree: &registryv1.Retiree{
		IdNumber: servicetest.IDNumber(serial).Digits(), Name: name, CommunityId: communityA,
		EnterpriseCreditCode: servicetest.EnterpriseX, ManagementMode: registryv1.ManagementMode_COMMUNITY, RetirementDate: "2012-03-01",
	}})
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.Retiree.Id
}

// report files a family's death report of a retiree as the clerk.
func (w *registryWorld) report(id string) string {
	w.t.Helper()
	resp, err := w.rc.CreateDeathReport(w.keys.As(w.t, clerkP), &registryv1.CreateDeathReportRequest{
		Id: id, DateOfDeath: "2026-06-01", Source: registryv1.DeathReportSource_FAMILY,
		Reporter:  &registryv1.DeathReporter{Name: "王小红", Relation: registryv1.Carer_CHILD, Phone: "13812345678"},
		Documents: []*registryv1.DeathDocument{{Kind: registryv1.DeathDocument_DEATH_CERTIFICATE, Reference: "医证2026-0601"}},
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.DeathReport.Id
}

// A death report filed in the real registry becomes a
// DEATH_REPORT_VERIFICATION item in the retiree's community, and its
// verification closes the item as DONE, resolved at source.
func TestFollowRegistryDeathReport(t *testing.T) {
	t.Parallel()
	w := newRegistryWorld(t)
	// Registry stamps the report with its own (real) clock: casework's
	// is ahead of it, so that the report's start has come.
	w.clock.Set(time.Now().Add(time.Hour))
	f := w.follow(SourceRegistry, w.conn)
	id := w.retiree(1, "赵五")
	report := w.report(id)
	key := "death-report/" + report
	var head uint64
	waitItem := func(want pb.WorkState) *pb.WorkItem {
		t.Helper()
		f.upTo(head + 1)
		head = f.Cursor()
		it := w.bySource(SourceRegistry, key)
		if it == nil || it.State != want {
			t.Fatalf("item of %s: %v, want %v", key, it, want)
		}
		return it
	}
	it := waitItem(pb.WorkState_OPEN)
	if it.Kind != pb.WorkKind_DEATH_REPORT_VERIFICATION || it.CommunityId != communityA || it.RetireeId != id ||
		it.Subject.GetKind() != feedv1.SubjectKind_DEATH_REPORT || it.Priority != pb.Priority_PRIORITY_URGENT {
		t.Errorf("item of the report: %v", it)
	}
	if _, err := w.rc.VerifyDeathReport(w.keys.As(t, clerkP), &registryv1.VerifyDeathReportRequest{Id: report}); err != nil {
		t.Fatal(err)
	}
	done := waitItem(pb.WorkState_DONE)
	if last := done.History[len(done.History)-1]; last.Kind != pb.WorkEventKind_RESOLVED_AT_SOURCE || last.Actor != SourceRegistry {
		t.Errorf("closing event: %v", last)
	}
}
