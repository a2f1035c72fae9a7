package handover

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
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
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// buildHandover builds the handover program into a temporary directory.
func buildHandover(t *testing.T) string {
	t.Helper()
	// `go test` puts its own toolchain first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "handover")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/socmgmt/socmgmt/services/handover/cmd/handover")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is a started handover program.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func startChild(t *testing.T, bin, logPath string, args ...string) *child {
	t.Helper()
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "HANDOVER_LOG_LEVEL=warn")
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	return c
}

func (c *child) tail() string {
	data, _ := os.ReadFile(c.log)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

// waitServing waits until the child's gRPC health check says SERVING.
func (c *child) waitServing(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	waitFor(t, 20*time.Second, func() (bool, string) {
		select {
		case <-c.done:
			t.Fatalf("handover exited while starting:\n%s", c.tail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.Status == healthpb.HealthCheckResponse_SERVING, fmt.Sprintf("health: %v %v", resp, err)
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// TestOutboxKilledAfterCommit kills the handover process (SIGKILL) right
// after a completion committed and before anything was delivered (the
// outbox held), then starts it again without the hold: every command is
// delivered exactly once.
func TestOutboxKilledAfterCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the handover program")
	}
	bin := buildHandover(t)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	w := newBackends(t, keys{pub: priv.Public().(ed25519.PublicKey), priv: priv, signer: authn.NewSigner(priv)})

	grpcAddr, adminAddr := freePort(t), freePort(t)
	args := []string{
		"--grpc-addr", grpcAddr, "--admin-addr", adminAddr, "--data-dir", filepath.Join(dir, "data"),
		"--token-key", keyFile, "--registry-addr", w.reg.addr, "--activity-addr", w.act.addr,
		"--log-format", "console", "--outbox-min-backoff", "20ms", "--outbox-max-backoff", "200ms",
	}
	logPath := filepath.Join(dir, "handover.log")
	first := startChild(t, bin, logPath, append(args, "--outbox-hold")...)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	first.waitServing(t, conn)
	w.client = pb.NewHandoverServiceClient(conn)

	h := w.ready(6)
	done, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		t.Fatalf("complete: %v\n%s", err, first.tail())
	}
	if done.Handover.Delivery.GetState() != pb.Delivery_PENDING || done.Handover.Delivery.Commands != 2 {
		t.Fatalf("after complete: %v", done.Handover.Delivery)
	}
	if b := scrape(t, adminAddr, "socmgmt_handover_outbox_backlog"); b != "2" {
		t.Errorf("backlog before the kill = %s, want 2", b)
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.done

	// Nothing went out before the kill.
	if n := len(w.assignedEntries(h.RetireeIds)); n != 0 {
		t.Fatalf("%d retirees assigned before the restart", n)
	}
	if vs, _ := w.act.fake.snapshot(); len(vs) != 0 {
		t.Fatalf("venues before the restart: %v", vs)
	}

	second := startChild(t, bin, logPath, args...)
	second.waitServing(t, conn)
	got := w.waitDelivered(h.Id, 20*time.Second)
	w.wantHandedOver(h.RetireeIds)
	vs, _ := w.act.fake.snapshot()
	if len(vs) != 1 || got.Premises[0].VenueId != vs[0].Id {
		t.Errorf("venues %v, premises venue %q", vs, got.Premises[0].VenueId)
	}
	if got.Delivery.Attempts != 2 {
		t.Errorf("attempts = %d, want one per command", got.Delivery.Attempts)
	}
	waitFor(t, 5*time.Second, func() (bool, string) {
		b := scrape(t, adminAddr, "socmgmt_handover_outbox_backlog")
		return b == "0", "backlog " + b
	})

	// A graceful stop is clean.
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-second.done:
		if code := second.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("exit code %d after SIGTERM\n%s", code, second.tail())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("no exit within 15 s of SIGTERM")
	}
}

// scrape returns the value of an unlabelled metric on the admin port.
func scrape(t *testing.T, adminAddr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "(absent)"
}
