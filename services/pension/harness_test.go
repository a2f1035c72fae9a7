package pension

import (
	"context"
	"errors"
	"io"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// The callers of the service tests, one per role; the clerk works for
// communityA only.
var adminP, bureauP, clerkP, enterpriseP, serviceP = servicetest.Callers(communityA, servicetest.EnterpriseX, "activity")

// streetP and districtP supervise the area of communityA and communityB.
var (
	streetP   = servicetest.Street("street-beishichang", servicetest.StreetAB)
	districtP = servicetest.District("district-heping", servicetest.DistrictAB)
)

// harness is the pension service served by the real bootstrap (grpcserver,
// the authn interceptors, Server over the env's store) on an in-memory
// listener, and a client of it.
type harness struct {
	*env
	keys   servicetest.Keys
	client pb.PensionServiceClient
	svc    *Server
}

// harnessOptions tunes newHarness; the zero value is fine.
type harnessOptions struct {
	maxRecords int64
	// limiter charges the callers' budgets, as the program does; nil
	// limits nothing.
	limiter *limits.Limiter
}

// newHarness serves e's store as cmd/pension does and returns a client.
func newHarness(t testing.TB, e *env, o harnessOptions) *harness {
	t.Helper()
	h := &harness{env: e, keys: servicetest.NewKeys(t)}
	h.svc = NewServer(e.store, ServerOptions{
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: e.now.Now, MaxStreamRecords: o.maxRecords,
	})
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "pension", Keys: h.keys, Limiter: o.limiter,
		Register: func(srv *grpcserver.Server) { pb.RegisterPensionServiceServer(srv.GRPC(), h.svc) },
	})
	h.client = pb.NewPensionServiceClient(srv.Conn())
	return h
}

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context { return h.keys.As(h.t, p) }

// importResult is what one import stream answered.
type importResult struct {
	acks    []*pb.ImportAck
	summary *pb.ImportSummary
	err     error
}

// rejections returns the rejections of every ack, by index.
func (r importResult) rejections() map[int64]string {
	out := map[int64]string{}
	for _, a := range r.acks {
		for _, rj := range a.Rejections {
			out[rj.Index] = rj.Reason
		}
	}
	return out
}

// lastDurable returns the highest acknowledged index.
func (r importResult) lastDurable() int64 {
	var n int64
	for _, a := range r.acks {
		n = max(n, a.DurableThroughIndex)
	}
	return n
}

// importFraming frames one import RPC for the tests: Req and Resp are its
// messages, In its records.
type importFraming[Req, Resp, In any] struct {
	open   func(ctx context.Context, c pb.PensionServiceClient) (grpc.BidiStreamingClient[Req, Resp], error)
	header func(*pb.ImportHeader) *Req
	record func(In) *Req
	answer func(*Resp) (*pb.ImportAck, *pb.ImportSummary)
}

var paymentFraming = importFraming[pb.ImportPaymentsRequest, pb.ImportPaymentsResponse, *pb.PaymentRecord]{
	open: func(ctx context.Context, c pb.PensionServiceClient) (grpc.BidiStreamingClient[pb.ImportPaymentsRequest, pb.ImportPaymentsResponse], error) {
		return c.ImportPayments(ctx)
	},
	header: func(h *pb.ImportHeader) *pb.ImportPaymentsRequest {
		return &pb.ImportPaymentsRequest{Message: &pb.ImportPaymentsRequest_Header{Header: h}}
	},
	record: func(r *pb.PaymentRecord) *pb.ImportPaymentsRequest {
		return &pb.ImportPaymentsRequest{Message: &pb.ImportPaymentsRequest_Record{Record: r}}
	},
	answer: func(r *pb.ImportPaymentsResponse) (*pb.ImportAck, *pb.ImportSummary) {
		return r.GetAck(), r.GetSummary()
	},
}

var certificationFraming = importFraming[pb.ImportCertificationsRequest, pb.ImportCertificationsResponse, *pb.CertificationRecord]{
	open: func(ctx context.Context, c pb.PensionServiceClient) (grpc.BidiStreamingClient[pb.ImportCertificationsRequest, pb.ImportCertificationsResponse], error) {
		return c.ImportCertifications(ctx)
	},
	header: func(h *pb.ImportHeader) *pb.ImportCertificationsRequest {
		return &pb.ImportCertificationsRequest{Message: &pb.ImportCertificationsRequest_Header{Header: h}}
	},
	record: func(r *pb.CertificationRecord) *pb.ImportCertificationsRequest {
		return &pb.ImportCertificationsRequest{Message: &pb.ImportCertificationsRequest_Record{Record: r}}
	},
	answer: func(r *pb.ImportCertificationsResponse) (*pb.ImportAck, *pb.ImportSummary) {
		return r.GetAck(), r.GetSummary()
	},
}

var decisionFraming = importFraming[pb.ImportDecisionsRequest, pb.ImportDecisionsResponse, *pb.DecisionRecord]{
	open: func(ctx context.Context, c pb.PensionServiceClient) (grpc.BidiStreamingClient[pb.ImportDecisionsRequest, pb.ImportDecisionsResponse], error) {
		return c.ImportDecisions(ctx)
	},
	header: func(h *pb.ImportHeader) *pb.ImportDecisionsRequest {
		return &pb.ImportDecisionsRequest{Message: &pb.ImportDecisionsRequest_Header{Header: h}}
	},
	record: func(r *pb.DecisionRecord) *pb.ImportDecisionsRequest {
		return &pb.ImportDecisionsRequest{Message: &pb.ImportDecisionsRequest_Record{Record: r}}
	},
	answer: func(r *pb.ImportDecisionsResponse) (*pb.ImportAck, *pb.ImportSummary) {
		return r.GetAck(), r.GetSummary()
	},
}

// run sends a header (none when nil) and records, closes its side and
// reads the answers to the end.
func (f importFraming[Req, Resp, In]) run(ctx context.Context, client pb.PensionServiceClient, header *pb.ImportHeader, records []In) importResult {
	stream, err := f.open(ctx, client)
	if err != nil {
		return importResult{err: err}
	}
	sendErr := make(chan error, 1)
	go func() {
		if header != nil {
			if err := stream.Send(f.header(header)); err != nil {
				sendErr <- err
				return
			}
		}
		for _, r := range records {
			if err := stream.Send(f.record(r)); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var res importResult
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		if ack, sum := f.answer(resp); ack != nil {
			res.acks = append(res.acks, ack)
		} else if sum != nil {
			res.summary = sum
		}
	}
	if err := <-sendErr; err != nil && res.err == nil && !errors.Is(err, io.EOF) {
		res.err = err
	}
	return res
}

// importStream runs an ImportPayments stream (see importFraming.run).
func importStream(ctx context.Context, client pb.PensionServiceClient, header *pb.ImportHeader, records []*pb.PaymentRecord) importResult {
	return paymentFraming.run(ctx, client, header, records)
}

// wantStatus checks err's code and that the status carries no ID number or
// the given secrets; it returns the status.
func wantStatus(t testing.TB, err error, want codes.Code, secrets ...string) *status.Status {
	t.Helper()
	return servicetest.WantCode(t, err, want, secrets...)
}

// badFields returns the field names of the BadRequest detail of st.
func badFields(st *status.Status) []string { return servicetest.Fields(st) }

// wantFields checks that err is InvalidArgument naming exactly the fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	servicetest.WantFields(t, err, fields...)
}

// wantReason checks err's code and ErrorInfo reason.
func wantReason(t testing.TB, err error, code codes.Code, reason string) {
	t.Helper()
	servicetest.WantReason(t, err, code, reason)
}
