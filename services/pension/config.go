package pension

import (
	"errors"
	"path/filepath"

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
	cmd := grpcserver.NewCommand("pension",
		"The pension service: payments imported from bureaus, certifications, entitlement and anomalies.",
		&c.Server, "127.0.0.1:9103", "127.0.0.1:9203")
	cmd.DataDir(&c.DataDir)
	cmd.TokenKey(&c.TokenKey, "registry")
	cmd.IDKey(&c.IDKey, "registry")
	cmd.RegistryAddr(&c.RegistryAddr, "whose retirees are projected")
	cmd.ServiceTokenFile(&c.ServiceTokenFile, "registry")
	cmd.AuditDurableReads(&c.AuditDurableReads, "a read")
	fs := cmd.FlagSet()
	fs.Float64Var(&c.AmountDropShare, "amount-drop-share", DefaultAmountDropShare, "a monthly total more than this share below the previous month's is an AMOUNT_DROP anomaly")
	fs.Int64Var(&c.MaxStreamRecords, "max-stream-records", DefaultMaxStreamRecords, "most records one ImportPayments stream may carry")
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, errors.Join(cmd.Validate(), c.validate())
}

// validate reports every problem of the pension's own flags at once; the
// shared ones are grpcserver.Command's.
func (c *Config) validate() error {
	var errs []error
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
