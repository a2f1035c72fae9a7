package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
	"github.com/socmgmt/socmgmt/internal/waitfor"
)

const (
	// bindAttempts is how often a program is started on fresh ports when
	// another process took a port between our probe and its bind.
	bindAttempts = 3
)

// startProc starts the built program name with args, its stdout and stderr
// going to logPath. A cleanup kills it if it is still running then.
func startProc(t *testing.T, name, logPath string, args ...string) *servicetest.Process {
	t.Helper()
	return servicetest.Start(t, servicetest.Program{
		Name: name, Path: filepath.Join(binDir, name), Args: args, Env: programEnv(), Log: logPath,
	})
}

// programEnv is the test's environment without the variables the programs
// read as configuration, so that only the flags given here apply.
func programEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REGISTRY_") || strings.HasPrefix(kv, "GATEWAY_") || strings.HasPrefix(kv, "SOCMGMT_") ||
			strings.HasPrefix(kv, "ACTIVITY_") || strings.HasPrefix(kv, "HANDOVER_") ||
			strings.HasPrefix(kv, "PENSION_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// lostBindRace reports whether the program exited because one of its
// ports had been taken.
func lostBindRace(p *servicetest.Process) bool {
	data, _ := os.ReadFile(p.Log())
	return p.Exited() && bytes.Contains(data, []byte("address already in use"))
}

// stack is a registry and a gateway in front of it, each its own process.
type stack struct {
	// dir holds the keys, the data directory and the logs.
	dir string
	// signKey is the Ed25519 private key file tokens are signed with; the
	// registry only gets its public half.
	signKey string
	// registryAddr is the registry's gRPC address, baseURL the gateway's.
	registryAddr string
	baseURL      string
	// registryAdmin and gatewayAdmin are the admin ports.
	registryAdmin, gatewayAdmin string
	// pubKey and idKey are the key files the services are given;
	// registryKeys the flags of registry's audit and data keys.
	pubKey, idKey string
	registryKeys  []string
	registry      *servicetest.Process
	gateway       *servicetest.Process
	// activityAddr is the activity service's gRPC address.
	activityAddr string
	activity     *servicetest.Process
	// pensionAddr is the pension service's gRPC address.
	pensionAddr string
	pension     *servicetest.Process
	// handoverAddr is the handover service's gRPC address.
	handoverAddr string
	// caseworkAddr is the casework service's gRPC address, when the
	// stack has one (stackOptions.casework).
	caseworkAddr string
	handover     *servicetest.Process
	// adminAddrs are the admin (metrics) addresses, by program name.
	adminAddrs map[string]string
	// started are every program started, failed start attempts
	// included: their logs are searched for secrets.
	started []*servicetest.Process
	// secrets are the strings that must never appear in a log: personal
	// data and tokens. Tests add to it before they use them.
	secrets []string
	// stopOnce guards stop.
	stopOnce sync.Once
	// tls holds the stack's CA and a certificate per program, and the
	// cli one the tests call the services with: as under make run, every
	// gRPC port requires mutual TLS.
	tls devca.Dir
}

// cliCert is the name of the certificate the tests, and the CLI they
// run, present to the services.
const cliCert = "cli"

// startSession starts a stack, mints the tokens of the principals the
// tests act as and returns them with a REST client of the gateway; the
// fixtures' personal data are among the secrets no log may hold.
func startSession(t *testing.T) (*stack, tokens, *restClient) {
	t.Helper()
	s := startStack(t)
	tk := s.mintTokens(t)
	s.secret(personalData...)
	return s, tk, newRESTClient(s.baseURL)
}

// startStack starts registry and gateway on free ports and waits until
// the gateway's /healthz says both are serving. At the end of the test the
// stack is stopped with SIGTERM, and the logs are searched for secrets.
func startStack(t *testing.T) *stack {
	t.Helper()
	return startStackWith(t, stackOptions{})
}

// stackOptions are what a test adds to the usual stack.
type stackOptions struct {
	// casework starts the casework program too, and the gateway serves
	// its routes.
	casework bool
	// gatewayArgs are more flags of the gateway.
	gatewayArgs []string
}

// startStackWith is startStack with the options opts.
func startStackWith(t *testing.T, opts stackOptions) *stack {
	t.Helper()
	requireBinaries(t)
	dir := t.TempDir()
	s := &stack{dir: dir, signKey: filepath.Join(dir, "keys", "signing.key"), adminAddrs: map[string]string{}}
	var err error
	if s.tls, _, err = devca.Ensure(filepath.Join(dir, "tls"), "registry", "activity", "pension", "handover", "gateway", cliCert); err != nil {
		t.Fatal(err)
	}
	priv, err := authn.GenerateKeyFile(s.signKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := authn.EncodePublicKeyPEM(priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	pubKey := filepath.Join(dir, "keys", "signing.pub")
	if err := os.WriteFile(pubKey, pubPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	idKey := filepath.Join(dir, "keys", "id-number.key")
	if _, _, err := idnumber.LoadOrCreateKeyFile(idKey); err != nil {
		t.Fatal(err)
	}

	var addrs []string
	// A checkpoint every two audit entries, so that a test's few reads
	// are signed.
	s.registryKeys = append(servicetest.StoreKeyArgs(t, filepath.Join(dir, "keys"), "registry", true), "--audit-checkpoint-every", "2")
	s.registry, addrs = s.launch(t, "registry", 2,
		func(a []string) []string {
			return append(registryArgs(a, filepath.Join(dir, "data"), pubKey, idKey, s.registryKeys), s.servesTLS("registry")...)
		},
		s.grpcServing)
	s.registryAddr, s.registryAdmin = addrs[0], addrs[1]
	s.pubKey, s.idKey = pubKey, idKey
	s.activity, s.activityAddr = s.startService(t, "activity", pubKey, "--registry-addr", s.registryAddr)
	s.pension, s.pensionAddr = s.startService(t, "pension", pubKey, "--id-key", idKey, "--registry-addr", s.registryAddr)
	s.handover, s.handoverAddr = s.startService(t, "handover", pubKey,
		"--registry-addr", s.registryAddr, "--activity-addr", s.activityAddr)

	extra := opts.gatewayArgs
	if opts.casework {
		s.caseworkAddr = s.startCasework(t)
		extra = append(extra, "--casework-addr", s.caseworkAddr)
	}

	// The gateway too verifies with the public key only, and reads the
	// revocation list with a service token of its own.
	gatewayToken := s.serviceTokenFile(t, "gateway")
	s.gateway, addrs = s.launch(t, "gateway", 2,
		func(a []string) []string {
			return append([]string{
				"--http-addr", a[0], "--admin-addr", a[1],
				"--registry-addr", s.registryAddr,
				"--activity-addr", s.activityAddr,
				"--pension-addr", s.pensionAddr,
				"--handover-addr", s.handoverAddr,
				"--token-key", pubKey, "--service-token-file", gatewayToken,
				"--tls-ca", s.tls.CA(), "--tls-client-cert", s.tls.Cert("gateway"), "--tls-client-key", s.tls.Key("gateway"),
				"--log-format", "json", "--log-level", "debug",
			}, extra...)
		},
		httpHealthy)
	s.baseURL, s.gatewayAdmin = "http://"+addrs[0], addrs[1]

	// Registered last so that it runs before the processes' own kill
	// cleanups.
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop stops the stack with SIGTERM, each program checked to exit 0, and
// searches the logs for secrets; it runs once. A test that starts a
// program in place of one of the stack's registers it again after that
// start, so that it runs before the new program's kill cleanup.
func (s *stack) stop(t *testing.T) {
	s.stopOnce.Do(func() {
		s.gateway.Stop(t)
		s.handover.Stop(t)
		s.activity.Stop(t)
		s.pension.Stop(t)
		s.registry.Stop(t)
		s.checkLogs(t)
	})
}

// registryArgs are registry's flags: gRPC and admin addresses, the data
// directory and the key files (keys: those of the audit and data keys).
func registryArgs(addrs []string, dataDir, pubKey, idKey string, keys []string) []string {
	return append([]string{
		"--grpc-addr", addrs[0], "--admin-addr", addrs[1],
		"--data-dir", dataDir,
		"--token-key", pubKey, "--id-key", idKey,
		// Debug, so that the personal-data check covers every
		// line the programs can write.
		"--log-format", "json", "--log-level", "debug",
	}, keys...)
}

// storeKeys are the flags of the audit and data keys of the service
// name, as its program requires them.
func (s *stack) storeKeys(t *testing.T, name string) []string {
	t.Helper()
	switch name {
	case "pension":
		return servicetest.StoreKeyArgs(t, filepath.Join(s.dir, "keys"), name, true)
	case "activity":
		return servicetest.StoreKeyArgs(t, filepath.Join(s.dir, "keys"), name, false)
	}
	return nil
}

// startService starts a service beside registry as production runs it:
// it verifies tokens with the public key only and calls the other
// services with a service token that `socmgmt token` issued beforehand.
// extra are its own flags; it returns the process and its gRPC address.
func (s *stack) startService(t *testing.T, name, pubKey string, extra ...string) (*servicetest.Process, string) {
	t.Helper()
	tokenFile := s.serviceTokenFile(t, name)
	keys := s.storeKeys(t, name)
	p, addrs := s.launch(t, name, 2,
		func(a []string) []string {
			return append(append([]string{
				"--grpc-addr", a[0], "--admin-addr", a[1],
				"--data-dir", filepath.Join(s.dir, "data"),
				"--token-key", pubKey, "--service-token-file", tokenFile,
				"--log-format", "json", "--log-level", "debug",
				// Each calls registry, and handover activity, with its
				// own certificate.
				"--tls-ca", s.tls.CA(),
			}, keys...), append(s.servesTLS(name), extra...)...)
		},
		s.grpcServing)
	return p, addrs[0]
}

// serviceTokenFile writes a service token for the program name, issued
// by `socmgmt token` beforehand as in production, and returns its file.
func (s *stack) serviceTokenFile(t *testing.T, name string) string {
	t.Helper()
	tokenFile := filepath.Join(s.dir, "keys", name+".token")
	// The token outlives the test: the service's streams must not lose
	// their credentials half-way.
	tok := s.cliToken(t, s.signKey, "--role", "service", "--subject", name)
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.secret(tok)
	return tokenFile
}

// servesTLS are the flags that make the program name serve mutual TLS
// with its certificate, as make run does.
func (s *stack) servesTLS(name string) []string {
	return []string{"--tls-cert", s.tls.Cert(name), "--tls-key", s.tls.Key(name), "--tls-client-ca", s.tls.CA()}
}

// cliTLSArgs are the socmgmt flags that call the services with the
// stack's cli certificate.
func (s *stack) cliTLSArgs() []string {
	return []string{"--tls-ca", s.tls.CA(), "--tls-cert", s.tls.Cert(cliCert), "--tls-key", s.tls.Key(cliCert)}
}

// cliClient is the TLS the tests call the stack's gRPC ports with.
func (s *stack) cliClient() tlsfiles.Client {
	return tlsfiles.Client{CAFile: s.tls.CA(), CertFile: s.tls.Cert(cliCert), KeyFile: s.tls.Key(cliCert)}
}

// transport is how the tests dial the stack's gRPC ports: TLS with the
// cli certificate.
func (s *stack) transport(t *testing.T) grpc.DialOption {
	t.Helper()
	creds, err := s.cliClient().Credentials()
	if err != nil {
		t.Fatal(err)
	}
	return grpc.WithTransportCredentials(creds)
}

// dialGRPC connects to the gRPC service at addr over the stack's TLS,
// with opts besides; the connection is closed when the test ends.
func (s *stack) dialGRPC(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{s.transport(t)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// launch starts program name with the args built from nports fresh
// addresses and waits until ready says it serves on them. When the
// program lost a port to another process it is tried again on new ones.
func (s *stack) launch(t *testing.T, name string, nports int, args func(addrs []string) []string, ready func(ctx context.Context, addr string) error) (*servicetest.Process, []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addrs := servicetest.FreeAddrs(t, nports)
		p := startProc(t, name, filepath.Join(s.dir, fmt.Sprintf("%s-%d.log", name, attempt)), args(addrs)...)
		s.started = append(s.started, p)
		ctx, cancel := waitfor.Context(t)
		err := p.Ready(ctx, func(ctx context.Context) error {
			if err := ready(ctx, addrs[0]); err != nil {
				return err
			}
			return listensOn(p, name, addrs[0])
		})
		cancel()
		if err == nil {
			if nports > 1 {
				s.adminAddrs[name] = addrs[1]
			}
			return p, addrs
		}
		p.Kill()
		if attempt < bindAttempts && lostBindRace(p) {
			t.Logf("%s lost a port to another process; starting it again on new ports", name)
			continue
		}
		t.Fatalf("%s: %v\n%s", name, err, p.Tail())
	}
}

// listensOn returns nil once the program's own log says it listens on
// addr, for the programs that log it (the gateway). Its plain HTTP
// /healthz could otherwise be answered by another process's gateway that
// took the port first, while this one is still exiting with "address
// already in use". (The services' gRPC health answers only over this
// stack's own TLS, which no other stack's program has.)
func listensOn(p *servicetest.Process, name, addr string) error {
	if name != "gateway" {
		return nil
	}
	data, err := os.ReadFile(p.Log())
	if err != nil {
		return err
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(line, []byte(`"listening"`)) && bytes.Contains(line, []byte(`"addr":"`+addr+`"`)) {
			return nil
		}
	}
	return fmt.Errorf("%s does not say yet that it listens on %s", name, addr)
}

// grpcServing returns nil once the gRPC server at addr answers the
// health check, over the stack's TLS, with SERVING.
func (s *stack) grpcServing(ctx context.Context, addr string) error {
	creds, err := s.cliClient().Credentials()
	if err != nil {
		return waitfor.Permanent(err)
	}
	return servicetest.GRPCServing(ctx, addr, grpc.WithTransportCredentials(creds))
}

// httpHealthy returns nil once GET /healthz at addr answers 200.
func httpHealthy(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz: status %d", resp.StatusCode)
	}
	return nil
}

// secret adds strings that must never be logged.
func (s *stack) secret(values ...string) {
	s.secrets = append(s.secrets, values...)
}

// requestMarkers are what a program's log shows once it has served a
// request: the health probes of startStack, at least. Without them,
// finding no secret in a log would prove nothing.
var requestMarkers = map[string]string{
	"registry": "/grpc.health.v1.Health/Check",
	"gateway":  `"route":"/healthz"`,
	"activity": "/grpc.health.v1.Health/Check",
	"handover": "/grpc.health.v1.Health/Check",
	"pension":  "/grpc.health.v1.Health/Check",
}

// checkLogs fails t when a log holds a secret. Matching ignores case: an
// ID number's check character may be written x or X.
func (s *stack) checkLogs(t *testing.T) {
	t.Helper()
	for name, p := range map[string]*servicetest.Process{
		"registry": s.registry, "gateway": s.gateway, "activity": s.activity, "handover": s.handover, "pension": s.pension,
	} {
		data, err := os.ReadFile(p.Log())
		if err != nil {
			t.Errorf("read log: %v", err)
			continue
		}
		if marker := requestMarkers[name]; !bytes.Contains(data, []byte(marker)) {
			t.Errorf("%s's log does not show the requests it served (no %s): were its logs captured?\n%s", name, marker, p.Tail())
		}
	}
	for _, p := range s.started {
		data, err := os.ReadFile(p.Log())
		if err != nil {
			t.Errorf("read log: %v", err)
			continue
		}
		lower := bytes.ToLower(data)
		var hits []string
		for _, v := range s.secrets {
			if v == "" {
				continue
			}
			if i := bytes.Index(lower, bytes.ToLower([]byte(v))); i >= 0 {
				hits = append(hits, fmt.Sprintf("%s in: %s", describeSecret(v), lineAt(data, i)))
			}
		}
		if len(hits) > 0 {
			t.Errorf("%s holds personal data or tokens, which must never be logged:\n%s\n%s",
				filepath.Base(p.Log()), strings.Join(hits, "\n"), p.Tail())
		}
	}
}

// describeSecret names a secret in a failure message without repeating a
// token whole.
func describeSecret(v string) string {
	if len(v) > 40 {
		return "token " + v[:12] + "…"
	}
	return fmt.Sprintf("%q", v)
}

// lineAt returns the line of data that holds offset i.
func lineAt(data []byte, i int) string {
	start := bytes.LastIndexByte(data[:i], '\n') + 1
	end := len(data)
	if n := bytes.IndexByte(data[i:], '\n'); n >= 0 {
		end = i + n
	}
	const maxLine = 500
	if end-start > maxLine {
		return string(data[start:start+maxLine]) + "…"
	}
	return string(data[start:end])
}

// tokens are bearer tokens of the principals the tests act as.
type tokens struct {
	admin, bureau, clerkA, clerkB, enterprise string
}

// Subjects of the principals; the audit log and history name them.
const (
	subjectAdmin      = "e2e-admin"
	subjectBureau     = "e2e-bureau"
	subjectClerkA     = "e2e-clerk-a"
	subjectClerkB     = "e2e-clerk-b"
	subjectEnterprise = "e2e-enterprise"
)

// tokenTTL is long enough for the test and short enough to be harmless.
const tokenTTL = 10 * time.Minute

// mintTokens runs `socmgmt token` for every principal; the tests use no
// token the CLI did not make, so that they fail when it does.
func (s *stack) mintTokens(t *testing.T) tokens {
	t.Helper()
	mint := func(args ...string) string { return s.mint(t, args...) }
	return tokens{
		admin:      mint("--role", "admin", "--subject", subjectAdmin),
		bureau:     mint("--role", "bureau", "--subject", subjectBureau),
		clerkA:     mint("--role", "clerk", "--community", communityA, "--subject", subjectClerkA),
		clerkB:     mint("--role", "clerk", "--community", communityB, "--subject", subjectClerkB),
		enterprise: mint("--role", "enterprise", "--enterprise", creditCode, "--subject", subjectEnterprise),
	}
}

// mint is a token of the stack's key that `socmgmt token … args` issues,
// added to the secrets no log may hold.
func (s *stack) mint(t *testing.T, args ...string) string {
	t.Helper()
	tok := s.cliToken(t, s.signKey, args...)
	s.secret(tok)
	return tok
}

// cliToken runs the real CLI, socmgmt token --key keyFile … args, and
// returns the token it printed; a failure of the CLI fails t with what it
// wrote to stderr.
func (s *stack) cliToken(t *testing.T, keyFile string, args ...string) string {
	t.Helper()
	full := append([]string{"token", "--key", keyFile, "--ttl", tokenTTL.String()}, args...)
	cmd := exec.Command(filepath.Join(binDir, "socmgmt"), full...)
	cmd.Env = programEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("socmgmt %s: %v\n%s", strings.Join(full, " "), err, strings.TrimSpace(stderr.String()))
	}
	tok := strings.TrimSuffix(stdout.String(), "\n")
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("socmgmt %s printed %q, not a single JWT line", strings.Join(full, " "), stdout.String())
	}
	return tok
}

// foreignToken is an admin token that `socmgmt token` signs with a key the
// stack does not trust.
func (s *stack) foreignToken(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "foreign.key")
	if _, err := authn.GenerateKeyFile(key); err != nil {
		t.Fatal(err)
	}
	return s.cliToken(t, key, "--role", "admin", "--subject", "intruder")
}

// expiredToken is an admin token of the stack's key that expired an hour
// ago. The CLI mints no such token (a lifetime must be positive), so it is
// the one token the tests sign themselves.
func (s *stack) expiredToken(t *testing.T) string {
	t.Helper()
	priv, err := authn.LoadPrivateKey(s.signKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: subjectAdmin, Role: authn.RoleAdmin}, tokenTTL, time.Now().Add(-time.Hour-tokenTTL))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
