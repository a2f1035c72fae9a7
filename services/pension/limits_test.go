package pension

import (
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

func TestEveryMethodHasALimitsClass(t *testing.T) {
	servicetest.MethodsClassed(t, &pb.PensionService_ServiceDesc, Methods)
}

// TestImportsBoundedByRecordsNotCalls: import streams cost no call of
// the caller's budgets, however many it opens; their records share its
// places in flight until they are durable, and with a single place three
// streams at once still all finish, each record committed before the
// next is taken in.
func TestImportsBoundedByRecordsNotCalls(t *testing.T) {
	t.Parallel()
	cfg := limits.DefaultConfig()
	if err := cfg.Set("bureau.records=1,bureau.write=1/h:1,bureau.read=1/h:1,bureau.personal=1/h:1"); err != nil {
		t.Fatal(err)
	}
	limiter := limits.New(limits.Options{Config: cfg, Methods: Methods})
	h := importFixture(t, harnessOptions{limiter: limiter})
	// Nothing commits while the test holds the database's write lock: the
	// first record to arrive takes the one place and keeps it.
	tx, err := h.store.DB().Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	const streams, months = 3, 12
	results := make([]importResult, streams)
	var wg sync.WaitGroup
	for k := range streams {
		var records []*pb.PaymentRecord
		for m := 1; m <= months; m++ {
			records = append(records, payment(t, int64(m), k, fmt.Sprintf("2025-%02d", m), 300000))
		}
		wg.Go(func() {
			results[k] = importStream(h.as(bureauP), h.client, header(fmt.Sprintf("limits-%d", k)), records)
		})
	}
	waitfor.True(t, "a record to take the place in flight", func() bool { return limiter.RecordsInFlight() == 1 })
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := limiter.RecordsInFlight(); n != 0 {
		t.Errorf("%d records in flight after every stream ended", n)
	}
	for k, res := range results {
		if res.err != nil {
			t.Fatalf("stream %d: %v", k, res.err)
		}
		if res.summary.GetAccepted() != months {
			t.Errorf("stream %d accepted %d records, want %d", k, res.summary.GetAccepted(), months)
		}
	}
	// The one write of the budget is still there (an empty request,
	// refused as such, spends it); a second is not.
	_, err = h.client.RecordCertification(h.as(bureauP), &pb.RecordCertificationRequest{})
	servicetest.WantCode(t, err, codes.InvalidArgument)
	_, err = h.client.RecordCertification(h.as(bureauP), &pb.RecordCertificationRequest{})
	servicetest.WantReason(t, err, codes.ResourceExhausted, limits.ReasonRateLimited)
}
