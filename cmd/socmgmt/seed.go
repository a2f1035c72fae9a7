package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// defaultRegistryAddr is where `make run` starts the registry.
	defaultRegistryAddr = "127.0.0.1:9101"
	// defaultReachTimeout bounds the health check made before seeding.
	defaultReachTimeout = 3 * time.Second
	// seedTokenTTL outlives a seed of a large city on a slow machine.
	seedTokenTTL = 4 * time.Hour
	// progressEvery is how many retirees pass between progress lines.
	progressEvery = 2000
	// maxReportedFailures bounds the failure messages printed, so that a
	// systematic failure does not print twenty thousand lines.
	maxReportedFailures = 20
	// maxRetirees and maxConcurrency bound the flags.
	maxRetirees    = 1_000_000
	maxConcurrency = 256
)

// seedConfig is the configuration of `socmgmt seed`.
type seedConfig struct {
	// registryAddr is the registry's gRPC host:port.
	registryAddr string
	// keyFile is the stack's Ed25519 signing key, used to mint the admin
	// token the seed calls with.
	keyFile string
	// retirees is how many retirees to create.
	retirees int
	// seed picks the generated city; equal seeds give equal cities.
	seed uint64
	// concurrency is how many calls are in flight at once.
	concurrency int
	// reachTimeout bounds the health check made before seeding; zero
	// means defaultReachTimeout.
	reachTimeout time.Duration
	// activityAddr is the activity service's gRPC host:port; empty skips
	// venues and activities (see seed_activity.go).
	activityAddr string
	// pensionAddr is the pension service's gRPC host:port; empty skips
	// payments and certifications (see seed_pension.go).
	pensionAddr string
	// caseworkAddr is the casework service's gRPC host:port; empty skips
	// the clerk's day of casework (see seed_casework.go).
	caseworkAddr string
	// handoverAddr is the handover service's gRPC host:port; empty skips
	// the handover packages (see seed_handover.go).
	handoverAddr string
	// tls is how the services are dialled.
	tls tlsFlags
	// devIdentities is the development identities file the seed writes
	// its city's identities into (see devIdentitiesFile); empty means
	// make run's beside keyFile, if there is one.
	devIdentities string
}

// validate checks the configuration before anything is dialled.
func (c seedConfig) validate() error {
	switch {
	case c.registryAddr == "":
		return errors.New("--registry must not be empty")
	case c.keyFile == "":
		return fmt.Errorf("--key must not be empty (or set $%s)", envKey)
	case c.retirees < 0 || c.retirees > maxRetirees:
		return fmt.Errorf("--retirees %d: must be between 0 and %d", c.retirees, maxRetirees)
	case c.concurrency < 1 || c.concurrency > maxConcurrency:
		return fmt.Errorf("--concurrency %d: must be between 1 and %d", c.concurrency, maxConcurrency)
	}
	return nil
}

func newSeedCmd(e env) *cobra.Command { return seedCommand(e, runSeed) }

