// Package tracing is how every socmgmt program takes part in OpenTelemetry
// tracing: the tracer provider a program builds from the OTEL_*
// environment (exporting over OTLP only when an endpoint is set), the
// W3C trace context that crosses the gateway, the services and the
// handover outbox, the gRPC and HTTP instrumentation installed alike in
// every program, and the trace id in log lines.
//
// A nil trace.TracerProvider means tracing is off: every helper here then
// installs nothing, so that a program that does not export pays nothing
// on its hot paths (see README, "Tracing").
package tracing

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// ProtocolHTTP is the one OTLP protocol the programs speak: the
// specification's default, which every collector takes, so that one
// exporter (and its dependencies) is enough.
const ProtocolHTTP = "http/protobuf"

// ErrInvalidOption is wrapped by the errors of an unusable setting.
var ErrInvalidOption = errors.New("tracing: invalid option")

// Config says whether and how a program exports its spans. A program
// reads it from the standard OpenTelemetry environment (FromEnv); the
// exporter itself reads the rest of OTEL_EXPORTER_OTLP_* (headers,
// certificates, timeout, compression), the SDK OTEL_TRACES_SAMPLER and
// OTEL_BSP_*.
type Config struct {
	// Endpoint is where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
	// OTEL_EXPORTER_OTLP_ENDPOINT. Empty turns tracing off.
	Endpoint string
	// Protocol is ProtocolHTTP, the specification's default and the only
	// one offered: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
	// OTEL_EXPORTER_OTLP_PROTOCOL, may name it.
	Protocol string
	// Ratio is the share of the traces started here (a request without
	// a traceparent) that are sampled: OTEL_TRACES_SAMPLER_ARG with
	// OTEL_TRACES_SAMPLER=parentbased_traceidratio, 0 with
	// parentbased_always_off, else 1. A trace a caller started is sampled
	// as the caller says.
	Ratio float64
}

// Enabled reports whether c exports spans.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// FromEnv reads Config from the environment through getenv (os.Getenv).
// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn tracing off
// whatever the endpoint. A protocol other than http/protobuf is an
// error wrapping ErrInvalidOption.
func FromEnv(getenv func(string) string) (Config, error) {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				return v
			}
		}
		return ""
	}
	if strings.EqualFold(first("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(first("OTEL_TRACES_EXPORTER"), "none") {
		return Config{}, nil
	}
	c := Config{
		Endpoint: first("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
		Protocol: first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
	}
	ratio, err := ratioFromEnv(first("OTEL_TRACES_SAMPLER"), first("OTEL_TRACES_SAMPLER_ARG"))
	if err != nil {
		return Config{}, err
	}
	c.Ratio = ratio
	switch c.Protocol {
	case "":
		c.Protocol = ProtocolHTTP
	case ProtocolHTTP:
	default:
		return Config{}, fmt.Errorf("%w: OTLP protocol %q: only http/protobuf is supported", ErrInvalidOption, c.Protocol)
	}
	return c, nil
}

// ratioFromEnv is Config.Ratio for the sampler named by
// OTEL_TRACES_SAMPLER and its argument. Only the parent-based samplers
// are offered: a service always follows its caller's decision.
func ratioFromEnv(sampler, arg string) (float64, error) {
	switch sampler {
	case "", "parentbased_always_on":
		return 1, nil
	case "parentbased_always_off":
		return 0, nil
	case "parentbased_traceidratio":
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("%w: OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", ErrInvalidOption, arg)
		}
		return r, nil
	}
	return 0, fmt.Errorf("%w: OTEL_TRACES_SAMPLER %q: want parentbased_always_on, parentbased_always_off or parentbased_traceidratio", ErrInvalidOption, sampler)
}

// Provider is a program's tracer provider; the zero Provider (tracing
// off) has none.
type Provider struct {
	sdk *sdktrace.TracerProvider
}

// Start builds the tracer provider of the program service ("registry",
// "gateway") as c says: with c enabled, its spans carry service.name and
// go to the OTLP/HTTP exporter through a batch span processor; otherwise
// the Provider is off. The exporter connects when it first sends, so a
// collector that is down does not stop the program.
//
// opts come after the provider's own: the gateway passes EdgeSampler.
func Start(ctx context.Context, c Config, service string, opts ...sdktrace.TracerProviderOption) (*Provider, error) {
	if !c.Enabled() {
		return &Provider{}, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return &Provider{sdk: NewTracerProvider(service, c.Ratio, append([]sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp)}, opts...)...)}, nil
}

// StartFromEnv starts the tracer provider of the program service as the
// environment says (FromEnv, then Start, with EdgeSampler when edge: the
// gateway's) and logs how, and returns
// the provider to trace with (nil when tracing is off) and the function
// that sends the spans still queued at exit, within timeout. Spans that
// cannot be sent then are a warning, not a failed stop: a collector that
// is down must not turn a clean SIGTERM into an error.
func StartFromEnv(ctx context.Context, service string, edge bool, timeout time.Duration, log *zap.Logger) (trace.TracerProvider, func(), error) {
	c, err := FromEnv(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	var opts []sdktrace.TracerProviderOption
	if edge {
		opts = append(opts, EdgeSampler(c.Ratio))
	}
	p, err := Start(ctx, c, service, opts...)
	if err != nil {
		return nil, nil, err
	}
	if c.Enabled() {
		log.Info("tracing", zap.String("otlp_protocol", c.Protocol), zap.Float64("sample_ratio", c.Ratio))
	}
	return p.TracerProvider(), func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			log.Warn("tracing: spans not sent at exit", zap.Error(err))
		}
	}, nil
}

