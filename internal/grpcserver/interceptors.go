package grpcserver

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/requestid"
	"github.com/socmgmt/socmgmt/internal/tracing"
)

// Method prefixes of the services the bootstrap itself registers.
const (
	// healthMethodPrefix marks the calls whose access log goes to Debug:
	// probes arrive every few seconds and would drown everything else.
	healthMethodPrefix     = "/grpc.health.v1.Health/"
	reflectionMethodPrefix = "/grpc.reflection."
)

// bypassesInner reports whether method belongs to health or reflection,
// which skip Options.Unary and Options.Stream: probes and grpcurl carry no
// token, and these services reveal nothing about retirees.
func bypassesInner(method string) bool {
	return strings.HasPrefix(method, healthMethodPrefix) || strings.HasPrefix(method, reflectionMethodPrefix)
}

// callKey is the context key of the per-call *callInfo.
type callKey struct{}

// callInfo is what the outermost interceptor knows about one call. The
// innermost one fills in subject; the outermost reads it after the handler
// has returned, on the same goroutine or after a return that orders it.
//
// It is also the context the call runs in: the call's own, with itself
// under callKey. One allocation for both, rather than a callInfo and a
// context.WithValue for every call.
type callInfo struct {
	context.Context

	requestID string
	subject   string
	// header backs the value of the request id header, so that sending
	// it needs no slice of its own.
	header [1]string
	// info and handler are the unary call's, for the steps of the inner
	// chain (see innerChain).
	info    *grpc.UnaryServerInfo
	handler grpc.UnaryHandler

	base *zap.Logger
	// traced says that the call may carry a span (Options.TracerProvider).
	traced  bool
	logOnce sync.Once
	log     *zap.Logger
}

// Logger returns the logger of the call that ctx belongs to, carrying its
// request_id, and its trace_id and span_id when the call is traced, or a
// no-op logger outside a call.
func Logger(ctx context.Context) *zap.Logger {
	call, ok := ctx.Value(callKey{}).(*callInfo)
	if !ok {
		return zap.NewNop()
	}
	// Built on first use: most calls log nothing but the access line, and
	// Logger.With costs an encoder clone.
	call.logOnce.Do(func() {
		fields := []zap.Field{zap.String("request_id", call.requestID)}
		if call.traced {
			fields = append(fields, tracing.LogFields(call)...)
		}
		call.log = call.base.With(fields...)
	})
	return call.log
}

// RequestID returns the request id of the call that ctx belongs to, or ""
// outside a call.
func RequestID(ctx context.Context) string {
	if call, ok := ctx.Value(callKey{}).(*callInfo); ok {
		return call.requestID
	}
	return ""
}

// requestIDFrom returns the client's id when it is sane, otherwise a new one.
func requestIDFrom(ctx context.Context) string {
	var sent string
	if vals := metadata.ValueFromIncomingContext(ctx, requestid.Key); len(vals) > 0 {
		sent = vals[0]
	}
	return requestid.FromClient(sent)
}

// Value returns the callInfo itself under callKey, else what the call's
// context holds.
func (c *callInfo) Value(key any) any {
	if key == (callKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// newCall starts the callInfo of a call that arrived with ctx; the
// callInfo is the context the rest of the call runs in.
func (s *Server) newCall(ctx context.Context) *callInfo {
	c := &callInfo{Context: ctx, requestID: requestIDFrom(ctx), base: s.log, traced: s.traced}
	c.header[0] = c.requestID
	return c
}

// requestIDHeader is the response header that carries the call's id.
func (c *callInfo) requestIDHeader() metadata.MD {
	return metadata.MD{requestid.Key: c.header[:]}
}

// interceptUnary is the outermost unary interceptor: request id, panic
// recovery, then the inner chain, then the access log and metrics.
func (s *Server) interceptUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	call := s.newCall(ctx)
	call.info, call.handler = info, handler
	// The id goes back even when the call fails, so a client can quote it.
	// SetHeader fails only outside a real grpc stream, or once headers are
	// sent, which nothing can have done yet; neither is worth failing for.
	_ = grpc.SetHeader(call, call.requestIDHeader())
	if malformed(req) {
		s.finish(info.FullMethod, call, start, errMalformedRequest)
		return nil, apierror.LocalizeError(call, errMalformedRequest)
	}
	resp, err := s.runUnary(call, req, info, handler, call)
	s.finish(info.FullMethod, call, start, err)
	// Every status, wherever it was made (authn, limits, a panic), in
	// Chinese too when the client asks.
	return resp, apierror.LocalizeError(call, err)
}

func (s *Server) runUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler, call *callInfo) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			resp, err = nil, s.recovered(info.FullMethod, call, r)
		}
	}()
	if s.innerUnary == nil || bypassesInner(info.FullMethod) {
		return handler(ctx, req)
	}
	return s.innerUnary.run(ctx, req, info)
}

// interceptStream is the outermost stream interceptor, as interceptUnary.
func (s *Server) interceptStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	call := s.newCall(ss.Context())
	// As in interceptUnary: nothing can have sent headers yet.
	_ = ss.SetHeader(call.requestIDHeader())
	err := s.runStream(srv, &contextStream{ServerStream: ss, ctx: call}, info, handler, call)
	s.finish(info.FullMethod, call, start, err)
	return apierror.LocalizeError(call, err)
}

