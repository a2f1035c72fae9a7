package registry

import (
	"slices"
	"strings"
	"time"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// exportChunkSize is the most bytes of the file one ExportRegister
// message carries.
const exportChunkSize = 64 << 10

// exportRoles may export registers; exportScope decides which.
var exportRoles = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}

// exportScope refuses p a register of community that p may not read:
// admin and bureau read every community's, a clerk its own communities',
// a street or district supervisor those of its area. One community per
// export: a supervisor exports its area's registers one community at a
// time.
func exportScope(p *authn.Principal, community string) error {
	if p.Is(authn.RoleAdmin, authn.RoleBureau) || p.InArea(community) {
		return nil
	}
	return authn.ErrPermissionDenied
}

// exportSeesNumbers reports whether p's export of community's register
// carries full ID and phone numbers: the roles that may see a retiree's
// personal data in full (admin, bureau, the community's own clerk). A
// supervisor, who reads its area's retirees masked, gets them masked.
func exportSeesNumbers(p *authn.Principal, community string) bool {
	return p.Is(authn.RoleAdmin, authn.RoleBureau) || p.InCommunity(community)
}

// ExportRegister implements pb.RegistryServiceServer. The whole file is
// built, and every retiree it lists audited as read, before its first
// byte is sent: an export that fails sends nothing.
func (s *Server) ExportRegister(req *pb.ExportRegisterRequest, stream pb.RegistryService_ExportRegisterServer) error {
	ctx := stream.Context()
	p, err := authn.Require(ctx, exportRoles...)
	if err != nil {
		return err
	}
	q, format, err := s.checkExport(req)
	if err != nil {
		return s.fail(ctx, err)
	}
	if err := exportScope(p, q.Community); err != nil {
		return err
	}
	q.Full = !req.Masked && exportSeesNumbers(p, q.Community)
	t, err := s.store.Register(q)
	if isNotFound(err) && !knowsExistence(p) {
		return authn.ErrPermissionDenied
	}
	if err != nil {
		return s.fail(ctx, err)
	}
	data, contentType, err := encodeTable(t, q.Register, format)
	if err != nil {
		return s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ExportRegister", t.Retirees...); err != nil {
		return s.fail(ctx, err)
	}
	return sendExport(stream, exportFileName(q, format), contentType, int64(len(t.Rows)), data)
}

// checkExport validates an export request, returning the register query
// and the format.
func (s *Server) checkExport(req *pb.ExportRegisterRequest) (RegisterQuery, string, error) {
	var v fault.Violations
	if !slices.Contains(registers, req.Register) {
		v.Add("register", "must be one of "+strings.Join(registers, ", "))
	}
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	format := req.Format
	switch format {
	case "":
		format = formatCSV
	case formatCSV, formatXLSX:
	default:
		v.Add("format", "must be csv or xlsx")
	}
	asOf := s.checkAsOf(&v, req.AsOf)
	return RegisterQuery{Register: req.Register, Community: req.CommunityId, AsOf: asOf}, format, v.Err()
}

// checkAsOf reads an asOf day (China time), default today; a day after
// today is a violation.
func (s *Server) checkAsOf(v *fault.Violations, asOf string) time.Time {
	today := dayOf(s.now())
	if asOf == "" {
		asOf = today
	}
	day := parseDate(v, "asOf", asOf)
	if !day.IsZero() && asOf > today {
		v.Add("asOf", "in the future")
	}
	return day
}

// exportFileName names the file of q in format: ASCII only, so that every
// client reads it from Content-Disposition alike.
func exportFileName(q RegisterQuery, format string) string {
	return q.Register + "-" + q.Community + "-" + q.AsOf.Format(time.DateOnly) + "." + format
}

// sendExport streams a file: a first message naming it, then its bytes
// in chunks of at most exportChunkSize.
func sendExport(stream pb.RegistryService_ExportRegisterServer, name, contentType string, rows int64, data []byte) error {
	if err := stream.Send(&pb.ExportRegisterResponse{FileName: name, ContentType: contentType, Rows: rows, Size: int64(len(data))}); err != nil {
		return err
	}
	for chunk := range slices.Chunk(data, exportChunkSize) {
		if err := stream.Send(&pb.ExportRegisterResponse{Data: chunk}); err != nil {
			return err
		}
	}
	return nil
}
