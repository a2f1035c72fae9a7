package boltstore

import (
	"errors"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// A record with an etag: structpb.Struct has no GetEtag, so the test
// wraps one.
type etagged struct{ structpb.Struct }

func (e *etagged) GetEtag() string { return e.Fields["etag"].GetStringValue() }

func TestGetForChange(t *testing.T) {
	t.Parallel()
	db := indexedDB(t)
	stored, err := structpb.NewStruct(map[string]any{"etag": "r1"})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return PutProto(tx.Bucket(testRecords), []byte("a"), stored) })
	if err != nil {
		t.Fatal(err)
	}
	errNotFound := errors.New("not found")
	errDenied := errors.New("denied")
	// deny refuses a missing record (nil) and nothing else.
	deny := func(e *etagged) error {
		if e == nil {
			return errDenied
		}
		return nil
	}
	allow := func(*etagged) error { return nil }
	denyAll := func(*etagged) error { return errDenied }
	cases := []struct {
		name    string
		id      string
		valid   bool
		etag    string
		allowed func(*etagged) error
		want    error
	}{
		{"found, any etag", "a", true, "", allow, nil},
		{"found, its etag", "a", true, "r1", allow, nil},
		{"found, another etag", "a", true, "r2", allow, fault.ErrEtagMismatch},
		{"found, not allowed", "a", true, "r1", denyAll, errDenied},
		{"missing, may know", "b", true, "", allow, errNotFound},
		{"missing, may not know", "b", true, "", deny, errDenied},
		{"malformed id, may know", "a", false, "", allow, errNotFound},
		{"malformed id, may not know", "a", false, "", deny, errDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := db.View(func(tx *bolt.Tx) error {
				got, err := GetForChange(tx.Bucket(testRecords), tc.id, tc.valid, errNotFound, tc.etag, tc.allowed)
				if err == nil && got.GetEtag() != "r1" {
					t.Errorf("record etag = %q, want r1", got.GetEtag())
				}
				return err
			})
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
