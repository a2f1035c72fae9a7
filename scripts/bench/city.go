package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/projection"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The city: its communities and what is loaded for each retiree.
const (
	// cityCommunities are the city's communities (see cityCommunity).
	cityCommunities = 600
	// cityMonths of payments, one per retiree and month.
	cityMonths = 12
	// cityChunk bounds the records of one import stream, under both
	// services' --max-stream-records (2,000,000).
	cityChunk = 1_000_000
	// cityDropEvery: the latest month's payment of one retiree in
	// cityDropEvery (see cityPick) is cityDropShare lower than the month
	// before, an AMOUNT_DROP for the anomaly report to find (2 %).
	cityDropEvery = 50
	cityDropShare = 0.4
	// cityOverdueEvery: one retiree in cityOverdueEvery was last certified
	// more than a year ago, and is overdue (10 %); the others within the
	// last 330 days.
	cityOverdueEvery = 10
	// cityWeekly activities per community, each weekly for citySessions
	// weeks, with cityRegistrations of the community's retirees
	// registered for each.
	cityWeekly        = 4
	citySessions      = 52
	cityRegistrations = 25
	// cityPage is the page size of every list the city reads.
	cityPage int32 = 100
	// cityCatchUp bounds the wait for a projection to take in a size's
	// retirees, or to rebuild from revision 0.
	cityCatchUp = 30 * time.Minute
	// cityWorkers is how many calls are in flight while loading
	// activities and registrations.
	cityWorkers = 32
)

