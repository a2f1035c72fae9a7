package tracing

import (
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/socmgmt/socmgmt/internal/httpmethod"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// urlKey is the context key under which HTTPHandler keeps the request's
// URL while otelhttp looks at the request without it.
type urlKey struct{}

// HTTPHandler returns h with a server span around each request, which
// continues the W3C traceparent the client sent, if any; none when tp is
// nil, and none for the paths in untraced (health probes). The span is
// named by the method until SetRoute names the route pattern: never the
// path, nor the query, which may hold identifiers: otelhttp records
// url.path, so it is shown the request with an empty URL, and the
// handler gets the URL back. (otelhttp reads nothing else of the URL,
// nor RequestURI.)
func HTTPHandler(tp trace.TracerProvider, h http.Handler, untraced ...string) http.Handler {
	if tp == nil {
		return h
	}
	restore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// r is otelhttp's own copy of the request.
		if u, ok := r.Context().Value(urlKey{}).(*url.URL); ok {
			r.URL = u
		}
		h.ServeHTTP(w, r)
	})
	traced := otelhttp.NewHandler(restore, "",
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithMeterProvider(noop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return httpmethod.Label(r.Method) }),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if slices.Contains(untraced, r.URL.Path) {
			h.ServeHTTP(w, r)
			return
		}
		bare := r.WithContext(context.WithValue(r.Context(), urlKey{}, r.URL))
		bare.URL = &url.URL{}
		traced.ServeHTTP(w, bare)
	})
}

// SetRoute names the server span in ctx for its route pattern, as
// "GET /v1/retirees/{id}", and records the pattern as http.route. It does
// nothing when the span is not recorded.
func SetRoute(ctx context.Context, method, route string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetName(method + " " + route)
	span.SetAttributes(semconv.HTTPRoute(route))
}
