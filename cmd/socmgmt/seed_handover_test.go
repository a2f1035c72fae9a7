package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/handover"
	"github.com/socmgmt/socmgmt/services/registry"
)

// hoVenues is an activity service that only creates venues, remembering
// request keys as the real one does.
type hoVenues struct {
	activityv1.UnimplementedActivityServiceServer
	mu    sync.Mutex
	byKey map[string]*activityv1.Venue
}

func (v *hoVenues) CreateVenue(_ context.Context, req *activityv1.CreateVenueRequest) (*activityv1.CreateVenueResponse, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if got, ok := v.byKey[req.RequestKey]; ok {
		return &activityv1.CreateVenueResponse{Venue: got}, nil
	}
	venue := &activityv1.Venue{Id: "v" + req.RequestKey, CommunityId: req.Venue.CommunityId, Name: req.Venue.Name}
	v.byKey[req.RequestKey] = venue
	return &activityv1.CreateVenueResponse{Venue: venue}, nil
}

// hoServe serves what register adds on a loopback port, behind token
// verification, until the test ends.
func hoServe(t *testing.T, pub ed25519.PublicKey, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{Unary: []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()}, ShutdownTimeout: time.Second})
	register(srv.GRPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeListener(ctx, lis)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return lis.Addr().String()
}