// seedLong is the help text of `socmgmt seed`.
const seedLong = `Fill a running stack with a demo city (` + cityName + `): its districts, street
offices and about 60 communities, 40 enterprises, and --retirees retirees
with valid ID numbers, of whom about 2 % have died and 1 % moved since
(the seed moves them as admin, at once), a few transfers proposed by the
sending communities' clerks and left for the receiving ones to accept or
decline, and a few entered as proposed on paper 45 days before, which
lapse unanswered as they are entered.

The data depend only on --seed, so running seed again with the same seed
finds everything in place: records that already exist are counted as
"already present", not as failures. The command exits non-zero if any
other create fails.

It calls the registry over gRPC with an admin token it signs itself with
--key, so it needs the stack's signing key, and over mutual TLS with make
run's development CA and client certificate (var/tls) unless --tls-ca,
--tls-cert and --tls-key name others, or --plaintext turns TLS off. Then, unless --activity is
empty, it gives a dozen communities venues and a season of weekly
activities in the activity service, registers their retirees and records
attendance of the sessions already held. And unless --pension is empty or
does not answer, it loads a pension year as a bureau lives it: twelve
months of payments, certifications (most by the bureau's data matching,
the clerks' recorded one by one), the bureau's suspensions and
restorations with back-pay as ARREARS, the July adjustment paid back to
January, and a few anomalies planted for the anomaly report: deceased
retirees still paid, living ones missing a month, sharp drops, months paid
twice or while suspended. Last, unless --handover is empty or does not answer, it leaves a
handover package in every state of the workflow, each from an enterprise
that still manages its retirees, the completed one delivered to registry
and activity, and two agreements with a street office (or a district)
allocated to its communities: one completed with every track settled by
its own receiver (bureau, archivist, street office; two party members'
transfers confirmed) and its files shelved in the archivist's custody, one
lent out and one read and returned; one with its tracks open, a party
transfer under way and a part not yet allocated. Then an enterprise's
monthly new-retiree handovers, created in one batch: one completed, its
first contact card issued, the other submitted. Then, unless --casework is
empty or does not answer, a clerk's day in six communities: this month's
visit items for the city, visits recorded (one finding a need), a crisis
waiting for its 24-hour visit, complaints open, resolved and called back,
items of the clerks' own (one waiting on a family), message preferences.
The summary ends with a street and a district supervisor's
token over the first community's area, valid for a working day. For
development, the identities of the city (keys clerk-a, clerk-b, street,
district, bureau, admin, enterprise) go into --dev-identities, or into
make run's dev-identities.json beside --key, which the gateway offers
the web console's sign-in.

The four services are taken to be one stack, laid out as "make run" lays
it out (registry :9101, handover :9102, pension :9103, activity :9104,
casework :9105):
--stack HOST seeds the stack on HOST, and --registry HOST:PORT alone puts
the others on HOST at the same offsets from PORT, so that moving only
--registry never writes the rest of the city into whatever listens on the
default ports. A service's own flag overrides its derived address.`

