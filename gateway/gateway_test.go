package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/requestid"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// fakeRegistry records what reaches it and answers just enough for the
// gateway to have something to forward.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer

	mu    sync.Mutex
	calls []upstreamCall
	// reached counts the calls of every service on the fake's server but
	// health, so that a test sees a request reach any upstream.
	reached atomic.Int64
}

type upstreamCall struct {
	method string
	req    proto.Message
	md     metadata.MD
}

// record remembers the call and, like the real services, echoes the request
// id back as a response header.
func (f *fakeRegistry) record(ctx context.Context, method string, req proto.Message) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls = append(f.calls, upstreamCall{method: method, req: req, md: md})
	f.mu.Unlock()
	if ids := md.Get(requestid.Key); len(ids) > 0 {
		// A header that fails to send shows as a missing request id.
		_ = grpc.SetHeader(ctx, metadata.Pairs(requestid.Key, ids[0]))
	}
}

// noCallsFromNow returns a check that fails t if the upstream has been
// called since noCallsFromNow: a request the gateway refuses itself must
// not reach it.
func (f *fakeRegistry) noCallsFromNow() func(t *testing.T) {
	before := f.callCount()
	return func(t *testing.T) {
		t.Helper()
		if f.callCount() != before {
			t.Errorf("the upstream was called")
		}
	}
}

func (f *fakeRegistry) callCount() int {
	return int(f.reached.Load())
}

// countCalls is the fake server's interceptor behind reached.
func (f *fakeRegistry) countCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if !strings.HasPrefix(info.FullMethod, "/grpc.health.") {
		f.reached.Add(1)
	}
	return handler(ctx, req)
}

func (f *fakeRegistry) lastCall(t *testing.T) upstreamCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("no call reached the upstream")
	}
	return f.calls[len(f.calls)-1]
}

func (f *fakeRegistry) CreateRetiree(ctx context.Context, req *registryv1.CreateRetireeRequest) (*registryv1.CreateRetireeResponse, error) {
	f.record(ctx, "CreateRetiree", req)
	r := proto.Clone(req.GetRetiree()).(*registryv1.Retiree)
	r.Id = "r-1"
	return &registryv1.CreateRetireeResponse{Retiree: r}, nil
}

// GetRetiree fails with code N, carrying an ErrorInfo, for id "code-N".
func (f *fakeRegistry) GetRetiree(ctx context.Context, req *registryv1.GetRetireeRequest) (*registryv1.GetRetireeResponse, error) {
	f.record(ctx, "GetRetiree", req)
	if n, ok := strings.CutPrefix(req.GetId(), "code-"); ok {
		c, err := strconv.Atoi(n)
		if err != nil {
			return nil, status.Error(codes.Internal, "bad test id")
		}
		st := status.New(codes.Code(c), "refused by test").Proto()
		st.Details = append(st.Details, errorInfo("TEST_REASON", "registry.socmgmt"))
		return nil, status.FromProto(st).Err()
	}
	return &registryv1.GetRetireeResponse{Retiree: &registryv1.Retiree{Id: req.GetId(), Name: "张三", Etag: fakeEtag}}, nil
}

// fakeEtag is the etag of every retiree the fake has; staleEtag is one
// it refuses as the real registry refuses an etag that is out of date.
const (
	fakeEtag  = "r7"
	staleEtag = "r6"
)

// staleEtagError is the registry's refusal of a stale etag.
func staleEtagError() error {
	st := status.New(codes.Aborted, "the retiree has changed since it was read").Proto()
	st.Details = append(st.Details, errorInfo(apierror.ReasonEtagMismatch, apierror.Domain))
	return status.FromProto(st).Err()
}

