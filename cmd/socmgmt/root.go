package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// envKey names the environment variable that gives the signing key file
// when --key is not set.
const envKey = "SOCMGMT_KEY"

// defaultKeyFile is where `make run` puts the development signing key.
const defaultKeyFile = "./var/dev-signing.key"

// env is what the commands read from outside their flags; main passes the
// process's, tests their own.
type env struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// run executes the command line args.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	root := newRootCmd(env{stdout: stdout, stderr: stderr, getenv: getenv})
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// newRootCmd builds the command tree. Each subcommand is built by its own
// newXCmd function in its own file, so a new one (such as `import
// payments`) is one AddCommand here.
func newRootCmd(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "socmgmt",
		Short: "Operate a socmgmt stack: mint tokens, load demo data, back up, verify audit logs, rotate data keys",
		Long: `socmgmt is the operator's tool for the retiree socialised-management stack.

It talks gRPC to the services started by "make run" (registry on
127.0.0.1:9101) and signs bearer tokens with the stack's Ed25519 key
(var/dev-signing.key in development).`,
		Example: `  TOKEN=$(socmgmt token --key var/dev-signing.key --role admin)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/communities
  socmgmt seed`,
		// Errors are printed once, by main; a usage dump after an error
		// from a running command would bury the message.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// Completion scripts work but are not what operators come for.
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	})
	root.AddCommand(newTokenCmd(e), newSeedCmd(e), newImportCmd(e), newBackupCmd(e), newVerifyBackupCmd(),
		newAuditCmd(e), newRotateDataKeyCmd(e), newDevKeysCmd(e))
	return root
}

// keyFileDefault is the default of a --key flag: $SOCMGMT_KEY when set,
// else fallback.
func keyFileDefault(e env, fallback string) string { return envDefault(e, envKey, fallback) }
