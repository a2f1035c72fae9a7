// Package gatewaytest serves a real REST gateway in front of services
// under test, so that their authorisation matrices run through REST as
// clients call them. It lives apart from servicetest, which the
// gateway's own tests import.
package gatewaytest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socmgmt/socmgmt/gateway"
)

// Call makes one REST call: method on path with a JSON body ("" for
// none), carrying the bearer token and the accept-language of ctx's gRPC
// metadata.
type Call func(ctx context.Context, method, path, body string) error

// Client returns a Call through a real gateway whose upstreams configure
// sets (every address empty before it: no registry, no admin port),
// closed at the end of the test. A Call turns the answer into the gRPC
// status it carries (nil for 200), checking that the HTTP status is the
// code's.
func Client(t *testing.T, configure func(*gateway.Config)) Call {
	t.Helper()
	cfg := gateway.DefaultConfig()
	cfg.RegistryAddr, cfg.AdminAddr = "", ""
	configure(&cfg)
	g, err := gateway.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() { srv.Close(); _ = g.Close() })
	return func(ctx context.Context, method, path, body string) error {
		req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		md, _ := metadata.FromOutgoingContext(ctx)
		if auth := md.Get("authorization"); len(auth) > 0 {
			req.Header.Set("Authorization", auth[0])
		}
		// A gRPC client's accept-language is a REST client's header.
		if lang := md.Get("accept-language"); len(lang) > 0 {
			req.Header.Set("Accept-Language", lang[0])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		st := new(spb.Status)
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(bytes.TrimSpace(raw), st); err != nil {
			return fmt.Errorf("HTTP %d with a body that is no status: %w: %s", resp.StatusCode, err, raw)
		}
		code := codes.Code(st.Code) //nolint:gosec // G115: a status code from the gateway, never negative
		if want := runtime.HTTPStatusFromCode(code); resp.StatusCode != want {
			return fmt.Errorf("HTTP %d for %v, want %d", resp.StatusCode, code, want)
		}
		return status.ErrorProto(st)
	}
}