// cityScenario grows one city to each of --city-sizes in turn — retirees
// through the roster import, a year of payments, a certification each,
// and once a year of activities with registrations — and measures it at
// each size. It prints its own table, one column per size, even when a
// later size fails.
func cityScenario(ctx context.Context, h *harness) ([]row, error) {
	if p := h.missingProgram("city", "registry", "pension", "activity"); p != "" {
		return skippedRows("city", p), nil
	}
	c, err := h.startCity(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	t := newCityTable(h.cfg.CitySizes)
	defer printCityTable(h.out, h.cfg, t)
	for col, size := range h.cfg.CitySizes {
		h.log.Printf("city: growing to %s retirees", formatCount(int64(size)))
		if err := c.grow(ctx, t, col, size); err != nil {
			return nil, fmt.Errorf("growing to %d retirees: %w", size, err)
		}
		h.log.Printf("city: measuring %s retirees", formatCount(int64(size)))
		if err := c.measure(ctx, t, col); err != nil {
			return nil, fmt.Errorf("measuring %d retirees: %w", size, err)
		}
	}
	return nil, nil
}

// city is the stack the city scenario grows: registry, pension and
// activity following it, and what the harness knows of their contents.
type city struct {
	h                      *harness
	reg, pension, activity *serviceProc
	conns                  []*grpc.ClientConn
	registry               registryv1.RegistryServiceClient
	pensionc               pensionv1.PensionServiceClient
	activityc              activityv1.ActivityServiceClient
	communities            []string
	enterprises            []string
	idNumbers              []string
	months                 []benchMonth
	// loaded is how many retirees the city holds; ids are their ids and
	// members the first cityRegistrations of each community's, as
	// registry lists them; head is registry's revision after loading.
	loaded  int
	ids     []string
	members map[string][]string
	head    uint64
	// activities are the ids of the activities, once they are loaded.
	activities map[string][]string
}

// startCity starts registry, pension and activity, each with a data
// directory of its own, and creates the communities and enterprises.
func (h *harness) startCity(ctx context.Context) (c *city, err error) {
	c = &city{h: h, months: lastMonths(time.Now(), cityMonths)}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.reg, err = h.startRegistry(ctx); err != nil {
		return nil, err
	}
	if c.conns, err = h.dial(c.reg.grpcAddr, h.cfg.Conns); err != nil {
		return nil, err
	}
	c.registry = registryv1.NewRegistryServiceClient(c.conns[0])
	if c.pension, err = h.startPension(ctx, filepath.Join(h.cfg.Bin, "pension"), c.reg.grpcAddr); err != nil {
		return nil, err
	}
	if c.activity, err = h.startService(ctx, "activity", filepath.Join(h.cfg.Bin, "activity"), "--registry-addr", c.reg.grpcAddr); err != nil {
		return nil, err
	}
	pconns, err := h.dial(c.pension.grpcAddr, 1)
	if err != nil {
		return nil, err
	}
	aconns, err := h.dial(c.activity.grpcAddr, 1)
	if err != nil {
		closeAll(pconns)
		return nil, err
	}
	c.conns = append(c.conns, pconns[0], aconns[0])
	c.pensionc = pensionv1.NewPensionServiceClient(pconns[0])
	c.activityc = activityv1.NewActivityServiceClient(aconns[0])
	c.communities, c.enterprises, err = seedReferences(ctx, c.registry, cityCommunities)
	return c, err
}

// close closes the connections and stops the programs.
func (c *city) close() {
	closeAll(c.conns)
	for _, p := range []*serviceProc{c.activity, c.pension, c.reg} {
		if p != nil {
			c.h.release(p.child)
		}
	}
}

// grow loads the city from its size to size and sets each part's load
// time in column col.
func (c *city) grow(ctx context.Context, t *cityTable, col, size int) error {
	from := c.loaded
	if err := c.checkDisk(size); err != nil {
		return err
	}
	more, err := benchIDNumbersFrom(from, size)
	if err != nil {
		return err
	}
	c.idNumbers = append(c.idNumbers, more...)
	elapsed, err := c.importRoster(ctx, from, size)
	if err != nil {
		return err
	}
	t.set("load: retirees, registry ImportRetirees (those added to reach this size)", col, formatLoad(size-from, elapsed))
	c.loaded = size
	// Timed from the import's end, before the roster is listed (the
	// projections would catch up meanwhile). Registry's head is the
	// revision of the retiree imported last: nothing else changes it.
	start := time.Now()
	if c.head, err = c.revisionOf(ctx, c.idNumbers[c.loaded-1]); err != nil {
		return err
	}
	for _, p := range []*serviceProc{c.pension, c.activity} {
		if err := c.h.waitRevision(ctx, p, c.head); err != nil {
			return err
		}
	}
	t.set("load: pension's and activity's projections take in the added retirees (after the import)", col, formatSeconds(time.Since(start)))
	if err := c.takeStock(ctx); err != nil {
		return err
	}
	if elapsed, err = c.importPayments(ctx, from, size); err != nil {
		return err
	}
	t.set(fmt.Sprintf("load: a year of payments, pension ImportPayments (%d per added retiree)", cityMonths), col, formatLoad(cityMonths*(size-from), elapsed))
	if elapsed, err = c.importCertifications(ctx, from, size); err != nil {
		return err
	}
	t.set("load: one certification per added retiree, pension ImportCertifications", col, formatLoad(size-from, elapsed))
	if c.activities == nil {
		return c.loadActivities(ctx, t, col)
	}
	return nil
}

// checkDisk fails before the city grows to size when the disk the
// harness's directory is on lacks room for it: what the services hold
// per retiree so far, times the retirees to add, and as much again for
// the audit of the measurements and a rebuilt projection's copy. Before
// the first size nothing is known yet, and nothing is checked.
func (c *city) checkDisk(size int) error {
	if c.loaded == 0 {
		return nil
	}
	var used int64
	for _, s := range c.services() {
		n, err := dirSize(s.proc.dataDir)
		if err != nil {
			return err
		}
		used += n
	}
	need := diskNeed(used, c.loaded, size)
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.h.dir, &st); err != nil {
		return err
	}
	free := int64(st.Bavail) * st.Bsize //nolint:gosec // G115: block counts of a real disk fit
	c.h.log.Printf("city: %s used for %s retirees; %s more expected for %s, %s free",
		formatBytes(float64(used)), formatCount(int64(c.loaded)), formatBytes(float64(need)), formatCount(int64(size)), formatBytes(float64(free)))
	if free < need {
		return fmt.Errorf("%s free on the disk of %s, and growing to %d retirees needs about %s", formatBytes(float64(free)), c.h.dir, size, formatBytes(float64(need)))
	}
	return nil
}

