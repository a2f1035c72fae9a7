package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Goals at 2,000,000 retirees (issue 18).
const (
	goalCityPageP99 = 50 * time.Millisecond
	goalCityHeap    = 512 << 20
	goalRebuild     = 60 * time.Second
)

// measure takes the city's figures at the size in column col: disk and
// memory, GetRetiree, the lists and the report, the projections'
// rebuild, and memory again.
func (c *city) measure(ctx context.Context, t *cityTable, col int) error {
	if err := c.measureDisk(ctx, t, col); err != nil {
		return err
	}
	if err := c.measureMemory(ctx, t, col, "loading"); err != nil {
		return err
	}
	if err := c.waitQuiet(ctx, t, col); err != nil {
		return err
	}
	if err := c.measureGetRetiree(ctx, t, col); err != nil {
		return err
	}
	if err := c.measureLists(ctx, t, col); err != nil {
		return err
	}
	if err := c.measureRebuilds(ctx, t, col); err != nil {
		return err
	}
	return c.measureMemory(ctx, t, col, "the measurements")
}

// services are the city's programs by name, in the table's order.
func (c *city) services() []struct {
	name string
	proc *serviceProc
} {
	return []struct {
		name string
		proc *serviceProc
	}{{"registry", c.reg}, {"pension", c.pension}, {"activity", c.activity}}
}

// measureDisk sets the size of each service's data directory (its bbolt
// file) and the calls it has served so far: every read leaves an audit
// record in the file, so the measurements at the smaller sizes are in it
// too.
func (c *city) measureDisk(ctx context.Context, t *cityTable, col int) error {
	for _, s := range c.services() {
		n, err := dirSize(s.proc.dataDir)
		if err != nil {
			return err
		}
		page, err := fetch(ctx, "http://"+s.proc.adminAddr+"/metrics", "")
		if err != nil {
			return fmt.Errorf("%s metrics: %w", s.name, err)
		}
		calls, err := metricSum(bytes.NewReader(page), "socmgmt_grpc_requests_total")
		if err != nil {
			return fmt.Errorf("%s metrics: %w", s.name, err)
		}
		t.set(s.name+": data directory (its bbolt file), and the calls served so far, each read audited in it", col,
			fmt.Sprintf("%s, %s calls", formatBytes(float64(n)), formatCount(int64(calls))))
	}
	return nil
}

// dirSize is the sum of the sizes of the files under dir.
func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed since the walk listed it
		}
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

// measureMemory sets each service's Go heap and RSS, read right after a
// collection (see collectHeap): the live data, and the heap goal, which
// is how far the heap may grow before the next collection (with GOGC
// 400, five times the live data, unless GOMEMLIMIT stops it earlier). The
// city's goal is judged on the heap goal, the most the heap reaches.
func (c *city) measureMemory(ctx context.Context, t *cityTable, col int, after string) error {
	for _, s := range c.services() {
		heap, err := c.h.collectHeap(ctx, s.proc.adminAddr)
		if err != nil {
			return fmt.Errorf("%s %w", s.name, err)
		}
		if err := c.h.keepProfile(fmt.Sprintf("%s-heap-%d-after-%s.pprof", s.name, c.loaded, strings.ReplaceAll(after, " ", "-")), heap.profile); err != nil {
			return err
		}
		what := fmt.Sprintf("%s: Go heap live after a collection / heap goal / RSS, after %s", s.name, after)
		t.set(what, col, formatBytes(heap.live)+" / "+formatBytes(heap.goal)+" / "+formatBytes(heap.rss))
		t.judge(what, fmt.Sprintf("heap goal ≤ %d MiB", goalCityHeap>>20), heap.goal <= goalCityHeap)
	}
	return nil
}

// Quiet: the city is measured once its services have finished what the
// load set going (pension's anomaly sweep after a payment import,
// registry's audit indexer, a projection's catching up), so that the
// figures are the reads' own rather than theirs on the same two cores.
const (
	quietCores   = 0.05
	quietWindow  = 5 * time.Second
	quietTimeout = 15 * time.Minute
)

