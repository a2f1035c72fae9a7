package grpcserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// rawCodec sends and receives bytes as they are, so that a test can put
// on the wire what no generated client would.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, errors.New("rawCodec marshals *[]byte only")
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return errors.New("rawCodec unmarshals into *[]byte only")
	}
	*b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// The request bodies: a StringValue is field 1, a string.
var (
	validBody      = mustMarshal(wrapperspb.String("hello"))
	truncatedBody  = []byte{0x0a, 0x05, 'h', 'e'}         // length 5, 2 bytes follow
	badWireBody    = []byte{0xff, 0xff, 0xff, 0xff, 0xff} // a tag that never ends
	invalidUTF8    = []byte{0x0a, 0x02, 0xff, 0xfe}       // a string of two bytes that are not UTF-8
	forgedMarker   = malformedMarker                      // a client may send it: it only hurts itself
	malformedCases = []struct {
		name string
		body []byte
	}{
		{"truncated", truncatedBody},
		{"invalid wire format", badWireBody},
		{"string field not UTF-8", invalidUTF8},
		{"the marker itself", forgedMarker},
	}
)

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// TestMalformedRequestIsInvalidArgument: a request that is not a
// protobuf message of the method's type, or whose string is not UTF-8,
// sent straight to a service is the client's fault, INVALID_ARGUMENT with
// the MALFORMED_REQUEST reason, and no handler runs; grpc-go alone would
// answer INTERNAL.
func TestMalformedRequestIsInvalidArgument(t *testing.T) {
	h := start(t, Options{Name: "test"})
	for _, tc := range malformedCases {
		t.Run("unary "+tc.name, func(t *testing.T) {
			before := h.echo.callCount()
			_, err := h.rawUnary(t, tc.body)
			checkMalformed(t, err)
			if n := h.echo.callCount() - before; n != 0 {
				t.Errorf("the handler ran %d times for a malformed request", n)
			}
		})
		t.Run("stream "+tc.name, func(t *testing.T) {
			checkMalformed(t, h.rawWatch(t, tc.body))
		})
	}
	lines := h.accessLines(echoUnaryMethod)
	if len(lines) != len(malformedCases) {
		t.Fatalf("%d access log lines for Unary, want one per malformed call (%d)", len(lines), len(malformedCases))
	}
	for _, l := range lines {
		if code := l.ContextMap()["code"]; code != codes.InvalidArgument.String() {
			t.Errorf("access log code %v, want InvalidArgument", code)
		}
	}

	t.Run("a valid message still gets through", func(t *testing.T) {
		out, err := h.rawUnary(t, validBody)
		if err != nil {
			t.Fatalf("valid raw request: %v", err)
		}
		var got wrapperspb.StringValue
		if err := proto.Unmarshal(out, &got); err != nil || got.GetValue() != "hello" {
			t.Errorf("answer %q (%v), want the echo of hello", out, err)
		}
	})
}

func checkMalformed(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("status %v %q, want InvalidArgument", st.Code(), st.Message())
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == ReasonMalformedRequest && info.GetDomain() == "socmgmt" {
			return
		}
	}
	t.Errorf("details %v, want ErrorInfo %s", st.Details(), ReasonMalformedRequest)
}

// rawUnary calls the test service's Unary method with body as the
// request's bytes.
func (h *harness) rawUnary(t *testing.T, body []byte) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []byte
	err := h.conn.Invoke(ctx, echoUnaryMethod, &body, &out, grpc.ForceCodecV2(rawCodec{}))
	return out, err
}

// rawWatch opens the test service's Watch stream with body as the
// request's bytes and returns how the stream ends or its first message
// fails.
func (h *harness) rawWatch(t *testing.T, body []byte) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cs, err := h.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, echoWatchMethod, grpc.ForceCodecV2(rawCodec{}))
	if err != nil {
		return err
	}
	if err := cs.SendMsg(&body); err != nil {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	var out []byte
	return cs.RecvMsg(&out)
}

func FuzzRequestCodec(f *testing.F) {
	for _, tc := range malformedCases {
		f.Add(tc.body)
	}
	f.Add(validBody)
	f.Add([]byte{})
	f.Add(append(mustMarshal(wrapperspb.String("x")), malformedMarker...))
	c := newRequestCodec()
	f.Fuzz(func(t *testing.T, body []byte) {
		var m wrapperspb.StringValue
		if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(body)}, &m); err != nil {
			t.Fatalf("Unmarshal failed instead of marking: %v", err)
		}
		var want wrapperspb.StringValue
		wantErr := proto.Unmarshal(body, &want)
		// A well-formed message that carries the marker as its unknown
		// fields is taken for malformed: a client may forge it only
		// against itself.
		forged := wantErr == nil && malformed(&want)
		if got := malformed(&m); got != (wantErr != nil || forged) {
			t.Fatalf("malformed = %v, proto.Unmarshal error %v", got, wantErr)
		}
		if wantErr == nil && !proto.Equal(&m, &want) {
			t.Fatalf("decoded %v, want %v", &m, &want)
		}
	})
}
