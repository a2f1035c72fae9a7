package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// Report is what Verify found in a log that verifies.
type Report struct {
	// Entries is the number of entries checked, Head the sequence of the
	// last.
	Entries, Head uint64
	// Checkpoints is the number of checkpoints whose hash and signature
	// were checked.
	Checkpoints int
	// Signed is the sequence of the last entry a checkpoint signs (0 when
	// none does), SignedAt that checkpoint's time.
	Signed   uint64
	SignedAt time.Time
}

// Unsigned is how many entries follow the last checkpoint: chained, but
// not yet signed, so that whoever can write the file could still have
// rewritten them.
func (r Report) Unsigned() uint64 { return r.Head - r.Signed }

// VerifyError names the first entry, or the checkpoint, at which a log
// does not verify, and why.
type VerifyError struct {
	// Seq is the sequence of the entry, or of the entry the checkpoint
	// signs.
	Seq uint64
	// Checkpoint says that the checkpoint at Seq failed, not the entry.
	Checkpoint bool
	// Reason says what is wrong, for an operator.
	Reason string
}

func (e *VerifyError) Error() string {
	if e.Checkpoint {
		return fmt.Sprintf("the checkpoint at entry %d does not verify: %s", e.Seq, e.Reason)
	}
	return fmt.Sprintf("entry %d does not verify: %s", e.Seq, e.Reason)
}

// ErrNotVerifiable is wrapped by Verify's error for a file whose audit
// log cannot be checked at all (no audit log, a chain not finished).
var ErrNotVerifiable = errors.New("audit log cannot be verified")

// Verify walks the audit log of the service named service in tx, entry
// by entry and checkpoint by checkpoint, and returns a *VerifyError
// naming the first entry or checkpoint that does not verify: an entry
// whose hash does not follow from its content and the chain before it
// (changed, or moved), a missing entry (deleted), a checkpoint whose
// signature does not verify under keys or that signs another chain.
// Entries after the last checkpoint are checked as a chain; whether
// someone rewrote them all cannot be told (see Report.Unsigned).
func Verify(tx *bolt.Tx, service string, keys []ed25519.PublicKey) (Report, error) {
	var r Report
	b := tx.Bucket(Bucket)
	if b == nil {
		return r, fmt.Errorf("%w: the file has no audit log", ErrNotVerifiable)
	}
	if b.Get(keyLegacy) != nil {
		return r, fmt.Errorf("%w: the chain is not finished (the service chains a migrated log when it starts: start it once)", ErrNotVerifiable)
	}
	w := walker{r: &r, service: service, keys: keyMap(keys), cps: b.Cursor()}
	w.nextCP, w.nextCPv = w.cps.Seek([]byte{prefixCheckpoint})
	c := b.Cursor()
	for k, v := c.Seek([]byte{prefixLog}); k != nil && k[0] == prefixLog; k, v = c.Next() {
		seq, err := boltstore.ParseU64(k[1:])
		if err != nil {
			return r, &VerifyError{Seq: r.Head + 1, Reason: "a key of the log is not a sequence number"}
		}
		if err := w.entry(seq, v); err != nil {
			return r, err
		}
	}
	if err := w.rest(); err != nil {
		return r, err
	}
	return r, w.headRecord(b)
}

// walker is Verify's state between entries.
type walker struct {
	r       *Report
	service string
	keys    map[string]ed25519.PublicKey
	// prev is the chain hash of the last entry walked.
	prev [hashLen]byte
	// cps walks the checkpoints beside the entries; nextCP is the next
	// one's key, nil past the last.
	cps             *bolt.Cursor
	nextCP, nextCPv []byte
}

