package authn

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The test service: one unary and one server-streaming method, each
// answering with "<subject>/<role>" of the principal it sees.
const (
	whoService   = "authn.test.Who"
	whoUnary     = "/" + whoService + "/Unary"
	whoStream    = "/" + whoService + "/Stream"
	whoStreamRPC = "Stream"
)

type whoServer interface{}

func describe(ctx context.Context) (*wrapperspb.StringValue, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal in context")
	}
	return wrapperspb.String(p.Subject + "/" + string(p.Role)), nil
}

var whoDesc = grpc.ServiceDesc{
	ServiceName: whoService,
	HandlerType: (*whoServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) { return describe(ctx) }
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: whoUnary}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    whoStreamRPC,
		ServerStreams: true,
		Handler: func(_ any, stream grpc.ServerStream) error {
			if err := stream.RecvMsg(new(emptypb.Empty)); err != nil {
				return err
			}
			out, err := describe(stream.Context())
			if err != nil {
				return err
			}
			return stream.SendMsg(out)
		},
	}},
}

// startServer serves the health and test services behind v's interceptors
// over bufconn and returns a client connection.
func startServer(t *testing.T, v *Verifier) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(v.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(v.StreamInterceptor()),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	srv.RegisterService(&whoDesc, struct{}{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func callUnary(ctx context.Context, conn *grpc.ClientConn, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(ctx, whoUnary, &emptypb.Empty{}, out, opts...)
	return out.GetValue(), err
}

func callStream(ctx context.Context, conn *grpc.ClientConn, opts ...grpc.CallOption) (string, error) {
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{StreamName: whoStreamRPC, ServerStreams: true}, whoStream, opts...)
	if err != nil {
		return "", err
	}
	if err := cs.SendMsg(&emptypb.Empty{}); err != nil {
		return "", err
	}
	if err := cs.CloseSend(); err != nil {
		return "", err
	}
	out := new(wrapperspb.StringValue)
	if err := cs.RecvMsg(out); err != nil {
		return "", err
	}
	return out.GetValue(), nil
}

func TestInterceptors(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	now := time.Now()
	conn := startServer(t, NewVerifier(pub))

	good := mustSign(t, priv, clerkP, time.Hour, now)
	expired := mustSign(t, priv, clerkP, time.Minute, now.Add(-time.Hour))
	forged := mustSign(t, otherPriv, adminP, time.Hour, now)

	withHeader := func(vals ...string) context.Context {
		ctx := context.Background()
		for _, v := range vals {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
		}
		return ctx
	}

	t.Run("health is public", func(t *testing.T) {
		resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("Health/Check without token: %v", err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("status = %v, want SERVING", resp.GetStatus())
		}
	})

	tests := []struct {
		name     string
		ctx      context.Context
		opts     []grpc.CallOption
		want     codes.Code
		wantMsg  string
		wantBody string
	}{
		{"no token", context.Background(), nil, codes.Unauthenticated, "missing bearer token", ""},
		{"empty bearer", withHeader("Bearer "), nil, codes.Unauthenticated, "missing bearer token", ""},
		{"basic scheme", withHeader("Basic " + good), nil, codes.Unauthenticated, "missing bearer token", ""},
		{"token without scheme", withHeader(good), nil, codes.Unauthenticated, "missing bearer token", ""},
		{"garbage token", withHeader("Bearer not.a.token"), nil, codes.Unauthenticated, "invalid or expired token", ""},
		{"expired token", withHeader("Bearer " + expired), nil, codes.Unauthenticated, "invalid or expired token", ""},
		{"forged token", withHeader("Bearer " + forged), nil, codes.Unauthenticated, "invalid or expired token", ""},
		{"two tokens", withHeader("Bearer "+good, "Bearer "+good), nil, codes.Unauthenticated, "invalid or expired token", ""},
		{"good token", withHeader("Bearer " + good), nil, codes.OK, "", "clerk-wang/clerk"},
		{"lower-case scheme", withHeader("bearer " + good), nil, codes.OK, "", "clerk-wang/clerk"},
		{"BearerCredentials", context.Background(), []grpc.CallOption{grpc.PerRPCCredentials(BearerCredentials(good))}, codes.OK, "", "clerk-wang/clerk"},
		{"BearerCredentials with forged token", context.Background(), []grpc.CallOption{grpc.PerRPCCredentials(BearerCredentials(forged))}, codes.Unauthenticated, "invalid or expired token", ""},
	}
	calls := []struct {
		name string
		call func(context.Context, *grpc.ClientConn, ...grpc.CallOption) (string, error)
	}{
		{"unary", callUnary},
		{"stream", callStream},
	}
	for _, c := range calls {
		for _, tc := range tests {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(tc.ctx, 5*time.Second)
				defer cancel()
				got, err := c.call(ctx, conn, tc.opts...)
				st := status.Convert(err)
				if st.Code() != tc.want {
					t.Fatalf("code = %v (%v), want %v", st.Code(), err, tc.want)
				}
				if st.Message() != tc.wantMsg {
					t.Errorf("message = %q, want %q", st.Message(), tc.wantMsg)
				}
				if strings.Contains(st.Message(), good) || strings.Contains(st.Message(), forged) {
					t.Error("status message echoes a token")
				}
				if got != tc.wantBody {
					t.Errorf("handler saw %q, want %q", got, tc.wantBody)
				}
			})
		}
	}
}

