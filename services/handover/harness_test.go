package handover

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/tracing"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// activityNode is the fake activity service on a loopback port; its
// venues survive restarts, as a real one's file would.
type activityNode struct {
	*servicetest.Server
	fake *fakeActivity
}

func startActivity(t testing.TB, k servicetest.Keys) *activityNode {
	t.Helper()
	a := &activityNode{fake: newFakeActivity()}
	a.Server = servicetest.Serve(t, servicetest.Options{
		Name: "activity", Keys: k, TCP: true,
		Logger:   zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Register: func(srv *grpcserver.Server) { activityv1.RegisterActivityServiceServer(srv.GRPC(), a.fake) },
	})
	return a
}

// asHandover returns the options of a connection that presents the
// handover service's own credentials, with extra interceptors.
func asHandover(k servicetest.Keys, interceptors ...grpc.UnaryClientInterceptor) []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithPerRPCCredentials(k.ServiceCredentials("handover")),
		grpc.WithChainUnaryInterceptor(interceptors...),
	}
}

// worldOptions tunes newWorld; the zero value runs no dispatcher.
type worldOptions struct {
	// dispatch runs a dispatcher beside the server.
	dispatch bool
	// noActivity leaves the dispatcher without an activity client.
	noActivity bool
	// registryInterceptors wrap the dispatcher's calls to registry;
	// activityInterceptors its calls to activity.
	registryInterceptors []grpc.UnaryClientInterceptor
	activityInterceptors []grpc.UnaryClientInterceptor
	// submitInterceptors wrap the server's calls to registry (the
	// submit checks).
	submitInterceptors []grpc.UnaryClientInterceptor
	// now is the handover's clock; time.Now when nil.
	now func() time.Time
	// follow runs the retiree projection, following the registry's
	// change feed as the handover service.
	follow bool
	// tcp serves the handover service on a loopback port (world.addr),
	// for a gateway in front of it.
	tcp bool
	// tracers, when set, trace registry, the handover service and the
	// dispatcher, as the programs do with tracing on.
	tracers *tracers
}

// tracers are the tracer providers of a traced world, one per service.
type tracers struct {
	registry, handover trace.TracerProvider
}

// world is a handover service with a real registry and a fake activity
// service behind it, and clients of all three.
type world struct {
	t        testing.TB
	keys     servicetest.Keys
	dir      string
	reg      *registrytest.Registry
	act      *activityNode
	store    *Store
	client   pb.HandoverServiceClient
	registry registryv1.RegistryServiceClient
	activity activityv1.ActivityServiceClient
	// serial numbers the ID numbers of created retirees.
	serial atomic.Int64
	// dispatcher is the last one startDispatcher started.
	dispatcher *Dispatcher
	// addr is the handover service's loopback address when it serves
	// TCP (worldOptions.tcp).
	addr string
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	w := newBackends(t, servicetest.NewKeys(t), o.tracers)
	sopts := StoreOptions{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: o.now, TracerProvider: o.tracers.handoverTP()}
	if o.follow {
		sopts.Registry = registryv1.NewRegistryServiceClient(w.reg.Dial(asHandover(w.keys)...))
	}
	store, err := OpenStore(filepath.Join(w.dir, "handover.db"), sopts)
	if err != nil {
		t.Fatal(err)
	}
	w.store = store
	// Registered before Serve's cleanup, so that it runs after: the server
	// stops before the store closes, and the registry and activity nodes
	// (started earlier) after both; a dispatcher started later stops first.
	t.Cleanup(func() { _ = store.Close() })
	if o.follow {
		w.follow()
	}
	registryConn := w.reg.Dial(asHandover(w.keys, o.submitInterceptors...)...)
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "handover", Keys: w.keys, TCP: o.tcp, TracerProvider: o.tracers.handoverTP(),
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Register: func(srv *grpcserver.Server) {
			pb.RegisterHandoverServiceServer(srv.GRPC(), NewServer(store, ServerOptions{
				Registry:      registryv1.NewRegistryServiceClient(registryConn),
				SubmitTimeout: 5 * time.Second,
				Now:           o.now,
			}))
		},
	})
	w.client = pb.NewHandoverServiceClient(srv.Conn())
	if o.tcp {
		w.addr = srv.Addr()
	}
	if o.dispatch {
		w.startDispatcher(o)
	}
	return w
}

// newBackends starts what a handover service works with, a registry
// with the fixture communities and enterprises and a fake activity
// service, verifying tokens with k; the world has no handover service
// yet. tr, when not nil, traces registry.
func newBackends(t testing.TB, k servicetest.Keys, tr *tracers) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, keys: k, dir: dir}
	var registryTP trace.TracerProvider
	if tr != nil {
		registryTP = tr.registry
	}
	w.reg = registrytest.Start(t, registrytest.Options{Keys: k, TracerProvider: registryTP})
	w.act = startActivity(t, k)
	w.registry = registryv1.NewRegistryServiceClient(w.reg.Conn())
	w.activity = activityv1.NewActivityServiceClient(w.act.Conn())
	return w
}

