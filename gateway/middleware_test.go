package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/socmgmt/socmgmt/internal/requestid"
)

// FuzzLimitBody checks that a body is refused exactly when it is over the
// limit, and otherwise reaches the handler unchanged, whether its length is
// declared or not.
func FuzzLimitBody(f *testing.F) {
	f.Add([]byte(`{"name":"x"}`), uint16(64), false)
	f.Add([]byte(`{"name":"x"}`), uint16(11), true)
	f.Add([]byte(`{"name":"x"}`), uint16(12), true)
	f.Add([]byte{}, uint16(0), true)
	mux := runtime.NewServeMux()
	f.Fuzz(func(t *testing.T, body []byte, limit uint16, chunked bool) {
		g := &Gateway{cfg: Config{MaxBodyBytes: int64(limit) + 1}, mux: mux}
		var got []byte
		called := false
		h := g.limitBody(func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			called = true
			var err error
			if got, err = io.ReadAll(r.Body); err != nil {
				t.Fatal(err)
			}
			if r.ContentLength != int64(len(got)) {
				t.Errorf("ContentLength %d for %d bytes", r.ContentLength, len(got))
			}
		})
		req := httptest.NewRequest(http.MethodPost, "/v1/retirees", bytes.NewReader(body))
		if chunked {
			req.ContentLength = -1
		}
		rec := httptest.NewRecorder()
		h(rec, req, nil)

		if over := int64(len(body)) > g.cfg.MaxBodyBytes; over {
			if called || rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d bytes over a limit of %d: status %d, handler called %v", len(body), g.cfg.MaxBodyBytes, rec.Code, called)
			}
			return
		}
		if !called || !bytes.Equal(got, body) {
			t.Fatalf("%d bytes within a limit of %d: handler called %v, got %d bytes", len(body), g.cfg.MaxBodyBytes, called, len(got))
		}
	})
}

// TestOnlyTheTokenAndRequestIDGoUpstream: of a request's headers only the
// token reaches the service, beside the request id and the forwarded
// host and address grpc-gateway sets; a client's Grpc-Metadata-* header
// and the standard ones stay behind.
func TestOnlyTheTokenAndRequestIDGoUpstream(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)
	sendWant(t, newRequest(t, http.MethodGet, url+"/v1/retirees/r-1", "", map[string]string{
		"Authorization":       "Bearer aaa.bbb.ccc",
		"Accept":              "application/json",
		"User-Agent":          "test",
		"Grpc-Metadata-Role":  "admin",
		"Grpc-Metadata-X-Foo": "bar",
	}), http.StatusOK)
	md := up.fake.lastCall(t).md
	for key := range md {
		switch key {
		case "authorization", requestid.Key, "x-forwarded-host", "x-forwarded-for",
			// What grpc-go itself puts into every call's metadata; the
			// accepted encodings since the OTLP exporter's dependencies
			// register its gzip compressor (the calls stay uncompressed).
			":authority", "content-type", "user-agent", "grpc-accept-encoding":
		default:
			t.Errorf("metadata %q reached the service", key)
		}
	}
	if ua := md.Get("user-agent"); len(ua) != 1 || strings.HasPrefix(ua[0], "test") {
		t.Errorf("user-agent metadata %q, want grpc-go's own", ua)
	}
}
