package grpcserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/requestid"
)

// BenchmarkServiceChain measures the interceptor chain alone as a service
// runs it (see ServiceConfig.newServer): request id, token check on a
// cache hit, the caller's budget, subject capture, access log as JSON and
// metrics, around a trivial handler, without a network.
func BenchmarkServiceChain(b *testing.B) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	token, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "bench", Role: authn.RoleBureau}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	verifier := authn.NewVerifier(pub)
	cfg := limits.DefaultConfig()
	if err := cfg.Set("*.personal=1000000/s:1000000"); err != nil {
		b.Fatal(err)
	}
	limiter := limits.New(limits.Options{Config: cfg, Methods: limits.Table{echoUnaryMethod: limits.PersonalRead}})
	srv := New(Options{
		Name: "bench",
		Logger: zap.New(zapcore.NewCore(
			zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zapcore.InfoLevel)),
		Unary:   []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor(), limiter.UnaryInterceptor()},
		Subject: authn.SubjectOf,
	})
	info := &grpc.UnaryServerInfo{FullMethod: echoUnaryMethod}
	req := wrapperspb.String("x")
	ctx := metadata.NewIncomingContext(
		grpc.NewContextWithServerTransportStream(context.Background(), fakeTransportStream{}),
		metadata.Pairs("authorization", "Bearer "+token, requestid.Key, "01ARZ3NDEKTSV4RRFFQ69G5FAV",
			"user-agent", "grpc-go/1.85.0", "content-type", "application/grpc"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := srv.interceptUnary(ctx, req, info, benchHandler); err != nil {
			b.Fatal(err)
		}
	}
}
