package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

const (
	// startTimeout bounds how long a program may take to become ready.
	startTimeout = 30 * time.Second
	// stopTimeout is how long a child gets after SIGTERM before it is killed.
	stopTimeout = 15 * time.Second
	// pollInterval is how often readiness is checked.
	pollInterval = 50 * time.Millisecond
	// logTailLines is how much of a child's log is shown when the run fails.
	logTailLines = 20
)

// harness owns what a run creates: the temporary directory with the keys,
// data and logs, and the child processes. close undoes all of it.
type harness struct {
	cfg config
	log *log.Logger
	// out is where a scenario that prints a table of its own (city)
	// prints it.
	out io.Writer
	// dir is the temporary directory; every child's files are under it.
	dir string
	// tokenKey and idKey are the key files the services are started with;
	// auditKey and dataKey those of the services that take them (see
	// storeKeyArgs).
	tokenKey, idKey   string
	auditKey, dataKey string
	// token is an admin bearer token signed with tokenKey.
	token    string
	children []*child
	// instances numbers the service instances started, each with a data
	// directory of its own: a scenario's pension must not find the
	// retirees an earlier scenario's pension projected.
	instances atomic.Int32
	// tls holds the CA and the certificates of a run with --tls: one
	// certificate every service serves and calls with, and one the load
	// generator presents. Empty for a plaintext run.
	tls devca.Dir
	// profiles counts the paced runs traced (--profile-dir).
	profiles int
}

// Certificate names of a run with --tls.
const (
	serviceCert = "service"
	clientCert  = "client"
)

// child is a started program.
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	// exited is closed when the process has ended; waitErr is then Wait's
	// result.
	exited  chan struct{}
	waitErr error
}

func newHarness(cfg config, logger *log.Logger) (*harness, error) {
	dir, err := os.MkdirTemp("", "socmgmt-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{cfg: cfg, log: logger, dir: dir,
		tokenKey: filepath.Join(dir, "token.key"), idKey: filepath.Join(dir, "id.key"),
		auditKey: filepath.Join(dir, "audit.key"), dataKey: filepath.Join(dir, "data.key")}
	if err := h.makeKeys(); err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if cfg.TLS {
		if h.tls, _, err = devca.Ensure(filepath.Join(dir, "tls"), serviceCert, clientCert); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
	}
	return h, nil
}

// servesTLS are the flags of a service program (or the bare server) that
// serve mutual TLS, as make run does; none for a plaintext run.
func (h *harness) servesTLS() []string {
	if h.tls == "" {
		return nil
	}
	return []string{"--tls-cert", h.tls.Cert(serviceCert), "--tls-key", h.tls.Key(serviceCert), "--tls-client-ca", h.tls.CA()}
}

// callsTLS are the flags of a service program that calls others over
// TLS; none for a plaintext run.
func (h *harness) callsTLS() []string {
	if h.tls == "" {
		return nil
	}
	return []string{"--tls-ca", h.tls.CA()}
}

// gatewayTLS are the gateway's flags for calling the services with its
// client certificate; its REST port stays plain HTTP, as under make run.
func (h *harness) gatewayTLS() []string {
	if h.tls == "" {
		return nil
	}
	return []string{"--tls-ca", h.tls.CA(), "--tls-client-cert", h.tls.Cert(clientCert), "--tls-client-key", h.tls.Key(clientCert)}
}

// transport is how the load generator dials: mutual TLS with the client
// certificate, or plaintext.
func (h *harness) transport() (grpc.DialOption, error) {
	if h.tls == "" {
		return grpc.WithTransportCredentials(insecure.NewCredentials()), nil
	}
	creds, err := tlsfiles.Client{CAFile: h.tls.CA(), CertFile: h.tls.Cert(clientCert), KeyFile: h.tls.Key(clientCert)}.Credentials()
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(creds), nil
}

