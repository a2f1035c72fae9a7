package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// The gateway's addresses (DESIGN.md, "Operator contract").
const (
	gatewayHTTPAddr  = "127.0.0.1:8080"
	gatewayAdminAddr = "127.0.0.1:9200"
)

// The development keys devrun creates in the data directory; each
// audited service also gets its own audit key, auditKeyName(name).
const (
	signingKeyName = "dev-signing.key"
	idKeyName      = "dev-id.key"
	dataKeyName    = "dev-data.key"
)

// auditKeyName is the file of the development audit key of service.
func auditKeyName(service string) string { return "dev-audit-" + service + ".key" }

// tlsDirName is the directory of the data directory that holds the
// development CA and the programs' certificates (see devca), and
// cliCertName the certificate of the operator's tools: socmgmt's, where
// it looks by default, grpcurl's, and devrun's own health checks.
const (
	tlsDirName  = "tls"
	cliCertName = "cli"
)

// tlsDir is the development certificates' directory of cfg.
func (c config) tlsDir() devca.Dir { return devca.Dir(filepath.Join(c.DataDir, tlsDirName)) }

// cliTLS is how the operator's tools dial the services: trusting the
// development CA, with the cli certificate.
func (c config) cliTLS() tlsfiles.Client {
	d := c.tlsDir()
	return tlsfiles.Client{CAFile: d.CA(), CertFile: d.Cert(cliCertName), KeyFile: d.Key(cliCertName)}
}

// service is one gRPC service of the stack.
type service struct {
	// name is the program's name in the bin directory and the log prefix.
	name      string
	grpcAddr  string
	adminAddr string
	// required services make devrun fail when their program is missing;
	// the others are started when they have been built.
	required bool
	// idKey says that the service indexes retirees by ID number and so
	// takes --id-key.
	idKey bool
	// audited says that the service keeps an audit log and so takes
	// --audit-key; sealed that it stores personal data and so takes
	// --data-key.
	audited, sealed bool
	// upstreams are the services it calls; each present one is passed as
	// --<name>-addr.
	upstreams []string
	// dataFiles are further flags naming a file in the data directory,
	// flag -> file name (casework's --sms-file, where development
	// messages go instead of a platform).
	dataFiles map[string]string
}

// services lists the stack's gRPC services in start order. Adding a
// service is adding an entry here (and its --<name>-addr to the gateway,
// which gatewayArgs does for every present service).
func services() []service {
	return []service{
		{name: "registry", grpcAddr: "127.0.0.1:9101", adminAddr: "127.0.0.1:9201", required: true, idKey: true, audited: true, sealed: true},
		{name: "handover", grpcAddr: "127.0.0.1:9102", adminAddr: "127.0.0.1:9202", upstreams: []string{"registry", "activity"}},
		{name: "pension", grpcAddr: "127.0.0.1:9103", adminAddr: "127.0.0.1:9203", idKey: true, audited: true, sealed: true, upstreams: []string{"registry"}},
		{name: "activity", grpcAddr: "127.0.0.1:9104", adminAddr: "127.0.0.1:9204", audited: true, upstreams: []string{"registry"}},
		{name: "casework", grpcAddr: "127.0.0.1:9105", adminAddr: "127.0.0.1:9205", audited: true, upstreams: []string{"registry", "pension", "handover", "activity"},
			dataFiles: map[string]string{"sms-file": "casework-sms.jsonl"}},
	}
}

// proc is one child process of the stack.
type proc struct {
	// name is the program's name and the prefix of its output lines.
	name string
	// path is the program to run.
	path string
	args []string
	// health returns nil once the process serves; it is retried until
	// then.
	health func(ctx context.Context) error
	// endpoint is where clients reach it, for the banner.
	endpoint string
}

