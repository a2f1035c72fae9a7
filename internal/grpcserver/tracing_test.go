package grpcserver

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/socmgmt/socmgmt/internal/tracing"
	"github.com/socmgmt/socmgmt/internal/waitfor"
)

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

// TestTracedCallLogsItsTrace: a traced server continues the caller's
// traceparent, and both the access log line and the handler's own line
// (Logger) name the trace and the server's span; a health check makes no
// span.
func TestTracedCallLogsItsTrace(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := tracing.NewTracerProvider("t", 1, sdktrace.WithSyncer(spans))
	h := start(t, Options{Name: "t", TracerProvider: tp})
	if _, _, err := h.unary(t, "x", "traceparent", traceparent); err != nil {
		t.Fatal(err)
	}
	if _, err := healthpb.NewHealthClient(h.conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(echoUnaryMethod, "/")
	var spanID string
	waitfor.True(t, "the server span", func() bool {
		for _, sp := range spans.GetSpans() {
			if sp.Name == name && sp.SpanContext.TraceID().String() == callerTrace && sp.Parent.SpanID().String() == callerSpan {
				spanID = sp.SpanContext.SpanID().String()
				return true
			}
		}
		return false
	})
	for _, sp := range spans.GetSpans() {
		if strings.Contains(sp.Name, "Health") {
			t.Errorf("health check made span %q", sp.Name)
		}
	}
	lines := append(h.accessLines(echoUnaryMethod), h.logs.FilterMessage("handler ran").AllUntimed()...)
	if len(lines) != 2 {
		t.Fatalf("%d log lines of the call, want the access line and the handler's", len(lines))
	}
	for _, e := range lines {
		f := e.ContextMap()
		if f["trace_id"] != callerTrace || f["span_id"] != spanID {
			t.Errorf("%q line: trace_id %v span_id %v, want %s and %s", e.Message, f["trace_id"], f["span_id"], callerTrace, spanID)
		}
	}
}

// TestUntracedCallLogsNoTrace: without a TracerProvider nothing reads the
// caller's traceparent, and the log lines name no trace.
func TestUntracedCallLogsNoTrace(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Name: "t"})
	if _, _, err := h.unary(t, "x", "traceparent", traceparent); err != nil {
		t.Fatal(err)
	}
	for _, e := range append(h.accessLines(echoUnaryMethod), h.logs.FilterMessage("handler ran").AllUntimed()...) {
		if _, ok := e.ContextMap()["trace_id"]; ok {
			t.Errorf("%q line of an untraced server names a trace", e.Message)
		}
	}
}