func (s *Server) runStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler, call *callInfo) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.recovered(info.FullMethod, call, r)
		}
	}()
	if s.innerStream == nil || bypassesInner(info.FullMethod) {
		return handler(srv, ss)
	}
	return s.innerStream(srv, ss, info, handler)
}

// captureUnary is the innermost unary interceptor: only there does the
// context hold what authentication added.
func (s *Server) captureUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if call, ok := ctx.Value(callKey{}).(*callInfo); ok {
		call.subject = s.subject(ctx)
	}
	return handler(ctx, req)
}

// captureStream is the innermost stream interceptor, as captureUnary.
func (s *Server) captureStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := ss.Context()
	if call, ok := ctx.Value(callKey{}).(*callInfo); ok {
		call.subject = s.subject(ctx)
	}
	return handler(srv, ss)
}

// recovered logs a recovered panic and returns what the client gets instead.
func (s *Server) recovered(method string, call *callInfo, r any) error {
	s.panicLog.Error("panic in gRPC handler",
		zap.String("method", method),
		zap.String("request_id", call.requestID),
		panicField(r),
		zap.Stack("stack"),
	)
	return status.Error(codes.Internal, "internal error")
}

// panicField describes a panic value without its text unless the runtime
// wrote that text: a handler's own panic message may quote personal data.
// The stack shows where it happened.
func panicField(r any) zap.Field {
	if re, ok := r.(runtime.Error); ok {
		return zap.String("panic", re.Error())
	}
	return zap.String("panic_type", fmt.Sprintf("%T", r))
}

// finish writes the access log line and the metrics of one call. It logs no
// error text, request, response or metadata: they carry ID numbers and
// tokens.
func (s *Server) finish(method string, call *callInfo, start time.Time, err error) {
	d := time.Since(start)
	code := errCode(err)
	s.metrics.observe(method, code, d)
	if storageUnavailable(code, err) {
		s.metrics.observeStorage(method)
	}
	lvl := zapcore.InfoLevel
	if strings.HasPrefix(method, healthMethodPrefix) {
		lvl = zapcore.DebugLevel
	}
	ce := s.log.Check(lvl, "rpc")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("method", method),
		zap.String("code", code.String()),
		zap.Duration("duration", d),
		zap.String("subject", call.subject),
		zap.String("request_id", call.requestID),
	}
	if s.traced {
		fields = append(fields, tracing.LogFields(call)...)
	}
	ce.Write(fields...)
}

// errCode is the code the client will see for err, mapped as grpc-go maps a
// handler's error: context errors become Canceled or DeadlineExceeded.
func errCode(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	return status.FromContextError(err).Code()
}

// contextStream is a ServerStream whose context carries the call's info,
// and whose RecvMsg answers a malformed message (see requestCodec).
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (c *contextStream) Context() context.Context { return c.ctx }

func (c *contextStream) RecvMsg(m any) error {
	if err := c.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if malformed(m) {
		return errMalformedRequest
	}
	return nil
}

// errLostCall answers a call whose inner interceptor passed on a context
// not derived from the one it got, so that the chain's next step cannot
// find the call: a programming error.
var errLostCall = status.Error(codes.Internal, "internal error")

// innerChain is the inner unary interceptors made one, first outermost.
// The handler each interceptor passes on is made once, not per call as
// closures over the call's info and handler would be: a step finds those
// in the *callInfo that its context carries.
type innerChain struct {
	ics []grpc.UnaryServerInterceptor
	// next[i] is the handler ics[i] gets: ics[i+1] with next[i+1], and
	// after the last the call's own handler.
	next []grpc.UnaryHandler
}

// newInnerChain chains ics; nil for none.
func newInnerChain(ics []grpc.UnaryServerInterceptor) *innerChain {
	if len(ics) == 0 {
		return nil
	}
	c := &innerChain{ics: ics, next: make([]grpc.UnaryHandler, len(ics))}
	for i := range ics {
		c.next[i] = c.step(i + 1)
	}
	return c
}

// step returns the handler that runs ics[i] with next[i], or for i past
// the last the call's handler.
func (c *innerChain) step(i int) grpc.UnaryHandler {
	return func(ctx context.Context, req any) (any, error) {
		call, ok := ctx.Value(callKey{}).(*callInfo)
		if !ok || call.handler == nil {
			return nil, errLostCall
		}
		if i == len(c.ics) {
			return call.handler(ctx, req)
		}
		return c.ics[i](ctx, req, call.info, c.next[i])
	}
}

// run runs the chain for the call whose *callInfo ctx carries.
func (c *innerChain) run(ctx context.Context, req any, info *grpc.UnaryServerInfo) (any, error) {
	return c.ics[0](ctx, req, info, c.next[0])
}

// chainStream makes one interceptor of ics, first outermost; nil for none.
func chainStream(ics []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(ics) {
	case 0:
		return nil
	case 1:
		return ics[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return ics[0](srv, ss, info, streamStep(ics[1:], info, handler))
	}
}

func streamStep(ics []grpc.StreamServerInterceptor, info *grpc.StreamServerInfo, handler grpc.StreamHandler) grpc.StreamHandler {
	if len(ics) == 0 {
		return handler
	}
	return func(srv any, ss grpc.ServerStream) error {
		return ics[0](srv, ss, info, streamStep(ics[1:], info, handler))
	}
}
