package grpcserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/socmgmt/socmgmt/internal/requestid"
	"github.com/socmgmt/socmgmt/internal/waitfor"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	const uuid, ulid = "3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6e", "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	tests := []struct {
		name     string
		incoming []string // x-request-id values the client sends
		want     string   // "" means a generated id is expected
	}{
		{name: "none", want: ""},
		{name: "uuid", incoming: []string{uuid}, want: uuid},
		{name: "ulid", incoming: []string{ulid}, want: ulid},
		{name: "free-form", incoming: []string{"req-1.A_b"}, want: ""},
		{name: "ID number", incoming: []string{"11010519491231002X"}, want: ""},
		{name: "36 letters", incoming: []string{strings.Repeat("a", 36)}, want: ""},
		{name: "space", incoming: []string{"a b"}, want: ""},
		{name: "injection", incoming: []string{`a","level":"error`}, want: ""},
		{name: "first of two", incoming: []string{ulid, uuid}, want: ulid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, Options{Name: "test"})
			var md []string
			for _, v := range tc.incoming {
				md = append(md, requestid.Key, v)
			}

			got, header, err := h.unary(t, requestIDValue, md...)
			if err != nil {
				t.Fatalf("Unary: %v", err)
			}
			echoed := header.Get(requestid.Key)
			if len(echoed) != 1 || echoed[0] != got {
				t.Errorf("header %s = %q, want [%q] as the handler saw", requestid.Key, echoed, got)
			}
			if tc.want != "" {
				if got != tc.want {
					t.Errorf("request id = %q, want %q", got, tc.want)
				}
			} else if !isGeneratedID(got) || slices.Contains(tc.incoming, got) {
				t.Errorf("request id = %q, want a fresh UUID", got)
			}
			lines := h.accessLines(echoUnaryMethod)
			if len(lines) != 1 || lines[0].ContextMap()["request_id"] != got {
				t.Errorf("access log = %v, want one line with request_id %q", lines, got)
			}
			handlerLines := h.logs.FilterMessage("handler ran").AllUntimed()
			if len(handlerLines) != 1 || handlerLines[0].ContextMap()["request_id"] != got {
				t.Errorf("handler log = %v, want one line with request_id %q from Logger(ctx)", handlerLines, got)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cs, streamID := h.watch(ctx, t, "", md...)
			sh, err := cs.Header()
			if err != nil {
				t.Fatalf("stream Header: %v", err)
			}
			if echoed := sh.Get(requestid.Key); len(echoed) != 1 || echoed[0] != streamID {
				t.Errorf("stream header %s = %q, want [%q] as the handler saw", requestid.Key, echoed, streamID)
			}
			if tc.want != "" && streamID != tc.want {
				t.Errorf("stream request id = %q, want %q", streamID, tc.want)
			}
			if tc.want == "" && (!isGeneratedID(streamID) || streamID == got) {
				t.Errorf("stream request id = %q, want a fresh UUID", streamID)
			}
		})
	}
}

func isGeneratedID(id string) bool {
	return requestid.Valid(id) && len(id) == 36
}

// interceptorPanicID is the request id that makes the test's inner
// interceptor panic.
const interceptorPanicID = "01HPANCZZZZZZZZZZZZZZZZZZZ"

func TestRequestIDAndLoggerOutsideCall(t *testing.T) {
	ctx := context.Background()
	if got := RequestID(ctx); got != "" {
		t.Errorf("RequestID(background) = %q, want empty", got)
	}
	if log := Logger(ctx); log == nil || log.Core().Enabled(zapcore.ErrorLevel) {
		t.Errorf("Logger(background) = %v, want a no-op logger", log)
	}
}

