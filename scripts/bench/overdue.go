package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The goal for the overdue list.
const goalOverdueP99 = 50 * time.Millisecond

const (
	// overdueRetirees is the size of the community whose list is read.
	overdueRetirees = 20_000
	// overdueCertifiedShare of them are certified within the last year;
	// the others, retired years ago and never certified since, are
	// overdue.
	overdueCertifiedShare = 0.9
	// overduePage is the page size a clerk's list asks for.
	overduePage int32 = 100
)

// overdueScenario measures ListOverdueCertifications of a community of
// overdueRetirees retirees, a tenth of them overdue, in pages of
// overduePage: one client walks the list page after page, from the start
// again at its end, as clerks page through it.
func overdueScenario(ctx context.Context, h *harness) ([]row, error) {
	const what = "pension ListOverdueCertifications"
	if p := h.missingProgram("pension overdue list", "pension"); p != "" {
		return skippedRows(what, p), nil
	}
	reg, err := h.startRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer h.release(reg.child)
	rconns, err := h.dial(reg.grpcAddr, h.cfg.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(rconns)
	communities, enterprises, err := seedReferences(ctx, registryv1.NewRegistryServiceClient(rconns[0]), seedCommunities)
	if err != nil {
		return nil, err
	}
	community := communities[0]
	ids, _, err := loadRetirees(ctx, h, rconns, overdueRetirees, communities[:1], enterprises)
	if err != nil {
		return nil, err
	}

	p, err := h.startPension(ctx, filepath.Join(h.cfg.Bin, "pension"), reg.grpcAddr)
	if err != nil {
		return nil, err
	}
	defer h.release(p.child)
	pconns, err := h.dial(p.grpcAddr, h.cfg.Conns)
	if err != nil {
		return nil, err
	}
	defer closeAll(pconns)
	client := pensionv1.NewPensionServiceClient(pconns[0])
	if _, err := h.awaitProjection(ctx, client, ids); err != nil {
		return nil, err
	}
	certified, err := h.certifyMost(ctx, pconns, ids)
	if err != nil {
		return nil, err
	}
	overdue, err := countOverdue(ctx, client, community)
	if err != nil {
		return nil, err
	}
	if want := len(ids) - certified; overdue != want {
		return nil, fmt.Errorf("%s: %d overdue, want %d", what, overdue, want)
	}
	return []row{h.measureOverdue(ctx, client, community, overdue)}, nil
}

// certifyMost records a certification within the last 330 days for
// overdueCertifiedShare of ids, through the bureau's data matching, with
// cfg.LoadConcurrency calls in flight, and returns how many it recorded.
func (h *harness) certifyMost(ctx context.Context, conns []*grpc.ClientConn, ids []string) (int, error) {
	n := int(float64(len(ids)) * overdueCertifiedShare)
	h.log.Printf("certifying %s of the %s retirees", formatCount(int64(n)), formatCount(int64(len(ids))))
	today := time.Now().UTC()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range h.cfg.LoadConcurrency {
		client := pensionv1.NewPensionServiceClient(conns[w%len(conns)])
		rng := rand.New(rand.NewPCG(uint64(w), 9)) //nolint:gosec // G115: a worker number, from 0; G404: test data
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				day := today.AddDate(0, 0, -rng.IntN(330)).Format(time.DateOnly)
				_, err := client.RecordCertification(ctx, &pensionv1.RecordCertificationRequest{
					RetireeId:     ids[i],
					Certification: &pensionv1.Certification{Method: pensionv1.CertificationMethod_DATA_MATCH, CertifiedOn: day},
				})
				if err != nil {
					cancel(fmt.Errorf("certify retiree %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	return n, context.Cause(ctx)
}

// countOverdue walks the whole overdue list of community and returns its
// length.
func countOverdue(ctx context.Context, client pensionv1.PensionServiceClient, community string) (int, error) {
	n, token := 0, ""
	for {
		resp, err := client.ListOverdueCertifications(ctx, &pensionv1.ListOverdueCertificationsRequest{
			CommunityId: community, PageSize: 1000, PageToken: token,
		})
		if err != nil {
			return 0, fmt.Errorf("list overdue: %w", err)
		}
		n += len(resp.Overdue)
		if token = resp.NextPageToken; token == "" {
			return n, nil
		}
	}
}

// measureOverdue measures pages of the overdue list of community, which
// holds overdue retirees, read one after another by one client.
func (h *harness) measureOverdue(ctx context.Context, client pensionv1.PensionServiceClient, community string, overdue int) row {
	list := runLoad(ctx, h.oneClient(), pageWalker(overduePages(client, community, overduePage), false))
	r := measuredRow(fmt.Sprintf("pension ListOverdueCertifications, a community of %s retirees, %s overdue, pages of %d in turn, 1 client (each read audited)",
		formatCount(overdueRetirees), formatCount(int64(overdue)), overduePage), list)
	if err := list.Err(); err != nil {
		r.Value = err.Error()
		r.Result = verdict(false)
		return r
	}
	r.Goal = fmt.Sprintf("p99 ≤ %g ms", float64(goalOverdueP99)/float64(time.Millisecond))
	r.Result = verdict(list.P99 <= goalOverdueP99)
	return r
}

// overduePages reads pages of size of community's overdue list.
func overduePages(client pensionv1.PensionServiceClient, community string, size int32) pageFetch {
	return func(ctx context.Context, token string) (string, int, error) {
		resp, err := client.ListOverdueCertifications(ctx, &pensionv1.ListOverdueCertificationsRequest{
			CommunityId: community, PageSize: size, PageToken: token,
		})
		return resp.GetNextPageToken(), len(resp.GetOverdue()), err
	}
}

// pageFetch reads the page of a list after token and returns the next
// page's token, empty after the last page, and how many entries the page
// held.
type pageFetch func(ctx context.Context, token string) (next string, entries int, err error)

var errEmptyPage = errors.New("an empty page")

// pageWalker is the caller of one client that reads a list's pages one
// after another, and from the start again after the last, as a clerk
// pages through it. A page with no entries is an error unless allowEmpty:
// a list filtered by what no index holds may return empty pages that
// only carry the next token.
func pageWalker(fetch pageFetch, allowEmpty bool) func(int) caller {
	return func(int) caller {
		token := ""
		return func(ctx context.Context) error {
			next, n, err := fetch(ctx, token)
			if err != nil {
				return err
			}
			if n == 0 && !allowEmpty {
				return errEmptyPage
			}
			token = next
			return nil
		}
	}
}
