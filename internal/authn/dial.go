package authn

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// maxCallRecvMsgSize bounds a response a client accepts.
const maxCallRecvMsgSize = 8 << 20

// reconnect is Dial's reconnect backoff, capped at a few seconds.
var reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
	MinConnectTimeout: 5 * time.Second,
}

// Dial connects one socmgmt program to another at addr; it connects lazily.
// It is the one place where such a connection is made, so that every
// program dials alike. transport secures the connection: TLS (see
// tlsfiles.Client) whenever the deployment gives the program a CA, nil
// for plaintext, as on a developer's loopback without certificates. creds
// say who the caller is to the callee: a service presents its own token
// from CallCredentials on every call; the gateway passes nil and forwards
// each client's own token instead, so that a caller never gains rights by
// going through it. The tokens do not insist on TLS
// (RequireTransportSecurity is false): whether the wire is encrypted is
// the deployment's choice, made by transport. extra are added last (the
// tracing's stats handler). Reconnect backoff is capped
// at a few seconds so that a client notices a restarted service soon
// (gRPC's default grows to two minutes).
func Dial(addr string, transport credentials.TransportCredentials, creds credentials.PerRPCCredentials, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	if transport == nil {
		transport = insecure.NewCredentials()
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxCallRecvMsgSize)),
		grpc.WithConnectParams(reconnect),
	}
	if creds != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(creds))
	}
	return grpc.NewClient(addr, append(opts, extra...)...)
}
