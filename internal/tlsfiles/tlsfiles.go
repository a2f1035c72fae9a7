// Package tlsfiles turns the PEM files a socmgmt program is given into
// the TLS configuration of its listener and of its connections to other
// programs. Every program serves TLS with the same three flags
// (--tls-cert, --tls-key, --tls-client-ca, see Server.Register), so that
// their names, help and checks cannot drift between copies; a program
// that dials others verifies them with a CA file and presents a client
// certificate (Client).
//
// The files are read once, at start: a certificate is rotated by
// replacing the files and restarting the program.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"

	"google.golang.org/grpc/credentials"
)

// MinVersion is the oldest TLS version any socmgmt program speaks or
// accepts: 1.2, for the bureaus' own gRPC clients, with Go's default
// cipher suites, which offer only AEAD ciphers with forward secrecy.
const MinVersion = tls.VersionTLS12

// Server is the TLS of a program's listener.
type Server struct {
	// CertFile is the PEM certificate chain the program serves with, its
	// own certificate first; with KeyFile, it turns TLS on. Empty, the
	// listener is plaintext.
	CertFile string
	// KeyFile is the PEM private key of CertFile.
	KeyFile string
	// ClientCAFile, when set, is a PEM bundle of the CAs whose client
	// certificates the listener requires: a client without one, or with
	// one another CA signed, is refused during the handshake (mutual TLS).
	ClientCAFile string
}

// Register defines --tls-cert, --tls-key and --tls-client-ca on fs,
// storing into s; listener names what they secure ("the gRPC port").
func (s *Server) Register(fs *flag.FlagSet, listener string) {
	fs.StringVar(&s.CertFile, "tls-cert", "", "PEM certificate chain `file` to serve "+listener+" with TLS (with --tls-key; empty: plaintext)")
	fs.StringVar(&s.KeyFile, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.StringVar(&s.ClientCAFile, "tls-client-ca", "", "PEM `file` of the CAs whose client certificates "+listener+" requires (mutual TLS; needs --tls-cert)")
}

// Enabled reports whether the listener serves TLS.
func (s Server) Enabled() bool { return s.CertFile != "" }

// Problems returns a message for each unusable combination of the flags,
// naming them, or none. It does not read the files: Config does.
func (s Server) Problems() []string {
	var problems []string
	if (s.CertFile == "") != (s.KeyFile == "") {
		problems = append(problems, "--tls-cert and --tls-key must be given together")
	}
	if s.ClientCAFile != "" && s.CertFile == "" {
		problems = append(problems, "--tls-client-ca needs --tls-cert: client certificates are asked for only over TLS")
	}
	return problems
}

// Config loads the files and returns the listener's TLS configuration,
// or nil when TLS is not Enabled. An error names the flag of the file
// that could not be used.
func (s Server) Config() (*tls.Config, error) {
	if !s.Enabled() {
		return nil, nil
	}
	if p := s.Problems(); len(p) > 0 {
		return nil, errors.New(p[0])
	}
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert and --tls-key: %w", err)
	}
	cfg := &tls.Config{MinVersion: MinVersion, Certificates: []tls.Certificate{cert}}
	if s.ClientCAFile != "" {
		pool, err := loadPool(s.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-client-ca: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// AdminConfig is Config for a program's admin port: the same
// certificate, and a client certificate of ClientCAFile verified when the
// client offers one but not required, so that a metrics scraper or a
// kubelet probe without one still reaches /metrics and /healthz, while
// the admin routes answer only a client whose certificate verified
// (adminhttp.Trusted). Only a certificate naming one of clientNames (its
// common name or a DNS name) is admitted: the stack's CA also vouches for
// every program, and the gateway's certificate, say, must not open
// another program's backups. Any other certificate, or one that does not
// verify, fails the handshake. Nil when TLS is not Enabled; an error
// without ClientCAFile, since such a port would admit no remote caller to
// its admin routes.
func (s Server) AdminConfig(clientNames []string) (*tls.Config, error) {
	cfg, err := s.Config()
	if err != nil || cfg == nil {
		return nil, err
	}
	if cfg.ClientCAs == nil {
		return nil, errors.New("tlsfiles: an admin port over TLS needs a client CA")
	}
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.VerifiedChains) == 0 || namesOneOf(cs.VerifiedChains[0][0], clientNames) {
			return nil
		}
		return errors.New("tlsfiles: the admin port admits no client certificate of that name")
	}
	return cfg, nil
}

// namesOneOf reports whether cert's common name or one of its DNS names
// is in names.
func namesOneOf(cert *x509.Certificate, names []string) bool {
	if slices.Contains(names, cert.Subject.CommonName) {
		return true
	}
	return slices.ContainsFunc(cert.DNSNames, func(n string) bool { return slices.Contains(names, n) })
}

// Client is the TLS of a program's connections to other programs.
type Client struct {
	// CAFile is the PEM bundle of the CAs that sign the servers'
	// certificates; it turns TLS on. Empty, connections are plaintext.
	CAFile string
	// CertFile and KeyFile are the PEM certificate chain and key the
	// program presents when a server asks for a client certificate; both
	// empty, it presents none.
	CertFile, KeyFile string
}

// Enabled reports whether connections use TLS.
func (c Client) Enabled() bool { return c.CAFile != "" }

// Problems returns a message for each unusable combination of c, naming
// the flags caFlag, certFlag and keyFlag that set CAFile, CertFile and
// KeyFile, or none. It does not read the files.
func (c Client) Problems(caFlag, certFlag, keyFlag string) []string {
	var problems []string
	if (c.CertFile == "") != (c.KeyFile == "") {
		problems = append(problems, fmt.Sprintf("--%s and --%s must be given together", certFlag, keyFlag))
	}
	if c.CertFile != "" && c.CAFile == "" {
		problems = append(problems, fmt.Sprintf("--%s needs --%s: a client certificate is presented only over TLS", certFlag, caFlag))
	}
	return problems
}

// Config loads the files and returns the connections' TLS configuration,
// or nil when TLS is not Enabled. The server's name is checked against
// the host of the address dialled, which grpc fills in.
func (c Client) Config() (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	pool, err := loadPool(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	cfg := &tls.Config{MinVersion: MinVersion, RootCAs: pool}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Credentials returns the gRPC transport credentials of Config, or nil
// (plaintext) when TLS is not Enabled.
func (c Client) Credentials() (credentials.TransportCredentials, error) {
	cfg, err := c.Config()
	if err != nil || cfg == nil {
		return nil, err
	}
	return credentials.NewTLS(cfg), nil
}

// errNoCertificates is a CA file without a single certificate in it: a
// key file given by mistake, or an empty one, which would otherwise
// trust nobody and fail every handshake with a puzzling message.
var errNoCertificates = errors.New("no PEM certificate in the file")

// loadPool reads a PEM bundle of CA certificates.
func loadPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file) //nolint:gosec // G304: the operator names the file
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: %w", file, errNoCertificates)
	}
	return pool, nil
}
