package sms

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/socmgmt/socmgmt/internal/inputcheck"
)

// ErrRejected reports a message the gateway refused for good (a 4xx
// answer other than 408 and 429): it is FAILED without more attempts.
var ErrRejected = errors.New("sms gateway refused the message")

// Outgoing is one message as the gateway gets it.
type Outgoing struct {
	Phone          string
	Text           string
	IdempotencyKey string
}

// String shows o with its number masked, should it ever be printed.
func (o Outgoing) String() string {
	return fmt.Sprintf("sms to %s (%s)", inputcheck.MaskPhone(o.Phone), o.IdempotencyKey)
}

// Gateway sends a message to an SMS platform. Send returns nil once the
// platform accepted it; an error wrapping ErrRejected when it never will;
// any other error to retry. An error must not quote the number.
type Gateway interface {
	Send(ctx context.Context, o Outgoing) error
}

// fileLine is a line of a FileGateway's file.
type fileLine struct {
	IdempotencyKey string    `json:"idempotencyKey"`
	Phone          string    `json:"phone"`
	Text           string    `json:"text"`
	Time           time.Time `json:"time"`
}

// FileGateway appends each message to a file as a JSON line, synced to
// disk before Send returns: for development and tests. Like a real
// platform it de-duplicates by idempotency key, across restarts: a key
// in the file already is accepted and not written again. The file holds
// full phone numbers; it is created 0600.
type FileGateway struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool
	now  func() time.Time
}

// OpenFileGateway opens (or creates) the file at path and reads the keys
// it holds. A torn last line, from a crash while writing, is skipped.
func OpenFileGateway(path string) (*FileGateway, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600) //nolint:gosec // G304: the operator's configured file
	if err != nil {
		return nil, err
	}
	seen, torn, err := readKeys(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sms file gateway %s: %w", path, err)
	}
	if torn {
		// The next line starts on a line of its own.
		if _, err := f.Write([]byte("\n")); err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	return &FileGateway{f: f, seen: seen, now: time.Now}, nil
}

// readKeys reads the keys of the lines in f; torn reports a last line
// without its newline.
func readKeys(f *os.File) (map[string]bool, bool, error) {
	seen := map[string]bool{}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		// A last line whole but for its newline was sent all the same.
		var l fileLine
		if json.Unmarshal(line, &l) == nil && l.IdempotencyKey != "" {
			seen[l.IdempotencyKey] = true
		}
		if err != nil {
			return seen, len(line) > 0, nil
		}
	}
}

// Send implements Gateway.
func (g *FileGateway) Send(ctx context.Context, o Outgoing) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen[o.IdempotencyKey] {
		return nil
	}
	line, err := json.Marshal(fileLine{IdempotencyKey: o.IdempotencyKey, Phone: o.Phone, Text: o.Text, Time: g.now().UTC()})
	if err != nil {
		return err
	}
	end, err := g.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("sms file gateway: seek: %w", errors.Unwrap(err))
	}
	if _, err := g.f.Write(append(line, '\n')); err != nil {
		// A torn line would hide the next one from the reading at
		// start: cut it off.
		return errors.Join(fmt.Errorf("sms file gateway: write: %w", errors.Unwrap(err)), g.f.Truncate(end))
	}
	if err := g.f.Sync(); err != nil {
		return fmt.Errorf("sms file gateway: sync: %w", errors.Unwrap(err))
	}
	g.seen[o.IdempotencyKey] = true
	return nil
}

// Close closes the file.
func (g *FileGateway) Close() error { return g.f.Close() }

// HTTPConfig configures an HTTPGateway.
type HTTPConfig struct {
	// URL is where messages are POSTed; https unless the host is loopback.
	URL string
	// CredentialsFile holds "user:password" (HTTP basic) or a bearer token
	// (anything without a colon), on its first line; optional.
	CredentialsFile string
	// Body is a text/template of the request body over .Phone, .Text and
	// .IdempotencyKey, with json (a JSON string literal) and urlquery;
	// e.g. {"mobile":{{json .Phone}},"content":{{json .Text}}}.
	Body string
	// ContentType of the body: application/json when Body starts with
	// "{", else application/x-www-form-urlencoded, unless given.
	ContentType string
	// Timeout bounds one request; DefaultCallTimeout when zero.
	Timeout time.Duration
	// CAFile holds the PEM CA certificates to trust; the system pool when
	// empty.
	CAFile string
}

