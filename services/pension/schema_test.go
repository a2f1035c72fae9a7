package pension

import (
	"bytes"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// projectionBuckets are the projection's buckets in pension.db.
var projectionBuckets = [][]byte{
	[]byte("projection_retirees"), []byte("projection_by_idkey"),
	[]byte("projection_by_community"), []byte("projection_meta"),
}

// v1Buckets are the buckets of storage versions 0 and 1.
var v1Buckets = [][]byte{
	bucketMeta, bucketPayments, bucketPaymentVersions, bucketCertifications,
	bucketDue, bucketBatches, bucketDecisions, bucketDecisionVersions,
	bucketRules, bucketAudit,
}

// TestOpenStoreMigratesVersion0 opens a file in the layout written before
// storage versions were recorded (version 0: today's buckets, the
// projection's among them, and no version key), built with plain bbolt,
// and reads its records back.
func TestOpenStoreMigratesVersion0(t *testing.T) {
	t.Parallel()
	id := retireeID(1)
	state := &registryv1.RetireeState{
		Id: id, IdNumberKey: testKeyer(t).Key(idNumber(t, 1)), CommunityId: communityA,
		Status: registryv1.RetireeStatus_LIVING, ManagementMode: registryv1.ManagementMode_COMMUNITY,
	}
	payment := &pb.Payment{
		RetireeId: id, Month: "2026-05", BasicFen: 300000, TotalFen: 300000,
		PaidOn: "2026-05-10", BatchId: "B1", Version: 1,
	}
	migrated := proto.Clone(payment).(*pb.Payment)
	migrated.Kind = pb.PaymentKind_REGULAR
	servicetest.WantVersion0Migrated(t, servicetest.Version0[*Store]{
		File: "pension.db", Buckets: append(projectionBuckets, v1Buckets...), Meta: bucketMeta, Version: storageSchema.Version,
		Records: func(tx *bolt.Tx) error {
			return errors.Join(
				boltstoretest.PutProto(tx, "payments", id+"\x002026-05", payment),
				boltstoretest.PutProto(tx, "projection_retirees", id, state),
			)
		},
		Open: func(path string) (*Store, error) {
			return OpenStore(path, testKeyer(t), StoreOptions{Logger: zaptest.NewLogger(t)})
		},
		Reads: func(s *Store) []servicetest.Read {
			return []servicetest.Read{
				{Name: "payments", Read: func() (any, error) {
					m, _ := parseMonth("2026-05")
					return s.Payments(id, m, m)
				}, Want: []*pb.Payment{migrated}},
				{Name: "projected retiree", Read: func() (any, error) { return s.Retiree(id) }, Want: state},
			}
		},
	})
}

// TestOpenStoreMigratesPaymentsToVersion2 opens a file of storage version
// 1, where a payment was one (retiree, month) keyed retiree id, 0, month,
// with a corrected payment among them, and reads the payments back under
// their version-2 keys with their kinds.
func TestOpenStoreMigratesPaymentsToVersion2(t *testing.T) {
	t.Parallel()
	a, b := retireeID(1), retireeID(2)
	pay := func(id, m, paidOn string, basic int64, version int32) *pb.Payment {
		return &pb.Payment{
			RetireeId: id, Month: m, BasicFen: basic, TotalFen: basic,
			PaidOn: paidOn, BatchId: "B1", Version: version,
		}
	}
	// a's May payment was corrected once, its first version paid on
	// another day; b's March payment was paid after the end of April,
	// which version 1 refused but the migration still names by the rule.
	aMay1, aMay2 := pay(a, "2026-05", "2026-05-10", 300000, 1), pay(a, "2026-05", "2026-05-12", 310000, 2)
	aJune := pay(a, "2026-06", "2026-06-10", 310000, 1)
	bMarch := pay(b, "2026-03", "2026-05-02", 200000, 1)
	path := filepath.Join(t.TempDir(), "pension.db")
	secret := bytes.Repeat([]byte{7}, 32)
	boltstoretest.WriteFile(t, path, append(projectionBuckets, v1Buckets...), func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(1)),
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.PutProto(tx, "payments", a+"\x002026-05", aMay2),
			boltstoretest.PutProto(tx, "payments", a+"\x002026-06", aJune),
			boltstoretest.PutProto(tx, "payments", b+"\x002026-03", bMarch),
			boltstoretest.PutProto(tx, "payment_versions", a+"\x002026-05\x00"+string(boltstore.U64(1)), aMay1),
		)
	})
	s, err := OpenStore(path, testKeyer(t), StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, storageSchema.Version, secret)

	kind := func(p *pb.Payment, k pb.PaymentKind) *pb.Payment {
		p = proto.Clone(p).(*pb.Payment)
		p.Kind = k
		return p
	}
	regular, arrears := pb.PaymentKind_REGULAR, pb.PaymentKind_ARREARS
	may, _ := parseMonth("2026-05")
	march, _ := parseMonth("2026-03")
	servicetest.WantReads(t, []servicetest.Read{
		{Name: "a's payments", Read: func() (any, error) { return s.Payments(a, may, may+1) }, Want: []*pb.Payment{kind(aMay2, regular), kind(aJune, regular)}},
		{Name: "a's May versions", Read: func() (any, error) { return s.PaymentVersions(a, may) }, Want: []*pb.Payment{kind(aMay2, regular), kind(aMay1, regular)}},
		{Name: "b's late March payment", Read: func() (any, error) { return s.Payments(b, march, march) }, Want: []*pb.Payment{kind(bMarch, arrears)}},
		{Name: "the keys", Read: func() (any, error) { return bucketKeys(t, s, bucketPayments, bucketPaymentVersions), nil }, Want: []string{
			// In key order: b's id sorts before a's.
			string(paymentKey(nil, b, march, "2026-05-02", arrears)),
			string(paymentKey(nil, a, may, "2026-05-12", regular)),
			string(paymentKey(nil, a, may+1, "2026-06-10", regular)),
			string(versionKey(nil, paymentKey(nil, a, may, "2026-05-12", regular), 1)),
		}},
	})
}