// follow runs the store's retiree projection until the test ends.
func (w *world) follow() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.store.Projection().Run(ctx)
	}()
	w.t.Cleanup(func() { cancel(); <-done })
}

// startDispatcher runs a dispatcher of the world's store, with short
// backoffs, until the test ends or the returned function is called.
func (w *world) startDispatcher(o worldOptions) (stop func()) {
	w.t.Helper()
	tp := o.tracers.handoverTP()
	registryOpts := append(asHandover(w.keys, o.registryInterceptors...), tracing.DialOptions(tp)...)
	dopts := DispatcherOptions{
		Registry:       registryv1.NewRegistryServiceClient(w.reg.Dial(registryOpts...)),
		Logger:         zaptest.NewLogger(w.t, zaptest.Level(zap.ErrorLevel)),
		MinBackoff:     10 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
		CallTimeout:    2 * time.Second,
		TracerProvider: tp,
	}
	if !o.noActivity {
		dopts.Activity = activityv1.NewActivityServiceClient(w.act.Dial(asHandover(w.keys, o.activityInterceptors...)...))
	}
	d := NewDispatcher(w.store, dopts)
	w.dispatcher = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	w.t.Cleanup(stop)
	return stop
}

// handoverTP is the handover service's tracer provider; nil when the
// world is not traced.
func (tr *tracers) handoverTP() trace.TracerProvider {
	if tr == nil {
		return nil
	}
	return tr.handover
}

// as returns a context whose calls carry a token for p.
func (w *world) as(p authn.Principal) context.Context { return w.keys.As(w.t, p) }

// retirees creates n living retirees of enterprise in community B (where
// they live before the handover moves them), managed as mode, and
// returns their ids.
func (w *world) retirees(n int, enterprise string, mode registryv1.ManagementMode) []string {
	w.t.Helper()
	ctx := w.as(adminP)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		serial := int(w.serial.Add(1))
		id := servicetest.IDNumber(serial)
		r := &registryv1.Retiree{
			IdNumber: id.Digits(), Name: fmt.Sprintf("退休人员%d", serial), CommunityId: communityB,
			EnterpriseCreditCode: enterprise, ManagementMode: mode, RetirementDate: "2012-03-01",
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			resp, err := w.registry.CreateRetiree(ctx, &registryv1.CreateRetireeRequest{Retiree: r})
			if err != nil {
				errs[i] = err
				return
			}
			ids[i] = resp.Retiree.Id
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			w.t.Fatalf("creating retirees: %v", err)
		}
	}
	return ids
}

// kill records a retiree's death in registry.
func (w *world) kill(id string) {
	w.t.Helper()
	if _, err := w.registry.RecordDeath(w.as(adminP), &registryv1.RecordDeathRequest{Id: id, DateOfDeath: "2025-01-02"}); err != nil {
		w.t.Fatal(err)
	}
}

// packageFor is a complete package of ids for community A: a dossier for
// each, funds at 1,000 fen a head, one premises and one obligation.
func packageFor(ids []string) *pb.Handover {
	h := &pb.Handover{
		EnterpriseCreditCode: enterpriseX,
		CommunityId:          communityA,
		RetireeIds:           ids,
		Funds:                &pb.Funds{AmountFen: 1000 * int64(len(ids)), PerRetireeStandardFen: 1000},
		Premises: []*pb.Premises{
			{Name: "老干部活动室", Address: "和平区北市场街3号", AreaSqm: 120.5, Capacity: 40, Use: "棋牌、阅览"},
		},
		Obligations: []*pb.Obligation{
			{Kind: pb.Obligation_PENSION_OUTSIDE_POOLING, Description: "统筹外养老金项目", MonthlyAmountFen: 250000, Until: "2030-12-31"},
		},
	}
	for i, id := range ids {
		h.Dossiers = append(h.Dossiers, &pb.Dossier{
			RetireeId: id, DossierNo: fmt.Sprintf("D-%05d", i+1), Volumes: 2,
			Checklist: fullChecklist(),
		})
	}
	return h
}

// fullChecklist lists every material a file must hold, and awards: a
// dossier that arrives with it is settled.
func fullChecklist() []pb.ArchiveCategory {
	return []pb.ArchiveCategory{
		pb.ArchiveCategory_RESUME, pb.ArchiveCategory_AUTOBIOGRAPHY, pb.ArchiveCategory_APPRAISAL,
		pb.ArchiveCategory_EDUCATION_TITLES, pb.ArchiveCategory_AWARDS, pb.ArchiveCategory_WAGES_APPOINTMENTS,
	}
}