// ListRetirees answers pageSize retirees, so that a test chooses how long
// the answer is.
func (f *fakeRegistry) ListRetirees(ctx context.Context, req *registryv1.ListRetireesRequest) (*registryv1.ListRetireesResponse, error) {
	f.record(ctx, "ListRetirees", req)
	resp := &registryv1.ListRetireesResponse{}
	for i := range req.GetPageSize() {
		resp.Retirees = append(resp.Retirees, &registryv1.Retiree{Id: fmt.Sprintf("r-%d", i), Name: "张三", CommunityId: "210102001001", Etag: fakeEtag})
	}
	return resp, nil
}

func (f *fakeRegistry) TransferRetiree(ctx context.Context, req *registryv1.TransferRetireeRequest) (*registryv1.TransferRetireeResponse, error) {
	f.record(ctx, "TransferRetiree", req)
	if req.GetEtag() == staleEtag {
		return nil, staleEtagError()
	}
	return &registryv1.TransferRetireeResponse{Retiree: &registryv1.Retiree{Id: req.GetId(), CommunityId: req.GetToCommunityId(), Etag: "r8"}}, nil
}

// errorInfo encodes a google.rpc.ErrorInfo by hand: the test must not import
// errdetails, or it would register the types the gateway has to register
// itself to render details.
func errorInfo(reason, domain string) *anypb.Any {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, reason)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendString(b, domain)
	return &anypb.Any{TypeUrl: "type.googleapis.com/google.rpc.ErrorInfo", Value: b}
}

func (f *fakeRegistry) UpdateRetiree(ctx context.Context, req *registryv1.UpdateRetireeRequest) (*registryv1.UpdateRetireeResponse, error) {
	f.record(ctx, "UpdateRetiree", req)
	if req.GetRetiree().GetEtag() == staleEtag {
		return nil, staleEtagError()
	}
	return &registryv1.UpdateRetireeResponse{Retiree: req.GetRetiree()}, nil
}

// testUpstream is a running fake service.
type testUpstream struct {
	addr   string
	fake   *fakeRegistry
	health *health.Server
	srv    *grpc.Server
}

// startUpstream serves a fake of every service on a loopback port, with
// opts (credentials) beside its own options.
func startUpstream(t *testing.T, opts ...grpc.ServerOption) *testUpstream {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := &fakeRegistry{}
	u := &testUpstream{addr: lis.Addr().String(), fake: fake, health: health.NewServer(),
		srv: grpc.NewServer(append(opts, grpc.UnaryInterceptor(fake.countCalls))...)}
	registryv1.RegisterRegistryServiceServer(u.srv, u.fake)
	// The other services answer Unimplemented to everything, which is
	// enough to see that a request got through the gateway.
	handoverv1.RegisterHandoverServiceServer(u.srv, handoverv1.UnimplementedHandoverServiceServer{})
	pensionv1.RegisterPensionServiceServer(u.srv, pensionv1.UnimplementedPensionServiceServer{})
	activityv1.RegisterActivityServiceServer(u.srv, activityv1.UnimplementedActivityServiceServer{})
	caseworkv1.RegisterCaseworkServiceServer(u.srv, caseworkv1.UnimplementedCaseworkServiceServer{})
	grpc_health_v1.RegisterHealthServer(u.srv, u.health)
	go u.srv.Serve(lis)
	t.Cleanup(u.srv.Stop)
	return u
}

// startGateway serves a gateway in front of registry, with defaults
// otherwise, returning its base URL.
// startBehindGateway starts a fake registry and, in front of it, a
// gateway with the test configuration; it returns the fake and the
// gateway's URL.
func startBehindGateway(t *testing.T) (*testUpstream, string) {
	t.Helper()
	up := startUpstream(t)
	_, url := startGateway(t, testConfig(up.addr), zaptest.NewLogger(t))
	return up, url
}

