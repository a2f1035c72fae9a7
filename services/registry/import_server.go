package registry

import (
	"context"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/importstream"
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// rosterImporters may import rosters: a bureau any retiree, an enterprise
// its own (checked per record), admin anything. Clerks enter retirees one
// at a time.
var rosterImporters = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleEnterprise}

// ImportRetirees implements pb.RegistryServiceServer with the protocol of
// package importstream: the first message is the header; each record is
// checked on its own (rowChecker) by a receiving goroutine while the
// handler commits what has arrived in groups of up to maxImportGroup
// records, one transaction each (rosterImporter), and acknowledges every
// group once it is durable. When the client closes its side the handler
// answers with the stream's summary.
func (s *Server) ImportRetirees(stream grpc.BidiStreamingServer[pb.ImportRetireesRequest, pb.ImportRetireesResponse]) error {
	ctx := stream.Context()
	p, err := authn.Require(ctx, rosterImporters...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &importstream.Stream[pb.ImportRetireesRequest, pb.ImportRetireesResponse, *pb.RetireeRecord, rosterRow]{
		Server: stream, Header: rosterHeader, Record: (*pb.ImportRetireesRequest).GetRecord,
		MaxRecords: s.maxRecords, MaxGroup: maxImportGroup, InFlight: limits.RecordsFrom(ctx),
		Fail: func(err error) error { return s.fail(ctx, err) },
	}
	h, err := st.RecvHeader()
	if err != nil {
		return err
	}
	log := grpcserver.Logger(ctx).With(zap.String("rpc", rpcImportRetirees), zap.String("batch_id", h.BatchID))
	log.Info("import started", zap.Int64("expected_records", h.ExpectedRecords))

	enterprise := ""
	if p.Role == authn.RoleEnterprise {
		enterprise = p.Enterprise
	}
	checker := &rowChecker{keyer: s.store.keyer, now: s.now, enterprise: enterprise}
	rows, recvErr := st.Receive(ctx, checker.check)
	im := newRosterImporter(s.store, h.BatchID, audit.ActorOf(ctx, p), enterprise)
	if err := st.CommitGroups(rows, im.commitAck); err != nil {
		return err
	}
	if err := <-recvErr; err != nil {
		log.Warn("import ended early", zap.Int64("durable_through_index", im.sum.LastIndex), zap.Error(err))
		return s.fail(ctx, err)
	}
	return s.finishImport(stream, im, log, p.Subject)
}

// rosterHeader returns the header of an ImportRetirees message.
func rosterHeader(req *pb.ImportRetireesRequest) (importstream.Header, bool) {
	h := req.GetHeader()
	if h == nil {
		return importstream.Header{}, false
	}
	return importstream.Header{BatchID: h.BatchId, FormatVersion: h.FormatVersion, ExpectedRecords: h.ExpectedRecords}, true
}

// commitAck commits a group and frames its acknowledgement.
func (im *rosterImporter) commitAck(group []rosterRow) (*pb.ImportRetireesResponse, error) {
	ack, err := im.commit(group)
	if err != nil {
		return nil, err
	}
	return &pb.ImportRetireesResponse{Message: &pb.ImportRetireesResponse_Ack{Ack: ack}}, nil
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
