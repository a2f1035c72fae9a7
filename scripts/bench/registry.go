package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// DESIGN.md's goals for the registry.
const (
	goalDirectShare  = 0.60 // of the bare grpc-go server's rate
	goalGatewayShare = 0.50 // of the direct gRPC rate (issue 13)
	goalGatewayTail  = 3    // times the direct gRPC p99, at most (issue 13)
	goalP99          = 5 * time.Millisecond
	goalHeapBytes    = 200 << 20
)

const (
	seedCommunities = 20
	seedEnterprises = 10
	// birthDays is how many consecutive birth dates the loaded ID numbers
	// use; with the sequence number it makes every one distinct.
	birthDays = 9000
	// progressEvery is how often loading reports how far it got.
	progressEvery = 5 * time.Second
)

// registryScenario measures GetRetiree against a bare grpc-go server, at
// half its own rate, and through the gateway, with cfg.Retirees loaded.
// It measures them cfg.Reps times, the reference in each repetition, and
// reports the median and range of each figure.
func registryScenario(ctx context.Context, h *harness) ([]row, error) {
	reg, err := h.startLoadedRegistry(ctx)
	if err != nil {
		return nil, err
	}
	// Stopped when done, so that later scenarios have the machine to
	// themselves.
	defer reg.close()
	rows := []row{reg.loadRow}

	var reps []registryRep
	for i := range h.cfg.Reps {
		h.log.Printf("registry: repetition %d of %d", i+1, h.cfg.Reps)
		rep, err := h.registryRepetition(ctx, reg)
		if err != nil {
			// What the finished repetitions measured still stands.
			return append(rows, registryRows(reps)...), err
		}
		// Each repetition's figures go to the log, so that the one that
		// sets a range's far end can be found.
		h.log.Printf("registry: repetition %d: bare %.0f/s p99 %v; direct %.0f/s p99 %v; paced p99 %v; gateway %.0f/s p99 %v",
			i+1, rep.bare.Rate(), rep.bare.P99, rep.direct.Rate(), rep.direct.P99, rep.half.P99, rep.gateway.Rate(), rep.gateway.P99)
		reps = append(reps, rep)
	}
	rows = append(rows, registryRows(reps)...)

	heap, err := h.heapRow(ctx, "registry", reg.adminAddr, "the run")
	if err != nil {
		return rows, err
	}
	return append(rows, heap), nil
}

// registryRep is what one repetition of the registry scenario measured.
type registryRep struct {
	// bare is the reference server answering size-byte responses.
	bare summary
	size int
	// direct is registry over gRPC; half is it paced at halfOffered,
	// half of direct's rate.
	direct, half summary
	halfOffered  float64
	// gateway is registry through the gateway, when there is a gateway
	// program (gatewayRan).
	gateway    summary
	gatewayRan bool
}

// registryRepetition measures the reference, registry directly, at half
// that rate and through the gateway, one after the other.
func (h *harness) registryRepetition(ctx context.Context, reg *loadedRegistry) (registryRep, error) {
	rep, err := h.directRepetition(ctx, reg)
	if err != nil {
		return rep, err
	}
	rep.gateway, rep.gatewayRan, err = h.measureGateway(ctx, reg.serviceProc, reg.ids)
	return rep, err
}

// directRepetition measures the reference, registry directly and at half
// that rate, one after the other.
func (h *harness) directRepetition(ctx context.Context, reg *loadedRegistry) (registryRep, error) {
	var rep registryRep
	var err error
	if rep.bare, rep.size, err = h.measureBare(ctx, reg.conns[0], reg.ids); err != nil {
		return rep, err
	}
	rep.direct = h.cpuShares("registry GetRetiree, direct", map[string]int{"registry": reg.child.cmd.Process.Pid}, func() summary {
		return runLoad(ctx, h.closedLoop(), getRetireeCallers(reg.conns, reg.ids))
	})
	if err := rep.direct.Err(); err != nil {
		return rep, fmt.Errorf("registry GetRetiree: %w", err)
	}
	rep.halfOffered = rep.direct.Rate() / 2
	rep.half, err = h.measureHalfRate(ctx, reg, rep.halfOffered)
	return rep, err
}