func (h *harness) makeKeys() error {
	priv, err := authn.GenerateKeyFile(h.tokenKey)
	if err != nil {
		return err
	}
	if _, _, err := idnumber.LoadOrCreateKeyFile(h.idKey); err != nil {
		return err
	}
	if _, err := authn.GenerateKeyFile(h.auditKey); err != nil {
		return err
	}
	if _, _, err := datakey.LoadOrCreateFile(h.dataKey); err != nil {
		return err
	}
	// The token outlives the run: a token expiring mid-measurement would
	// read as a slow server.
	ttl := min(h.cfg.Timeout+time.Hour, authn.DefaultMaxLifetime)
	h.token, err = authn.NewSigner(priv).Sign(authn.Principal{Subject: "bench", Role: authn.RoleAdmin}, ttl, time.Now())
	return err
}

// close stops every child, newest first, and removes the temporary
// directory unless --keep. After a failed run it shows the end of each
// child's log first, since the directory is about to go.
func (h *harness) close(failed bool) error {
	var errs []error
	for i := len(h.children) - 1; i >= 0; i-- {
		errs = append(errs, h.stop(h.children[i]))
	}
	if failed {
		for _, c := range h.children {
			h.showLogTail(c)
		}
	}
	if h.cfg.Keep {
		h.log.Printf("kept %s", h.dir)
		return errors.Join(errs...)
	}
	return errors.Join(append(errs, os.RemoveAll(h.dir))...)
}

// start runs the program at path with args as a child whose output goes to
// a log file named after it.
func (h *harness) start(name, path string, args ...string) (*child, error) {
	logPath := filepath.Join(h.dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// The child gets its own descriptor; this one is only released.
	defer logFile.Close() //nolint:errcheck // nothing was written through it
	// Not CommandContext: a child outlives this call, and stop ends it
	// with SIGTERM before it resorts to SIGKILL.
	cmd := exec.Command(path, args...) //nolint:noctx // see above
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = childEnv(os.Environ())
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	h.children = append(h.children, c)
	return c, nil
}

// childEnv drops the variables the programs read as configuration, so that
// the flags the harness passes are the whole configuration.
func childEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "REGISTRY_") || strings.HasPrefix(kv, "GATEWAY_") ||
			strings.HasPrefix(kv, "PENSION_") || strings.HasPrefix(kv, "ACTIVITY_") || strings.HasPrefix(kv, "HANDOVER_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// release stops c where a failure needs no report of its own: close stops
// every child again and reports one that would not stop.
func (h *harness) release(c *child) { _ = h.stop(c) }

// stop ends a child with SIGTERM, or SIGKILL when it does not stop in
// time. Stopping a child that already ended is not an error: the log tail
// shown for a failed run tells why it ended.
func (h *harness) stop(c *child) error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop %s: %w", c.name, err)
	}
	select {
	case <-c.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	h.log.Printf("%s did not stop within %v; killing it", c.name, stopTimeout)
	if err := c.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", c.name, err)
	}
	<-c.exited
	return nil
}

func (h *harness) showLogTail(c *child) {
	data, err := os.ReadFile(c.logPath)
	if err != nil || len(data) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	lines = lines[max(0, len(lines)-logTailLines):]
	h.log.Printf("last lines of %s's log:\n%s", c.name, strings.Join(lines, "\n"))
}

// waitReady calls ready until it succeeds, the child exits, or
// startTimeout passes.
func (h *harness) waitReady(ctx context.Context, c *child, ready func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("%s exited while starting: %w", c.name, c.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready within %v: %w", c.name, startTimeout, err)
		case <-ticker.C:
		}
	}
}

// missingProgram returns the first of programs that is not in --bin,
// logging that scenario is skipped, or "" when all are there: a scenario
// whose program was not built is skipped, and the others still run.
func (h *harness) missingProgram(scenario string, programs ...string) string {
	for _, p := range programs {
		bin := filepath.Join(h.cfg.Bin, p)
		if _, err := os.Stat(bin); errors.Is(err, fs.ErrNotExist) {
			h.log.Printf("no %s: skipping the %s scenario", bin, scenario)
			return p
		}
	}
	return ""
}

// collectedHeap is a service's memory right after a collection the
// harness asked for (the admin port's /debug/pprof/heap?gc=1): the heap
// profile that collection wrote, the live heap, the heap goal (how far
// the heap grows before the next collection: five times the live heap
// with GOGC 400) and the resident set.
type collectedHeap struct {
	profile         []byte
	live, goal, rss float64
}

