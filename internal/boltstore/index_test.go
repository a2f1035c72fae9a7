package boltstore

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

var (
	testRecords = []byte("records")
	testByColor = []byte("by_color")
	testBySize  = []byte("by_size")
)

// putRecord stores a record whose value is its color and size, and moves
// it in both indexes from old.
func putRecord(t *testing.T, db *bolt.DB, id, color, size, oldColor, oldSize string) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		if err := PutProto(tx.Bucket(testRecords), []byte(id), wrapperspb.String(color+"/"+size)); err != nil {
			return err
		}
		if err := MoveIndex(tx.Bucket(testByColor), oldColor, color, id); err != nil {
			return err
		}
		return MoveIndex(tx.Bucket(testBySize), oldSize, size, id)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func indexKeys(t *testing.T, db *bolt.DB, bucket []byte) []string {
	t.Helper()
	var out []string
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, _ []byte) error {
			out = append(out, strings.ReplaceAll(string(k), "\x00", "|"))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func indexedDB(t *testing.T) *bolt.DB {
	t.Helper()
	db := openTemp(t)
	err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{testRecords, testByColor, testBySize} {
			if _, err := tx.CreateBucket(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMoveIndex(t *testing.T) {
	t.Parallel()
	db := indexedDB(t)
	putRecord(t, db, "a", "red", "big", "", "")
	putRecord(t, db, "b", "red", "", "", "")
	putRecord(t, db, "a", "blue", "big", "red", "big") // color moves, size stays
	putRecord(t, db, "b", "", "small", "red", "")      // leaves the color index
	if diff := cmp.Diff([]string{"blue|a"}, indexKeys(t, db, testByColor)); diff != "" {
		t.Errorf("color index (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"big|a", "small|b"}, indexKeys(t, db, testBySize)); diff != "" {
		t.Errorf("size index (-want +got):\n%s", diff)
	}
}

func TestRecordsWalksTheFirstIndexWithAValue(t *testing.T) {
	t.Parallel()
	db := indexedDB(t)
	putRecord(t, db, "a", "red", "big", "", "")
	putRecord(t, db, "b", "blue", "big", "", "")
	putRecord(t, db, "c", "red", "small", "", "")
	putRecord(t, db, "d", "red", "big", "", "")
	cases := []struct {
		name        string
		color, size string
		keep        func(*wrapperspb.StringValue) bool
		want        []string
		wantNext    string
	}{
		{name: "whole bucket", want: []string{"red/big", "blue/big"}, wantNext: "b"},
		{name: "by color", color: "red", want: []string{"red/big", "red/small"}, wantNext: "red|c"},
		{name: "by size when no color", size: "small", want: []string{"red/small"}},
		{name: "color first, size filtered by keep", color: "red", size: "big",
			keep: func(m *wrapperspb.StringValue) bool { return strings.HasSuffix(m.Value, "/big") },
			want: []string{"red/big", "red/big"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []*wrapperspb.StringValue
			var next []byte
			err := db.View(func(tx *bolt.Tx) error {
				var err error
				indexes := []Index{{Bucket: testByColor, Value: tc.color}, {Bucket: testBySize, Value: tc.size}}
				next, err = Scan{Size: 2}.Records(tx, testRecords, indexes, Collect(&got, tc.keep))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			values := make([]string, len(got))
			for i, m := range got {
				values[i] = m.Value
			}
			if diff := cmp.Diff(tc.want, values); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
			if got := strings.ReplaceAll(string(next), "\x00", "|"); got != tc.wantNext {
				t.Errorf("next = %q, want %q (the key of the walk)", got, tc.wantNext)
			}
		})
	}
}

// TestRecordsByPrefix walks the records of every value that starts with
// the prefix, in the order of the values, page by page; values that only
// share a shorter prefix, or equal a longer string, stay out.
func TestRecordsByPrefix(t *testing.T) {
	t.Parallel()
	db := indexedDB(t)
	putRecord(t, db, "a", "red", "", "", "")
	putRecord(t, db, "b", "reddish", "", "", "")
	putRecord(t, db, "c", "re", "", "", "")
	putRecord(t, db, "d", "redder", "", "", "")
	putRecord(t, db, "e", "rose", "", "", "")
	putRecord(t, db, "f", "red", "", "", "")
	var pages [][]string
	var after []byte
	for range 5 {
		var got []*wrapperspb.StringValue
		err := db.View(func(tx *bolt.Tx) error {
			var err error
			after, err = Scan{Size: 2, After: after}.Records(tx, testRecords, []Index{{Bucket: testByColor, Value: "red", Prefix: true}}, Collect(&got, nil))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, m := range got {
			page = append(page, m.Value)
		}
		pages = append(pages, page)
		if after == nil {
			break
		}
	}
	want := [][]string{{"red/", "red/"}, {"redder/", "reddish/"}}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
}

func TestRecordsFailsOnADanglingIndexEntry(t *testing.T) {
	t.Parallel()
	db := indexedDB(t)
	err := db.Update(func(tx *bolt.Tx) error { return MoveIndex(tx.Bucket(testByColor), "", "red", "gone") })
	if err != nil {
		t.Fatal(err)
	}
	var got []*wrapperspb.StringValue
	err = db.View(func(tx *bolt.Tx) error {
		_, err := Scan{Size: 2}.Records(tx, testRecords, []Index{{Bucket: testByColor, Value: "red"}}, Collect(&got, nil))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "without a record") {
		t.Fatalf("err = %v, want the dangling entry named", err)
	}
}

func TestCollectFailsOnAValueThatDoesNotDecode(t *testing.T) {
	t.Parallel()
	var got []*wrapperspb.StringValue
	kept, err := Collect(&got, nil)([]byte("k"), []byte{0xff})
	if err == nil || kept || len(got) != 0 {
		t.Fatalf("Collect of a broken value = %v, %v, %d kept; want an error and nothing kept", kept, err, len(got))
	}
}