// registryRows are the rows of the repetitions: each figure's median and
// range, each share taken within a repetition (registry against that
// repetition's reference) and judged on its median.
func registryRows(reps []registryRep) []row {
	if len(reps) == 0 {
		return nil
	}
	pick := func(f func(registryRep) summary) []summary {
		out := make([]summary, len(reps))
		for i, r := range reps {
			out[i] = f(r)
		}
		return out
	}
	rows := []row{summaryRow(fmt.Sprintf("bare grpc-go server: GetRetiree answering a canned %d-byte response", reps[0].size),
		pick(func(r registryRep) summary { return r.bare }))}

	direct := summaryRow("registry GetRetiree, direct gRPC", pick(func(r registryRep) summary { return r.direct }))
	share := spreadOf(reps, func(r registryRep) float64 { return ratio(r.direct.Rate(), r.bare.Rate()) })
	direct.Compared = percentSpread(share, "bare")
	direct.Goal = fmt.Sprintf("≥ %.0f %% of bare", 100*goalDirectShare)
	direct.Result = verdict(share.median() >= goalDirectShare)
	rows = append(rows, direct, halfRateRow(reps, pick(func(r registryRep) summary { return r.half })))

	const gatewayWhat = "registry GetRetiree through the REST gateway (GET /v1/retirees/{id})"
	if !reps[0].gatewayRan {
		return append(rows, row{What: gatewayWhat, Value: "skipped: no gateway program"})
	}
	gateway := summaryRow(gatewayWhat, pick(func(r registryRep) summary { return r.gateway }))
	share = spreadOf(reps, func(r registryRep) float64 { return ratio(r.gateway.Rate(), r.direct.Rate()) })
	gateway.Compared = percentSpread(share, "direct gRPC")
	tail := spreadOf(reps, func(r registryRep) float64 { return ratio(float64(r.gateway.P99), float64(r.direct.P99)) })
	gateway.Compared += fmt.Sprintf("; p99 %.1f× (%.1f×–%.1f×) direct's", tail.median(), tail.least(), tail.most())
	gateway.Goal = fmt.Sprintf("≥ %.0f %% of direct gRPC, p99 ≤ %d× direct's", 100*goalGatewayShare, goalGatewayTail)
	gateway.Result = verdict(share.median() >= goalGatewayShare && tail.median() <= goalGatewayTail)
	return append(rows, gateway)
}

// halfRateRow is the row of the paced measurements half: the goal is met
// when their median p99 is and no repetition left requests unsent.
func halfRateRow(reps []registryRep, half []summary) row {
	offered := spreadOf(reps, func(r registryRep) float64 { return r.halfOffered })
	r := summaryRow(fmt.Sprintf("registry GetRetiree, paced at half that rate (%s offered)", rateSpread(offered)), half)
	_, dropped, met := halfRateVerdict(half)
	r.Goal = halfRateGoal()
	r.Result = verdict(met)
	if dropped > 0 {
		r.Compared = fmt.Sprintf("%s not sent: queue full", formatCount(int64(dropped)))
	}
	return r
}

// halfRateVerdict is what the paced runs' p99s spread over, how many
// requests found the queue full, and whether the goal is met: the median
// p99 within goalP99 with none dropped.
func halfRateVerdict(half []summary) (p99 spread, dropped int, met bool) {
	p99 = spreadOf(half, func(s summary) float64 { return float64(s.P99) })
	for _, s := range half {
		dropped += s.Dropped
	}
	return p99, dropped, time.Duration(p99.median()) <= goalP99 && dropped == 0
}

// halfRateGoal is the paced runs' goal as the tables print it.
func halfRateGoal() string {
	return fmt.Sprintf("p99 ≤ %g ms", float64(goalP99)/float64(time.Millisecond))
}

