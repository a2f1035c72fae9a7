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
// It lives here because what decides such a connection is who the caller
// is to the callee: a service presents creds, its own token from
// CallCredentials, on every call; the gateway passes nil and forwards each
// client's own token instead, so that a caller never gains rights by going
// through it. The transport is plaintext: the programs talk on loopback,
// which is why no credentials here require transport security. Reconnect
// backoff is capped at a few seconds so that a client notices a restarted
// service soon (gRPC's default grows to two minutes).
func Dial(addr string, creds credentials.PerRPCCredentials) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxCallRecvMsgSize)),
		grpc.WithConnectParams(reconnect),
	}
	if creds != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(creds))
	}
	return grpc.NewClient(addr, opts...)
}
