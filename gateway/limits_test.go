package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// startLimitedUpstream serves the fake registry behind the authn and
// limits interceptors, as the services chain them, with budgets
// changed from the defaults by settings.
func startLimitedUpstream(t *testing.T, keys servicetest.Keys, settings string) string {
	t.Helper()
	cfg := limits.DefaultConfig()
	if err := cfg.Set(settings); err != nil {
		t.Fatal(err)
	}
	limiter := limits.New(limits.Options{Config: cfg, Methods: limits.Table{
		registryv1.RegistryService_GetRetiree_FullMethodName: limits.PersonalRead,
	}})
	verifier := authn.NewVerifier(keys.Public)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(verifier.UnaryInterceptor(), limiter.UnaryInterceptor()))
	registryv1.RegisterRegistryServiceServer(srv, &fakeRegistry{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// TestRateLimitIs429: a REST caller reaches the service with its own
// token, so the service's budget for that caller applies through the
// gateway as it does over gRPC; over it, the gateway answers 429 with
// Retry-After, and the body's RetryInfo says the same.
func TestRateLimitIs429(t *testing.T) {
	keys := servicetest.NewKeys(t)
	addr := startLimitedUpstream(t, keys, "clerk.personal=1/h:2")
	_, base := startGateway(t, testConfig(addr), zaptest.NewLogger(t))
	clerk := keys.Token(t, servicetest.Clerk("clerk-a", servicetest.CommunityA))
	get := func(token string) response {
		return send(t, newRequest(t, http.MethodGet, base+"/v1/retirees/r-1", "", map[string]string{"Authorization": "Bearer " + token}))
	}
	for i := range 2 {
		if r := get(clerk); r.code != http.StatusOK {
			t.Fatalf("read %d: %d %s", i+1, r.code, r.body)
		}
	}
	r := get(clerk)
	if r.code != http.StatusTooManyRequests {
		t.Fatalf("read over the budget: %d %s, want 429", r.code, r.body)
	}
	after, err := strconv.Atoi(r.header.Get("Retry-After"))
	// One token of a budget of one an hour comes back in an hour.
	if err != nil || after < 3599 || after > 3600 {
		t.Errorf("Retry-After %q, want about 3600 seconds", r.header.Get("Retry-After"))
	}
	var body struct {
		Code    int `json:"code"`
		Details []struct {
			Type       string            `json:"@type"`
			Reason     string            `json:"reason"`
			Metadata   map[string]string `json:"metadata"`
			RetryDelay string            `json:"retryDelay"`
		} `json:"details"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	var reason, delay string
	for _, d := range body.Details {
		switch d.Type {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			reason = d.Reason + " " + d.Metadata["budget"]
		case "type.googleapis.com/google.rpc.RetryInfo":
			delay = d.RetryDelay
		}
	}
	if body.Code != 8 || reason != limits.ReasonRateLimited+" personal" || delay == "" {
		t.Errorf("body %s: want code 8, ErrorInfo RATE_LIMITED personal and a RetryInfo", r.body)
	}

	// Another caller has budgets of its own.
	other := keys.Token(t, servicetest.Clerk("clerk-b", servicetest.CommunityB))
	if r := get(other); r.code != http.StatusOK {
		t.Errorf("another clerk: %d %s", r.code, r.body)
	}
}

// TestRetryAfterHeader: the header is the RetryInfo's delay in whole
// seconds, rounded up, at least one; a status without RetryInfo has none.
func TestRetryAfterHeader(t *testing.T) {
	tests := []struct {
		name   string
		delay  time.Duration
		want   string
		wantOK bool
	}{
		{"milliseconds", 250 * time.Millisecond, "1", true},
		{"exact seconds", 3 * time.Second, "3", true},
		{"a little over", 3*time.Second + time.Millisecond, "4", true},
		{"none", 0, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := status.New(codes.ResourceExhausted, "over budget")
			if tc.delay > 0 {
				var err error
				if st, err = st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(tc.delay)}); err != nil {
					t.Fatal(err)
				}
			}
			got, ok := retryAfterHeader(st)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("retryAfterHeader = %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
