package handover

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// MaxBatch is the most retirees one BatchAddRetirees or
// BatchRemoveRetirees names. A thousand retirees with full dossiers are
// about 320 KB of JSON, well inside the gateway's 1 MiB body limit (see
// TestBatchFitsTheGatewayBody), while a roster of MaxRetirees with its
// dossiers is not.
const MaxBatch = 1_000

// BatchAddRetirees implements pb.HandoverServiceServer: the enterprise
// adds retirees, with their dossiers, to its DRAFT or RETURNED package,
// all or none.
func (s *Server) BatchAddRetirees(ctx context.Context, req *pb.BatchAddRetireesRequest) (*pb.BatchAddRetireesResponse, error) {
	check := func() error { return checkBatchAdd(req.Etag, req.Retirees) }
	h, err := s.takeStep(ctx, byOwner, req.Id, req.Etag, check, rule(actionUpdated, func(cur *pb.Handover) (string, error) {
		return addRetirees(cur, req.Retirees)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.BatchAddRetireesResponse{Etag: h.Etag, Retirees: count32(len(h.RetireeIds)), Dossiers: count32(len(h.Dossiers))}, nil
}

// BatchRemoveRetirees implements pb.HandoverServiceServer: the enterprise
// takes retirees, with their dossiers and allocations, out of its DRAFT
// or RETURNED package, all or none.
func (s *Server) BatchRemoveRetirees(ctx context.Context, req *pb.BatchRemoveRetireesRequest) (*pb.BatchRemoveRetireesResponse, error) {
	check := func() error { return checkBatchRemove(req.Etag, req.RetireeIds) }
	h, err := s.takeStep(ctx, byOwner, req.Id, req.Etag, check, func(w *txn, cur *pb.Handover) (string, string, error) {
		detail, err := removeRetirees(cur, req.RetireeIds)
		if err != nil {
			return "", "", err
		}
		// A returned package holds its retirees; those taken out of it
		// are free for another one at once, as after UpdateHandover.
		return actionUpdated, detail, w.release(cur.Id, req.RetireeIds)
	})
	if err != nil {
		return nil, err
	}
	return &pb.BatchRemoveRetireesResponse{Etag: h.Etag, Retirees: count32(len(h.RetireeIds)), Dossiers: count32(len(h.Dossiers))}, nil
}

// count32 is a count of a package's items, at most MaxRetirees.
func count32(n int) int32 {
	return int32(min(n, MaxRetirees)) //nolint:gosec // G115: bounded by MaxRetirees
}

// checkBatchSize validates the etag and the size of a batch of n items
// named at field.
func checkBatchSize(v *fault.Violations, etag, field string, n int) bool {
	if etag == "" {
		v.Add("etag", "required: send the etag of the handover you read")
	}
	switch {
	case n == 0:
		v.Add(field, "name at least one retiree")
	case n > MaxBatch:
		v.Addf(field, "at most %d retirees per call", MaxBatch)
		return false
	}
	return true
}

// checkBatchAdd validates a batch to add as CreateHandover validates the
// same fields, and normalises its dossiers likewise. A dossier may leave
// out its retiree id, which is the retiree's it comes with.
func checkBatchAdd(etag string, rs []*pb.BatchRetiree) error {
	var v fault.Violations
	if !checkBatchSize(&v, etag, "retirees", len(rs)) {
		return v.Err()
	}
	seen := make(retireeSet, len(rs))
	checkEach(&v, "retirees", rs, MaxBatch, func(field string, r *pb.BatchRetiree) {
		seen.check(&v, field+".retireeId", r.RetireeId, "listed twice")
		if d := r.Dossier; d != nil {
			if d.RetireeId != "" && d.RetireeId != r.RetireeId {
				v.Add(field+".dossier.retireeId", "must be the retiree's id, or left out")
			}
			checkDossier(&v, field+".dossier", d)
		}
	})
	return v.Err()
}

// checkBatchRemove validates a batch of retirees to take out.
func checkBatchRemove(etag string, ids []string) error {
	var v fault.Violations
	if !checkBatchSize(&v, etag, "retireeIds", len(ids)) {
		return v.Err()
	}
	seen := make(retireeSet, len(ids))
	for i, id := range ids {
		seen.check(&v, fmt.Sprintf("retireeIds[%d]", i), id, "listed twice")
	}
	return v.Err()
}

// addRetirees adds a validated batch to h: none of its retirees may be in
// the package already, nor have a dossier there when it brings one, and
// the package may not grow past MaxRetirees.
func addRetirees(h *pb.Handover, rs []*pb.BatchRetiree) (string, error) {
	if err := requireState(h, "adding retirees", pb.Handover_DRAFT, pb.Handover_RETURNED); err != nil {
		return "", err
	}
	if n := len(h.RetireeIds) + len(rs); n > MaxRetirees {
		return "", fault.Invalid("retirees", fmt.Sprintf("the package would hold %d retirees; at most %d", n, MaxRetirees))
	}
	listed := make(map[string]bool, len(h.RetireeIds))
	for _, id := range h.RetireeIds {
		listed[id] = true
	}
	hasDossier := make(map[string]bool, len(h.Dossiers))
	for _, d := range h.Dossiers {
		hasDossier[d.RetireeId] = true
	}
	var v fault.Violations
	for i, r := range rs {
		field := fmt.Sprintf("retirees[%d]", i)
		if listed[r.RetireeId] {
			v.Add(field+".retireeId", "already in the package")
		}
		if r.Dossier != nil && hasDossier[r.RetireeId] {
			v.Add(field+".dossier", "the package has a dossier for this retiree already")
		}
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	dossiers := 0
	for _, r := range rs {
		h.RetireeIds = append(h.RetireeIds, r.RetireeId)
		if r.Dossier == nil {
			continue
		}
		d := proto.Clone(r.Dossier).(*pb.Dossier)
		// What receipts record is the receiver's to say, never the
		// enterprise's.
		clearReceipt(d)
		d.RetireeId = r.RetireeId
		h.Dossiers = append(h.Dossiers, d)
		dossiers++
	}
	return fmt.Sprintf("added %d retirees and %d dossiers: %d retirees and %d dossiers in all",
		len(rs), dossiers, len(h.RetireeIds), len(h.Dossiers)), nil
}

// removeRetirees takes a validated batch of h's retirees out of it, with
// their dossiers and allocations; every one must be in the package.
func removeRetirees(h *pb.Handover, ids []string) (string, error) {
	if err := requireState(h, "removing retirees", pb.Handover_DRAFT, pb.Handover_RETURNED); err != nil {
		return "", err
	}
	listed := make(map[string]bool, len(h.RetireeIds))
	for _, id := range h.RetireeIds {
		listed[id] = true
	}
	var v fault.Violations
	gone := make(map[string]bool, len(ids))
	for i, id := range ids {
		if !listed[id] {
			v.Add(fmt.Sprintf("retireeIds[%d]", i), "not in the package")
		}
		gone[id] = true
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	if err := checkPartyLeaving(h, ids); err != nil {
		return "", err
	}
	kept := inCustody(h)
	dropPartyTransfers(h, ids)
	h.RetireeIds = slices.DeleteFunc(h.RetireeIds, func(id string) bool { return gone[id] })
	before := len(h.Dossiers)
	h.Dossiers = slices.DeleteFunc(h.Dossiers, func(d *pb.Dossier) bool { return gone[d.RetireeId] })
	for _, a := range h.Allocations {
		a.RetireeIds = slices.DeleteFunc(a.RetireeIds, func(id string) bool { return gone[id] })
	}
	h.Allocations = slices.DeleteFunc(h.Allocations, func(a *pb.Allocation) bool { return len(a.RetireeIds) == 0 })
	if err := checkCustodyKept(kept, h); err != nil {
		return "", err
	}
	return fmt.Sprintf("removed %d retirees and %d dossiers: %d retirees and %d dossiers in all",
		len(ids), before-len(h.Dossiers), len(h.RetireeIds), len(h.Dossiers)), nil
}
