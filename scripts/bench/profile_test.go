package main

import (
	"os"
	"runtime"
	"testing"
)

// TestRunQueueWait reads this process's threads' run-queue waits, and
// refuses a process that does not exist.
func TestRunQueueWait(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("schedstat is Linux's")
	}
	first, err := runQueueWait(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if first < 0 {
		t.Errorf("run-queue wait %v: want none negative", first)
	}
	if _, err := runQueueWait(-1); err == nil {
		t.Error("a process that does not exist: no error")
	}
}

// TestCPUTime reads this process's CPU time, which grows as it spins.
func TestCPUTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/stat is Linux's")
	}
	first, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for {
		now, err := cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now > first {
			break
		}
	}
	if _, err := cpuTime(-1); err == nil {
		t.Error("a process that does not exist: no error")
	}
}