// diskNeed is the room growing from loaded retirees, which take used
// bytes, to size needs: twice what the added retirees take at the same
// bytes each.
func diskNeed(used int64, loaded, size int) int64 {
	return 2 * used / int64(loaded) * int64(size-loaded)
}

// importRoster imports retirees from to to into registry, in streams of
// at most cityChunk, and returns how long it took.
func (c *city) importRoster(ctx context.Context, from, to int) (time.Duration, error) {
	start := time.Now()
	for lo := from; lo < to; lo += cityChunk {
		n := min(cityChunk, to-lo)
		// The records are made on streamImport's sending goroutine, which
		// may still run when a failed stream returns.
		var genErr atomic.Pointer[error]
		record := func(i int) *registryv1.RetireeRecord {
			r, err := benchRetiree(lo+i, c.communities, c.enterprises)
			if err != nil {
				genErr.CompareAndSwap(nil, &err)
				return &registryv1.RetireeRecord{Index: int64(i + 1)}
			}
			r.CommunityId = c.communities[cityCommunity(lo+i)]
			return &registryv1.RetireeRecord{Index: int64(i + 1), Retiree: r}
		}
		c.h.log.Printf("city: importing retirees %s to %s", formatCount(int64(lo)), formatCount(int64(lo+n)))
		_, err := streamImport(ctx, rosterStream(c.registry, record), "city-roster-"+strconv.Itoa(lo), n)
		if p := genErr.Load(); p != nil {
			err = errors.Join(err, *p)
		}
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// importPayments imports a payment for each month of the year for the
// retirees from to to, a stream per month (and per cityChunk retirees),
// as a bureau's monthly files would be sent, and returns how long it
// took.
func (c *city) importPayments(ctx context.Context, from, to int) (time.Duration, error) {
	banks := benchBankAccounts()
	last := len(c.months) - 1
	start := time.Now()
	for mi, m := range c.months {
		for lo := from; lo < to; lo += cityChunk {
			n := min(cityChunk, to-lo)
			record := func(i int) *pensionv1.PaymentRecord {
				r := benchPayment(int64(i+1), c.idNumbers[lo+i], m, banks, lo+i)
				if mi == last && cityPick(lo+i, 0, cityDropEvery) {
					r.BasicFen = int64(float64(r.BasicFen) * (1 - cityDropShare))
				}
				return r
			}
			c.h.log.Printf("city: importing %s payments of %s", formatCount(int64(n)), m.month)
			batch := fmt.Sprintf("city-payments-%s-%d", m.month, lo)
			if _, err := streamImport(ctx, paymentStream(c.pensionc, record), batch, n); err != nil {
				return 0, err
			}
		}
	}
	return time.Since(start), nil
}

// importCertifications imports a certification by data matching for each
// retiree from to to, and returns how long it took: most within the last
// 330 days, every cityOverdueEvery-th a year and more ago.
func (c *city) importCertifications(ctx context.Context, from, to int) (time.Duration, error) {
	days := lastDays(time.Now(), 500)
	start := time.Now()
	for lo := from; lo < to; lo += cityChunk {
		n := min(cityChunk, to-lo)
		record := func(i int) *pensionv1.CertificationRecord {
			return &pensionv1.CertificationRecord{
				Index: int64(i + 1), IdNumber: c.idNumbers[lo+i], CertifiedOn: days[certifiedDaysAgo(lo+i, len(days))],
				Channel: pensionv1.CertificationMethod_DATA_MATCH,
			}
		}
		c.h.log.Printf("city: importing %s certifications", formatCount(int64(n)))
		if _, err := streamImport(ctx, certificationStream(c.pensionc, record), "city-certifications-"+strconv.Itoa(lo), n); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// certifiedDaysAgo is the index, in a list of the last days days oldest
// first, of retiree n's certification day: 1 to 330 days ago, or 380 to
// 479 days ago for one retiree in cityOverdueEvery.
func certifiedDaysAgo(n, days int) int {
	ago := 1 + n%330
	if cityPick(n, 1, cityOverdueEvery) {
		ago = 380 + n%100
	}
	return days - ago
}

// cityCommunity is the community of retiree n: runs of 12 retirees in
// turn, so that every community holds every residue of n modulo 12, and
// with it its share of benchRetiree's enterprise-managed retirees (n mod
// 4) and of those living alone (n mod 3). benchRetiree's own n mod
// communities would put all of them in a quarter and a third of 600
// communities.
func cityCommunity(n int) int {
	return n / 12 % cityCommunities
}

// cityPick reports whether retiree n is one in every of the retirees
// picked for the purpose salt, spread over the communities and the
// birth dates rather than following their patterns: by a multiplicative
// hash of n.
func cityPick(n, salt, every int) bool {
	h := uint32(n+salt*1_000_003) * 2654435761 //nolint:gosec // G115: a hash, wrapping on purpose
	return int(h>>8)%every == 0
}

// benchIDNumbersFrom returns the ID numbers of benchRetiree's retirees
// from to to.
func benchIDNumbersFrom(from, to int) ([]string, error) {
	out := make([]string, 0, to-from)
	one := []string{"x"}
	for n := from; n < to; n++ {
		r, err := benchRetiree(n, one, one)
		if err != nil {
			return nil, err
		}
		out = append(out, r.GetIdNumber())
	}
	return out, nil
}

// takeStock lists every retiree registry holds, keeping their ids and
// the first cityRegistrations of each community.
func (c *city) takeStock(ctx context.Context) error {
	ids := make([]string, 0, c.loaded)
	members := make(map[string][]string, cityCommunities)
	token := ""
	for {
		resp, err := c.registry.ListRetirees(ctx, &registryv1.ListRetireesRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			return fmt.Errorf("list retirees: %w", err)
		}
		for _, r := range resp.GetRetirees() {
			ids = append(ids, r.GetId())
			if m := members[r.GetCommunityId()]; len(m) < cityRegistrations {
				members[r.GetCommunityId()] = append(m, r.GetId())
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if len(ids) != c.loaded {
		return fmt.Errorf("registry lists %d retirees, want %d", len(ids), c.loaded)
	}
	c.ids, c.members = ids, members
	return nil
}

// revisionOf returns the latest revision of the retiree with idNumber.
func (c *city) revisionOf(ctx context.Context, idNumber string) (uint64, error) {
	r, err := c.registry.LookupRetiree(ctx, &registryv1.LookupRetireeRequest{IdNumber: idNumber})
	if err != nil {
		return 0, fmt.Errorf("look up the last retiree: %w", err)
	}
	hist, err := c.registry.ListRetireeHistory(ctx, &registryv1.ListRetireeHistoryRequest{Id: r.GetRetiree().GetId(), PageSize: 100})
	if err != nil {
		return 0, fmt.Errorf("the last retiree's history: %w", err)
	}
	var rev int64
	for _, e := range hist.GetEntries() {
		rev = max(rev, e.GetRevision())
	}
	if rev <= 0 {
		return 0, errors.New("the last retiree's history has no revision")
	}
	return uint64(rev), nil
}

// waitRevision waits until the projection of p has applied registry's
// changes through rev (its socmgmt_projection_revision), within
// cityCatchUp. A projection rebuilding from revision 0 shows 0 until its
// snapshot ends, and then registry's head.
func (h *harness) waitRevision(ctx context.Context, p *serviceProc, rev uint64) error {
	ctx, cancel := context.WithTimeout(ctx, cityCatchUp)
	defer cancel()
	url := "http://" + p.adminAddr + "/metrics"
	for {
		got, err := scrapeMetric(ctx, url, projection.MetricRevision)
		if err == nil && got >= float64(rev) {
			return nil
		}
		select {
		case <-p.child.exited:
			return fmt.Errorf("%s exited: %w", p.child.name, p.child.waitErr)
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("%s's projection did not reach revision %d within %v: %w", p.child.name, rev, cityCatchUp, err)
			}
			return fmt.Errorf("%s's projection did not reach revision %d within %v (at %.0f)", p.child.name, rev, cityCatchUp, got)
		case <-time.After(pollInterval):
		}
	}
}

// inParallel calls f for 0 to n-1 with workers calls in flight, and
// returns the first error, after which it starts no more calls.
func inParallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}
