package handover

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// assignBatch is how many retirees one AssignRetirees command carries.
// Registry takes up to 10,000; half that keeps each of its transactions
// and each message moderate.
const assignBatch = 5000

// Lane is a queue of the outbox with its own order and its own dispatcher
// loop: one per target service, so that a service being down holds up
// only the commands addressed to it.
type Lane byte

// The lanes of the outbox.
const (
	// LaneRegistry carries AssignRetirees commands.
	LaneRegistry Lane = 'r'
	// LaneActivity carries CreateVenue commands.
	LaneActivity Lane = 'a'
)

// String names the lane's target service.
func (l Lane) String() string {
	switch l {
	case LaneRegistry:
		return "registry"
	case LaneActivity:
		return "activity"
	}
	return "unknown"
}

// commandKind is what a command asks of its target.
type commandKind byte

const (
	kindAssignRetirees commandKind = 1
	kindCreateVenue    commandKind = 2
)

func (k commandKind) String() string {
	switch k {
	case kindAssignRetirees:
		return "assign"
	case kindCreateVenue:
		return "venue"
	}
	return "unknown"
}

func (k commandKind) lane() Lane {
	if k == kindCreateVenue {
		return LaneActivity
	}
	return LaneRegistry
}

// command is one call that a completed handover still has to make.
type command struct {
	// seq is the command's place in the outbox (from its key).
	seq  uint64
	kind commandKind
	// handoverID is the handover that queued it.
	handoverID string
	// part is the assignment's part number, or the premises id.
	part string
	// payload is the marshalled request: AssignRetireesRequest or
	// CreateVenueRequest, with its idempotency key.
	payload []byte
	// trace is the W3C traceparent of the request that queued the
	// command, so that its delivery joins that trace; empty when the
	// request was not traced.
	trace string
}

// The first byte of an encoded command: its version. A command with a
// trace is written as version 2, one without as version 1, as before
// tracing, so that a store written with tracing off reads the same
// everywhere.
const (
	commandVersion       = 1
	commandVersionTraced = 2
)

// errBadCommand reports an outbox value that cannot be decoded.
var errBadCommand = errors.New("malformed outbox command")

// idempotencyKey is the key under which the target remembers the command:
// the same for every attempt, different for every command.
func idempotencyKey(handoverID string, kind commandKind, part string) string {
	return handoverID + "/" + kind.String() + "/" + part
}

