package servicetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// logTailLines is how much of a program's log a failure message shows.
const logTailLines = 40

// Program is a built program to start.
type Program struct {
	// Name names the program in failure messages.
	Name string
	// Path is the binary.
	Path string
	// Args are its arguments.
	Args []string
	// Env is its environment; the test's own when nil.
	Env []string
	// Log is the file its standard output and error are appended to.
	Log string
}

// Process is a started Program.
type Process struct {
	name string
	log  string
	cmd  *exec.Cmd
	// done is closed once the program has exited and waitErr is set.
	done    chan struct{}
	waitErr error
}

// Start starts p. The kernel kills it should the test process die, and a
// cleanup kills it if it still runs when the test ends.
func Start(t testing.TB, p Program) *Process {
	t.Helper()
	logFile, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Not tied to the test's context, which ends before the cleanups: a
	// cleanup may stop the program gracefully and check how it ended.
	cmd := exec.CommandContext(context.Background(), p.Path, p.Args...) //nolint:gosec // G204: runs a program the test built, with the test's own arguments
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = p.Env
	setProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("start %s: %v", p.Name, err)
	}
	proc := &Process{name: p.Name, log: p.Log, cmd: cmd, done: make(chan struct{})}
	go func() {
		proc.waitErr = cmd.Wait()
		_ = logFile.Close()
		close(proc.done)
	}()
	t.Cleanup(proc.Kill)
	return proc
}

// Done is closed once the program has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the program has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Err is how the program ended: nil after exit status 0. It is valid once
// Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.waitErr
}

// Kill ends the program at once (SIGKILL), as a crash would, and waits for
// it; it does nothing when the program has exited.
func (p *Process) Kill() {
	if !p.Exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Signal sends sig to the program.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits for the program to exit; an exit status
// other than 0, or a program that had exited already, fails t.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	if p.Exited() {
		t.Errorf("%s had exited before it was stopped (%v)\n%s", p.name, p.waitErr, p.Tail())
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("SIGTERM %s: %v", p.name, err)
	}
	waitfor.Receive(t, p.name+" to exit after SIGTERM", p.done)
	if p.waitErr != nil {
		t.Errorf("%s after SIGTERM: %v, want exit status 0\n%s", p.name, p.waitErr, p.Tail())
	}
}

// Ready polls check until it returns nil, the program exits or ctx ends,
// and returns why it did not become ready.
func (p *Process) Ready(ctx context.Context, check func(ctx context.Context) error) error {
	return waitfor.Poll(ctx, func(ctx context.Context) error {
		if p.Exited() {
			why := p.waitErr
			if why == nil {
				why = errors.New("exit status 0")
			}
			return waitfor.Permanent(fmt.Errorf("%s exited during start-up: %w", p.name, why))
		}
		return check(ctx)
	})
}

// WaitServing waits until the program's gRPC server at addr answers the
// health check with SERVING, and fails t, with the log's last lines, when
// the program exits first. opts are as GRPCServing's.
func (p *Process) WaitServing(t testing.TB, addr string, opts ...grpc.DialOption) {
	t.Helper()
	ctx, cancel := waitfor.Context(t)
	defer cancel()
	if err := p.Ready(ctx, func(ctx context.Context) error { return GRPCServing(ctx, addr, opts...) }); err != nil {
		t.Fatalf("%s: %v\n%s", p.name, err, p.Tail())
	}
}

// Tail returns the last lines of the program's log, for failure messages.
func (p *Process) Tail() string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	lines = lines[max(0, len(lines)-logTailLines):]
	return fmt.Sprintf("--- last lines of %s ---\n%s\n---", filepath.Base(p.log), strings.Join(lines, "\n"))
}

// Log is the path of the program's log file.
func (p *Process) Log() string { return p.log }

// GRPCServing returns nil when the gRPC server at addr answers the health
// check with SERVING, and why not otherwise. It dials plaintext unless
// opts give transport credentials (a server that requires TLS).
func GRPCServing(ctx context.Context, addr string, opts ...grpc.DialOption) error {
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health: %v", resp.GetStatus())
	}
	return nil
}

// FreeAddrs returns n distinct loopback addresses that were free a moment
// ago. The listeners are held together so that the ports differ; another
// process may still take one before the program binds it.
func FreeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	var lc net.ListenConfig
	for i := range addrs {
		ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ln.Close() }()
		addrs[i] = ln.Addr().String()
	}
	return addrs
}

// GoBuild builds the main packages pkgs, named by import path or by path
// from the module root ("./services/registry/cmd/registry"), into dir:
// a test that starts a program builds it first, so that it never runs
// yesterday's binary.
func GoBuild(dir string, pkgs ...string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	// `go test` puts its own toolchain's go first on PATH.
	goTool, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(context.Background(), goTool, append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...) //nolint:gosec // G204: the go tool building the module's own packages
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s: %w\n%s", root, err, out)
	}
	return nil
}

// Build builds the main package pkg (see GoBuild) into a temporary
// directory and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	dir := t.TempDir()
	if err := GoBuild(dir, pkg); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, filepath.Base(pkg))
}

// moduleRoot walks up from the working directory to the one with go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
