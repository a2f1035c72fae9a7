package sms

import (
	"path/filepath"
	"testing"
	"time"
	_ "time/tzdata" // the tests need Asia/Shanghai wherever they run

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/testclock"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// shanghai is China's time zone.
var shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// at is a wall-clock time in Shanghai.
func at(y int, mo time.Month, d, h, m int) time.Time {
	return time.Date(y, mo, d, h, m, 0, 0, shanghai)
}

func newRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := NewRenderer(DefaultSignature, 0, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// openDB opens a bbolt file in a temporary directory with the outbox's
// buckets and the audit log's, as casework's schema creates them.
func openDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "casework.db")
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{audit.Bucket}, Buckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return db
}

// newOutbox is an outbox with the default quiet hours on clock.
func newOutbox(t testing.TB, clock *testclock.Clock) *Outbox {
	t.Helper()
	q, err := ParseQuietHours(DefaultQuietHours, shanghai)
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutbox(Options{Renderer: newRenderer(t), Quiet: q, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// wang is a retiree addressee.
var wang = Addressee{Name: "王秀英", Sex: registryv1.Sex_FEMALE}