// handover returns the handover of an answer, failing the test on an
// error, which names the answer's type and so the call.
func (w *world) handover(resp interface{ GetHandover() *pb.Handover }, err error) *pb.Handover {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("%T: %v", resp, err)
	}
	return resp.GetHandover()
}

// draft creates a package of n new retirees of enterprise X as its owner.
func (w *world) draft(n int) *pb.Handover {
	w.t.Helper()
	ids := w.retirees(n, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	return w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: packageFor(ids)}))
}

// submitted is a new package of n retirees, submitted.
func (w *world) submitted(n int) *pb.Handover {
	w.t.Helper()
	h := w.draft(n)
	return w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
}

// returned is a new package of n retirees, submitted and returned.
func (w *world) returned(n int) *pb.Handover {
	w.t.Helper()
	h := w.submitted(n)
	return w.handover(w.client.ReturnHandover(w.as(clerkAP), &pb.ReturnHandoverRequest{Id: h.Id, Reason: "档案目录不全"}))
}

// ready is a submitted package of n retirees whose funds, archives and
// premises are all settled.
func (w *world) ready(n int) *pb.Handover {
	w.t.Helper()
	return w.settle(w.submitted(n))
}

// settle has the bureau verify h's roster, then receives h's funds in
// full and every dossier, and accepts every premises, as the receiving
// clerk.
func (w *world) settle(h *pb.Handover) *pb.Handover {
	w.t.Helper()
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, Etag: h.Etag, DocumentSha256: rosterSHA}))
	ctx := w.as(clerkAP)
	h = w.handover(w.client.ReceiveFunds(ctx, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: h.Funds.AmountFen, VoucherNo: "V-" + h.Id, ReceivedOn: "2026-01-05"}))
	h = w.handover(w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds}))
	for _, pr := range h.Premises {
		h = w.handover(w.client.InspectPremises(ctx, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: pr.Id, Accepted: true, Notes: "房屋完好"}))
	}
	return h
}

// completed is a package of n retirees, completed by the receiving clerk.
func (w *world) completed(n int) *pb.Handover {
	w.t.Helper()
	h := w.ready(n)
	return w.handover(w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))
}

// withdrawn is a package of n retirees, submitted and withdrawn.
func (w *world) withdrawn(n int) *pb.Handover {
	w.t.Helper()
	h := w.submitted(n)
	return w.handover(w.client.WithdrawHandover(w.as(enterpriseXP), &pb.WithdrawHandoverRequest{Id: h.Id, Reason: "改期移交"}))
}

// get reads a handover as admin.
func (w *world) get(id string) *pb.Handover {
	w.t.Helper()
	return w.handover(w.client.GetHandover(w.as(adminP), &pb.GetHandoverRequest{Id: id}))
}

// events returns the actions of a handover's timeline, in order.
func (w *world) events(id string) []*pb.Event {
	w.t.Helper()
	resp, err := w.client.ListHandoverEvents(w.as(adminP), &pb.ListHandoverEventsRequest{Id: id, PageSize: 1000})
	if err != nil {
		w.t.Fatalf("ListHandoverEvents: %v", err)
	}
	return resp.Events
}

// waitDelivered waits until the handover's delivery is DELIVERED.
func (w *world) waitDelivered(id string) *pb.Handover {
	w.t.Helper()
	var h *pb.Handover
	waitfor.NoError(w.t, "handover "+id+" to be delivered", func(context.Context) error {
		h = w.get(id)
		if h.GetDelivery().GetState() != pb.Delivery_DELIVERED {
			return fmt.Errorf("delivery %v", h.GetDelivery())
		}
		return nil
	})
	return h
}

// waitBacklog waits until the store's outbox holds n commands: the
// counter follows a delivery's commit, a moment after the handover shows
// the delivery.
func (w *world) waitBacklog(n int64) {
	w.t.Helper()
	waitfor.NoError(w.t, fmt.Sprintf("an outbox backlog of %d", n), func(context.Context) error {
		if b := w.store.Backlog(); b != n {
			return fmt.Errorf("backlog %d", b)
		}
		return nil
	})
}

// waitDelivery waits until the handover's delivery satisfies ok, which
// what describes.
func (w *world) waitDelivery(id, what string, ok func(d *pb.Delivery) bool) {
	w.t.Helper()
	waitfor.NoError(w.t, "the delivery of "+id+" to be "+what, func(context.Context) error {
		if d := w.get(id).GetDelivery(); !ok(d) {
			return fmt.Errorf("delivery %v", d)
		}
		return nil
	})
}
