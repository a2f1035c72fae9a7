package pension

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/gather"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// reasonTooManyRecords is the ErrorInfo reason of a stream over its bound.
const reasonTooManyRecords = "TOO_MANY_RECORDS"

// importProtocol is one import RPC: how its messages are framed (Req and
// Resp, with records of type In), and the importKind of its records.
type importProtocol[Req, Resp any, In comparable, R, S any] struct {
	rpc     string
	header  func(*Req) *pb.ImportHeader
	record  func(*Req) In
	ack     func(*pb.ImportAck) *Resp
	summary func(*pb.ImportSummary) *Resp
	// kind returns the kind of one stream: it may keep buffers.
	kind func() importKind[In, R, S]
}

var paymentsImport = &importProtocol[pb.ImportPaymentsRequest, pb.ImportPaymentsResponse, *pb.PaymentRecord, paymentRecord, *pb.Payment]{
	rpc:    rpcImportPayments,
	header: (*pb.ImportPaymentsRequest).GetHeader,
	record: (*pb.ImportPaymentsRequest).GetRecord,
	ack: func(a *pb.ImportAck) *pb.ImportPaymentsResponse {
		return &pb.ImportPaymentsResponse{Message: &pb.ImportPaymentsResponse_Ack{Ack: a}}
	},
	summary: func(s *pb.ImportSummary) *pb.ImportPaymentsResponse {
		return &pb.ImportPaymentsResponse{Message: &pb.ImportPaymentsResponse_Summary{Summary: s}}
	},
	kind: func() importKind[*pb.PaymentRecord, paymentRecord, *pb.Payment] { return new(paymentKind) },
}

var certificationsImport = &importProtocol[pb.ImportCertificationsRequest, pb.ImportCertificationsResponse, *pb.CertificationRecord, certificationRecord, *pb.Certification]{
	rpc:    rpcImportCertifications,
	header: (*pb.ImportCertificationsRequest).GetHeader,
	record: (*pb.ImportCertificationsRequest).GetRecord,
	ack: func(a *pb.ImportAck) *pb.ImportCertificationsResponse {
		return &pb.ImportCertificationsResponse{Message: &pb.ImportCertificationsResponse_Ack{Ack: a}}
	},
	summary: func(s *pb.ImportSummary) *pb.ImportCertificationsResponse {
		return &pb.ImportCertificationsResponse{Message: &pb.ImportCertificationsResponse_Summary{Summary: s}}
	},
	kind: func() importKind[*pb.CertificationRecord, certificationRecord, *pb.Certification] {
		return new(certificationKind)
	},
}

var decisionsImport = &importProtocol[pb.ImportDecisionsRequest, pb.ImportDecisionsResponse, *pb.DecisionRecord, decisionRecord, *pb.EntitlementDecision]{
	rpc:    rpcImportDecisions,
	header: (*pb.ImportDecisionsRequest).GetHeader,
	record: (*pb.ImportDecisionsRequest).GetRecord,
	ack: func(a *pb.ImportAck) *pb.ImportDecisionsResponse {
		return &pb.ImportDecisionsResponse{Message: &pb.ImportDecisionsResponse_Ack{Ack: a}}
	},
	summary: func(s *pb.ImportSummary) *pb.ImportDecisionsResponse {
		return &pb.ImportDecisionsResponse{Message: &pb.ImportDecisionsResponse_Summary{Summary: s}}
	},
	kind: func() importKind[*pb.DecisionRecord, decisionRecord, *pb.EntitlementDecision] { return decisionKind{} },
}

// ImportPayments implements pb.PensionServiceServer (see importProtocol.serve).
func (s *Server) ImportPayments(stream grpc.BidiStreamingServer[pb.ImportPaymentsRequest, pb.ImportPaymentsResponse]) error {
	return paymentsImport.serve(s, stream)
}

// ImportCertifications implements pb.PensionServiceServer (see
// importProtocol.serve).
func (s *Server) ImportCertifications(stream grpc.BidiStreamingServer[pb.ImportCertificationsRequest, pb.ImportCertificationsResponse]) error {
	return certificationsImport.serve(s, stream)
}

// ImportDecisions implements pb.PensionServiceServer (see
// importProtocol.serve).
func (s *Server) ImportDecisions(stream grpc.BidiStreamingServer[pb.ImportDecisionsRequest, pb.ImportDecisionsResponse]) error {
	return decisionsImport.serve(s, stream)
}

// serve serves one import stream. The first message is the header;
// each record is checked on its own by a receiving goroutine, and its
// retiree looked up by another (importer.lookAhead), while the handler
// commits what has arrived in groups of up to maxGroup records, one
// transaction each, and acknowledges every group once it is durable.
// When the client closes its side the handler answers with the stream's
// summary.
func (p *importProtocol[Req, Resp, In, R, S]) serve(s *Server, stream grpc.BidiStreamingServer[Req, Resp]) error {
	ctx := stream.Context()
	principal, err := authn.Require(ctx, importers...)
	if err != nil {
		return err
	}
	h, err := p.recvHeader(s, stream)
	if err != nil {
		return err
	}
	log := grpcserver.Logger(ctx).With(zap.String("rpc", p.rpc), zap.String("batch_id", h.BatchId))
	log.Info("import started", zap.Int64("expected_records", h.ExpectedRecords))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	kind := p.kind()
	inFlight := limits.RecordsFrom(ctx)
	records, recvErr := p.startReceiving(ctx, s, stream, kind, inFlight)
	im := newImporter(s.store, kind, p.rpc, h.BatchId, audit.ActorOf(ctx, principal))
	if err := p.commitGroups(s, stream, im, im.lookAhead(ctx, records), inFlight); err != nil {
		return err
	}
	if err := <-recvErr; err != nil {
		log.Warn("import ended early", zap.Int64("durable_through_index", im.sum.LastIndex), zap.Error(err))
		return s.fail(ctx, err)
	}
	return p.finish(s, stream, im, log, principal.Subject)
}

