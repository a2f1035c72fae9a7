package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// startCasework starts the casework program beside the stack's registry,
// as production runs it (its own certificate, a service token from
// `socmgmt token`, the audit key), and returns its gRPC address. It
// stops before the stack does; its log is searched for secrets with the
// others'.
func (s *stack) startCasework(t *testing.T) string {
	t.Helper()
	if _, _, err := devca.Ensure(filepath.Join(s.dir, "tls"), "casework"); err != nil {
		t.Fatal(err)
	}
	keys := servicetest.StoreKeyArgs(t, filepath.Join(s.dir, "keys"), "casework", false)
	p, addr := s.startService(t, "casework", s.pubKey, append([]string{"--registry-addr", s.registryAddr}, keys...)...)
	t.Cleanup(func() { p.Stop(t) })
	return addr
}

// TestVisitOutcomesReachRegistry (issue 16): through the real registry
// and casework programs, a clerk's FOUND_DECEASED visit files a
// CLERK_VISIT death report that registry shows, and two NO_CONTACT
// visits in a row set a retiree LOST_CONTACT in registry.
func TestVisitOutcomesReachRegistry(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	casework := caseworkv1.NewCaseworkServiceClient(s.dial(t, s.startCasework(t), tk.clerkA))
	var deceased, missing retiree
	must(t, "two retirees of community A", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY",
		}}, http.StatusOK, &deceased)
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber2, "name": "李建国", "communityId": communityA, "managementMode": "COMMUNITY",
		}}, http.StatusOK, &missing)
	})
	// Casework learns them through its projection of registry.
	for _, id := range []string{deceased.ID, missing.ID} {
		waitfor.NoError(t, "casework knows the retiree", func(ctx context.Context) error {
			_, err := casework.GetCareProfile(ctx, &caseworkv1.GetCareProfileRequest{RetireeId: id})
			return err
		})
	}
	visit := func(id string, outcome caseworkv1.VisitOutcome, ago time.Duration) {
		t.Helper()
		_, err := casework.RecordVisit(context.Background(), &caseworkv1.RecordVisitRequest{
			RequestKey: fmt.Sprintf("%s-%d", id, ago),
			Visit: &caseworkv1.Visit{
				RetireeId: id, Method: caseworkv1.VisitMethod_HOME, Visitor: "王社工", Outcome: outcome,
				VisitTime: timestamppb.New(time.Now().Add(-ago)),
			},
		})
		if err != nil {
			t.Fatalf("RecordVisit %v: %v", outcome, err)
		}
	}
	visit(deceased.ID, caseworkv1.VisitOutcome_FOUND_DECEASED, time.Hour)
	waitfor.True(t, "registry shows the CLERK_VISIT death report", func() bool {
		var page struct {
			DeathReports []deathReport `json:"deathReports"`
		}
		r := api.do(t, call{method: http.MethodGet, path: "/v1/retirees/" + deceased.ID + "/deathReports", token: tk.clerkA})
		if r.code != http.StatusOK {
			return false
		}
		r.decode(t, &page)
		return len(page.DeathReports) == 1 && page.DeathReports[0].Source == "CLERK_VISIT" && page.DeathReports[0].State == "REPORTED"
	})
	visit(missing.ID, caseworkv1.VisitOutcome_NO_CONTACT, 3*time.Hour)
	visit(missing.ID, caseworkv1.VisitOutcome_NO_CONTACT, 2*time.Hour)
	waitfor.True(t, "registry shows the retiree LOST_CONTACT", func() bool {
		var got retiree
		r := api.do(t, call{method: http.MethodGet, path: "/v1/retirees/" + missing.ID, token: tk.clerkA})
		if r.code != http.StatusOK {
			return false
		}
		r.decode(t, &got)
		return got.Status == "LOST_CONTACT"
	})
}
