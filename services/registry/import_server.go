package registry

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
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// reasonTooManyRecords is the ErrorInfo reason of a stream over its bound.
const reasonTooManyRecords = "TOO_MANY_RECORDS"

// rosterImporters may import rosters: a bureau any retiree, an enterprise
// its own (checked per record), admin anything. Clerks enter retirees one
// at a time.
var rosterImporters = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleEnterprise}

// ImportRetirees implements pb.RegistryServiceServer. The first message is
// the header; each record is checked on its own by a receiving goroutine
// while the handler commits what has arrived in groups of up to
// maxImportGroup records, one transaction each, and acknowledges every
// group once it is durable. When the client closes its side the handler
// answers with the stream's summary.
func (s *Server) ImportRetirees(stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse]) error {
	ctx := stream.Context()
	p, err := authn.Require(ctx, rosterImporters...)
	if err != nil {
		return err
	}
	h, err := s.recvImportHeader(stream)
	if err != nil {
		return err
	}
	log := grpcserver.Logger(ctx).With(zap.String("rpc", rpcImportRetirees), zap.String("batch_id", h.BatchId))
	log.Info("import started", zap.Int64("expected_records", h.ExpectedRecords))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	enterprise := ""
	if p.Role == authn.RoleEnterprise {
		enterprise = p.Enterprise
	}
	inFlight := limits.RecordsFrom(ctx)
	checker := &rowChecker{keyer: s.store.keyer, now: s.now, enterprise: enterprise}
	rows, recvErr := s.startReceiving(ctx, stream, checker, inFlight)
	im := newRosterImporter(s.store, h.BatchId, audit.ActorOf(ctx, p), enterprise)
	if err := s.commitRosterGroups(stream, im, rows, inFlight); err != nil {
		return err
	}
	if err := <-recvErr; err != nil {
		log.Warn("import ended early", zap.Int64("durable_through_index", im.sum.LastIndex), zap.Error(err))
		return s.fail(ctx, err)
	}
	return s.finishImport(stream, im, log, p.Subject)
}

// recvImportHeader reads the stream's first message and checks that it is
// a header the import can follow. The error of a broken stream is
// returned as it is; any other is already translated for the client.
func (s *Server) recvImportHeader(stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse]) (*pb.RetireeImportHeader, error) {
	ctx := stream.Context()
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
	if err := s.checkImportHeader(h); err != nil {
		return nil, s.fail(ctx, err)
	}
	return h, nil
}

// checkImportHeader validates a header's fields, then its announced size
// against the stream's bound.
func (s *Server) checkImportHeader(h *pb.RetireeImportHeader) error {
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
		return s.tooManyRecords()
	}
	return nil
}

// startReceiving starts the goroutine that receives and checks the
// records, so that checking overlaps the previous group's commit. It
// closes the returned rows when it stops, then sends its result, nil when
// the client closed its side, on the returned error channel; cancelling
// ctx stops it. Each record takes a place among its caller's records in
// flight before it is queued.
func (s *Server) startReceiving(ctx context.Context, stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse], checker *rowChecker, inFlight *limits.Records) (<-chan rosterRow, <-chan error) {
	rows := make(chan rosterRow, 2*maxImportGroup)
	recvErr := make(chan error, 1)
	go func() {
		defer close(rows)
		recvErr <- s.receiveRecords(ctx, stream, checker, rows, inFlight)
	}()
	return rows, recvErr
}

// receiveRecords reads records until the client closes its side (nil),
// the stream breaks, a message is not a record, or the stream goes over
// its bound. A record waits for its place in flight before it is queued,
// so that a caller's streams together hold at most its role's records in
// memory; the client's sends wait meanwhile, held back by flow control.
func (s *Server) receiveRecords(ctx context.Context, stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse], checker *rowChecker, out chan<- rosterRow, inFlight *limits.Records) error {
	var n int64
	for {
		req, err := stream.Recv()
		if err != nil {
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
			return s.tooManyRecords()
		}
		if err := inFlight.Acquire(ctx); err != nil {
			return err
		}
		select {
		case out <- checker.check(in):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// commitRosterGroups commits the rows as they arrive, each time as many as
// have arrived up to maxImportGroup, and acknowledges each group once it
// is durable, giving back the group's places in flight. It returns when
// rows is closed, or with the error for the client: a failed commit
// translated, a failed send as it is.
func (s *Server) commitRosterGroups(stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse], im *rosterImporter, rows <-chan rosterRow, inFlight *limits.Records) error {
	group := make([]rosterRow, 0, maxImportGroup)
	for r := range rows {
		group = gather.Queued(append(group[:0], r), rows, maxImportGroup)
		ack, err := im.commit(group)
		if err != nil {
			return s.fail(stream.Context(), err)
		}
		inFlight.Release(len(group))
		if err := stream.Send(&pb.ImportRetireesResponse{Message: &pb.ImportRetireesResponse_Ack{Ack: ack}}); err != nil {
			return err
		}
	}
	return nil
}

// finishImport records the batch if the stream carried no record, so
// that even an empty batch is known, and answers with the summary.
func (s *Server) finishImport(stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse], im *rosterImporter, log *zap.Logger, subject string) error {
	if im.sum.Received == 0 {
		if _, err := im.commit(nil); err != nil {
			return s.fail(stream.Context(), err)
		}
	}
	sum := &im.sum
	log.Info("import finished", zap.Int64("received", sum.Received), zap.Int64("accepted", sum.Accepted),
		zap.Int64("duplicates", sum.Duplicates), zap.Int64("corrections", sum.Corrections),
		zap.Int64("rejected", sum.Rejected), zap.String("subject", subject))
	return stream.Send(&pb.ImportRetireesResponse{Message: &pb.ImportRetireesResponse_Summary{Summary: sum}})
}

func (s *Server) tooManyRecords() error {
	return fault.Limit(reasonTooManyRecords,
		fmt.Sprintf("an import stream may carry at most %d records; split the batch", s.maxRecords))
}
