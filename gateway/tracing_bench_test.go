package gateway

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/tracing"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// discard is an exporter that drops what it is given: the cost of
// recording spans without that of a collector.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkGatewayGetRetireeTracing is BenchmarkGatewayGetRetiree with the
// gateway and its upstream traced three ways: off (nothing installed, as
// without OTEL_EXPORTER_OTLP_ENDPOINT), the instrumentation over a no-op
// provider (what installing it always would cost), and the SDK sampling
// every request into a batch processor. It is why the instrumentation is
// installed only when tracing is on.
func BenchmarkGatewayGetRetireeTracing(b *testing.B) {
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"off", nil},
		{"noop provider", noop.NewTracerProvider()},
		{"sdk sampled", tracing.NewTracerProvider("gateway", 1, sdktrace.WithBatcher(discard{}))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := grpc.NewServer(tracing.ServerOptions(tc.tp)...)
			registryv1.RegisterRegistryServiceServer(srv, benchRegistry{})
			go func() { _ = srv.Serve(lis) }()
			defer srv.Stop()
			cfg := testConfig(lis.Addr().String())
			cfg.TracerProvider = tc.tp
			g, err := New(cfg, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			req := httptest.NewRequest(http.MethodGet, "/v1/retirees/r-000123", nil)
			req.Header.Set("Authorization", "Bearer t")
			req.Header.Set("Accept", "application/json")
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(p *testing.PB) {
				for p.Next() {
					rec := httptest.NewRecorder()
					g.ServeHTTP(rec, req.Clone(req.Context()))
					if rec.Code != http.StatusOK {
						b.Errorf("status %d", rec.Code)
						return
					}
				}
			})
		})
	}
}
