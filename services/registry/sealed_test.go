package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// secretsOf are the strings of retiree n that a stolen file must not
// reveal: the ID number (in both spellings a grep would try), the phone
// number and the address.
func secretsOf(n int) []string {
	id := idNumber(nil, n)
	return []string{id.Digits(), id.Digits()[:17], phoneOf(n), addressOf(n)}
}

func phoneOf(n int) string   { return fmt.Sprintf("139%08d", 20000000+n) }
func addressOf(n int) string { return fmt.Sprintf("和平区北市场街%d号", 1000+n) }

// createSecrets creates retirees from..from+n-1 with their own phone
// numbers and addresses, and moves each to a new address (so that the
// history holds both), and returns them.
func createSecrets(t *testing.T, s *Store, from, n int) []*pb.Retiree {
	t.Helper()
	out := make([]*pb.Retiree, 0, n)
	for i := from; i < from+n; i++ {
		in := newRetiree(t, i, communityA, pb.ManagementMode_COMMUNITY)
		in.Phone, in.ResidenceAddress = phoneOf(i), addressOf(i)+"旧"
		r := mustCreate(t, s, in)
		r, err := s.UpdateRetiree(r.Id, RetireePatch{Paths: []string{"residence_address"}, Values: &pb.Retiree{ResidenceAddress: addressOf(i)}}, admin, allow)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// backupOf fetches the store's database as `socmgmt backup` does, through
// the admin port's backup handler, and returns its bytes.
func backupOf(t *testing.T, s *Store) []byte {
	t.Helper()
	srv := httptest.NewServer(boltstore.BackupHandler(s.DB(), zaptest.NewLogger(t)))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: HTTP %d, %v", resp.StatusCode, err)
	}
	return data
}

// revealed lists the secrets of retirees from..from+n-1 that data holds.
func revealed(data []byte, from, n int) []string {
	var found []string
	for i := from; i < from+n; i++ {
		for _, s := range secretsOf(i) {
			if bytes.Contains(data, []byte(s)) {
				found = append(found, s)
			}
		}
	}
	return found
}

func openWithKeys(t *testing.T, path string, keys *datakey.Ring) (*Store, error) {
	t.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return OpenStore(path, keyer, StoreOptions{
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: func() time.Time { return testNow },
		DurableReads: true, Checkpoints: audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey}, DataKeys: keys,
	})
}

// TestBackupRevealsNoPersonalData creates retirees in a store that seals,
// takes a backup of it as an operator would, and greps the backup for
// their ID numbers, phone numbers and addresses: none is there. The same
// grep of a store that does not seal finds them all, which shows the
// grep would see them.
func TestBackupRevealsNoPersonalData(t *testing.T) {
	t.Parallel()
	const n = 40
	for _, tc := range []struct {
		name string
		keys *datakey.Ring
	}{{"sealed", servicetest.DataKeys(t)}, {"plain", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := openWithKeys(t, filepath.Join(t.TempDir(), "registry.db"), tc.keys)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			seedRefs(t, s)
			created := createSecrets(t, s, 0, n)
			found := revealed(backupOf(t, s), 0, n)
			if tc.keys != nil && len(found) > 0 {
				t.Errorf("the backup of a sealing store reveals %d secrets, e.g. %q", len(found), found[0])
			}
			if tc.keys == nil && len(found) < 3*n {
				t.Errorf("the grep finds %d secrets in a plain store's backup, want every one: it would miss them", len(found))
			}
			got, err := s.GetRetiree(created[7].Id)
			if err != nil || got.Phone != phoneOf(7) || got.ResidenceAddress != addressOf(7) {
				t.Errorf("GetRetiree reads %v, %v; want phone %s at %s", got, err, phoneOf(7), addressOf(7))
			}
		})
	}
}

// TestPlainRegistryIsSealedWhenGivenKeys: a registry file written before
// it had data keys is sealed when opened with them, lingering copies
// included, and reads the same; without the keys it is then refused.
func TestPlainRegistryIsSealedWhenGivenKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	plain, err := openWithKeys(t, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	seedRefs(t, plain)
	created := createSecrets(t, plain, 0, 30)
	history, _, err := plain.ListHistory(created[3].Id, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := openWithKeys(t, path, servicetest.DataKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	createSecrets(t, s, 30, 5)
	if found := revealed(backupOf(t, s), 0, 35); len(found) > 0 {
		t.Errorf("after sealing, the file reveals %d secrets, e.g. %q", len(found), found[0])
	}
	got, err := s.LookupRetiree(idNumber(t, 3))
	if err != nil || got.Id != created[3].Id || got.ResidenceAddress != addressOf(3) {
		t.Errorf("LookupRetiree = %v, %v", got, err)
	}
	again, _, err := s.ListHistory(created[3].Id, 10, nil)
	if err != nil || len(again) != len(history) || again[1].Changes[0].NewValue != addressOf(3) {
		t.Errorf("history after sealing: %v, %v; want %v", again, err, history)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := openWithKeys(t, path, nil); !errors.Is(err, servicedb.ErrDataKeyNeeded) {
		t.Errorf("reopened without data keys: %v, want ErrDataKeyNeeded", err)
	}
	if data, err := os.ReadFile(path); err != nil || len(revealed(data, 0, 35)) > 0 {
		t.Errorf("the file itself reveals secrets (%v)", err)
	}
}
