package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
)

func TestU64Order(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	nums := []uint64{0, 1, 255, 256, 1 << 32, 1<<64 - 1}
	for range 1000 {
		nums = append(nums, r.Uint64()>>r.IntN(64))
	}
	keys := make([][]byte, len(nums))
	for i, n := range nums {
		keys[i] = U64(n)
		got, err := ParseU64(keys[i])
		if err != nil || got != n {
			t.Fatalf("ParseU64(U64(%d)) = %d, %v", n, got, err)
		}
		if a := AppendU64([]byte("p"), n); !bytes.Equal(a[1:], keys[i]) || a[0] != 'p' {
			t.Fatalf("AppendU64(p, %d) = %x", n, a)
		}
	}
	slices.Sort(nums)
	slices.SortFunc(keys, bytes.Compare)
	for i := range nums {
		if got, _ := ParseU64(keys[i]); got != nums[i] {
			t.Fatalf("byte order differs from numeric order at %d: %d vs %d", i, got, nums[i])
		}
	}
}

func TestParseU64Rejects(t *testing.T) {
	for _, b := range [][]byte{nil, {1}, make([]byte, 7), make([]byte, 9)} {
		if _, err := ParseU64(b); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseU64(%x) err = %v, want ErrBadKey", b, err)
		}
	}
}

func TestKeyOrderFollowsParts(t *testing.T) {
	// Sorted as tuples of parts; byte order of the keys must agree.
	tuples := [][]string{
		{"a"},
		{"a", ""},
		{"a", "z"},
		{"a", "z", "1"},
		{"a\x01"},
		{"ab", "a"},
		{"ab", "b"},
		{"b"},
	}
	for i := 1; i < len(tuples); i++ {
		prev, cur := Key(tuples[i-1]...), Key(tuples[i]...)
		if bytes.Compare(prev, cur) >= 0 {
			t.Errorf("Key(%q) = %q sorts after Key(%q) = %q", tuples[i-1], prev, tuples[i], cur)
		}
	}
}

func TestKeyAndPrefix(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []string
		key   string
		pfx   string
	}{
		{"none", nil, "", ""},
		{"one", []string{"ab"}, "ab", "ab\x00"},
		{"two", []string{"ab", "c"}, "ab\x00c", "ab\x00c\x00"},
		{"empty part", []string{"", "c"}, "\x00c", "\x00c\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(Key(tc.parts...)); got != tc.key {
				t.Errorf("Key = %q, want %q", got, tc.key)
			}
			if got := string(Prefix(tc.parts...)); got != tc.pfx {
				t.Errorf("Prefix = %q, want %q", got, tc.pfx)
			}
		})
	}
	if bytes.HasPrefix(Key("abc", "x"), Prefix("ab")) {
		t.Error(`Prefix("ab") matches Key("abc", "x")`)
	}
	if !bytes.HasPrefix(Key("ab", "x"), Prefix("ab")) {
		t.Error(`Prefix("ab") does not match Key("ab", "x")`)
	}
}

func TestKeyPanicsOnNUL(t *testing.T) {
	for _, f := range []func(){
		func() { Key("a", "b\x00c") },
		func() { Prefix("a\x00") },
	} {
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("no panic for a part containing 0x00")
				}
				if strings.Contains(fmt.Sprint(r), "b\x00c") {
					t.Errorf("panic message %q repeats the part", r)
				}
			}()
			f()
		}()
	}
}

