package handover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

// node is a gRPC server of the tests on a loopback port that can be
// stopped and started again on the same port, as a restarted process
// would be.
type node struct {
	t        testing.TB
	name     string
	keys     keys
	addr     string
	register func(*grpc.Server)
	// open and closeFn bracket each run: the registry reopens its store.
	open    func()
	closeFn func()

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

// start serves the node (again) on its address.
func (n *node) start() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel != nil {
		return
	}
	if n.open != nil {
		n.open()
	}
	addr := n.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	// The port was ours a moment ago; a rebind right after a stop can
	// briefly fail while the old socket closes.
	for try := 0; try < 50; try++ {
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		n.t.Fatalf("%s: listen: %v", n.name, err)
	}
	n.addr = lis.Addr().String()
	verifier := authn.NewVerifier(n.keys.pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            n.name,
		Logger:          zaptest.NewLogger(n.t, zaptest.Level(zap.ErrorLevel)),
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		ShutdownTimeout: time.Second,
	})
	n.register(srv.GRPC())
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- srv.ServeListener(ctx, lis) }()
}

// stop shuts the node down and waits for it.
func (n *node) stop() {
	n.t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel == nil {
		return
	}
	n.cancel()
	// A stop right after a start can reach GracefulStop before Serve ran,
	// which then reports ErrServerStopped: no failure of the test's.
	if err := <-n.done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		n.t.Errorf("%s: serve: %v", n.name, err)
	}
	n.cancel = nil
	if n.closeFn != nil {
		n.closeFn()
	}
}

// registryNode is a real registry (store and server) on a loopback port.
type registryNode struct {
	*node
	path  string
	store *registry.Store
}

func startRegistry(t testing.TB, k keys, dir string) *registryNode {
	t.Helper()
	r := &registryNode{path: filepath.Join(dir, "registry.db")}
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	r.node = &node{t: t, name: "registry", keys: k}
	r.open = func() {
		s, err := registry.OpenStore(r.path, keyer, registry.StoreOptions{Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))})
		if err != nil {
			t.Fatal(err)
		}
		r.store = s
	}
	r.closeFn = func() { r.store.Close() }
	r.register = func(g *grpc.Server) {
		registryv1.RegisterRegistryServiceServer(g, registry.NewServer(r.store, registry.ServerOptions{}))
	}
	r.start()
	t.Cleanup(r.stop)
	return r
}

// activityNode is the fake activity service on a loopback port; its
// venues survive restarts, as a real one's file would.
type activityNode struct {
	*node
	fake *fakeActivity
}

func startActivity(t testing.TB, k keys) *activityNode {
	t.Helper()
	a := &activityNode{fake: newFakeActivity()}
	a.node = &node{t: t, name: "activity", keys: k, register: func(g *grpc.Server) {
		activityv1.RegisterActivityServiceServer(g, a.fake)
	}}
	a.start()
	t.Cleanup(a.stop)
	return a
}

// dialService returns a connection to addr that presents the handover
// service's own credentials, with extra interceptors.
func dialService(t testing.TB, k keys, addr string, interceptors ...grpc.UnaryClientInterceptor) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(k.serviceCreds()),
		grpc.WithChainUnaryInterceptor(interceptors...),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// dialPlain returns a connection whose calls carry the token of their
// context.
func dialPlain(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
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
}

