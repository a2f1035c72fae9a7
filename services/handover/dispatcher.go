package handover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/tracing"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Defaults of DispatcherOptions.
const (
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultCallTimeout = 30 * time.Second
)

// maxLastError bounds the error a handover's delivery shows.
const maxLastError = 300

// errActivityNotConfigured keeps venue commands waiting, visibly, when the
// service runs without --activity-addr.
var errActivityNotConfigured = errors.New("activity service not configured (--activity-addr)")

// DispatcherOptions configures a Dispatcher.
type DispatcherOptions struct {
	// Registry receives AssignRetirees; it must present a service token.
	Registry registryv1.RegistryServiceClient
	// Activity receives CreateVenue; nil leaves venue commands waiting.
	Activity activityv1.ActivityServiceClient
	Logger   *zap.Logger
	// MinBackoff and MaxBackoff bound the wait before retrying a failed
	// command, doubling from the one to the other; DefaultMinBackoff and
	// DefaultMaxBackoff when zero.
	MinBackoff, MaxBackoff time.Duration
	// CallTimeout bounds one delivery call; DefaultCallTimeout when zero.
	CallTimeout time.Duration
	// TracerProvider, when set, traces each delivery of a command that
	// stored a trace, as a child of the call that queued it; Registry and
	// Activity then carry the trace on (tracing.DialOptions). Nil traces
	// nothing.
	TracerProvider trace.TracerProvider
}

// Dispatcher delivers the outbox: one loop per lane takes the oldest
// command, calls the target with the command's idempotency key, and
// records the acknowledgement (or the failure) in the store. A failing
// command is retried with exponential backoff and holds up the commands
// behind it in its lane, so that each target sees the commands in the
// order they were queued. The dispatcher keeps no state of its own: after
// a restart it simply reads the outbox again, and a command whose
// acknowledgement was lost is sent again under the same key, which the
// target answers without acting twice.
type Dispatcher struct {
	store       *Store
	registry    registryv1.RegistryServiceClient
	activity    activityv1.ActivityServiceClient
	log         *zap.Logger
	minBackoff  time.Duration
	maxBackoff  time.Duration
	callTimeout time.Duration
	// tracer is nil when deliveries are not traced.
	tracer trace.Tracer

	delivered *prometheus.CounterVec
	failed    *prometheus.CounterVec
}

// NewDispatcher returns a Dispatcher of store's outbox.
func NewDispatcher(store *Store, o DispatcherOptions) *Dispatcher {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.MinBackoff)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	var tracer trace.Tracer
	if o.TracerProvider != nil {
		tracer = o.TracerProvider.Tracer("github.com/socmgmt/socmgmt/services/handover")
	}
	return &Dispatcher{
		store: store, registry: o.Registry, activity: o.Activity, log: o.Logger, tracer: tracer,
		minBackoff: o.MinBackoff, maxBackoff: o.MaxBackoff, callTimeout: o.CallTimeout,
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socmgmt_handover_outbox_delivered_total",
			Help: "Outbox commands acknowledged by their target, by target service.",
		}, []string{"target"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socmgmt_handover_outbox_failures_total",
			Help: "Failed outbox delivery attempts, by target service.",
		}, []string{"target"}),
	}
}

// Run delivers until ctx is done, then returns nil once the lanes have
// stopped. A call in flight is cancelled; its command stays in the outbox.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range []Lane{LaneRegistry, LaneActivity} {
		wg.Go(func() { d.runLane(ctx, l) })
	}
	wg.Wait()
	return nil
}

