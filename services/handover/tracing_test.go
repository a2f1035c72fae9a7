package handover

import (
	"context"
	"testing"

	"github.com/socmgmt/socmgmt/internal/tracing/tracingtest"

	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/tracing"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

const (
	completeMethod = "socmgmt.handover.v1.HandoverService/CompleteHandover"
	assignMethod   = "socmgmt.registry.v1.RegistryService/AssignRetirees"
	deliverAssign  = "outbox deliver assign"
)

// TestOutboxDeliveryJoinsTheCompletionsTrace: a :complete that arrives
// with a traceparent stores that trace with its commands, so that the
// delivery, by a dispatcher started only after another one failed and
// was stopped, is a span of the same trace under the :complete's server
// span, and registry's AssignRetirees is a server span under the
// delivery's call. The handover's retiree projection, following
// registry's change feed, links its apply of the assignment's changes
// to AssignRetirees's span.
func TestOutboxDeliveryJoinsTheCompletionsTrace(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tr := &tracers{
		registry: tracing.NewTracerProvider("registry", 1, sdktrace.WithSyncer(spans)),
		handover: tracing.NewTracerProvider("handover", 1, sdktrace.WithSyncer(spans)),
	}
	w := newWorld(t, worldOptions{tracers: tr, follow: true})

	const (
		clientTrace = "0af7651916cd43dd8448eb211c80319c"
		clientSpan  = "b7ad6b7169203331"
	)
	h := w.ready(2)
	ctx := metadata.AppendToOutgoingContext(w.as(clerkAP), "traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	h = w.handover(w.client.CompleteHandover(ctx, &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))
	traceID, _ := trace.TraceIDFromHex(clientTrace)
	complete := findSpan(t, spans, "the :complete's server span", func(sp tracetest.SpanStub) bool {
		return sp.Name == completeMethod && sp.SpanKind == trace.SpanKindServer && sp.SpanContext.TraceID() == traceID
	})
	if complete.Parent.SpanID().String() != clientSpan {
		t.Errorf(":complete's parent %s, want the client's span %s", complete.Parent.SpanID(), clientSpan)
	}

	// A first dispatcher finds registry refusing and is stopped; the
	// commands, and their trace, wait in the store.
	down := func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
		return status.Error(codes.Unavailable, "registry is down")
	}
	stop := w.startDispatcher(worldOptions{tracers: tr, registryInterceptors: []grpc.UnaryClientInterceptor{down}})
	failed := findSpan(t, spans, "a failed delivery", func(sp tracetest.SpanStub) bool {
		return sp.Name == deliverAssign && sp.Status.Code == otelcodes.Error
	})
	stop()
	w.startDispatcher(worldOptions{tracers: tr})
	w.waitDelivered(h.Id)

	delivered := findSpan(t, spans, "the delivery", func(sp tracetest.SpanStub) bool {
		return sp.Name == deliverAssign && sp.Status.Code != otelcodes.Error
	})
	call := findSpan(t, spans, "the dispatcher's AssignRetirees call", func(sp tracetest.SpanStub) bool {
		return sp.Name == assignMethod && sp.SpanKind == trace.SpanKindClient && sp.Parent.SpanID() == delivered.SpanContext.SpanID()
	})
	served := findSpan(t, spans, "registry's AssignRetirees", func(sp tracetest.SpanStub) bool {
		return sp.Name == assignMethod && sp.SpanKind == trace.SpanKindServer && sp.Parent.SpanID() == call.SpanContext.SpanID()
	})
	for name, sp := range map[string]tracetest.SpanStub{"failed delivery": failed, "delivery": delivered, "call": call, "registry": served} {
		if sp.SpanContext.TraceID() != traceID {
			t.Errorf("%s span in trace %s, want the :complete's %s", name, sp.SpanContext.TraceID(), traceID)
		}
	}
	for name, sp := range map[string]tracetest.SpanStub{"failed delivery": failed, "delivery": delivered} {
		if sp.Parent.SpanID() != complete.SpanContext.SpanID() {
			t.Errorf("%s span's parent %s, want the :complete's server span %s", name, sp.Parent.SpanID(), complete.SpanContext.SpanID())
		}
	}
	if got := tracingtest.ServiceName(served); got != "registry" {
		t.Errorf("AssignRetirees server span of service %q, want registry", got)
	}
	findSpan(t, spans, "the projection's apply linked to AssignRetirees", func(sp tracetest.SpanStub) bool {
		if sp.Name != "projection apply" {
			return false
		}
		for _, l := range sp.Links {
			if l.SpanContext.TraceID() == traceID && l.SpanContext.SpanID() == served.SpanContext.SpanID() {
				return true
			}
		}
		return false
	})
}

// TestOutboxUntracedCompletionStoresNoTrace: a :complete served with
// tracing off queues commands in the version-1 encoding, as before
// tracing, and a traced dispatcher (the service restarted with tracing
// on) delivers them without starting a trace.
func TestOutboxUntracedCompletionStoresNoTrace(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := tracing.NewTracerProvider("handover", 1, sdktrace.WithSyncer(spans))
	w := newWorld(t, worldOptions{})
	h := w.completed(1)
	c, err := w.store.nextCommand(LaneRegistry)
	if err != nil || c == nil {
		t.Fatalf("next command: %v, %v", c, err)
	}
	if c.trace != "" || c.encode()[0] != commandVersion {
		t.Errorf("untraced command stored trace %q, version %d", c.trace, c.encode()[0])
	}
	w.startDispatcher(worldOptions{tracers: &tracers{handover: tp}})
	w.waitDelivered(h.Id)
	for _, sp := range spans.GetSpans() {
		if sp.Name == deliverAssign || sp.Name == assignMethod {
			t.Errorf("untraced delivery made span %q", sp.Name)
		}
	}
}

// findSpan waits for a span that match accepts and returns it.
func findSpan(t *testing.T, spans *tracetest.InMemoryExporter, what string, match func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	var found tracetest.SpanStub
	ok := false
	waitfor.True(t, what, func() bool {
		for _, sp := range spans.GetSpans() {
			if match(sp) {
				found, ok = sp, true
				return true
			}
		}
		return false
	})
	if !ok {
		t.Fatalf("no span for %s; have %s", what, tracingtest.Describe(spans.GetSpans()))
	}
	return found
}
