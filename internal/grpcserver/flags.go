package grpcserver

import (
	"flag"
	"fmt"
	"runtime/debug"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Log formats accepted by NewLogger and the -log-format flag.
const (
	LogFormatJSON    = "json"
	LogFormatConsole = "console"
)

// Flags are the settings every service binary shares. Register them on the
// program's FlagSet; the program copies them into its Config.
type Flags struct {
	// GRPCAddr is the host:port the gRPC server listens on.
	GRPCAddr string
	// AdminAddr is the host:port of the admin HTTP server; empty disables it.
	AdminAddr string
	// LogFormat is "json" for machines or "console" for people.
	LogFormat string
	// LogLevel is a zap level name: debug, info, warn, error.
	LogLevel string
	// ShutdownTimeout bounds the wait for in-flight calls at shutdown.
	ShutdownTimeout time.Duration
	// GCPercent is the garbage collector's target (GOGC); see ApplyRuntime.
	GCPercent int
}

// DefaultGCPercent lets the heap grow to five times the live data before
// a collection. The services' live heaps are small (tens of MiB), so this
// costs little memory and saves much of the collector's CPU at high
// request rates.
const DefaultGCPercent = 400

// ApplyRuntime applies the runtime settings among the flags. Mains call it
// once, before serving.
func (f *Flags) ApplyRuntime() {
	if f.GCPercent != 0 {
		debug.SetGCPercent(f.GCPercent)
	}
}

// Register defines -grpc-addr, -admin-addr, -log-format, -log-level and
// -shutdown-timeout on fs, storing into f.
func (f *Flags) Register(fs *flag.FlagSet, defaultGRPC, defaultAdmin string) {
	fs.StringVar(&f.GRPCAddr, "grpc-addr", defaultGRPC, "`host:port` the gRPC server listens on")
	fs.StringVar(&f.AdminAddr, "admin-addr", defaultAdmin, "`host:port` of the admin HTTP server (/metrics, /healthz; /debug/ backup and profiles answer loopback callers only); empty disables it")
	fs.StringVar(&f.LogFormat, "log-format", LogFormatJSON, "log format: json or console")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "how long a shutdown waits for in-flight calls before cancelling them")
	fs.IntVar(&f.GCPercent, "gc-percent", DefaultGCPercent, "garbage collector target percentage (as GOGC; 0 keeps the runtime's setting)")
}

// NewLogger builds the process logger: "json" is zap's production
// configuration with ISO 8601 times, "console" its development one. An
// unknown format or level is an error wrapping ErrInvalidOption.
func NewLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("%w: log level %q: want debug, info, warn or error", ErrInvalidOption, level)
	}
	var cfg zap.Config
	switch format {
	case LogFormatJSON:
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	case LogFormatConsole:
		cfg = zap.NewDevelopmentConfig()
	default:
		return nil, fmt.Errorf("%w: log format %q: want json or console", ErrInvalidOption, format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	log, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("grpcserver: build logger: %w", err)
	}
	return log, nil
}