// entry checks the entry at seq with stored value v, then the
// checkpoints up to it.
func (w *walker) entry(seq uint64, v []byte) error {
	want := w.r.Head + 1
	if seq != want {
		return &VerifyError{Seq: want, Reason: fmt.Sprintf("it is missing (the log goes on at entry %d): deleted", seq)}
	}
	if len(v) < hashLen {
		return &VerifyError{Seq: seq, Reason: "it is shorter than a chain hash: damaged"}
	}
	sum := chainHash(&w.prev, seq, v[hashLen:])
	if !bytes.Equal(sum[:], v[:hashLen]) {
		return &VerifyError{Seq: seq, Reason: "its hash does not follow from its content and the entry before it: it, or an entry before it, was changed"}
	}
	w.prev = sum
	w.r.Head, w.r.Entries = seq, w.r.Entries+1
	return w.checkpointsThrough(seq)
}

// checkpointsThrough checks every checkpoint up to entry seq, whose chain
// hash is w.prev.
func (w *walker) checkpointsThrough(seq uint64) error {
	for ; w.nextCP != nil && w.nextCP[0] == prefixCheckpoint; w.nextCP, w.nextCPv = w.cps.Next() {
		cp, err := decodeCheckpoint(w.nextCP, w.nextCPv)
		if err != nil {
			return &VerifyError{Seq: cpSeq(w.nextCP), Checkpoint: true, Reason: err.Error()}
		}
		if cp.seq > seq {
			return nil
		}
		if cp.seq < seq {
			// Its entry was walked past: the walk would have stopped
			// at a gap, so a checkpoint of sequence 0 is all it can be.
			return &VerifyError{Seq: cp.seq, Checkpoint: true, Reason: "it signs no entry"}
		}
		if err := w.check(cp); err != nil {
			return err
		}
	}
	return nil
}

// check verifies cp, the checkpoint of the entry just walked.
func (w *walker) check(cp checkpoint) error {
	pub := w.keys[hex.EncodeToString(cp.keyID[:])]
	if pub == nil {
		return &VerifyError{Seq: cp.seq, Checkpoint: true,
			Reason: fmt.Sprintf("it is signed by key %x, which is not among the public keys given", cp.keyID)}
	}
	if !ed25519.Verify(pub, checkpointMessage(w.service, cp.seq, &cp.hash, cp.at), cp.sig) {
		return &VerifyError{Seq: cp.seq, Checkpoint: true,
			Reason: fmt.Sprintf("its signature is not key %x's over %s's chain: the checkpoint was changed, or it is another service's", cp.keyID, w.service)}
	}
	if cp.hash != w.prev {
		return &VerifyError{Seq: cp.seq, Checkpoint: true,
			Reason: "it signs another chain than the log holds: entries up to it were rewritten"}
	}
	w.r.Checkpoints++
	w.r.Signed, w.r.SignedAt = cp.seq, cp.at
	return nil
}

// rest checks what follows the last entry: a checkpoint there signs
// entries that are gone.
func (w *walker) rest() error {
	if w.nextCP == nil || w.nextCP[0] != prefixCheckpoint {
		return nil
	}
	return &VerifyError{Seq: w.r.Head + 1,
		Reason: fmt.Sprintf("it is missing, and so are the entries up to %d, which a checkpoint signs: the log was cut short", cpSeq(w.nextCP))}
}

// headRecord checks the bucket's sequence, which bbolt keeps apart from
// the entries, against the last entry: a sequence beyond it says the end
// of the log was deleted (the sequence itself is not signed, so this
// catches only a careless deletion).
func (w *walker) headRecord(b *bolt.Bucket) error {
	if b.Sequence() > w.r.Head {
		return &VerifyError{Seq: w.r.Head + 1, Reason: fmt.Sprintf("it is missing: the log's sequence reached %d, so the end of the log was deleted", b.Sequence())}
	}
	return nil
}

func cpSeq(k []byte) uint64 {
	seq, _ := boltstore.ParseU64(k[1:])
	return seq
}

func keyMap(keys []ed25519.PublicKey) map[string]ed25519.PublicKey {
	m := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		m[KeyID(k)] = k
	}
	return m
}
