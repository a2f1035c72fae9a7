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

// TestCPUTime reads this process's CPU time, which grows as it reads it
// again and again: 100,000 reads take far more than the clock tick
// /proc counts in.
func TestCPUTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/stat is Linux's")
	}
	first, err := cpuTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	grew := false
	for range 100_000 {
		now, err := cpuTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if grew = now > first; grew {
			break
		}
	}
	if !grew {
		t.Errorf("CPU time stayed at %v over 100,000 reads", first)
	}
	if _, err := cpuTime(-1); err == nil {
		t.Error("a process that does not exist: no error")
	}
}