func startGateway(t *testing.T, cfg Config, logger *zap.Logger) (*Gateway, string) {
	t.Helper()
	g, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(g)
	t.Cleanup(func() {
		ts.Close()
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return g, ts.URL
}

func testConfig(registryAddr string) Config {
	cfg := DefaultConfig()
	cfg.RegistryAddr = registryAddr
	cfg.AdminAddr = ""
	return cfg
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

// sendWant sends req and fails the test unless the answer has the status
// want.
func sendWant(t *testing.T, req *http.Request, want int) response {
	t.Helper()
	resp := send(t, req)
	if resp.code != want {
		t.Fatalf("%s %s: status %d, want %d; body %.200s", req.Method, req.URL.Path, resp.code, want, resp.body)
	}
	return resp
}

func send(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: body}
}

func newRequest(t *testing.T, method, url, body string, header map[string]string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// statusBody is google.rpc.Status as JSON, decoded without its proto types.
type statusBody struct {
	Code    codes.Code       `json:"code"`
	Message string           `json:"message"`
	Details []map[string]any `json:"details"`
}

func decodeStatus(t *testing.T, body []byte) statusBody {
	t.Helper()
	var st statusBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("body is not a google.rpc.Status: %v\n%s", err, body)
	}
	return st
}

func TestCreateRetireeReachesUpstream(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)

	body := `{"idNumber":"11010519491231002X","name":"张三","sex":"FEMALE","communityId":"210102001001","flags":["LIVING_ALONE","AGED_80_PLUS"]}`
	resp := sendWant(t, newRequest(t, http.MethodPost, url+"/v1/retirees", body, map[string]string{"Content-Type": "application/json"}), http.StatusOK)
	want := &registryv1.Retiree{
		IdNumber:    "11010519491231002X",
		Name:        "张三",
		Sex:         registryv1.Sex_FEMALE,
		CommunityId: "210102001001",
		Flags:       []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_AGED_80_PLUS},
	}
	call := up.fake.lastCall(t)
	if diff := cmp.Diff(&registryv1.CreateRetireeRequest{Retiree: want}, call.req, protocmp.Transform()); diff != "" {
		t.Errorf("upstream request (-want +got):\n%s", diff)
	}
	if got := resp.header.Get("Grpc-Metadata-Content-Type"); got != "" {
		t.Errorf("the upstream's gRPC content type %q leaked into the response", got)
	}
	// The response body is the retiree itself, in protojson.
	var got registryv1.Retiree
	if err := protojson.Unmarshal(resp.body, &got); err != nil {
		t.Fatalf("response: %v\n%s", err, resp.body)
	}
	want.Id = "r-1"
	if diff := cmp.Diff(want, &got, protocmp.Transform()); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestUpdateRetireeInfersMaskFromBody(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)

	body := `{"name":"李四","residenceAddress":"沈阳市和平区","etag":"e1"}`
	sendWant(t, newRequest(t, http.MethodPatch, url+"/v1/retirees/r-9", body, nil), http.StatusOK)
	req, ok := up.fake.lastCall(t).req.(*registryv1.UpdateRetireeRequest)
	if !ok {
		t.Fatalf("upstream got %T", up.fake.lastCall(t).req)
	}
	want := &registryv1.UpdateRetireeRequest{
		Retiree:    &registryv1.Retiree{Id: "r-9", Name: "李四", ResidenceAddress: "沈阳市和平区", Etag: "e1"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"etag", "name", "residence_address"}},
	}
	slices.Sort(req.GetUpdateMask().GetPaths())
	if diff := cmp.Diff(want, req, protocmp.Transform()); diff != "" {
		t.Errorf("upstream request (-want +got):\n%s", diff)
	}
}