// stackProcs returns the processes to start, in order: the services whose
// programs are in cfg.BinDir, then the gateway, which is told about each
// of them. exists reports whether a program file exists.
func stackProcs(cfg config, exists func(path string) bool) ([]proc, error) {
	present := map[string]service{}
	var started []service
	for _, s := range services() {
		path := filepath.Join(cfg.BinDir, s.name)
		if !exists(path) {
			if s.required {
				return nil, fmt.Errorf("%s not found: build the programs first (make build)", path)
			}
			continue
		}
		present[s.name] = s
		started = append(started, s)
	}
	gatewayPath := filepath.Join(cfg.BinDir, "gateway")
	if !exists(gatewayPath) {
		return nil, fmt.Errorf("%s not found: build the programs first (make build)", gatewayPath)
	}

	var procs []proc
	for _, s := range started {
		procs = append(procs, serviceProc(cfg, s, present))
	}

	tls := cfg.tlsDir()
	args := []string{"--http-addr", gatewayHTTPAddr}
	for _, s := range started {
		args = append(args, "--"+s.name+"-addr", s.grpcAddr)
	}
	args = append(args, "--admin-addr", gatewayAdminAddr,
		"--token-key", filepath.Join(cfg.DataDir, signingKeyName),
		// The REST port stays plain HTTP on loopback; the calls behind it
		// are mutual TLS like every other.
		"--tls-ca", tls.CA(), "--tls-client-cert", tls.Cert("gateway"), "--tls-client-key", tls.Key("gateway"),
		"--log-format", "console",
		// The console's sign-in offers the identities of this file:
		// development only.
		"--dev-identities", cfg.devIdentitiesFile())
	procs = append(procs, proc{
		name:     "gateway",
		path:     gatewayPath,
		args:     args,
		health:   httpHealthCheck("http://" + gatewayHTTPAddr + "/healthz"),
		endpoint: "http://" + gatewayHTTPAddr + " (REST, console at /), metrics http://" + gatewayAdminAddr + "/metrics",
	})
	return procs, nil
}

// serviceProc is the process of the service s: its gRPC port serves
// mutual TLS with its own development certificate, which it also presents
// to the services it calls, each of those in present passed as
// --<name>-addr.
func serviceProc(cfg config, s service, present map[string]service) proc {
	tls := cfg.tlsDir()
	args := []string{
		"--grpc-addr", s.grpcAddr,
		"--admin-addr", s.adminAddr,
		"--data-dir", cfg.DataDir,
		"--token-key", filepath.Join(cfg.DataDir, signingKeyName),
		"--tls-cert", tls.Cert(s.name), "--tls-key", tls.Key(s.name), "--tls-client-ca", tls.CA(),
	}
	if s.idKey {
		args = append(args, "--id-key", filepath.Join(cfg.DataDir, idKeyName))
	}
	if s.audited {
		args = append(args, "--audit-key", filepath.Join(cfg.DataDir, auditKeyName(s.name)))
	}
	if s.sealed {
		args = append(args, "--data-key", filepath.Join(cfg.DataDir, dataKeyName))
	}
	calls := false
	for _, up := range s.upstreams {
		if u, ok := present[up]; ok {
			args = append(args, "--"+up+"-addr", u.grpcAddr)
			calls = true
		}
	}
	if calls {
		args = append(args, "--tls-ca", tls.CA())
	}
	for _, flag := range slices.Sorted(maps.Keys(s.dataFiles)) {
		args = append(args, "--"+flag, filepath.Join(cfg.DataDir, s.dataFiles[flag]))
	}
	args = append(args, "--log-format", "console")
	return proc{
		name:     s.name,
		path:     filepath.Join(cfg.BinDir, s.name),
		args:     args,
		health:   grpcHealthCheck(s.grpcAddr, cfg.cliTLS()),
		endpoint: s.grpcAddr + " (gRPC, mutual TLS), metrics http://" + s.adminAddr + "/metrics",
	}
}

// certNames are the names devrun issues development certificates to:
// each program of procs, and the operator's tools.
func certNames(procs []proc) []string {
	names := make([]string, 0, len(procs)+1)
	for _, p := range procs {
		names = append(names, p.name)
	}
	return append(names, cliCertName)
}

// isProgram reports whether path is a regular file someone may execute.
func isProgram(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
