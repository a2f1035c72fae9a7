package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/socmgmt/socmgmt/internal/apierror"
)

// This file holds the gateway's checks of what a request carries besides
// its JSON fields, which protojson checks: the path's parameters, the query
// string and what follows the body's JSON value. Each refusal is a 400
// with a BadRequest naming the field, made before anything reaches an
// upstream, so also before the upstream authenticates the caller.

// queryField is the BadRequest field of a problem with the query string as
// a whole, or with a parameter whose name cannot be shown.
const queryField = "query"

// echoableName matches the query parameter names a refusal may repeat: a
// client must not get back whatever it put where a name belongs (an ID
// number, say).
var echoableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,63}$`)

// paramName is how a refusal names the query parameter key.
func paramName(key string) string {
	if echoableName.MatchString(key) {
		return key
	}
	return queryField
}

// badRequest is an InvalidArgument status with a BadRequest naming field.
func badRequest(field, desc string) *status.Status {
	st := status.New(codes.InvalidArgument, fmt.Sprintf("invalid argument: %s: %s", field, desc))
	with, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}})
	if err != nil {
		// Only an unregistered detail type fails; BadRequest is linked in.
		return st
	}
	return with
}

// parseQuery reads r's query string. A string that does not parse, or
// holds a name or value that is not UTF-8, is refused here, for every
// route alike: a protobuf string cannot hold it, and letting it through
// made the upstream call fail as an internal error.
func parseQuery(r *http.Request) (url.Values, *status.Status) {
	if r.URL.RawQuery == "" {
		return nil, nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest(queryField, "the query string is malformed")
	}
	for _, key := range slices.Sorted(maps.Keys(q)) {
		if !utf8.ValidString(key) {
			return nil, badRequest(queryField, "a parameter name is not valid UTF-8")
		}
		for _, v := range q[key] {
			if !utf8.ValidString(v) {
				return nil, badRequest(paramName(key), "not valid UTF-8")
			}
		}
	}
	return q, nil
}

// checkPathParams refuses a request whose path parameters are not UTF-8,
// naming the parameter as the JSON field it fills. It also hands the
// request on to restGuard, through the request state.
func (g *Gateway) checkPathParams(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		for _, name := range slices.Sorted(maps.Keys(params)) {
			if !utf8.ValidString(params[name]) {
				g.writeError(w, r, http.StatusBadRequest, badRequest(apierror.JSONPath(name), "not valid UTF-8"))
				return
			}
		}
		if st := stateFrom(r.Context()); st != nil {
			st.req = r
		}
		next(w, r, params)
	}
}

// noQuery refuses any query parameter on the gateway's own routes, which
// take none, as the generated routes refuse the ones they do not take.
func (g *Gateway) noQuery(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if st := stateFrom(r.Context()); st != nil && len(st.query) > 0 {
			g.writeError(w, r, http.StatusBadRequest, notAQueryParameter(st.query))
			return
		}
		next(w, r, params)
	}
}

// notAQueryParameter refuses the first (in order) of the parameters of q.
func notAQueryParameter(q url.Values) *status.Status {
	key := slices.Sorted(maps.Keys(q))[0]
	return badRequest(paramName(key), "not a query parameter of this route")
}

// restGuard stands between the generated REST handlers and an upstream.
// Just before the call it refuses query parameters that the handler did
// not read (the generated code reads the query only on routes with fields
// left to fill from it, and there ignores unknown names; the parser that
// refuses those is strictQueryParser), and it puts an If-Match header's
// etag into the request.
type restGuard struct {
	grpc.ClientConnInterface
}

// Invoke implements grpc.ClientConnInterface.
func (c restGuard) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	if st := stateFrom(ctx); st != nil {
		if err := st.checkQueryRead(); err != nil {
			return err
		}
		if m, ok := args.(proto.Message); ok {
			if err := st.applyIfMatch(m); err != nil {
				return err
			}
		}
	}
	return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
}

// NewStream implements grpc.ClientConnInterface.
func (c restGuard) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if st := stateFrom(ctx); st != nil {
		if err := st.checkQueryRead(); err != nil {
			return nil, err
		}
	}
	return c.ClientConnInterface.NewStream(ctx, desc, method, opts...)
}

// checkQueryRead refuses a query that the handler about to call the
// upstream has not read: its route has no field to fill from the query.
func (st *requestState) checkQueryRead() error {
	if len(st.query) == 0 || st.req == nil || st.req.Form != nil {
		return nil
	}
	return notAQueryParameter(st.query).Err()
}

// queryParamError is strictQueryParser's refusal of one parameter. Its
// text is all that reaches handleError (the generated code formats it into
// a status message), which turns it back into a BadRequest.
type queryParamError struct {
	key, desc string
}

func (e queryParamError) Error() string {
	return fmt.Sprintf("query parameter %q: %s", paramName(e.key), e.desc)
}

// queryParamErrorRE reads a queryParamError back from a status message.
var queryParamErrorRE = regexp.MustCompile(`^query parameter "([A-Za-z_][A-Za-z0-9_.]{0,63})": ([A-Za-z0-9 -]{1,100})$`)

// strictQueryParser is grpc-gateway's query parser with the checks it
// leaves out: every parameter must name a field of the request that the
// route fills from the query (not one bound to the path or the body), at
// most one parameter may name each field, and a value that does not parse
// is refused without being repeated. What the route takes is read from
// the request message and the filter the generated code passes in, so it
// cannot drift from the routes.
type strictQueryParser struct {
	runtime.DefaultQueryParser
}

// installStrictQueryParser makes strictQueryParser grpc-gateway's query
// parser. That parser is one package-level variable, though it is set
// through a mux option: it is set once per process, before any gateway
// serves, so that no request reads it while it is written.
var installStrictQueryParser = sync.OnceFunc(func() {
	runtime.NewServeMux(runtime.SetQueryParameterParser(&strictQueryParser{}))
})

// Parse implements runtime.QueryParameterParser.
func (p *strictQueryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	seen := map[string]string{}
	desc := msg.ProtoReflect().Descriptor()
	for _, key := range slices.Sorted(maps.Keys(values)) {
		path, ok := queryFieldPath(desc, key)
		if !ok || filter.HasCommonPrefix(path) {
			return queryParamError{key, "not a query parameter of this route"}
		}
		field := strings.Join(path, ".")
		if _, dup := seen[field]; dup {
			return queryParamError{key, "names a field another parameter names too"}
		}
		seen[field] = key
		if slices.ContainsFunc(values[key], func(v string) bool { return !utf8.ValidString(v) }) {
			return queryParamError{key, "not valid UTF-8"}
		}
		if err := p.DefaultQueryParser.Parse(msg, url.Values{key: values[key]}, filter); err != nil {
			return queryParamError{key, "invalid value"}
		}
	}
	return nil
}

// queryFieldPath resolves a query parameter name, a dotted path of proto
// or JSON field names, to the proto names of the fields it goes through.
// It must end at a field that holds a value: a scalar, an enum, a list of
// either, or a well-known type (a timestamp, say) that has a text form.
func queryFieldPath(desc protoreflect.MessageDescriptor, key string) ([]string, bool) {
	parts := strings.Split(key, ".")
	path := make([]string, 0, len(parts))
	for i, part := range parts {
		fields := desc.Fields()
		fd := fields.ByName(protoreflect.Name(part))
		if fd == nil {
			fd = fields.ByJSONName(part)
		}
		if fd == nil || fd.IsMap() {
			return nil, false
		}
		path = append(path, string(fd.Name()))
		wellKnown := fd.Message() != nil && fd.Message().FullName().Parent() == "google.protobuf"
		if i == len(parts)-1 {
			return path, fd.Message() == nil || wellKnown && !fd.IsList()
		}
		if fd.Message() == nil || fd.IsList() || wellKnown {
			return nil, false
		}
		desc = fd.Message()
	}
	return nil, false
}

// errTrailingData refuses a body with more after its JSON value.
var errTrailingData = errors.New("invalid argument: the request body holds more than one JSON value")

// strictJSONPb is grpc-gateway's protojson marshaler whose decoder also
// refuses a body with anything but white space after its value
// (`{...} garbage`, `{...}{...}`): grpc-gateway reads the first value and
// drops the rest, so a client would never learn that half of what it sent
// was ignored.
type strictJSONPb struct {
	*runtime.JSONPb
}

// NewDecoder implements runtime.Marshaler.
func (m strictJSONPb) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	value := runtime.DecoderWrapper{Decoder: d, UnmarshalOptions: m.UnmarshalOptions}
	return runtime.DecoderFunc(func(v any) error {
		if err := value.Decode(v); err != nil {
			return err
		}
		return onlySpaceLeft(io.MultiReader(d.Buffered(), r))
	})
}

// onlySpaceLeft reads r to its end (the body is bounded by limitBody) and
// reports errTrailingData at the first byte that is not JSON white space.
func onlySpaceLeft(r io.Reader) error {
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		if len(bytes.TrimLeft(buf[:n], " \t\r\n")) > 0 {
			return errTrailingData
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// queryError rewrites the status message of a strictQueryParser refusal
// into a BadRequest; it reports false for any other message.
func queryError(st *status.Status) (error, bool) {
	m := queryParamErrorRE.FindStringSubmatch(st.Message())
	if m == nil {
		return nil, false
	}
	return badRequest(m[1], m[2]).Err(), true
}
