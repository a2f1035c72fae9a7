// Package tracingtest holds what the tracing tests of several packages
// ask of the spans an in-memory exporter recorded.
package tracingtest

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// ServiceName is the service.name of the resource that recorded sp, or
// "" when it has none.
func ServiceName(sp tracetest.SpanStub) string {
	for _, a := range sp.Resource.Attributes() {
		if a.Key == "service.name" {
			return a.Value.AsString()
		}
	}
	return ""
}

// Describe lists spans one to a line, with their kind, name, trace, id
// and parent: what a failing test prints so that its trace can be read.
func Describe(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, sp := range spans {
		fmt.Fprintf(&b, "\n  %s %q trace %s span %s parent %s", sp.SpanKind, sp.Name, sp.SpanContext.TraceID(), sp.SpanContext.SpanID(), sp.Parent.SpanID())
	}
	return b.String()
}
