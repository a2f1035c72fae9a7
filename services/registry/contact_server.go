package registry

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// --- messages (issue 16)

// GetRetireeContact implements pb.RegistryServiceServer: casework's SMS
// sender asks for the one number it is about to send to, at the moment
// it sends, so that no number is kept outside registry. The read is
// audited before the number is disclosed, with the contact as reason.
func (s *Server) GetRetireeContact(ctx context.Context, req *pb.GetRetireeContactRequest) (*pb.GetRetireeContactResponse, error) {
	p, err := authn.Require(ctx, internalCallers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if req.RetireeId == "" {
		v.Add("retireeId", "required")
	}
	if req.Contact != pb.GetRetireeContactRequest_RETIREE && req.Contact != pb.GetRetireeContactRequest_PRIMARY_CONTACT {
		v.Add("contact", "must be RETIREE or PRIMARY_CONTACT")
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	r, err := s.store.GetRetiree(req.RetireeId)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReadsWithReason(ctx, audit.ActorOf(ctx, p), "GetRetireeContact", req.Contact.String(), r.Id); err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &pb.GetRetireeContactResponse{Status: r.Status, Phone: r.Phone}
	if req.Contact == pb.GetRetireeContactRequest_PRIMARY_CONTACT {
		resp.Phone = primaryContactPhone(r.Carers)
	}
	return resp, nil
}

// primaryContactPhone is the number of the carer to call first: the
// emergency contact when it has a number, else the first legally
// responsible carer with one, else the first carer with one.
func primaryContactPhone(carers []*pb.Carer) string {
	for _, pick := range []func(*pb.Carer) bool{
		func(c *pb.Carer) bool { return c.EmergencyContact },
		func(c *pb.Carer) bool { return c.LegallyResponsible },
		func(*pb.Carer) bool { return true },
	} {
		for _, c := range carers {
			if pick(c) && c.Phone != "" {
				return c.Phone
			}
		}
	}
	return ""
}