// world is a handover service with a real registry and a fake activity
// service behind it, and clients of all three.
type world struct {
	t        testing.TB
	keys     keys
	dir      string
	reg      *registryNode
	act      *activityNode
	store    *Store
	client   pb.HandoverServiceClient
	registry registryv1.RegistryServiceClient
	activity activityv1.ActivityServiceClient
	// serial numbers the ID numbers of created retirees.
	serial atomic.Int64
	// dispatcher is the last one startDispatcher started.
	dispatcher *Dispatcher
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	w := newBackends(t, newKeys(t))
	k, dir := w.keys, w.dir
	store, err := OpenStore(filepath.Join(dir, "handover.db"), StoreOptions{Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	w.store = store
	registryConn := dialService(t, k, w.reg.addr, o.submitInterceptors...)
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	verifier := authn.NewVerifier(k.pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "handover",
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		ShutdownTimeout: time.Second,
	})
	pb.RegisterHandoverServiceServer(srv.GRPC(), NewServer(store, ServerOptions{
		Registry:      registryv1.NewRegistryServiceClient(registryConn),
		SubmitTimeout: 5 * time.Second,
		Now:           o.now,
	}))
	lis := bufconn.Listen(4 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeListener(ctx, lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	w.client = pb.NewHandoverServiceClient(conn)

	// Cleanups run last-in first-out: the server stops before the store
	// closes, and before the registry and activity nodes stop (their
	// cleanups were registered earlier); a dispatcher started later stops
	// first.
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("handover serve: %v", err)
		}
		store.Close()
	})
	if o.dispatch {
		w.startDispatcher(o)
	}
	return w
}

// newBackends starts what a handover service works with — a registry
// with the fixture communities and enterprises, and a fake activity
// service — verifying tokens with k; the world has no handover service
// yet.
func newBackends(t testing.TB, k keys) *world {
	t.Helper()
	dir := t.TempDir()
	w := &world{t: t, keys: k, dir: dir}
	w.reg = startRegistry(t, k, dir)
	w.act = startActivity(t, k)
	w.registry = registryv1.NewRegistryServiceClient(dialPlain(t, w.reg.addr))
	w.activity = activityv1.NewActivityServiceClient(dialPlain(t, w.act.addr))
	w.seedRegistry()
	return w
}

// startDispatcher runs a dispatcher of the world's store, with short
// backoffs, until the test ends or the returned function is called.
func (w *world) startDispatcher(o worldOptions) (stop func()) {
	w.t.Helper()
	dopts := DispatcherOptions{
		Registry:    registryv1.NewRegistryServiceClient(dialService(w.t, w.keys, w.reg.addr, o.registryInterceptors...)),
		Logger:      zaptest.NewLogger(w.t, zaptest.Level(zap.ErrorLevel)),
		MinBackoff:  10 * time.Millisecond,
		MaxBackoff:  100 * time.Millisecond,
		CallTimeout: 2 * time.Second,
	}
	if !o.noActivity {
		dopts.Activity = activityv1.NewActivityServiceClient(dialService(w.t, w.keys, w.act.addr, o.activityInterceptors...))
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

// as returns a context whose calls carry a token for p.
func (w *world) as(p authn.Principal) context.Context { return w.keys.as(w.t, p) }

// seedRegistry creates the fixture communities and enterprises.
func (w *world) seedRegistry() {
	w.t.Helper()
	ctx := w.as(adminP)
	for _, c := range []*registryv1.Community{
		{Id: communityA, Name: "北市场社区", District: "和平区", Street: "北市场街道", Kind: registryv1.CommunityKind_BLOCK, Households: 3200},
		{Id: communityB, Name: "太原街社区", District: "和平区", Street: "北市场街道", Kind: registryv1.CommunityKind_COMPOUND, Households: 2100},
	} {
		if _, err := w.registry.CreateCommunity(ctx, &registryv1.CreateCommunityRequest{Community: c}); err != nil {
			w.t.Fatal(err)
		}
	}
	for _, e := range []*registryv1.Enterprise{
		{CreditCode: enterpriseX, Name: "沈阳机床厂", Ownership: registryv1.Ownership_STATE, Status: registryv1.EnterpriseStatus_OPERATING},
		{CreditCode: enterpriseY, Name: "武汉锅炉厂", Ownership: registryv1.Ownership_COLLECTIVE, Status: registryv1.EnterpriseStatus_OPERATING},
	} {
		if _, err := w.registry.CreateEnterprise(ctx, &registryv1.CreateEnterpriseRequest{Enterprise: e}); err != nil {
			w.t.Fatal(err)
		}
	}
}

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
		birth := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, serial%5000)
		id, err := idnumber.Build("210102", birth, serial/5000%1000)
		if err != nil {
			w.t.Fatal(err)
		}
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
			Checklist: []pb.ArchiveCategory{pb.ArchiveCategory_RESUME, pb.ArchiveCategory_WAGES_APPOINTMENTS},
		})
	}
	return h
}