func TestUnknownFieldIsRejected(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)

	tests := []struct {
		name, method, path, body string
	}{
		{"create", http.MethodPost, "/v1/retirees", `{"name":"张三","bogusField":1}`},
		{"update", http.MethodPatch, "/v1/retirees/r-1", `{"name":"张三","bogusField":1}`},
		{"lookup", http.MethodPost, "/v1/retirees:lookup", `{"idNumber":"11010519491231002X","bogusField":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noCall := up.fake.noCallsFromNow()
			resp := sendWant(t, newRequest(t, tc.method, url+tc.path, tc.body, nil), http.StatusBadRequest)
			st := decodeStatus(t, resp.body)
			if st.Code != codes.InvalidArgument || !strings.Contains(st.Message, "bogusField") {
				t.Errorf("status %v %q, want InvalidArgument naming bogusField", st.Code, st.Message)
			}
			if len(st.Details) != 1 || st.Details[0]["@type"] != "type.googleapis.com/google.rpc.BadRequest" ||
				!strings.Contains(fmt.Sprint(st.Details[0]["fieldViolations"]), "field:bogusField") {
				t.Errorf("details %v, want a BadRequest naming bogusField", st.Details)
			}
			noCall(t)
		})
	}
}

// TestBadValueIsNotEchoed: a body whose value has the wrong JSON type is a
// 400 naming the field, without repeating the value (it may be an ID
// number or a phone number).
func TestBadValueIsNotEchoed(t *testing.T) {
	t.Parallel()
	_, url := startBehindGateway(t)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"number for a string", `{"idNumber":110105194912310021,"name":"张三"}`, "idNumber"},
		{"phone as number", `{"phone":13812345678}`, "phone"},
		{"not JSON", `{"name":`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := sendWant(t, newRequest(t, http.MethodPost, url+"/v1/retirees", tc.body, nil), http.StatusBadRequest)
			for _, secret := range []string{"110105194912310021", "13812345678"} {
				if strings.Contains(string(resp.body), secret) {
					t.Errorf("answer repeats the value: %s", resp.body)
				}
			}
			st := decodeStatus(t, resp.body)
			if tc.field != "" && (len(st.Details) != 1 || !strings.Contains(fmt.Sprint(st.Details[0]["fieldViolations"]), "field:"+tc.field)) {
				t.Errorf("details %v, want a BadRequest naming %s", st.Details, tc.field)
			}
		})
	}
}

func TestUpstreamErrorsBecomeStatusJSON(t *testing.T) {
	t.Parallel()
	_, url := startBehindGateway(t)

	tests := []struct {
		code codes.Code
		want int
	}{
		{codes.InvalidArgument, http.StatusBadRequest},
		{codes.FailedPrecondition, http.StatusBadRequest},
		{codes.Unauthenticated, http.StatusUnauthorized},
		{codes.PermissionDenied, http.StatusForbidden},
		{codes.NotFound, http.StatusNotFound},
		{codes.AlreadyExists, http.StatusConflict},
		{codes.Aborted, http.StatusConflict},
		{codes.ResourceExhausted, http.StatusTooManyRequests},
		{codes.Unavailable, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.code.String(), func(t *testing.T) {
			resp := sendWant(t, newRequest(t, http.MethodGet, url+"/v1/retirees/code-"+strconv.Itoa(int(tc.code)), "", nil), tc.want)
			if ct := resp.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			want := statusBody{
				Code:    tc.code,
				Message: "refused by test",
				Details: []map[string]any{{
					"@type":  "type.googleapis.com/google.rpc.ErrorInfo",
					"reason": "TEST_REASON",
					"domain": "registry.socmgmt",
				}},
			}
			if diff := cmp.Diff(want, decodeStatus(t, resp.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// unsizedReader hides the length of its contents, so the client sends them
// chunked, without Content-Length.
type unsizedReader struct{ io.Reader }

func jsonBodyOfSize(n int) []byte {
	const head, tail = `{"name":"`, `"}`
	return []byte(head + strings.Repeat("a", n-len(head)-len(tail)) + tail)
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)
	const limit = 1 << 20

	tests := []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"2 MiB with Content-Length", 2 << 20, false, http.StatusRequestEntityTooLarge},
		{"2 MiB chunked", 2 << 20, true, http.StatusRequestEntityTooLarge},
		{"one byte over, with Content-Length", limit + 1, false, http.StatusRequestEntityTooLarge},
		{"one byte over, chunked", limit + 1, true, http.StatusRequestEntityTooLarge},
		{"at the limit, with Content-Length", limit, false, http.StatusOK},
		{"at the limit, chunked", limit, true, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := jsonBodyOfSize(tc.size)
			var rd io.Reader = bytes.NewReader(body)
			if tc.chunked {
				rd = unsizedReader{rd}
			}
			req, err := http.NewRequest(http.MethodPost, url+"/v1/retirees", rd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.chunked {
				req.ContentLength = -1
			}
			noCall := up.fake.noCallsFromNow()
			resp := sendWant(t, req, tc.want)
			if tc.want == http.StatusOK {
				got := up.fake.lastCall(t).req.(*registryv1.CreateRetireeRequest).GetRetiree().GetName()
				if len(got) != tc.size-len(`{"name":""}`) {
					t.Errorf("upstream got a name of %d bytes", len(got))
				}
				return
			}
			want := statusBody{Code: codes.InvalidArgument, Message: "request body exceeds 1048576 bytes"}
			if diff := cmp.Diff(want, decodeStatus(t, resp.body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			noCall(t)
		})
	}
}

func TestAuthorizationIsForwarded(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)

	tests := []struct {
		name   string
		header map[string]string
		want   []string
	}{
		{"bearer token", map[string]string{"Authorization": "Bearer aaa.bbb.ccc"}, []string{"Bearer aaa.bbb.ccc"}},
		{"none", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sendWant(t, newRequest(t, http.MethodGet, url+"/v1/retirees/r-1", "", tc.header), http.StatusOK)
			got := up.fake.lastCall(t).md.Get("authorization")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("authorization metadata (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)

	tests := []struct {
		name     string
		path     string
		sent     string
		keep     bool // the sent id is used as is
		upstream bool // the request reaches the upstream
	}{
		{"client id kept", "/v1/retirees/r-1", "3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6e", true, true},
		{"client ULID kept", "/v1/retirees/r-1", "01ARZ3NDEKTSV4RRFFQ69G5FAV", true, true},
		{"generated when absent", "/v1/retirees/r-1", "", false, true},
		{"replaced when unsafe", "/v1/retirees/r-1", "evil\" id", false, true},
		{"replaced when free-form", "/v1/retirees/r-1", "req-1.A_b", false, true},
		{"replaced when an ID number", "/v1/retirees/r-1", "11010519491231002X", false, true},
		{"replaced when too long", "/v1/retirees/r-1", strings.Repeat("a", requestid.MaxLen+1), false, true},
		{"set on gateway routes", "/healthz", "01ARZ3NDEKTSV4RRFFQ69G5FAW", true, false},
		{"set on unmatched routes", "/nowhere", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet, url+tc.path, "", nil)
			if tc.sent != "" {
				req.Header.Set(requestid.Header, tc.sent)
			}
			noCall := up.fake.noCallsFromNow()
			resp := send(t, req)
			got := resp.header.Values(requestid.Header)
			if len(got) != 1 || !requestid.Valid(got[0]) {
				t.Fatalf("X-Request-Id %q, want one valid id", got)
			}
			if tc.keep != (got[0] == tc.sent) {
				t.Errorf("X-Request-Id %q, sent %q, want kept: %v", got[0], tc.sent, tc.keep)
			}
			if !tc.upstream {
				noCall(t)
				return
			}
			if diff := cmp.Diff([]string{got[0]}, up.fake.lastCall(t).md.Get(requestid.Key)); diff != "" {
				t.Errorf("upstream x-request-id (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	registry := startUpstream(t)
	handover := startUpstream(t) // health only: no handover routes yet
	cfg := testConfig(registry.addr)
	cfg.HandoverAddr = handover.addr
	_, url := startGateway(t, cfg, zaptest.NewLogger(t))

	check := func(t *testing.T, wantCode int, want healthReport) {
		t.Helper()
		resp := send(t, newRequest(t, http.MethodGet, url+"/healthz", "", nil))
		var got healthReport
		if err := json.Unmarshal(resp.body, &got); err != nil {
			t.Fatalf("body: %v\n%s", err, resp.body)
		}
		if resp.code != wantCode {
			t.Errorf("status %d, want %d", resp.code, wantCode)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
	}

	check(t, http.StatusOK, healthReport{Status: "SERVING", Upstreams: map[string]string{"registry": "SERVING", "handover": "SERVING"}})

	handover.health.SetServingStatus("", grpc_health_v1.HealthCheckResponse_NOT_SERVING)
	check(t, http.StatusServiceUnavailable, healthReport{Status: "NOT_SERVING", Upstreams: map[string]string{"registry": "SERVING", "handover": "NOT_SERVING"}})
	handover.health.SetServingStatus("", grpc_health_v1.HealthCheckResponse_SERVING)

	registry.srv.Stop()
	want := healthReport{Status: "NOT_SERVING", Upstreams: map[string]string{"registry": "UNREACHABLE", "handover": "SERVING"}}
	// The gateway learns of the closed connection asynchronously.
	waitfor.NoError(t, "/healthz to report registry unreachable", func(context.Context) error {
		resp := send(t, newRequest(t, http.MethodGet, url+"/healthz", "", nil))
		var got healthReport
		if json.Unmarshal(resp.body, &got) != nil || !cmp.Equal(want, got) {
			return fmt.Errorf("status %d, report %s; want 503 with %+v", resp.code, resp.body, want)
		}
		if resp.code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", resp.code)
		}
		return nil
	})
}

func TestHealthzWhileDraining(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	g, url := startGateway(t, testConfig(up.addr), zaptest.NewLogger(t))
	g.draining.Store(true)
	resp := send(t, newRequest(t, http.MethodGet, url+"/healthz", "", nil))
	if resp.code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503; body %s", resp.code, resp.body)
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	resp := getOpenAPI(t)
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title string `json:"title"`
		} `json:"info"`
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			SecuritySchemes map[string]map[string]string `json:"securitySchemes"`
			Schemas         map[string]any               `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(resp.body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.OpenAPI != "3.0.3" || doc.Info.Title != "socmgmt API" {
		t.Errorf("openapi %q, title %q", doc.OpenAPI, doc.Info.Title)
	}
	if got := doc.Components.SecuritySchemes["bearer"]; got["type"] != "http" || got["scheme"] != "bearer" {
		t.Errorf("bearer security scheme %v", got)
	}
	for _, op := range [][2]string{
		{"get", "/v1/retirees/{id}"},
		{"patch", "/v1/retirees/{id}"},
		{"post", "/v1/retirees:lookup"},
		{"post", "/v1/retirees"},
		{"get", "/v1/communities/{id}/calendar.ics"},
	} {
		if _, ok := doc.Paths[op[1]][op[0]]; !ok {
			t.Errorf("no %s %s in paths", op[0], op[1])
		}
	}
	for _, def := range []string{"v1Retiree", "rpcStatus", "rpcBadRequest", "rpcErrorInfo", "protobufAny"} {
		if _, ok := doc.Components.Schemas[def]; !ok {
			t.Errorf("no schema %s", def)
		}
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	g, url := startGateway(t, testConfig(up.addr), zaptest.NewLogger(t))

	send(t, newRequest(t, http.MethodGet, url+"/v1/retirees/r-1", "", nil))
	send(t, newRequest(t, http.MethodGet, url+"/v1/retirees/code-7", "", nil))
	send(t, newRequest(t, http.MethodGet, url+"/no/such/route", "", nil))

	rec := httptest.NewRecorder()
	g.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`socmgmt_http_requests_total{code="200",method="GET",route="/v1/retirees/{id}"} 1`,
		`socmgmt_http_requests_total{code="403",method="GET",route="/v1/retirees/{id}"} 1`,
		`socmgmt_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`socmgmt_http_request_duration_seconds_count{method="GET",route="/v1/retirees/{id}"} 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, "r-1") || strings.Contains(out, "/no/such/route") {
		t.Errorf("metrics contain a request path")
	}
	// The gateway's own metrics carry the project's prefix; go_, process_
	// and promhttp_ are the client library's standard ones, which every
	// exporter names alike.
	families, err := g.metrics.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if name := f.GetName(); !strings.HasPrefix(name, "socmgmt_") && !slices.ContainsFunc([]string{"go_", "process_", "promhttp_"}, func(p string) bool { return strings.HasPrefix(name, p) }) {
			t.Errorf("metric %s lacks the socmgmt_ prefix", name)
		}
	}
}

// TestLogsHoldNoSecrets: the access log names the route, never the path
// or the query, so it holds no token, ID number, or the name and ID
// number's end a roster search sends as query parameters.
func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	core, logs := observer.New(zap.InfoLevel)
	_, url := startGateway(t, testConfig(up.addr), zap.New(core))

	const token, idNumber = "Bearer secret.token.value", "11010519491231002X"
	send(t, newRequest(t, http.MethodGet, url+"/v1/retirees?communityId=210102001001&q="+idNumber, "", map[string]string{"Authorization": token, requestid.Header: "01ARZ3NDEKTSV4RRFFQ69G5FAV"}))
	send(t, newRequest(t, http.MethodPost, url+"/v1/retirees:lookup", `{"idNumber":"`+idNumber+`"}`, map[string]string{"Authorization": token}))
	// The roster's search: a name and an ID number's end, which reach
	// the upstream and stay out of the log.
	const name, tail = "张秀英", "7391"
	search := "/v1/retirees?communityId=210102001001&name=" + neturl.QueryEscape(name) + "&idNumberTail=" + tail
	sendWant(t, newRequest(t, http.MethodGet, url+search, "", map[string]string{"Authorization": token}), http.StatusOK)
	if got := up.fake.lastCall(t).req.(*registryv1.ListRetireesRequest); got.GetName() != name || got.GetIdNumberTail() != tail {
		t.Errorf("the upstream was asked for name %q, tail %q", got.GetName(), got.GetIdNumberTail())
	}

	entries := logs.FilterMessage("http request").AllUntimed()
	if len(entries) != 3 {
		t.Fatalf("%d request log entries, want 3", len(entries))
	}
	first := entries[0].ContextMap()
	if first["route"] != "/v1/retirees" || first["request_id"] != "01ARZ3NDEKTSV4RRFFQ69G5FAV" || first["method"] != "GET" {
		t.Errorf("log entry %v", first)
	}
	for _, e := range logs.AllUntimed() {
		line, _ := json.Marshal(e.ContextMap())
		for _, secret := range []string{"secret.token", idNumber, "communityId", name, neturl.QueryEscape(name), tail, "idNumberTail"} {
			if strings.Contains(e.Message, secret) || strings.Contains(string(line), secret) {
				t.Errorf("log entry %q %s contains %q", e.Message, line, secret)
			}
		}
	}
}

func TestRoutesOfUnconfiguredServicesAreAbsent(t *testing.T) {
	t.Parallel()
	cfg := testConfig("")
	cfg.HandoverAddr = "127.0.0.1:1" // something must be configured
	_, url := startGateway(t, cfg, zaptest.NewLogger(t))
	resp := send(t, newRequest(t, http.MethodGet, url+"/v1/retirees/r-1", "", nil))
	if resp.code != http.StatusNotFound {
		t.Errorf("status %d, want 404; body %s", resp.code, resp.body)
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRun(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	t.Run("serves until cancelled", func(t *testing.T) {
		cfg := testConfig(up.addr)
		cfg.HTTPAddr = freeAddr(t)
		cfg.AdminAddr = freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg, zaptest.NewLogger(t)) }()

		for _, u := range []string{"http://" + cfg.HTTPAddr + "/healthz", "http://" + cfg.AdminAddr + "/metrics"} {
			waitfor.NoError(t, "GET "+u, func(context.Context) error {
				resp, err := http.Get(u)
				if err != nil {
					return err
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: status %d", u, resp.StatusCode)
				}
				return nil
			})
		}

		cancel()
		if err := waitfor.Receive(t, "Run to return after cancel", done); err != nil {
			t.Errorf("Run: %v", err)
		}
		if resp, err := http.Get("http://" + cfg.HTTPAddr + "/healthz"); err == nil {
			resp.Body.Close()
			t.Error("the gateway still answers after Run returned")
		}
	})
	t.Run("address in use", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cfg := testConfig(up.addr)
		cfg.HTTPAddr = ln.Addr().String()
		if err := Run(context.Background(), cfg, zaptest.NewLogger(t)); err == nil {
			t.Error("Run succeeded on an address in use")
		}
	})
	t.Run("invalid config", func(t *testing.T) {
		cfg := testConfig(up.addr)
		cfg.MaxBodyBytes = 0
		if err := Run(context.Background(), cfg, nil); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Run: %v, want ErrInvalidConfig", err)
		}
	})
}

