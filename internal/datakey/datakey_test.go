package datakey

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func mustRing(t *testing.T, keys map[uint32][]byte) *Ring {
	t.Helper()
	r, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	r := mustRing(t, map[uint32][]byte{1: key(1), 3: key(3)})
	plain := []byte("11010519491231002X")
	aad := []byte("retirees\x00abcdefghijklmnop")
	sealed := r.Seal(nil, plain, aad)
	if len(sealed) != len(plain)+Overhead {
		t.Errorf("sealed %d bytes, want %d", len(sealed), len(plain)+Overhead)
	}
	if id, ok := KeyID(sealed); !ok || id != 3 {
		t.Errorf("KeyID = %d, %v; want the highest key, 3", id, ok)
	}
	if bytes.Contains(sealed, plain) {
		t.Error("the sealed value contains the plaintext")
	}
	got, err := r.Open(nil, sealed, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := r.Seal(nil, plain, aad); bytes.Equal(again, sealed) {
		t.Error("two seals of the same plaintext are equal: the nonce is not fresh")
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	r := mustRing(t, map[uint32][]byte{1: key(1)})
	aad := []byte("retirees\x00a")
	sealed := r.Seal([]byte("prefix"), []byte("13800138000"), aad)[len("prefix"):]
	flipped := bytes.Clone(sealed)
	flipped[len(flipped)-1] ^= 1
	otherID := bytes.Clone(sealed)
	otherID[5] = 2
	for _, tc := range []struct {
		name string
		v    []byte
		aad  []byte
		want error
	}{
		{"a changed byte", flipped, aad, ErrTampered},
		{"another record's additional data", sealed, []byte("retirees\x00b"), ErrTampered},
		{"a key the ring lacks", otherID, aad, ErrUnknownKey},
		{"a plain protobuf message", mustMarshal(t), aad, ErrNotSealed},
		{"a short value", sealed[:Overhead-1], aad, ErrNotSealed},
		{"empty", nil, aad, ErrNotSealed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := r.Open(nil, tc.v, tc.aad); !errors.Is(err, tc.want) {
				t.Errorf("Open = %v, want %v", err, tc.want)
			}
		})
	}
}

func mustMarshal(t *testing.T) []byte {
	t.Helper()
	v, err := proto.Marshal(wrapperspb.String(strings.Repeat("x", 40)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRotation: a ring with a newer key seals under it and still opens
// what the older key sealed.
func TestRotation(t *testing.T) {
	t.Parallel()
	old := mustRing(t, map[uint32][]byte{1: key(1)})
	next := mustRing(t, map[uint32][]byte{1: key(1), 2: key(2)})
	sealed := old.Seal(nil, []byte("辽宁省沈阳市和平区"), nil)
	if got, err := next.Open(nil, sealed, nil); err != nil || string(got) != "辽宁省沈阳市和平区" {
		t.Fatalf("the newer ring opens the older key's value: %q, %v", got, err)
	}
	if id, _ := KeyID(next.Seal(nil, []byte("x"), nil)); id != 2 {
		t.Errorf("the newer ring seals under key %d, want 2", id)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for name, keys := range map[string]map[uint32][]byte{
		"no keys":     {},
		"key id 0":    {0: key(1)},
		"a short key": {1: key(1)[:16]},
	} {
		if _, err := New(keys); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	hexKey := strings.Repeat("ab", KeySize)
	ok := fmt.Sprintf("# comment\n\n1 %s\n  7 %s  \n", hexKey, strings.Repeat("cd", KeySize))
	keys, err := ParseFile([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[1][0] != 0xab || keys[7][0] != 0xcd {
		t.Errorf("keys %v", keys)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"empty", "# nothing\n", "holds no key"},
		{"no id", hexKey + "\n", `line 1: want "ID HEX"`},
		{"id 0", "0 " + hexKey + "\n", "line 1: the key id must be a number"},
		{"id too large", "4294967296 " + hexKey + "\n", "line 1: the key id must be a number"},
		{"short key", "1 abcd\n", "line 1: key 1 must be 64 hex digits"},
		{"not hex", "1 " + strings.Repeat("zz", KeySize) + "\n", "line 1: key 1 must be 64 hex digits"},
		{"twice", "2 " + hexKey + "\n2 " + hexKey + "\n", "line 2: key id 2 given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseFile = %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "abab") {
				t.Errorf("the error %q repeats key material", err)
			}
		})
	}
}

// TestAddKeyAndReload: a created file has key 1; AddKey adds key 2,
// which a reload seals with; a file that drops a key is not reloaded.
func TestAddKeyAndReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys", "data.key")
	r, created, err := LoadOrCreateFile(path)
	if err != nil || !created || r.Current() != 1 {
		t.Fatalf("LoadOrCreateFile = %v, %v, %v; want a new file with key 1", r, created, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v, %v", fi, err)
	}
	if _, created, err := LoadOrCreateFile(path); err != nil || created {
		t.Fatalf("second LoadOrCreateFile: created %v, %v", created, err)
	}
	sealed := r.Seal(nil, []byte("13800138000"), nil)
	id, err := AddKey(path)
	if err != nil || id != 2 {
		t.Fatalf("AddKey = %d, %v; want 2", id, err)
	}
	next, err := r.Reload()
	if err != nil {
		t.Fatal(err)
	}
	if next.Current() != 2 {
		t.Errorf("reloaded ring seals under %d, want 2", next.Current())
	}
	if _, err := next.Open(nil, sealed, nil); err != nil {
		t.Errorf("reloaded ring opens key 1's value: %v", err)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "1 ") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := next.Reload(); err == nil || !strings.Contains(err.Error(), "no longer holds data key 1") {
		t.Errorf("reload of a file without key 1 = %v, want a refusal", err)
	}
}

// FuzzParseFile: a key file is outside input; whatever it holds,
// ParseFile returns keys of the right size or an error, and never panics.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte("1 " + strings.Repeat("00", KeySize) + "\n"))
	f.Add([]byte("# c\n2 " + strings.Repeat("Ff", KeySize) + "\r\n3 " + strings.Repeat("01", KeySize)))
	f.Add([]byte("1\n"))
	f.Add([]byte("99999999999 x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseFile(data)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		for id, k := range keys {
			if id == 0 || len(k) != KeySize {
				t.Fatalf("key %d of %d bytes", id, len(k))
			}
		}
		if _, err := New(keys); err != nil {
			t.Fatalf("New refuses what ParseFile accepted: %v", err)
		}
	})
}

// FuzzOpen: a stored value may be damaged; Open answers an error or the
// plaintext, never panics.
func FuzzOpen(f *testing.F) {
	r, err := New(map[uint32][]byte{1: key(1)})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(r.Seal(nil, []byte("13800138000"), nil))
	f.Add([]byte{magic, format, 0, 0, 0, 1})
	f.Add([]byte{0x0a, 0x01, 'x'})
	f.Fuzz(func(t *testing.T, v []byte) {
		_, _ = r.Open(nil, v, nil)
	})
}

// BenchmarkOpen opens a sealed value of a stored retiree's size, as
// every read of one does.
func BenchmarkOpen(b *testing.B) {
	r, err := New(map[uint32][]byte{1: key(1)})
	if err != nil {
		b.Fatal(err)
	}
	aad := []byte("retirees\x00abcdefghijklmnop")
	sealed := r.Seal(nil, bytes.Repeat([]byte("x"), 360), aad)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Open(buf[:0], sealed, aad); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSeal seals a value of a stored retiree's size, as every write
// of one does.
func BenchmarkSeal(b *testing.B) {
	r, err := New(map[uint32][]byte{1: key(1)})
	if err != nil {
		b.Fatal(err)
	}
	aad := []byte("retirees\x00abcdefghijklmnop")
	plain := bytes.Repeat([]byte("x"), 360)
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.Seal(buf[:0], plain, aad)
	}
}
