// Command devrun starts the whole socmgmt stack on 127.0.0.1 for
// development; it is what `make run` executes. It starts each built
// service, then the gateway, waits until all are healthy, prints how to
// use the stack, and on Ctrl-C or SIGTERM stops them, gateway first. Run
// it with --help for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/idnumber"
)

func main() {
	stopWithParent()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "[devrun]", err)
		os.Exit(1)
	}
}

// run starts the stack described by args and returns when it has been
// stopped: nil after a clean stop on ctx's end, an error when something
// failed to start, died, or did not stop cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	// Children's lines and devrun's own share the terminal.
	out := &lockedWriter{w: stdout}
	errOut := &lockedWriter{w: stderr}
	logf := func(format string, args ...any) {
		fmt.Fprintf(errOut, "[devrun] "+format+"\n", args...)
	}

	procs, err := stackProcs(cfg, isProgram)
	if err != nil {
		return err
	}
	if err := prepareDataDir(cfg, certNames(procs), logf); err != nil {
		return err
	}
	kept, err := writeDevIdentities(cfg, time.Now())
	if err != nil {
		return err
	}
	logf("development identities for the console's sign-in in %s (admin, bureau and %d of an earlier seed); development only", cfg.devIdentitiesFile(), kept)

	sup := newSupervisor(out, errOut, cfg.StopTimeout, logf)
	if err := sup.startAll(ctx, procs, cfg.StartTimeout); err != nil {
		stopErr := sup.stopAll()
		if ctx.Err() != nil {
			// Ctrl-C while starting is a stop, not a failure.
			logf("stopped")
			return stopErr
		}
		return errors.Join(err, stopErr)
	}
	printBanner(out, cfg, procs)

	select {
	case <-ctx.Done():
		logf("stopping the stack")
		if err := sup.stopAll(); err != nil {
			return err
		}
		logf("stopped")
		return nil
	case <-sup.died:
		err := sup.deathError()
		logf("%v; stopping the rest", err)
		return errors.Join(err, sup.stopAll())
	}
}

// prepareDataDir creates the data directory and the development keys the
// services need, and the development CA with a certificate for each of
// certs, when they are missing.
func prepareDataDir(cfg config, certs []string, logf func(string, ...any)) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	signing := filepath.Join(cfg.DataDir, signingKeyName)
	if _, created, err := authn.LoadOrCreateKeyFile(signing); err != nil {
		return fmt.Errorf("development signing key: %w", err)
	} else if created {
		logf("created the development signing key %s", signing)
	}
	idKey := filepath.Join(cfg.DataDir, idKeyName)
	if _, created, err := idnumber.LoadOrCreateKeyFile(idKey); err != nil {
		return fmt.Errorf("development ID-number key: %w", err)
	} else if created {
		logf("created the development ID-number key %s", idKey)
	}
	if err := prepareStoreKeys(cfg, logf); err != nil {
		return err
	}
	_, written, err := devca.Ensure(string(cfg.tlsDir()), certs...)
	if err != nil {
		return fmt.Errorf("development certificates: %w", err)
	}
	if len(written) > 0 {
		logf("created development TLS certificates in %s (the CA is %s)", cfg.tlsDir(), cfg.tlsDir().CA())
	}
	return nil
}

// prepareStoreKeys creates the development data key, which registry and
// pension encrypt personal data with, and each audited service's audit
// key, when they are missing.
func prepareStoreKeys(cfg config, logf func(string, ...any)) error {
	dataKey := filepath.Join(cfg.DataDir, dataKeyName)
	if _, created, err := datakey.LoadOrCreateFile(dataKey); err != nil {
		return fmt.Errorf("development data key: %w", err)
	} else if created {
		logf("created the development data key %s", dataKey)
	}
	for _, s := range services() {
		if !s.audited {
			continue
		}
		path := filepath.Join(cfg.DataDir, auditKeyName(s.name))
		if _, created, err := authn.LoadOrCreateKeyFile(path); err != nil {
			return fmt.Errorf("development audit key of %s: %w", s.name, err)
		} else if created {
			logf("created the development audit key %s", path)
		}
	}
	return nil
}

// printBanner tells the developer what runs where and how to use it.
func printBanner(w io.Writer, cfg config, procs []proc) {
	var b strings.Builder
	b.WriteString("\nStack is up:\n")
	for _, p := range procs {
		fmt.Fprintf(&b, "  %-9s %s\n", p.name, p.endpoint)
	}
	cli := displayPath(filepath.Join(cfg.BinDir, "socmgmt"))
	key := displayPath(filepath.Join(cfg.DataDir, signingKeyName))
	tls := cfg.cliTLS()
	ca, cert, certKey := displayPath(tls.CAFile), displayPath(tls.CertFile), displayPath(tls.KeyFile)
	seed := cli + " seed"
	if !samePath(key, "var/"+signingKeyName) {
		// seed's defaults are make run's files under ./var.
		seed += " --key " + key + " --tls-ca " + ca + " --tls-cert " + cert + " --tls-key " + certKey
	}
	fmt.Fprintf(&b, `
Console:             http://%[9]s/
                     sign in with a development identity (admin, bureau; seed adds
                     the city's clerks and supervisors): development only
Mint a token:        %[1]s token --key %[2]s --role admin
Call the REST API:   TOKEN=$(%[1]s token --key %[2]s --role admin)
                     curl -H "Authorization: Bearer $TOKEN" http://%[3]s/v1/communities
Call gRPC (mutual TLS, make tools for grpcurl):
                     .tools/bin/grpcurl -cacert %[5]s -cert %[6]s -key %[7]s %[8]s list
Load the demo city:  %[4]s
Stop with Ctrl-C.

`, cli, key, gatewayHTTPAddr, seed, ca, cert, certKey, services()[0].grpcAddr, gatewayHTTPAddr)
	_, _ = io.WriteString(w, b.String())
}

// displayPath shortens path to one relative to the working directory when
// it lies below it, as a developer would type it.
func displayPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	wd, err := os.Getwd()
	if err != nil {
		return abs
	}
	rel, err := filepath.Rel(wd, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs
	}
	return rel
}

// samePath reports whether a and b name the same file.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
