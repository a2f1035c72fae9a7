package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func pubOf(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

// verifyDB runs Verify on db.
func verifyDB(t *testing.T, db *bolt.DB, service string, keys ...ed25519.PublicKey) (Report, error) {
	t.Helper()
	var r Report
	var verr error
	if err := db.View(func(tx *bolt.Tx) error {
		r, verr = Verify(tx, service, keys)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return r, verr
}

// writeChained fills a log of the service "registry" signed by key with
// n entries, from reads and from a change's own transaction, every
// fifth entry checkpointed, and closes it; it returns the file's path.
func writeChained(t *testing.T, key ed25519.PrivateKey, n int) string {
	t.Helper()
	db := openDB(t)
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	l := newLog(t, db, Options{
		Logger: zaptest.NewLogger(t), Now: func() time.Time { return at }, DurableReads: true,
		Checkpoints: Checkpoints{Service: "registry", Key: key, Every: 5},
	})
	actor := Actor{Subject: "clerk-7", Role: "clerk", RequestID: "r"}
	for i := range n {
		var err error
		if i%3 == 2 {
			err = db.Update(func(tx *bolt.Tx) error {
				return Put(tx, NewEntry(actor, "UpdateRetiree", "aaaaaaaaaaaaaaaa", at))
			})
		} else {
			err = l.Record(context.Background(), actor, fmt.Sprintf("GetRetiree%d", i), "aaaaaaaaaaaaaaaa")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyOf copies the file at path for a test to damage, and opens the copy.
func copyOf(t *testing.T, path string) *bolt.DB {
	t.Helper()
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := src.View(func(tx *bolt.Tx) error { return tx.CopyFile(dst, 0o600) }); err != nil {
		t.Fatal(err)
	}
	src.Close()
	db, err := bolt.Open(dst, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestChainVerifies(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	path := writeChained(t, key, 23)
	db := copyOf(t, path)
	r, err := verifyDB(t, db, "registry", pubOf(newKey(t)), pubOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if r.Entries != 23 || r.Head != 23 {
		t.Errorf("checked %d entries up to %d, want 23", r.Entries, r.Head)
	}
	// Every fifth entry at least, and the last one at Close.
	if r.Checkpoints < 4 || r.Signed != 23 || r.Unsigned() != 0 {
		t.Errorf("%d checkpoints, the last at %d; want at least 4, the last at 23", r.Checkpoints, r.Signed)
	}
	if got := entriesOf(t, db, "aaaaaaaaaaaaaaaa"); len(got) != 23 {
		t.Errorf("List reads %d chained entries, want 23", len(got))
	}
}

// TestVerifyNamesTheFirstBadEntry damages a copy of a verified log, one
// way per case, and checks that Verify names the entry or checkpoint.
func TestVerifyNamesTheFirstBadEntry(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	path := writeChained(t, key, 23)
	cps := checkpointsOf(t, path)
	firstFrom := func(seq uint64) uint64 {
		for _, c := range cps {
			if c >= seq {
				return c
			}
		}
		t.Fatalf("no checkpoint from entry %d in %v", seq, cps)
		return 0
	}
	for _, tc := range []struct {
		name    string
		damage  func(b *bolt.Bucket) error
		keys    []ed25519.PublicKey
		service string
		want    VerifyError
		says    string
	}{
		{
			name:   "a byte of an entry's content flipped",
			damage: flip(logKey(12), hashLen+3),
			want:   VerifyError{Seq: 12}, says: "was changed",
		},
		{
			name:   "a byte of an entry's hash flipped",
			damage: flip(logKey(7), 0),
			want:   VerifyError{Seq: 7}, says: "was changed",
		},
		{
			name:   "an entry deleted",
			damage: func(b *bolt.Bucket) error { return b.Delete(logKey(9)) },
			want:   VerifyError{Seq: 9}, says: "missing",
		},
		{
			name:   "the last entries deleted, the checkpoint that signs them kept",
			damage: deleteFrom(21),
			want:   VerifyError{Seq: 21}, says: "the log was cut short",
		},
		{
			name: "the last entries and their checkpoints deleted",
			damage: func(b *bolt.Bucket) error {
				err := deleteFrom(21)(b)
				for _, c := range cps {
					if c >= 21 {
						err = errors.Join(err, b.Delete(checkpointKey(c)))
					}
				}
				return err
			},
			want: VerifyError{Seq: 21}, says: "the end of the log was deleted",
		},
		{
			name:   "a checkpoint's signature flipped",
			damage: flip(checkpointKey(23), checkpointLen-1),
			want:   VerifyError{Seq: 23, Checkpoint: true}, says: "its signature is not key",
		},
		{
			name:   "an entry changed and the chain after it recomputed, without the key",
			damage: rewriteFrom(14),
			want:   VerifyError{Seq: firstFrom(14), Checkpoint: true}, says: "signs another chain",
		},
		{
			name: "verified with another key",
			keys: []ed25519.PublicKey{pubOf(newKey(t))},
			want: VerifyError{Seq: cps[0], Checkpoint: true}, says: "not among the public keys given",
		},
		{
			name: "verified as another service's log", service: "pension",
			want: VerifyError{Seq: cps[0], Checkpoint: true}, says: "or it is another service's",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := copyOf(t, path)
			if tc.damage != nil {
				if err := db.Update(func(tx *bolt.Tx) error { return tc.damage(tx.Bucket(Bucket)) }); err != nil {
					t.Fatal(err)
				}
			}
			keys, service := tc.keys, tc.service
			if keys == nil {
				keys = []ed25519.PublicKey{pubOf(key)}
			}
			if service == "" {
				service = "registry"
			}
			_, err := verifyDB(t, db, service, keys...)
			var verr *VerifyError
			if !errors.As(err, &verr) {
				t.Fatalf("Verify = %v, want a *VerifyError", err)
			}
			if verr.Seq != tc.want.Seq || verr.Checkpoint != tc.want.Checkpoint {
				t.Errorf("Verify: %v; want it at entry %d (checkpoint %v)", err, tc.want.Seq, tc.want.Checkpoint)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Verify: %q, want it to say %q", err, tc.says)
			}
		})
	}
}

// checkpointsOf lists the entries the checkpoints of the file at path
// sign, in order.
func checkpointsOf(t *testing.T, path string) []uint64 {
	t.Helper()
	db := copyOf(t, path)
	var out []uint64
	if err := db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(Bucket).Cursor()
		for k, _ := c.Seek([]byte{prefixCheckpoint}); k != nil && k[0] == prefixCheckpoint; k, _ = c.Next() {
			out = append(out, cpSeq(k))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) < 2 || out[len(out)-1] != 23 {
		t.Fatalf("checkpoints %v, want several, the last at 23", out)
	}
	return out
}

// flip returns a damage that flips the byte at i of the value at k.
func flip(k []byte, i int) func(b *bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		v := append([]byte(nil), b.Get(k)...)
		if len(v) <= i {
			return fmt.Errorf("no byte %d in %x", i, k)
		}
		v[i] ^= 0x20
		return b.Put(k, v)
	}
}

// deleteFrom returns a damage that deletes the entries from seq on and
// leaves the head record and the checkpoints as they were.
func deleteFrom(seq uint64) func(b *bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		for s := seq; b.Get(logKey(s)) != nil; s++ {
			if err := b.Delete(logKey(s)); err != nil {
				return err
			}
		}
		return nil
	}
}

// rewriteFrom returns a damage that changes the subject of entry seq and
// recomputes the chain hashes of it and every entry after it: all an
// editor without the audit key can do.
func rewriteFrom(seq uint64) func(b *bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		prev := [hashLen]byte{}
		if seq > 1 {
			copy(prev[:], b.Get(logKey(seq - 1))[:hashLen])
		}
		for s := seq; b.Get(logKey(s)) != nil; s++ {
			var e registryv1.AuditEntry
			if err := decodeEntry(b.Get(logKey(s)), &e); err != nil {
				return err
			}
			if s == seq {
				e.Subject = "someone-else"
			}
			content, err := marshalEntry.Marshal(&e)
			if err != nil {
				return err
			}
			sum := chainHash(&prev, s, content)
			if err := b.Put(logKey(s), append(sum[:], content...)); err != nil {
				return err
			}
			prev = sum
		}
		return nil
	}
}

// TestMigrationChainsExistingEntries writes a log as builds before the
// chain did (bare entries), more than one batch of them, migrates it,
// and checks that the Log chains them, keeping their bytes, signs them,
// and goes on appending after them.
func TestMigrationChainsExistingEntries(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	n := 2*legacyBatch + 7
	legacy := make(map[uint64][]byte, n)
	if err := db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		for i := range n {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			v, err := proto.Marshal(NewEntry(Actor{Subject: "old"}, "GetRetiree", fmt.Sprintf("%016d", i%50), time.Unix(int64(i), 0)))
			if err != nil {
				return err
			}
			legacy[seq] = v
			if err := b.Put(logKey(seq), v); err != nil {
				return err
			}
		}
		return Migration(1).Apply(tx)
	}); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), DurableReads: true, Checkpoints: Checkpoints{Service: "activity", Key: key}})
	r, err := verifyDB(t, db, "activity", pubOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if r.Head != uint64(n) || r.Signed != uint64(n) {
		t.Errorf("after migration: head %d, signed through %d; want both %d", r.Head, r.Signed, n)
	}
	if err := db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(Bucket)
		for seq, v := range legacy {
			if got := b.Get(logKey(seq))[hashLen:]; string(got) != string(v) {
				return fmt.Errorf("entry %d: stored bytes changed by the migration", seq)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), Actor{Subject: "new"}, "GetRetiree", "0000000000000001"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r, err := verifyDB(t, db, "activity", pubOf(key)); err != nil || r.Head != uint64(n)+1 || r.Unsigned() != 0 {
		t.Errorf("after a new entry: %+v, %v", r, err)
	}
	if got := entriesOf(t, db, "0000000000000001"); len(got) != n/50+2 {
		t.Errorf("List reads %d entries of a retiree, want %d", len(got), n/50+2)
	}
}

// TestVerifyRefusesAnUnfinishedMigration: a migrated file whose Log never
// started cannot be verified, and says why.
func TestVerifyRefusesAnUnfinishedMigration(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(Bucket).Put(logKey(1), []byte{0x22, 0x01, 'x'}); err != nil {
			return err
		}
		return Migration(1).Apply(tx)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyDB(t, db, "registry"); !errors.Is(err, ErrNotVerifiable) {
		t.Errorf("Verify = %v, want ErrNotVerifiable", err)
	}
}

// TestCheckpointAfterInterval: entries that changes write in their own
// transactions, fewer than Every, are signed once the interval passes.
func TestCheckpointAfterInterval(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	key := newKey(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), Checkpoints: Checkpoints{Service: "registry", Key: key, Interval: 5 * time.Millisecond}})
	defer l.Close()
	for range 3 {
		if err := db.Update(func(tx *bolt.Tx) error {
			return Put(tx, NewEntry(Actor{Subject: "s"}, "UpdateRetiree", "aaaaaaaaaaaaaaaa", time.Now()))
		}); err != nil {
			t.Fatal(err)
		}
	}
	waitfor.NoError(t, "a checkpoint of the three entries", func(context.Context) error {
		r, err := verifyDB(t, db, "registry", pubOf(key))
		if err != nil {
			return waitfor.Permanent(err)
		}
		if r.Signed != 3 {
			return fmt.Errorf("signed through %d of 3", r.Signed)
		}
		return nil
	})
}

