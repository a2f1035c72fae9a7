package grpcserver

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/datakey"
)

// Defaults of the audit checkpoint flags; audit.Checkpoints has the same.
const (
	defaultCheckpointEvery    = 1000
	defaultCheckpointInterval = time.Minute
)

// AuditKey defines the required --audit-key, the Ed25519 key that signs
// the audit log's checkpoints, and --audit-checkpoint-every and
// --audit-checkpoint-interval, how often it signs.
func (c *Command) AuditKey() {
	c.fs.StringVar(&c.cfg.AuditKey, "audit-key", "",
		"Ed25519 private key `file` (PEM) that signs the audit log's checkpoints, which \"socmgmt audit verify\" checks with its public half (required)")
	c.require("audit-key", &c.cfg.AuditKey)
	c.fs.IntVar(&c.cfg.AuditCheckpointEvery, "audit-checkpoint-every", defaultCheckpointEvery,
		"sign an audit checkpoint once this many entries follow the last one")
	c.fs.DurationVar(&c.cfg.AuditCheckpointInterval, "audit-checkpoint-interval", defaultCheckpointInterval,
		"sign an audit checkpoint when entries have followed the last one for this long")
	c.Check("--audit-checkpoint-every must be between 1 and 1000000", func() bool {
		return c.cfg.AuditCheckpointEvery >= 1 && c.cfg.AuditCheckpointEvery <= 1_000_000
	})
	c.Check("--audit-checkpoint-interval must be between 1s and 24h", func() bool {
		return c.cfg.AuditCheckpointInterval >= time.Second && c.cfg.AuditCheckpointInterval <= 24*time.Hour
	})
}

// DataKey defines the required --data-key, the file of the data keys
// that seal the personal data the service stores.
func (c *Command) DataKey() {
	c.fs.StringVar(&c.cfg.DataKey, "data-key", "",
		"`file` of the AES-256 data keys that encrypt the personal data stored (\"ID HEX\" lines; the highest ID encrypts) (required)")
	c.require("data-key", &c.cfg.DataKey)
}

// AuditSigningKey loads AuditKey, the private key that signs the audit
// log's checkpoints. It is not the token key: in production a service
// holds only the public half of that, while the audit key must sign on
// the service's host; and a key of its own per service keeps one host's
// compromise from forging another's checkpoints.
func (c *ServiceConfig) AuditSigningKey() (ed25519.PrivateKey, error) {
	key, err := authn.LoadPrivateKey(c.AuditKey)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	return key, nil
}

// DataKeys loads DataKey, the ring that seals the personal data.
func (c *ServiceConfig) DataKeys() (*datakey.Ring, error) {
	r, err := datakey.LoadFile(c.DataKey)
	if err != nil {
		return nil, fmt.Errorf("data key: %w", err)
	}
	return r, nil
}