// measureHalfRate measures GetRetiree paced at rate, half the direct
// rate, where DESIGN sets the latency goal.
func (h *harness) measureHalfRate(ctx context.Context, reg *loadedRegistry, rate float64) (summary, error) {
	spec := h.closedLoop()
	spec.Rate = rate
	profiled := h.profilePaced(ctx, reg.serviceProc, spec)
	half := runLoad(ctx, spec, getRetireeCallers(reg.conns, reg.ids))
	if err := <-profiled; err != nil {
		return summary{}, fmt.Errorf("profiling the paced run: %w", err)
	}
	if err := half.Err(); err != nil {
		return summary{}, fmt.Errorf("registry GetRetiree at half rate: %w", err)
	}
	return half, nil
}

// loadedRegistry is a registry started and loaded for a scenario, with
// the connections it was loaded through.
type loadedRegistry struct {
	*serviceProc
	h     *harness
	conns []*grpc.ClientConn
	// ids are the loaded retirees' ids, in load order; loadRow is the row
	// of the load rate.
	ids     []string
	loadRow row
}

// startLoadedRegistry starts a registry, dials it on cfg.Conns
// connections and loads cfg.Retirees retirees into it. close stops it.
func (h *harness) startLoadedRegistry(ctx context.Context) (*loadedRegistry, error) {
	reg, err := h.startRegistry(ctx)
	if err != nil {
		return nil, err
	}
	conns, err := h.dial(reg.grpcAddr, h.cfg.Conns)
	if err != nil {
		h.release(reg.child)
		return nil, err
	}
	lr := &loadedRegistry{serviceProc: reg, h: h, conns: conns}
	lr.ids, lr.loadRow, err = loadRegistry(ctx, h, conns)
	if err != nil {
		lr.close()
		return nil, err
	}
	return lr, nil
}

// close closes the connections and stops the registry.
func (r *loadedRegistry) close() {
	closeAll(r.conns)
	r.h.release(r.child)
}

// closedLoop is the measurement every row uses unless it paces itself.
func (h *harness) closedLoop() loadSpec {
	return loadSpec{Workers: h.cfg.Concurrency, Warmup: h.cfg.Warmup, Duration: h.cfg.Duration}
}

// getRetireeCallers returns callers that ask for random retirees of ids,
// each worker on one of conns in turn.
func getRetireeCallers(conns []*grpc.ClientConn, ids []string) func(int) caller {
	return func(worker int) caller {
		client := registryv1.NewRegistryServiceClient(conns[worker%len(conns)])
		rng := rand.New(rand.NewPCG(uint64(worker), 1)) //nolint:gosec // G115: a worker number, from 0
		return func(ctx context.Context) error {
			_, err := client.GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: ids[rng.IntN(len(ids))]})
			return err
		}
	}
}

// startRegistry starts the registry program with a data directory of
// its own and args, and waits until it serves.
func (h *harness) startRegistry(ctx context.Context, args ...string) (*serviceProc, error) {
	return h.startService(ctx, "registry", filepath.Join(h.cfg.Bin, "registry"), append([]string{"--id-key", h.idKey}, args...)...)
}

// serviceProc is a started service program.
type serviceProc struct {
	child               *child
	grpcAddr, adminAddr string
	// dataDir is the directory the service keeps its files in.
	dataDir string
}

// benchBudget is the --rate-limits of every service the harness starts:
// the load generator is one caller (the harness's admin token, and the
// few tokens of other roles a scenario needs) asking for tens of
// thousands of calls a second, far beyond what any role is allowed by
// default. The limiter still runs on every call, as in production, and
// its cost is in the figures; import records in flight keep their
// default bound, which the import figures are measured under.
const benchBudget = "*.personal=1000000/s:1000000,*.read=1000000/s:1000000,*.write=1000000/s:1000000"

