package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// adminTokenTTL bounds the admin tokens the admin-port commands mint:
// each is checked when a request starts, however long it then takes.
const adminTokenTTL = 5 * time.Minute

// maxRefusalBody bounds what is read of a refusal's body.
const maxRefusalBody = 512

// adminTarget is the service an admin-port command (backup, audit verify,
// rotate-data-key) talks to, and how it gets its admin token.
type adminTarget struct {
	// service names the service.
	service string
	// addr is the service's admin host:port; its make-run one when empty.
	addr string
	// keyFile is the signing key an admin token is minted with.
	keyFile string
	// tokenFile holds an admin token to use instead of minting one.
	tokenFile string
	// tls, when its CA is set, makes the call over TLS to an admin port
	// served with --admin-tls, presenting the client certificate that
	// lets a caller on another machine in (see adminhttp.Trusted).
	tls tlsfiles.Client
}

// flags defines --service, --addr, --key and --token-file on f; doing
// says what the command does to the service ("back up"), services are
// the services it knows, by their make-run admin addresses.
func (a *adminTarget) flags(f *pflag.FlagSet, e env, doing string, services map[string]string) {
	f.StringVar(&a.service, "service", "", "`name` of the service to "+doing+": "+strings.Join(names(services), ", ")+" (required)")
	f.StringVar(&a.addr, "addr", "", "the service's admin `host:port` (default: its make-run address, e.g. 127.0.0.1:9201 for registry)")
	f.StringVar(&a.keyFile, "key", keyFileDefault(e, defaultKeyFile), "PEM `file` of the stack's Ed25519 signing key, to mint an admin token ($"+envKey+" overrides the default)")
	f.StringVar(&a.tokenFile, "token-file", "", "`file` holding an admin token to use instead of minting one with --key")
	// No defaults from $SOCMGMT_TLS_* or make run's files, unlike the gRPC
	// commands: an admin port is plain HTTP unless the service was
	// started with --admin-tls, and a call from its own machine needs no
	// certificate.
	f.StringVar(&a.tls.CAFile, "tls-ca", "", "PEM `file` of the CA that signs the service's certificate: call its admin port over TLS (a service started with --admin-tls); empty: plain HTTP")
	f.StringVar(&a.tls.CertFile, "tls-cert", "", "PEM client certificate `file` presented to the admin port, which lets a caller on another machine in (with --tls-key and --tls-ca)")
	f.StringVar(&a.tls.KeyFile, "tls-key", "", "PEM private key `file` of --tls-cert")
}

// names returns the keys of services, sorted.
func names(services map[string]string) []string {
	out := make([]string, 0, len(services))
	for name := range services {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// address validates --service against services, --addr and the TLS
// flags, and returns the admin address to use.
func (a adminTarget) address(services map[string]string) (string, error) {
	if p := a.tls.Problems("tls-ca", "tls-cert", "tls-key"); len(p) > 0 {
		return "", errors.New(p[0])
	}
	known := strings.Join(names(services), ", ")
	if a.service == "" {
		return "", fmt.Errorf("--service is required: one of %s", known)
	}
	addr, ok := services[a.service]
	if !ok {
		return "", fmt.Errorf("--service %q: want one of %s", a.service, known)
	}
	if a.addr != "" {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return "", fmt.Errorf("--addr %q: want host:port", a.addr)
		}
		addr = a.addr
	}
	return addr, nil
}

// token returns the admin token to call with: the one in --token-file,
// or one minted with --key for subject, which names the command in the
// service's log.
func (a adminTarget) token(subject string) (string, error) {
	if a.tokenFile != "" {
		data, err := os.ReadFile(a.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" || strings.ContainsAny(tok, " \r\n\t") {
			return "", fmt.Errorf("--token-file %s: want one token on one line", a.tokenFile)
		}
		return tok, nil
	}
	if a.keyFile == "" {
		return "", errors.New("--key or --token-file is required for an admin token")
	}
	_, tok, err := signedToken(a.keyFile, authn.Principal{Subject: subject, Role: authn.RoleAdmin}, adminTokenTTL)
	return tok, err
}

// request sends a request without a body for pathQuery (a path and
// query) to the admin port at addr with an admin token, over TLS when
// --tls-ca is set, and returns the response whatever its status. The
// wait for the response's header is bounded by headerTimeout, its body by
// ctx alone.
func (a adminTarget) request(ctx context.Context, method, addr, pathQuery, token string, headerTimeout time.Duration) (*http.Response, error) {
	tlsConfig, err := a.tls.Config()
	if err != nil {
		return nil, err
	}
	scheme := "http://"
	if tlsConfig != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, method, scheme+addr+pathQuery, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Transport: &http.Transport{
		// Never through a proxy: the request carries an admin token.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		ResponseHeaderTimeout: headerTimeout,
		// A client for one request: its connection closes with it.
		DisableKeepAlives: true,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w (is the service running, and is this its machine, or are --tls-ca, --tls-cert and --tls-key given?)", err)
	}
	return resp, nil
}

// refusal is the error of an admin port's answer other than 200, with
// the start of what it said.
func refusal(resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
	why := strings.TrimSpace(string(msg))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("refused (HTTP %d: %s): an admin token of the service's key is needed, from the service's own machine or over TLS with a client certificate", resp.StatusCode, why)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, why)
}
