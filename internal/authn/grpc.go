package authn

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// authorizationKey is the metadata key of the bearer token; gRPC lower-cases
// keys, and the gateway forwards the HTTP Authorization header under it.
const authorizationKey = "authorization"

// The statuses the interceptors return. The messages are fixed so that
// nothing a caller sent is ever echoed back.
var (
	errMissingToken = status.Error(codes.Unauthenticated, "missing bearer token")
	errInvalidToken = status.Error(codes.Unauthenticated, "invalid or expired token")
)

// publicPrefixes are the methods served without a token: health checks
// (so that probes and `make run` need no key) and server reflection.
var publicPrefixes = [...]string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.",
}

// publicMethods are the methods, named in full, served without a token
// because they take a credential of their own: a calendar feed's token,
// which calendar apps put in the URL as they cannot send a header.
var publicMethods = [...]string{
	"/socmgmt.activity.v1.ActivityService/GetCalendarFeed",
}

// IsPublicMethod reports whether fullMethod ("/package.Service/Method") is
// served without authentication.
func IsPublicMethod(fullMethod string) bool {
	for _, m := range publicMethods {
		if fullMethod == m {
			return true
		}
	}
	for _, p := range publicPrefixes {
		if strings.HasPrefix(fullMethod, p) {
			return true
		}
	}
	return false
}

// Authenticate verifies the bearer token in ctx's incoming metadata and
// returns its principal, or a codes.Unauthenticated status. The
// interceptors use it; call it directly only where they do not run.
func (v *Verifier) Authenticate(ctx context.Context) (*Principal, error) {
	// Only the one key: FromIncomingContext would copy every header.
	vals := metadata.ValueFromIncomingContext(ctx, authorizationKey)
	if len(vals) == 0 {
		return nil, errMissingToken
	}
	if len(vals) > 1 {
		// Two credentials are ambiguous; picking one could let a proxy's
		// header and a client's disagree about who is calling.
		return nil, errInvalidToken
	}
	token, ok := parseBearer(vals[0])
	if !ok {
		return nil, errMissingToken
	}
	p, err := v.Verify(token)
	if err != nil {
		return nil, errInvalidToken
	}
	return p, nil
}

// ParseBearer extracts the token from an HTTP Authorization header of the
// form "Bearer <token>", by the rule the gRPC interceptors apply to the
// "authorization" metadata: the admin port's routes take their admin
// token this way.
func ParseBearer(h string) (string, bool) { return parseBearer(h) }

// parseBearer extracts the token from an "authorization" value of the form
// "Bearer <token>" (RFC 6750; the scheme is case-insensitive).
func parseBearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// UnaryInterceptor authenticates every unary call except public methods
// and puts the principal into the handler's context.
func (v *Verifier) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if IsPublicMethod(info.FullMethod) {
			return handler(ctx, req)
		}
		p, err := v.Authenticate(ctx)
		if err != nil {
			return nil, err
		}
		return handler(NewContext(ctx, p), req)
	}
}

// StreamInterceptor authenticates every streaming call except public
// methods and puts the principal into the stream's context.
func (v *Verifier) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if IsPublicMethod(info.FullMethod) {
			return handler(srv, ss)
		}
		p, err := v.Authenticate(ss.Context())
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: NewContext(ss.Context(), p)})
	}
}

// principalStream is a ServerStream whose context carries the principal.
type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

// BearerCredentials returns per-RPC credentials that send token as
// "authorization: Bearer <token>".
//
// They do not require transport security: in this project services and the
// gateway talk plaintext gRPC over loopback. Anyone who can read that
// traffic can replay the token until it expires, so do not use them across
// a network without TLS.
func BearerCredentials(token string) credentials.PerRPCCredentials {
	return bearerCredentials{header: "Bearer " + token}
}

type bearerCredentials struct {
	header string
}

// GetRequestMetadata returns a fresh map each call: gRPC may keep or modify
// what it is given.
func (c bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authorizationKey: c.header}, nil
}

func (bearerCredentials) RequireTransportSecurity() bool { return false }