// startService starts the service program bin as name on free gRPC and
// admin ports, with a fresh data directory under the harness's (name and
// the instance's number), the harness's token key, the bench budget and
// args, logging warnings as JSON, and waits until its health service says
// SERVING. One that does not is stopped again; its log stays for the
// failed run's report.
func (h *harness) startService(ctx context.Context, name, bin string, args ...string) (*serviceProc, error) {
	dataDir := filepath.Join(h.dir, fmt.Sprintf("%s-%d", name, h.instances.Add(1)))
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	all := append([]string{"--grpc-addr", grpcAddr, "--admin-addr", adminAddr,
		"--data-dir", dataDir, "--token-key", h.tokenKey, "--rate-limits", benchBudget}, h.servesTLS()...)
	if slices.Contains(args, "--registry-addr") {
		// A service told where registry is calls it, and perhaps others.
		all = append(all, h.callsTLS()...)
	}
	all = append(append(all, h.storeKeyArgs(bin)...), args...)
	c, err := h.start(name, bin, append(all, "--log-level", "warn", "--log-format", "json")...)
	if err != nil {
		return nil, err
	}
	if err := h.waitHealthy(ctx, c, grpcAddr); err != nil {
		return nil, errors.Join(err, h.stop(c))
	}
	return &serviceProc{child: c, grpcAddr: grpcAddr, adminAddr: adminAddr, dataDir: dataDir}, nil
}

// waitHealthy waits until the gRPC health service at addr reports the
// whole server SERVING.
func (h *harness) waitHealthy(ctx context.Context, c *child, addr string) error {
	transport, err := h.transport()
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, transport)
	if err != nil {
		return err
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	return h.waitReady(ctx, c, func(ctx context.Context) error {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health: %s", resp.GetStatus())
		}
		return nil
	})
}

// loadRegistry creates the communities and enterprises, then cfg.Retirees
// retirees with cfg.LoadConcurrency calls in flight, and returns their ids
// and the row of the load rate.
func loadRegistry(ctx context.Context, h *harness, conns []*grpc.ClientConn) ([]string, row, error) {
	communities, enterprises, err := seedReferences(ctx, registryv1.NewRegistryServiceClient(conns[0]), seedCommunities)
	if err != nil {
		return nil, row{}, err
	}
	total := h.cfg.Retirees
	ids, elapsed, err := loadRetirees(ctx, h, conns, total, communities, enterprises)
	if err != nil {
		return nil, row{}, err
	}
	return ids, row{
		What:     fmt.Sprintf("registry: load %s retirees with CreateRetiree, %d in flight", formatCount(int64(total)), h.cfg.LoadConcurrency),
		Value:    formatRate(float64(total)/elapsed.Seconds(), "retirees"),
		Compared: fmt.Sprintf("%.1f s in all", elapsed.Seconds()),
	}, nil
}

// loadRetirees creates the first total retirees of benchRetiree, spread
// over communities and enterprises, with cfg.LoadConcurrency calls in
// flight, and returns their ids and how long it took.
func loadRetirees(ctx context.Context, h *harness, conns []*grpc.ClientConn, total int, communities, enterprises []string) ([]string, time.Duration, error) {
	h.log.Printf("loading %s retirees, %d calls in flight", formatCount(int64(total)), h.cfg.LoadConcurrency)
	ids := make([]string, total)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range h.cfg.LoadConcurrency {
		client := registryv1.NewRegistryServiceClient(conns[w%len(conns)])
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < total && ctx.Err() == nil; n = int(next.Add(1) - 1) {
				r, err := benchRetiree(n, communities, enterprises)
				if err != nil {
					cancel(err)
					return
				}
				resp, err := client.CreateRetiree(ctx, &registryv1.CreateRetireeRequest{Retiree: r})
				if err != nil {
					cancel(fmt.Errorf("create retiree %d: %w", n, err))
					return
				}
				ids[n] = resp.GetRetiree().GetId()
				done.Add(1)
			}
		})
	}
	stopProgress := h.reportProgress(&done, total, start)
	wg.Wait()
	stopProgress()
	if err := context.Cause(ctx); err != nil {
		return nil, 0, err
	}
	elapsed := time.Since(start)
	h.log.Printf("loaded in %v", elapsed.Round(time.Millisecond))
	return ids, elapsed, nil
}

