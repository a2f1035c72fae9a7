package gateway

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/logging"
	"github.com/socmgmt/socmgmt/internal/procflags"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
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
	// CaseworkAddr is the host:port of the casework gRPC service, or empty.
	CaseworkAddr string
	// AdminAddr is the host:port serving the gateway's Prometheus /metrics;
	// empty disables it. It is separate so that metrics are never exposed
	// on the public REST port.
	AdminAddr string
	// TokenKey is the Ed25519 key file (PEM, the public half will do) that
	// the admin tokens of the admin port's profiles are verified with, as
	// the services' --token-key. Empty leaves the profiles refused to
	// everyone; the REST routes do not need it, since the services verify
	// the tokens the gateway forwards.
	TokenKey string
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
	// CORSOrigins are the origins (scheme://host[:port]) whose browser
	// pages may call the API; empty allows none.
	CORSOrigins []string
	// UpstreamTimeout bounds every unary call to an upstream: one that
	// has not answered by then (alive but stalled) is answered 504 with
	// Retry-After, rather than holding the client until the write
	// timeout.
	UpstreamTimeout time.Duration
	// ServiceTokenFile holds a pre-issued service token with which the
	// gateway reads registry's revocation list, for deployments that give
	// it only the public half of TokenKey; empty means minting its tokens
	// with TokenKey.
	ServiceTokenFile string
	// Tokens bound the admin tokens TokenKey verifies, as the services
	// bound theirs, and say how often the key file and registry's
	// revocation list are read again.
	Tokens authn.TokenPolicy
	// TLS is the REST port's TLS, set by the flags every program serves
	// TLS with (--tls-cert, --tls-key, --tls-client-ca); zero serves plain
	// HTTP. The admin port stays plain HTTP, for loopback.
	TLS tlsfiles.Server
	// UpstreamTLS is the TLS of the connections to the services: CAFile
	// (--tls-ca) verifies their certificates, CertFile and KeyFile
	// (--tls-client-cert, --tls-client-key) are the certificate the
	// gateway presents where they require one. Zero dials plaintext.
	UpstreamTLS tlsfiles.Client
	// Console serves the clerks' web console (embedded) at / and
	// /assets/.
	Console bool
	// DevIdentities is a development identities file (internal/
	// devidentity) whose identities /console/dev-identities offers the
	// console's sign-in, tokens included. For development only; empty
	// (the default) leaves the path the API's 404.
	DevIdentities string
	// TracerProvider traces the requests and the calls to the services;
	// nil (tracing off) traces nothing. Not a flag: the program sets it
	// from the OTEL_* environment (see package tracing).
	TracerProvider trace.TracerProvider
}

// DefaultUpstreamTimeout is the default of --upstream-timeout: far above
// any call a healthy service answers, and well within writeTimeout.
const DefaultUpstreamTimeout = 10 * time.Second