// EdgeSampler is the sampler of a program that faces callers it does not
// trust, the gateway: it continues a caller's trace (the trace id, the
// parent) but takes its own decision, the share ratio, whatever the
// caller's sampled flag says, so that a client cannot make every request
// traced. The services behind it follow the decision it passes on.
func EdgeSampler(ratio float64) sdktrace.TracerProviderOption {
	// A caller's trace id is the caller's choice, so a caller's trace is
	// sampled by a draw of the gateway's own, not by its id as
	// TraceIDRatioBased would (an id whose low bytes are 0 would always
	// be sampled).
	drawn := drawnShare(ratio)
	return sdktrace.WithSampler(sampler{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio),
		sdktrace.WithRemoteParentSampled(drawn), sdktrace.WithRemoteParentNotSampled(drawn))})
}

// drawnShare samples its share of spans by a random draw.
type drawnShare float64

// ShouldSample implements sdktrace.Sampler.
func (r drawnShare) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.Drop
	if rand.Float64() < float64(r) { //nolint:gosec // G404: a sampling draw, not a secret
		d = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

// Description implements sdktrace.Sampler.
func (r drawnShare) Description() string { return fmt.Sprintf("DrawnShare{%g}", float64(r)) }

// NewTracerProvider is the SDK's tracer provider for service with opts
// (a span processor): Start's, and the tests' with an in-memory
// exporter. It samples the share ratio of the traces it starts, follows
// its callers' decisions for the others, and starts no trace at a client
// call (see sampler).
func NewTracerProvider(service string, ratio float64, opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	res := resource.NewSchemaless(semconv.ServiceName(service))
	// Default holds the SDK's attributes and OTEL_RESOURCE_ATTRIBUTES;
	// the program's own name wins. Merging a schemaless resource cannot
	// fail.
	if merged, err := resource.Merge(resource.Default(), res); err == nil {
		res = merged
	}
	base := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler{sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))}),
	}
	return sdktrace.NewTracerProvider(append(base, opts...)...)
}

// sampler is the programs' sampler: it drops a client span that has no
// parent, samples a span without a parent that links to a sampled span,
// and samples the rest as its Sampler says. A service's own background
// calls (the change feed it follows, the revocation list it polls, an
// outbox command queued without a trace) so start no trace; the calls
// made for a request, or for a command that stored the request's trace,
// belong to that trace; and a projection's update is kept whenever the
// change it applies was, so that the link leads somewhere.
type sampler struct{ sdktrace.Sampler }

// ShouldSample implements sdktrace.Sampler.
func (s sampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if trace.SpanContextFromContext(p.ParentContext).IsValid() {
		return s.Sampler.ShouldSample(p)
	}
	if p.Kind == trace.SpanKindClient {
		return sdktrace.SamplingResult{Decision: sdktrace.Drop}
	}
	for _, l := range p.Links {
		if l.SpanContext.IsSampled() {
			return sdktrace.SamplingResult{Decision: sdktrace.RecordAndSample}
		}
	}
	return s.Sampler.ShouldSample(p)
}

// Description implements sdktrace.Sampler.
func (s sampler) Description() string { return "NoClientRoots{" + s.Sampler.Description() + "}" }

// TracerProvider returns the provider to trace with, or nil when tracing
// is off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk
}

// Shutdown sends the spans still queued and stops the exporter; a
// program calls it on its way out, within its shutdown timeout. It does
// nothing when tracing is off.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// Propagator is the one propagation format of socmgmt: W3C trace context
// (traceparent, tracestate). Baggage is not carried: nothing reads it,
// and a client could put anything there.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// traceparentKey is the W3C header, and gRPC metadata key, of a trace
// context.
const traceparentKey = "traceparent"

// Traceparent returns the W3C traceparent of the span in ctx, or "" when
// ctx has no sampled span: what an outbox command or a change-log entry
// stores so that the work done for it later joins, or links to, the trace
// of the request that made it. A trace that is not recorded is not worth
// storing: nothing would join it. The trace state is not kept.
func Traceparent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	// As propagation.TraceContext writes it, in one allocation.
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	n := copy(b[:], "00-")
	n += hex.Encode(b[n:], tid[:])
	b[n] = '-'
	n++
	n += hex.Encode(b[n:], sid[:])
	b[n] = '-'
	n++
	hex.Encode(b[n:], []byte{byte(sc.TraceFlags() & trace.FlagsSampled)})
	return string(b[:])
}

// ContextWithTraceparent returns ctx with the remote span context that
// traceparent names, or ctx itself when traceparent is empty or not a
// valid W3C traceparent.
func ContextWithTraceparent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator().Extract(ctx, propagation.MapCarrier{traceparentKey: traceparent})
}
