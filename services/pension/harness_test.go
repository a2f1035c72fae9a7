package pension

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// The callers of the service tests, one per role; the clerk works for
// communityA only.
var (
	adminP      = authn.Principal{Subject: "admin-1", Role: authn.RoleAdmin}
	bureauP     = authn.Principal{Subject: "bureau-shenyang", Role: authn.RoleBureau}
	clerkP      = authn.Principal{Subject: "clerk-a", Role: authn.RoleClerk, Communities: []string{communityA}}
	enterpriseP = authn.Principal{Subject: "enterprise-x", Role: authn.RoleEnterprise, Enterprise: "91350100M000100Y43"}
	serviceP    = authn.Principal{Subject: "activity", Role: authn.RoleService}
)

// harness is the pension service served by the real bootstrap (grpcserver,
// the authn interceptors, Server over the env's store) on a bufconn
// listener, and a client of it.
type harness struct {
	*env
	signer *authn.Signer
	client pb.PensionServiceClient
	svc    *Server

	stopOnce sync.Once
	cancel   context.CancelFunc
	served   chan error
}

// harnessOptions tunes newHarness; the zero value is fine.
type harnessOptions struct {
	maxRecords int64
}

// newHarness serves e's store as cmd/pension does and returns a client.
func newHarness(t testing.TB, e *env, o harnessOptions) *harness {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "pension",
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		ShutdownTimeout: 10 * time.Second,
	})
	server := NewServer(e.store, ServerOptions{Logger: log, Now: e.now.Now, MaxStreamRecords: o.maxRecords})
	pb.RegisterPensionServiceServer(srv.GRPC(), server)

	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{env: e, signer: authn.NewSigner(priv), svc: server, cancel: cancel, served: make(chan error, 1)}
	go func() { h.served <- srv.ServeListener(ctx, lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	h.client = pb.NewPensionServiceClient(conn)
	t.Cleanup(func() {
		conn.Close()
		h.stop()
	})
	return h
}

// stop shuts the server down gracefully; later calls do nothing.
func (h *harness) stop() {
	h.stopOnce.Do(func() {
		h.cancel()
		if err := <-h.served; err != nil {
			h.t.Errorf("ServeListener: %v", err)
		}
	})
}

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context {
	h.t.Helper()
	tok, err := h.signer.Sign(p, time.Hour, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// importResult is what one import stream answered.
type importResult struct {
	acks    []*pb.ImportAck
	summary *pb.ImportSummary
	err     error
}

// rejections returns the rejections of every ack, by index.
func (r importResult) rejections() map[int64]string {
	out := map[int64]string{}
	for _, a := range r.acks {
		for _, rj := range a.Rejections {
			out[rj.Index] = rj.Reason
		}
	}
	return out
}

// lastDurable returns the highest acknowledged index.
func (r importResult) lastDurable() int64 {
	var n int64
	for _, a := range r.acks {
		n = max(n, a.DurableThroughIndex)
	}
	return n
}

// importStream sends a header and records, closes its side and reads the
// answers to the end.
func importStream(ctx context.Context, client pb.PensionServiceClient, header *pb.ImportHeader, records []*pb.PaymentRecord) importResult {
	stream, err := client.ImportPayments(ctx)
	if err != nil {
		return importResult{err: err}
	}
	sendErr := make(chan error, 1)
	go func() {
		if header != nil {
			if err := stream.Send(&pb.ImportPaymentsRequest{Message: &pb.ImportPaymentsRequest_Header{Header: header}}); err != nil {
				sendErr <- err
				return
			}
		}
		for _, r := range records {
			if err := stream.Send(&pb.ImportPaymentsRequest{Message: &pb.ImportPaymentsRequest_Record{Record: r}}); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var res importResult
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.err = err
			break
		}
		switch m := resp.Message.(type) {
		case *pb.ImportPaymentsResponse_Ack:
			res.acks = append(res.acks, m.Ack)
		case *pb.ImportPaymentsResponse_Summary:
			res.summary = m.Summary
		}
	}
	if err := <-sendErr; err != nil && res.err == nil && !errors.Is(err, io.EOF) {
		res.err = err
	}
	return res
}

// idLike matches anything shaped like an 18-character ID number.
var idLike = regexp.MustCompile(`(^|[^0-9])[0-9]{17}[0-9Xx]`)

// wantStatus checks err's code and that the status carries no ID number or
// the given secrets; it returns the status.
func wantStatus(t testing.TB, err error, want codes.Code, secrets ...string) *status.Status {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	text := prototext.Format(st.Proto())
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("status carries personal data: %s", st.Message())
		}
	}
	if idLike.MatchString(text) {
		t.Errorf("status carries something shaped like an ID number: %s", st.Message())
	}
	return st
}

// badFields returns the field names of the BadRequest detail of st.
func badFields(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	slices.Sort(out)
	return out
}

// wantFields checks that err is InvalidArgument naming exactly the fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	st := wantStatus(t, err, codes.InvalidArgument)
	want := slices.Clone(fields)
	slices.Sort(want)
	if got := badFields(st); !slices.Equal(got, want) {
		t.Errorf("violated fields = %q, want %q", got, want)
	}
}

// wantReason checks err's code and ErrorInfo reason.
func wantReason(t testing.TB, err error, code codes.Code, reason string) {
	t.Helper()
	st := wantStatus(t, err, code)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.Reason != reason {
				t.Errorf("reason = %s, want %s", info.Reason, reason)
			}
			return
		}
	}
	t.Errorf("no ErrorInfo in %v", st.Details())
}