func TestPanicRecovery(t *testing.T) {
	t.Parallel()
	panicky := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if RequestID(ctx) == interceptorPanicID {
			panic(errors.New("interceptor saw " + secretIDNumber))
		}
		return handler(ctx, req)
	}
	h := start(t, Options{Name: "test", Unary: []grpc.UnaryServerInterceptor{panicky}})

	tests := []struct {
		name string
		call func() error
	}{
		{name: "unary handler", call: func() error {
			_, _, err := h.unary(t, panicValue)
			return err
		}},
		{name: "inner interceptor", call: func() error {
			_, _, err := h.unary(t, "x", requestid.Key, interceptorPanicID)
			return err
		}},
		{name: "stream handler", call: func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			cs, err := h.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, echoWatchMethod)
			if err != nil {
				return err
			}
			if err := cs.SendMsg(wrapperspb.String(panicValue)); err != nil {
				return err
			}
			return cs.RecvMsg(new(wrapperspb.StringValue))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.logs.FilterMessage("panic in gRPC handler").AllUntimed())
			err := tc.call()
			if status.Code(err) != codes.Internal || status.Convert(err).Message() != "internal error" {
				t.Errorf("error = %v, want Internal \"internal error\"", err)
			}
			panics := h.logs.FilterMessage("panic in gRPC handler").AllUntimed()
			if len(panics) != before+1 {
				t.Fatalf("panic log lines = %d, want %d", len(panics), before+1)
			}
			entry := panics[len(panics)-1]
			if entry.Level != zapcore.ErrorLevel {
				t.Errorf("panic logged at %v, want error", entry.Level)
			}
			if stack, _ := entry.ContextMap()["stack"].(string); !strings.Contains(stack, "grpcserver") {
				t.Errorf("panic log stack = %q, want a stack through this package", stack)
			}
			if entry.Stack != "" {
				t.Error("panic log carries zap's stack trace too, want only the stack field")
			}
			// The server keeps serving.
			if got, _, err := h.unary(t, "still here"); err != nil || got != "still here" {
				t.Errorf("call after panic = %q, %v; want echo", got, err)
			}
		})
	}
	assertNoSecretLogged(t, h)
}

