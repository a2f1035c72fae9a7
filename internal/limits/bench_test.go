package limits

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// BenchmarkUnaryInterceptor is what the limiter adds to a call: one
// caller's lookup and a token taken from its bucket, over 1,000 callers
// calling in turn from parallel goroutines.
func BenchmarkUnaryInterceptor(b *testing.B) {
	cfg := DefaultConfig()
	if err := cfg.Set("*.personal=1000000/s:1000000"); err != nil {
		b.Fatal(err)
	}
	l := New(Options{Config: cfg, Methods: testTable})
	ctxs := make([]context.Context, 1000)
	for i := range ctxs {
		ctxs[i] = authn.NewContext(context.Background(), &authn.Principal{Subject: fmt.Sprintf("bureau-%d", i), Role: authn.RoleBureau})
	}
	intercept := l.UnaryInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: mGet}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := intercept(ctxs[i%len(ctxs)], nil, info, handler); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