// DefaultConfig returns the configuration `make run` expects: everything on
// loopback, registry on its well-known port.
func DefaultConfig() Config {
	return Config{
		HTTPAddr:        "127.0.0.1:8080",
		RegistryAddr:    "127.0.0.1:9101",
		AdminAddr:       "127.0.0.1:9200",
		MaxBodyBytes:    1 << 20,
		LogFormat:       logging.FormatJSON,
		LogLevel:        "info",
		ShutdownTimeout: procflags.DefaultShutdownTimeout,
		GCPercent:       procflags.DefaultGCPercent,
		UpstreamTimeout: DefaultUpstreamTimeout,
		Tokens:          authn.DefaultTokenPolicy(),
		Console:         true,
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
	fs.StringVar(&c.CaseworkAddr, "casework-addr", d.CaseworkAddr, "host:port of the casework gRPC service (empty: not served)")
	fs.StringVar(&c.AdminAddr, "admin-addr", d.AdminAddr, "host:port of the Prometheus /metrics endpoint (empty: disabled)")
	fs.StringVar(&c.TokenKey, "token-key", d.TokenKey, "Ed25519 key `file` (PEM, or a directory of them) that verifies the admin tokens of the admin port's /debug/pprof/ (empty: profiles refused)")
	fs.StringVar(&c.ServiceTokenFile, "service-token-file", d.ServiceTokenFile, "`file` of a pre-issued service token for reading registry's list of revoked tokens (default: mint them with --token-key)")
	fs.DurationVar(&c.UpstreamTimeout, "upstream-timeout", d.UpstreamTimeout, "longest wait for an upstream's answer to a call; then 504 with Retry-After")
	c.Tokens.Register(fs)
	c.Tokens.RegisterPoll(fs)
	fs.Int64Var(&c.MaxBodyBytes, "max-body-bytes", d.MaxBodyBytes, "largest accepted request body in bytes")
	fs.StringVar(&c.LogFormat, "log-format", d.LogFormat, "log format: json or console")
	fs.StringVar(&c.LogLevel, "log-level", d.LogLevel, "log level: debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "how long in-flight requests may run after shutdown begins")
	fs.IntVar(&c.GCPercent, "gc-percent", d.GCPercent, "garbage collector target percentage (as GOGC; 0 keeps the runtime's setting)")
	c.TLS.Register(fs, "the REST port")
	fs.StringVar(&c.UpstreamTLS.CAFile, "tls-ca", d.UpstreamTLS.CAFile, "PEM `file` of the CAs that sign the services' certificates: the upstream connections go over TLS (empty: plaintext)")
	fs.StringVar(&c.UpstreamTLS.CertFile, "tls-client-cert", d.UpstreamTLS.CertFile, "PEM certificate `file` the gateway presents to services that require client certificates (with --tls-client-key)")
	fs.StringVar(&c.UpstreamTLS.KeyFile, "tls-client-key", d.UpstreamTLS.KeyFile, "PEM private key `file` of --tls-client-cert")
	fs.BoolVar(&c.Console, "console", d.Console, "serve the clerks' web console at / (false: the API alone)")
	fs.StringVar(&c.DevIdentities, "dev-identities", d.DevIdentities, "DEVELOPMENT ONLY: `file` of development identities (tokens) that /console/dev-identities offers the console's sign-in to anyone who asks (make run's; never in production)")
	fs.Func("cors-origins", "comma-separated origins (scheme://host[:port]) whose browser pages may call the API (default none)", func(s string) error {
		c.CORSOrigins = splitList(s)
		return nil
	})
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Validate reports every problem of c at once, each wrapping
// ErrInvalidConfig: first those of the settings every program shares,
// checked as the services check theirs, then the gateway's own.
func (c Config) Validate() error {
	var errs []error
	problems := append(c.common().Problems(), c.TLS.Problems()...)
	problems = append(problems, c.UpstreamTLS.Problems("tls-ca", "tls-client-cert", "tls-client-key")...)
	for _, p := range problems {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, p))
	}
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: --%s: %s", ErrInvalidConfig, flagName, fmt.Sprintf(format, args...)))
	}
	anyUpstream := false
	for _, s := range c.services() {
		if s.addr == "" {
			continue
		}
		anyUpstream = true
		if err := procflags.CheckHostPort(s.addr); err != nil {
			bad(s.name+"-addr", "%v", err)
		}
	}
	if !anyUpstream {
		bad("registry-addr", "no upstream service is configured")
	}
	if c.MaxBodyBytes <= 0 {
		bad("max-body-bytes", "must be positive")
	}
	if c.UpstreamTimeout <= 0 || c.UpstreamTimeout >= writeTimeout {
		bad("upstream-timeout", "must be positive and below the %v write timeout", writeTimeout)
	}
	for _, p := range c.Tokens.Problems() {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, p))
	}
	for _, o := range c.CORSOrigins {
		if err := checkOrigin(o); err != nil {
			bad("cors-origins", "%v", err)
		}
	}
	if c.DevIdentities != "" {
		if why := devIdentitiesProblem(c); why != "" {
			bad("dev-identities", "%s", why)
		}
	}
	return errors.Join(errs...)
}

// common is the part of c that every socmgmt program shares.
func (c Config) common() procflags.Common {
	return procflags.Common{
		ListenFlag:      "http-addr",
		ListenAddr:      c.HTTPAddr,
		AdminAddr:       c.AdminAddr,
		LogFormat:       c.LogFormat,
		LogLevel:        c.LogLevel,
		ShutdownTimeout: c.ShutdownTimeout,
		GCPercent:       c.GCPercent,
	}
}

// devIdentitiesProblem says why c may not serve development identities:
// they hand out tokens to whoever asks, so only a console on a loopback
// address, as make run starts it, may offer them.
func devIdentitiesProblem(c Config) string {
	if !c.Console {
		return "needs the console (--console)"
	}
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return "needs a loopback --http-addr"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "development only: --http-addr must be a loopback address (127.0.0.1 or ::1)"
	}
	return ""
}
