package handover

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// MaxBatchHandovers bounds the packages of one BatchCreateHandovers: an
// enterprise's new retirees of a month, split by receiving unit.
const MaxBatchHandovers = 100

// BatchCreateHandovers implements pb.HandoverServiceServer: the month's
// new retirees of an enterprise, as DRAFT packages of kind
// MONTHLY_NEW_RETIREES, each checked as CreateHandover checks one, all
// stored in one transaction or none.
func (s *Server) BatchCreateHandovers(ctx context.Context, req *pb.BatchCreateHandoversRequest) (*pb.BatchCreateHandoversResponse, error) {
	p, err := authn.Require(ctx, owners...)
	if err != nil {
		return nil, err
	}
	drafts, err := checkBatch(p, req.Handovers)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if p.Role == authn.RoleEnterprise {
		for _, h := range drafts {
			if !p.OwnsEnterprise(h.EnterpriseCreditCode) {
				return nil, authn.ErrPermissionDenied
			}
		}
	}
	created, err := s.store.CreateHandovers(drafts, audit.ActorOf(ctx, p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	for i, h := range created {
		created[i] = viewFor(p, h)
	}
	return &pb.BatchCreateHandoversResponse{Handovers: created}, nil
}

// checkBatch validates the packages of a batch, each as CreateHandover
// does, and returns their drafts. A violation of the i-th package is
// named handovers[i].field; an enterprise's packages default to its own
// credit code, and their kind to MONTHLY_NEW_RETIREES.
func checkBatch(p *authn.Principal, hs []*pb.Handover) ([]*pb.Handover, error) {
	switch {
	case len(hs) == 0:
		return nil, fault.Invalid("handovers", "name at least one package")
	case len(hs) > MaxBatchHandovers:
		return nil, fault.Invalid("handovers", fmt.Sprintf("at most %d packages per call", MaxBatchHandovers))
	}
	retirees := 0
	for _, h := range hs {
		retirees += len(h.GetRetireeIds())
	}
	if retirees > MaxRetirees {
		return nil, fault.Invalid("handovers", fmt.Sprintf("at most %d retirees in all per call", MaxRetirees))
	}
	var v fault.Violations
	drafts := make([]*pb.Handover, 0, len(hs))
	for i, h := range hs {
		field := fmt.Sprintf("handovers[%d]", i)
		if h == nil {
			v.Add(field, "required")
			continue
		}
		h = proto.Clone(h).(*pb.Handover)
		if h.EnterpriseCreditCode == "" && p.Role == authn.RoleEnterprise {
			h.EnterpriseCreditCode = p.Enterprise
		}
		// An unknown kind checkNewHandover names.
		switch h.Kind {
		case pb.Handover_KIND_UNSPECIFIED:
			h.Kind = pb.Handover_MONTHLY_NEW_RETIREES
		case pb.Handover_AGREEMENT:
			v.Add(field+".kind", "must be MONTHLY_NEW_RETIREES or left out: create an agreement with CreateHandover")
		}
		if err := nestViolations(&v, field, checkNewHandover(h)); err != nil {
			return nil, err
		}
		drafts = append(drafts, newDraft(h))
	}
	return drafts, v.Err()
}

// nestViolations adds the field violations of err under field (field.x
// for x); an error that is no validation error it returns.
func nestViolations(v *fault.Violations, field string, err error) error {
	if err == nil {
		return nil
	}
	var ve *fault.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	for _, f := range ve.Fields {
		v.Add(field+"."+f.Field, f.Description)
	}
	return nil
}

// CreateHandovers stores new handovers prepared by newDraft, each with
// its CREATED event, in one transaction: all of them or, on an error,
// none.
func (s *Store) CreateHandovers(hs []*pb.Handover, actor Actor) ([]*pb.Handover, error) {
	out := make([]*pb.Handover, len(hs))
	for i, h := range hs {
		out[i] = proto.Clone(h).(*pb.Handover)
	}
	err := s.update(func(w *txn) error {
		for _, h := range out {
			if err := w.create(h, actor, draftSummary(h)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
