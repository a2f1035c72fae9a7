package main

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

func TestMetricValue(t *testing.T) {
	page := `# HELP go_memstats_heap_alloc_bytes Number of heap bytes allocated and currently in use.
# TYPE go_memstats_heap_alloc_bytes gauge
go_memstats_heap_alloc_bytes 4.5342e+06
go_memstats_heap_alloc_bytes_total 99
socmgmt_grpc_requests_total{code="OK",method="GetRetiree"} 12
process_open_fds 17
bad_value abc
`
	tests := []struct {
		name    string
		metric  string
		want    float64
		wantErr error
	}{
		{"float", "go_memstats_heap_alloc_bytes", 4.5342e6, nil},
		{"integer", "process_open_fds", 17, nil},
		{"name is matched whole", "go_memstats_heap_alloc", 0, errNoMetric},
		{"labelled samples are not matched", "socmgmt_grpc_requests_total", 0, errNoMetric},
		{"missing", "go_goroutines", 0, errNoMetric},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := metricValue(strings.NewReader(page), tc.metric)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("metricValue(%s) error = %v, want %v", tc.metric, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("metricValue(%s) = %v, want %v", tc.metric, got, tc.want)
			}
		})
	}
	if _, err := metricValue(strings.NewReader(page), "bad_value"); err == nil || errors.Is(err, errNoMetric) {
		t.Errorf("metricValue(bad_value) error = %v, want a parse error", err)
	}
}

func FuzzMetricValue(f *testing.F) {
	f.Add("go_memstats_heap_alloc_bytes 123\n")
	f.Add("# HELP x\ngo_memstats_heap_alloc_bytes NaN\n")
	f.Add("go_memstats_heap_alloc_bytes{a=\"b\"} 1\ngo_memstats_heap_alloc_bytes +Inf")
	f.Add("")
	f.Fuzz(func(t *testing.T, page string) {
		v, err := metricValue(strings.NewReader(page), "go_memstats_heap_alloc_bytes")
		if err != nil {
			return
		}
		// A value was found, so a line starts with the name and a space.
		found := false
		for _, line := range strings.Split(page, "\n") {
			fields := strings.Fields(line)
			if len(fields) >= 2 && fields[0] == "go_memstats_heap_alloc_bytes" {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("metricValue = %v from a page without the sample", v)
		}
	})
}

func TestChildEnv(t *testing.T) {
	in := []string{"PATH=/bin", "REGISTRY_DATA_DIR=/x", "GATEWAY_HTTP_ADDR=:1", "HOME=/root", "PENSION_X=1", "MY_REGISTRY_X=1"}
	want := []string{"PATH=/bin", "HOME=/root", "MY_REGISTRY_X=1"}
	if diff := cmp.Diff(want, childEnv(in)); diff != "" {
		t.Errorf("childEnv (-want +got):\n%s", diff)
	}
}

func newTestHarness(t *testing.T) *harness {
	t.Helper()
	h, err := newHarness(config{Timeout: time.Minute}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{h.tokenKey, h.idKey, h.auditKey, h.dataKey} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("key file: %v", err)
		}
	}
	if h.token == "" {
		t.Error("no token")
	}
	return h
}

func TestHarnessStopsChildrenAndRemovesDir(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep program")
	}
	h := newTestHarness(t)
	c, err := h.start("sleeper", sleep, "60")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "sleeper.log")); err != nil {
		t.Errorf("child log: %v", err)
	}
	if err := h.close(false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.exited:
	default:
		t.Fatal("close returned before the child exited")
	}
	// SIGTERM ended it, not the SIGKILL that follows when SIGTERM fails.
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("the child ended with %v, want SIGTERM", c.cmd.ProcessState)
	}
	if _, err := os.Stat(h.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary directory still there: %v", err)
	}
}

