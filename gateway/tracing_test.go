package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/tracing/tracingtest"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/tracing"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// The names of the spans of GET /v1/retirees/{id}.
const (
	getRetireeRoute  = "GET /v1/retirees/{id}"
	getRetireeMethod = "socmgmt.registry.v1.RegistryService/GetRetiree"
)

// tracedStack is a real registry and a gateway in front of it, each with
// its own tracer provider (service.name "registry" and "gateway"), both
// exporting to spans; logs has the gateway's log lines.
type tracedStack struct {
	gw    *Gateway
	spans *tracetest.InMemoryExporter
	logs  *observer.ObservedLogs
	token string
}

func newTracedStack(t *testing.T) *tracedStack {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	provider := func(service string) *sdktrace.TracerProvider {
		tp := tracing.NewTracerProvider(service, 1, sdktrace.WithSyncer(spans))
		t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
		return tp
	}
	keys := servicetest.NewKeys(t)
	reg := registrytest.Start(t, registrytest.Options{Keys: keys, TracerProvider: provider("registry")})
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(reg.Addr())
	cfg.TracerProvider = provider("gateway")
	g, err := New(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return &tracedStack{gw: g, spans: spans, logs: logs, token: keys.Token(t, servicetest.Admin())}
}

// serve sends req to the gateway with the stack's admin token and
// returns the answer, failing t unless its status is want.
func (s *tracedStack) serve(t *testing.T, req *http.Request, want int) *httptest.ResponseRecorder {
	t.Helper()
	req.Header.Set("Authorization", "Bearer "+s.token)
	rec := httptest.NewRecorder()
	s.gw.ServeHTTP(rec, req)
	if rec.Code != want {
		t.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, rec.Code, want, rec.Body)
	}
	return rec
}

// serverSpan waits for the server span called name of the trace and
// returns it: a server span ends after its client has its answer.
func serverSpan(t *testing.T, spans *tracetest.InMemoryExporter, traceID trace.TraceID, name string) tracetest.SpanStub {
	t.Helper()
	var found tracetest.SpanStub
	waitfor.True(t, "server span "+name, func() bool {
		for _, sp := range spans.GetSpans() {
			if sp.Name == name && sp.SpanKind == trace.SpanKindServer && sp.SpanContext.TraceID() == traceID {
				found = sp
				return true
			}
		}
		return false
	})
	return found
}

