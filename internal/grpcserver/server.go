// Package grpcserver is the process bootstrap that every socmgmt service
// shares: a grpc.Server whose calls get a request id, panic recovery, an
// access log line and Prometheus metrics around the service's own
// interceptors; gRPC health and server reflection; an admin HTTP server for
// /metrics and /healthz; and a graceful shutdown that load balancers can
// follow.
package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/procflags"
	"github.com/socmgmt/socmgmt/internal/tracing"
)

// DefaultShutdownTimeout is how long a shutdown waits for in-flight calls
// when Options.ShutdownTimeout is zero: the default of every program's
// -shutdown-timeout.
const DefaultShutdownTimeout = procflags.DefaultShutdownTimeout

const (
	maxRecvMsgSize       = 4 << 20
	maxConcurrentStreams = 1024

	// adminReadHeaderTimeout bounds slow-header clients on the admin port.
	// There is deliberately no WriteTimeout: an admin handler such as an
	// online backup streams a whole database file.
	adminReadHeaderTimeout = 5 * time.Second
	adminIdleTimeout       = time.Minute
)

// ErrInvalidOption is wrapped by the errors returned for unusable settings:
// an empty GRPCAddr, and every problem Flags.Validate finds.
var ErrInvalidOption = errors.New("grpcserver: invalid option")

// ErrAlreadyStarted is returned by Run and ServeListener when the Server has
// served before: a grpc.Server cannot be restarted.
var ErrAlreadyStarted = errors.New("grpcserver: server already started")

// Options configures a Server. Zero values are usable except where noted.
type Options struct {
	// Name is the service's short name ("registry"). It is reported as a
	// health service beside the overall "" one.
	Name string
	// GRPCAddr is the host:port that Run listens on for gRPC. Required by Run.
	GRPCAddr string
	// AdminAddr is the host:port of the admin HTTP server (/metrics, /healthz,
	// AdminHandlers). Empty means no admin server.
	AdminAddr string
	// Logger receives the access log and the server's own events. Nil means
	// no logs.
	Logger *zap.Logger
	// Unary are the service's own unary interceptors (authentication, ...).
	// They run in order inside the bootstrap's request id and panic recovery,
	// so they see RequestID and Logger and their panics are recovered.
	// Health and reflection calls skip them: probes carry no token.
	Unary []grpc.UnaryServerInterceptor
	// Stream are the service's own stream interceptors, placed like Unary.
	Stream []grpc.StreamServerInterceptor
	// Subject names the caller for the access log. It is called with the
	// context the inner interceptors hand to the handler, so it sees what
	// authentication put there. Nil logs an empty subject.
	Subject func(ctx context.Context) string
	// AdminHandlers are extra routes on the admin server, keyed by
	// http.ServeMux pattern; like the profiles they answer only loopback
	// callers with an admin token (see adminhttp). A pattern that is
	// invalid or collides with /metrics, /healthz or the profiles makes
	// New panic, as http.ServeMux.Handle does.
	AdminHandlers map[string]http.Handler
	// AdminVerifier checks the admin tokens of the profiles and
	// AdminHandlers. Nil refuses those routes to everyone.
	AdminVerifier adminhttp.Verifier
	// Registry receives the server's metrics and the Go and process
	// collectors and is what /metrics serves. Nil means a new one.
	Registry *prometheus.Registry
	// DrainDelay is how long a shutdown keeps serving with health reporting
	// NOT_SERVING, so that load balancers stop sending new calls first.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the wait for in-flight calls after DrainDelay;
	// the calls still running then are cancelled. Zero means
	// DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// TLS, when set, secures the gRPC port (see tlsfiles.Server.Config);
	// nil serves plaintext. Health and reflection are served over it like
	// every other service. The admin port is not affected.
	TLS *tls.Config
	// AdminTLS, when set, secures the admin port (see
	// tlsfiles.Server.AdminConfig); nil serves plain HTTP.
	AdminTLS *tls.Config
	// ServerOptions are appended to the bootstrap's grpc.ServerOptions
	// (credentials, stats handlers). Interceptors belong in Unary and Stream:
	// grpc.UnaryInterceptor or grpc.StreamInterceptor here makes New panic.
	ServerOptions []grpc.ServerOption
	// TracerProvider, when set, traces every call but health and
	// reflection, continuing the caller's W3C trace context, and puts the
	// trace id in the call's log lines (see package tracing). Nil traces
	// nothing and costs nothing.
	TracerProvider trace.TracerProvider
}

