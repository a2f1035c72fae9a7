// Package gateway is the REST/JSON front of socmgmt: it dials the gRPC
// services it is configured for and serves their HTTP routes through
// grpc-gateway, plus /healthz and a merged /openapi.json.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/tracing"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Timeouts of the public HTTP server. ReadTimeout bounds reading a whole
// request including its body; WriteTimeout bounds the upstream call too.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// The gateway's own routes.
const (
	healthzRoute  = "/healthz"
	openAPIRoute  = "/openapi.json"
	calendarRoute = "/v1/communities/{id}/calendar.ics"
)

// service is one gRPC service behind the gateway.
type service struct {
	// name labels the service in /healthz, logs and flags (--<name>-addr).
	name string
	// addr is where it listens; empty means not configured.
	addr string
	// register adds its REST routes to the mux over cc; nil while the
	// service has no generated gateway code.
	register func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error
}

// services lists every gRPC service the gateway knows, with the addresses
// configured in c. A service whose gateway code has been generated gets its
// Register…Handler here; that one line is all it takes to serve its routes.
func (c Config) services() []service {
	return []service{
		{name: "registry", addr: c.RegistryAddr, register: registerRegistry},
		{name: "handover", addr: c.HandoverAddr, register: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return handoverv1.RegisterHandoverServiceHandlerClient(ctx, mux, handoverv1.NewHandoverServiceClient(cc))
		}},
		{name: "pension", addr: c.PensionAddr, register: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return pensionv1.RegisterPensionServiceHandlerClient(ctx, mux, pensionv1.NewPensionServiceClient(cc))
		}},
		{name: "activity", addr: c.ActivityAddr, register: registerActivity},
		{name: "casework", addr: c.CaseworkAddr, register: func(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
			return caseworkv1.RegisterCaseworkServiceHandlerClient(ctx, mux, caseworkv1.NewCaseworkServiceClient(cc))
		}},
	}
}

// upstream is a configured service and the connections the gateway keeps
// to it, shared by its REST handlers and its health checks.
type upstream struct {
	name   string
	conns  *connPool
	health grpc_health_v1.HealthClient
}

// Gateway is the REST gateway's HTTP handler together with the upstream
// connections behind it. It is safe for concurrent use.
type Gateway struct {
	cfg       Config
	logger    *zap.Logger
	mux       *runtime.ServeMux
	handler   http.Handler
	upstreams []upstream
	openapi   []byte
	metrics   *metrics
	// routes counts the routes registered on mux (see answerProbe).
	routes int
	// quiet is logger without stack traces, for conditions that are
	// expected (an upstream down) and need none.
	quiet *zap.Logger
	// adminTokens verifies the admin port's admin tokens; nil without
	// cfg.TokenKey.
	adminTokens *authn.Verifier
	// tls is the REST port's TLS, loaded from cfg.TLS; nil for plain HTTP.
	tls *tls.Config
	// upstreamTLS secures the connections to the services, loaded from
	// cfg.UpstreamTLS; nil for plaintext.
	upstreamTLS credentials.TransportCredentials
	// draining makes /healthz answer 503 once shutdown has begun, so a
	// load balancer stops sending new work.
	draining atomic.Bool
	// retryAfter is the Retry-After of a 504: the upstream timeout in
	// whole seconds, since a stalled upstream is unlikely to answer
	// sooner.
	retryAfter string
}

var _ http.Handler = (*Gateway)(nil)

// New validates cfg, builds the merged OpenAPI document and connects to every
// configured upstream. Connections are made lazily, so an upstream that is
// down does not fail New; its routes answer 503 until it is back. Call Close
// when done.
func New(cfg Config, logger *zap.Logger) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	doc, err := OpenAPIDocument()
	if err != nil {
		return nil, fmt.Errorf("build openapi document: %w", err)
	}
	g := &Gateway{
		cfg: cfg, logger: logger, openapi: doc, metrics: newMetrics(),
		quiet:      logger.WithOptions(zap.AddStacktrace(zapcore.FatalLevel)),
		retryAfter: strconv.Itoa(int(math.Ceil(cfg.UpstreamTimeout.Seconds()))),
	}
	if err := g.loadKeys(); err != nil {
		return nil, err
	}
	installStrictQueryParser()
	g.mux = g.newMux()
	if err := g.mux.HandlePath(http.MethodGet, healthzRoute, g.noQuery(g.serveHealthz)); err != nil {
		return nil, err
	}
	if err := g.mux.HandlePath(http.MethodGet, openAPIRoute, g.noQuery(g.serveOpenAPI)); err != nil {
		return nil, err
	}
	if err := g.connectUpstreams(); err != nil {
		return nil, errors.Join(err, g.Close())
	}
	// Outermost first: every request is logged and measured; every API
	// answer is marked no-store, whoever writes it; CORS answers
	// preflights before anything else looks at them; compress sees HEAD
	// before normalise serves it as GET; conditional sees the ETag that
	// the mux's forward-response option sets.
	// The console's paths are served before all of that, and measured
	// under one route label; withConsole sends every other path on.
	site, err := g.withConsole(noStore(withCORS(cfg.CORSOrigins, compress(g.normalise(g.conditional(g.mux))))))
	if err != nil {
		return nil, errors.Join(err, g.Close())
	}
	// The span is outermost, so that the access log names its trace.
	g.handler = tracing.HTTPHandler(cfg.TracerProvider, g.observe(site), healthzRoute)
	return g, nil
}

