package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// hashLen is the length of a chain hash.
const hashLen = sha256.Size

// Domain separators: a chain hash and a checkpoint's signed message can
// never be taken for each other, or for anything else signed with the
// same key.
var (
	chainDomain      = []byte("socmgmt audit chain v1\x00")
	checkpointDomain = []byte("socmgmt audit checkpoint v1\x00")
)

// marshalEntry encodes entries deterministically. The chain covers the
// stored bytes themselves, never a re-encoding, so a decoder's leniency
// cannot hide an edit; deterministic output only keeps the stored form
// the same from build to build.
var marshalEntry = proto.MarshalOptions{Deterministic: true}

// head is the last entry of the chain: its sequence and chain hash. The
// zero head, before the first entry, has the zero hash.
type head struct {
	seq  uint64
	hash [hashLen]byte
}

func readHead(b *bolt.Bucket) (head, error) {
	k := lastKey(b, prefixLog)
	if k == nil {
		return head{}, nil
	}
	return headOf(k, b.Get(k))
}

// headOf is the head that the entry stored at k with value v makes.
func headOf(k, v []byte) (head, error) {
	seq, err := boltstore.ParseU64(k[1:])
	if err != nil {
		return head{}, err
	}
	if len(v) < hashLen {
		return head{}, fmt.Errorf("audit entry %d is shorter than its chain hash", seq)
	}
	h := head{seq: seq}
	copy(h.hash[:], v)
	return h, nil
}

func encodeHead(h head) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+hashLen), h.seq), h.hash[:]...)
}

func decodeHead(v []byte) (head, error) {
	if len(v) != 8+hashLen {
		return head{}, fmt.Errorf("audit chain mark is %d bytes, want %d", len(v), 8+hashLen)
	}
	h := head{seq: binary.BigEndian.Uint64(v)}
	copy(h.hash[:], v[8:])
	return h, nil
}

// chainHash is the chain hash of the entry at seq whose stored encoding
// is entry, following the entry whose chain hash is prev:
// SHA-256(chainDomain, seq as 8 big-endian bytes, prev, entry). It binds
// the entry's content, its place and everything before it.
func chainHash(prev *[hashLen]byte, seq uint64, entry []byte) [hashLen]byte {
	h := sha256.New()
	h.Write(chainDomain)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], seq)
	h.Write(n[:])
	h.Write(prev[:])
	h.Write(entry)
	var sum [hashLen]byte
	h.Sum(sum[:0])
	return sum
}

// appendEntry stores e as the log's next entry, chained to h, and moves h
// to it. The entry takes the bucket's next sequence, which follows h
// unless the file was tampered with; if it does not, the entry is chained
// all the same and Verify reports the gap, rather than every later write
// failing.
func appendEntry(b *bolt.Bucket, h *head, e *registryv1.AuditEntry) error {
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	v := make([]byte, hashLen, hashLen+marshalEntry.Size(e))
	if v, err = marshalEntry.MarshalAppend(v, e); err != nil {
		return err
	}
	sum := chainHash(&h.hash, seq, v[hashLen:])
	copy(v, sum[:])
	if err := b.Put(logKey(seq), v); err != nil {
		return err
	}
	h.seq, h.hash = seq, sum
	return nil
}

// Checkpoints configure how a Log signs its chain.
type Checkpoints struct {
	// Service names the service in every signed checkpoint ("registry"),
	// so that one service's checkpoint never verifies for another's log.
	Service string
	// Key signs the checkpoints: the service's audit key. Nil writes none;
	// the chain is kept all the same.
	Key ed25519.PrivateKey
	// Every is how many entries may follow the last checkpoint before the
	// committer signs the next one; 0 means DefaultCheckpointEvery.
	Every int
	// Interval is how long an entry may wait for a checkpoint when fewer
	// than Every follow it; 0 means DefaultCheckpointInterval.
	Interval time.Duration
}

// Defaults of Checkpoints: at a few thousand audited reads a second, a
// signature (tens of microseconds) every thousand entries is noise.
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = time.Minute
)

func (c Checkpoints) withDefaults() Checkpoints {
	if c.Every <= 0 {
		c.Every = DefaultCheckpointEvery
	}
	if c.Interval <= 0 {
		c.Interval = DefaultCheckpointInterval
	}
	return c
}

// KeyID is the id a checkpoint names its key by: the first 8 bytes of the
// SHA-256 of the public key, in hex. The service logs it at start, and
// `socmgmt audit verify` finds the key to check a checkpoint with by it.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:keyIDLen])
}

