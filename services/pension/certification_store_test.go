package pension

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// storedCert is a certification as the test stored it.
type storedCert struct {
	key    []byte
	day    string
	method pb.CertificationMethod
}

// TestFindCertification checks findCertification and latestRecordedBy,
// which read only keys and methods, against a plain walk over all of a
// retiree's certifications: random days and channels for retirees whose
// ids are prefixes of each other's, so that their keys interleave.
func TestFindCertification(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ids := []string{"a", "ab", "abc", "b"}
	days := []string{"2025-12-31", "2026-01-01", "2026-01-02", "2026-02-10", "2026-03-01"}
	rng := rand.New(rand.NewPCG(1, 2))
	stored := map[string][]storedCert{}
	err := e.store.DB().Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCertifications)
		for range 60 {
			id, day := ids[rng.IntN(len(ids))], days[rng.IntN(len(days))]
			// Method 0 is not on the wire at all.
			method := pb.CertificationMethod(rng.IntN(9))
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := proto.Marshal(&pb.Certification{
				RetireeId: id, Method: method, CertifiedOn: day, RecordedBy: "x",
				RecordTime: timestamppb.New(testNow), Reference: "R-1", BatchId: "b",
			})
			if err != nil {
				return err
			}
			key := certificationKey(nil, id, day, seq)
			stored[id] = append(stored[id], storedCert{key: key, day: day, method: method})
			if err := b.Put(key, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range stored {
		// Keys order by day, then sequence.
		slices.SortFunc(list, func(a, b storedCert) int { return bytes.Compare(a.key, b.key) })
	}

	err = e.store.DB().View(func(tx *bolt.Tx) error {
		for _, id := range append(ids, "aa", "c") {
			list := stored[id]
			for _, day := range append(days, "2024-01-01", "2027-01-01") {
				for method := range pb.CertificationMethod(9) {
					checkFound(t, tx, id, day, method, list)
				}
				var want lastCert
				for _, c := range list {
					if c.day <= day {
						want = lastCert{day: c.day, channel: c.method}
					}
				}
				gotDay, gotChannel, err := latestRecordedBy(tx, id, day)
				if err != nil {
					return err
				}
				if got := (lastCert{day: gotDay, channel: gotChannel}); got != want {
					t.Errorf("latestRecordedBy(%s, %s) = %v, want %v", id, day, got, want)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkFound compares findCertification for one identity with a walk over
// list, the retiree's certifications in key order.
func checkFound(t *testing.T, tx *bolt.Tx, id, day string, method pb.CertificationMethod, list []storedCert) {
	t.Helper()
	var wantKey []byte
	var wantLatest lastCert
	for _, c := range list {
		if c.day == day && c.method == method && wantKey == nil {
			wantKey = c.key
		}
		wantLatest = lastCert{day: c.day, channel: c.method}
	}
	got, err := findCertification(tx.Bucket(bucketCertifications).Cursor(), id, day, method)
	if err != nil {
		t.Fatal(err)
	}
	what := fmt.Sprintf("findCertification(%s, %s, %s)", id, day, method)
	if !bytes.Equal(got.key, wantKey) || (got.value == nil) != (wantKey == nil) {
		t.Errorf("%s found %q, want %q", what, got.key, wantKey)
	}
	if got.value != nil {
		c := new(pb.Certification)
		if err := proto.Unmarshal(got.value, c); err != nil || c.Method != method || c.CertifiedOn != day || c.RetireeId != id {
			t.Errorf("%s value %v (%v)", what, c, err)
		}
	}
	if got.latest != wantLatest {
		t.Errorf("%s latest %v, want %v", what, got.latest, wantLatest)
	}
}

// TestCertificationMethod checks the method-only decoder against
// proto.Unmarshal, and that it refuses what is not a message.
func TestCertificationMethod(t *testing.T) {
	t.Parallel()
	for _, c := range []*pb.Certification{
		{},
		{Method: pb.CertificationMethod_FACE_APP},
		{RetireeId: "r", Method: pb.CertificationMethod_ACTIVITY, CertifiedOn: "2026-01-01", RecordTime: timestamppb.New(testNow), Reference: "x", BatchId: "b"},
		{RetireeId: "r", CertifiedOn: "2026-01-01", RecordedBy: "clerk"},
	} {
		v, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := certificationMethod(v)
		if err != nil || got != c.Method {
			t.Errorf("certificationMethod(%v) = %v, %v; want %v", c, got, err, c.Method)
		}
	}
	if _, err := certificationMethod([]byte{0x10}); err == nil {
		t.Error("a truncated varint decoded")
	}
	if _, err := certificationMethod([]byte{0x0a, 0x05, 'a'}); err == nil {
		t.Error("a truncated string decoded")
	}
	if _, ok := certificationOnKey(boltstore.Prefix("a"), boltstore.Prefix("a")); ok {
		t.Error("a bare prefix read as a certification key")
	}
}
