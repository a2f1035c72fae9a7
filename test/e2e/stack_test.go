package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
)

const (
	// startTimeout bounds how long a program may take to become healthy.
	startTimeout = 20 * time.Second
	// stopTimeout is how long a program may take to exit after SIGTERM.
	stopTimeout = 15 * time.Second
	// bindAttempts is how often a program is started on fresh ports when
	// another process took a port between our probe and its bind.
	bindAttempts = 3
	// pollInterval is the pause between health probes.
	pollInterval = 50 * time.Millisecond
	// logTailLines is how much of a log a failure message shows.
	logTailLines = 40
)

// proc is one started program whose output goes to a log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	// done is closed once the program has exited and waitErr is set.
	done    chan struct{}
	waitErr error
}

// startProc starts the built program name with args, its stdout and stderr
// going to logPath. A cleanup kills it if it is still running then.
func startProc(t *testing.T, name, logPath string, args ...string) *proc {
	t.Helper()
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = programEnv()
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
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

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill ends the program at once if it is still running.
func (p *proc) kill() {
	if !p.exited() {
		p.cmd.Process.Kill()
		<-p.done
	}
}

// stop sends SIGTERM and checks that the program exits with status 0
// within stopTimeout: a graceful shutdown.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if p.exited() {
		t.Errorf("%s had exited before it was stopped (%v)\n%s", p.name, p.waitErr, p.tail())
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM %s: %v", p.name, err)
	}
	select {
	case <-p.done:
	case <-time.After(stopTimeout):
		p.kill()
		t.Errorf("%s did not exit within %v of SIGTERM; killed it\n%s", p.name, stopTimeout, p.tail())
		return
	}
	if p.waitErr != nil {
		t.Errorf("%s after SIGTERM: %v, want exit status 0\n%s", p.name, p.waitErr, p.tail())
	}
}

// tail returns the last lines of the program's log, for failure messages.
func (p *proc) tail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return fmt.Sprintf("--- last lines of %s ---\n%s\n---", filepath.Base(p.logPath), strings.Join(lines, "\n"))
}

// waitReady polls ready until it reports true, the program exits or
// startTimeout passes.
func (p *proc) waitReady(ready func(ctx context.Context) bool) error {
	deadline := time.Now().Add(startTimeout)
	for {
		if p.exited() {
			return fmt.Errorf("exited during start-up: %w", p.waitErr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok := ready(ctx)
		cancel()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy within %v", startTimeout)
		}
		select {
		case <-p.done:
		case <-time.After(pollInterval):
		}
	}
}

// lostBindRace reports whether the program exited because one of its
// ports had been taken.
func (p *proc) lostBindRace() bool {
	data, _ := os.ReadFile(p.logPath)
	return p.exited() && bytes.Contains(data, []byte("address already in use"))
}

// freeAddrs returns n distinct loopback addresses that were free a moment
// ago. The listeners are held together so that the ports differ.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs
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
	registry     *proc
	gateway      *proc
	// activityAddr is the activity service's gRPC address.
	activityAddr string
	activity     *proc
	// pensionAddr is the pension service's gRPC address.
	pensionAddr string
	pension     *proc
	// handoverAddr is the handover service's gRPC address.
	handoverAddr string
	handover     *proc
	// logs are every log file written, failed start attempts included.
	logs []string
	// secrets are the strings that must never appear in a log: personal
	// data and tokens. Tests add to it before they use them.
	secrets []string
}

// startStack starts registry and gateway on free ports and waits until
// the gateway's /healthz says both are serving. At the end of the test the
// stack is stopped with SIGTERM, and the logs are searched for secrets.
func startStack(t *testing.T) *stack {
	t.Helper()
	requireBinaries(t)
	dir := t.TempDir()
	s := &stack{dir: dir, signKey: filepath.Join(dir, "keys", "signing.key")}
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
	s.registry, addrs = s.launch(t, "registry", 2,
		func(a []string) []string {
			return []string{
				"--grpc-addr", a[0], "--admin-addr", a[1],
				"--data-dir", filepath.Join(dir, "data"),
				"--token-key", pubKey, "--id-key", idKey,
				// Debug, so that the personal-data check covers every
				// line the programs can write.
				"--log-format", "json", "--log-level", "debug",
			}
		},
		grpcServing)
	s.registryAddr = addrs[0]
	s.startActivity(t, pubKey)
	s.startPension(t, pubKey, idKey)
	s.startHandover(t, pubKey)

	s.gateway, addrs = s.launch(t, "gateway", 2,
		func(a []string) []string {
			return []string{
				"--http-addr", a[0], "--admin-addr", a[1],
				"--registry-addr", s.registryAddr,
				"--activity-addr", s.activityAddr,
				"--pension-addr", s.pensionAddr,
				"--handover-addr", s.handoverAddr,
				"--log-format", "json", "--log-level", "debug",
			}
		},
		httpHealthy)
	s.baseURL = "http://" + addrs[0]

	// Registered last so that it runs before the processes' own kill
	// cleanups.
	t.Cleanup(func() {
		s.gateway.stop(t)
		s.handover.stop(t)
		s.activity.stop(t)
		s.pension.stop(t)
		s.registry.stop(t)
		s.checkLogs(t)
	})
	return s
}

