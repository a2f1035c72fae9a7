package logging

import (
	"errors"
	"testing"

	"go.uber.org/zap/zapcore"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name, format, level string
		wantErr             bool
		wantLevel           zapcore.Level
	}{
		{name: "json info", format: "json", level: "info", wantLevel: zapcore.InfoLevel},
		{name: "json upper-case level", format: "json", level: "WARN", wantLevel: zapcore.WarnLevel},
		{name: "console debug", format: "console", level: "debug", wantLevel: zapcore.DebugLevel},
		{name: "unknown format", format: "xml", level: "info", wantErr: true},
		{name: "empty format", format: "", level: "info", wantErr: true},
		{name: "unknown level", format: "json", level: "loud", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			log, err := New(tc.format, tc.level)
			if tc.wantErr {
				if !errors.Is(err, ErrInvalidOption) {
					t.Errorf("New = %v, want ErrInvalidOption", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if got := zapcore.LevelOf(log.Core()); got != tc.wantLevel {
				t.Errorf("level = %v, want %v", got, tc.wantLevel)
			}
		})
	}
}
