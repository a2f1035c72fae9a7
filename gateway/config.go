package gateway

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// ErrInvalidConfig is wrapped by every error Validate returns.
var ErrInvalidConfig = errors.New("invalid gateway configuration")

// Config is the whole configuration of the gateway program.
type Config struct {
	// HTTPAddr is the host:port the REST API listens on.
	HTTPAddr string
	// RegistryAddr is the host:port of the registry gRPC service; empty
	// leaves registry out (no routes, not health-checked).
	RegistryAddr string
	// HandoverAddr is the host:port of the handover gRPC service, or empty.
	HandoverAddr string
	// PensionAddr is the host:port of the pension gRPC service, or empty.
	PensionAddr string
	// ActivityAddr is the host:port of the activity gRPC service, or empty.
	ActivityAddr string
	// AdminAddr is the host:port serving the gateway's Prometheus /metrics;
	// empty disables it. It is separate so that metrics are never exposed
	// on the public REST port.
	AdminAddr string
	// MaxBodyBytes bounds every request body; larger ones get HTTP 413.
	MaxBodyBytes int64
	// LogFormat is "json" (for machines) or "console" (for people).
	LogFormat string
	// LogLevel is a zap level name: debug, info, warn, error.
	LogLevel string
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// once shutdown begins.
	ShutdownTimeout time.Duration
	// GCPercent is the garbage collector's target (GOGC), applied by the
	// gateway program at start; 0 keeps the runtime's setting.
	GCPercent int
}

// DefaultConfig returns the configuration `make run` expects: everything on
// loopback, registry on its well-known port.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:        "127.0.0.1:8080",
		RegistryAddr:    "127.0.0.1:9101",
		AdminAddr:       "127.0.0.1:9200",
		MaxBodyBytes:    1 << 20,
		LogFormat:       grpcserver.LogFormatJSON,
		LogLevel:        "info",
		ShutdownTimeout: 10 * time.Second,
		GCPercent:       grpcserver.DefaultGCPercent,
	}
}

// RegisterFlags defines one flag per field on fs, with DefaultConfig's
// values as defaults, writing into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	fs.StringVar(&c.HTTPAddr, "http-addr", d.HTTPAddr, "host:port of the REST API")
	fs.StringVar(&c.RegistryAddr, "registry-addr", d.RegistryAddr, "host:port of the registry gRPC service (empty: not served)")
	fs.StringVar(&c.HandoverAddr, "handover-addr", d.HandoverAddr, "host:port of the handover gRPC service (empty: not served)")
	fs.StringVar(&c.PensionAddr, "pension-addr", d.PensionAddr, "host:port of the pension gRPC service (empty: not served)")
	fs.StringVar(&c.ActivityAddr, "activity-addr", d.ActivityAddr, "host:port of the activity gRPC service (empty: not served)")
	fs.StringVar(&c.AdminAddr, "admin-addr", d.AdminAddr, "host:port of the Prometheus /metrics endpoint (empty: disabled)")
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", d.MaxBodyBytes, "largest accepted request body in bytes")
	fs.StringVar(&c.LogFormat, "log-format", d.LogFormat, "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "how long in-flight requests may run after shutdown begins")
	fs.IntVar(&c.GCPercent, "gc-percent", d.GCPercent, "garbage collector target percentage (as GOGC; 0 keeps the runtime's setting)")
}

// Validate reports every problem of c at once, each wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: --%s: %s", ErrInvalidConfig, flagName, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(flagName, addr string, required bool) {
		if addr == "" {
			if required {
				bad(flagName, "must be set")
			}
			return
		}
		if err := validateHostPort(addr); err != nil {
			bad(flagName, "%v", err)
		}
	}
	checkAddr("http-addr", c.HTTPAddr, true)
	checkAddr("admin-addr", c.AdminAddr, false)
	if c.AdminAddr != "" && c.AdminAddr == c.HTTPAddr {
		bad("admin-addr", "must differ from --http-addr")
	}
	anyUpstream := false
	for _, s := range c.services() {
		checkAddr(s.name+"-addr", s.addr, false)
		anyUpstream = anyUpstream || s.addr != ""
	}
	if !anyUpstream {
		bad("registry-addr", "no upstream service is configured")
	}
	if c.MaxBodyBytes <= 0 {
		bad("max-body-bytes", "must be positive")
	}
	if c.LogFormat != grpcserver.LogFormatJSON && c.LogFormat != grpcserver.LogFormatConsole {
		bad("log-format", "must be json or console")
	}
	if _, err := zapcore.ParseLevel(c.LogLevel); err != nil {
		bad("log-level", "%v", err)
	}
	if c.ShutdownTimeout <= 0 {
		bad("shutdown-timeout", "must be positive")
	}
	return errors.Join(errs...)
}

// validateHostPort accepts "host:port" with a numeric port; the host may be
// empty (all interfaces), which net.Listen and grpc both understand.
func validateHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}