// TestSeedHandovers seeds a small city into a real registry and a real
// handover service, then checks that there is a package in every state,
// that the completed one reached registry, and that a second run adds
// nothing.
func TestSeedHandovers(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("seeds a city of 1,000 retirees")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyer, err := idnumber.NewKeyer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	regStore, err := registry.OpenStore(filepath.Join(dir, "registry.db"), keyer, registry.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { regStore.Close() })
	regAddr := hoServe(t, pub, func(g *grpc.Server) {
		registryv1.RegisterRegistryServiceServer(g, registry.NewServer(regStore, registry.ServerOptions{}))
	})
	actAddr := hoServe(t, pub, func(g *grpc.Server) {
		activityv1.RegisterActivityServiceServer(g, &hoVenues{byKey: map[string]*activityv1.Venue{}})
	})
	service := authn.NewServiceCredentials(authn.NewSigner(priv), "handover", time.Hour)
	dial := func(addr string, creds ...grpc.DialOption) *grpc.ClientConn {
		conn, err := grpc.NewClient(addr, append(creds, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	hoStore, err := handover.OpenStore(filepath.Join(dir, "handover.db"), handover.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hoStore.Close() })
	regForHandover := registryv1.NewRegistryServiceClient(dial(regAddr, grpc.WithPerRPCCredentials(service)))
	dispatcher := handover.NewDispatcher(hoStore, handover.DispatcherOptions{
		Registry: regForHandover,
		Activity: activityv1.NewActivityServiceClient(dial(actAddr, grpc.WithPerRPCCredentials(service))),
	})
	dctx, stopDispatcher := context.WithCancel(context.Background())
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		_ = dispatcher.Run(dctx)
	}()
	hoAddr := hoServe(t, pub, func(g *grpc.Server) {
		handoverv1.RegisterHandoverServiceServer(g, handover.NewServer(hoStore, handover.ServerOptions{Registry: regForHandover}))
	})
	// Cleanups run in reverse: the dispatcher stops before the servers.
	t.Cleanup(func() {
		stopDispatcher()
		<-dispatched
	})

	adminTok, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "test", Role: authn.RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	regAdmin := registryv1.NewRegistryServiceClient(dial(regAddr, grpc.WithPerRPCCredentials(authn.BearerCredentials(adminTok))))
	plan, err := generateCity(1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := newSeeder(regAdmin, 16, io.Discard).seed(ctx, plan); err != nil {
		t.Fatal(err)
	}

	cfg := seedConfig{handoverAddr: hoAddr}
	var out, progress bytes.Buffer
	if err := seedHandovers(ctx, cfg, priv, regAdmin, plan, &out, &progress); err != nil {
		t.Fatalf("seedHandovers: %v\n%s", err, progress.String())
	}
	if !strings.Contains(out.String(), "5 created (COMPLETED, SUBMITTED, RETURNED, DRAFT, WITHDRAWN), 0 states already present") {
		t.Errorf("summary: %s", out.String())
	}

	hoClient := handoverv1.NewHandoverServiceClient(dial(hoAddr))
	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+adminTok)
	list, err := hoClient.ListHandovers(admin, &handoverv1.ListHandoversRequest{})
	if err != nil {
		t.Fatal(err)
	}
	states := map[handoverv1.Handover_State]*handoverv1.Handover{}
	agreements := map[handoverv1.Handover_State]*handoverv1.Handover{}
	enterprises := map[string]bool{}
	var monthly []*handoverv1.Handover
	for _, h := range list.Handovers {
		if h.CommunityId == "" {
			agreements[h.State] = h
			continue
		}
		if h.Kind == handoverv1.Handover_MONTHLY_NEW_RETIREES {
			monthly = append(monthly, h)
			continue
		}
		states[h.State] = h
		enterprises[h.EnterpriseCreditCode] = true
	}
	if len(list.Handovers) != 9 || len(states) != 5 || len(enterprises) != 5 || len(monthly) != 2 {
		t.Logf("seed said:\n%s\n%s", out.String(), progress.String())
		t.Fatalf("%d handovers, packages in %d states of %d enterprises, want 7 handovers, 5 of each", len(list.Handovers), len(states), len(enterprises))
	}
	if !strings.Contains(out.String(), "Seeded 2 agreements") {
		t.Errorf("summary: %s", out.String())
	}
	wantAgreements(t, ctx, regAdmin, agreements, monthly)
	wantCustodyAndTasks(t, admin, hoClient, agreements[handoverv1.Handover_COMPLETED], monthly)
	done := states[handoverv1.Handover_COMPLETED]
	if done.Delivery.GetState() != handoverv1.Delivery_DELIVERED || done.Premises[0].VenueId == "" {
		t.Errorf("completed handover's delivery %v, premises %v", done.Delivery, done.Premises[0])
	}
	for _, id := range done.RetireeIds {
		r, err := regAdmin.GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if r.Retiree.ManagementMode != registryv1.ManagementMode_COMMUNITY || r.Retiree.CommunityId != done.CommunityId {
			t.Errorf("retiree %s after the completed handover: %v in %s", id, r.Retiree.ManagementMode, r.Retiree.CommunityId)
		}
	}
	if sub := states[handoverv1.Handover_SUBMITTED]; sub.Funds.ReceivedFen == 0 || sub.Funds.ReceivedFen == sub.Funds.AmountFen {
		t.Errorf("the submitted package should be half-way: funds %v", sub.Funds)
	}

	out.Reset()
	if err := seedHandovers(ctx, cfg, priv, regAdmin, plan, &out, &progress); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0 created (), 5 states already present") || !strings.Contains(out.String(), "Seeded 0 agreements") {
		t.Errorf("second run: %s", out.String())
	}
	again, err := hoClient.ListHandovers(admin, &handoverv1.ListHandoversRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Handovers) != 9 {
		t.Errorf("second run left %d handovers", len(again.Handovers))
	}
}

// TestSeedHandoversUnreachable: without a handover service the seed says
// so and goes on.
func TestSeedHandoversUnreachable(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	var out, progress bytes.Buffer
	plan, err := generateCity(1, 10)
	if err != nil {
		t.Fatal(err)
	}
	if err := seedHandovers(context.Background(), seedConfig{handoverAddr: addr, reachTimeout: 200 * time.Millisecond}, priv, nil, plan, &out, &progress); err != nil {
		t.Fatalf("unreachable handover service: %v", err)
	}
	if !strings.Contains(progress.String(), "skipping handovers") {
		t.Errorf("progress: %q", progress.String())
	}
}