// HTTPGateway posts each message to an SMS platform's HTTP API, with the
// message's idempotency key in the Idempotency-Key header (and in the
// body, where the template puts it).
type HTTPGateway struct {
	url         string
	auth        string
	body        *template.Template
	contentType string
	client      *http.Client
}

// NewHTTPGateway checks c, reads the credentials and the CA file, and
// returns the gateway. Neither the credentials nor their file's content
// appear in its errors.
func NewHTTPGateway(c HTTPConfig) (*HTTPGateway, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, errors.New("sms http gateway: the URL must be http(s)://host/path, without credentials")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, errors.New("sms http gateway: plain http only to a loopback host; use https")
	}
	body, err := template.New("body").Funcs(template.FuncMap{"json": jsonString}).Option("missingkey=error").Parse(c.Body)
	if err != nil || strings.TrimSpace(c.Body) == "" {
		return nil, fmt.Errorf("sms http gateway: the body template: %v", cmpErr(err, "empty"))
	}
	g := &HTTPGateway{url: u.String(), body: body, contentType: c.ContentType}
	if g.contentType == "" {
		g.contentType = "application/x-www-form-urlencoded"
		if strings.HasPrefix(strings.TrimSpace(c.Body), "{") {
			g.contentType = "application/json"
		}
	}
	if g.auth, err = readCredentials(c.CredentialsFile); err != nil {
		return nil, err
	}
	tlsConfig, err := tlsConfigOf(c.CAFile)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	g.client = &http.Client{Transport: transport, Timeout: cmpOr(c.Timeout, DefaultCallTimeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return g, nil
}

// tlsConfigOf trusts the certificates in caFile, or the system's pool.
func tlsConfigOf(caFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return c, nil
	}
	pem, err := os.ReadFile(caFile) //nolint:gosec // G304: the operator's configured file
	if err != nil {
		return nil, fmt.Errorf("sms http gateway: CA file: %w", err)
	}
	c.RootCAs = x509.NewCertPool()
	if !c.RootCAs.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("sms http gateway: no PEM certificate in %s", caFile)
	}
	return c, nil
}

func cmpErr(err error, otherwise string) string {
	if err != nil {
		return err.Error()
	}
	return otherwise
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// jsonString is s as a JSON string literal.
func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

// readCredentials reads the Authorization header value from path ("" with
// no file).
func readCredentials(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator's configured file
	if err != nil {
		return "", fmt.Errorf("sms http gateway: credentials file: %w", err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "", fmt.Errorf("sms http gateway: credentials file %s is empty", path)
	}
	if user, pass, ok := strings.Cut(line, ":"); ok {
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(user, pass)
		return req.Header.Get("Authorization"), nil
	}
	return "Bearer " + line, nil
}

// Send implements Gateway: success is a 2xx answer; 408, 429 and 5xx
// are retried, other answers are ErrRejected. The answer's body is not
// read into errors: a platform may echo the number.
func (g *HTTPGateway) Send(ctx context.Context, o Outgoing) error {
	var body bytes.Buffer
	if err := g.body.Execute(&body, o); err != nil {
		return fmt.Errorf("%w: the body template failed", ErrRejected)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.url, &body) //nolint:gosec // G704: the operator's configured platform URL
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", g.contentType)
	req.Header.Set("Idempotency-Key", o.IdempotencyKey)
	if g.auth != "" {
		req.Header.Set("Authorization", g.auth)
	}
	resp, err := g.client.Do(req) //nolint:gosec // G704: the operator's configured platform URL
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("sms gateway: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return fmt.Errorf("sms gateway: HTTP %d", code)
	default:
		return fmt.Errorf("%w: HTTP %d", ErrRejected, code)
	}
}
