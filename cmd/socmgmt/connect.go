package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// errNotReachable marks a health check that got no answer at all, as
// opposed to one answered with a status other than SERVING.
var errNotReachable = errors.New("not reachable")

// loadSigningKey loads the stack's Ed25519 key from the --key file, with
// the hint an operator needs when it is missing.
func loadSigningKey(file string) (ed25519.PrivateKey, error) {
	if file == "" {
		return nil, fmt.Errorf("--key must not be empty (or set $%s)", envKey)
	}
	priv, err := authn.LoadPrivateKey(file)
	if err != nil {
		return nil, fmt.Errorf("cannot use signing key (is the stack started with make run, or pass --key): %w", err)
	}
	return priv, nil
}

// signedToken loads the stack's signing key from keyFile and signs a
// token for p valid for ttl from now: the credentials seed and import call
// with. The key is returned for the tokens the seed signs later.
func signedToken(keyFile string, p authn.Principal, ttl time.Duration) (ed25519.PrivateKey, string, error) {
	priv, err := loadSigningKey(keyFile)
	if err != nil {
		return nil, "", err
	}
	token, err := authn.NewSigner(priv).Sign(p, ttl, time.Now())
	if err != nil {
		return nil, "", err
	}
	return priv, token, nil
}

// dialService connects lazily to the service name at addr over the
// transport tls says, sending creds on every call (nil: the caller puts a
// token on each call itself).
func dialService(name, addr string, tls tlsFlags, creds credentials.PerRPCCredentials) (*grpc.ClientConn, error) {
	transport, err := tls.transport()
	if err != nil {
		return nil, err
	}
	conn, err := authn.Dial(addr, transport, creds, grpc.WithChainUnaryInterceptor(pacedUnary))
	if err != nil {
		return nil, fmt.Errorf("%s address %q: %w", name, addr, err)
	}
	return conn, nil
}

// pacedUnary retries a unary call that the service refused because the
// caller's budget is spent (RESOURCE_EXHAUSTED with a RetryInfo), after
// the delay the refusal names, until ctx ends. The limiter refuses before
// the call is handled, so a retry cannot apply anything twice, and every
// command goes at the pace the service allows (the limits that deploy
// sets are lower than make run's).
func pacedUnary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	for {
		err := invoker(ctx, method, req, reply, cc, opts...)
		wait, told := retryDelay(err)
		if status.Code(err) != codes.ResourceExhausted || !told {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// retryDelay is the wait the RetryInfo of err asks for, if it has one.
func retryDelay(err error) (time.Duration, bool) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// checkServing fails unless the service name at addr answers a health
// check with SERVING within timeout (zero: defaultReachTimeout). It waits
// for ready, so that a service still starting gets the whole timeout to
// come up instead of failing on the first refused dial.
func checkServing(ctx context.Context, conn *grpc.ClientConn, name, addr string, timeout time.Duration) error {
	if timeout == 0 {
		timeout = defaultReachTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The transport's reason tells a stopped stack ("connection
		// refused") from a TLS mismatch ("certificate required").
		return fmt.Errorf("%s %w at %s (%s)", name, errNotReachable, addr, status.Convert(err).Message())
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%s at %s reports %s, not SERVING", name, addr, st)
	}
	return nil
}

// dialRequired connects to a service the command cannot do without and
// checks that it serves; a failure says what the operator can do about it.
func dialRequired(ctx context.Context, name, addr string, tls tlsFlags, creds credentials.PerRPCCredentials, timeout time.Duration) (*grpc.ClientConn, error) {
	conn, err := dialService(name, addr, tls, creds)
	if err != nil {
		return nil, err
	}
	err = checkServing(ctx, conn, name, addr, timeout)
	switch {
	case err == nil:
		return conn, nil
	case ctx.Err() != nil:
	case errors.Is(err, errNotReachable):
		err = fmt.Errorf("%w: is the stack running? (make run)", err)
	default:
		err = fmt.Errorf("%w: wait for it to start, or read its log", err)
	}
	conn.Close()
	return nil, err
}

// dialOptional connects to a service the seed can do without. When it
// does not serve, a note says what is skipped and the connection is nil
// with a nil error: a stack without that service still gets the rest
// seeded.
func dialOptional(ctx context.Context, cfg seedConfig, name, addr string, creds credentials.PerRPCCredentials, progress io.Writer, skipped string) (*grpc.ClientConn, error) {
	conn, err := dialService(name, addr, cfg.tls, creds)
	if err != nil {
		return nil, err
	}
	if err := checkServing(ctx, conn, name, addr, cfg.reachTimeout); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		fmt.Fprintf(progress, "seed: %v; skipping %s\n", err, skipped)
		return nil, nil
	}
	return conn, nil
}

// eachPage calls fetch with the empty page token, then with each next
// page token fetch returns, until it returns an empty one or an error.
func eachPage(fetch func(token string) (next string, err error)) error {
	for token := ""; ; {
		next, err := fetch(token)
		if err != nil || next == "" {
			return err
		}
		token = next
	}
}
