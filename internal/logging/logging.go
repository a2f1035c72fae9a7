// Package logging builds the process logger of every socmgmt program, the
// services and the gateway alike, from its -log-format and -log-level
// flags. It is apart from the gRPC server bootstrap so that a program
// without a gRPC server builds its logger the same way.
package logging

import (
	"errors"
	"fmt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log formats accepted by New and the -log-format flag.
const (
	FormatJSON    = "json"
	FormatConsole = "console"
)

// ErrInvalidOption is wrapped by the errors returned for an unknown log
// format or level.
var ErrInvalidOption = errors.New("logging: invalid option")

// CheckFormat returns an error wrapping ErrInvalidOption unless format is
// FormatJSON or FormatConsole.
func CheckFormat(format string) error {
	switch format {
	case FormatJSON, FormatConsole:
		return nil
	}
	return fmt.Errorf("%w: log format %q: want json or console", ErrInvalidOption, format)
}

// ParseLevel returns the zap level named level (debug, info, warn, error;
// any case), or an error wrapping ErrInvalidOption.
func ParseLevel(level string) (zapcore.Level, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return lvl, fmt.Errorf("%w: log level %q: want debug, info, warn or error", ErrInvalidOption, level)
	}
	return lvl, nil
}

// New builds the process logger: "json" is zap's production configuration
// with ISO 8601 times, "console" its development one. An unknown format or
// level is an error wrapping ErrInvalidOption.
func New(format, level string) (*zap.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	if err := CheckFormat(format); err != nil {
		return nil, err
	}
	var cfg zap.Config
	if format == FormatJSON {
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	} else {
		cfg = zap.NewDevelopmentConfig()
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	log, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("logging: build logger: %w", err)
	}
	return log, nil
}