func assertNoSecretLogged(t *testing.T, h *harness) {
	t.Helper()
	for _, e := range h.logs.AllUntimed() {
		if strings.Contains(e.Message, secretIDNumber) {
			t.Errorf("log message %q contains the ID number", e.Message)
		}
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, secretIDNumber) {
				t.Errorf("log field %s of %q contains the ID number", k, e.Message)
			}
		}
	}
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	h := start(t, Options{
		Name:    "test",
		Unary:   []grpc.UnaryServerInterceptor{fakeAuthUnary},
		Stream:  []grpc.StreamServerInterceptor{fakeAuthStream},
		Subject: principalSubject,
	})
	auth := []string{principalMDKey, testSubject, "x-id-number", secretIDNumber}
	tests := []struct {
		name        string
		value       string
		md          []string
		wantCode    string
		wantSubject string
	}{
		{name: "ok", value: secretIDNumber, md: auth, wantCode: "OK", wantSubject: testSubject},
		{name: "handler error", value: "code:5", md: auth, wantCode: "NotFound", wantSubject: testSubject},
		{name: "rejected by inner interceptor", value: "x", wantCode: "Unauthenticated", wantSubject: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.accessLines(echoUnaryMethod))
			_, header, _ := h.unary(t, tc.value, tc.md...)
			lines := h.accessLines(echoUnaryMethod)
			if len(lines) != before+1 {
				t.Fatalf("access lines = %d, want %d", len(lines), before+1)
			}
			e := lines[len(lines)-1]
			if e.Level != zapcore.InfoLevel {
				t.Errorf("level = %v, want info", e.Level)
			}
			fields := e.ContextMap()
			if _, ok := fields["duration"].(time.Duration); !ok {
				t.Errorf("duration = %#v, want a time.Duration", fields["duration"])
			}
			delete(fields, "duration")
			want := map[string]any{
				"method":     echoUnaryMethod,
				"code":       tc.wantCode,
				"subject":    tc.wantSubject,
				"request_id": header.Get(requestid.Key)[0],
			}
			if diff := cmp.Diff(want, fields); diff != "" {
				t.Errorf("access log fields (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cs, _ := h.watch(ctx, t, "", auth...)
		cancel()
		if err := cs.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Canceled {
			t.Fatalf("RecvMsg after cancel = %v, want Canceled", err)
		}
		// The server notices the cancellation on its own time.
		waitfor.True(t, "the stream's access log line", func() bool { return len(h.accessLines(echoWatchMethod)) == 1 })
		fields := h.accessLines(echoWatchMethod)[0].ContextMap()
		if fields["subject"] != testSubject || fields["code"] != "Canceled" {
			t.Errorf("stream access log = %v, want subject %q and code Canceled", fields, testSubject)
		}
	})

	t.Run("health at debug", func(t *testing.T) {
		if _, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health Check: %v", err)
		}
		lines := h.accessLines("/grpc.health.v1.Health/Check")
		if len(lines) != 1 || lines[0].Level != zapcore.DebugLevel {
			t.Errorf("health access log = %v, want one line at debug", lines)
		}
	})

	assertNoSecretLogged(t, h)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := start(t, Options{Name: "test", Registry: reg})
	if h.srv.Metrics() != reg {
		t.Fatal("Metrics() is not the registry passed in")
	}
	for _, v := range []string{"a", "b", "code:5", panicValue} {
		_, _, _ = h.unary(t, v)
	}

	const want = `
# HELP socmgmt_grpc_requests_total gRPC calls completed, by gRPC service, method and status code.
# TYPE socmgmt_grpc_requests_total counter
socmgmt_grpc_requests_total{code="Internal",method="Unary",service="grpcserver.test.Echo"} 1
socmgmt_grpc_requests_total{code="NotFound",method="Unary",service="grpcserver.test.Echo"} 1
socmgmt_grpc_requests_total{code="OK",method="Unary",service="grpcserver.test.Echo"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "socmgmt_grpc_requests_total"); err != nil {
		t.Error(err)
	}
	if got := histogramCount(t, reg, "socmgmt_grpc_request_duration_seconds", "Unary"); got != 4 {
		t.Errorf("duration histogram count = %d, want 4", got)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s: %d series, %v; want the Go and process collectors", name, n, err)
		}
	}

	// A second server on the same registry shares the collectors.
	other := New(Options{Name: "other", Registry: reg})
	other.metrics.observe(echoUnaryMethod, codes.OK, time.Millisecond)
	if got := testutil.ToFloat64(h.srv.metrics.requests.WithLabelValues(echoService, "Unary", "OK")); got != 3 {
		t.Errorf("shared counter = %v, want 3", got)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name, method string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && l.GetValue() == method {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

func TestInnerInterceptors(t *testing.T) {
	t.Parallel()
	var order []string
	record := func(name string) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if RequestID(ctx) == "" {
				t.Errorf("interceptor %s ran before the request id was set", name)
			}
			order = append(order, name)
			return handler(ctx, req)
		}
	}
	h := start(t, Options{
		Name:    "test",
		Unary:   []grpc.UnaryServerInterceptor{record("first"), fakeAuthUnary, record("after auth")},
		Stream:  []grpc.StreamServerInterceptor{fakeAuthStream},
		Subject: func(ctx context.Context) string { order = append(order, "subject"); return principalSubject(ctx) },
	})

	tests := []struct {
		name      string
		md        []string
		wantCode  codes.Code
		wantOrder []string
		wantCalls int
	}{
		{name: "rejected", wantCode: codes.Unauthenticated, wantOrder: []string{"first"}, wantCalls: 0},
		{name: "allowed", md: []string{principalMDKey, testSubject}, wantCode: codes.OK,
			wantOrder: []string{"first", "first", "after auth", "subject"}, wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := h.unary(t, "x", tc.md...)
			if status.Code(err) != tc.wantCode {
				t.Errorf("code = %v, want %v", status.Code(err), tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantOrder, order); diff != "" {
				t.Errorf("interceptor order (-want +got):\n%s", diff)
			}
			if got := h.echo.callCount(); got != tc.wantCalls {
				t.Errorf("handler calls = %d, want %d", got, tc.wantCalls)
			}
		})
	}

	t.Run("stream rejected", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs, err := h.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, echoWatchMethod)
		if err != nil {
			t.Fatalf("NewStream: %v", err)
		}
		if err := cs.SendMsg(wrapperspb.String("x")); err != nil {
			t.Fatalf("SendMsg: %v", err)
		}
		if err := cs.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Unauthenticated {
			t.Errorf("RecvMsg = %v, want Unauthenticated", err)
		}
	})

	t.Run("health and reflection skip them", func(t *testing.T) {
		order = nil
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := healthpb.NewHealthClient(h.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
			t.Errorf("health Check without a principal: %v", err)
		}
		rs, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatalf("ServerReflectionInfo: %v", err)
		}
		if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if _, err := rs.Recv(); err != nil {
			t.Errorf("reflection without a principal: %v", err)
		}
		if len(order) != 0 {
			t.Errorf("inner interceptors ran: %v", order)
		}
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Name: "test", DrainDelay: time.Second})
	health := healthpb.NewHealthClient(h.conn)
	ctx := context.Background()

	checkAll := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		for _, svc := range []string{"", "test", echoService} {
			resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != want {
				t.Errorf("Check(%q) = %v, %v; want %v", svc, resp.GetStatus(), err, want)
			}
		}
	}
	checkAll(healthpb.HealthCheckResponse_SERVING)

	watchCtx, cancelWatch := context.WithCancel(ctx)
	defer cancelWatch()
	hw, err := health.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health Watch: %v", err)
	}
	if resp, err := hw.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Watch first = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	stream, _ := h.watch(watchCtx, t, "")

	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()

	<-h.srv.Stopping()
	// During the drain delay the server still answers, with NOT_SERVING.
	checkAll(healthpb.HealthCheckResponse_NOT_SERVING)
	if resp, err := hw.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health Watch after stop = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	// Both long streams end by themselves, so the graceful stop completes.
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Unavailable {
		t.Errorf("echo Watch after stop = %v, want Unavailable", err)
	}
	if _, err := hw.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("health Watch end = %v, want Unavailable", err)
	}
	// Had a stream held the graceful stop, it would be forced at the
	// shutdown timeout, which the log below would show.
	if err := waitfor.Receive(t, "ServeListener to return", stopped); err != nil {
		t.Errorf("ServeListener = %v, want nil", err)
	}
	if n := h.logs.FilterMessage("gRPC graceful stop timed out, cancelling remaining calls").Len(); n != 0 {
		t.Errorf("shutdown was forced, want graceful")
	}
}

func TestShutdownTimeoutCancelsStuckCalls(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Name: "test", ShutdownTimeout: 100 * time.Millisecond})
	stream, _ := h.watch(context.Background(), t, ignoreStopValue)
	if err := h.stop(); err != nil {
		t.Errorf("ServeListener = %v, want nil", err)
	}
	if n := h.logs.FilterMessage("gRPC graceful stop timed out, cancelling remaining calls").Len(); n != 1 {
		t.Errorf("forced-stop log lines = %d, want 1", n)
	}
	if err := stream.RecvMsg(new(wrapperspb.StringValue)); err == nil {
		t.Error("stuck stream still open after a forced stop")
	}
}

func TestServeListenerTwice(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Name: "test"})
	// A served call proves the harness's ServeListener is the one running.
	if _, _, err := h.unary(t, "x"); err != nil {
		t.Fatalf("Unary: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // should it serve after all, return at once
	if err := h.srv.ServeListener(ctx, lis); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second ServeListener = %v, want ErrAlreadyStarted", err)
	}
	if err := h.srv.Run(ctx); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Run without GRPCAddr = %v, want ErrInvalidOption", err)
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	h := start(t, Options{Name: "test"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rs, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	resp, err := rs.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	var got []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		got = append(got, s.GetName())
	}
	for _, want := range []string{echoService, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(got, want) {
			t.Errorf("reflection lists %v, want it to contain %s", got, want)
		}
	}
	_ = rs.CloseSend()
}

func TestAdminHandler(t *testing.T) {
	srv := New(Options{
		Name: "test",
		AdminHandlers: map[string]http.Handler{
			"/debug/hello": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }),
		},
	})
	srv.GRPC().RegisterService(echoServiceDesc(), &echo{srv: srv})
	admin := httptest.NewServer(srv.AdminHandler())
	defer admin.Close()

	type check struct {
		path     string
		wantCode int
		wantBody string // substring
	}
	run := func(phase string, checks ...check) {
		t.Helper()
		for _, c := range checks {
			code, body := httpGet(t, admin.URL+c.path)
			if code != c.wantCode || !strings.Contains(body, c.wantBody) {
				t.Errorf("%s: GET %s = %d %.80q, want %d containing %q", phase, c.path, code, body, c.wantCode, c.wantBody)
			}
		}
	}

	run("before serving",
		check{"/healthz", http.StatusServiceUnavailable, "not serving"},
		// No AdminVerifier: the admin routes answer no one.
		check{"/debug/hello", http.StatusForbidden, "forbidden"},
		check{"/metrics", http.StatusOK, "go_goroutines"},
	)

	ctx, cancel := context.WithCancel(context.Background())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, lis) }()
	waitfor.True(t, "the admin /healthz to answer 200", func() bool { code, _ := httpGet(t, admin.URL+"/healthz"); return code == http.StatusOK })
	conn := dial(t, lis.Addr().String())
	if err := conn.Invoke(context.Background(), echoUnaryMethod, wrapperspb.String("x"), new(wrapperspb.StringValue)); err != nil {
		t.Fatalf("Unary over TCP: %v", err)
	}
	run("serving",
		check{"/healthz", http.StatusOK, "ok"},
		check{"/metrics", http.StatusOK, `socmgmt_grpc_requests_total{code="OK",method="Unary",service="grpcserver.test.Echo"} 1`},
		check{"/metrics", http.StatusOK, "socmgmt_grpc_request_duration_seconds_bucket"},
		check{"/metrics", http.StatusOK, "process_cpu_seconds_total"},
	)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("ServeListener = %v", err)
	}
	run("after shutdown", check{"/healthz", http.StatusServiceUnavailable, "not serving"})
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s body: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestRun(t *testing.T) {
	grpcAddr, adminAddr := freeAddr(t), freeAddr(t)
	srv := New(Options{Name: "test", GRPCAddr: grpcAddr, AdminAddr: adminAddr})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	waitfor.True(t, "the admin /healthz to answer 200", func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	resp, err := healthpb.NewHealthClient(dial(t, grpcAddr)).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "test"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health Check over TCP = %v, %v; want SERVING", resp.GetStatus(), err)
	}

	cancel()
	if err := waitfor.Receive(t, "Run to return after cancel", done); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	for _, addr := range []string{grpcAddr, adminAddr} {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			t.Errorf("%s still accepts connections after Run returned", addr)
		}
	}
}

func TestRunErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name          string
		grpcAddr      string
		adminAddr     string
		wantIs        error
		wantFreedGRPC bool
	}{
		{name: "no gRPC address", wantIs: ErrInvalidOption},
		{name: "gRPC address busy", grpcAddr: busy.Addr().String()},
		{name: "admin address busy", grpcAddr: freeAddr(t), adminAddr: busy.Addr().String(), wantFreedGRPC: true},
		{name: "bad admin address", grpcAddr: freeAddr(t), adminAddr: "127.0.0.1:notaport", wantFreedGRPC: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := New(Options{Name: "test", GRPCAddr: tc.grpcAddr, AdminAddr: tc.adminAddr})
			ctx, cancel := waitfor.Context(t)
			defer cancel()
			err := srv.Run(ctx)
			if err == nil {
				t.Fatal("Run = nil, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Run = %v, want errors.Is %v", err, tc.wantIs)
			}
			if tc.wantFreedGRPC {
				lis, err := net.Listen("tcp", tc.grpcAddr)
				if err != nil {
					t.Errorf("gRPC address not released after a failed Run: %v", err)
				} else {
					_ = lis.Close()
				}
			}
		})
	}
}

func TestErrCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"status", status.Error(codes.NotFound, "x"), codes.NotFound},
		{"wrapped status", errors.Join(errors.New("ctx"), status.Error(codes.Aborted, "x")), codes.Aborted},
		{"canceled", context.Canceled, codes.Canceled},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded},
		{"plain", errors.New("boom"), codes.Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errCode(tc.err); got != tc.want {
				t.Errorf("errCode(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestSplitMethod(t *testing.T) {
	tests := []struct{ in, wantService, wantMethod string }{
		{"/socmgmt.registry.v1.RegistryService/GetRetiree", "socmgmt.registry.v1.RegistryService", "GetRetiree"},
		{"/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check"},
		{"odd", "unknown", "odd"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			svc, m := splitMethod(tc.in)
			if svc != tc.wantService || m != tc.wantMethod {
				t.Errorf("splitMethod(%q) = %q, %q; want %q, %q", tc.in, svc, m, tc.wantService, tc.wantMethod)
			}
		})
	}
}