// collectHeap asks the service at admin address adminAddr for a
// collection and reads its memory right after it.
func (h *harness) collectHeap(ctx context.Context, adminAddr string) (collectedHeap, error) {
	admin := "http://" + adminAddr
	var out collectedHeap
	var err error
	if out.profile, err = fetchLarge(ctx, admin+"/debug/pprof/heap?gc=1", h.token, time.Minute, maxMetricsBytes); err != nil {
		return out, fmt.Errorf("collection: %w", err)
	}
	page, err := fetch(ctx, admin+"/metrics", "")
	if err != nil {
		return out, fmt.Errorf("metrics: %w", err)
	}
	for _, m := range []struct {
		name string
		v    *float64
	}{{"go_memstats_heap_alloc_bytes", &out.live}, {"go_memstats_next_gc_bytes", &out.goal}, {"process_resident_memory_bytes", &out.rss}} {
		if *m.v, err = metricValue(bytes.NewReader(page), m.name); err != nil {
			return out, fmt.Errorf("metrics: %w", err)
		}
	}
	return out, nil
}

// heapRow sets the live heap of the service name at admin address
// adminAddr after a collection (see collectHeap), rather than wherever the
// collector's cycle happened to stand, against the goal, with the heap
// goal beside it; after says after what.
func (h *harness) heapRow(ctx context.Context, name, adminAddr, after string) (row, error) {
	heap, err := h.collectHeap(ctx, adminAddr)
	if err != nil {
		return row{}, fmt.Errorf("%s %w", name, err)
	}
	return row{
		What:     name + " Go heap after " + after + ", live after a collection (go_memstats_heap_alloc_bytes)",
		Value:    formatBytes(heap.live),
		Compared: "heap goal " + formatBytes(heap.goal),
		Goal:     fmt.Sprintf("≤ %d MiB", goalHeapBytes>>20), Result: verdict(heap.live <= goalHeapBytes),
	}, nil
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. Another process could take it before the child binds it; the child
// then fails to start and the run says so.
func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0") //nolint:noctx // binds at once and closes; nothing to cancel
	if err != nil {
		return "", err
	}
	addr := lis.Addr().String()
	return addr, lis.Close()
}

// dial returns conns connections to addr that send the harness's token.
// Several connections spread the load over more than one HTTP/2 stream
// writer, as a fleet of clients would.
func (h *harness) dial(addr string, conns int) ([]*grpc.ClientConn, error) {
	transport, err := h.transport()
	if err != nil {
		return nil, err
	}
	out := make([]*grpc.ClientConn, 0, conns)
	for range conns {
		conn, err := grpc.NewClient(addr, transport, grpc.WithPerRPCCredentials(authn.BearerCredentials(h.token)))
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, conn)
	}
	return out, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, c := range conns {
		c.Close()
	}
}

// scrapeMetric reads one unlabelled sample from a Prometheus /metrics page.
func scrapeMetric(ctx context.Context, url, name string) (float64, error) {
	page, err := fetch(ctx, url, "")
	if err != nil {
		return 0, err
	}
	return metricValue(bytes.NewReader(page), name)
}

// maxMetricsBytes bounds how much of a /metrics page is read.
const maxMetricsBytes = 16 << 20

var errNoMetric = errors.New("metric not found")

// metricSum adds up every sample of name in a Prometheus text exposition,
// whatever its labels: a counter's total over its label values.
func metricSum(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var sum float64
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if series, _, _ := strings.Cut(fields[0], "{"); series != name {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		sum += v
	}
	return sum, sc.Err()
}

// metricValue finds the unlabelled sample name in a Prometheus text
// exposition and returns its value.
func metricValue(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != name {
			continue
		}
		v, err := strconv.ParseFloat(fields[1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric %s: %w", name, err)
		}
		return v, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: %w", name, errNoMetric)
}

// storeKeyArgs are the flags of the keys the program at bin takes beside
// the token key, as in production: registry and pension seal personal
// data under the data key, and they and activity sign their audit logs.
// The measurements include both.
func (h *harness) storeKeyArgs(bin string) []string {
	switch filepath.Base(bin) {
	case "registry", "pension":
		return []string{"--audit-key", h.auditKey, "--data-key", h.dataKey}
	case "activity", "casework":
		return []string{"--audit-key", h.auditKey}
	}
	return nil
}