// connectUpstreams dials every configured service (lazily: a service that
// is down answers 503 until it is back) and registers its REST routes on
// g.mux. The caller closes g when it fails.
func (g *Gateway) connectUpstreams() error {
	for _, s := range g.cfg.services() {
		if s.addr == "" {
			continue
		}
		conns, err := dialPool(s.addr, upstreamConns, g.cfg.UpstreamTimeout, g.upstreamTLS, tracing.DialOptions(g.cfg.TracerProvider)...)
		if err != nil {
			return fmt.Errorf("dial %s at %s: %w", s.name, s.addr, err)
		}
		g.upstreams = append(g.upstreams, upstream{name: s.name, conns: conns, health: grpc_health_v1.NewHealthClient(conns)})
		if s.register == nil {
			g.logger.Warn("upstream has no REST routes in this build; only health-checked", zap.String("upstream", s.name))
			continue
		}
		// The dialled form: requests go through the service's own
		// interceptors (authentication, audit), unlike the in-process
		// Register…HandlerServer.
		if err := s.register(context.Background(), g.mux, restGuard{conns}); err != nil {
			return fmt.Errorf("register %s routes: %w", s.name, err)
		}
	}
	return nil
}

// loadKeys loads the files of g.cfg that New needs, each error naming its
// flag: the admin tokens' key, the REST port's certificate and the CA
// and client certificate of the upstream connections.
func (g *Gateway) loadKeys() error {
	var err error
	if g.cfg.TokenKey != "" {
		if g.adminTokens, err = g.cfg.Tokens.NewVerifier(g.cfg.TokenKey, "gateway", nil); err != nil {
			return fmt.Errorf("--token-key: %w", err)
		}
	}
	if g.tls, err = g.cfg.TLS.Config(); err != nil {
		return err
	}
	if g.upstreamTLS, err = g.cfg.UpstreamTLS.Credentials(); err != nil {
		return fmt.Errorf("--tls-ca: %w", err)
	}
	return nil
}

// newMux builds the grpc-gateway mux with the gateway's marshaler,
// middlewares and error handlers.
func (g *Gateway) newMux() *runtime.ServeMux {
	return runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, strictJSONPb{&runtime.JSONPb{
			MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false, UseProtoNames: false},
			// Unknown fields are rejected, so a misspelt field is a 400
			// naming it rather than a silently ignored change.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		runtime.WithMetadata(requestIDMetadata),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithMiddlewares(g.answerProbe, g.recordRoute, g.checkPathParams, g.limitBody),
		runtime.WithErrorHandler(g.handleError),
		runtime.WithRoutingErrorHandler(g.routingError),
		runtime.WithForwardResponseOption(setETag),
		// A form-encoded POST to a GET route would be served as the GET
		// (grpc-gateway's fallback for long URLs): a wrong method is 405.
		runtime.WithDisablePathLengthFallback(),
	)
}

// ServeHTTP serves the REST routes, /healthz, /openapi.json and the
// console.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.handler.ServeHTTP(w, r)
}

// MetricsHandler serves the gateway's Prometheus metrics.
func (g *Gateway) MetricsHandler() http.Handler {
	return g.metrics.handler()
}

// AdminHandler is what Run serves on cfg.AdminAddr, built as the
// services' admin port is: /metrics for anyone (GET only, as it always
// was), and the profiles under /debug/pprof/ for a caller on this machine
// with an admin token that cfg.TokenKey verifies, since the port may be
// opened to a scraper elsewhere.
func (g *Gateway) AdminHandler() http.Handler {
	o := adminhttp.Options{
		Open:   map[string]http.Handler{"GET /metrics": g.MetricsHandler()},
		Logger: g.logger,
	}
	if g.adminTokens != nil {
		// Assigned only when set: a nil *authn.Verifier in the interface
		// would not be a nil Verifier.
		o.Verifier = g.adminTokens
	}
	return adminhttp.NewHandler(o)
}

// Close closes the upstream connections; requests still running fail.
func (g *Gateway) Close() error {
	var errs []error
	for _, u := range g.upstreams {
		if err := u.conns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s connection: %w", u.name, err))
		}
	}
	return errors.Join(errs...)
}

