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

	"github.com/socmgmt/socmgmt/internal/requestid"
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
type callInfo struct {
	requestID string
	subject   string

	base    *zap.Logger
	logOnce sync.Once
	log     *zap.Logger
}

// Logger returns the logger of the call that ctx belongs to, carrying its
// request_id, or a no-op logger outside a call.
func Logger(ctx context.Context) *zap.Logger {
	call, ok := ctx.Value(callKey{}).(*callInfo)
	if !ok {
		return zap.NewNop()
	}
	// Built on first use: most calls log nothing but the access line, and
	// Logger.With costs an encoder clone.
	call.logOnce.Do(func() {
		call.log = call.base.With(zap.String("request_id", call.requestID))
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

func (s *Server) newCall(ctx context.Context) *callInfo {
	return &callInfo{requestID: requestIDFrom(ctx), base: s.log}
}

// interceptUnary is the outermost unary interceptor: request id, panic
// recovery, then the inner chain, then the access log and metrics.
func (s *Server) interceptUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	call := s.newCall(ctx)
	ctx = context.WithValue(ctx, callKey{}, call)
	// The id goes back even when the call fails, so a client can quote it.
	// SetHeader fails only outside a real grpc stream, or once headers are
	// sent, which nothing can have done yet; neither is worth failing for.
	_ = grpc.SetHeader(ctx, metadata.MD{requestid.Key: []string{call.requestID}})
	if malformed(req) {
		s.finish(info.FullMethod, call, start, errMalformedRequest)
		return nil, errMalformedRequest
	}
	resp, err := s.runUnary(ctx, req, info, handler, call)
	s.finish(info.FullMethod, call, start, err)
	return resp, err
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
	return s.innerUnary(ctx, req, info, handler)
}

// interceptStream is the outermost stream interceptor, as interceptUnary.
func (s *Server) interceptStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	call := s.newCall(ss.Context())
	ctx := context.WithValue(ss.Context(), callKey{}, call)
	// As in interceptUnary: nothing can have sent headers yet.
	_ = ss.SetHeader(metadata.MD{requestid.Key: []string{call.requestID}})
	err := s.runStream(srv, &contextStream{ServerStream: ss, ctx: ctx}, info, handler, call)
	s.finish(info.FullMethod, call, start, err)
	return err
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
	if ce := s.log.Check(lvl, "rpc"); ce != nil {
		ce.Write(
			zap.String("method", method),
			zap.String("code", code.String()),
			zap.Duration("duration", d),
			zap.String("subject", call.subject),
			zap.String("request_id", call.requestID),
		)
	}
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

// chainUnary makes one interceptor of ics, first outermost; nil for none.
func chainUnary(ics []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	switch len(ics) {
	case 0:
		return nil
	case 1:
		return ics[0]
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return ics[0](ctx, req, info, unaryStep(ics[1:], info, handler))
	}
}

func unaryStep(ics []grpc.UnaryServerInterceptor, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) grpc.UnaryHandler {
	if len(ics) == 0 {
		return handler
	}
	return func(ctx context.Context, req any) (any, error) {
		return ics[0](ctx, req, info, unaryStep(ics[1:], info, handler))
	}
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
