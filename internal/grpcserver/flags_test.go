package grpcserver

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zapcore"
)

func TestFlagsRegister(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Flags
	}{
		{
			name: "defaults",
			want: Flags{GRPCAddr: "127.0.0.1:9101", AdminAddr: "127.0.0.1:9201", LogFormat: "json", LogLevel: "info", ShutdownTimeout: DefaultShutdownTimeout, GCPercent: DefaultGCPercent},
		},
		{
			name: "all set",
			args: []string{"-grpc-addr=:1", "-admin-addr=", "-log-format=console", "-log-level=debug", "-shutdown-timeout=3s", "-gc-percent=150"},
			want: Flags{GRPCAddr: ":1", AdminAddr: "", LogFormat: "console", LogLevel: "debug", ShutdownTimeout: 3 * time.Second, GCPercent: 150},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var got Flags
			got.Register(fs, "127.0.0.1:9101", "127.0.0.1:9201")
			if err := fs.Parse(tc.args); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, format, level string
		wantErr             bool
		wantLevel           zapcore.Level
	}{
		{name: "json info", format: "json", level: "info", wantLevel: zapcore.InfoLevel},
		{name: "json upper-case level", format: "json", level: "WARN", wantLevel: zapcore.WarnLevel},
		{name: "console debug", format: "console", level: "debug", wantLevel: zapcore.DebugLevel},
		{name: "unknown format", format: "xml", level: "info", wantErr: true},
		{name: "unknown level", format: "json", level: "loud", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, err := NewLogger(tc.format, tc.level)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidOption) {
					t.Errorf("NewLogger = %v, want ErrInvalidOption", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewLogger: %v", err)
			}
			if got := zapcore.LevelOf(log.Core()); got != tc.wantLevel {
				t.Errorf("level = %v, want %v", got, tc.wantLevel)
			}
		})
	}
}