// runLane delivers the commands of one lane in order.
func (d *Dispatcher) runLane(ctx context.Context, l Lane) {
	log := d.log.With(zap.Stringer("lane", l))
	backoff := d.minBackoff
	for ctx.Err() == nil {
		// Taken before reading, so that a command queued in between wakes us.
		wake := d.store.outboxChanged()
		c, err := d.store.nextCommand(l)
		if err != nil {
			log.Error("reading the outbox", zap.Error(err))
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, d.maxBackoff)
			continue
		}
		if c == nil {
			select {
			case <-wake:
			case <-ctx.Done():
			}
			continue
		}
		err = d.deliver(ctx, c)
		if ctx.Err() != nil {
			return
		}
		if err == nil || errors.Is(err, errRetryNow) {
			backoff = d.minBackoff
			continue
		}
		d.failed.WithLabelValues(l.String()).Inc()
		msg := lastError(l, err)
		log.Warn("delivery failed", zap.String("handover_id", c.handoverID), zap.Uint64("seq", c.seq),
			zap.Duration("retry_in", backoff), zap.String("error", msg))
		if err := d.store.deliveryFailed(c, msg); err != nil {
			log.Error("recording a failed delivery", zap.Error(err))
		}
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, d.maxBackoff)
	}
}

// errRetryNow says the command was changed and should go again at once.
var errRetryNow = errors.New("command changed; retry")

// deliver makes one attempt at c. It returns nil once the acknowledgement
// is recorded. When c stored a trace, the attempt is a span of that trace.
func (d *Dispatcher) deliver(ctx context.Context, c *command) (err error) {
	if d.tracer != nil && c.trace != "" {
		var span trace.Span
		ctx, span = d.tracer.Start(tracing.ContextWithTraceparent(ctx, c.trace), "outbox deliver "+c.kind.String(),
			trace.WithAttributes(attribute.String("socmgmt.outbox.lane", c.kind.lane().String()), attribute.Int64("socmgmt.outbox.seq", int64(c.seq)))) //nolint:gosec // G115: sequences count commands, far below 2^63
		defer func() {
			if err != nil {
				span.SetStatus(otelcodes.Error, status.Code(err).String())
			}
			span.End()
		}()
	}
	switch c.kind {
	case kindAssignRetirees:
		return d.assign(ctx, c)
	case kindCreateVenue:
		return d.createVenue(ctx, c)
	}
	return fmt.Errorf("outbox command %d: unknown kind %d", c.seq, c.kind)
}

func (d *Dispatcher) assign(ctx context.Context, c *command) error {
	req, resp, err := call(ctx, d, c, d.registry.AssignRetirees)
	if err != nil {
		if gone := refusedRetirees(err, req.GetRetireeIds()); len(gone) > 0 {
			return d.dropRetirees(c, req, gone)
		}
		return err
	}
	d.delivered.WithLabelValues(LaneRegistry.String()).Inc()
	detail := fmt.Sprintf("registry: part %s, %d retirees COMMUNITY-managed in community %s (%d changed)",
		c.part, len(req.RetireeIds), req.CommunityId, resp.GetAssigned())
	return d.store.delivered(c, "", detail)
}

// call makes one delivery attempt of c: it decodes c's payload as the
// request of rpc and calls rpc under the dispatcher's call timeout. The
// request is nil when the payload does not decode.
func call[Req any, PReq interface {
	*Req
	proto.Message
}, Resp any](ctx context.Context, d *Dispatcher, c *command, rpc func(context.Context, PReq, ...grpc.CallOption) (Resp, error)) (PReq, Resp, error) {
	req := PReq(new(Req))
	if err := proto.Unmarshal(c.payload, req); err != nil {
		var none Resp
		return nil, none, fmt.Errorf("outbox command %d: %w", c.seq, err)
	}
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout)
	defer cancel()
	resp, err := rpc(cctx, req)
	return req, resp, err
}

// finalRefusals are the reasons for which registry refuses a retiree for
// good: sending the retiree again cannot succeed.
var finalRefusals = map[registryv1.AssignRefusal]bool{
	registryv1.AssignRefusal_RETIREE_NOT_FOUND:  true,
	registryv1.AssignRefusal_RETIREE_NOT_LIVING: true,
}

