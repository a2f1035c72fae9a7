package gateway

import (
	"context"
	"net/http"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/entitytag"
)

// This file makes the etag of a resource work as HTTP's: the ETag header
// on every answer that carries one, If-None-Match (304) and If-Match (412)
// on reads, and If-Match in place of the body's etag on writes.

// etagFieldName is the field every resource with an etag has.
const etagFieldName = "etag"

// setETag is a forward-response option: an answer whose body is a
// resource with an etag, or holds one such resource (a transfer's answer
// with its retiree), carries the etag as the ETag header too.
func setETag(_ context.Context, w http.ResponseWriter, resp proto.Message) error {
	// The generated code wraps a response whose body is one of its fields.
	if rb, ok := resp.(interface{ XXX_ResponseBody() any }); ok {
		if body, ok := rb.XXX_ResponseBody().(proto.Message); ok {
			resp = body
		}
	}
	m := resp.ProtoReflect()
	if !m.IsValid() {
		return nil
	}
	fields := m.Descriptor().Fields()
	fd := fields.ByName(etagFieldName)
	if !isEtagField(fd) {
		holder := etagHolder(fields)
		if holder == nil || !m.Has(holder) {
			return nil
		}
		m = m.Get(holder).Message()
		fd = holder.Message().Fields().ByName(etagFieldName)
	}
	if tag := entitytag.Quote(m.Get(fd).String()); tag != "" {
		w.Header().Set("ETag", tag)
	}
	return nil
}

func isEtagField(fd protoreflect.FieldDescriptor) bool {
	return fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList()
}

// conditional evaluates If-None-Match and If-Match on reads against the
// answer's ETag, and reads If-Match of other requests for restGuard.
func (g *Gateway) conditional(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ifMatch := strings.Join(r.Header.Values("If-Match"), ",")
		if r.Method == http.MethodGet {
			ifNoneMatch := strings.Join(r.Header.Values("If-None-Match"), ",")
			if ifMatch != "" || ifNoneMatch != "" {
				w = &conditionalWriter{ResponseWriter: w, ifMatch: ifMatch, ifNoneMatch: ifNoneMatch, chinese: wantsChinese(r)}
			}
			next.ServeHTTP(w, r)
			return
		}
		if ifMatch != "" {
			tag, ok := entitytag.One(ifMatch)
			if !ok {
				g.writeError(w, r, http.StatusBadRequest, badRequest("If-Match", `give one entity tag, as the ETag header had it, or "*"`))
				return
			}
			if st := stateFrom(r.Context()); st != nil {
				st.ifMatch = tag
			}
		}
		next.ServeHTTP(w, r)
	})
}

// conditionalWriter turns a read's 200 into 304 when If-None-Match names
// its ETag, and into 412 when If-Match does not. It decides when the
// status is written, by which time setETag has set the ETag.
type conditionalWriter struct {
	http.ResponseWriter
	ifMatch, ifNoneMatch string
	decided, swallow     bool
	chinese              bool // the client prefers Chinese
}

func (c *conditionalWriter) WriteHeader(code int) {
	if c.decided {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	c.decided = true
	if code != http.StatusOK {
		c.ResponseWriter.WriteHeader(code)
		return
	}
	tag := c.Header().Get("ETag")
	switch {
	case c.ifMatch != "" && !entitytag.Match(c.ifMatch, tag, false):
		c.swallow = true
		c.preconditionFailed()
	case c.ifNoneMatch != "" && entitytag.Match(c.ifNoneMatch, tag, true):
		c.swallow = true
		h := c.Header()
		h.Del("Content-Type")
		h.Del("Content-Length")
		c.ResponseWriter.WriteHeader(http.StatusNotModified)
	default:
		c.ResponseWriter.WriteHeader(code)
	}
}

// preconditionFailed answers 412 as google.rpc.Status JSON, like every
// other error; the ETag stays, so the client learns the current one.
func (c *conditionalWriter) preconditionFailed() {
	st := status.New(codes.FailedPrecondition, "precondition failed: If-Match does not name the resource's etag")
	if c.chinese {
		st = apierror.Localize(st, nil)
	}
	body, err := protojson.Marshal(st.Proto())
	h := c.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	c.ResponseWriter.WriteHeader(http.StatusPreconditionFailed)
	if err == nil {
		_, _ = c.ResponseWriter.Write(body) // a failed write means the client has gone
	}
}

func (c *conditionalWriter) Write(p []byte) (int, error) {
	if !c.decided {
		c.WriteHeader(http.StatusOK)
	}
	if c.swallow {
		return len(p), nil
	}
	return c.ResponseWriter.Write(p)
}

// Flush keeps streamed responses streaming.
func (c *conditionalWriter) Flush() {
	if !c.decided {
		c.WriteHeader(http.StatusOK)
	}
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (c *conditionalWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// applyIfMatch puts the If-Match etag into the request message m, where
// the body's etag goes: m's own etag field, or that of the one resource m
// carries (an update's). A route without one refuses the header, and a
// body that names another etag contradicts it.
func (st *requestState) applyIfMatch(m proto.Message) error {
	if st.ifMatch == "" {
		return nil
	}
	holder, fd := etagField(m.ProtoReflect())
	if fd == nil {
		return badRequest("If-Match", "this route takes no etag").Err()
	}
	switch cur := holder.Get(fd).String(); {
	case cur == "":
		holder.Set(fd, protoreflect.ValueOfString(st.ifMatch))
	case cur != st.ifMatch:
		return badRequest(etagFieldName, "differs from the If-Match header").Err()
	}
	return nil
}

// etagField finds where m's etag goes: its own etag field, else the etag
// field of its one singular message field that has one.
func etagField(m protoreflect.Message) (protoreflect.Message, protoreflect.FieldDescriptor) {
	fields := m.Descriptor().Fields()
	if fd := fields.ByName(etagFieldName); isEtagField(fd) {
		return m, fd
	}
	holder := etagHolder(fields)
	if holder == nil {
		return nil, nil
	}
	inner := m.Mutable(holder).Message()
	return inner, inner.Descriptor().Fields().ByName(etagFieldName)
}

// etagHolder returns the one singular message field of fields whose
// message has an etag, or nil when there is none or more than one (two
// resources: which one an etag means is unclear).
func etagHolder(fields protoreflect.FieldDescriptors) protoreflect.FieldDescriptor {
	var holder protoreflect.FieldDescriptor
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Message() == nil || f.IsList() || f.IsMap() || !isEtagField(f.Message().Fields().ByName(etagFieldName)) {
			continue
		}
		if holder != nil {
			return nil
		}
		holder = f
	}
	return holder
}

// etagMismatch reports whether st is the upstream's refusal of a stale
// etag.
func etagMismatch(st *status.Status) bool {
	if st.Code() != codes.Aborted {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == apierror.ReasonEtagMismatch {
			return true
		}
	}
	return false
}
