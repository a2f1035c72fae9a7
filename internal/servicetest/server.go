package servicetest

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/waitfor"
)

const (
	// bufSize is the in-memory listener's buffer: room for the largest
	// messages the tests send (a handover of thousands of retirees).
	bufSize = 4 << 20
	// defaultShutdownTimeout bounds a graceful stop unless Options says
	// otherwise.
	defaultShutdownTimeout = 10 * time.Second
)

// Options say how Serve serves a service.
type Options struct {
	// Name is the service's name, as its program gives it to grpcserver.
	Name string
	// Keys verify the callers' tokens with the authn interceptors, as the
	// programs do. Zero Keys check no tokens: a fake of another service.
	Keys Keys
	// Register adds the service to each server started. It is called
	// again on a restart, so that it can use a reopened store; srv is
	// there for services that end their streams when srv.Stopping().
	Register func(srv *grpcserver.Server)
	// TCP serves on a loopback port, the same one after a restart,
	// instead of an in-memory listener: for a server that a child process
	// must reach.
	TCP bool
	// ShutdownTimeout bounds each graceful stop; 10 s when zero.
	ShutdownTimeout time.Duration
	// Logger is the server's log; the test's, from warnings up, when nil.
	Logger *zap.Logger
	// Revocations are the revoked tokens the server refuses; registry's
	// tests share the list with the registry server that fills it. Nil:
	// none.
	Revocations *authn.Revocations
	// Limiter, when set, charges the callers' budgets after the authn
	// interceptors, as the programs do; nil limits nothing.
	Limiter *limits.Limiter
	// TracerProvider traces the server's calls, as a program's with
	// tracing on; nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Server is a service served as its program serves it: the grpcserver
// bootstrap with the authn interceptors. It can be stopped and started
// again where its clients expect it, as a restarted process would be.
type Server struct {
	t testing.TB
	o Options

	mu sync.Mutex
	// addr is the TCP address, kept across restarts; lis the current
	// in-memory listener.
	addr   string
	lis    *bufconn.Listener
	cancel context.CancelFunc
	served chan error

	connOnce sync.Once
	conn     *grpc.ClientConn
}

// Serve starts a Server. It stops at the end of the test, before the
// cleanups registered earlier run: a store opened before Serve closes
// after its server has stopped.
func Serve(t testing.TB, o Options) *Server {
	t.Helper()
	if o.ShutdownTimeout == 0 {
		o.ShutdownTimeout = defaultShutdownTimeout
	}
	if o.Logger == nil {
		o.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	s := &Server{t: t, o: o}
	if o.TCP {
		s.addr = "127.0.0.1:0"
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start serves again after Stop, on the same address; it does nothing
// while the server runs.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	o := s.o
	var unary []grpc.UnaryServerInterceptor
	var stream []grpc.StreamServerInterceptor
	if o.Keys.Public != nil {
		// As the programs verify (authn.TokenPolicy): tokens for
		// every program or for this one alone.
		v := authn.NewVerifier(o.Keys.Public,
			authn.WithAudience(authn.Audience, authn.ServiceAudience(o.Name)), authn.WithRevocations(o.Revocations))
		unary = append(unary, v.UnaryInterceptor())
		stream = append(stream, v.StreamInterceptor())
	}
	if o.Limiter != nil {
		unary = append(unary, o.Limiter.UnaryInterceptor())
		stream = append(stream, o.Limiter.StreamInterceptor())
	}
	srv := grpcserver.New(grpcserver.Options{
		Name: o.Name, Logger: o.Logger, Unary: unary, Stream: stream, ShutdownTimeout: o.ShutdownTimeout,
		TracerProvider: o.TracerProvider,
	})
	o.Register(srv)
	lis := s.listen()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.served = cancel, make(chan error, 1)
	go func(served chan<- error) { served <- srv.ServeListener(ctx, lis) }(s.served)
}

// listen returns a fresh in-memory listener, or binds the server's TCP
// address: the port of a stopped server can take a moment to be free.
func (s *Server) listen() net.Listener {
	s.t.Helper()
	if !s.o.TCP {
		s.lis = bufconn.Listen(bufSize)
		return s.lis
	}
	var lis net.Listener
	var lc net.ListenConfig
	waitfor.NoError(s.t, s.o.Name+" to bind "+s.addr, func(ctx context.Context) error {
		var err error
		lis, err = lc.Listen(ctx, "tcp", s.addr)
		return err
	})
	s.addr = lis.Addr().String()
	return lis
}

// Stop shuts the server down gracefully, as its program does on SIGTERM,
// and waits for it; it does nothing when the server is stopped. Calls
// fail with Unavailable until Start.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel == nil {
		return
	}
	s.cancel()
	// A stop right after a start can reach GracefulStop before Serve ran,
	// which then reports ErrServerStopped: no failure of the test's.
	err := waitfor.Receive(s.t, s.o.Name+" to stop", s.served)
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		s.t.Errorf("%s: serve: %v", s.o.Name, err)
	}
	s.cancel = nil
}

// Addr is the server's loopback address; empty when it serves in memory.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.o.TCP {
		return ""
	}
	return s.addr
}

// Conn is a connection to the server whose calls carry the token of their
// context, if any; it follows restarts and closes at the end of the test.
func (s *Server) Conn() *grpc.ClientConn {
	s.t.Helper()
	s.connOnce.Do(func() { s.conn = s.Dial() })
	return s.conn
}

// RecvN receives n messages from a server stream, failing t on an error
// before the n-th.
func RecvN[T any](t testing.TB, stream grpc.ServerStreamingClient[T], n int) []*T {
	t.Helper()
	out := make([]*T, 0, n)
	for len(out) < n {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// Dial returns a new connection to the server with extra options, such as
// a service's credentials or interceptors; it closes at the end of the
// test. It reconnects soon after a restart, not after gRPC's default
// backoff of up to two minutes.
func (s *Server) Dial(opts ...grpc.DialOption) *grpc.ClientConn {
	s.t.Helper()
	target := "passthrough:///" + s.o.Name
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 200 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}),
	}
	if s.o.TCP {
		target = s.Addr()
	} else {
		base = append(base, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			s.mu.Lock()
			lis := s.lis
			s.mu.Unlock()
			return lis.DialContext(ctx)
		}))
	}
	conn, err := grpc.NewClient(target, append(base, opts...)...)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { _ = conn.Close() })
	return conn
}