// TestNoKeyNoCheckpoints: without a key the chain is kept and verifies,
// all of it unsigned.
func TestNoKeyNoCheckpoints(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := newLog(t, db, Options{DurableReads: true})
	if err := l.Record(context.Background(), Actor{}, "GetRetiree", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r, err := verifyDB(t, db, "registry")
	if err != nil || r.Entries != 2 || r.Checkpoints != 0 || r.Unsigned() != 2 {
		t.Errorf("Verify = %+v, %v; want 2 entries, unsigned", r, err)
	}
}

// TestCheckpointSurvivesReopen: a reopened log goes on from its stored
// head and checkpoints, and does not sign twice what is signed.
func TestCheckpointSurvivesReopen(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	path := writeChained(t, key, 8)
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := newLog(t, db, Options{DurableReads: true, Checkpoints: Checkpoints{Service: "registry", Key: key}})
	before, err := verifyDB(t, db, "registry", pubOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(context.Background(), Actor{}, "GetRetiree", "aaaaaaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	l.Close()
	after, err := verifyDB(t, db, "registry", pubOf(key))
	if err != nil {
		t.Fatal(err)
	}
	if after.Head != 9 || after.Checkpoints != before.Checkpoints+1 {
		t.Errorf("after reopening: %+v, before %+v; want one more entry and one more checkpoint", after, before)
	}
}

// FuzzVerify: a backup handed to `socmgmt audit verify` is outside input.
// Whatever an entry or a checkpoint holds, Verify answers a report or an
// error, never a panic, and never calls damaged data sound.
func FuzzVerify(f *testing.F) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	f.Add([]byte{0x0a, 0x00}, []byte{checkpointFormat}, uint8(1))
	f.Add(make([]byte, hashLen+4), make([]byte, checkpointLen), uint8(2))
	f.Add([]byte{}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, entry, cp []byte, at uint8) {
		db, err := bolt.Open(filepath.Join(t.TempDir(), "f.db"), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		seq := uint64(at%3) + 1
		err = db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucket(Bucket)
			if err != nil {
				return err
			}
			var h head
			for range 2 {
				if err := appendEntry(b, &h, NewEntry(Actor{Subject: "s"}, "GetRetiree", "aaaaaaaaaaaaaaaa", time.Unix(0, 0))); err != nil {
					return err
				}
			}
			if err := b.Put(logKey(seq), entry); err != nil {
				return err
			}
			return b.Put(checkpointKey(seq), cp)
		})
		if err != nil {
			t.Fatal(err)
		}
		r, verr := verifyDB(t, db, "registry", pubOf(key))
		if verr == nil && r.Checkpoints > 0 {
			t.Fatalf("a checkpoint of fuzzed bytes verified: %+v", r)
		}
	})
}
