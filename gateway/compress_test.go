package gateway

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCompression: answers over 1 KiB go gzipped to clients that accept
// gzip, and decompress to what an identity answer holds; small answers,
// HEAD and 304 are never compressed; every answer varies by
// Accept-Encoding.
func TestCompression(t *testing.T) {
	t.Parallel()
	_, base := startBehindGateway(t)
	big := "/v1/retirees?pageSize=40" // about 3 KiB of JSON
	plain := sendWant(t, newRequest(t, http.MethodGet, base+big, "", nil), http.StatusOK)
	if len(plain.body) <= minGzipBytes {
		t.Fatalf("the large answer has %d bytes", len(plain.body))
	}
	tests := []struct {
		name, method, path, acceptEncoding, ifNoneMatch string
		want                                            int
		gzipped                                         bool
	}{
		{"large, gzip", http.MethodGet, big, "gzip", "", http.StatusOK, true},
		{"large, gzip among others", http.MethodGet, big, "br;q=1.0, gzip;q=0.8, *;q=0.1", "", http.StatusOK, true},
		{"large, x-gzip", http.MethodGet, big, "x-gzip", "", http.StatusOK, true},
		{"large, any", http.MethodGet, big, "*", "", http.StatusOK, true},
		{"large, GZIP in capitals", http.MethodGet, big, "GZIP", "", http.StatusOK, true},
		{"large, no Accept-Encoding", http.MethodGet, big, "", "", http.StatusOK, false},
		{"large, identity", http.MethodGet, big, "identity", "", http.StatusOK, false},
		{"large, gzip refused", http.MethodGet, big, "gzip;q=0", "", http.StatusOK, false},
		{"large, any but gzip", http.MethodGet, big, "*, gzip;q=0", "", http.StatusOK, false},
		{"large, brotli only", http.MethodGet, big, "br", "", http.StatusOK, false},
		{"large, HEAD", http.MethodHead, big, "gzip", "", http.StatusOK, false},
		{"small", http.MethodGet, "/v1/retirees/r-1", "gzip", "", http.StatusOK, false},
		{"not modified", http.MethodGet, "/v1/retirees/r-1", "gzip", `"r7"`, http.StatusNotModified, false},
		{"large document", http.MethodGet, "/openapi.json", "gzip", "", http.StatusOK, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Setting Accept-Encoding ourselves keeps the client from
			// asking for and undoing gzip on its own.
			header := map[string]string{"Accept-Encoding": tc.acceptEncoding}
			if tc.acceptEncoding == "" {
				header["Accept-Encoding"] = "identity;q=1, gzip;q=0"
			}
			if tc.ifNoneMatch != "" {
				header["If-None-Match"] = tc.ifNoneMatch
			}
			resp := sendWant(t, newRequest(t, tc.method, base+tc.path, "", header), tc.want)
			if !strings.Contains(strings.Join(resp.header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary %q lacks Accept-Encoding", resp.header.Values("Vary"))
			}
			if got := resp.header.Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("gzipped %v, want %v", got, tc.gzipped)
			}
			if !tc.gzipped || tc.path != big {
				return
			}
			zr, err := gzip.NewReader(bytes.NewReader(resp.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain.body) {
				t.Errorf("decompressed answer differs from the plain one:\n%s\n%s", got, plain.body)
			}
			if len(resp.body) >= len(plain.body) {
				t.Errorf("compressed to %d bytes from %d", len(resp.body), len(plain.body))
			}
		})
	}
}

// TestGzipWriter drives the writer directly: the answer is compressed
// exactly when more than minGzipBytes are written before a flush, and the
// bytes come out the same either way.
func TestGzipWriter(t *testing.T) {
	tests := []struct {
		name    string
		writes  []int // sizes; -1 flushes
		code    int
		gzipped bool
	}{
		{"nothing", nil, http.StatusOK, false},
		{"at the limit", []int{minGzipBytes}, http.StatusOK, false},
		{"one byte over", []int{minGzipBytes + 1}, http.StatusOK, true},
		{"over in small writes", []int{600, 600}, http.StatusOK, true},
		{"flushed while small", []int{100, -1, 2000}, http.StatusOK, false},
		{"flushed once large", []int{2000, -1, 100}, http.StatusOK, true},
		{"no content", nil, http.StatusNoContent, false},
		{"an error", []int{3000}, http.StatusNotFound, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h := compress(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.code)
				for i, n := range tc.writes {
					if n < 0 {
						w.(http.Flusher).Flush()
						continue
					}
					_, _ = w.Write(bytes.Repeat([]byte{byte('a' + i)}, n))
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Errorf("status %d, want %d", rec.Code, tc.code)
			}
			body := rec.Body.Bytes()
			if got := rec.Header().Get("Content-Encoding") == "gzip"; got != tc.gzipped {
				t.Fatalf("gzipped %v, want %v", got, tc.gzipped)
			}
			if tc.gzipped {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
			}
			var want []byte
			for i, n := range tc.writes {
				if n > 0 {
					want = append(want, bytes.Repeat([]byte{byte('a' + i)}, n)...)
				}
			}
			if !bytes.Equal(body, want) {
				t.Errorf("body of %d bytes, want %d", len(body), len(want))
			}
		})
	}
}

// FuzzAcceptsGzip: any Accept-Encoding is read without panicking, and a
// header that names gzip refused, with nothing after, never gets gzip.
func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"gzip", "gzip;q=0", "*", "br, gzip;q=0.5", "gzip;q=", ";;,,", "x-gzip;Q=1", "gzip; q=0.000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = acceptsGzip([]string{s})
		if acceptsGzip([]string{s + ",gzip;q=0"}) {
			t.Fatalf("%q followed by gzip;q=0 accepts gzip", s)
		}
	})
}