// TestGatewayTraceReachesRegistry: a REST read continues the client's
// traceparent through the gateway's server span and its call to registry
// into registry's server span, one trace with each span the child of the
// one before; the gateway's access log names the trace; and no span of
// the create or the read names the retiree's ID number, phone or id, or
// the query string.
func TestGatewayTraceReachesRegistry(t *testing.T) {
	s := newTracedStack(t)
	idNumber := servicetest.IDNumber(7).Digits()
	const phone = "13912345678"
	body := fmt.Sprintf(`{"idNumber":%q,"name":"张三","communityId":%q,"enterpriseCreditCode":%q,"retirementDate":"2012-03-01","managementMode":"ENTERPRISE","phone":%q}`,
		idNumber, servicetest.CommunityA, servicetest.EnterpriseX, phone)
	create := httptest.NewRequest(http.MethodPost, "/v1/retirees", strings.NewReader(body))
	create.Header.Set("Content-Type", "application/json")
	var created struct{ ID string }
	if err := json.Unmarshal(s.serve(t, create, http.StatusOK).Body.Bytes(), &created); err != nil || created.ID == "" {
		t.Fatalf("create: %v, id %q", err, created.ID)
	}
	retireeID := created.ID

	const (
		clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		clientSpan  = "00f067aa0ba902b7"
	)
	get := httptest.NewRequest(http.MethodGet, "/v1/retirees/"+retireeID+"?view=full&phone="+phone, nil)
	get.Header.Set("traceparent", "00-"+clientTrace+"-00f067aa0ba90200-01")
	s.serve(t, get, http.StatusBadRequest) // the gateway refuses an unknown query parameter…
	get = httptest.NewRequest(http.MethodGet, "/v1/retirees/"+retireeID, nil)
	get.Header.Set("traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
	s.serve(t, get, http.StatusOK) // …and answers the plain read

	traceID, _ := trace.TraceIDFromHex(clientTrace)
	parent, _ := trace.SpanIDFromHex(clientSpan)
	registrySpan := serverSpan(t, s.spans, traceID, getRetireeMethod)
	var gwServer, gwClient tracetest.SpanStub
	for _, sp := range s.spans.GetSpans() {
		if sp.SpanContext.TraceID() != traceID {
			continue
		}
		switch {
		case sp.SpanKind == trace.SpanKindServer && sp.Name == getRetireeRoute && sp.Parent.SpanID() == parent:
			gwServer = sp
		case sp.SpanKind == trace.SpanKindClient && sp.Name == getRetireeMethod:
			gwClient = sp
		}
	}
	if !gwServer.SpanContext.IsValid() || !gwClient.SpanContext.IsValid() {
		t.Fatalf("want the gateway's server span %q (child of the client's) and client span %q in trace %s; have %s",
			getRetireeRoute, getRetireeMethod, clientTrace, tracingtest.Describe(s.spans.GetSpans()))
	}
	if gwClient.Parent.SpanID() != gwServer.SpanContext.SpanID() {
		t.Errorf("gateway client span's parent %s, want the gateway server span %s", gwClient.Parent.SpanID(), gwServer.SpanContext.SpanID())
	}
	if registrySpan.SpanKind != trace.SpanKindServer || registrySpan.Parent.SpanID() != gwClient.SpanContext.SpanID() {
		t.Errorf("registry span: kind %v, parent %s; want a server span, child of the gateway's client span %s",
			registrySpan.SpanKind, registrySpan.Parent.SpanID(), gwClient.SpanContext.SpanID())
	}
	if got := tracingtest.ServiceName(gwServer); got != "gateway" {
		t.Errorf("gateway span's service.name %q", got)
	}
	if got := tracingtest.ServiceName(registrySpan); got != "registry" {
		t.Errorf("registry span's service.name %q", got)
	}
	assertLogNamesTrace(t, s.logs, getRetireeRoute, clientTrace)
	assertNoSecrets(t, s.spans.GetSpans(), idNumber, phone, retireeID, "view=full")
}

// assertLogNamesTrace checks that the access log line of route carries
// the trace id.
func assertLogNamesTrace(t *testing.T, logs *observer.ObservedLogs, route, traceID string) {
	t.Helper()
	method, pattern, _ := strings.Cut(route, " ")
	for _, e := range logs.FilterMessage("http request").All() {
		f := e.ContextMap()
		if f["route"] == pattern && f["method"] == method && f["status"] == int64(http.StatusOK) {
			if f["trace_id"] != traceID || f["span_id"] == "" {
				t.Errorf("access log of %s: trace_id %v span_id %v, want trace %s", route, f["trace_id"], f["span_id"], traceID)
			}
			return
		}
	}
	t.Errorf("no access log line of %s", route)
}

// assertNoSecrets fails t when a span's name, attribute, event or status
// holds any of secrets.
func assertNoSecrets(t *testing.T, spans tracetest.SpanStubs, secrets ...string) {
	t.Helper()
	for _, sp := range spans {
		texts := []string{sp.Name, sp.Status.Description}
		for _, a := range sp.Attributes {
			texts = append(texts, string(a.Key)+"="+a.Value.String())
		}
		for _, e := range sp.Events {
			texts = append(texts, e.Name)
			for _, a := range e.Attributes {
				texts = append(texts, string(a.Key)+"="+a.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if strings.Contains(text, secret) {
					t.Errorf("span %q holds %q in %q", sp.Name, secret, text)
				}
			}
		}
	}
}
