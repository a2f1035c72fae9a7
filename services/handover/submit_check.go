package handover

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// checkParallelism is how many GetRetiree calls a submit keeps in
	// flight: enough to hide the round trips, few enough that one large
	// package does not crowd out registry's other callers.
	checkParallelism = 16
)

// errRegistryUnavailable is what a submit answers when registry cannot
// be asked: nothing was changed, and the client may try again.
var errRegistryUnavailable = status.Error(codes.Unavailable, "registry is unavailable: the handover was not submitted; try again")

// registryChecker checks a package against registry: the community
// exists, and each retiree exists, belongs to the enterprise, is living
// and still ENTERPRISE-managed.
type registryChecker struct {
	client   registryv1.RegistryServiceClient
	timeout  time.Duration
	parallel int
}

// check returns the violations registry finds, in the order of the
// package's fields, or an error when registry could not answer (the
// caller's context ending, or errRegistryUnavailable).
func (c *registryChecker) check(ctx context.Context, log *zap.Logger, h *pb.Handover) ([]fault.FieldViolation, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	var v []fault.FieldViolation
	if _, err := c.client.GetCommunity(cctx, &registryv1.GetCommunityRequest{Id: h.CommunityId}); err != nil {
		if status.Code(err) != codes.NotFound {
			return nil, c.failure(ctx, log, "GetCommunity", err)
		}
		v = append(v, fault.FieldViolation{Field: "communityId", Description: "no community with this id"})
	}

	reasons := make([]string, len(h.RetireeIds))
	var (
		mu       sync.Mutex
		firstErr error
	)
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(c.parallel, len(h.RetireeIds)) {
		wg.Go(func() {
			for i := range work {
				reason, err := c.retiree(cctx, h, h.RetireeIds[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					continue
				}
				reasons[i] = reason
			}
		})
	}
feed:
	for i := range h.RetireeIds {
		select {
		case work <- i:
		case <-cctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, c.failure(ctx, log, "GetRetiree", firstErr)
	}
	if err := cctx.Err(); err != nil {
		return nil, c.failure(ctx, log, "GetRetiree", err)
	}
	for i, r := range reasons {
		if r != "" {
			v = append(v, fault.FieldViolation{Field: fmt.Sprintf("retireeIds[%d]", i), Description: r})
		}
	}
	return v, nil
}

// retiree returns what is wrong with one retiree of h ("" for nothing),
// or the error of the call.
func (c *registryChecker) retiree(ctx context.Context, h *pb.Handover, id string) (string, error) {
	// Registry answers this service everything; the enterprise may learn
	// only what it could read itself: its own retirees still in its hands.
	// Missing and foreign ids read alike, and management is checked before
	// life status.
	const notOurs = "not a retiree of this enterprise"
	resp, err := c.client.GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: id})
	if status.Code(err) == codes.NotFound {
		return notOurs, nil
	}
	if err != nil {
		return "", err
	}
	r := resp.GetRetiree()
	switch {
	case r.GetEnterpriseCreditCode() != h.EnterpriseCreditCode:
		return notOurs, nil
	case r.GetManagementMode() != registryv1.ManagementMode_ENTERPRISE:
		return "already handed over (no longer managed by the enterprise)", nil
	case r.GetStatus() != registryv1.RetireeStatus_LIVING:
		return "not living", nil
	}
	return "", nil
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