// wantAgreements checks the seeded agreements: the completed one
// allocated to three communities, every track that applies completed and
// each retiree community-managed in its own community; the open one with
// every track that applies open, a part still unallocated; with the
// monthly packages, tracks in each state.
func wantAgreements(t *testing.T, ctx context.Context, reg registryv1.RegistryServiceClient, agreements map[handoverv1.Handover_State]*handoverv1.Handover, monthly []*handoverv1.Handover) {
	t.Helper()
	done, open := agreements[handoverv1.Handover_COMPLETED], agreements[handoverv1.Handover_SUBMITTED]
	if done == nil || open == nil {
		t.Fatalf("agreements %v, want a completed and a submitted one", agreements)
	}
	if len(done.Allocations) != agreementParts || done.RosterVerification == nil {
		t.Errorf("completed agreement: allocations %v, verification %v", done.Allocations, done.RosterVerification)
	}
	seen := map[handoverv1.Track_State]bool{}
	// The monthly packages have no premises, funds or party transfers.
	for _, h := range append([]*handoverv1.Handover{done, open}, monthly...) {
		for _, tr := range h.Tracks {
			seen[tr.State] = true
		}
	}
	for _, tr := range done.Tracks {
		if tr.State == handoverv1.Track_OPEN {
			t.Errorf("completed agreement's track %v is open", tr)
		}
	}
	if len(seen) != 3 {
		t.Errorf("the seeded tracks are in states %v, want all three", seen)
	}
	allocated := 0
	for _, a := range open.Allocations {
		allocated += len(a.RetireeIds)
	}
	if len(open.Allocations) == 0 || allocated == len(open.RetireeIds) {
		t.Errorf("open agreement's allocations %v, want a part left unallocated", open.Allocations)
	}
	for _, a := range done.Allocations {
		for _, id := range a.RetireeIds {
			r, err := reg.GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: id})
			if err != nil {
				t.Fatal(err)
			}
			if r.Retiree.ManagementMode != registryv1.ManagementMode_COMMUNITY || r.Retiree.CommunityId != a.CommunityId {
				t.Errorf("retiree %s after the completed agreement: %v in %s, want %s", id, r.Retiree.ManagementMode, r.Retiree.CommunityId, a.CommunityId)
			}
		}
	}
}

// wantCustodyAndTasks checks what the seed leaves after completion: the
// completed agreement's party transfers confirmed and its files shelved,
// one lent out; the completed monthly package's tasks, the first contact
// card issued.
func wantCustodyAndTasks(t *testing.T, admin context.Context, ho handoverv1.HandoverServiceClient, done *handoverv1.Handover, monthly []*handoverv1.Handover) {
	t.Helper()
	if len(done.PartyTransfers) != 2 || done.PartyTransfers[0].State != handoverv1.PartyTransfer_CONFIRMED {
		t.Errorf("completed agreement's party transfers %v", done.PartyTransfers)
	}
	files, err := ho.ListArchiveFiles(admin, &handoverv1.ListArchiveFilesRequest{District: done.ReceiverCode[:6]})
	if err != nil {
		t.Fatal(err)
	}
	var onLoan, shelved int
	for _, f := range files.ArchiveFiles {
		if f.State == handoverv1.ArchiveFile_ON_LOAN {
			onLoan++
		}
		if f.ShelfLocation != "" {
			shelved++
		}
	}
	if onLoan != 1 || shelved < 2 {
		t.Errorf("files in custody: %d on loan, %d shelved, of %d", onLoan, shelved, len(files.ArchiveFiles))
	}
	tasks, err := ho.ListHandoverTasks(admin, &handoverv1.ListHandoverTasksRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	done2 := 0
	for _, tk := range tasks.Tasks {
		if tk.State == handoverv1.HandoverTask_DONE {
			done2++
		}
	}
	if len(tasks.Tasks) == 0 || done2 != 1 {
		t.Errorf("%d tasks, %d done; want the completed packages' tasks, one contact card issued", len(tasks.Tasks), done2)
	}
	states := map[handoverv1.Handover_State]int{}
	for _, h := range monthly {
		states[h.State]++
	}
	if states[handoverv1.Handover_COMPLETED] != 1 || states[handoverv1.Handover_SUBMITTED] != 1 {
		t.Errorf("monthly packages in states %v", states)
	}
}
