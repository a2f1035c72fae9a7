package servicedb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
)

var bucketPeople = []byte("people")

var sealedSchema = boltstore.Schema{
	Meta:       boltstore.MetaBucket,
	Buckets:    [][]byte{bucketPeople, []byte("other")},
	Version:    1,
	Migrations: []boltstore.Migration{boltstore.RecordFirstVersion},
}

// phone is the i-th phone number the tests store: what must not be found
// in a file that seals.
func phone(i int) string { return fmt.Sprintf("139%08d", 40000000+i) }

func openSealed(t *testing.T, path string, ring *datakey.Ring) (Base, error) {
	t.Helper()
	return Open(path, sealedSchema, Options{Logger: zaptest.NewLogger(t), Sealed: [][]byte{bucketPeople}, DataKeys: ring})
}

func mustOpenSealed(t *testing.T, path string, ring *datakey.Ring) Base {
	t.Helper()
	b, err := openSealed(t, path, ring)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// put stores n people, person i under key i with phone(i).
func put(t *testing.T, b Base, from, n int) {
	t.Helper()
	if err := b.Update(func(tx *bolt.Tx) error {
		for i := from; i < from+n; i++ {
			if err := b.PutProto(tx, bucketPeople, fmt.Appendf(nil, "p%05d", i), wrapperspb.String(phone(i))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// readAll reads back n people and checks their phone numbers.
func readAll(t *testing.T, b Base, n int) {
	t.Helper()
	if err := b.DB().View(func(tx *bolt.Tx) error {
		for i := range n {
			var got wrapperspb.StringValue
			if err := b.GetProto(tx, bucketPeople, fmt.Appendf(nil, "p%05d", i), &got, errors.New("missing")); err != nil {
				return fmt.Errorf("person %d: %w", i, err)
			}
			if got.Value != phone(i) {
				return fmt.Errorf("person %d: phone %q, want %q", i, got.Value, phone(i))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// phonesIn counts the people whose phone numbers appear in the file at
// path, as a grep of a stolen copy would.
func phonesIn(t *testing.T, path string, n int) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i := range n {
		if bytes.Contains(data, []byte(phone(i))) {
			found++
		}
	}
	return found
}

func newRing(t *testing.T, dir string) *datakey.Ring {
	t.Helper()
	r, _, err := datakey.LoadOrCreateFile(filepath.Join(dir, "data.key"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPlainFileIsSealedAtOpen: a file written without data keys, opened
// with them, has its values sealed and its free pages compacted away: a
// grep finds no phone number, and every record reads back. Opened without
// keys again, it is refused.
func TestPlainFileIsSealedAtOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	const n = 2500 // several of Open's batches
	plain := mustOpenSealed(t, path, nil)
	put(t, plain, 0, n)
	if err := plain.Close(); err != nil {
		t.Fatal(err)
	}
	if found := phonesIn(t, path, n); found != n {
		t.Fatalf("the plain file holds %d of %d phone numbers: the test's grep does not work", found, n)
	}

	ring := newRing(t, dir)
	b := mustOpenSealed(t, path, ring)
	readAll(t, b, n)
	put(t, b, n, 10)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if found := phonesIn(t, path, n+10); found != 0 {
		t.Errorf("a grep of the sealed file finds %d phone numbers", found)
	}

	if _, err := openSealed(t, path, nil); !errors.Is(err, ErrDataKeyNeeded) {
		t.Errorf("open without keys = %v, want ErrDataKeyNeeded", err)
	}
	other, err := datakey.New(map[uint32][]byte{7: bytes.Repeat([]byte{7}, datakey.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openSealed(t, path, other); !errors.Is(err, ErrDataKeyNeeded) || !strings.Contains(err.Error(), "data key 1") {
		t.Errorf("open with a key file without key 1 = %v, want ErrDataKeyNeeded naming key 1", err)
	}
}

// TestSealedValueMovedDoesNotOpen: a sealed value copied to another
// record's key is refused, not read as that record.
func TestSealedValueMovedDoesNotOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := mustOpenSealed(t, filepath.Join(dir, "s.db"), newRing(t, dir))
	defer b.Close()
	put(t, b, 0, 2)
	err := b.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketPeople)
		return bk.Put([]byte("p00001"), bytes.Clone(bk.Get([]byte("p00000"))))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = b.DB().View(func(tx *bolt.Tx) error {
		return b.GetProto(tx, bucketPeople, []byte("p00001"), new(wrapperspb.StringValue), nil)
	})
	if !errors.Is(err, datakey.ErrTampered) {
		t.Errorf("reading a moved value = %v, want ErrTampered", err)
	}
}

// TestRotateWhileServing adds a key to the key file and rotates through
// the admin handler in small batches, writing between them as a live
// service would; then every record is under the new key, the file
// records only it, and a restart without the old key opens the file.
func TestRotateWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "s.db")
	ring := newRing(t, dir)
	b := mustOpenSealed(t, path, ring)
	const n = 95
	put(t, b, 0, n)
	if _, err := datakey.AddKey(ring.Path()); err != nil {
		t.Fatal(err)
	}
	h := b.RotateHandler(zaptest.NewLogger(t))

	var total RotateBatch
	next := ""
	for batches := 0; ; batches++ {
		if batches > n {
			t.Fatal("the rotation does not end")
		}
		res := rotate(t, h, next, 10)
		total.Examined += res.Examined
		total.Resealed += res.Resealed
		if res.KeyID != 2 {
			t.Fatalf("batch seals under key %d, want 2", res.KeyID)
		}
		put(t, b, n+batches, 1) // a write between batches, under the new key
		if next = res.Next; next == "" {
			break
		}
	}
	if total.Resealed != n {
		t.Errorf("resealed %d records, want the %d under key 1", total.Resealed, n)
	}
	readAll(t, b, n)
	if err := b.DB().View(func(tx *bolt.Tx) error {
		ids, err := readDataKeys(tx.Bucket(boltstore.MetaBucket))
		if err == nil && (len(ids) != 1 || ids[0] != 2) {
			err = fmt.Errorf("data keys in use %v, want [2]", ids)
		}
		return err
	}); err != nil {
		t.Error(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	onlyNew := rewriteKeyFile(t, ring.Path(), "2 ")
	b = mustOpenSealed(t, path, onlyNew)
	defer b.Close()
	readAll(t, b, n)
}

// rewriteKeyFile keeps only the lines of the key file at path that start
// with keep, and loads it.
func rewriteKeyFile(t *testing.T, path, keep string) *datakey.Ring {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, keep) {
			lines = append(lines, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := datakey.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rotate posts one rotation batch to h.
func rotate(t *testing.T, h http.Handler, after string, limit int) RotateBatch {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, fmt.Sprintf("%s?limit=%d&after=%s", RotatePath, limit, after), nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("rotate: HTTP %d: %s", rec.Code, rec.Body)
	}
	res, err := decodeBatch(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestRotateRefuses: bad requests change nothing and say why.
func TestRotateRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := mustOpenSealed(t, filepath.Join(dir, "s.db"), newRing(t, dir))
	defer b.Close()
	put(t, b, 0, 3)
	h := b.RotateHandler(zaptest.NewLogger(t))
	started := rotate(t, h, "", 1)
	for _, tc := range []struct {
		name, method, query string
		want                int
	}{
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed},
		{"limit 0", http.MethodPost, "limit=0", http.StatusBadRequest},
		{"limit too large", http.MethodPost, "limit=10001", http.StatusBadRequest},
		{"a made-up token", http.MethodPost, "after=%25%25", http.StatusBadRequest},
		{"a token of another key", http.MethodPost, "after=" + encodeCursor(cursor{key: 9}), http.StatusConflict},
		{"a token past the buckets", http.MethodPost, "after=" + encodeCursor(cursor{key: started.KeyID, bucket: 1}), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, RotatePath+"?"+tc.query, nil))
			if rec.Code != tc.want {
				t.Errorf("HTTP %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tc.want)
			}
		})
	}
	plain := mustOpenSealed(t, filepath.Join(t.TempDir(), "p.db"), nil)
	defer plain.Close()
	if _, err := plain.Rotate("", 10); err == nil {
		t.Error("a store without keys rotated")
	}
}

// FuzzDecodeCursor: the after token comes from outside; any string is
// decoded or refused, never a panic.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(cursor{key: 2, bucket: 1, after: []byte("p00001")}))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeCursor(s)
		if err == nil && encodeCursor(c) != s && !strings.ContainsAny(s, "=+/") {
			// Base64 has more than one spelling of some byte strings; a
			// token that decodes must at least decode to itself again.
			if again, err := decodeCursor(encodeCursor(c)); err != nil || again.key != c.key || again.bucket != c.bucket || !bytes.Equal(again.after, c.after) {
				t.Fatalf("%q decodes to %+v, which does not round-trip", s, c)
			}
		}
	})
}

// decodeBatch reads a RotateBatch answer.
func decodeBatch(body []byte) (RotateBatch, error) {
	var r RotateBatch
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("rotation answer: %w", err)
	}
	return r, nil
}