// reportProgress logs the loading progress every progressEvery until the
// returned function is called.
func (h *harness) reportProgress(done *atomic.Int64, total int, start time.Time) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(progressEvery)
		defer ticker.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ticker.C:
				n := done.Load()
				h.log.Printf("  %s/%s (%s)", formatCount(n), formatCount(int64(total)),
					formatRate(float64(n)/time.Since(start).Seconds(), "retirees"))
			}
		}
	})
	return func() { close(quit); wg.Wait() }
}

// seedReferences creates n communities, five to a street, and the
// enterprises the retirees belong to, and returns their ids.
func seedReferences(ctx context.Context, client registryv1.RegistryServiceClient, n int) (communities, enterprises []string, err error) {
	for i := range n {
		c := &registryv1.Community{
			Id:         fmt.Sprintf("210102%03d%03d", 1+i/5, 1+i%5),
			Name:       fmt.Sprintf("测试社区%02d", i+1),
			District:   "和平区",
			Street:     fmt.Sprintf("第%d街道", 1+i/5),
			Kind:       registryv1.CommunityKind_BLOCK,
			Households: 3000,
		}
		if _, err := client.CreateCommunity(ctx, &registryv1.CreateCommunityRequest{Community: c}); err != nil {
			return nil, nil, fmt.Errorf("create community: %w", err)
		}
		communities = append(communities, c.Id)
	}
	for i := range seedEnterprises {
		code, err := creditcode.Build("91", "210100", fmt.Sprintf("MA%06d", i+1))
		if err != nil {
			return nil, nil, err
		}
		e := &registryv1.Enterprise{
			CreditCode: string(code),
			Name:       fmt.Sprintf("测试机械厂%02d", i+1),
			Ownership:  registryv1.Ownership_STATE,
			Status:     registryv1.EnterpriseStatus_BANKRUPT,
		}
		if _, err := client.CreateEnterprise(ctx, &registryv1.CreateEnterpriseRequest{Enterprise: e}); err != nil {
			return nil, nil, fmt.Errorf("create enterprise: %w", err)
		}
		enterprises = append(enterprises, e.CreditCode)
	}
	return communities, enterprises, nil
}

// areaCodes are the ID numbers' area codes, in turn.
var areaCodes = [...]string{"210102", "210103", "210104", "210105"}

// benchRetiree returns the n-th retiree to load: a distinct valid ID number
// (birth date and sequence number from n), fields of realistic size, and
// references spread over the seeded communities and enterprises.
func benchRetiree(n int, communities, enterprises []string) (*registryv1.Retiree, error) {
	birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n%birthDays)
	id, err := idnumber.Build(areaCodes[n%len(areaCodes)], birth, n/birthDays%1000)
	if err != nil {
		return nil, err
	}
	r := &registryv1.Retiree{
		IdNumber:             id.Digits(),
		Name:                 fmt.Sprintf("退休职工%06d", n),
		RetirementDate:       birth.AddDate(60, 0, 0).Format(time.DateOnly),
		EnterpriseCreditCode: enterprises[n%len(enterprises)],
		CommunityId:          communities[n%len(communities)],
		ManagementMode:       registryv1.ManagementMode_COMMUNITY,
		Phone:                fmt.Sprintf("139%08d", n%100_000_000),
		ResidenceAddress:     fmt.Sprintf("和平区北市场街%d号%d单元%d室", 1+n%500, 1+n%6, 101+n%20),
	}
	if n%4 == 0 {
		r.ManagementMode = registryv1.ManagementMode_ENTERPRISE
	}
	if n%3 == 0 {
		// A flag a clerk sets: the age flags are computed from the birth date.
		r.Flags = []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE}
	}
	return r, nil
}

