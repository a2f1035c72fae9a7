package grpcserver

import (
	"context"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/socmgmt/socmgmt/internal/apierror"
)

// The test service, described by hand so that the package needs no
// generated code of its own.
const (
	echoService     = "grpcserver.test.Echo"
	echoUnaryMethod = "/" + echoService + "/Unary"
	echoWatchMethod = "/" + echoService + "/Watch"
	secretIDNumber  = "11010519491231002X"
	testSubject     = "clerk-7"
	principalMDKey  = "x-test-principal"
	panicValue      = "panic"
	requestIDValue  = "rid"
	ignoreStopValue = "ignore-stopping"
	codeValuePrefix = "code:"
	diskFullValue   = "disk-full"
)

// echoHandler is the HandlerType of the test service.
type echoHandler interface {
	Unary(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	Watch(*wrapperspb.StringValue, grpc.ServerStream) error
}

func echoServiceDesc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: echoService,
		HandlerType: (*echoHandler)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Unary",
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				in := new(wrapperspb.StringValue)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, req any) (any, error) {
					return srv.(echoHandler).Unary(ctx, req.(*wrapperspb.StringValue))
				}
				if ic == nil {
					return h(ctx, in)
				}
				return ic(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: echoUnaryMethod}, h)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Watch",
			ServerStreams: true,
			Handler: func(srv any, stream grpc.ServerStream) error {
				in := new(wrapperspb.StringValue)
				if err := stream.RecvMsg(in); err != nil {
					return err
				}
				return srv.(echoHandler).Watch(in, stream)
			},
		}},
	}
}

// echo answers according to the request's value: "panic" panics, "code:N"
// fails with code N, "rid" returns the request id, anything else is echoed.
type echo struct {
	srv *Server

	mu    sync.Mutex
	calls int
}

func (e *echo) Unary(ctx context.Context, in *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	e.mu.Lock()
	e.calls++
	e.mu.Unlock()
	Logger(ctx).Info("handler ran")
	switch v := in.GetValue(); {
	case v == panicValue:
		panic("cannot handle " + secretIDNumber)
	case v == requestIDValue:
		return wrapperspb.String(RequestID(ctx)), nil
	case v == diskFullValue:
		// As a store's write on a full disk reaches the error edge.
		return nil, apierror.ToStatus(ctx, nil, &fs.PathError{Op: "write", Path: "/srv/x.db", Err: syscall.ENOSPC})
	case strings.HasPrefix(v, codeValuePrefix):
		n, err := strconv.Atoi(strings.TrimPrefix(v, codeValuePrefix))
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, "bad code")
		}
		return nil, status.Error(codes.Code(n), "as asked")
	default:
		return wrapperspb.String(v), nil
	}
}

// Watch sends the request id, then waits for the client to leave or, unless
// asked not to, for the server to begin stopping.
func (e *echo) Watch(in *wrapperspb.StringValue, stream grpc.ServerStream) error {
	if in.GetValue() == panicValue {
		panic("cannot watch " + secretIDNumber)
	}
	if err := stream.SendMsg(wrapperspb.String(RequestID(stream.Context()))); err != nil {
		return err
	}
	stopping := e.srv.Stopping()
	if in.GetValue() == ignoreStopValue {
		stopping = nil
	}
	select {
	case <-stream.Context().Done():
		return stream.Context().Err()
	case <-stopping:
		return status.Error(codes.Unavailable, "server is stopping")
	}
}

func (e *echo) callCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

// principalKey is where fakeAuth puts the caller, as authn would.
type principalKey struct{}

// fakeAuth stands in for authn: it rejects calls without the principal
// metadata and puts the principal into the context.
func fakeAuth(ctx context.Context) (context.Context, error) {
	vals := metadata.ValueFromIncomingContext(ctx, principalMDKey)
	if len(vals) == 0 {
		return nil, status.Error(codes.Unauthenticated, "no principal")
	}
	return context.WithValue(ctx, principalKey{}, vals[0]), nil
}

func fakeAuthUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx, err := fakeAuth(ctx)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func fakeAuthStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, err := fakeAuth(ss.Context())
	if err != nil {
		return err
	}
	return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
}

func principalSubject(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

// harness is a Server with the test service, served over bufconn.
type harness struct {
	srv  *Server
	echo *echo
	conn *grpc.ClientConn
	logs *observer.ObservedLogs

	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

// start serves o (its Logger replaced by an observer) over bufconn.
func start(t *testing.T, o Options) *harness {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	// As in production, errors get zap's own stack trace.
	o.Logger = zap.New(core, zap.AddStacktrace(zapcore.ErrorLevel))
	srv := New(o)
	e := &echo{srv: srv}
	srv.GRPC().RegisterService(echoServiceDesc(), e)

	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{srv: srv, echo: e, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- srv.ServeListener(ctx, lis) }()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	h.conn = conn
	t.Cleanup(func() {
		_ = conn.Close()
		if err := h.stop(); err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})
	return h
}

// stop cancels the serving context and returns what ServeListener returned.
// It may be called from any goroutine; a stop that never ends is caught
// by the test's deadline.
func (h *harness) stop() error {
	h.stopOnce.Do(func() {
		h.cancel()
		h.stopErr = <-h.done
	})
	return h.stopErr
}

// unary calls the test service's Unary method with value and outgoing
// metadata md (key, value pairs), returning the reply value, the response
// header and the error.
func (h *harness) unary(t *testing.T, value string, md ...string) (string, metadata.MD, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	var header metadata.MD
	out := new(wrapperspb.StringValue)
	err := h.conn.Invoke(ctx, echoUnaryMethod, wrapperspb.String(value), out, grpc.Header(&header))
	return out.GetValue(), header, err
}

// watch opens the test service's Watch stream and reads its first message,
// the request id.
func (h *harness) watch(ctx context.Context, t *testing.T, value string, md ...string) (grpc.ClientStream, string) {
	t.Helper()
	if len(md) > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, md...)
	}
	cs, err := h.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, echoWatchMethod)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	if err := cs.SendMsg(wrapperspb.String(value)); err != nil {
		t.Fatalf("SendMsg: %v", err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	first := new(wrapperspb.StringValue)
	if err := cs.RecvMsg(first); err != nil {
		t.Fatalf("first RecvMsg: %v", err)
	}
	return cs, first.GetValue()
}

// accessLines returns the access log entries of method.
func (h *harness) accessLines(method string) []observer.LoggedEntry {
	return h.logs.FilterMessage("rpc").FilterField(zap.String("method", method)).AllUntimed()
}
