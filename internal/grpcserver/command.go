package grpcserver

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/peterbourgon/ff/v3"

	"github.com/socmgmt/socmgmt/internal/limits"
)

// DefaultRegistryAddr is registry's gRPC address on a developer's machine,
// the default of every service's --registry-addr.
const DefaultRegistryAddr = "127.0.0.1:9101"

// Command is the command line of one service program: Flags, the flags
// that several services share (each defined by one method here, so that
// name, default, help and check cannot drift between copies), and the
// service's own flags, defined on FlagSet. Every flag may also be set in
// the environment as <NAME>_<FLAG>.
//
// The shared flags write into the ServiceConfig that the service's own
// Config embeds.
type Command struct {
	about string
	cfg   *ServiceConfig
	fs    *flag.FlagSet
	// required are the shared flags that must not be empty, in the order
	// they were defined, for Validate's messages.
	required []requiredFlag
	// checks are the service's own, in the order added.
	checks []check
}

// check is a condition on the service's own flags, and the problem when
// it fails.
type check struct {
	ok  func() bool
	msg string
}

// requiredFlag is a string flag that Validate insists on.
type requiredFlag struct {
	name  string
	value *string
}

// NewCommand starts the command line of the service program name (e.g.
// "registry"), described for --help by about (one or more lines without
// a final newline): it sets cfg.Name and defines Flags, storing into
// cfg.Server, the required --data-dir, the directory of the service's
// bbolt file <name>.db, and --rate-limits, the per-caller budgets, which
// every service has.
func NewCommand(name, about string, cfg *ServiceConfig, defaultGRPC, defaultAdmin string) *Command {
	cfg.Name = name
	c := &Command{about: about, cfg: cfg, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	cfg.Server.Register(c.fs, defaultGRPC, defaultAdmin)
	c.fs.StringVar(&cfg.DataDir, "data-dir", "./var", fmt.Sprintf("`directory` of %s.db", name))
	c.require("data-dir", &cfg.DataDir)
	cfg.Limits = limits.DefaultConfig()
	c.fs.Var(&cfg.Limits, "rate-limits", "per-caller `budgets` over the defaults: ROLE.BUDGET=RATE/UNIT:BURST for the personal, read and write budgets, ROLE.records=N for import records in flight; ROLE may be *. E.g. clerk.personal=5/s:50,bureau.records=20000")
	return c
}

// FlagSet is where the service defines its own flags.
func (c *Command) FlagSet() *flag.FlagSet { return c.fs }

// TokenKey defines the required --token-key, the key file bearer tokens
// are verified with. A service that calls others names them in signsFor
// ("registry"): in development its private key also signs those calls.
func (c *Command) TokenKey(signsFor string) {
	help := "Ed25519 key `file` (PEM) that verifies bearer tokens"
	if signsFor != "" {
		help += "; a private key also signs the service's own tokens for " + signsFor
	}
	help += "; a directory is read as its *.pem files, and several keys are accepted side by side while a key is rotated"
	c.fs.StringVar(&c.cfg.TokenKey, "token-key", "", help+" (required)")
	c.require("token-key", &c.cfg.TokenKey)
	c.cfg.Tokens.Register(c.fs)
}

// IDKey defines the required --id-key, the HMAC key that indexes ID
// numbers. sameAs names the service whose key it must be, if any.
func (c *Command) IDKey(sameAs string) {
	help := "`file` of the hex HMAC key that indexes ID numbers"
	if sameAs != "" {
		help += ", the same as " + sameAs + "'s"
	}
	c.fs.StringVar(&c.cfg.IDKey, "id-key", "", help+" (required)")
	c.require("id-key", &c.cfg.IDKey)
}

// RegistryAddr defines the required --registry-addr; purpose, if not
// empty, ends its help ("whose retirees are projected").
func (c *Command) RegistryAddr(purpose string) {
	help := "registry gRPC `host:port`"
	if purpose != "" {
		help += " " + purpose
	}
	c.fs.StringVar(&c.cfg.RegistryAddr, "registry-addr", DefaultRegistryAddr, help+"; its list of revoked tokens is followed too")
	c.require("registry-addr", &c.cfg.RegistryAddr)
	c.cfg.Tokens.RegisterPoll(c.fs)
}

// ServiceTokenFile defines --service-token-file, a pre-issued service
// token for the calls to the services named in callees, for deployments
// that give the service only the public half of --token-key.
func (c *Command) ServiceTokenFile(callees string) {
	c.fs.StringVar(&c.cfg.ServiceTokenFile, "service-token-file", "",
		"`file` of a pre-issued service token for calls to "+callees+" (default: mint them with --token-key)")
}

// TLSCA defines --tls-ca, the CAs that verify the services named in
// callees when the service calls them; with it, the calls go over TLS and
// present the service's --tls-cert.
func (c *Command) TLSCA(callees string) {
	c.fs.StringVar(&c.cfg.TLSCA, "tls-ca", "",
		"PEM `file` of the CAs that sign "+callees+"'s certificates: calls to them go over TLS, presenting --tls-cert as the client certificate (empty: plaintext)")
}

// AuditDurableReads defines --audit-durable-reads; reads says which reads
// are audited ("a read", "a read of registrations").
func (c *Command) AuditDurableReads(reads string) {
	c.fs.BoolVar(&c.cfg.AuditDurableReads, "audit-durable-reads", false,
		"answer "+reads+" only after its audit record is on disk (slower); otherwise the record is queued before the answer and group-committed within milliseconds")
}

// Check has Validate report msg ("--submit-timeout must be positive")
// when ok, called after parsing, is false: a check of the service's own
// flags, reported with the shared ones.
func (c *Command) Check(msg string, ok func() bool) {
	c.checks = append(c.checks, check{ok: ok, msg: msg})
}

// require has Validate insist that the flag name, stored at p, is set.
func (c *Command) require(name string, p *string) {
	c.required = append(c.required, requiredFlag{name: name, value: p})
}

// Parse reads args, then the environment for the flags args leave unset.
// It returns flag.ErrHelp after printing the usage for --help.
func (c *Command) Parse(args []string) error {
	prefix := strings.ToUpper(c.cfg.Name)
	c.fs.Usage = func() {
		fmt.Fprintf(c.fs.Output(), "Usage: %s [flags]\n\n%s\nEvery flag may also be set as %s_<FLAG>, e.g. %s_DATA_DIR.\n\n",
			c.cfg.Name, c.about, prefix, prefix)
		c.fs.PrintDefaults()
	}
	return ff.Parse(c.fs, args, ff.WithEnvVarPrefix(prefix))
}

// Validate reports every problem at once, each naming its flag and
// wrapping ErrInvalidOption: first those of Flags, then each required
// flag left empty, then each failed Check.
func (c *Command) Validate() error {
	errs := []error{c.cfg.Server.Validate()}
	for _, p := range c.cfg.Tokens.Problems() {
		errs = append(errs, &optionError{msg: p})
	}
	for _, r := range c.required {
		if *r.value == "" {
			errs = append(errs, &optionError{msg: "--" + r.name + " is required"})
		}
	}
	for _, ch := range c.checks {
		if !ch.ok() {
			errs = append(errs, &optionError{msg: ch.msg})
		}
	}
	return errors.Join(errs...)
}