// Server states, in the only order they are visited.
const (
	stateNew int32 = iota
	stateServing
	stateStopping
)

// Server is a gRPC server with the shared bootstrap around it. Create it with
// New, register services on GRPC(), then call Run or ServeListener once.
type Server struct {
	name      string
	grpcAddr  string
	adminAddr string
	adminTLS  *tls.Config
	log       *zap.Logger
	// panicLog is log without zap's automatic stack trace, which would
	// repeat the "stack" field that recovered panics carry.
	panicLog        *zap.Logger
	subject         func(context.Context) string
	drainDelay      time.Duration
	shutdownTimeout time.Duration

	// innerUnary and innerStream are the chained Options interceptors plus
	// the subject capture; nil when there is nothing to run.
	innerUnary  *innerChain
	innerStream grpc.StreamServerInterceptor
	// traced says that calls carry spans (Options.TracerProvider), whose
	// ids the log lines then name.
	traced bool

	// tokens verifies the bearer tokens of the calls; nil unless the
	// server was built by ServiceConfig.NewServer.
	tokens *authn.Verifier

	grpc     *grpc.Server
	health   *health.Server
	registry *prometheus.Registry
	metrics  *metrics
	admin    http.Handler

	state atomic.Int32
	// stopping is closed when shutdown begins, for handlers of long streams.
	stopping chan struct{}
	// draining is closed when the drain delay is over and GracefulStop
	// begins; health Watch streams end then.
	draining chan struct{}
}

// New builds a Server from o. It panics only on programming errors: an
// AdminHandlers pattern that http.ServeMux rejects, a Registry holding a
// different metric of the same name, or an interceptor in ServerOptions.
func New(o Options) *Server {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	timeout := o.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	s := &Server{
		name:            o.Name,
		grpcAddr:        o.GRPCAddr,
		adminAddr:       o.AdminAddr,
		adminTLS:        o.AdminTLS,
		log:             log,
		panicLog:        log.WithOptions(zap.AddStacktrace(zap.LevelEnablerFunc(func(zapcore.Level) bool { return false }))),
		subject:         o.Subject,
		drainDelay:      max(o.DrainDelay, 0),
		shutdownTimeout: timeout,
		registry:        reg,
		metrics:         newMetrics(reg),
		stopping:        make(chan struct{}),
		draining:        make(chan struct{}),
		traced:          o.TracerProvider != nil,
	}

	s.chainInterceptors(o.Unary, o.Stream)
	opts := append(s.serverOptions(), tracing.ServerOptions(o.TracerProvider)...)
	if o.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(o.TLS)))
	}
	s.grpc = grpc.NewServer(append(opts, o.ServerOptions...)...)
	s.registerHealth()
	reflection.Register(s.grpc)

	s.admin = s.newAdminHandler(o.AdminHandlers, o.AdminVerifier)
	return s
}

// chainInterceptors sets the interceptors that run inside the bootstrap's
// own: the caller's, then the subject capture when there is a subject.
func (s *Server) chainInterceptors(unaryIn []grpc.UnaryServerInterceptor, streamIn []grpc.StreamServerInterceptor) {
	unary := append([]grpc.UnaryServerInterceptor(nil), unaryIn...)
	stream := append([]grpc.StreamServerInterceptor(nil), streamIn...)
	if s.subject != nil {
		unary = append(unary, s.captureUnary)
		stream = append(stream, s.captureStream)
	}
	s.innerUnary = newInnerChain(unary)
	s.innerStream = chainStream(stream)
}

