package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/servicedb"
)

// sealingAdminAddrs are the services that store personal data sealed, by
// their make-run admin addresses.
var sealingAdminAddrs = map[string]string{
	"registry": defaultAdminAddrs["registry"],
	"pension":  defaultAdminAddrs["pension"],
}

const (
	// rotateSubject names rotate-data-key's caller in the service's log.
	rotateSubject = "socmgmt-rotate-data-key"
	// rotateBatchTimeout bounds the wait for one batch's answer.
	rotateBatchTimeout = time.Minute
	// maxRotateAnswer bounds what is read of a batch's answer.
	maxRotateAnswer = 64 << 10
)

// rotateOptions are the flags of `socmgmt rotate-data-key`.
type rotateOptions struct {
	adminTarget
	// addKey is the service's data key file, to add a new key to first.
	addKey string
	// batch is how many records a batch looks at.
	batch int
}

func newRotateDataKeyCmd(e env) *cobra.Command {
	o := rotateOptions{}
	cmd := &cobra.Command{
		Use:   "rotate-data-key --service NAME [--add-key FILE]",
		Short: "Re-encrypt a running service's personal data under its newest data key",
		Long: `Re-encrypt the personal data a running service stores (registry, pension)
under the newest key of its data key file, in batches, while it serves.

With --add-key FILE, a new random key is first added to FILE, the file the
service's --data-key names (on the service's machine: the admin port
answers only there). The service then reads its key file again, encrypts
from then on with the newest key, and re-encrypts each record still under
an older key, one batch per call, until every record is under the newest;
the command says how many it looked at and re-encrypted. The older keys
must stay in the file until this has finished, and may then be removed,
with a restart of the service (see deploy/README.md).

The admin token is minted with --key, or read from --token-file, as for
socmgmt backup.`,
		Example: `  socmgmt rotate-data-key --service registry --add-key var/dev-data.key
  socmgmt rotate-data-key --service pension --addr 127.0.0.1:9203 --token-file /etc/socmgmt/admin.token`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRotate(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.flags(f, e, "re-encrypt", sealingAdminAddrs)
	f.StringVar(&o.addKey, "add-key", "", "data key `file` of the service to add a new key to first (default: rotate to the newest key the file already has)")
	f.IntVar(&o.batch, "batch", servicedb.DefaultRotateBatch, fmt.Sprintf("records a batch looks at, 1 to %d: smaller batches hold the service's writer for less", servicedb.MaxRotateBatch))
	return cmd
}

// rotateTotals sum a rotation's batches.
type rotateTotals struct {
	keyID                       uint32
	batches, examined, resealed int
}

// runRotate adds a key when asked and rotates the service o names, batch
// after batch, and reports the counts on out.
func runRotate(ctx context.Context, o rotateOptions, out io.Writer) error {
	addr, err := o.address(sealingAdminAddrs)
	if err != nil {
		return err
	}
	if o.batch < 1 || o.batch > servicedb.MaxRotateBatch {
		return fmt.Errorf("--batch must be between 1 and %d", servicedb.MaxRotateBatch)
	}
	if o.addKey != "" {
		id, err := datakey.AddKey(o.addKey)
		if err != nil {
			return fmt.Errorf("--add-key: %w", err)
		}
		fmt.Fprintf(out, "added data key %d to %s\n", id, o.addKey)
	}
	var t rotateTotals
	for next := ""; ; {
		b, err := o.rotateBatch(ctx, addr, next)
		if err != nil {
			return fmt.Errorf("rotation of %s at %s, after %d batches: %w", o.service, addr, t.batches, err)
		}
		t.keyID, t.batches, t.examined, t.resealed = b.KeyID, t.batches+1, t.examined+b.Examined, t.resealed+b.Resealed
		if b.Next == "" {
			break
		}
		if b.Examined == 0 {
			return fmt.Errorf("rotation of %s: a batch examined nothing and did not end the pass", o.service)
		}
		next = b.Next
	}
	batches := "batches"
	if t.batches == 1 {
		batches = "batch"
	}
	fmt.Fprintf(out, "%s: %d records examined, %d re-encrypted under data key %d, in %d %s; every record is now under key %d\n",
		o.service, t.examined, t.resealed, t.keyID, t.batches, batches, t.keyID)
	return nil
}

// rotateBatch asks the service at addr for one batch after next.
func (o rotateOptions) rotateBatch(ctx context.Context, addr, next string) (servicedb.RotateBatch, error) {
	var b servicedb.RotateBatch
	token, err := o.token(rotateSubject) // minted per batch: a long pass outlives a token
	if err != nil {
		return b, err
	}
	q := url.Values{"limit": {strconv.Itoa(o.batch)}}
	if next != "" {
		q.Set("after", next)
	}
	ctx, cancel := context.WithTimeout(ctx, rotateBatchTimeout)
	defer cancel()
	resp, err := o.request(ctx, http.MethodPost, addr, servicedb.RotatePath+"?"+q.Encode(), token, rotateBatchTimeout)
	if err != nil {
		return b, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return b, errors.New("the service has no data-key rotation (HTTP 404): it stores no encrypted data, or it is an older build")
	case http.StatusConflict:
		return b, fmt.Errorf("%w: run the command again (without --add-key)", refusal(resp))
	default:
		return b, refusal(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxRotateAnswer)).Decode(&b); err != nil {
		return b, fmt.Errorf("the service's answer: %w", err)
	}
	return b, nil
}
