package pension

import (
	"context"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/importstream"
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// reasonTooManyRecords is the ErrorInfo reason of a stream over its bound.
const reasonTooManyRecords = importstream.ReasonTooManyRecords

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

// serve serves one import stream with the protocol of package
// importstream. The first message is the header; each record is checked
// on its own by a receiving goroutine, and its retiree looked up by
// another (importer.lookAhead), while the handler commits what has
// arrived in groups of up to maxGroup records, one transaction each, and
// acknowledges every group once it is durable. When the client closes its
// side the handler answers with the stream's summary.
func (p *importProtocol[Req, Resp, In, R, S]) serve(s *Server, stream grpc.BidiStreamingServer[Req, Resp]) error {
	ctx := stream.Context()
	principal, err := authn.Require(ctx, importers...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &importstream.Stream[Req, Resp, In, R]{
		Server: stream, Header: p.streamHeader, Record: p.record,
		MaxRecords: s.maxRecords, MaxGroup: maxGroup, InFlight: limits.RecordsFrom(ctx),
		Fail: func(err error) error { return s.fail(ctx, err) },
	}
	h, err := st.RecvHeader()
	if err != nil {
		return err
	}
	log := grpcserver.Logger(ctx).With(zap.String("rpc", p.rpc), zap.String("batch_id", h.BatchID))
	log.Info("import started", zap.Int64("expected_records", h.ExpectedRecords))

	kind := p.kind()
	checker := &recordChecker{keyer: s.store.keyer, now: s.now}
	records, recvErr := st.Receive(ctx, func(in In) R { return kind.check(checker, in) })
	im := newImporter(s.store, kind, p.rpc, h.BatchID, audit.ActorOf(ctx, principal))
	defer im.ended()
	err = st.CommitGroups(im.lookAhead(ctx, records), func(group []R) (*Resp, error) {
		ack, err := im.commit(group)
		if err != nil {
			return nil, err
		}
		return p.ack(ack), nil
	})
	if err != nil {
		return err
	}
	if err := <-recvErr; err != nil {
		log.Warn("import ended early", zap.Int64("durable_through_index", im.sum.LastIndex), zap.Error(err))
		return s.fail(ctx, err)
	}
	return p.finish(s, stream, im, log, principal.Subject)
}

// streamHeader returns the header of a message of the stream, if it is
// one.
func (p *importProtocol[Req, Resp, In, R, S]) streamHeader(req *Req) (importstream.Header, bool) {
	h := p.header(req)
	if h == nil {
		return importstream.Header{}, false
	}
	return importstream.Header{BatchID: h.BatchId, FormatVersion: h.FormatVersion, ExpectedRecords: h.ExpectedRecords}, true
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
