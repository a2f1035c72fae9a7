package gateway

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// exportRoute is where a community's registers are downloaded as files.
// The gateway serves it itself: a file is not JSON, and grpc-gateway
// answers a server stream as a series of JSON objects.
const exportRoute = "/v1/exports/{register}"

// exportPathFields are the request fields the export route fills from
// its path; the query may not name them.
var exportPathFields = utilities.NewDoubleArray([][]string{{"register"}})

// registerRegistry adds the registry's generated routes and the export
// route.
func registerRegistry(ctx context.Context, mux *runtime.ServeMux, cc grpc.ClientConnInterface) error {
	client := registryv1.NewRegistryServiceClient(cc)
	if err := registryv1.RegisterRegistryServiceHandlerClient(ctx, mux, client); err != nil {
		return err
	}
	return mux.HandlePath(http.MethodGet, exportRoute, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		serveExport(mux, client, w, r, params["register"])
	})
}

// serveExport answers GET /v1/exports/{register}?communityId=&asOf=&
// format=&masked= with the file ExportRegister streams. The query is
// read as a generated route reads it, by the strict parser, so an
// unknown parameter is a 400 naming it. Registry builds the whole file
// before it sends any of it, so every refusal comes before the first
// byte and is answered as JSON like any error; the file's size is known
// from the first message, so a transfer cut short is seen as such.
func serveExport(mux *runtime.ServeMux, client registryv1.RegistryServiceClient, w http.ResponseWriter, r *http.Request, register string) {
	req := &registryv1.ExportRegisterRequest{Register: register}
	if err := r.ParseForm(); err != nil {
		upstreamError(r.Context(), mux, w, r, status.Errorf(codes.InvalidArgument, "%v", err))
		return
	}
	if err := runtime.PopulateQueryParameters(req, r.Form, exportPathFields); err != nil {
		upstreamError(r.Context(), mux, w, r, status.Errorf(codes.InvalidArgument, "%v", err))
		return
	}
	md := upstreamMetadata(r)
	if auth := r.Header.Get("Authorization"); auth != "" {
		md.Set("authorization", auth)
	}
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(r.Context(), md))
	defer cancel()
	stream, err := client.ExportRegister(ctx, req)
	if err != nil {
		upstreamError(ctx, mux, w, r, err)
		return
	}
	first, err := stream.Recv()
	if err != nil {
		upstreamError(ctx, mux, w, r, err)
		return
	}
	writeExportHeader(w, first)
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			// The status is sent; the body stops short of its
			// Content-Length, which the client sees as a broken transfer.
			return
		}
		if _, err := w.Write(chunk.Data); err != nil {
			return // the client has gone
		}
	}
}

// writeExportHeader starts the answer of an export: the file's type,
// size and name as an attachment, never to be stored by a cache (the
// default for every API answer, repeated here because a file of personal
// data is what it is for).
func writeExportHeader(w http.ResponseWriter, first *registryv1.ExportRegisterResponse) {
	h := w.Header()
	h.Set("Content-Type", first.ContentType)
	h.Set("Content-Length", strconv.FormatInt(first.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": first.FileName}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
}