// draft creates a package of n new retirees of enterprise X as its owner.
func (w *world) draft(n int) *pb.Handover {
	w.t.Helper()
	ids := w.retirees(n, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	resp, err := w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: packageFor(ids)})
	if err != nil {
		w.t.Fatalf("CreateHandover: %v", err)
	}
	return resp.Handover
}

// submitted is a new package of n retirees, submitted.
func (w *world) submitted(n int) *pb.Handover {
	w.t.Helper()
	h := w.draft(n)
	resp, err := w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		w.t.Fatalf("SubmitHandover: %v", err)
	}
	return resp.Handover
}

// returned is a new package of n retirees, submitted and returned.
func (w *world) returned(n int) *pb.Handover {
	w.t.Helper()
	h := w.submitted(n)
	resp, err := w.client.ReturnHandover(w.as(clerkAP), &pb.ReturnHandoverRequest{Id: h.Id, Reason: "档案目录不全"})
	if err != nil {
		w.t.Fatalf("ReturnHandover: %v", err)
	}
	return resp.Handover
}

// ready is a submitted package of n retirees whose funds, archives and
// premises are all settled.
func (w *world) ready(n int) *pb.Handover {
	w.t.Helper()
	return w.settle(w.submitted(n))
}

// settle receives h's funds in full and every dossier, and accepts every
// premises, as the receiving clerk.
func (w *world) settle(h *pb.Handover) *pb.Handover {
	w.t.Helper()
	ctx := w.as(clerkAP)
	fr, err := w.client.ReceiveFunds(ctx, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: h.Funds.AmountFen, VoucherNo: "V-" + h.Id, ReceivedOn: "2026-01-05"})
	if err != nil {
		w.t.Fatalf("ReceiveFunds: %v", err)
	}
	h = fr.Handover
	ar, err := w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds})
	if err != nil {
		w.t.Fatalf("ReceiveArchives: %v", err)
	}
	h = ar.Handover
	for _, pr := range h.Premises {
		ir, err := w.client.InspectPremises(ctx, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: pr.Id, Accepted: true, Notes: "房屋完好"})
		if err != nil {
			w.t.Fatalf("InspectPremises: %v", err)
		}
		h = ir.Handover
	}
	return h
}

// completed is a package of n retirees, completed by the receiving clerk.
func (w *world) completed(n int) *pb.Handover {
	w.t.Helper()
	h := w.ready(n)
	resp, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		w.t.Fatalf("CompleteHandover: %v", err)
	}
	return resp.Handover
}

// withdrawn is a package of n retirees, submitted and withdrawn.
func (w *world) withdrawn(n int) *pb.Handover {
	w.t.Helper()
	h := w.submitted(n)
	resp, err := w.client.WithdrawHandover(w.as(enterpriseXP), &pb.WithdrawHandoverRequest{Id: h.Id, Reason: "改期移交"})
	if err != nil {
		w.t.Fatalf("WithdrawHandover: %v", err)
	}
	return resp.Handover
}

// get reads a handover as admin.
func (w *world) get(id string) *pb.Handover {
	w.t.Helper()
	resp, err := w.client.GetHandover(w.as(adminP), &pb.GetHandoverRequest{Id: id})
	if err != nil {
		w.t.Fatalf("GetHandover: %v", err)
	}
	return resp.Handover
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

// waitFor polls cond until it reports true, failing t after timeout with
// the last description cond gave.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, desc)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitDelivered waits until the handover's delivery is DELIVERED.
func (w *world) waitDelivered(id string, timeout time.Duration) *pb.Handover {
	w.t.Helper()
	var h *pb.Handover
	waitFor(w.t, timeout, func() (bool, string) {
		h = w.get(id)
		return h.GetDelivery().GetState() == pb.Delivery_DELIVERED, fmt.Sprintf("delivery %v", h.GetDelivery())
	})
	return h
}
