package grpcserver

import (
	"errors"
	"flag"
	"strings"
	"time"

	"github.com/socmgmt/socmgmt/internal/logging"
	"github.com/socmgmt/socmgmt/internal/procflags"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
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
	// TLS is the gRPC port's TLS, and with ClientCAFile its demand for
	// client certificates; zero serves plaintext.
	TLS tlsfiles.Server
	// AdminTLS serves the admin port over TLS with TLS's certificate as
	// well (it needs TLS), verifying the client certificates of TLS's
	// client CAs when offered (tlsfiles.Server.AdminConfig): a caller
	// with one may then reach the admin routes from another machine,
	// with an admin token still. Off, the admin port is plain HTTP and
	// its admin routes answer loopback callers only.
	AdminTLS bool
	// AdminClientNames are the names (a certificate's common name or DNS
	// name) whose client certificates AdminTLS admits; the CA vouches for
	// every program, and only these may fetch a backup from elsewhere.
	AdminClientNames []string
}

// ApplyRuntime applies the runtime settings among the flags. Mains call it
// once, before serving.
func (f *Flags) ApplyRuntime() {
	procflags.ApplyGCPercent(f.GCPercent)
}

// Register defines -grpc-addr, -admin-addr, -log-format, -log-level,
// -shutdown-timeout, -gc-percent and the TLS flags (-tls-cert, -tls-key,
// -tls-client-ca) on fs, storing into f.
func (f *Flags) Register(fs *flag.FlagSet, defaultGRPC, defaultAdmin string) {
	fs.StringVar(&f.GRPCAddr, "grpc-addr", defaultGRPC, "`host:port` the gRPC server listens on")
	fs.StringVar(&f.AdminAddr, "admin-addr", defaultAdmin, "`host:port` of the admin HTTP server (/metrics, /healthz; /debug/ backup and profiles need an admin token from this machine, or a client certificate with --admin-tls); empty disables it")
	fs.StringVar(&f.LogFormat, "log-format", logging.FormatJSON, "log format: json or console")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", DefaultShutdownTimeout, "how long a shutdown waits for in-flight calls before cancelling them")
	fs.IntVar(&f.GCPercent, "gc-percent", procflags.DefaultGCPercent, "garbage collector target percentage (as GOGC; 0 keeps the runtime's setting)")
	f.TLS.Register(fs, "the gRPC port")
	fs.BoolVar(&f.AdminTLS, "admin-tls", false, "serve the admin port over TLS too, with --tls-cert; a client certificate of --tls-client-ca named in --admin-client-names then admits a caller from another machine to the admin routes (with an admin token), e.g. a backup job")
	f.AdminClientNames = []string{"backup"}
	fs.Func("admin-client-names", "comma-separated `names` (a certificate's common name or DNS name) whose client certificates --admin-tls admits; a certificate of any other name fails the handshake (default backup)", func(v string) error {
		f.AdminClientNames = nil
		for n := range strings.SplitSeq(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				f.AdminClientNames = append(f.AdminClientNames, n)
			}
		}
		return nil
	})
}

// Validate checks the settings that every socmgmt program shares (see
// procflags.Common) and reports each unusable one, naming its flag, as an
// error wrapping ErrInvalidOption. A service's own validation calls it and
// then checks only the service's own fields.
func (f *Flags) Validate() error {
	problems := procflags.Common{
		ListenFlag:      "grpc-addr",
		ListenAddr:      f.GRPCAddr,
		AdminAddr:       f.AdminAddr,
		LogFormat:       f.LogFormat,
		LogLevel:        f.LogLevel,
		ShutdownTimeout: f.ShutdownTimeout,
		GCPercent:       f.GCPercent,
	}.Problems()
	problems = append(problems, f.TLS.Problems()...)
	if f.AdminTLS && !f.TLS.Enabled() {
		problems = append(problems, "--admin-tls needs --tls-cert: the admin port is served with the gRPC port's certificate")
	}
	if f.AdminTLS && f.TLS.Enabled() && f.TLS.ClientCAFile == "" {
		problems = append(problems, "--admin-tls needs --tls-client-ca: without it no caller's certificate is asked for, and no other machine is admitted")
	}
	if f.AdminTLS && len(f.AdminClientNames) == 0 {
		problems = append(problems, "--admin-client-names is empty: --admin-tls would admit no client certificate")
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = &optionError{msg: p}
	}
	return errors.Join(errs...)
}

// optionError is an unusable setting. Its message is the problem alone,
// as the services have always printed it ("--grpc-addr is required"),
// while errors.Is still finds ErrInvalidOption.
type optionError struct{ msg string }

func (e *optionError) Error() string { return e.msg }

func (e *optionError) Unwrap() error { return ErrInvalidOption }
