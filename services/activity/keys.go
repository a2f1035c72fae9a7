package activity

import (
	"encoding/binary"
	"fmt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Slot states, the last byte of a slot value. A cancelled activity's
// slots stay listed but no longer clash.
const (
	slotScheduled byte = 0
	slotCancelled byte = 1
)

// keyU64 carries n in a key or value field as its two's-complement bits,
// which keyI64 turns back into n exactly. The times stored fall in the
// years 2000 to 2099 and positions count up from 1, so none is negative and
// their big-endian bytes sort as the numbers do.
func keyU64(n int64) uint64 { return uint64(n) } //nolint:gosec // G115: reinterpreted, not narrowed; keyI64 reverses it

// keyI64 reverses keyU64.
func keyI64(u uint64) int64 { return int64(u) } //nolint:gosec // G115: reinterpreted, not narrowed; keyU64 made it

// slotKey is owner (venue or community id), 0, start, activity id, number.
func slotKey(owner string, start int64, activityID string, n int) []byte {
	k := boltstore.Prefix(owner)
	k = boltstore.AppendU64(k, keyU64(start))
	k = append(k, activityID...)
	return binary.BigEndian.AppendUint32(k, uint32(n)) //nolint:gosec // G115: a session number, at most maxSessions
}

// slotTimeKey is the part of a slot key up to its start: where a scan
// from that time begins.
func slotTimeKey(owner string, start int64) []byte {
	return boltstore.AppendU64(boltstore.Prefix(owner), keyU64(start))
}

// slot is a decoded slot entry.
type slot struct {
	start      int64
	activityID string
	number     int
	end        int64
	state      byte
}

// parseSlot decodes a slot entry whose key starts with prefix.
func parseSlot(prefix, k, v []byte) (slot, error) {
	rest := k[len(prefix):]
	if len(rest) != 8+idLen+4 || len(v) != 9 {
		return slot{}, fmt.Errorf("%w: slot entry", boltstore.ErrBadKey)
	}
	return slot{
		start:      keyI64(binary.BigEndian.Uint64(rest)),
		activityID: string(rest[8 : 8+idLen]),
		number:     int(binary.BigEndian.Uint32(rest[8+idLen:])),
		end:        keyI64(binary.BigEndian.Uint64(v)),
		state:      v[8],
	}, nil
}

func slotValue(end int64, state byte) []byte {
	return append(boltstore.U64(keyU64(end)), state)
}

// occurrenceKey is activity id, 0, number.
func occurrenceKey(activityID string, n int) []byte {
	return binary.BigEndian.AppendUint32(boltstore.Prefix(activityID), uint32(n)) //nolint:gosec // G115: a session number, at most maxSessions
}

func occurrenceValue(s span) []byte {
	return boltstore.AppendU64(boltstore.U64(keyU64(s.start)), keyU64(s.end))
}

func parseOccurrence(prefix, k, v []byte) (int, span, error) {
	rest := k[len(prefix):]
	if len(rest) != 4 || len(v) != 16 {
		return 0, span{}, fmt.Errorf("%w: occurrence entry", boltstore.ErrBadKey)
	}
	return int(binary.BigEndian.Uint32(rest)), span{
		start: keyI64(binary.BigEndian.Uint64(v)),
		end:   keyI64(binary.BigEndian.Uint64(v[8:])),
	}, nil
}

// registrationKey is activity id, 0, position.
func registrationKey(activityID string, pos uint64) []byte {
	return boltstore.AppendU64(boltstore.Prefix(activityID), pos)
}

// retireeRegistrationKey is retiree id, 0, register time (Unix
// nanoseconds), activity id: r's key in bucketRetireeRegistrations. It
// depends on nothing a registration's later changes (cancelled, promoted,
// its activity cancelled) touch, so only a new registration moves it.
func retireeRegistrationKey(r *pb.Registration) []byte {
	k := boltstore.Prefix(r.RetireeId)
	k = boltstore.AppendU64(k, keyU64(r.GetRegisterTime().AsTime().UnixNano()))
	return append(k, r.ActivityId...)
}

// registeredActivity returns the activity id of a key of
// bucketRetireeRegistrations that starts with prefix.
func registeredActivity(prefix, k []byte) (string, error) {
	if len(k) != len(prefix)+8+idLen {
		return "", fmt.Errorf("%w: retiree registration entry", boltstore.ErrBadKey)
	}
	return string(k[len(prefix)+8:]), nil
}

// sessionKey is activity id, 0, session start: the attendance-recorded
// key, and the prefix of the session's attendance entries.
func sessionKey(activityID string, start int64) []byte {
	return boltstore.AppendU64(boltstore.Prefix(activityID), keyU64(start))
}

// activityMeta is what registrations and reports need to know of an
// activity without reading its sessions: its counters and the span of its
// sessions. It is stored as fixed-width big-endian fields.
type activityMeta struct {
	// nextPosition is the position the next registration gets.
	nextPosition uint64
	confirmed    uint32
	waitlisted   uint32
	sessions     uint32
	firstStart   int64
	lastStart    int64
	lastEnd      int64
}

const activityMetaLen = 8 + 4 + 4 + 4 + 8 + 8 + 8

func (m activityMeta) encode() []byte {
	b := make([]byte, 0, activityMetaLen)
	b = binary.BigEndian.AppendUint64(b, m.nextPosition)
	b = binary.BigEndian.AppendUint32(b, m.confirmed)
	b = binary.BigEndian.AppendUint32(b, m.waitlisted)
	b = binary.BigEndian.AppendUint32(b, m.sessions)
	b = binary.BigEndian.AppendUint64(b, keyU64(m.firstStart))
	b = binary.BigEndian.AppendUint64(b, keyU64(m.lastStart))
	return binary.BigEndian.AppendUint64(b, keyU64(m.lastEnd))
}

func decodeMeta(b []byte) (activityMeta, error) {
	if len(b) != activityMetaLen {
		return activityMeta{}, fmt.Errorf("%w: activity meta of %d bytes", boltstore.ErrBadKey, len(b))
	}
	return activityMeta{
		nextPosition: binary.BigEndian.Uint64(b),
		confirmed:    binary.BigEndian.Uint32(b[8:]),
		waitlisted:   binary.BigEndian.Uint32(b[12:]),
		sessions:     binary.BigEndian.Uint32(b[16:]),
		firstStart:   keyI64(binary.BigEndian.Uint64(b[20:])),
		lastStart:    keyI64(binary.BigEndian.Uint64(b[28:])),
		lastEnd:      keyI64(binary.BigEndian.Uint64(b[36:])),
	}, nil
}
