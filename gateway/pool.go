package gateway

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// upstreamConns is how many connections the gateway keeps to each
// upstream. One HTTP/2 connection funnels every call through one writer
// and one reader; a few spread the load over both cores.
const upstreamConns = 4

// connPool spreads calls over several client connections to one upstream,
// round robin. Every connection goes through the upstream's interceptors
// like any client's. Every unary call gets a deadline: an upstream that
// is alive but does not answer (a stalled disk, a deadlock) would
// otherwise hold the client until the HTTP write timeout, and the
// connection's keepalive never notices a peer that acknowledges pings.
type connPool struct {
	conns []*grpc.ClientConn
	next  atomic.Uint32
	// timeout bounds each unary call; zero leaves calls unbounded.
	timeout time.Duration
}

var _ grpc.ClientConnInterface = (*connPool)(nil)

// dialPool dials n connections to addr, secured by transport (nil:
// plaintext), whose unary calls are bounded by timeout; extra are added
// to each (the tracing's stats handler).
func dialPool(addr string, n int, timeout time.Duration, transport credentials.TransportCredentials, extra ...grpc.DialOption) (*connPool, error) {
	p := &connPool{timeout: timeout}
	for range n {
		// No credentials of the gateway's own: each call carries its
		// client's token, forwarded as metadata.
		conn, err := authn.Dial(addr, transport, nil, extra...)
		if err != nil {
			return nil, errors.Join(err, p.Close())
		}
		p.conns = append(p.conns, conn)
	}
	return p, nil
}

func (p *connPool) pick() *grpc.ClientConn {
	return p.conns[int(p.next.Add(1))%len(p.conns)]
}

// Invoke implements grpc.ClientConnInterface. A call that outlives the
// pool's timeout fails DeadlineExceeded, which handleError answers 504.
func (p *connPool) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	return p.pick().Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (p *connPool) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return p.pick().NewStream(ctx, desc, method, opts...)
}

// Close closes every connection.
func (p *connPool) Close() error {
	var errs []error
	for _, c := range p.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