// encode writes the command as version, kind, length-prefixed handover id
// and part, in version 2 the length-prefixed trace, then the payload.
func (c *command) encode() []byte {
	b := make([]byte, 0, 2+3*binary.MaxVarintLen64+len(c.handoverID)+len(c.part)+len(c.trace)+len(c.payload))
	version := byte(commandVersion)
	if c.trace != "" {
		version = commandVersionTraced
	}
	b = append(b, version, byte(c.kind))
	b = appendString(b, c.handoverID)
	b = appendString(b, c.part)
	if c.trace != "" {
		b = appendString(b, c.trace)
	}
	return append(b, c.payload...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeCommand reads a command written by encode.
func decodeCommand(seq uint64, v []byte) (*command, error) {
	if len(v) < 2 || v[0] != commandVersion && v[0] != commandVersionTraced {
		return nil, errBadCommand
	}
	c := &command{seq: seq, kind: commandKind(v[1])}
	if c.kind != kindAssignRetirees && c.kind != kindCreateVenue {
		return nil, errBadCommand
	}
	rest := v[2:]
	var err error
	if c.handoverID, rest, err = readString(rest); err != nil {
		return nil, err
	}
	if c.part, rest, err = readString(rest); err != nil {
		return nil, err
	}
	if v[0] == commandVersionTraced {
		if c.trace, rest, err = readString(rest); err != nil {
			return nil, err
		}
	}
	c.payload = append([]byte(nil), rest...)
	return c, nil
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return "", nil, errBadCommand
	}
	rest := b[k:]
	if n > uint64(len(rest)) {
		return "", nil, errBadCommand
	}
	return string(rest[:n]), rest[n:], nil
}

func outboxKey(l Lane, seq uint64) []byte {
	return boltstore.AppendU64([]byte{byte(l)}, seq)
}

// completionCommands are what completing h queues: the retirees of each
// community's part assigned to that community as COMMUNITY-managed, in
// parts of assignBatch numbered across the communities, and a venue for
// each accepted premises in the community chosen for it.
func completionCommands(h *pb.Handover) ([]*command, error) {
	var out []*command
	part := 0
	for _, a := range h.Allocations {
		for i := 0; i < len(a.RetireeIds); i += assignBatch {
			part++
			p := strconv.Itoa(part)
			req := &registryv1.AssignRetireesRequest{
				RequestKey:     idempotencyKey(h.Id, kindAssignRetirees, p),
				RetireeIds:     a.RetireeIds[i:min(i+assignBatch, len(a.RetireeIds))],
				CommunityId:    a.CommunityId,
				ManagementMode: registryv1.ManagementMode_COMMUNITY,
				Reason:         "handover " + h.Id + " completed",
			}
			c, err := newCommand(h.Id, kindAssignRetirees, p, req)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	for _, pr := range h.Premises {
		if pr.Inspection != pb.Premises_ACCEPTED {
			continue
		}
		req := &activityv1.CreateVenueRequest{
			RequestKey: idempotencyKey(h.Id, kindCreateVenue, pr.Id),
			Venue: &activityv1.Venue{
				CommunityId: cmp.Or(pr.CommunityId, h.CommunityId),
				Name:        pr.Name,
				Address:     pr.Address,
				Capacity:    pr.Capacity,
				AreaSqm:     pr.AreaSqm,
			},
		}
		c, err := newCommand(h.Id, kindCreateVenue, pr.Id, req)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// newCommand is a command of kind for handover id's part, carrying req.
func newCommand(id string, kind commandKind, part string, req proto.Message) (*command, error) {
	payload, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	return &command{kind: kind, handoverID: id, part: part, payload: payload}, nil
}

// enqueue appends cmds to their lanes under the next global sequences,
// each carrying trace (see command.trace).
func (w *txn) enqueue(cmds []*command, trace string) error {
	meta := w.tx.Bucket(bucketMeta)
	var seq uint64
	if v := meta.Get(metaOutboxSeq); v != nil {
		var err error
		if seq, err = boltstore.ParseU64(v); err != nil {
			return err
		}
	}
	b := w.tx.Bucket(bucketOutbox)
	for _, c := range cmds {
		seq++
		c.seq, c.trace = seq, trace
		if err := b.Put(outboxKey(c.kind.lane(), seq), c.encode()); err != nil {
			return err
		}
	}
	w.queued += len(cmds)
	return meta.Put(metaOutboxSeq, boltstore.U64(seq))
}

// nextCommand returns the oldest command of lane l, or nil when the lane
// is empty.
func (s *Store) nextCommand(l Lane) (*command, error) {
	var out *command
	err := s.DB().View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketOutbox).Cursor().Seek([]byte{byte(l)})
		if k == nil || k[0] != byte(l) {
			return nil
		}
		seq, err := boltstore.ParseU64(k[1:])
		if err != nil {
			return err
		}
		out, err = decodeCommand(seq, v)
		if err != nil {
			return fmt.Errorf("outbox command %d: %w", seq, err)
		}
		return nil
	})
	return out, err
}

// Backlog returns how many commands wait in the outbox.
func (s *Store) Backlog() int64 { return s.backlog.Load() }

// outboxChanged returns a channel closed when commands are next queued.
func (s *Store) outboxChanged() <-chan struct{} { return s.outbox.Wait() }

// dispatcherActor is who the timeline names for delivery steps.
var dispatcherActor = Actor{Subject: "handover-outbox", Role: "service"}

// delivered records that the target acknowledged c: the command leaves
// the outbox, and the handover's delivery, the premises' venue (venueID,
// for a CreateVenue) and a DELIVERED event are written in the same
// transaction. When it was the handover's last command the delivery is
// DELIVERED and the retirees' claims are released. A command no longer in
// the outbox (acknowledged before) changes nothing.
func (s *Store) delivered(c *command, venueID, detail string) error {
	return s.update(func(w *txn) error {
		b := w.tx.Bucket(bucketOutbox)
		key := outboxKey(c.kind.lane(), c.seq)
		if b.Get(key) == nil {
			return nil
		}
		if err := b.Delete(key); err != nil {
			return err
		}
		w.removed++
		old, err := w.get(c.handoverID)
		if err != nil {
			return err
		}
		h := proto.Clone(old).(*pb.Handover)
		d := h.Delivery
		if d == nil {
			d = &pb.Delivery{}
			h.Delivery = d
		}
		d.Delivered++
		d.Attempts++
		// The other lane's error still stands until that lane succeeds.
		if strings.HasPrefix(d.LastError, c.kind.lane().String()+": ") || d.Delivered >= d.Commands {
			d.LastError = ""
		}
		if c.kind == kindCreateVenue {
			for _, pr := range h.Premises {
				if pr.Id == c.part {
					pr.VenueId = venueID
				}
			}
		}
		if d.Delivered >= d.Commands {
			d.State = pb.Delivery_DELIVERED
			d.DeliveredTime = timestamppb.New(w.now)
			if err := w.release(h.Id, h.RetireeIds); err != nil {
				return err
			}
		}
		if err := w.save(old, h); err != nil {
			return err
		}
		return w.event(h, dispatcherActor, actionDelivered, detail)
	})
}

// deliveryFailed records a failed attempt at c. The timeline gets a
// DELIVERY_FAILED event only when the kind of error differs from the last
// one's, so that a target down for an hour does not flood it.
func (s *Store) deliveryFailed(c *command, msg string) error {
	return s.update(func(w *txn) error {
		if w.tx.Bucket(bucketOutbox).Get(outboxKey(c.kind.lane(), c.seq)) == nil {
			return nil
		}
		old, err := w.get(c.handoverID)
		if err != nil {
			return err
		}
		h := proto.Clone(old).(*pb.Handover)
		if h.Delivery == nil {
			h.Delivery = &pb.Delivery{State: pb.Delivery_PENDING}
		}
		h.Delivery.Attempts++
		repeated := errorClass(h.Delivery.LastError) == errorClass(msg)
		h.Delivery.LastError = msg
		if err := w.save(old, h); err != nil {
			return err
		}
		if repeated {
			return nil
		}
		return w.event(h, dispatcherActor, actionDeliveryFailed, msg)
	})
}

// replacePayload rewrites c's request in the outbox (a target refused
// part of it for good, and the rest must still go) and notes why on the
// timeline.
func (s *Store) replacePayload(c *command, payload []byte, detail string) error {
	return s.update(func(w *txn) error {
		b := w.tx.Bucket(bucketOutbox)
		key := outboxKey(c.kind.lane(), c.seq)
		if b.Get(key) == nil {
			return nil
		}
		next := *c
		next.payload = payload
		if err := b.Put(key, next.encode()); err != nil {
			return err
		}
		h, err := w.get(c.handoverID)
		if err != nil {
			return err
		}
		return w.event(h, dispatcherActor, actionDeliveryFailed, detail)
	})
}

// errorClass is the target and code of a delivery error ("registry:
// Unavailable"): the same outage words its messages in several ways.
func errorClass(msg string) string {
	target, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	code, _, _ := strings.Cut(rest, ": ")
	return target + ": " + code
}
