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
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// reasonTooManyRecords is the ErrorInfo reason of a stream over its bound.
const reasonTooManyRecords = "TOO_MANY_RECORDS"

// importServerStream is the server side of an ImportPayments stream.
type importServerStream = grpc.BidiStreamingServer[pb.ImportPaymentsRequest, pb.ImportPaymentsResponse]

// ImportPayments implements pb.PensionServiceServer. The first message is
// the header; each record is checked on its own by a receiving goroutine
// while the handler commits what has arrived in groups of up to maxGroup
// records, one transaction each, and acknowledges every group once it is
// durable. When the client closes its side the handler answers with the
// stream's summary.
func (s *Server) ImportPayments(stream importServerStream) error {
	ctx := stream.Context()
	p, err := authn.Require(ctx, importers...)
	if err != nil {
		return err
	}
	h, err := s.recvHeader(ctx, stream)
	if err != nil {
		return err
	}
	log := grpcserver.Logger(ctx).With(zap.String("batch_id", h.BatchId))
	log.Info("import started", zap.Int64("expected_records", h.ExpectedRecords))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	records, recvErr := s.startReceiving(ctx, stream)
	im := s.store.newImporter(h.BatchId, audit.ActorOf(ctx, p))
	if err := s.commitGroups(ctx, stream, im, records); err != nil {
		return err
	}
	if err := <-recvErr; err != nil {
		log.Warn("import ended early", zap.Int64("durable_through_index", im.sum.LastIndex), zap.Error(err))
		return s.fail(ctx, err)
	}
	return s.finishImport(ctx, stream, im, log, p.Subject)
}

// recvHeader reads the stream's first message and checks that it is a
// header the import can follow. The error of a broken stream is returned
// as it is; any other is already translated for the client.
func (s *Server) recvHeader(ctx context.Context, stream importServerStream) (*pb.ImportHeader, error) {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return nil, s.fail(ctx, fault.Invalid("header", "the stream must start with a header"))
	}
	if err != nil {
		return nil, err
	}
	h := first.GetHeader()
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
	checkBatchID(&v, h.BatchId)
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
func (s *Server) startReceiving(ctx context.Context, stream importServerStream) (<-chan record, <-chan error) {
	records := make(chan record, 2*maxGroup)
	recvErr := make(chan error, 1)
	checker := &recordChecker{keyer: s.store.keyer, now: s.now}
	go func() {
		defer close(records)
		recvErr <- s.receive(ctx, stream, checker, records)
	}()
	return records, recvErr
}

// commitGroups commits the records as they arrive, each time as many as
// have arrived up to maxGroup, and acknowledges each group once it is
// durable. It returns when records is closed, or with the error for the
// client: a failed commit translated, a failed send as it is.
func (s *Server) commitGroups(ctx context.Context, stream importServerStream, im *importer, records <-chan record) error {
	group := make([]record, 0, maxGroup)
	for r := range records {
		group = gather.Queued(append(group[:0], r), records, maxGroup)
		ack, err := im.commit(group)
		if err != nil {
			return s.fail(ctx, err)
		}
		if err := stream.Send(&pb.ImportPaymentsResponse{Message: &pb.ImportPaymentsResponse_Ack{Ack: ack}}); err != nil {
			return err
		}
	}
	return nil
}

// finishImport records the batch if the stream carried no record, so that
// even an empty batch is known, and answers with the stream's summary.
func (s *Server) finishImport(ctx context.Context, stream importServerStream, im *importer, log *zap.Logger, subject string) error {
	if im.sum.Received == 0 {
		if _, err := im.commit(nil); err != nil {
			return s.fail(ctx, err)
		}
	}
	sum := &im.sum
	log.Info("import finished", zap.Int64("received", sum.Received), zap.Int64("accepted", sum.Accepted),
		zap.Int64("duplicates", sum.Duplicates), zap.Int64("corrections", sum.Corrections),
		zap.Int64("rejected", sum.Rejected), zap.String("subject", subject))
	return stream.Send(&pb.ImportPaymentsResponse{Message: &pb.ImportPaymentsResponse_Summary{Summary: sum}})
}

// receive reads records until the client closes its side (nil), the
// stream breaks, a message is not a record, or the stream goes over its
// bound.
func (s *Server) receive(ctx context.Context, stream importServerStream, c *recordChecker, out chan<- record) error {
	var n int64
	for {
		req := new(pb.ImportPaymentsRequest)
		if err := stream.RecvMsg(req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		in := req.GetRecord()
		if in == nil {
			return fault.Invalid("record", "only the first message may be a header")
		}
		if n++; n > s.maxRecords {
			return s.tooMany()
		}
		select {
		case out <- c.check(in):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) tooMany() error {
	return fault.Limit(reasonTooManyRecords,
		fmt.Sprintf("an import stream may carry at most %d records; split the batch", s.maxRecords))
}