// TestBearerChallenge: a 401 challenges as RFC 6750 says: the scheme alone
// when no bearer token was sent, invalid_token when one was refused; the
// refusal's text stays in the body.
func TestBearerChallenge(t *testing.T) {
	t.Parallel()
	_, base := startBehindGateway(t)
	tests := []struct {
		name, authorization, want string
	}{
		{"no token", "", "Bearer"},
		{"a refused token", "Bearer aaa.bbb.ccc", `Bearer error="invalid_token"`},
		{"scheme in lower case", "bearer aaa.bbb.ccc", `Bearer error="invalid_token"`},
		{"another scheme", "Basic dXNlcjpwYXNz", "Bearer"},
		{"scheme without a token", "Bearer ", "Bearer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := map[string]string{}
			if tc.authorization != "" {
				header["Authorization"] = tc.authorization
			}
			path := "/v1/retirees/code-" + strconv.Itoa(int(codes.Unauthenticated))
			resp := sendWant(t, newRequest(t, http.MethodGet, base+path, "", header), http.StatusUnauthorized)
			if got := resp.header.Values("WWW-Authenticate"); !cmp.Equal(got, []string{tc.want}) {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.want)
			}
			if st := decodeStatus(t, resp.body); st.Message != "refused by test" {
				t.Errorf("message %q", st.Message)
			}
		})
	}
	t.Run("not on other errors", func(t *testing.T) {
		resp := sendWant(t, newRequest(t, http.MethodGet, base+"/v1/retirees/code-7", "", nil), http.StatusForbidden)
		if got := resp.header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("WWW-Authenticate %q on a 403", got)
		}
	})
}

// TestUpstreamDownLogsNoStack: an upstream that is down is an expected
// condition: it is logged, as a warning without a stack trace, even by a
// logger that adds them to warnings (zap's development configuration,
// which --log-format console uses).
func TestUpstreamDownLogsNoStack(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.InfoLevel)
	_, base := startGateway(t, testConfig(freeAddr(t)), zap.New(core, zap.AddStacktrace(zap.WarnLevel)))
	sendWant(t, newRequest(t, http.MethodGet, base+"/v1/retirees/r-1", "", nil), http.StatusServiceUnavailable)
	entries := logs.AllUntimed()
	if len(logs.FilterMessage("upstream unavailable").AllUntimed()) != 1 {
		t.Errorf("entries %v, want one upstream unavailable", entries)
	}
	for _, e := range entries {
		if e.Stack != "" {
			t.Errorf("entry %q has a stack trace", e.Message)
		}
	}
	// The same logger does add them where they are due.
	zap.New(core, zap.AddStacktrace(zap.WarnLevel)).Warn("control")
	if e := logs.FilterMessage("control").AllUntimed(); len(e) != 1 || e[0].Stack == "" {
		t.Error("the test's logger adds no stack traces to warnings")
	}
}
