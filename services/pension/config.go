package pension

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/peterbourgon/ff/v3"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// Config is the pension program's configuration, from flags or, for each
// flag, the environment variable PENSION_<FLAG> (e.g. PENSION_DATA_DIR).
type Config struct {
	// Server holds the listen addresses, logging and shutdown settings.
	Server grpcserver.Flags
	// DataDir is the directory of the pension's bbolt file, pension.db.
	DataDir string
	// TokenKey is the Ed25519 key file that bearer tokens are verified
	// with. When it holds the private key (development), the service also
	// mints its own service tokens for registry from it.
	TokenKey string
	// IDKey is the file of the HMAC key that indexes ID numbers; it must be
	// registry's.
	IDKey string
	// RegistryAddr is the registry's gRPC host:port, followed for the
	// retiree projection.
	RegistryAddr string
	// ServiceTokenFile holds a pre-issued service token for the calls to
	// registry, for deployments where TokenKey is only the public key.
	ServiceTokenFile string
	// AmountDropShare is the AMOUNT_DROP threshold: a total more than this
	// share below the previous month's is an anomaly.
	AmountDropShare float64
	// MaxStreamRecords bounds the records of one import stream.
	MaxStreamRecords int64
	// AuditDurableReads makes each read wait until its audit record is on
	// disk before answering (see StoreOptions.DurableReads).
	AuditDurableReads bool
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	fs := flag.NewFlagSet("pension", flag.ContinueOnError)
	c.Server.Register(fs, "127.0.0.1:9103", "127.0.0.1:9203")
	fs.StringVar(&c.DataDir, "data-dir", "./var", "`directory` of pension.db")
	fs.StringVar(&c.TokenKey, "token-key", "", "Ed25519 key `file` (PEM) that verifies bearer tokens; a private key also signs the service's own tokens for registry (required)")
	fs.StringVar(&c.IDKey, "id-key", "", "`file` of the hex HMAC key that indexes ID numbers, the same as registry's (required)")
	fs.StringVar(&c.RegistryAddr, "registry-addr", "127.0.0.1:9101", "registry gRPC `host:port` whose retirees are projected")
	fs.StringVar(&c.ServiceTokenFile, "service-token-file", "", "`file` of a pre-issued service token for registry (default: mint one with --token-key)")
	fs.Float64Var(&c.AmountDropShare, "amount-drop-share", DefaultAmountDropShare, "a monthly total more than this share below the previous month's is an AMOUNT_DROP anomaly")
	fs.Int64Var(&c.MaxStreamRecords, "max-stream-records", DefaultMaxStreamRecords, "most records one ImportPayments stream may carry")
	fs.BoolVar(&c.AuditDurableReads, "audit-durable-reads", false, "answer a read only after its audit record is on disk (slower); otherwise records are group-committed within milliseconds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: pension [flags]\n\nThe pension service: payments imported from bureaus, certifications, entitlement and anomalies.\nEvery flag may also be set as PENSION_<FLAG>, e.g. PENSION_DATA_DIR.\n\n")
		fs.PrintDefaults()
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("PENSION")); err != nil {
		return nil, err
	}
	return &c, c.validate()
}

// validate reports every problem at once: those of the flags every
// service shares, then those of the service's own.
func (c *Config) validate() error {
	errs := []error{c.Server.Validate()}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.TokenKey == "" {
		errs = append(errs, errors.New("--token-key is required"))
	}
	if c.IDKey == "" {
		errs = append(errs, errors.New("--id-key is required"))
	}
	if c.RegistryAddr == "" {
		errs = append(errs, errors.New("--registry-addr is required"))
	}
	if !(c.AmountDropShare > 0 && c.AmountDropShare < 1) {
		errs = append(errs, errors.New("--amount-drop-share must be between 0 and 1 (exclusive)"))
	}
	if c.MaxStreamRecords < 1 || c.MaxStreamRecords > 100_000_000 {
		errs = append(errs, errors.New("--max-stream-records must be between 1 and 100000000"))
	}
	return errors.Join(errs...)
}

// DBPath is the pension's database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "pension.db") }