// refusedRetirees returns the indexes in ids of the retirees registry
// refused for good — not registered, or no longer living — read from the
// AssignRetireesRefusal detail of err alone: the code, the message and a
// BadRequest play no part. It returns none, so that the command is
// retried like any failure, when there is no such detail, or when it
// names a retiree not in ids or a reason not known to be final.
func refusedRetirees(err error, ids []string) []int {
	var refusal *registryv1.AssignRetireesRefusal
	for _, det := range status.Convert(err).Details() {
		if r, ok := det.(*registryv1.AssignRetireesRefusal); ok {
			refusal = r
		}
	}
	var out []int
	for _, r := range refusal.GetRefused() {
		i := int(r.GetIndex())
		if i < 0 || i >= len(ids) || r.GetRetireeId() != "" && r.GetRetireeId() != ids[i] || !finalRefusals[r.GetReason()] {
			return nil
		}
		out = append(out, i)
	}
	return out
}

// dropRetirees takes the retirees registry refused for good out of the
// command — one who died after completion is not the community's to
// manage — so that the others can go. The timeline says who was dropped.
func (d *Dispatcher) dropRetirees(c *command, req *registryv1.AssignRetireesRequest, gone []int) error {
	drop := make(map[int]bool, len(gone))
	for _, i := range gone {
		drop[i] = true
	}
	names := make([]string, 0, len(gone))
	keep := make([]string, 0, len(req.RetireeIds))
	for i, id := range req.RetireeIds {
		if drop[i] {
			names = append(names, id)
		} else {
			keep = append(keep, id)
		}
	}
	detail := fmt.Sprintf("registry refused %d retirees (not registered or no longer living), left out of the assignment: %s",
		len(names), strings.Join(names, ", "))
	if len(keep) == 0 {
		d.delivered.WithLabelValues(LaneRegistry.String()).Inc()
		return d.store.delivered(c, "", detail+"; nothing left to assign")
	}
	next := proto.Clone(req).(*registryv1.AssignRetireesRequest)
	next.RetireeIds = keep
	payload, err := proto.Marshal(next)
	if err != nil {
		return err
	}
	if err := d.store.replacePayload(c, payload, detail); err != nil {
		return err
	}
	return errRetryNow
}

func (d *Dispatcher) createVenue(ctx context.Context, c *command) error {
	if d.activity == nil {
		return errActivityNotConfigured
	}
	req, resp, err := call(ctx, d, c, d.activity.CreateVenue)
	if code := status.Code(err); code == codes.InvalidArgument || code == codes.FailedPrecondition {
		// Activity refuses these premises as a venue for good (they break
		// its rules). Retrying cannot help and would block every venue
		// behind them: the refusal goes on the timeline and the lane moves
		// on; the premises stay without a venue.
		d.failed.WithLabelValues(LaneActivity.String()).Inc()
		detail := fmt.Sprintf("activity refused premises %s as a venue (%s); no venue created", c.part, lastError(LaneActivity, err))
		return d.store.delivered(c, "", detail)
	}
	if err != nil {
		return err
	}
	venue := resp.GetVenue().GetId()
	if venue == "" {
		return errors.New("activity answered CreateVenue without a venue id")
	}
	d.delivered.WithLabelValues(LaneActivity.String()).Inc()
	detail := fmt.Sprintf("activity: premises %s became venue %s in community %s", c.part, venue, req.GetVenue().GetCommunityId())
	return d.store.delivered(c, venue, detail)
}

// lastError is what a handover's delivery shows of err: the target, the
// code and the message, bounded.
func lastError(l Lane, err error) string {
	msg := err.Error()
	if st, ok := status.FromError(err); ok {
		msg = st.Code().String() + ": " + st.Message()
	}
	msg = l.String() + ": " + msg
	if len(msg) > maxLastError {
		cut := maxLastError
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return msg
}

// sleep waits for d or until ctx is done; it reports whether ctx is
// still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
