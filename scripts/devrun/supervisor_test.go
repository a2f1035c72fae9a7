package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// helperEnv, when set, makes the test binary act as a child process of
// the stack instead of running tests; its first argument picks how.
const helperEnv = "DEVRUN_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// helperMain is a stand-in for a service:
//
//	serve     prints a line to stdout and one to stderr, waits for SIGTERM,
//	          prints "bye" and exits 0
//	crash     prints a line and exits with status 3
//	stubborn  ignores SIGTERM and runs until killed
//	die-term  has no SIGTERM handler, so SIGTERM kills it
func helperMain(args []string) int {
	if len(args) == 0 {
		return 2
	}
	term := make(chan os.Signal, 1)
	switch args[0] {
	case "serve":
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("listening")
		fmt.Fprint(os.Stderr, "warming up\nan unterminated line")
		<-term
		fmt.Println("bye")
		return 0
	case "crash":
		fmt.Println("boom")
		return 3
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("not stopping")
		time.Sleep(time.Minute)
		return 0
	case "die-term":
		fmt.Println("up")
		time.Sleep(time.Minute)
		return 0
	}
	return 2
}

// helperProc returns a proc that runs the test binary in the given mode.
// Unless health says otherwise, it is healthy once out shows a line of
// it: a signal that arrived before the helper set up its handlers would
// find the default ones.
func helperProc(t *testing.T, out *syncBuffer, name, mode string, health func(context.Context) error) proc {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if health == nil {
		health = func(context.Context) error {
			if strings.Contains(out.String(), "["+name+"] ") {
				return nil
			}
			return errors.New("no output yet")
		}
	}
	return proc{name: name, path: exe, args: []string{mode}, health: health}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of
// children and the supervisor: it is written through the lockedWriter the
// supervisor's own output uses, and read under the same lock.
type syncBuffer struct {
	*lockedWriter
	b *bytes.Buffer
}

func newSyncBuffer() *syncBuffer {
	b := &bytes.Buffer{}
	return &syncBuffer{lockedWriter: &lockedWriter{w: b}, b: b}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestSupervisor returns a supervisor writing children's stdout and
// stderr, and its own log lines, to one buffer.
func newTestSupervisor(t *testing.T, stopTimeout time.Duration) (*supervisor, *syncBuffer) {
	t.Setenv(helperEnv, "1")
	// Under -race the helpers would otherwise sleep a second before
	// exiting (the race runtime's atexit_sleep_ms), longer than some stop
	// timeouts here.
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	out := newSyncBuffer()
	s := newSupervisor(out, out, stopTimeout, func(format string, args ...any) {
		fmt.Fprintf(out, "[devrun] "+format+"\n", args...)
	})
	s.healthInterval = 10 * time.Millisecond
	t.Cleanup(func() {
		// Never leave a helper running, whatever the test did.
		for _, c := range s.children {
			if c.cmd.Process != nil {
				_ = c.cmd.Process.Kill()
			}
		}
	})
	return s, out
}

func TestSupervisorStartsAndStopsInOrder(t *testing.T) {
	s, out := newTestSupervisor(t, 5*time.Second)
	// The second becomes healthy only after a few checks, so the wait
	// loop runs.
	checks := 0
	slow := func(context.Context) error {
		checks++
		if checks < 3 || !strings.Contains(out.String(), "[gateway] listening") {
			return errors.New("not yet")
		}
		return nil
	}
	procs := []proc{
		helperProc(t, out, "registry", "serve", nil),
		helperProc(t, out, "gateway", "serve", slow),
	}
	if err := s.startAll(t.Context(), procs, 5*time.Second); err != nil {
		t.Fatalf("startAll: %v\n%s", err, out.String())
	}
	if checks < 3 {
		t.Errorf("gateway health checked %d times, want at least 3", checks)
	}
	if err := s.stopAll(); err != nil {
		t.Fatalf("stopAll: %v\n%s", err, out.String())
	}

	got := out.String()
	for _, want := range []string{
		"[registry] listening\n",
		"[registry] warming up\n",
		"[registry] an unterminated line\n",
		"[gateway] listening\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// SIGTERM, not SIGKILL, reached each of them, the gateway first: its
	// goodbye comes before the registry is even asked to stop.
	order := []string{
		"[devrun] starting registry", "[devrun] registry is healthy", "[devrun] starting gateway",
		"[devrun] stopping gateway", "[gateway] bye", "[devrun] stopping registry", "[registry] bye",
	}
	last := -1
	for _, w := range order {
		i := strings.Index(got, w)
		if i < 0 || i < last {
			t.Fatalf("%q missing or out of order in:\n%s", w, got)
		}
		last = i
	}
	select {
	case <-s.died:
		t.Error("a stopped child was taken for a dead one")
	default:
	}
}

func TestSupervisorChildDiesWhileStarting(t *testing.T) {
	s, out := newTestSupervisor(t, 5*time.Second)
	never := func(context.Context) error { return errors.New("connection refused") }
	procs := []proc{
		helperProc(t, out, "registry", "serve", nil),
		helperProc(t, out, "pension", "crash", never),
		helperProc(t, out, "gateway", "serve", nil),
	}
	// Had the death been noticed only at the health timeout, the error
	// would say that pension did not become healthy.
	err := s.startAll(t.Context(), procs, 20*time.Second)
	if err == nil || err.Error() != "pension exited with status 3" {
		t.Fatalf("startAll: %v, want pension's exit", err)
	}
	if len(s.children) != 2 {
		t.Errorf("%d children started, want 2 (the gateway must not start)", len(s.children))
	}
	if err := s.stopAll(); err != nil {
		t.Errorf("stopAll: %v", err)
	}
	if !strings.Contains(out.String(), "[pension] boom\n") || !strings.Contains(out.String(), "[registry] bye\n") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestSupervisorDeathAfterStart(t *testing.T) {
	s, out := newTestSupervisor(t, 5*time.Second)
	if _, err := s.start(helperProc(t, out, "activity", "crash", nil)); err != nil {
		t.Fatal(err)
	}
	waitfor.Receive(t, "the child's death to be reported", s.died)
	if got := s.deathError().Error(); got != "activity exited with status 3" {
		t.Errorf("deathError = %q", got)
	}
}

func TestSupervisorHealthTimeout(t *testing.T) {
	s, out := newTestSupervisor(t, 5*time.Second)
	never := func(context.Context) error { return errors.New("connection refused") }
	err := s.startAll(t.Context(), []proc{helperProc(t, out, "registry", "serve", never)}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "registry did not become healthy within 300ms: connection refused") {
		t.Errorf("startAll: %v", err)
	}
	if err := s.stopAll(); err != nil {
		t.Errorf("stopAll: %v", err)
	}
}

func TestSupervisorStopVerdicts(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantErr string
	}{
		{"serve", ""},
		{"die-term", ""},
		{"stubborn", "did not exit within 300ms of SIGTERM and was killed"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			s, out := newTestSupervisor(t, 300*time.Millisecond)
			if err := s.startAll(t.Context(), []proc{helperProc(t, out, "x", tc.mode, nil)}, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := s.stopAll(); !errorMatches(err, tc.wantErr) {
				t.Errorf("stopAll: %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestSupervisorStartFailure(t *testing.T) {
	s, _ := newTestSupervisor(t, time.Second)
	p := proc{name: "registry", path: "/nonexistent/registry", health: func(context.Context) error { return nil }}
	if err := s.startAll(t.Context(), []proc{p}, time.Second); err == nil || !strings.Contains(err.Error(), "start registry") {
		t.Errorf("startAll: %v", err)
	}
}
