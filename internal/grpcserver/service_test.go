package grpcserver

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// TestServiceConfigKeys: the keys and credentials load from the files the
// flags name, and a missing file is an error saying which setting failed.
func TestServiceConfigKeys(t *testing.T) {
	dir := t.TempDir()
	c := ServiceConfig{
		Name:     "pension",
		DataDir:  dir,
		TokenKey: filepath.Join(dir, "signing.key"),
		IDKey:    filepath.Join(dir, "id.key"),
	}
	if got, want := c.DBPath(), filepath.Join(dir, "pension.db"); got != want {
		t.Errorf("DBPath = %q, want %q", got, want)
	}
	if _, err := c.Verifier(); err == nil || !strings.HasPrefix(err.Error(), "token key: ") {
		t.Errorf("Verifier without a key file = %v, want a token key error", err)
	}
	if _, err := c.CallCredentials(); err == nil || !strings.HasPrefix(err.Error(), "service credentials: ") {
		t.Errorf("CallCredentials without a key file = %v, want a service credentials error", err)
	}
	if _, err := c.Keyer(); err == nil {
		t.Error("Keyer without a key file = nil error")
	}

	if _, err := authn.GenerateKeyFile(c.TokenKey); err != nil {
		t.Fatal(err)
	}
	if _, _, err := idnumber.LoadOrCreateKeyFile(c.IDKey); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Verifier(); err != nil || v == nil {
		t.Errorf("Verifier = %v, %v", v, err)
	}
	if creds, err := c.CallCredentials(); err != nil || creds == nil {
		t.Errorf("CallCredentials = %v, %v", creds, err)
	}
	if k, err := c.Keyer(); err != nil || k == nil {
		t.Errorf("Keyer = %v, %v", k, err)
	}
}

// TestLogStarting: the start line names the service and carries the
// registry address only for a service that has one.
func TestLogStarting(t *testing.T) {
	for _, tc := range []struct {
		registry string
		want     []string
	}{
		{"", []string{"grpc_addr", "admin_addr", "db", "extra"}},
		{"127.0.0.1:9101", []string{"grpc_addr", "admin_addr", "db", "registry_addr", "extra"}},
	} {
		core, logs := observer.New(zapcore.InfoLevel)
		c := ServiceConfig{Name: "activity", RegistryAddr: tc.registry}
		c.LogStarting(zap.New(core), zap.Bool("extra", true))
		entries := logs.All()
		if len(entries) != 1 || entries[0].Message != "activity starting" {
			t.Fatalf("logged %+v", entries)
		}
		var keys []string
		for _, f := range entries[0].Context {
			keys = append(keys, f.Key)
		}
		if strings.Join(keys, " ") != strings.Join(tc.want, " ") {
			t.Errorf("registry %q: fields %v, want %v", tc.registry, keys, tc.want)
		}
	}
}

// TestStartTask: stop ends the task's context and returns only once the
// task has returned; a task's error is logged.
func TestStartTask(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	returned := make(chan struct{})
	stop := StartTask(t.Context(), zap.New(core), "follower", func(ctx context.Context) error {
		defer close(returned)
		<-ctx.Done()
		return errors.New("gave up")
	})
	select {
	case <-returned:
		t.Fatal("the task returned before stop")
	default:
	}
	stop()
	select {
	case <-returned:
	default:
		t.Fatal("stop returned before the task")
	}
	if entries := logs.FilterMessage("follower stopped").All(); len(entries) != 1 {
		t.Errorf("logged %+v, want one \"follower stopped\"", logs.All())
	}
}
