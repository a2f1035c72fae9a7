package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// The files of a development key set (socmgmt dev-keys), as
// deploy/compose.yaml mounts them: DIR/keys/… and DIR/tls/….
const (
	devSigningKey = "keys/signing.key"
	devIDKey      = "keys/id.key"
	devDataKey    = "keys/data.key"
	devTLSDir     = "tls"
)

// devAuditKey is the development audit key of service.
func devAuditKey(service string) string { return "keys/audit-" + service + ".key" }

// devAudited are the services that sign an audit log.
var devAudited = []string{"registry", "pension", "activity", "casework"}

// devCertNames are the programs (and the operator's tools, cli) that get
// a development certificate, each naming itself as a host.
var devCertNames = []string{"registry", "handover", "pension", "activity", "casework", "gateway", "cli"}

func newDevKeysCmd(e env) *cobra.Command {
	return &cobra.Command{
		Use:   "dev-keys DIR",
		Short: "DEVELOPMENT ONLY: write a key and certificate set for deploy/compose.yaml into DIR",
		Long: `DEVELOPMENT ONLY. Write into DIR what deploy/compose.yaml mounts: the token
signing key (private: the services mint their own tokens with it), the
ID-number index key, the data key, each audited service's audit key
(keys/), and a development CA with a certificate for each program, named
after it as its host name in the compose network (tls/). Files already
there are kept, so running it again adds only what is missing.

Never use these for real data: the CA's key lies beside the certificates it
signs, and every service holds the signing key. A production stack gets its
keys and certificates as deploy/README.md describes.`,
		Example:               `  socmgmt dev-keys deploy/dev-secrets && sudo chown -R 65532:65532 deploy/dev-secrets`,
		Args:                  cobra.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			created, err := writeDevKeys(args[0])
			for _, f := range created {
				fmt.Fprintf(e.stderr, "created %s\n", f)
			}
			return err
		},
	}
}

// writeDevKeys creates what is missing of the development key set in dir
// and returns the files it created.
func writeDevKeys(dir string) ([]string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, err
	}
	var created []string
	note := func(rel string, made bool, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		if made {
			created = append(created, filepath.Join(dir, rel))
		}
		return nil
	}
	_, made, err := authn.LoadOrCreateKeyFile(filepath.Join(dir, devSigningKey))
	if err := note(devSigningKey, made, err); err != nil {
		return created, err
	}
	_, made, err = idnumber.LoadOrCreateKeyFile(filepath.Join(dir, devIDKey))
	if err := note(devIDKey, made, err); err != nil {
		return created, err
	}
	_, made, err = datakey.LoadOrCreateFile(filepath.Join(dir, devDataKey))
	if err := note(devDataKey, made, err); err != nil {
		return created, err
	}
	for _, s := range devAudited {
		_, made, err = authn.LoadOrCreateKeyFile(filepath.Join(dir, devAuditKey(s)))
		if err := note(devAuditKey(s), made, err); err != nil {
			return created, err
		}
	}
	_, written, err := devca.Ensure(filepath.Join(dir, devTLSDir), devCertNames...)
	created = append(created, written...)
	if err != nil {
		return created, fmt.Errorf("development certificates: %w", err)
	}
	return created, nil
}