// seedCommand is `socmgmt seed` calling run with the configuration its
// flags give; tests pass a run of their own.
func seedCommand(e env, run func(context.Context, seedConfig, io.Writer, io.Writer) error) *cobra.Command {
	cfg := seedConfig{}
	var stack string
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Fill a running stack with a realistic demo city",
		Long:  seedLong,
		Example: `  socmgmt seed
  socmgmt seed --retirees 200000 --concurrency 32
  socmgmt seed --stack 10.0.0.5 --key stack.key
  socmgmt seed --registry 127.0.0.1:19101 --key var/dev-signing.key --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.applyStack(stack, cmd.Flags().Changed); err != nil {
				return err
			}
			return run(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	seedFlags(cmd, e, &cfg, &stack)
	return cmd
}

// seedFlags defines the flags of `socmgmt seed` into cfg and stack.
func seedFlags(cmd *cobra.Command, e env, cfg *seedConfig, stack *string) {
	f := cmd.Flags()
	f.StringVar(stack, "stack", "", "`host` of a stack laid out as make run lays it out: every service at its make run port there")
	f.StringVar(&cfg.registryAddr, "registry", defaultRegistryAddr, "registry gRPC `host:port`; alone, it moves the other services to the same host at make run's offsets from its port")
	f.StringVar(&cfg.keyFile, "key", keyFileDefault(e, defaultKeyFile), "PEM `file` of the stack's Ed25519 signing key ($"+envKey+" overrides the default)")
	f.IntVar(&cfg.retirees, "retirees", 20000, "number of retirees to create")
	f.Uint64Var(&cfg.seed, "seed", 1, "random seed; the same seed gives the same city")
	f.IntVar(&cfg.concurrency, "concurrency", 16, "calls in flight at once")
	f.StringVar(&cfg.activityAddr, "activity", defaultActivityAddr, "activity gRPC `host:port` for venues, a season of activities and registrations (empty or unreachable: skip them)")
	f.StringVar(&cfg.caseworkAddr, "casework", defaultCaseworkAddr, "casework gRPC `host:port` for a clerk's day: visit items, visits, a crisis, complaints, own items (empty or unreachable: skip them)")
	f.StringVar(&cfg.handoverAddr, "handover", defaultHandoverAddr, "handover gRPC `host:port` for a package in every state of the workflow (empty or unreachable: skip them)")
	f.StringVar(&cfg.pensionAddr, "pension", defaultPensionAddr, "pension gRPC `host:port` for a year of payments and certifications, with a few planted anomalies (empty or unreachable: skip them)")
	f.StringVar(&cfg.devIdentities, "dev-identities", "", "development only: `file` to write the city's identities (clerks, supervisors, bureau, admin, an enterprise) into for the web console's sign-in (default: make run's dev-identities.json beside --key, when it exists)")
	cfg.tls.register(cmd, e)
}

// runSeed seeds the registry at cfg.registryAddr. Progress goes to
// progress, the summary to out.
func runSeed(ctx context.Context, cfg seedConfig, out, progress io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	priv, token, err := signedToken(cfg.keyFile, authn.Principal{Subject: "socmgmt-seed", Role: authn.RoleAdmin}, seedTokenTTL)
	if err != nil {
		return err
	}
	conn, err := dialRequired(ctx, "registry", cfg.registryAddr, cfg.tls, authn.BearerCredentials(token), cfg.reachTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()

	plan, err := generateCity(cfg.seed, cfg.retirees)
	if err != nil {
		return err
	}
	redateRecentDeaths(plan, time.Now())
	start := time.Now()
	s := newSeeder(registryv1.NewRegistryServiceClient(conn), cfg.concurrency, progress)
	sum, err := s.seed(ctx, plan)
	sum.write(out, cfg, time.Since(start))
	if err != nil {
		return err
	}
	for _, step := range []struct {
		skip bool
		run  func() error
	}{
		{false, func() error { return seedPendingTransfers(ctx, cfg, priv, s, plan, out) }},
		{false, func() error { return seedDeathReports(ctx, cfg, priv, s, plan, out) }},
		{cfg.activityAddr == "", func() error { return seedActivities(ctx, cfg, token, s.client, plan, out, progress) }},
		{false, func() error { return seedPension(ctx, cfg, plan, priv, out, progress) }},
		{false, func() error { return seedDeathCases(ctx, cfg, priv, s.client, plan, out, progress) }},
		{cfg.handoverAddr == "", func() error { return seedHandovers(ctx, cfg, priv, s.client, plan, out, progress) }},
		{cfg.caseworkAddr == "", func() error { return seedCasework(ctx, cfg, priv, s.client, plan, out, progress) }},
		{false, func() error { return writeSupervisorTokens(out, priv, plan, time.Now()) }},
		{false, func() error { return writeSeedIdentities(out, cfg, priv, plan, time.Now()) }},
	} {
		if step.skip {
			continue
		}
		if err := step.run(); err != nil {
			return err
		}
	}
	return nil
}

// tally counts the outcomes of one kind of operation.
type tally struct {
	created atomic.Int64
	present atomic.Int64
	failed  atomic.Int64
}

// seedSummary is what a seed did, by kind.
type seedSummary struct {
	communities tally
	enterprises tally
	retirees    tally
	deaths      tally
	transfers   tally
	statuses    tally
	movesOut    tally
}

// rows lists the tallies of every kind, in the order they are printed.
func (s *seedSummary) rows() tallyRows {
	return tallyRows{
		{"communities", &s.communities},
		{"enterprises", &s.enterprises},
		{"retirees", &s.retirees},
		{"deaths", &s.deaths},
		{"transfers", &s.transfers},
		{"status changes", &s.statuses},
		{"moves out", &s.movesOut},
	}
}

// write prints the summary as a table.
func (s *seedSummary) write(w io.Writer, cfg seedConfig, elapsed time.Duration) {
	fmt.Fprintf(w, "Seeded %s (seed %d) into the registry at %s in %v:\n", cityName, cfg.seed, cfg.registryAddr, elapsed.Round(100*time.Millisecond))
	s.rows().write(w, 12)
}

// tallyRow is one line of a summary table.
type tallyRow struct {
	name string
	t    *tally
}

// tallyRows are the tallies of one part of a seed, by kind.
type tallyRows []tallyRow

// failed returns the number of failed operations of every kind.
func (rows tallyRows) failed() int64 {
	var n int64
	for _, r := range rows {
		n += r.t.failed.Load()
	}
	return n
}

// write prints rows as a table under a header, the names in a column
// width wide.
func (rows tallyRows) write(w io.Writer, width int) {
	const row = "  %-*s %8v %16v %7v\n"
	fmt.Fprintf(w, row, width, "", "created", "already present", "failed")
	for _, r := range rows {
		fmt.Fprintf(w, row, width, r.name, r.t.created.Load(), r.t.present.Load(), r.t.failed.Load())
	}
}

// outcome is the error of a seed step run under ctx, derived from parent:
// the interruption, the cause of an abort, or how many of its operations
// (what) failed.
func outcome(parent, ctx context.Context, failed int64, what string) error {
	if parent.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(parent))
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d %s failed (the first are shown above)", failed, what)
	}
	return nil
}

// seeder loads a cityPlan into the registry.
type seeder struct {
	client      registryv1.RegistryServiceClient
	concurrency int
	// retryBase is the first wait before retrying an Unavailable or
	// ResourceExhausted call; it doubles on each of maxAttempts.
	retryBase   time.Duration
	maxAttempts int
	// aborted is the cause an abort wraps; target names, in its message,
	// who rejected the token or went away.
	aborted error
	target  string

	mu       sync.Mutex // guards progress and reported
	progress io.Writer
	reported int
}

func newSeeder(client registryv1.RegistryServiceClient, concurrency int, progress io.Writer) *seeder {
	return &seeder{
		client:      client,
		concurrency: concurrency,
		retryBase:   100 * time.Millisecond,
		maxAttempts: 5,
		aborted:     errAborted,
		target:      "the registry",
		progress:    progress,
	}
}

// errAborted is the cause given to the seed's context when a failure
// means that carrying on would only fail again.
var errAborted = errors.New("seed aborted")

// seed creates everything in plan, in dependency order: communities and
// enterprises, then retirees, then the deaths and transfers. It returns
// an error if anything failed or the seed was cancelled; the summary is
// valid either way.
func (s *seeder) seed(parent context.Context, plan *cityPlan) (*seedSummary, error) {
	ctx, abort := context.WithCancelCause(parent)
	defer abort(nil)
	sum := &seedSummary{}

	s.logf("creating %d communities and %d enterprises", len(plan.Communities), len(plan.Enterprises))
	createEach(ctx, s, abort, &sum.communities, plan.Communities,
		func(c *registryv1.Community) string { return "create community " + c.GetId() },
		func(ctx context.Context, c *registryv1.Community) error {
			_, err := s.client.CreateCommunity(ctx, &registryv1.CreateCommunityRequest{Community: c})
			return err
		})
	createEach(ctx, s, abort, &sum.enterprises, plan.Enterprises,
		func(e *registryv1.Enterprise) string { return "create enterprise " + e.GetCreditCode() },
		func(ctx context.Context, e *registryv1.Enterprise) error {
			_, err := s.client.CreateEnterprise(ctx, &registryv1.CreateEnterpriseRequest{Enterprise: e})
			return err
		})

	s.logf("creating %d retirees", len(plan.Retirees))
	ids := s.createRetirees(ctx, abort, &sum.retirees, plan.Retirees)

	// The first deaths are filed as reports by the clerks (seed_deaths.go).
	deaths := plan.Deaths[reportedDeaths(plan):]
	s.logf("recording %d deaths and %d transfers", len(deaths), len(plan.Transfers))
	s.forEach(ctx, len(deaths), func(ctx context.Context, i int) {
		d := deaths[i]
		s.followUp(ctx, abort, &sum.deaths, plan.Retirees[d.Index], ids[d.Index], fmt.Sprintf("record death of retiree #%d", d.Index),
			func(r *registryv1.Retiree) bool { return r.GetStatus() == registryv1.RetireeStatus_DECEASED },
			func(ctx context.Context, id string) error {
				_, err := s.client.RecordDeath(ctx, &registryv1.RecordDeathRequest{Id: id, DateOfDeath: d.Date})
				return err
			})
	})
	s.forEach(ctx, len(plan.Transfers), func(ctx context.Context, i int) {
		t := plan.Transfers[i]
		s.followUp(ctx, abort, &sum.transfers, plan.Retirees[t.Index], ids[t.Index], fmt.Sprintf("transfer retiree #%d", t.Index),
			func(r *registryv1.Retiree) bool {
				return r.GetCommunityId() == t.ToCommunity || r.GetStatus() != registryv1.RetireeStatus_LIVING
			},
			// The seed acts as admin, whose transfer moves the retiree at
			// once; a clerk's would only propose it.
			func(ctx context.Context, id string) error {
				_, err := s.client.TransferRetiree(ctx, &registryv1.TransferRetireeRequest{
					Id: id, ToCommunityId: t.ToCommunity, Reason: t.Reason,
				})
				return err
			})
	})
	s.seedRoster(ctx, abort, plan, ids, sum)

	return sum, outcome(parent, ctx, sum.rows().failed(), "operations")
}

// createEach runs create, with retries, for each of items on s's workers
// and counts the outcomes in t; what names an item's creation in messages.
func createEach[T any](ctx context.Context, s *seeder, abort context.CancelCauseFunc, t *tally, items []T,
	what func(T) string, create func(context.Context, T) error) {
	s.forEach(ctx, len(items), func(ctx context.Context, i int) {
		item := items[i]
		err := s.call(ctx, func(ctx context.Context) error { return create(ctx, item) })
		s.count(ctx, abort, t, err, what(item))
	})
}

// createRetirees creates retirees, printing progress every progressEvery,
// and returns the id of each one this run created ("" for those that
// already existed or failed).
func (s *seeder) createRetirees(ctx context.Context, abort context.CancelCauseFunc, t *tally, retirees []*registryv1.Retiree) []string {
	// Each worker writes only its own index of ids.
	ids := make([]string, len(retirees))
	var done atomic.Int64
	start := time.Now()
	s.forEach(ctx, len(retirees), func(ctx context.Context, i int) {
		var resp *registryv1.CreateRetireeResponse
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = s.client.CreateRetiree(ctx, &registryv1.CreateRetireeRequest{Retiree: retirees[i]})
			return err
		})
		if err == nil {
			ids[i] = resp.GetRetiree().GetId()
		}
		// The index, never the ID number, names the retiree in messages.
		s.count(ctx, abort, t, err, fmt.Sprintf("create retiree #%d", i))
		if n := done.Add(1); n%progressEvery == 0 {
			s.logf("retirees %d/%d: %d created, %d already present, %d failed (%v)",
				n, len(retirees), t.created.Load(), t.present.Load(),
				t.failed.Load(), time.Since(start).Round(100*time.Millisecond))
		}
	})
	return ids
}

// followUp makes change (what) to retiree r, whose id is created when this
// run created it, unless applied says an earlier run made it already; the
// outcome is counted in t.
func (s *seeder) followUp(ctx context.Context, abort context.CancelCauseFunc, t *tally, r *registryv1.Retiree, created, what string,
	applied func(*registryv1.Retiree) bool, change func(ctx context.Context, id string) error) {
	id, done, err := s.resolve(ctx, r, created, applied)
	if err == nil && done {
		t.present.Add(1)
		return
	}
	if err == nil {
		err = s.call(ctx, func(ctx context.Context) error { return change(ctx, id) })
	}
	s.count(ctx, abort, t, err, what)
}

// resolve returns the id of retiree r for a follow-up change. A retiree
// this run created has its id already (created != ""); one that already
// existed is looked up by ID number, and done reports whether the change
// is already in place according to applied.
func (s *seeder) resolve(ctx context.Context, r *registryv1.Retiree, created string, applied func(*registryv1.Retiree) bool) (id string, done bool, err error) {
	if created != "" {
		return created, false, nil
	}
	var resp *registryv1.LookupRetireeResponse
	err = s.call(ctx, func(ctx context.Context) error {
		var err error
		resp, err = s.client.LookupRetiree(ctx, &registryv1.LookupRetireeRequest{IdNumber: r.GetIdNumber()})
		return err
	})
	if err != nil {
		return "", false, err
	}
	return resp.GetRetiree().GetId(), applied(resp.GetRetiree()), nil
}

// forEach calls fn for 0..n-1 on s.concurrency workers and returns when
// all calls have returned. It stops handing out work once ctx is done.
func (s *seeder) forEach(ctx context.Context, n int, fn func(ctx context.Context, i int)) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(s.concurrency, n) {
		wg.Go(func() {
			for i := range work {
				fn(ctx, i)
			}
		})
	}
feed:
	for i := range n {
		// Checked first: select picks at random among ready cases, and an
		// idle worker is always ready.
		if ctx.Err() != nil {
			break
		}
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
}

// call runs f, retrying with exponential backoff while the registry is
// briefly unavailable or rate-limiting. A create retried after its first
// attempt committed comes back AlreadyExists, which counts as present.
// A refusal that says when to retry (a RetryInfo: the seed's token is
// over its budget) never reaches it: the connections' pacedUnary waits
// it out, and the seed goes at the pace the service allows.
func (s *seeder) call(ctx context.Context, f func(context.Context) error) error {
	wait := s.retryBase
	for attempt := 1; ; attempt++ {
		err := f(ctx)
		switch status.Code(err) {
		case codes.Unavailable, codes.ResourceExhausted:
			if attempt >= s.maxAttempts {
				return err
			}
		default:
			return err
		}
		select {
		case <-time.After(wait):
			wait *= 2
		case <-ctx.Done():
			return err
		}
	}
}

// count records the outcome err of the operation what in t, printing the
// first failures. Errors that every further call would repeat (a rejected
// token, a vanished service) abort the whole seed.
func (s *seeder) count(ctx context.Context, abort context.CancelCauseFunc, t *tally, err error, what string) {
	code := status.Code(err)
	switch {
	case err == nil:
		t.created.Add(1)
		return
	case code == codes.AlreadyExists:
		t.present.Add(1)
		return
	case ctx.Err() != nil:
		// Cancelled (Ctrl-C or an abort elsewhere): not this call's fault.
		return
	}
	t.failed.Add(1)
	switch code {
	case codes.Unauthenticated, codes.PermissionDenied:
		abort(fmt.Errorf("%w: %s rejected the token (%s): is --key the signing key the stack was started with?", s.aborted, s.target, code))
		return
	case codes.Unavailable:
		abort(fmt.Errorf("%w: %s became unreachable: %s", s.aborted, s.target, status.Convert(err).Message()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reported++
	switch {
	case s.reported <= maxReportedFailures:
		st := status.Convert(err)
		fmt.Fprintf(s.progress, "seed: %s: %s: %s\n", what, st.Code(), st.Message())
	case s.reported == maxReportedFailures+1:
		fmt.Fprintln(s.progress, "seed: further failures are counted but not shown")
	}
}

// logf prints a progress line.
func (s *seeder) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.progress, "seed: "+format+"\n", args...)
}