// serverOptions are the bootstrap's grpc.ServerOptions: its codec (see
// requestCodec) and interceptors, message and stream bounds, worker pool
// and keepalive rules.
func (s *Server) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(newRequestCodec()),
		grpc.UnaryInterceptor(s.interceptUnary),
		grpc.StreamInterceptor(s.interceptStream),
		grpc.MaxRecvMsgSize(maxRecvMsgSize),
		grpc.MaxConcurrentStreams(maxConcurrentStreams),
		// Reused handler goroutines keep the stacks they have grown, instead
		// of growing a fresh one for every call.
		grpc.NumStreamWorkers(uint32(16 * runtime.GOMAXPROCS(0))), //nolint:gosec // G115: GOMAXPROCS counts CPUs, far below 2^28
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             10 * time.Second,
			PermitWithoutStream: true,
		}),
		// No MaxConnectionAge: watch streams would be cut for nothing.
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: 15 * time.Minute,
			Time:              time.Minute,
			Timeout:           20 * time.Second,
		}),
	}
}

// registerHealth registers the health service on the gRPC server, not
// serving until Run says so.
func (s *Server) registerHealth() {
	// health.NewServer reports "" as SERVING from the start; a load balancer
	// must not see that before Serve runs.
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if s.name != "" {
		s.health.SetServingStatus(s.name, healthpb.HealthCheckResponse_NOT_SERVING)
	}
	healthpb.RegisterHealthServer(s.grpc, &healthService{Server: s.health, draining: s.draining})
}

// GRPC returns the grpc.Server to register services on before serving.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Health returns the health server, for services that report their own
// status (a store gone bad). Changes after shutdown began are ignored.
func (s *Server) Health() *health.Server { return s.health }

// Metrics returns the registry that /metrics serves, for services to add
// their own collectors to.
func (s *Server) Metrics() *prometheus.Registry { return s.registry }

// AdminHandler returns the admin HTTP handler: /metrics, /healthz, and
// the profiles and Options.AdminHandlers for an admin. Run serves it on
// AdminAddr.
func (s *Server) AdminHandler() http.Handler { return s.admin }

// Stopping returns a channel that is closed when shutdown begins. Handlers of
// long-lived streams select on it and return, since GracefulStop waits for
// every running call.
func (s *Server) Stopping() <-chan struct{} { return s.stopping }

