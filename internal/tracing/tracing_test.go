package tracing

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{name: "nothing set: off", env: nil, want: Config{Protocol: ProtocolHTTP, Ratio: 1}},
		{name: "endpoint", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			want: Config{Endpoint: "http://collector:4318", Protocol: ProtocolHTTP, Ratio: 1}},
		{name: "traces endpoint wins", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/v1/traces"},
			want: Config{Endpoint: "http://b:4318/v1/traces", Protocol: ProtocolHTTP, Ratio: 1}},
		{name: "http named", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
			want: Config{Endpoint: "http://collector:4318", Protocol: ProtocolHTTP, Ratio: 1}},
		{name: "grpc protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, wantErr: true},
		{name: "ratio", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
			want: Config{Endpoint: "http://c", Protocol: ProtocolHTTP, Ratio: 0.25}},
		{name: "disabled", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_SDK_DISABLED": "true"}, want: Config{}},
		{name: "exporter none", env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c", "OTEL_TRACES_EXPORTER": "none"}, want: Config{}},
		{name: "json protocol", env: map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, wantErr: true},
		{name: "sampler not parent-based", env: map[string]string{"OTEL_TRACES_SAMPLER": "always_on"}, wantErr: true},
		{name: "ratio above one", env: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidOption) {
					t.Fatalf("err %v, want ErrInvalidOption", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestStartOff: without an endpoint there is no provider, and Shutdown
// does nothing.
func TestStartOff(t *testing.T) {
	t.Parallel()
	p, err := Start(t.Context(), Config{}, "registry")
	if err != nil {
		t.Fatal(err)
	}
	if p.TracerProvider() != nil {
		t.Error("tracing off has a tracer provider")
	}
	if err := p.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := ContextWithTraceparent(context.Background(), tp)
	if got := Traceparent(ctx); got != tp {
		t.Errorf("Traceparent = %q, want %q", got, tp)
	}
	for _, bad := range []string{"", "00-zz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if got := Traceparent(ContextWithTraceparent(context.Background(), bad)); got != "" {
			t.Errorf("from %q: Traceparent %q, want none", bad, got)
		}
	}
}

// TestSamplerStartsNoTraceAtAClient: a client span without a parent is
// dropped (a background call), a server span without one starts a
// trace, and a client span within a sampled trace is sampled.
func TestSamplerStartsNoTraceAtAClient(t *testing.T) {
	t.Parallel()
	tracer := NewTracerProvider("t", 1, sdktrace.WithSyncer(tracetest.NewInMemoryExporter())).Tracer("t")
	_, bg := tracer.Start(context.Background(), "poll", trace.WithSpanKind(trace.SpanKindClient))
	if bg.SpanContext().IsSampled() {
		t.Error("a root client span is sampled")
	}
	ctx, srv := tracer.Start(context.Background(), "serve", trace.WithSpanKind(trace.SpanKindServer))
	if !srv.SpanContext().IsSampled() {
		t.Error("a root server span is not sampled")
	}
	if _, call := tracer.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindClient)); !call.SpanContext().IsSampled() {
		t.Error("a client span in a sampled trace is not sampled")
	}
	off := NewTracerProvider("t", 0).Tracer("t")
	if _, sp := off.Start(ContextWithTraceparent(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), "serve", trace.WithSpanKind(trace.SpanKindServer)); !sp.SpanContext().IsSampled() {
		t.Error("ratio 0 dropped a span whose caller sampled it")
	}
}

// TestHTTPHandlerSpans: a request gets a server span continuing its
// traceparent, named by SetRoute and without the URL; the handler still
// sees the URL; an untraced path gets no span.
func TestHTTPHandlerSpans(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := NewTracerProvider("gateway", 1, sdktrace.WithSyncer(spans))
	var seen string
	h := HTTPHandler(tp, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		seen = r.URL.String()
		SetRoute(r.Context(), r.Method, "/v1/things/{id}")
	}), "/healthz")
	req := httptest.NewRequest(http.MethodGet, "/v1/things/secret-7?q=secret-8", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if seen != "/healthz" {
		t.Errorf("handler saw %q last, want /healthz", seen)
	}
	got := spans.GetSpans()
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1 (none for /healthz)", len(got))
	}
	sp := got[0]
	if sp.Name != "GET /v1/things/{id}" || sp.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sp.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span %q trace %s parent %s", sp.Name, sp.SpanContext.TraceID(), sp.Parent.SpanID())
	}
	for _, a := range sp.Attributes {
		if v := a.Value.String(); strings.Contains(v, "secret-7") || strings.Contains(v, "secret-8") {
			t.Errorf("attribute %s=%s holds the URL", a.Key, v)
		}
	}
}

