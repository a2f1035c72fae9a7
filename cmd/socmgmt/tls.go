package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/credentials"

	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// The environment variables that give the TLS files when their flags are
// not set, as $SOCMGMT_KEY gives the signing key.
const (
	envTLSCA   = "SOCMGMT_TLS_CA"
	envTLSCert = "SOCMGMT_TLS_CERT"
	envTLSKey  = "SOCMGMT_TLS_KEY"
)

// Where `make run` puts its development CA and the operator's client
// certificate (see scripts/devrun).
const (
	defaultTLSCA   = "./var/tls/ca.crt"
	defaultTLSCert = "./var/tls/cli.crt"
	defaultTLSKey  = "./var/tls/cli.key"
)

// tlsFlags are the transport settings of a command that calls the
// services over gRPC. The default is the secure path: TLS, trusting make
// run's development CA and presenting the operator's certificate, which
// the services require; --plaintext is for a stack run without TLS.
type tlsFlags struct {
	tlsfiles.Client
	// plaintext dials without TLS.
	plaintext bool
}

// register defines --tls-ca, --tls-cert, --tls-key and --plaintext on
// cmd, the three files defaulting to $SOCMGMT_TLS_* or make run's.
func (f *tlsFlags) register(cmd *cobra.Command, e env) {
	fl := cmd.Flags()
	fl.StringVar(&f.CAFile, "tls-ca", envDefault(e, envTLSCA, defaultTLSCA), "PEM `file` of the CA that signs the services' certificates ($"+envTLSCA+" overrides the default)")
	fl.StringVar(&f.CertFile, "tls-cert", envDefault(e, envTLSCert, defaultTLSCert), "PEM client certificate `file` presented to the services ($"+envTLSCert+" overrides the default)")
	fl.StringVar(&f.KeyFile, "tls-key", envDefault(e, envTLSKey, defaultTLSKey), "PEM private key `file` of --tls-cert ($"+envTLSKey+" overrides the default)")
	fl.BoolVar(&f.plaintext, "plaintext", false, "call the services without TLS (a stack run without certificates)")
	for _, name := range []string{"tls-ca", "tls-cert", "tls-key"} {
		cmd.MarkFlagsMutuallyExclusive("plaintext", name)
	}
}

// transport returns the transport credentials of the command's
// connections: nil (plaintext) for --plaintext or for a configuration
// built without flags, as the tests build theirs.
func (f tlsFlags) transport() (credentials.TransportCredentials, error) {
	if f.plaintext {
		return nil, nil
	}
	if p := f.Problems("tls-ca", "tls-cert", "tls-key"); len(p) > 0 {
		return nil, errors.New(p[0])
	}
	creds, err := f.Credentials()
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (is the stack started with make run? pass --tls-ca, --tls-cert and --tls-key, or --plaintext for a stack without TLS)", err)
	}
	return creds, err
}

// envDefault is the default of a file flag: the environment variable
// name when set, else fallback.
func envDefault(e env, name, fallback string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return fallback
}
