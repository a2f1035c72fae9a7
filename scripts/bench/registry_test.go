package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

// serve serves srv over bufconn and returns a connection to it that sends
// token, if any.
func serve(t *testing.T, srv *grpc.Server, token string) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	opts := []grpc.DialOption{
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(authn.BearerCredentials(token)))
	}
	conn, err := grpc.NewClient("passthrough:///bufnet", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestBenchRetireesDistinct(t *testing.T) {
	communities, enterprises := []string{"210102001001"}, []string{"91350100M000100Y43"}
	seen := map[string]int{}
	for _, n := range []int{0, 1, 2, birthDays - 1, birthDays, birthDays + 1, 199_999, maxRetirees - 1} {
		r, err := benchRetiree(n, communities, enterprises)
		if err != nil {
			t.Fatalf("benchRetiree(%d): %v", n, err)
		}
		if _, err := idnumber.Parse(r.IdNumber); err != nil {
			t.Errorf("benchRetiree(%d) ID number invalid: %v", n, err)
		}
		if m, dup := seen[r.IdNumber]; dup {
			t.Errorf("benchRetiree(%d) repeats the ID number of %d", n, m)
		}
		seen[r.IdNumber] = n
	}
	// Every retiree of a default run, checked for distinct numbers.
	all := map[string]bool{}
	for n := range 200_000 {
		r, err := benchRetiree(n, communities, enterprises)
		if err != nil {
			t.Fatal(err)
		}
		all[r.IdNumber] = true
	}
	if len(all) != 200_000 {
		t.Errorf("200,000 retirees have %d distinct ID numbers", len(all))
	}
}

// TestLoadDataPassesTheRegistry creates the seeded references and a spread
// of retirees in a real registry server: the data the harness loads must
// meet the registry's rules, or the run fails halfway.
func TestLoadDataPassesTheRegistry(t *testing.T) {
	t.Parallel()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyer, err := idnumber.NewKeyer(make([]byte, idnumber.MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	store, err := registry.OpenStore(filepath.Join(t.TempDir(), "registry.db"), keyer, registry.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	srv := grpc.NewServer(grpc.UnaryInterceptor(authn.NewVerifier(pub).UnaryInterceptor()))
	registryv1.RegisterRegistryServiceServer(srv, registry.NewServer(store, registry.ServerOptions{}))
	token, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "bench", Role: authn.RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client := registryv1.NewRegistryServiceClient(serve(t, srv, token))
	ctx := t.Context()

	communities, enterprises, err := seedReferences(ctx, client, seedCommunities)
	if err != nil {
		t.Fatal(err)
	}
	if len(communities) != seedCommunities || len(enterprises) != seedEnterprises {
		t.Fatalf("seeded %d communities and %d enterprises, want %d and %d", len(communities), len(enterprises), seedCommunities, seedEnterprises)
	}
	for n := range 60 {
		if n >= 30 {
			n = maxRetirees - 1 - n // the far end of the ranges too
		}
		r, err := benchRetiree(n, communities, enterprises)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.CreateRetiree(ctx, &registryv1.CreateRetireeRequest{Retiree: r}); err != nil {
			t.Fatalf("CreateRetiree of retiree %d: %v", n, err)
		}
	}
}

func TestBareServerAnswersCannedResponse(t *testing.T) {
	want := &registryv1.GetRetireeResponse{Retiree: &registryv1.Retiree{Id: "abcdefghijklmnop", Name: "退休职工000001", CommunityId: "210102001001"}}
	srv := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(srv, &bareServer{resp: proto.Clone(want).(*registryv1.GetRetireeResponse)})
	client := registryv1.NewRegistryServiceClient(serve(t, srv, "some-token"))
	for _, id := range []string{"abcdefghijklmnop", "another"} {
		got, err := client.GetRetiree(t.Context(), &registryv1.GetRetireeRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("GetRetiree(%s) (-want +got):\n%s", id, diff)
		}
	}
	if _, err := client.ListRetirees(t.Context(), &registryv1.ListRetireesRequest{}); err == nil {
		t.Error("the bare server answers more than GetRetiree")
	}
}