func TestWaitReadyNoticesExit(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh program")
	}
	h := newTestHarness(t)
	defer func() {
		if err := h.close(false); err != nil {
			t.Error(err)
		}
	}()
	c, err := h.start("quitter", sh, "-c", "exit 3")
	if err != nil {
		t.Fatal(err)
	}
	errNotYet := errors.New("not yet")
	err = h.waitReady(context.Background(), c, func(context.Context) error { return errNotYet })
	if err == nil || !strings.Contains(err.Error(), "exited while starting") {
		t.Errorf("waitReady = %v, want an error saying the child exited", err)
	}

	ready := 0
	err = h.waitReady(context.Background(), c, func(context.Context) error { ready++; return nil })
	if err != nil || ready != 1 {
		t.Errorf("waitReady with a ready check = %v after %d calls, want nil after 1", err, ready)
	}
}

// TestHarnessTLS: a run with --tls gives the services flags whose files
// serve mutual TLS and the load generator a certificate of the same CA; a
// plaintext run gives neither.
func TestHarnessTLS(t *testing.T) {
	h, err := newHarness(config{Timeout: time.Minute, TLS: true}, log.New(io.Discard, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = h.close(false) }()
	args := h.servesTLS()
	if len(args) != 6 || args[0] != "--tls-cert" || args[2] != "--tls-key" || args[4] != "--tls-client-ca" {
		t.Fatalf("servesTLS = %q", args)
	}
	if _, err := (tlsfiles.Server{CertFile: args[1], KeyFile: args[3], ClientCAFile: args[5]}).Config(); err != nil {
		t.Errorf("the services' files: %v", err)
	}
	if _, err := h.transport(); err != nil {
		t.Errorf("the load generator's files: %v", err)
	}
	if got := h.callsTLS(); len(got) != 2 || got[1] != args[5] {
		t.Errorf("callsTLS = %q, want the CA of %q", got, args)
	}

	plain := newTestHarness(t)
	defer func() { _ = plain.close(false) }()
	if got := append(plain.servesTLS(), append(plain.callsTLS(), plain.gatewayTLS()...)...); len(got) != 0 {
		t.Errorf("a plaintext run passes %q", got)
	}
}

// TestStoreKeyArgs: each service is started with the keys its program
// requires, so that the figures include sealing and signing.
func TestStoreKeyArgs(t *testing.T) {
	h := newTestHarness(t)
	t.Cleanup(func() {
		if err := h.close(false); err != nil {
			t.Error(err)
		}
	})
	for bin, want := range map[string][]string{
		"/b/registry": {"--audit-key", h.auditKey, "--data-key", h.dataKey},
		"/b/pension":  {"--audit-key", h.auditKey, "--data-key", h.dataKey},
		"/b/activity": {"--audit-key", h.auditKey},
		"/b/handover": nil,
	} {
		if diff := cmp.Diff(want, h.storeKeyArgs(bin)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", bin, diff)
		}
	}
}

func TestMetricSum(t *testing.T) {
	page := `# HELP socmgmt_grpc_requests_total Calls.
# TYPE socmgmt_grpc_requests_total counter
socmgmt_grpc_requests_total{code="OK",method="GetRetiree"} 1200
socmgmt_grpc_requests_total{code="NotFound",method="GetRetiree"} 3
socmgmt_grpc_requests_totally 99
socmgmt_grpc_requests_total 7
`
	got, err := metricSum(strings.NewReader(page), "socmgmt_grpc_requests_total")
	if err != nil {
		t.Fatal(err)
	}
	if got != 1210 {
		t.Errorf("metricSum = %v, want 1210", got)
	}
	if got, err := metricSum(strings.NewReader(page), "nothing_here"); err != nil || got != 0 {
		t.Errorf("metricSum of an absent metric = %v, %v; want 0", got, err)
	}
	if _, err := metricSum(strings.NewReader("m{a=\"b\"} x\n"), "m"); err == nil {
		t.Error("metricSum of a malformed value succeeded")
	}
}
