package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/requestid"
	"github.com/socmgmt/socmgmt/internal/tracing"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// benchRetiree is a retiree as registry answers a clerk: every field a
// list screen shows, the ID number and phone masked.
func benchRetiree(id string) *registryv1.Retiree {
	at := timestamppb.New(time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC))
	return &registryv1.Retiree{
		Id: id, IdNumberMasked: "110105********0015", Name: "退休人员1234", Sex: registryv1.Sex_MALE,
		BirthDate: "1955-03-07", RetirementDate: "2015-04-01", EnterpriseCreditCode: "91110000100000000X",
		CommunityId: "c-hepingli", ManagementMode: registryv1.ManagementMode_COMMUNITY,
		Status: registryv1.RetireeStatus_LIVING, PhoneMasked: "138****5678",
		ResidenceAddress: "和平区北市场街1号", Flags: []registryv1.RetireeFlag{registryv1.RetireeFlag_AGED_80_PLUS},
		Etag: "r7", CreateTime: at, UpdateTime: at,
	}
}

// benchRegistry answers GetRetiree with benchRetiree at once, and echoes
// the request id as the real services do.
type benchRegistry struct {
	registryv1.UnimplementedRegistryServiceServer
}

func (benchRegistry) GetRetiree(ctx context.Context, req *registryv1.GetRetireeRequest) (*registryv1.GetRetireeResponse, error) {
	if ids := metadata.ValueFromIncomingContext(ctx, requestid.Key); len(ids) == 1 {
		_ = grpc.SetHeader(ctx, metadata.Pairs(requestid.Key, ids[0]))
	}
	return &registryv1.GetRetireeResponse{Retiree: benchRetiree(req.GetId())}, nil
}

// benchGateway serves benchRegistry on loopback and returns a gateway in
// front of it, as the program builds it (its own logger discards), both
// traced with tp (nil: not traced, as without an OTLP endpoint).
func benchGateway(b *testing.B, tp trace.TracerProvider) *Gateway {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer(tracing.ServerOptions(tp)...)
	registryv1.RegisterRegistryServiceServer(srv, benchRegistry{})
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	cfg := testConfig(lis.Addr().String())
	cfg.TracerProvider = tp
	g, err := New(cfg, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	return g
}

// BenchmarkGatewayGetRetiree is GET /v1/retirees/{id} through the whole
// gateway handler (middleware, mux, upstream call over loopback, JSON),
// without the HTTP server and client: what the gateway adds to a read.
func BenchmarkGatewayGetRetiree(b *testing.B) {
	benchGetRetiree(b, benchGateway(b, nil))
}

// benchGetRetiree sends GET /v1/retirees/{id} through g's handler from 8
// goroutines a CPU, each wanting 200.
func benchGetRetiree(b *testing.B, g *Gateway) {
	req := httptest.NewRequest(http.MethodGet, "/v1/retirees/r-000123", nil)
	req.Header.Set("Authorization", "Bearer t")
	// What a browser or an HTTP library sends besides.
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req.Clone(req.Context()))
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkGatewayMarshal is the gateway's JSON encoding of a
// GetRetireeResponse, with the marshaler its mux uses.
func BenchmarkGatewayMarshal(b *testing.B) {
	// Connections are lazy: nothing listens there, nothing is dialled.
	g, err := New(testConfig("127.0.0.1:1"), zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	_, m := runtime.MarshalerForRequest(g.mux, httptest.NewRequest(http.MethodGet, "/v1/retirees/r-1", nil))
	resp := &registryv1.GetRetireeResponse{Retiree: benchRetiree("r-000123")}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}