// fill stores the given keys, each with its own name as the value.
func fill(t *testing.T, db *bolt.DB, keys ...string) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("t"))
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := b.Put([]byte(k), []byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

var scanKeys = []string{
	"a\x00x",
	"ab",
	"ab\x00",
	"ab\x001",
	"ab\x002",
	"ab\x003",
	"ab\x00\xff",
	"abc\x00x",
	"ab\x01",
	"b\x001",
}

func TestScanPrefix(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	fill(t, db, scanKeys...)

	for _, tc := range []struct {
		name   string
		prefix string
		after  []byte
		limit  int // stop after this many; 0 means no limit
		want   []string
	}{
		{"all under ab", "ab\x00", nil, 0, []string{"ab\x00", "ab\x001", "ab\x002", "ab\x003", "ab\x00\xff"}},
		{"after existing key", "ab\x00", []byte("ab\x001"), 0, []string{"ab\x002", "ab\x003", "ab\x00\xff"}},
		{"after missing key", "ab\x00", []byte("ab\x0015"), 0, []string{"ab\x002", "ab\x003", "ab\x00\xff"}},
		{"after equal to prefix", "ab\x00", []byte("ab\x00"), 0, []string{"ab\x001", "ab\x002", "ab\x003", "ab\x00\xff"}},
		{"after below prefix", "ab\x00", []byte("a"), 0, []string{"ab\x00", "ab\x001", "ab\x002", "ab\x003", "ab\x00\xff"}},
		{"after last", "ab\x00", []byte("ab\x00\xff"), 0, nil},
		{"after beyond prefix", "ab\x00", []byte("b"), 0, nil},
		{"fn stops", "ab\x00", nil, 2, []string{"ab\x00", "ab\x001"}},
		{"no match", "zz\x00", nil, 0, nil},
		{"empty prefix", "", []byte("ab\x01"), 0, []string{"abc\x00x", "b\x001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := db.View(func(tx *bolt.Tx) error {
				return ScanPrefix(tx.Bucket([]byte("t")).Cursor(), []byte(tc.prefix), tc.after, func(k, v []byte) (bool, error) {
					if !bytes.Equal(k, v) {
						t.Errorf("value for %q = %q", k, v)
					}
					got = append(got, string(k))
					return tc.limit == 0 || len(got) < tc.limit, nil
				})
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScanPrefixError(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	fill(t, db, scanKeys...)
	boom := errors.New("boom")
	calls := 0
	err := db.View(func(tx *bolt.Tx) error {
		return ScanPrefix(tx.Bucket([]byte("t")).Cursor(), Prefix("ab"), nil, func(k, v []byte) (bool, error) {
			calls++
			return true, boom
		})
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("err = %v after %d calls, want boom after 1", err, calls)
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	var keys []string
	for i := range 10 {
		keys = append(keys, string(AppendU64(Prefix("p"), uint64(i))))
	}
	fill(t, db, append(keys, "q")...)
	even := func(k []byte) bool { n, _ := ParseU64(k[2:]); return n%2 == 0 }

	for _, tc := range []struct {
		name      string
		size      int
		evenOnly  bool
		reverse   bool
		from      []byte
		fullAt    int // Full reports a full page after this many entries
		endAt     int // keep ends the list at this number
		wantPages [][]uint64
	}{
		{name: "reverse", size: 4, reverse: true, wantPages: [][]uint64{{9, 8, 7, 6}, {5, 4, 3, 2}, {1, 0}}},
		{name: "reverse filtered", size: 2, evenOnly: true, reverse: true, wantPages: [][]uint64{{8, 6}, {4, 2}, {0}}},
		{name: "from", size: 3, from: AppendU64(Prefix("p"), 4), wantPages: [][]uint64{{4, 5, 6}, {7, 8, 9}}},
		{name: "full before size", size: 100, fullAt: 3, wantPages: [][]uint64{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9}}},
		{name: "end of list", size: 3, endAt: 5, wantPages: [][]uint64{{0, 1, 2}, {3, 4}}},
		{name: "exact pages", size: 5, wantPages: [][]uint64{{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}}},
		{name: "short last page", size: 4, wantPages: [][]uint64{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}},
		{name: "one page", size: 100, wantPages: [][]uint64{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}},
		{name: "filtered", size: 2, evenOnly: true, wantPages: [][]uint64{{0, 2}, {4, 6}, {8}}},
		// The last full page ends at 8 and 9 follows but is filtered out:
		// an empty final page is allowed.
		{name: "filtered empty tail", size: 5, evenOnly: true, wantPages: [][]uint64{{0, 2, 4, 6, 8}, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pages [][]uint64
			var after []byte
			for range 20 {
				var page []uint64
				var next []byte
				err := db.View(func(tx *bolt.Tx) error {
					var err error
					scan := Scan{Prefix: Prefix("p"), After: after, Size: tc.size, Reverse: tc.reverse, From: tc.from}
					kept := 0
					if tc.fullAt > 0 {
						scan.Full = func() bool { return kept >= tc.fullAt }
					}
					next, err = scan.Page(tx.Bucket([]byte("t")).Cursor(), func(k, v []byte) (bool, error) {
						if tc.endAt > 0 && k[len(k)-1] >= byte(tc.endAt) {
							return false, ErrEndOfList
						}
						kept++
						if tc.evenOnly && !even(k) {
							kept--
							return false, nil
						}
						n, err := ParseU64(k[2:])
						page = append(page, n)
						return true, err
					})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				pages = append(pages, page)
				if next == nil {
					break
				}
				after = next
			}
			if diff := cmp.Diff(tc.wantPages, pages); diff != "" {
				t.Errorf("pages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestScanBounds: a filter that matches nothing does not read
// the whole prefix in one page; paging on from the returned key reaches
// the end, and every key is examined exactly once.
func TestScanBounds(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	const n = 3*MinScan + 7
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := b.Put(U64(uint64(i)), []byte{1}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	examined := map[uint64]int{}
	var after []byte
	pages := 0
	for {
		var next []byte
		seen := 0
		if err := db.View(func(tx *bolt.Tx) error {
			var err error
			next, err = Scan{After: after, Size: 10}.Page(tx.Bucket([]byte("b")).Cursor(), func(k, _ []byte) (bool, error) {
				i, _ := ParseU64(k)
				examined[i]++
				seen++
				return false, nil
			})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		pages++
		if seen > MinScan {
			t.Fatalf("page %d examined %d keys, want at most %d", pages, seen, MinScan)
		}
		if next == nil {
			break
		}
		after = next
	}
	if len(examined) != n || pages != 4 {
		t.Errorf("examined %d distinct keys in %d pages, want %d in 4", len(examined), pages, n)
	}
	for i, c := range examined {
		if c != 1 {
			t.Fatalf("key %d examined %d times", i, c)
		}
	}
}