// bucketKeys returns the keys of the buckets, in order, as strings.
func bucketKeys(t *testing.T, s *Store, buckets ...[]byte) []string {
	t.Helper()
	var out []string
	err := s.DB().View(func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if err := tx.Bucket(b).ForEach(func(k, _ []byte) error {
				out = append(out, string(k))
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenStoreMigratesAnomalySignalsByRetiree opens a file of storage
// version 8 whose signalled anomalies are filed by community, as a move
// left them: retiree 1's May MISSING under A and under B with its signal
// open for B, and retiree 2's April MISSING under A with its signal
// resolved (A's sweep resolved it, B's entry would have blocked it). The
// migration files the open one by retiree with B and drops the others.
func TestOpenStoreMigratesAnomalySignalsByRetiree(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "pension.db")
	secret := bytes.Repeat([]byte{7}, 32)
	var v8Buckets [][]byte
	for _, b := range append(projectionBuckets, allBuckets...) {
		if bytes.Equal(b, bucketAnomalySignalled) {
			b = bucketAnomalySignalledV8
		}
		v8Buckets = append(v8Buckets, b)
	}
	r1, r2 := retireeID(1), retireeID(2)
	old := func(community, m, id string) string {
		return string(append(boltstore.Prefix(community, m, id), byte(pb.AnomalyKind_MISSING)))
	}
	open := &pb.Anomaly{Kind: pb.AnomalyKind_MISSING, RetireeId: r1, Month: "2026-05"}
	ev := &feedv1.SignalEvent{Revision: 2, Entry: feedv1.EntryKind_CHANGE, Signal: anomalySignal(open, communityB)}
	boltstoretest.WriteFile(t, path, v8Buckets, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(8)),
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.Put(tx, "anomaly_signalled", old(communityA, "2026-05", r1), nil),
			boltstoretest.Put(tx, "anomaly_signalled", old(communityB, "2026-05", r1), nil),
			boltstoretest.Put(tx, "anomaly_signalled", old(communityA, "2026-04", r2), nil),
			boltstoretest.PutProto(tx, "signalfeed_open", ev.Signal.Key, ev),
			boltstoretest.Put(tx, "signalfeed_meta", "head", boltstore.U64(3)),
			boltstoretest.Put(tx, "signalfeed_meta", "oldest", boltstore.U64(1)),
		)
	})
	s, err := OpenStore(path, testKeyer(t), StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	servicetest.WantMigrated(t, s, bucketMeta, storageSchema.Version, secret)
	got := map[string]string{}
	err = s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketAnomalySignalledV8) != nil {
			return errors.New("the version 8 bucket is still there")
		}
		return tx.Bucket(bucketAnomalySignalled).ForEach(func(k, v []byte) error {
			got[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{string(anomalySignalledKey(r1, "2026-05", pb.AnomalyKind_MISSING)): communityB}
	if !maps.Equal(got, want) {
		t.Errorf("signalled anomalies after the migration %q, want %q", got, want)
	}
}