// launch starts program name with the args built from nports fresh
// addresses and waits until ready says it serves on them. When the
// program lost a port to another process it is tried again on new ones.
func (s *stack) launch(t *testing.T, name string, nports int, args func(addrs []string) []string, ready func(ctx context.Context, addr string) bool) (*proc, []string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addrs := freeAddrs(t, nports)
		logPath := filepath.Join(s.dir, fmt.Sprintf("%s-%d.log", name, attempt))
		s.logs = append(s.logs, logPath)
		p := startProc(t, name, logPath, args(addrs)...)
		err := p.waitReady(func(ctx context.Context) bool { return ready(ctx, addrs[0]) })
		if err == nil {
			return p, addrs
		}
		p.kill()
		if attempt < bindAttempts && p.lostBindRace() {
			t.Logf("%s lost a port to another process; starting it again on new ports", name)
			continue
		}
		t.Fatalf("%s: %v\n%s", name, err, p.tail())
	}
}

// grpcServing reports whether the gRPC server at addr answers the health
// check with SERVING.
func grpcServing(ctx context.Context, addr string) bool {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// httpHealthy reports whether GET /healthz at addr answers 200.
func httpHealthy(ctx context.Context, addr string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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
	for _, p := range []*proc{s.registry, s.gateway, s.activity, s.handover, s.pension} {
		data, err := os.ReadFile(p.logPath)
		if err != nil {
			t.Errorf("read log: %v", err)
			continue
		}
		if marker := requestMarkers[p.name]; !bytes.Contains(data, []byte(marker)) {
			t.Errorf("%s's log does not show the requests it served (no %s): were its logs captured?\n%s", p.name, marker, p.tail())
		}
	}
	for _, path := range s.logs {
		data, err := os.ReadFile(path)
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
				filepath.Base(path), strings.Join(hits, "\n"), (&proc{logPath: path}).tail())
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

// mintTokens runs `socmgmt token` for every principal. Should the CLI
// fail, the token is signed in-process instead and the test says so, so
// that the REST checks still run.
func (s *stack) mintTokens(t *testing.T) tokens {
	t.Helper()
	var tk tokens
	specs := []struct {
		dst  *string
		args []string
		p    authn.Principal
	}{
		{&tk.admin, []string{"--role", "admin", "--subject", subjectAdmin},
			authn.Principal{Subject: subjectAdmin, Role: authn.RoleAdmin}},
		{&tk.bureau, []string{"--role", "bureau", "--subject", subjectBureau},
			authn.Principal{Subject: subjectBureau, Role: authn.RoleBureau}},
		{&tk.clerkA, []string{"--role", "clerk", "--community", communityA, "--subject", subjectClerkA},
			authn.Principal{Subject: subjectClerkA, Role: authn.RoleClerk, Communities: []string{communityA}}},
		{&tk.clerkB, []string{"--role", "clerk", "--community", communityB, "--subject", subjectClerkB},
			authn.Principal{Subject: subjectClerkB, Role: authn.RoleClerk, Communities: []string{communityB}}},
		{&tk.enterprise, []string{"--role", "enterprise", "--enterprise", creditCode, "--subject", subjectEnterprise},
			authn.Principal{Subject: subjectEnterprise, Role: authn.RoleEnterprise, Enterprise: creditCode}},
	}
	for _, sp := range specs {
		tok, err := s.cliToken(sp.args)
		if err != nil {
			t.Logf("FALLBACK: socmgmt token %s: %v; signing the token in-process with authn.NewSigner", strings.Join(sp.args, " "), err)
			tok = s.signToken(t, sp.p, time.Now())
		}
		*sp.dst = tok
		s.secret(tok)
	}
	return tk
}

// cliToken runs the real CLI: socmgmt token --key … args.
func (s *stack) cliToken(args []string) (string, error) {
	full := append([]string{"token", "--key", s.signKey, "--ttl", tokenTTL.String()}, args...)
	cmd := exec.Command(filepath.Join(binDir, "socmgmt"), full...)
	cmd.Env = programEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	tok := strings.TrimSuffix(stdout.String(), "\n")
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		return "", errors.New("output is not a single JWT line")
	}
	return tok, nil
}

// signToken signs a token for p with the stack's key, issued at now.
func (s *stack) signToken(t *testing.T, p authn.Principal, now time.Time) string {
	t.Helper()
	priv, err := authn.LoadPrivateKey(s.signKey)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.NewSigner(priv).Sign(p, tokenTTL, now)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// foreignToken signs an admin token with a key the stack does not trust.
func foreignToken(t *testing.T) string {
	t.Helper()
	priv, err := authn.GenerateKeyFile(filepath.Join(t.TempDir(), "foreign.key"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "intruder", Role: authn.RoleAdmin}, tokenTTL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