// waitQuiet waits until the three services are quiet (see awaitQuiet)
// and sets how long that took.
func (c *city) waitQuiet(ctx context.Context, t *cityTable, col int) error {
	const what = "after loading: until the services are quiet (less than 5 % of a core together over 5 s)"
	var admins []string
	for _, s := range c.services() {
		admins = append(admins, s.proc.adminAddr)
	}
	waited, quiet, err := awaitQuiet(ctx, admins...)
	switch {
	case err != nil:
		return err
	case quiet:
		t.set(what, col, formatSeconds(waited))
	default:
		t.set(what, col, "not quiet after "+formatSeconds(waited))
	}
	return nil
}

// awaitQuiet waits until the services with admin ports admins together use
// less than quietCores of CPU over a quietWindow, at most quietTimeout. It
// returns how long it waited and whether they were quiet by then.
func awaitQuiet(ctx context.Context, admins ...string) (waited time.Duration, quiet bool, err error) {
	start := time.Now()
	prev, err := cpuSeconds(ctx, admins)
	for err == nil {
		select {
		case <-ctx.Done():
			return time.Since(start), false, ctx.Err()
		case <-time.After(quietWindow):
		}
		var now float64
		if now, err = cpuSeconds(ctx, admins); err != nil {
			break
		}
		if (now-prev)/quietWindow.Seconds() < quietCores {
			return time.Since(start), true, nil
		}
		prev = now
		if time.Since(start) > quietTimeout {
			return time.Since(start), false, nil
		}
	}
	return time.Since(start), false, err
}

// cpuSeconds is the CPU time the services with admin ports admins have
// used so far.
func cpuSeconds(ctx context.Context, admins []string) (float64, error) {
	var sum float64
	for _, a := range admins {
		v, err := scrapeMetric(ctx, "http://"+a+"/metrics", "process_cpu_seconds_total")
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %w", a, err)
		}
		sum += v
	}
	return sum, nil
}

// measureGetRetiree measures GetRetiree as the registry scenario does,
// cfg.Reps times over every retiree of the city: its rate as a share of
// the bare grpc-go server's, and its p99 paced at half its rate.
func (c *city) measureGetRetiree(ctx context.Context, t *cityTable, col int) error {
	reg := &loadedRegistry{serviceProc: c.reg, h: c.h, conns: c.conns[:c.h.cfg.Conns], ids: c.ids}
	var reps []registryRep
	for range c.h.cfg.Reps {
		rep, err := c.h.directRepetition(ctx, reg)
		if err != nil {
			return err
		}
		reps = append(reps, rep)
	}
	share := spreadOf(reps, func(r registryRep) float64 { return ratio(r.direct.Rate(), r.bare.Rate()) })
	rate := spreadOf(reps, func(r registryRep) float64 { return r.direct.Rate() })
	t.set("registry GetRetiree, direct gRPC: rate, share of bare grpc-go", col,
		fmt.Sprintf("%s, %s", rateSpread(rate), percentSpread(share, "bare")))
	half := make([]summary, len(reps))
	for i, r := range reps {
		half[i] = r.half
	}
	p99, dropped, met := halfRateVerdict(half)
	const what = "registry GetRetiree paced at half that rate: p99"
	value := latencySpread(p99)
	if dropped > 0 {
		value += fmt.Sprintf(" (%s not sent: queue full)", formatCount(int64(dropped)))
	}
	t.set(what, col, value)
	t.judge(what, halfRateGoal(), met)
	return nil
}

// cityList is one list or report the city measures.
type cityList struct {
	what string
	// fetch reads a page; allowEmpty lets pages be empty (see pageWalker).
	fetch      pageFetch
	allowEmpty bool
	// page is false for a report, which has no goal of its own.
	page bool
}