// Run listens on GRPCAddr and, when set, serves the admin handler on
// AdminAddr, then serves gRPC until ctx is done and shuts down gracefully.
// It returns nil after a clean shutdown. If the admin server fails, Run shuts
// gRPC down too and returns that error.
func (s *Server) Run(ctx context.Context) error {
	if s.grpcAddr == "" {
		return fmt.Errorf("%w: GRPCAddr is empty", ErrInvalidOption)
	}
	if s.state.Load() != stateNew {
		return ErrAlreadyStarted
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", s.grpcAddr)
	if err != nil {
		return fmt.Errorf("grpcserver: listen for gRPC: %w", err)
	}
	if s.adminAddr == "" {
		return s.ServeListener(ctx, lis)
	}
	adminLis, err := lc.Listen(ctx, "tcp", s.adminAddr)
	if err != nil {
		return errors.Join(fmt.Errorf("grpcserver: listen for admin HTTP: %w", err), lis.Close())
	}
	if s.adminTLS != nil {
		adminLis = tls.NewListener(adminLis, s.adminTLS)
	}

	admin := &http.Server{
		Handler:           s.admin,
		ReadHeaderTimeout: adminReadHeaderTimeout,
		IdleTimeout:       adminIdleTimeout,
		ErrorLog:          zap.NewStdLog(s.log),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	adminDone := make(chan error, 1)
	go func() {
		err := admin.Serve(adminLis)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		} else {
			// Without the admin port the process cannot be monitored or
			// backed up: stop the whole server rather than run blind.
			err = fmt.Errorf("grpcserver: admin HTTP: %w", err)
			cancel()
		}
		adminDone <- err
	}()
	s.log.Info("admin HTTP serving", zap.String("addr", adminLis.Addr().String()), zap.Bool("tls", s.adminTLS != nil))

	grpcErr := s.ServeListener(ctx, lis)

	// The admin server outlives gRPC so that /healthz says 503 while draining.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer scancel()
	var closeErr error
	if err := admin.Shutdown(sctx); err != nil {
		closeErr = errors.Join(fmt.Errorf("grpcserver: admin HTTP shutdown: %w", err), admin.Close())
	}
	return errors.Join(grpcErr, <-adminDone, closeErr)
}

// ServeListener serves gRPC on lis until ctx is done, then shuts down: health
// goes NOT_SERVING and Stopping is closed, the server keeps answering for
// DrainDelay, then GracefulStop waits up to ShutdownTimeout before the calls
// still running are cancelled. It returns nil after such a shutdown and the
// serving error if lis fails.
func (s *Server) ServeListener(ctx context.Context, lis net.Listener) error {
	if !s.state.CompareAndSwap(stateNew, stateServing) {
		return errors.Join(ErrAlreadyStarted, lis.Close())
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if s.name != "" {
		s.health.SetServingStatus(s.name, healthpb.HealthCheckResponse_SERVING)
	}
	for svc := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(svc, healthpb.HealthCheckResponse_SERVING)
	}

	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(lis) }()
	s.log.Info("gRPC serving", zap.String("addr", lis.Addr().String()))

	select {
	case <-ctx.Done():
		s.shutdown(true)
		// Serve returns nil once GracefulStop or Stop has run, and
		// ErrServerStopped when the stop came before its goroutine had
		// entered it: a stop all the same.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpcserver: serve gRPC: %w", err)
		}
		return nil
	case err := <-served:
		// The listener failed, so nothing new arrives that a drain delay
		// could let finish; still give running calls their time.
		s.shutdown(false)
		if err != nil {
			return fmt.Errorf("grpcserver: serve gRPC: %w", err)
		}
		return nil
	}
}

// shutdown runs the stop sequence once Serve has been started.
func (s *Server) shutdown(drain bool) {
	s.state.Store(stateStopping)
	s.health.Shutdown()
	close(s.stopping)
	s.log.Info("gRPC shutting down", zap.Duration("drain_delay", s.drainDelay))
	if drain && s.drainDelay > 0 {
		time.Sleep(s.drainDelay)
	}
	close(s.draining)

	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.shutdownTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
		s.log.Info("gRPC stopped")
	case <-timer.C:
		s.log.Warn("gRPC graceful stop timed out, cancelling remaining calls",
			zap.Duration("shutdown_timeout", s.shutdownTimeout))
		s.grpc.Stop()
		<-stopped
	}
}

func (s *Server) newAdminHandler(admin map[string]http.Handler, v adminhttp.Verifier) http.Handler {
	return adminhttp.NewHandler(adminhttp.Options{
		Open: map[string]http.Handler{
			"/metrics": promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
				Registry:      s.registry,
				ErrorLog:      zap.NewStdLog(s.log),
				ErrorHandling: promhttp.ContinueOnError,
			}),
			"/healthz": http.HandlerFunc(s.serveHealthz),
		},
		Admin:    admin,
		Verifier: v,
		Logger:   s.log,
	})
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.state.Load() != stateServing {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "not serving")
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// healthService ends Watch streams once the drain delay is over. The stock
// health server keeps them open until the client leaves, which would hold
// GracefulStop for the whole ShutdownTimeout.
type healthService struct {
	*health.Server
	draining <-chan struct{}
}

// Watch implements grpc.health.v1.Health/Watch.
func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	go func() {
		select {
		case <-h.draining:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := h.Server.Watch(req, &watchStream{Health_WatchServer: stream, ctx: ctx})
	select {
	case <-h.draining:
		return status.Error(codes.Unavailable, "server is shutting down")
	default:
		return err
	}
}

type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w *watchStream) Context() context.Context { return w.ctx }