// A stored checkpoint, under 0x03 seq:
//
//	format (1), time (8, Unix nanoseconds), chain hash at seq (32),
//	key id (8), Ed25519 signature (64)
//
// The signature is over checkpointMessage.
const (
	checkpointFormat = 1
	keyIDLen         = 8
	checkpointLen    = 1 + 8 + hashLen + keyIDLen + ed25519.SignatureSize
)

// checkpoint is a decoded stored checkpoint.
type checkpoint struct {
	seq   uint64
	at    time.Time
	hash  [hashLen]byte
	keyID [keyIDLen]byte
	sig   []byte
}

func checkpointKey(seq uint64) []byte {
	return boltstore.AppendU64([]byte{prefixCheckpoint}, seq)
}

// checkpointMessage is what a checkpoint's key signs: the domain, the
// service's name, the entry's sequence, its chain hash and the time.
func checkpointMessage(service string, seq uint64, hash *[hashLen]byte, at time.Time) []byte {
	m := append([]byte(nil), checkpointDomain...)
	m = append(m, service...)
	m = append(m, 0)
	m = binary.BigEndian.AppendUint64(m, seq)
	m = append(m, hash[:]...)
	return binary.BigEndian.AppendUint64(m, uint64(at.UnixNano())) //nolint:gosec // G115: a time after 1970, bit for bit
}

// putCheckpoint signs h at time at and stores the checkpoint.
func putCheckpoint(b *bolt.Bucket, c Checkpoints, h head, at time.Time) error {
	at = time.Unix(0, at.UnixNano()) // what is stored, to the nanosecond
	sig := ed25519.Sign(c.Key, checkpointMessage(c.Service, h.seq, &h.hash, at))
	id := sha256.Sum256(c.Key.Public().(ed25519.PublicKey))
	v := make([]byte, 0, checkpointLen)
	v = append(v, checkpointFormat)
	v = binary.BigEndian.AppendUint64(v, uint64(at.UnixNano())) //nolint:gosec // G115: as in checkpointMessage
	v = append(v, h.hash[:]...)
	v = append(v, id[:keyIDLen]...)
	v = append(v, sig...)
	return b.Put(checkpointKey(h.seq), v)
}

// decodeCheckpoint reads the checkpoint stored at key k with value v.
func decodeCheckpoint(k, v []byte) (checkpoint, error) {
	var c checkpoint
	seq, err := boltstore.ParseU64(k[1:])
	if err != nil {
		return c, err
	}
	if len(v) != checkpointLen || v[0] != checkpointFormat {
		return c, errors.New("not a checkpoint of a format this build reads")
	}
	c.seq = seq
	c.at = time.Unix(0, int64(binary.BigEndian.Uint64(v[1:9]))) //nolint:gosec // G115: as in checkpointMessage
	copy(c.hash[:], v[9:9+hashLen])
	copy(c.keyID[:], v[9+hashLen:9+hashLen+keyIDLen])
	c.sig = v[9+hashLen+keyIDLen:]
	return c, nil
}

// lastCheckpoint returns the sequence of the newest checkpoint, 0 when
// there is none.
func lastCheckpoint(b *bolt.Bucket) (uint64, error) {
	k := lastKey(b, prefixCheckpoint)
	if k == nil {
		return 0, nil
	}
	return boltstore.ParseU64(k[1:])
}

// CheckpointsOf returns the Checkpoints a service program configures:
// its name, its audit key (loaded now, so that a bad file stops the start
// before the database is opened) and its flags' cadence.
func CheckpointsOf(c *grpcserver.ServiceConfig) (Checkpoints, error) {
	key, err := c.AuditSigningKey()
	if err != nil {
		return Checkpoints{}, err
	}
	return Checkpoints{Service: c.Name, Key: key, Every: c.AuditCheckpointEvery, Interval: c.AuditCheckpointInterval}, nil
}

// StartingFields are the fields of a service's "starting" line that say
// how it signs its audit log: the id of its audit key, which `socmgmt
// audit verify` names when a checkpoint's key is missing.
func (c Checkpoints) StartingFields() []zap.Field {
	if c.Key == nil {
		return []zap.Field{zap.String("audit_key", "none")}
	}
	return []zap.Field{
		zap.String("audit_key", KeyID(c.Key.Public().(ed25519.PublicKey))),
		zap.Int("audit_checkpoint_every", c.Every), zap.Duration("audit_checkpoint_interval", c.Interval),
	}
}
