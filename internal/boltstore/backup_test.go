package boltstore

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
)

func TestBackupHandler(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	const n = 2000
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("records"))
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(U64(uint64(i)), fmt.Appendf(nil, "value %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(BackupHandler(db, zaptest.NewLogger(t)))
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	written, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if cl, _ := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64); cl != written || cl == 0 {
		t.Errorf("Content-Length = %d, body = %d bytes", cl, written)
	}

	cp, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	err = cp.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("check: %v", err)
		}
		b := tx.Bucket([]byte("records"))
		if b == nil {
			return fmt.Errorf("bucket records missing from copy")
		}
		if got := b.Stats().KeyN; got != n {
			t.Errorf("copy has %d keys, want %d", got, n)
		}
		if got := string(b.Get(U64(1234))); got != "value 1234" {
			t.Errorf("key 1234 = %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBackupHandlerMethodsAndClosedDB(t *testing.T) {
	t.Parallel()
	db, err := Open(filepath.Join(t.TempDir(), "b.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := BackupHandler(db, zaptest.NewLogger(t))
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/backup", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodGet {
			t.Errorf("%s: status %d, Allow %q", m, rec.Code, rec.Header().Get("Allow"))
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/backup", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("closed db: status %d, want 503", rec.Code)
	}
}