// Run serves the gateway on cfg.HTTPAddr, and metrics on cfg.AdminAddr when
// set, until ctx is done; then it stops accepting requests, lets running
// ones finish within cfg.ShutdownTimeout and closes the upstream
// connections. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg Config, logger *zap.Logger) error {
	g, err := New(cfg, logger)
	if err != nil {
		return err
	}
	stopTasks := g.startTokenTasks(ctx)
	err = g.serve(ctx)
	stopTasks()
	return errors.Join(err, g.Close())
}

// startTokenTasks keeps the admin port's verifier current while the
// gateway runs, as the services keep theirs: it reads the --token-key file
// again (a key rotation), and follows registry's revocation list with a
// service token of its own (minted with --token-key when that is the
// private key, else --service-token-file). stop ends them and waits.
func (g *Gateway) startTokenTasks(ctx context.Context) (stop func()) {
	if g.adminTokens == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var tasks sync.WaitGroup
	tasks.Go(func() { _ = authn.WatchKeySet(ctx, g.cfg.TokenKey, g.adminTokens, g.cfg.Tokens.KeyReload, g.logger) })
	conn, err := g.dialRevocations()
	if err != nil {
		g.logger.Warn("admin tokens are checked without registry's revocation list", zap.Error(err))
	} else {
		client := registryv1.NewRegistryServiceClient(conn)
		tasks.Go(func() {
			_ = authn.FollowRevocations(ctx, client, g.adminTokens.Revocations(), authn.FollowOptions{Interval: g.cfg.Tokens.RevocationPoll, Logger: g.logger})
		})
	}
	return func() {
		cancel()
		tasks.Wait()
		if conn != nil {
			_ = conn.Close()
		}
	}
}

// dialRevocations connects to registry for its revocation list, with the
// gateway's own service credentials.
func (g *Gateway) dialRevocations() (*grpc.ClientConn, error) {
	if g.cfg.RegistryAddr == "" {
		return nil, errors.New("no --registry-addr")
	}
	creds, err := authn.CallCredentials(g.cfg.TokenKey, g.cfg.ServiceTokenFile, "gateway", "registry")
	if err != nil {
		return nil, fmt.Errorf("no service credentials (give --service-token-file): %w", err)
	}
	return authn.Dial(g.cfg.RegistryAddr, g.upstreamTLS, creds)
}

// serve runs the HTTP servers of Run until ctx is done or one fails.
func (g *Gateway) serve(ctx context.Context) error {
	var servers []*http.Server
	var listeners []net.Listener
	defer func() {
		// Shutdown closes them too; this covers a failed second Listen.
		for _, ln := range listeners {
			_ = ln.Close() // "already closed" after Shutdown
		}
	}()
	listen := func(name, addr string, h http.Handler, tlsConfig *tls.Config) error {
		ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", name, addr, err)
		}
		listeners = append(listeners, ln)
		servers = append(servers, &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          zap.NewStdLog(g.logger.With(zap.String("server", name))),
			TLSConfig:         tlsConfig,
		})
		g.logger.Info("listening", zap.String("server", name), zap.String("addr", ln.Addr().String()), zap.Bool("tls", tlsConfig != nil))
		return nil
	}
	if err := listen("http", g.cfg.HTTPAddr, g, g.tls); err != nil {
		return err
	}
	if g.cfg.AdminAddr != "" {
		// Plain HTTP: the admin port is for loopback, and its profiles
		// need an admin token.
		if err := listen("admin", g.cfg.AdminAddr, g.AdminHandler(), nil); err != nil {
			return err
		}
	}

	serveErr := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if err := serveOne(srv, listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				serveErr <- err
			}
		}()
	}

	var err error
	select {
	case <-ctx.Done():
		g.logger.Info("shutting down")
	case err = <-serveErr:
		g.logger.Error("server failed; shutting down", zap.Error(err))
	}
	return errors.Join(err, g.shutdown(ctx, servers))
}

// serveOne serves srv on ln, over TLS when srv has a TLSConfig: ServeTLS
// takes the certificate from it and offers HTTP/2 as well.
func serveOne(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// shutdown makes /healthz answer 503, then stops servers, letting running
// requests finish within cfg.ShutdownTimeout.
func (g *Gateway) shutdown(ctx context.Context, servers []*http.Server) error {
	g.draining.Store(true)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.cfg.ShutdownTimeout)
	defer cancel()
	var err error
	for _, srv := range servers {
		if serr := srv.Shutdown(shutdownCtx); serr != nil {
			// Requests still running past the timeout are cut off.
			err = errors.Join(err, fmt.Errorf("shut down: %w", serr), srv.Close())
		}
	}
	return err
}