func TestIsPublicMethod(t *testing.T) {
	tests := []struct {
		method string
		want   bool
	}{
		{"/grpc.health.v1.Health/Check", true},
		{"/grpc.health.v1.Health/Watch", true},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true},
		{"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", true},
		{"/socmgmt.registry.v1.RegistryService/GetRetiree", false},
		{"/socmgmt.activity.v1.ActivityService/GetCalendarFeed", true},
		{"/socmgmt.activity.v1.ActivityService/GetCalendarFeedX", false},
		{"/socmgmt.activity.v1.ActivityService/GetCommunityCalendar", false},
		{"/grpc.health.v1.HealthX/Check", false},
		{"/x/grpc.health.v1.Health/Check", false},
		{"grpc.health.v1.Health/Check", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			if got := IsPublicMethod(tc.method); got != tc.want {
				t.Errorf("IsPublicMethod(%q) = %v, want %v", tc.method, got, tc.want)
			}
		})
	}
}

func TestBearerCredentials(t *testing.T) {
	c := BearerCredentials("tok")
	if c.RequireTransportSecurity() {
		t.Error("RequireTransportSecurity = true, want false")
	}
	md, err := c.GetRequestMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := md["authorization"]; got != "Bearer tok" {
		t.Errorf("authorization = %q, want %q", got, "Bearer tok")
	}
	md["authorization"] = "changed"
	md2, _ := c.GetRequestMetadata(context.Background())
	if md2["authorization"] != "Bearer tok" {
		t.Error("modifying returned metadata changed the credentials")
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  abc ", "BEARER a.b.c", "Basic abc", "Bearer", "Bearer ", "", " Bearer\tx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, ok := parseBearer(h)
		if !ok {
			if tok != "" {
				t.Fatalf("parseBearer(%q) failed but returned %q", h, tok)
			}
			return
		}
		if tok == "" || tok != strings.TrimSpace(tok) {
			t.Fatalf("parseBearer(%q) = %q: empty or untrimmed", h, tok)
		}
		if !strings.HasSuffix(strings.TrimSpace(h), tok) {
			t.Fatalf("parseBearer(%q) = %q: not the tail of the header", h, tok)
		}
		if again, ok := parseBearer("Bearer " + tok); !ok || again != tok {
			t.Fatalf("parseBearer does not round-trip %q", tok)
		}
	})
}

// BenchmarkAuthenticate is the token check of every call on a cache hit:
// the bearer token read from the incoming metadata, then Verify.
func BenchmarkAuthenticate(b *testing.B) {
	pub, priv := newKey(b)
	tok := mustSign(b, priv, clerkP, time.Hour, time.Now())
	v := NewVerifier(pub)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		authorizationKey, "Bearer "+tok, "x-request-id", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"user-agent", "grpc-go/1.85.0", "content-type", "application/grpc"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Authenticate(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