// recvHeader reads the stream's first message and checks that it is a
// header the import can follow. The error of a broken stream is returned
// as it is; any other is already translated for the client.
func (p *importProtocol[Req, Resp, In, R, S]) recvHeader(s *Server, stream grpc.BidiStreamingServer[Req, Resp]) (*pb.ImportHeader, error) {
	ctx := stream.Context()
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, s.fail(ctx, fault.Invalid("header", "the stream must start with a header"))
	}
	if err != nil {
		return nil, err
	}
	h := p.header(first)
	if h == nil {
		return nil, s.fail(ctx, fault.Invalid("header", "the stream must start with a header"))
	}
	if err := s.checkHeader(h); err != nil {
		return nil, s.fail(ctx, err)
	}
	return h, nil
}

// checkHeader validates a header's fields, then its announced size
// against the stream's bound.
func (s *Server) checkHeader(h *pb.ImportHeader) error {
	var v fault.Violations
	inputcheck.BatchID(&v, "header.batchId", h.BatchId)
	if h.FormatVersion != 0 && h.FormatVersion != 1 {
		v.Add("header.formatVersion", "only format 1 is known")
	}
	if h.ExpectedRecords < 0 {
		v.Add("header.expectedRecords", "must not be negative")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if h.ExpectedRecords > s.maxRecords {
		return s.tooMany()
	}
	return nil
}

// startReceiving starts the goroutine that receives and checks the
// records, so that checking overlaps the previous group's commit. It
// closes records when it stops, then sends its result, nil when the client
// closed its side, on the returned error channel; cancelling ctx stops it.
// Each record takes a place among its caller's records in flight
// (inFlight) before it is queued.
func (p *importProtocol[Req, Resp, In, R, S]) startReceiving(ctx context.Context, s *Server, stream grpc.BidiStreamingServer[Req, Resp], kind importKind[In, R, S], inFlight *limits.Records) (<-chan R, <-chan error) {
	records := make(chan R, 2*maxGroup)
	recvErr := make(chan error, 1)
	checker := &recordChecker{keyer: s.store.keyer, now: s.now}
	go func() {
		defer close(records)
		recvErr <- p.receive(ctx, s, stream, func(in In) R { return kind.check(checker, in) }, records, inFlight)
	}()
	return records, recvErr
}

// receive reads records until the client closes its side (nil), the
// stream breaks, a message is not a record, or the stream goes over its
// bound. A record waits for its place in flight before it is queued, so
// that a caller's streams together hold at most its role's records in
// memory; the client's sends wait meanwhile, held back by flow control.
func (p *importProtocol[Req, Resp, In, R, S]) receive(ctx context.Context, s *Server, stream grpc.BidiStreamingServer[Req, Resp], check func(In) R, out chan<- R, inFlight *limits.Records) error {
	var n int64
	var none In
	for {
		req := new(Req)
		if err := stream.RecvMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		in := p.record(req)
		if in == none {
			return fault.Invalid("record", "only the first message may be a header")
		}
		if n++; n > s.maxRecords {
			return s.tooMany()
		}
		if err := inFlight.Acquire(ctx); err != nil {
			return err
		}
		select {
		case out <- check(in):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// commitGroups commits the records as they arrive, each time as many as
// have arrived up to maxGroup, and acknowledges each group once it is
// durable, giving back the group's places in flight. It returns when
// records is closed, or with the error for the client: a failed commit
// translated, a failed send as it is.
func (p *importProtocol[Req, Resp, In, R, S]) commitGroups(s *Server, stream grpc.BidiStreamingServer[Req, Resp], im *importer[In, R, S], records <-chan R, inFlight *limits.Records) error {
	group := make([]R, 0, maxGroup)
	for r := range records {
		group = gather.Queued(append(group[:0], r), records, maxGroup)
		ack, err := im.commit(group)
		if err != nil {
			return s.fail(stream.Context(), err)
		}
		inFlight.Release(len(group))
		if err := stream.Send(p.ack(ack)); err != nil {
			return err
		}
	}
	return nil
}

// finish records the batch if the stream carried no record, so that
// even an empty batch is known, and answers with the stream's summary.
func (p *importProtocol[Req, Resp, In, R, S]) finish(s *Server, stream grpc.BidiStreamingServer[Req, Resp], im *importer[In, R, S], log *zap.Logger, subject string) error {
	if im.sum.Received == 0 {
		if _, err := im.commit(nil); err != nil {
			return s.fail(stream.Context(), err)
		}
	}
	sum := &im.sum
	log.Info("import finished", zap.Int64("received", sum.Received), zap.Int64("accepted", sum.Accepted),
		zap.Int64("duplicates", sum.Duplicates), zap.Int64("corrections", sum.Corrections),
		zap.Int64("rejected", sum.Rejected), zap.String("subject", subject))
	return stream.Send(p.summary(sum))
}

func (s *Server) tooMany() error {
	return fault.Limit(reasonTooManyRecords,
		fmt.Sprintf("an import stream may carry at most %d records; split the batch", s.maxRecords))
}