// handleError writes errors as google.rpc.Status JSON (grpc-gateway's
// default), except that an unreachable upstream is reported without the
// transport's detail (clients need not learn internal addresses), a stale
// etag named by If-Match is 412, and a 401 challenges as RFC 6750 says.
func (g *Gateway) handleError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st, ok := status.FromError(err)
	switch {
	case !ok:
	case st.Code() == codes.Unavailable && !hasDetailsBesideLocalized(st):
		g.quiet.Warn("upstream unavailable", zap.String("error", st.Message()))
		err = status.Error(codes.Unavailable, "service temporarily unavailable; try again")
	case st.Code() == codes.InvalidArgument && !hasDetailsBesideLocalized(st):
		if qerr, ok := queryError(st); ok {
			err = qerr
		} else {
			err = decodeError(st)
		}
	case etagMismatch(st):
		if rs := stateFrom(ctx); rs != nil && rs.ifMatch != "" {
			err = &runtime.HTTPStatusError{HTTPStatus: http.StatusPreconditionFailed, Err: err}
		}
	case st.Code() == codes.Unauthenticated:
		w = challenge{ResponseWriter: w, value: bearerChallenge(r)}
	case st.Code() == codes.DeadlineExceeded:
		// 504: the upstream took longer than --upstream-timeout (or the
		// client's own grpc-timeout). The call may still complete there;
		// a retry of a write is safe where the route is idempotent or
		// guarded by an etag.
		g.quiet.Warn("upstream did not answer in time", zap.Duration("upstream_timeout", g.cfg.UpstreamTimeout))
		w.Header().Set("Retry-After", g.retryAfter)
		err = status.Error(codes.DeadlineExceeded, "the service did not answer in time; try again later")
	case st.Code() == codes.ResourceExhausted:
		// 429 for a caller over its budget: the service's RetryInfo says
		// when to come back.
		if after, ok := retryAfterHeader(st); ok {
			w.Header().Set("Retry-After", after)
		}
	}
	if wantsChinese(r) {
		err = localized(err)
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// localized is err with its Chinese rendering (see apierror.Localize):
// the upstream's, which the gateway passes on, or one made here for an
// error of the gateway's own or an upstream's without one.
func localized(err error) error {
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		return &runtime.HTTPStatusError{HTTPStatus: hse.HTTPStatus, Err: localized(hse.Err)}
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return apierror.Localize(st, nil).Err()
}

// retryAfterHeader is the Retry-After header (RFC 9110 section 10.2.3) of a
// status carrying a RetryInfo: its delay in whole seconds, rounded up,
// at least one.
func retryAfterHeader(st *status.Status) (string, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			secs := (ri.GetRetryDelay().AsDuration() + time.Second - 1) / time.Second
			return strconv.FormatInt(max(int64(secs), 1), 10), true
		}
	}
	return "", false
}

// bearerChallenge is the WWW-Authenticate of a 401 (RFC 6750 section 3):
// the scheme alone when no bearer token was sent, invalid_token when one
// was and it was refused. The refusal's text stays in the body.
func bearerChallenge(r *http.Request) string {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) != "" {
		return `Bearer error="invalid_token"`
	}
	return "Bearer"
}

// challenge sets WWW-Authenticate on a 401 as the header is written,
// replacing grpc-gateway's, which is the error's text.
type challenge struct {
	http.ResponseWriter
	value string
}

func (c challenge) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", c.value)
	}
	c.ResponseWriter.WriteHeader(code)
}

// Field names in protojson's decoding errors. Only names are taken from
// them: the rest of such a message can quote the value the client sent (an
// ID number, say), which must not come back in a message.
var (
	unknownFieldRE = regexp.MustCompile(`unknown field "([A-Za-z_][A-Za-z0-9_]{0,63})"`)
	badValueRE     = regexp.MustCompile(`field ([A-Za-z_][A-Za-z0-9_.]{0,127}):`)
)

// decodeError rewrites an error of decoding the JSON body: the same shape
// as every other validation error, a BadRequest naming the field, and never
// the client's value.
func decodeError(st *status.Status) error {
	msg := st.Message()
	if !strings.HasPrefix(msg, "proto:") {
		return st.Err()
	}
	var field, desc string
	if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		field, desc = m[1], "unknown field"
	} else if m := badValueRE.FindStringSubmatch(msg); m != nil {
		field, desc = m[1], "invalid value for this field"
	}
	if field == "" {
		return status.Error(codes.InvalidArgument, "invalid argument: the request body is not valid JSON for this request")
	}
	return badRequest(field, desc).Err()
}

// hasDetailsBesideLocalized reports whether st carries a detail other
// than the Chinese rendering a service adds when the client asks for it:
// a status that is only a message plus that rendering is treated as one
// without details (and rendered again from the gateway's own message).
func hasDetailsBesideLocalized(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.LocalizedMessage); !ok {
			return true
		}
	}
	return false
}