// lists are the lists and the report measured, read by one client each.
func (c *city) lists() []cityList {
	community := c.communities[0]
	latest := c.months[len(c.months)-1].month
	return []cityList{
		{what: "registry ListRetirees, city-wide, enterprise-managed and aged 85 or more (about 2 %)", page: true,
			fetch: c.retireePages(&registryv1.ListRetireesRequest{ManagementMode: registryv1.ManagementMode_ENTERPRISE, MinAge: 85})},
		{what: "registry ListRetirees, city-wide, a name 10 retirees bear (no index: each page examines up to the scan bound)", page: true, allowEmpty: true,
			fetch: c.retireePages(&registryv1.ListRetireesRequest{Name: "职工00001"})},
		{what: "registry GetSocialisationReport by community (the whole city)", fetch: func(ctx context.Context, _ string) (string, int, error) {
			resp, err := c.registry.GetSocialisationReport(ctx, &registryv1.GetSocialisationReportRequest{GroupBy: "community"})
			return "", len(resp.GetRows()), err
		}},
		{what: "pension ListPaymentAnomalies, a community's latest month (2 % AMOUNT_DROP)", page: true, allowEmpty: true,
			fetch: func(ctx context.Context, token string) (string, int, error) {
				resp, err := c.pensionc.ListPaymentAnomalies(ctx, &pensionv1.ListPaymentAnomaliesRequest{
					Month: latest, CommunityId: community, PageSize: cityPage, PageToken: token,
				})
				return resp.GetNextPageToken(), len(resp.GetAnomalies()), err
			}},
		// At the smallest sizes a community may have no one overdue.
		{what: "pension ListOverdueCertifications, a community (10 % overdue)", page: true, allowEmpty: true, fetch: overduePages(c.pensionc, community, cityPage)},
	}
}

// retireePages reads pages of cityPage of ListRetirees filtered as f.
func (c *city) retireePages(f *registryv1.ListRetireesRequest) pageFetch {
	return func(ctx context.Context, token string) (string, int, error) {
		req := proto.CloneOf(f)
		req.PageSize, req.PageToken = cityPage, token
		resp, err := c.registry.ListRetirees(ctx, req)
		return resp.GetNextPageToken(), len(resp.GetRetirees()), err
	}
}

// measureLists measures each list's pages, read in turn by one client,
// and the report.
func (c *city) measureLists(ctx context.Context, t *cityTable, col int) error {
	for _, l := range c.lists() {
		what := l.what + fmt.Sprintf(", pages of %d in turn", cityPage)
		if !l.page {
			what = l.what
		}
		s := runLoad(ctx, c.h.oneClient(), pageWalker(l.fetch, l.allowEmpty))
		if err := s.Err(); err != nil {
			return fmt.Errorf("%s: %w", l.what, err)
		}
		t.set(what, col, formatPercentiles(s))
		if l.page {
			t.judge(what, fmt.Sprintf("p99 ≤ %g ms", float64(goalCityPageP99)/float64(time.Millisecond)), s.P99 <= goalCityPageP99)
		}
	}
	return nil
}

// measureRebuilds starts a fresh pension and a fresh activity, each with
// an empty data directory, against the city's registry, and times each
// from its start until its projection has applied registry's head
// revision: the whole rebuild from revision 0, a snapshot of every
// retiree. Each is stopped and its directory removed afterwards.
func (c *city) measureRebuilds(ctx context.Context, t *cityTable, col int) error {
	for _, name := range []string{"pension", "activity"} {
		start := time.Now()
		p, err := c.h.startService(ctx, name+"-rebuild", filepath.Join(c.h.cfg.Bin, name), c.h.rebuildArgs(name, c.reg.grpcAddr)...)
		if err != nil {
			return err
		}
		err = c.h.waitRevision(ctx, p, c.head)
		elapsed := time.Since(start)
		c.h.release(p.child)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(p.dataDir); err != nil {
			return err
		}
		what := name + ": projection rebuilt from revision 0 (a fresh instance, empty data directory, until it shows registry's head)"
		t.set(what, col, formatSeconds(elapsed))
		t.judge(what, fmt.Sprintf("≤ %.0f s", goalRebuild.Seconds()), elapsed <= goalRebuild)
	}
	return nil
}

// rebuildArgs are the flags of a fresh instance of the program name
// following the registry at registryAddr, as the city's own are started.
func (h *harness) rebuildArgs(name, registryAddr string) []string {
	if name == "pension" {
		return []string{"--id-key", h.idKey, "--registry-addr", registryAddr}
	}
	return []string{"--registry-addr", registryAddr}
}
