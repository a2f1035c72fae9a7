package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// healthAttemptTimeout bounds one health check, so that a process that
// accepts connections but never answers is retried rather than waited on.
const healthAttemptTimeout = time.Second

// supervisor starts the stack's processes, watches them, and stops them in
// reverse order.
type supervisor struct {
	// stdout and stderr receive the children's output, line by line; they
	// must be safe for concurrent use.
	stdout, stderr io.Writer
	// stopTimeout is how long a child may take to exit after SIGTERM.
	stopTimeout time.Duration
	// healthInterval is the pause between health checks.
	healthInterval time.Duration
	logf           func(format string, args ...any)

	children []*child

	// died is closed when the first child exits without being asked to;
	// firstDead is that child.
	dieOnce   sync.Once
	died      chan struct{}
	firstDead *child
}

// child is a started process.
type child struct {
	proc proc
	cmd  *exec.Cmd
	// terminate cancels the command's context, which sends SIGTERM.
	terminate context.CancelFunc
	// stopping is set before terminate, so that the exit that follows is
	// not taken for a crash.
	stopping atomic.Bool
	// done is closed once the process has exited and its output has been
	// written out.
	done chan struct{}
}

func newSupervisor(stdout, stderr io.Writer, stopTimeout time.Duration, logf func(string, ...any)) *supervisor {
	return &supervisor{
		stdout:         stdout,
		stderr:         stderr,
		stopTimeout:    stopTimeout,
		healthInterval: 100 * time.Millisecond,
		logf:           logf,
		died:           make(chan struct{}),
	}
}

// start starts p with its output prefixed by its name.
func (s *supervisor) start(p proc) (*child, error) {
	// Each child has its own context, not the signal context: stopping
	// is done one child at a time in a fixed order (stopAll), and a
	// shared context would signal all of them at once.
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, p.path, p.args...)
	// Ask politely first: the services drain in-flight calls on SIGTERM.
	// Only when WaitDelay has passed does exec kill the process.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = s.stopTimeout
	setProcAttr(cmd)
	prefix := "[" + p.name + "] "
	stdout := newLinePrefixer(s.stdout, prefix, 0)
	stderr := newLinePrefixer(s.stderr, prefix, 0)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	c := &child{proc: p, cmd: cmd, terminate: cancel, done: make(chan struct{})}
	s.children = append(s.children, c)
	go func() {
		// Wait's error repeats what ProcessState says (or is the context's
		// after a stop); exitDescription and stopError read the state.
		_ = cmd.Wait()
		stdout.Flush()
		stderr.Flush()
		close(c.done)
		if !c.stopping.Load() {
			s.dieOnce.Do(func() {
				s.firstDead = c
				close(s.died)
			})
		}
	}()
	return c, nil
}

// startAll starts procs in order, waiting for each to become healthy
// before starting the next, so that the gateway starts last, when its
// upstreams serve.
func (s *supervisor) startAll(ctx context.Context, procs []proc, timeout time.Duration) error {
	for _, p := range procs {
		s.logf("starting %s", p.name)
		c, err := s.start(p)
		if err != nil {
			return err
		}
		if err := s.waitHealthy(ctx, c, timeout); err != nil {
			return err
		}
		s.logf("%s is healthy", p.name)
	}
	return nil
}

// waitHealthy retries c's health check every healthInterval until it
// passes, timeout passes, ctx is done or any child dies.
func (s *supervisor) waitHealthy(ctx context.Context, c *child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(s.healthInterval)
	defer tick.Stop()
	for {
		attemptEnd := time.Now().Add(healthAttemptTimeout)
		if deadline.Before(attemptEnd) {
			attemptEnd = deadline
		}
		actx, cancel := context.WithDeadline(ctx, attemptEnd)
		err := c.proc.health(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s did not become healthy within %v: %w", c.proc.name, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.died:
			return s.deathError()
		case <-tick.C:
		}
	}
}

// deathError describes the first child that exited on its own. Call it
// only after s.died is closed.
func (s *supervisor) deathError() error {
	return fmt.Errorf("%s %s", s.firstDead.proc.name, exitDescription(s.firstDead.cmd))
}

// stopAll stops the running children in reverse start order, each with
// SIGTERM and, after stopTimeout, SIGKILL, waiting for one to exit before
// signalling the next. It returns an error naming every child that did
// not stop cleanly.
func (s *supervisor) stopAll() error {
	var errs []error
	for i := len(s.children) - 1; i >= 0; i-- {
		c := s.children[i]
		select {
		case <-c.done:
			// Exited before: already reported as a death.
			continue
		default:
		}
		s.logf("stopping %s", c.proc.name)
		c.stopping.Store(true)
		c.terminate()
		<-c.done
		if err := stopError(c.cmd, s.stopTimeout); err != nil {
			errs = append(errs, fmt.Errorf("%s %w", c.proc.name, err))
		}
	}
	return errors.Join(errs...)
}

// stopError says what was wrong with the exit of cmd after SIGTERM, or
// nil when it exited cleanly: with status 0, or killed by the SIGTERM
// itself, as a program without a handler for it is.
func stopError(cmd *exec.Cmd, timeout time.Duration) error {
	ps := cmd.ProcessState
	if ps == nil {
		return errors.New("has no exit status")
	}
	if ps.Success() {
		return nil
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		switch ws.Signal() {
		case syscall.SIGTERM:
			return nil
		case syscall.SIGKILL:
			return fmt.Errorf("did not exit within %v of SIGTERM and was killed", timeout)
		}
	}
	return errors.New(exitDescription(cmd))
}

// exitDescription says how cmd ended, e.g. "exited with status 1".
func exitDescription(cmd *exec.Cmd) string {
	ps := cmd.ProcessState
	switch {
	case ps == nil:
		return "ended without an exit status"
	case ps.Exited():
		return fmt.Sprintf("exited with status %d", ps.ExitCode())
	default:
		return "ended: " + ps.String()
	}
}
