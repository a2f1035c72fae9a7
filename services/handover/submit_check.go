package handover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// DefaultSubmitTimeout bounds the registry checks of one submit.
	DefaultSubmitTimeout = 30 * time.Second
	// factsBatch is how many ids one BatchGetRetireeFacts call names:
	// registry takes up to 10,000, a package's most retirees, so that a
	// submit makes one call.
	factsBatch = MaxRetirees
)

// errRegistryUnavailable is what a submit answers when registry cannot
// be asked: nothing was changed, and the client may try again.
var errRegistryUnavailable = status.Error(codes.Unavailable, "registry is unavailable: the handover was not submitted; try again")

// registryChecker checks a package against registry: the community
// exists, and each retiree exists, belongs to the enterprise, is living
// and still ENTERPRISE-managed.
type registryChecker struct {
	client  registryv1.RegistryServiceClient
	timeout time.Duration
	// batch is how many ids one BatchGetRetireeFacts call names.
	batch int
}

// check returns the violations registry finds, in the order of the
// package's fields, or an error when registry could not answer (the
// caller's context ending, or errRegistryUnavailable).
func (c *registryChecker) check(ctx context.Context, log *zap.Logger, h *pb.Handover) ([]fault.FieldViolation, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var v []fault.FieldViolation
	if h.CommunityId != "" {
		found, err := c.communityExists(cctx, h.CommunityId)
		if err != nil {
			return nil, c.failure(ctx, log, "GetCommunity", err)
		}
		if !found {
			v = append(v, fault.FieldViolation{Field: "communityId", Description: "no community with this id"})
		}
	}
	facts, err := c.facts(cctx, h.RetireeIds)
	if err != nil {
		return nil, c.failure(ctx, log, "BatchGetRetireeFacts", err)
	}
	for i, id := range h.RetireeIds {
		if r := retireeProblem(h, facts[id]); r != "" {
			v = append(v, fault.FieldViolation{Field: fmt.Sprintf("retireeIds[%d]", i), Description: r})
		}
	}
	return v, nil
}

// communityExists asks registry whether community id exists.
func (c *registryChecker) communityExists(ctx context.Context, id string) (bool, error) {
	_, err := c.client.GetCommunity(ctx, &registryv1.GetCommunityRequest{Id: id})
	switch status.Code(err) {
	case codes.OK:
		return true, nil
	case codes.NotFound:
		return false, nil
	}
	return false, err
}

// facts asks registry for the facts of ids, batch ids a call, and
// returns them by id.
func (c *registryChecker) facts(ctx context.Context, ids []string) (map[string]*registryv1.RetireeFacts, error) {
	out := make(map[string]*registryv1.RetireeFacts, len(ids))
	for chunk := range slices.Chunk(ids, c.batch) {
		resp, err := c.client.BatchGetRetireeFacts(ctx, &registryv1.BatchGetRetireeFactsRequest{Ids: chunk})
		if err != nil {
			return nil, err
		}
		for _, f := range resp.GetFacts() {
			out[f.GetId()] = f
		}
	}
	// An id left unanswered would read as "not a retiree of this
	// enterprise", which registry did not say.
	for _, id := range ids {
		if out[id] == nil {
			return nil, fmt.Errorf("registry answered no facts for retiree %s", id)
		}
	}
	return out, nil
}

// retireeProblem returns what is wrong with a retiree of h given its
// facts ("" for nothing). Registry answers this service everything; the
// enterprise may learn only what it could read itself: its own retirees
// still in its hands. Missing and foreign ids read alike, and management
// is checked before life status.
func retireeProblem(h *pb.Handover, f *registryv1.RetireeFacts) string {
	switch {
	case !f.GetFound(), f.GetEnterpriseCreditCode() != h.EnterpriseCreditCode:
		return "not a retiree of this enterprise"
	case f.GetManagementMode() != registryv1.ManagementMode_ENTERPRISE:
		return "already handed over (no longer managed by the enterprise)"
	case f.GetStatus() != registryv1.RetireeStatus_LIVING:
		return "not living"
	}
	return ""
}

// failure turns an error of a registry call into the submit's answer.
// Registry's own statuses never reach the client as they are: a
// PermissionDenied about this service's token is not the caller's.
func (c *registryChecker) failure(ctx context.Context, log *zap.Logger, call string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	code := status.Code(err)
	switch {
	case errors.Is(err, context.DeadlineExceeded), code == codes.Unavailable, code == codes.DeadlineExceeded,
		code == codes.ResourceExhausted, code == codes.Aborted, code == codes.Canceled:
		log.Warn("registry check failed", zap.String("call", call), zap.Stringer("code", code), zap.Error(err))
		return errRegistryUnavailable
	}
	// Not the client's doing, and not a passing outage: a misconfigured
	// service token, a registry bug. The client gets Internal; the log
	// gets the detail.
	return fmt.Errorf("registry %s: %s: %s", call, code, status.Convert(err).Message())
}