// TestStartExportsAndFlushes: with an endpoint set in the environment,
// the spans go over OTLP/HTTP to it, and Shutdown sends those still
// queued. (Not parallel: it sets the environment the exporter reads.)
func TestStartExportsAndFlushes(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	cfg, err := FromEnv(os.Getenv)
	if err != nil || !cfg.Enabled() {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	p, err := Start(t.Context(), cfg, "registry")
	if err != nil {
		t.Fatal(err)
	}
	_, sp := p.TracerProvider().Tracer("t").Start(context.Background(), "serve", trace.WithSpanKind(trace.SpanKindServer))
	sp.End()
	if err := p.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("no spans reached the collector by the end of Shutdown")
	}
}

// TestEdgeSampler: at the edge a caller's sampled flag does not decide;
// the trace id and the parent are still continued.
func TestEdgeSampler(t *testing.T) {
	t.Parallel()
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	edge := NewTracerProvider("gateway", 0, EdgeSampler(0)).Tracer("t")
	_, sp := edge.Start(ContextWithTraceparent(context.Background(), parent), "serve", trace.WithSpanKind(trace.SpanKindServer))
	if sp.SpanContext().IsSampled() {
		t.Error("ratio 0 at the edge: a caller's sampled flag still made the span sampled")
	}
	if got := sp.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %s, want the caller's", got)
	}
	all := NewTracerProvider("gateway", 1, EdgeSampler(1)).Tracer("t")
	ctx, sp := all.Start(ContextWithTraceparent(context.Background(), strings.TrimSuffix(parent, "01")+"00"), "serve", trace.WithSpanKind(trace.SpanKindServer))
	if !sp.SpanContext().IsSampled() {
		t.Error("ratio 1 at the edge: a caller's unsampled flag dropped the span")
	}
	if _, call := all.Start(ctx, "call", trace.WithSpanKind(trace.SpanKindClient)); !call.SpanContext().IsSampled() {
		t.Error("a client span under the edge's sampled span is not sampled")
	}
}

// TestEdgeSamplerDrawsItsOwnShare: a caller cannot choose a trace id that
// the edge always samples. An id whose low bytes are 0 is what the SDK's
// ratio sampler always keeps; at the edge it is kept about half the time
// at ratio 0.5 (1,000 draws: outside 350 to 650 is ten deviations off).
func TestEdgeSamplerDrawsItsOwnShare(t *testing.T) {
	t.Parallel()
	edge := NewTracerProvider("gateway", 0.5, EdgeSampler(0.5)).Tracer("t")
	ctx := ContextWithTraceparent(context.Background(), "00-4bf92f3577b34da60000000000000000-00f067aa0ba902b7-01")
	sampled := 0
	for range 1000 {
		if _, sp := edge.Start(ctx, "serve", trace.WithSpanKind(trace.SpanKindServer)); sp.SpanContext().IsSampled() {
			sampled++
		}
	}
	if sampled < 350 || sampled > 650 {
		t.Errorf("%d of 1,000 sampled at ratio 0.5", sampled)
	}
}

// TestSampledLinkKeepsARoot: a span without a parent that links to a
// sampled span is sampled whatever the ratio (a projection's update of a
// recorded change), and one linking only to unsampled spans is not at
// ratio 0.
func TestSampledLinkKeepsARoot(t *testing.T) {
	t.Parallel()
	tracer := NewTracerProvider("pension", 0).Tracer("t")
	link := func(traceparent string) trace.Link {
		return trace.Link{SpanContext: trace.SpanContextFromContext(ContextWithTraceparent(context.Background(), traceparent))}
	}
	_, sp := tracer.Start(context.Background(), "projection apply", trace.WithLinks(link("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")))
	if !sp.SpanContext().IsSampled() {
		t.Error("a root linking to a sampled span was dropped")
	}
	_, sp = tracer.Start(context.Background(), "projection apply", trace.WithLinks(link("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")))
	if sp.SpanContext().IsSampled() {
		t.Error("a root linking only to an unsampled span was sampled at ratio 0")
	}
}

// TestTraceparentOfAnUnsampledSpan: a trace that is not recorded is not
// stored.
func TestTraceparentOfAnUnsampledSpan(t *testing.T) {
	t.Parallel()
	ctx := ContextWithTraceparent(context.Background(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if got := Traceparent(ctx); got != "" {
		t.Errorf("Traceparent of an unsampled span context = %q, want none", got)
	}
}
