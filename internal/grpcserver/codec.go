package grpcserver

import (
	"bytes"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/apierror"
)

// ReasonMalformedRequest is the ErrorInfo reason of a request message
// that is not a protobuf message of the method's request type, or whose
// string fields are not valid UTF-8.
const ReasonMalformedRequest = "MALFORMED_REQUEST"

// errMalformedRequest is what such a request is answered with. The
// message is fixed: the parser's own may name fields, and the bytes are
// the client's.
var errMalformedRequest = func() error {
	st, err := status.New(codes.InvalidArgument,
		"the request is not a well-formed protobuf message of the method's request type (or a string field is not valid UTF-8)").
		WithDetails(&errdetails.ErrorInfo{Reason: ReasonMalformedRequest, Domain: apierror.Domain})
	if err != nil {
		panic(err) // an ErrorInfo always marshals
	}
	return st.Err()
}()

// malformedMarker is what a request that failed to unmarshal holds as its
// unknown fields when it reaches the interceptors: a field of the largest
// number a message may have, which no socmgmt message defines.
var malformedMarker = protowire.AppendString(
	protowire.AppendTag(nil, protowire.MaxValidNumber, protowire.BytesType), "socmgmt: malformed request")

// requestCodec is the server's codec: grpc-go's proto codec, except that
// a request that does not unmarshal is answered INVALID_ARGUMENT rather
// than INTERNAL. grpc-go turns every error of a codec's Unmarshal into
// INTERNAL before any interceptor runs (rpc_util.go, recv), which would
// count the client's bad bytes as the service's fault. So Unmarshal does
// not fail: it empties the message and marks it, and the bootstrap's
// outermost interceptors (and its streams' RecvMsg) answer a marked
// message with errMalformedRequest before any handler sees it. The mark
// travels in the message itself, so nothing is left behind when a call
// ends before the check.
type requestCodec struct {
	encoding.CodecV2
}

func newRequestCodec() requestCodec {
	return requestCodec{CodecV2: encoding.GetCodecV2(protocodec.Name)}
}

// Unmarshal implements encoding.CodecV2.
func (c requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	proto.Reset(m)
	m.ProtoReflect().SetUnknown(malformedMarker)
	return nil
}

// malformed reports whether v is a request that did not unmarshal.
func malformed(v any) bool {
	m, ok := v.(proto.Message)
	if !ok {
		return false
	}
	u := m.ProtoReflect().GetUnknown()
	return len(u) == len(malformedMarker) && bytes.Equal(u, malformedMarker)
}
