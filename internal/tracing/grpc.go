package tracing

import (
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// untraced are the method prefixes that get no spans: health probes
// arrive every few seconds, and reflection is a developer's tool.
var untraced = []string{"/grpc.health.v1.Health/", "/grpc.reflection."}

// traced is otelgrpc's filter: every method but health and reflection.
func traced(info *stats.RPCTagInfo) bool {
	for _, p := range untraced {
		if strings.HasPrefix(info.FullMethodName, p) {
			return false
		}
	}
	return true
}

// options are otelgrpc's options for tp: W3C trace context, no metrics
// (the programs have their own Prometheus metrics), health and reflection
// left out. The spans name the method and carry its code; no message is
// recorded.
func options(tp trace.TracerProvider) []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(Propagator()),
		otelgrpc.WithMeterProvider(noop.NewMeterProvider()),
		otelgrpc.WithFilter(traced),
	}
}

// ServerOptions are the grpc.ServerOptions that make a server continue
// the trace its callers send, with a server span per call: none when tp
// is nil.
func ServerOptions(tp trace.TracerProvider) []grpc.ServerOption {
	if tp == nil {
		return nil
	}
	return []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(options(tp)...))}
}

// DialOptions are the grpc.DialOptions that make a client's calls carry
// the trace of their context on, with a client span per call: none when
// tp is nil.
func DialOptions(tp trace.TracerProvider) []grpc.DialOption {
	if tp == nil {
		return nil
	}
	return []grpc.DialOption{grpc.WithStatsHandler(otelgrpc.NewClientHandler(options(tp)...))}
}
