package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// profileWindow is how long a paced run's trace lasts. A runtime trace of
// a service answering thousands of calls a second grows by megabytes a
// second, and a few seconds hold hundreds of tail calls.
const profileWindow = 5 * time.Second

// maxTraceBytes bounds a trace read from the registry.
const maxTraceBytes = 512 << 20

// profilePaced, when --profile-dir is set, takes a runtime trace of the
// registry during the counted window of a paced measurement (spec), and
// logs how long the registry's and the load generator's threads waited
// on the kernel's run queue in that window: the part of a tail that is
// the two processes sharing the machine's cores rather than either one's
// work. The channel yields its error once the window has ended (nil at
// once without --profile-dir).
func (h *harness) profilePaced(ctx context.Context, reg *serviceProc, spec loadSpec) <-chan error {
	done := make(chan error, 1)
	if h.cfg.ProfileDir == "" {
		done <- nil
		return done
	}
	h.profiles++
	file := filepath.Join(h.cfg.ProfileDir, fmt.Sprintf("registry-paced-%d.trace", h.profiles))
	go func() { done <- h.tracePaced(ctx, reg, spec, file) }()
	return done
}

func (h *harness) tracePaced(ctx context.Context, reg *serviceProc, spec loadSpec, file string) error {
	window := min(profileWindow, spec.Duration)
	select {
	case <-time.After(spec.Warmup + (spec.Duration-window)/2):
	case <-ctx.Done():
		return ctx.Err()
	}
	pid := reg.child.cmd.Process.Pid
	regBefore, regErr := runQueueWait(pid)
	selfBefore, selfErr := runQueueWait(os.Getpid())
	start := time.Now()
	url := fmt.Sprintf("http://%s/debug/pprof/trace?seconds=%d", reg.adminAddr, int(window.Seconds()))
	trace, err := fetchLarge(ctx, url, h.token, window+10*time.Second, maxTraceBytes)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	regAfter, regErr2 := runQueueWait(pid)
	selfAfter, selfErr2 := runQueueWait(os.Getpid())
	if err := h.keepProfile(filepath.Base(file), trace); err != nil {
		return err
	}
	h.log.Printf("paced run traced into %s (%.1f MB over %v)", file, float64(len(trace))/1e6, elapsed.Round(time.Millisecond))
	if regErr == nil && selfErr == nil && regErr2 == nil && selfErr2 == nil {
		per := func(d time.Duration) string {
			return fmt.Sprintf("%v (%.0f ms a second)", d.Round(time.Millisecond), float64(d.Milliseconds())/elapsed.Seconds())
		}
		h.log.Printf("run-queue wait in that window: registry's threads %s, the load generator's %s",
			per(regAfter-regBefore), per(selfAfter-selfBefore))
	}
	return nil
}

// runQueueWait sums, over the threads of process pid, the time they have
// spent runnable but waiting for a CPU (the second field of each
// /proc/PID/task/TID/schedstat). A thread that ended between two readings
// drops out of the second: the difference is a lower bound.
func runQueueWait(pid int) (time.Duration, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread ended
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return 0, fmt.Errorf("%s/schedstat: %q", t.Name(), b)
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s/schedstat: %w", t.Name(), err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// cpuTime is the CPU time process pid has used so far, user and system
// (fields 14 and 15 of /proc/PID/stat, in clock ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}

// cpuShares measures, with --profile-dir, the CPU each named process
// uses while run runs, and logs it per request of the run's summary: how
// a measurement's cost divides between the load generator and the
// programs on the same cores.
func (h *harness) cpuShares(what string, procs map[string]int, run func() summary) summary {
	if h.cfg.ProfileDir == "" {
		return run()
	}
	procs["load generator"] = os.Getpid()
	before := map[string]time.Duration{}
	for name, pid := range procs {
		if t, err := cpuTime(pid); err == nil {
			before[name] = t
		}
	}
	start := time.Now()
	s := run()
	elapsed := time.Since(start)
	var parts []string
	for name, pid := range procs {
		start, read := before[name]
		after, err := cpuTime(pid)
		if !read || err != nil || s.Rate() == 0 {
			continue
		}
		// The cores used over the whole run, warm-up included, at the
		// counted window's rate: the run's rate is steady throughout.
		cores := (after - start).Seconds() / elapsed.Seconds()
		parts = append(parts, fmt.Sprintf("%s %.0f µs a call (%.2f cores)", name, 1e6*cores/s.Rate(), cores))
	}
	slices.Sort(parts)
	h.log.Printf("%s: CPU per call: %s", what, strings.Join(parts, "; "))
	return s
}

// keepProfile writes a profile into --profile-dir under name; without
// --profile-dir it does nothing.
func (h *harness) keepProfile(name string, data []byte) error {
	if h.cfg.ProfileDir == "" {
		return nil
	}
	if err := os.MkdirAll(h.cfg.ProfileDir, 0o750); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(h.cfg.ProfileDir, name), data, 0o600)
}
