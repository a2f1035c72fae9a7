// Package grpcdial connects one socmgmt program to another: plaintext gRPC
// on loopback, with a reconnect backoff capped at a few seconds so that a
// client notices a restarted service soon (gRPC's default grows to two
// minutes).
package grpcdial

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxCallRecvMsgSize bounds a response a client accepts.
const MaxCallRecvMsgSize = 8 << 20

// Dial returns a client connection to addr; it connects lazily. opts are
// added to the defaults (e.g. grpc.WithPerRPCCredentials).
func Dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxCallRecvMsgSize)),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
	}, opts...)...)
}