// measureBare starts the reference server answering with the registry's
// own response for ids[0], measures it as the registry is measured, and
// stops it again. It returns the summary and the response's size.
func (h *harness) measureBare(ctx context.Context, conn *grpc.ClientConn, ids []string) (summary, int, error) {
	resp, err := registryv1.NewRegistryServiceClient(conn).GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: ids[0]})
	if err != nil {
		return summary{}, 0, fmt.Errorf("fetch a sample response: %w", err)
	}
	data, err := proto.Marshal(resp)
	if err != nil {
		return summary{}, 0, err
	}
	respPath := filepath.Join(h.dir, "bare-response.pb")
	if err := os.WriteFile(respPath, data, 0o600); err != nil {
		return summary{}, 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return summary{}, 0, err
	}
	addr, err := freeAddr()
	if err != nil {
		return summary{}, 0, err
	}
	c, err := h.start("bare", self, append([]string{bareServerArg, "--addr", addr, "--response", respPath}, h.servesTLS()...)...)
	if err != nil {
		return summary{}, 0, err
	}
	defer h.release(c)
	conns, err := h.dial(addr, h.cfg.Conns)
	if err != nil {
		return summary{}, 0, err
	}
	defer closeAll(conns)
	probe := registryv1.NewRegistryServiceClient(conns[0])
	err = h.waitReady(ctx, c, func(ctx context.Context) error {
		_, err := probe.GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: ids[0]})
		return err
	})
	if err != nil {
		return summary{}, 0, err
	}
	s := runLoad(ctx, h.closedLoop(), getRetireeCallers(conns, ids))
	if err := s.Err(); err != nil {
		return summary{}, 0, fmt.Errorf("bare GetRetiree: %w", err)
	}
	return s, len(data), nil
}

// measureGateway starts the gateway in front of the registry and measures
// GET /v1/retirees/{id}. Without a gateway program it reports that it
// did not run (false): the registry's own figures still stand.
func (h *harness) measureGateway(ctx context.Context, reg *serviceProc, ids []string) (summary, bool, error) {
	bin := filepath.Join(h.cfg.Bin, "gateway")
	if _, err := os.Stat(bin); errors.Is(err, fs.ErrNotExist) {
		h.log.Printf("no %s: skipping the gateway measurement", bin)
		return summary{}, false, nil
	}
	addr, err := freeAddr()
	if err != nil {
		return summary{}, false, err
	}
	c, err := h.start("gateway", bin, append([]string{"--http-addr", addr, "--registry-addr", reg.grpcAddr,
		"--admin-addr", "", "--log-format", "json", "--log-level", "warn"}, h.gatewayTLS()...)...)
	if err != nil {
		return summary{}, false, err
	}
	defer h.release(c)
	transport := &http.Transport{
		MaxIdleConns:        h.cfg.Concurrency,
		MaxIdleConnsPerHost: h.cfg.Concurrency,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	base := "http://" + addr
	err = h.waitReady(ctx, c, func(ctx context.Context) error {
		return getOK(ctx, client, base+"/healthz", "")
	})
	if err != nil {
		return summary{}, false, err
	}
	auth := "Bearer " + h.token
	procs := map[string]int{"registry": reg.child.cmd.Process.Pid, "gateway": c.cmd.Process.Pid}
	s := h.cpuShares("registry GetRetiree through the gateway", procs, func() summary {
		return runLoad(ctx, h.closedLoop(), func(worker int) caller {
			rng := rand.New(rand.NewPCG(uint64(worker), 2)) //nolint:gosec // G115: a worker number, from 0
			return func(ctx context.Context) error {
				return getOK(ctx, client, base+"/v1/retirees/"+ids[rng.IntN(len(ids))], auth)
			}
		})
	})
	if err := s.Err(); err != nil {
		return summary{}, false, fmt.Errorf("gateway GetRetiree: %w", err)
	}
	return s, true, nil
}

// getOK sends a GET, reads the whole body so that the connection is
// reused, and wants 200.
func getOK(ctx context.Context, client *http.Client, url, auth string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	return err
}
