package sms

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// readLines returns the lines of a FileGateway's file.
func readLines(t *testing.T, path string) []fileLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []fileLine
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		var l fileLine
		if json.Unmarshal([]byte(line), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// TestFileGateway: one line a message, de-duplicated by key across
// reopening; a torn last line is skipped and the next line starts fresh.
func TestFileGateway(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sms.jsonl")
	g, err := OpenFileGateway(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, o := range []Outgoing{
		{Phone: phone, Text: "一", IdempotencyKey: "k1"},
		{Phone: phone, Text: "一", IdempotencyKey: "k1"},
		{Phone: phone, Text: "二", IdempotencyKey: "k2"},
	} {
		if err := g.Send(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v (%v)", fi.Mode(), err)
	}
	// A crash in the middle of a line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"idempotencyKey":"k3","pho`); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()

	g, err = OpenFileGateway(path)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	for _, key := range []string{"k2", "k3"} {
		if err := g.Send(ctx, Outgoing{Phone: phone, Text: "三", IdempotencyKey: key}); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for _, l := range readLines(t, path) {
		keys = append(keys, l.IdempotencyKey)
	}
	if strings.Join(keys, " ") != "k1 k2 k3" {
		t.Errorf("keys in the file: %v", keys)
	}
}

// platform is an httptest SMS platform that fails its first failures
// calls with 503 and records each request.
type platform struct {
	mu       sync.Mutex
	failures int
	status   int
	requests []platformRequest
}

type platformRequest struct {
	key, auth, contentType, body string
}

func (p *platform) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, platformRequest{r.Header.Get("Idempotency-Key"), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)})
	switch {
	case p.failures > 0:
		p.failures--
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error":"busy","mobile":"`+phone+`"}`)
	case p.status != 0:
		w.WriteHeader(p.status)
	default:
		_, _ = io.WriteString(w, `{"code":0}`)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const jsonBody = `{"mobile":{{json .Phone}},"content":{{json .Text}},"requestId":{{json .IdempotencyKey}}}`

// TestHTTPGatewayRetry: a 503 is an error to retry that quotes neither the
// number nor the answer; the retry carries the same idempotency key and
// succeeds; the body is the template's JSON and the credentials go as
// basic authentication.
func TestHTTPGatewayRetry(t *testing.T) {
	t.Parallel()
	p := &platform{failures: 1}
	srv := httptest.NewServer(p)
	defer srv.Close()
	g, err := NewHTTPGateway(HTTPConfig{URL: srv.URL + "/sms/send", CredentialsFile: writeFile(t, "creds", "socmgmt:s3cret\n"), Body: jsonBody})
	if err != nil {
		t.Fatal(err)
	}
	o := Outgoing{Phone: phone, Text: "【社区服务】您好\"引号\"", IdempotencyKey: "k1/RETIREE"}
	err = g.Send(context.Background(), o)
	if err == nil || errors.Is(err, ErrRejected) || strings.Contains(err.Error(), "5678") || err.Error() != "sms gateway: HTTP 503" {
		t.Fatalf("first call: %v", err)
	}
	if err := g.Send(context.Background(), o); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if len(p.requests) != 2 || p.requests[0].key != "k1/RETIREE" || p.requests[1].key != p.requests[0].key {
		t.Fatalf("requests %+v", p.requests)
	}
	r := p.requests[1]
	var body map[string]string
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body["mobile"] != phone || body["content"] != o.Text || body["requestId"] != o.IdempotencyKey {
		t.Errorf("body %s (%v)", r.body, err)
	}
	if r.contentType != "application/json" || r.auth != "Basic c29jbWdtdDpzM2NyZXQ=" {
		t.Errorf("content type %q, authorization %q", r.contentType, r.auth)
	}
}

// TestHTTPGatewayRefusal: a 400 is ErrRejected; a form body with a bearer
// token.
func TestHTTPGatewayRefusal(t *testing.T) {
	t.Parallel()
	p := &platform{status: http.StatusBadRequest}
	srv := httptest.NewServer(p)
	defer srv.Close()
	g, err := NewHTTPGateway(HTTPConfig{
		URL: srv.URL, CredentialsFile: writeFile(t, "token", "tok-123\n"),
		Body: "mobile={{urlquery .Phone}}&content={{urlquery .Text}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	err = g.Send(context.Background(), Outgoing{Phone: phone, Text: "您好 世界", IdempotencyKey: "k1"})
	if !errors.Is(err, ErrRejected) || err.Error() != "sms gateway refused the message: HTTP 400" {
		t.Errorf("refusal: %v", err)
	}
	r := p.requests[0]
	if r.auth != "Bearer tok-123" || r.contentType != "application/x-www-form-urlencoded" ||
		r.body != "mobile="+phone+"&content=%E6%82%A8%E5%A5%BD+%E4%B8%96%E7%95%8C" {
		t.Errorf("request %+v", r)
	}
}

// TestHTTPGatewayTLS: a platform's certificate is trusted through the CA
// file, and not without it.
func TestHTTPGatewayTLS(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(&platform{})
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	o := Outgoing{Phone: phone, Text: "您好", IdempotencyKey: "k1"}
	trusting, err := NewHTTPGateway(HTTPConfig{URL: srv.URL, Body: jsonBody, CAFile: ca, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := trusting.Send(context.Background(), o); err != nil {
		t.Errorf("with the CA file: %v", err)
	}
	system, err := NewHTTPGateway(HTTPConfig{URL: srv.URL, Body: jsonBody})
	if err != nil {
		t.Fatal(err)
	}
	if err := system.Send(context.Background(), o); err == nil || errors.Is(err, ErrRejected) || strings.Contains(err.Error(), "5678") {
		t.Errorf("with the system pool: %v", err)
	}
}

// TestHTTPConfigRefused: bad configurations are refused before anything
// is sent, without quoting the credentials.
func TestHTTPConfigRefused(t *testing.T) {
	t.Parallel()
	empty := writeFile(t, "empty", "\n")
	for _, tc := range []struct {
		name string
		c    HTTPConfig
	}{
		{"no URL", HTTPConfig{Body: jsonBody}},
		{"plain http afar", HTTPConfig{URL: "http://sms.example.gov.cn/send", Body: jsonBody}},
		{"credentials in the URL", HTTPConfig{URL: "https://u:p@sms.example.gov.cn/send", Body: jsonBody}},
		{"no body", HTTPConfig{URL: "https://sms.example.gov.cn/send"}},
		{"bad body", HTTPConfig{URL: "https://sms.example.gov.cn/send", Body: "{{.Phone"}},
		{"missing credentials file", HTTPConfig{URL: "https://sms.example.gov.cn/send", Body: jsonBody, CredentialsFile: "/nonexistent/creds"}},
		{"empty credentials", HTTPConfig{URL: "https://sms.example.gov.cn/send", Body: jsonBody, CredentialsFile: empty}},
		{"bad CA file", HTTPConfig{URL: "https://sms.example.gov.cn/send", Body: jsonBody, CAFile: empty}},
	} {
		if _, err := NewHTTPGateway(tc.c); err == nil {
			t.Errorf("%s: accepted", tc.name)
		} else if strings.Contains(err.Error(), "u:p") {
			t.Errorf("%s: %v quotes the credentials", tc.name, err)
		}
	}
}

// FuzzFileGatewayKeys: whatever a gateway file holds, opening it does not
// fail or panic, and a key sent afterwards is written only when the file
// did not hold it.
func FuzzFileGatewayKeys(f *testing.F) {
	f.Add([]byte(`{"idempotencyKey":"k1","phone":"1","text":"a"}` + "\n"))
	f.Add([]byte(`{"idempotencyKey":"k1"`))
	f.Add([]byte("\n\n{}\nnot json\n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "sms.jsonl")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			n := 0
			for _, l := range readLines(t, path) {
				if l.IdempotencyKey == "fuzz-key" {
					n++
				}
			}
			return n
		}
		before := count()
		g, err := OpenFileGateway(path)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		for range 2 {
			if err := g.Send(context.Background(), Outgoing{Phone: phone, Text: "t", IdempotencyKey: "fuzz-key"}); err != nil {
				t.Fatal(err)
			}
		}
		if after := count(); after != max(before, 1) {
			t.Errorf("fuzz-key %d times in the file, %d before", after, before)
		}
	})
}

// TestSenderOverHTTP: through the sender, a platform's 503 keeps the
// message queued, and the retry after the backoff carries the same key
// and is SENT.
func TestSenderOverHTTP(t *testing.T) {
	t.Parallel()
	p := &platform{failures: 1}
	srv := httptest.NewServer(p)
	defer srv.Close()
	g, err := NewHTTPGateway(HTTPConfig{URL: srv.URL, Body: jsonBody})
	if err != nil {
		t.Fatal(err)
	}
	w := newSenderWorld(t, at(2026, 12, 7, 10, 0))
	w.sender.gateway = g
	w.enqueue(dueSoon("k1", "r1"))
	w.pass()
	if m := w.message(MessageID(1)); m.State != pb.DeliveryState_QUEUED || m.StateReason != "sms gateway: HTTP 503" {
		t.Fatalf("after the 503: %v", m)
	}
	w.clock.Set(at(2026, 12, 7, 10, 0).Add(DefaultMinBackoff))
	w.pass()
	if m := w.message(MessageID(1)); m.State != pb.DeliveryState_SENT || m.Attempts != 2 {
		t.Errorf("after the retry: %v", m)
	}
	if len(p.requests) != 2 || p.requests[0].key != "k1/RETIREE" || p.requests[1].key != "k1/RETIREE" {
		t.Errorf("requests %+v", p.requests)
	}
	w.noPhoneInLogs()
}
