package grpcserver

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/socmgmt/socmgmt/internal/requestid"
)

// fakeTransportStream stands in for the grpc stream that a real server puts
// into the context, so that the header write is measured as in production.
type fakeTransportStream struct{}

func (fakeTransportStream) Method() string               { return echoUnaryMethod }
func (fakeTransportStream) SetHeader(metadata.MD) error  { return nil }
func (fakeTransportStream) SendHeader(metadata.MD) error { return nil }
func (fakeTransportStream) SetTrailer(metadata.MD) error { return nil }

// benchHandler is not inlined, so "bare handler" measures a real call.
//
//go:noinline
func benchHandler(_ context.Context, req any) (any, error) { return req, nil }

// BenchmarkUnaryChain measures the bootstrap's interceptors around a trivial
// handler with one inner interceptor and a Subject func, without a network.
func BenchmarkUnaryChain(b *testing.B) {
	jsonLog := zap.New(zapcore.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel))
	passthrough := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(ctx, req)
	}
	handler := benchHandler
	info := &grpc.UnaryServerInfo{FullMethod: echoUnaryMethod}
	req := wrapperspb.String("x")
	base := grpc.NewContextWithServerTransportStream(context.Background(), fakeTransportStream{})

	b.Run("bare handler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = handler(base, req)
		}
	})

	tests := []struct {
		name     string
		log      *zap.Logger
		incoming metadata.MD
		parallel bool
	}{
		{name: "nop log", log: zap.NewNop(), incoming: metadata.Pairs(requestid.Key, "01ARZ3NDEKTSV4RRFFQ69G5FAV")},
		{name: "json log", log: jsonLog, incoming: metadata.Pairs(requestid.Key, "01ARZ3NDEKTSV4RRFFQ69G5FAV")},
		{name: "json log generated id", log: jsonLog, incoming: metadata.Pairs("x-other", "1")},
		{name: "json log parallel", log: jsonLog, incoming: metadata.Pairs(requestid.Key, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), parallel: true},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			srv := New(Options{
				Name:    "bench",
				Logger:  tc.log,
				Unary:   []grpc.UnaryServerInterceptor{passthrough},
				Subject: func(context.Context) string { return testSubject },
			})
			ctx := metadata.NewIncomingContext(base, tc.incoming)
			b.ReportAllocs()
			if tc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := srv.interceptUnary(ctx, req, info, handler); err != nil {
							b.Error(err)
							return
						}
					}
				})
				return
			}
			for b.Loop() {
				if _, err := srv.interceptUnary(ctx, req, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestInnerChainNeedsTheCallsContext: the inner chain's steps find the
// call in the context, so an interceptor that passes on a context not
// derived from its own gets Internal rather than a call to nowhere.
func TestInnerChainNeedsTheCallsContext(t *testing.T) {
	t.Parallel()
	var order []string
	mark := func(name string, detach bool) grpc.UnaryServerInterceptor {
		return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			order = append(order, name)
			if detach {
				ctx = context.Background()
			}
			return handler(ctx, req)
		}
	}
	info := &grpc.UnaryServerInfo{FullMethod: echoUnaryMethod}
	base := grpc.NewContextWithServerTransportStream(context.Background(), fakeTransportStream{})
	req := wrapperspb.String("x")

	srv := New(Options{Name: "t", Unary: []grpc.UnaryServerInterceptor{mark("a", false), mark("b", false)}})
	resp, err := srv.interceptUnary(base, req, info, benchHandler)
	if err != nil || resp != req {
		t.Fatalf("chain of two = %v, %v; want the handler's answer", resp, err)
	}
	if got := strings.Join(order, ","); got != "a,b" {
		t.Errorf("interceptors ran in the order %s, want a,b", got)
	}

	srv = New(Options{Name: "t", Unary: []grpc.UnaryServerInterceptor{mark("detach", true), mark("b", false)}})
	if _, err := srv.interceptUnary(base, req, info, benchHandler); status.Code(err) != codes.Internal {
		t.Errorf("after a detached context: %v, want Internal", err)
	}
}
