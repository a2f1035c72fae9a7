package gateway

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/socmgmt/socmgmt/internal/tracing"
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
			benchGetRetiree(b, benchGateway(b, tc.tp))
		})
	}
}
