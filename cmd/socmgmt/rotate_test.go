package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/servicedb"
)

// TestRotateDataKey adds a key to a live store's key file and rotates it
// through the admin port in small batches: the command reports the
// counts, and every record is then under the new key.
func TestRotateDataKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dataKey := filepath.Join(dir, "data.key")
	ring, _, err := datakey.LoadOrCreateFile(dataKey)
	if err != nil {
		t.Fatal(err)
	}
	people := []byte("retirees")
	schema := boltstore.Schema{Meta: boltstore.MetaBucket, Buckets: [][]byte{people}, Version: 1, Migrations: []boltstore.Migration{boltstore.RecordFirstVersion}}
	b, err := servicedb.Open(filepath.Join(dir, "registry.db"), schema, servicedb.Options{Logger: zaptest.NewLogger(t), Sealed: [][]byte{people}, DataKeys: ring})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const n = 57
	if err := b.Update(func(tx *bolt.Tx) error {
		for i := range n {
			k := fmt.Appendf(nil, "%016d", i)
			if err := tx.Bucket(people).Put(k, b.AppendSealed(nil, people, k, []byte("13912345678"))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	keyFile, pub := newKeyFile(t)
	srv := httptest.NewServer(adminhttp.NewHandler(adminhttp.Options{Admin: b.AdminRoutes(zaptest.NewLogger(t)), Verifier: authn.NewVerifier(pub)}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	var stdout bytes.Buffer
	err = run(context.Background(), []string{"rotate-data-key", "--service", "registry", "--addr", addr, "--key", keyFile, "--add-key", dataKey, "--batch", "10"},
		&stdout, &stdout, func(string) string { return "" })
	if err != nil {
		t.Fatalf("rotate-data-key: %v (%s)", err, stdout.String())
	}
	for _, want := range []string{"added data key 2 to " + dataKey, "registry: 57 records examined, 57 re-encrypted under data key 2, in 6 batches"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output %q, want %q", stdout.String(), want)
		}
	}
	if err := b.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket(people).ForEach(func(k, v []byte) error {
			if id, _ := datakey.KeyID(v); id != 2 {
				return fmt.Errorf("record %s under key %d", k, id)
			}
			return nil
		})
	}); err != nil {
		t.Error(err)
	}

	// Again, with nothing to do: a pass of one batch.
	stdout.Reset()
	err = run(context.Background(), []string{"rotate-data-key", "--service", "registry", "--addr", addr, "--key", keyFile},
		&stdout, &stdout, func(string) string { return "" })
	if err != nil || !strings.Contains(stdout.String(), "57 records examined, 0 re-encrypted under data key 2, in 1 batch;") {
		t.Errorf("second rotation = %v, %q", err, stdout.String())
	}
}

// TestRotateDataKeyRefuses: mistakes and refusals are named.
func TestRotateDataKeyRefuses(t *testing.T) {
	t.Parallel()
	keyFile, pub := newKeyFile(t)
	noRoute := httptest.NewServer(adminhttp.NewHandler(adminhttp.Options{Verifier: authn.NewVerifier(pub)}))
	defer noRoute.Close()
	addr := strings.TrimPrefix(noRoute.URL, "http://")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--service", "activity", "--key", keyFile}, `--service "activity": want one of pension, registry`},
		{[]string{"--service", "registry", "--key", keyFile, "--batch", "0"}, "--batch must be between 1 and 10000"},
		{[]string{"--service", "registry", "--addr", addr, "--key", keyFile}, "the service has no data-key rotation (HTTP 404)"},
		{[]string{"--service", "registry", "--addr", addr, "--key", filepath.Join(t.TempDir(), "none")}, "no such file"},
	} {
		err := run(context.Background(), append([]string{"rotate-data-key"}, tc.args...), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rotate-data-key %q = %v, want %q", tc.args, err, tc.want)
		}
	}
}
