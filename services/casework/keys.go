package casework

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// keyTime is t as an order-preserving key field: Unix seconds, big-endian.
// The times stored fall in the years 2000 to 2099, none negative.
func keyTime(t time.Time) []byte { return boltstore.U64(uint64(max(t.Unix(), 0))) }

// ceilSeconds is t rounded up to a whole second: a transition time the
// sweeper must not pass before it is due.
func ceilSeconds(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}

// queueKey is owner (community or assignee), 0, due, id.
func queueKey(owner string, due time.Time, id string) []byte {
	return append(append(boltstore.Prefix(owner), keyTime(due)...), id...)
}

// clockKey is community, 0, clock, due, id.
func clockKey(community string, clock pb.Clock, due time.Time, id string) []byte {
	k := append(boltstore.Prefix(community), enumByte(clock))
	return append(append(k, keyTime(due)...), id...)
}

// transitionKey is time, id.
func transitionKey(at time.Time, id string) []byte { return append(keyTime(at), id...) }

// closedKey is community, 0, close time, id.
func closedKey(community string, closed time.Time, id string) []byte {
	return append(append(boltstore.Prefix(community), keyTime(closed)...), id...)
}

// enumByte is an enum value as one key byte. The casework enums have
// fewer than 256 values, and requests are checked against their names
// before a value reaches a key.
func enumByte[E ~int32](e E) byte { return byte(e) } //nolint:gosec // G115: see above

// idxValue is what a queue index holds of an item beside its key, so that
// a filter on state, clock or kind skips an item without reading it:
// state, clock, kind (one byte each), then the community id.
type idxValue struct {
	state     pb.WorkState
	clock     pb.Clock
	kind      pb.WorkKind
	community string
}

func valueOf(it *pb.WorkItem) []byte {
	return append([]byte{enumByte(it.State), enumByte(it.Clock), enumByte(it.Kind)}, it.CommunityId...)
}

func parseValue(v []byte) (idxValue, error) {
	if len(v) < 3 {
		return idxValue{}, fmt.Errorf("%w: queue entry of %d bytes", boltstore.ErrBadKey, len(v))
	}
	return idxValue{pb.WorkState(v[0]), pb.Clock(v[1]), pb.WorkKind(v[2]), string(v[3:])}, nil
}

// idOfKey returns the item id that ends an index key.
func idOfKey(k []byte) (string, error) {
	if len(k) < idLen {
		return "", fmt.Errorf("%w: index key of %d bytes", boltstore.ErrBadKey, len(k))
	}
	return string(k[len(k)-idLen:]), nil
}

// idLen is the length of an item id (inputcheck.NewOpaqueID).
const idLen = inputcheck.OpaqueIDLen

// counts are the counters of one countKey: open items by clock, and how
// many of them wait.
type counts [4]int64

// countKey names a counter: "c", community, kind for a community's items
// (kind 0: all kinds), or "a", assignee, community, kind for those
// assigned to one person there.
func countKey(assignee, community string, kind pb.WorkKind) []byte {
	if assignee == "" {
		return append(boltstore.Prefix("c", community), enumByte(kind))
	}
	return append(boltstore.Prefix("a", assignee, community), enumByte(kind))
}

func (c counts) encode() []byte {
	b := make([]byte, 0, 32)
	for _, n := range c {
		b = binary.BigEndian.AppendUint64(b, uint64(n)) //nolint:gosec // G115: a count, never negative once stored
	}
	return b
}

func decodeCounts(b []byte) (counts, error) {
	var c counts
	if b == nil {
		return c, nil
	}
	if len(b) != 32 {
		return c, fmt.Errorf("%w: counter of %d bytes", boltstore.ErrBadKey, len(b))
	}
	for i := range c {
		c[i] = int64(binary.BigEndian.Uint64(b[8*i:])) //nolint:gosec // G115: encode wrote an int64
	}
	return c, nil
}

func (c counts) proto() *pb.ClockCounts {
	return &pb.ClockCounts{OnTrack: c[0], AtRisk: c[1], Breached: c[2], Waiting: c[3]}
}
