package sms

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/broadcast"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// The outbox's buckets. The service that embeds the outbox creates them
// in its schema (see Buckets).
//
//	sms_messages      seq                 -> Message (through the Codec)
//	sms_keys          idempotency key     -> seq
//	sms_due           send_after seq      -> (empty)  QUEUED messages only
//	sms_by_retiree    retiree 0x00 seq    -> (empty)
//	sms_by_community  community 0x00 seq  -> (empty)
//
// seq is big-endian, send_after big-endian Unix nanoseconds: the due
// bucket is in the order messages may go out.
var (
	BucketMessages    = []byte("sms_messages")
	BucketKeys        = []byte("sms_keys")
	BucketDue         = []byte("sms_due")
	BucketByRetiree   = []byte("sms_by_retiree")
	BucketByCommunity = []byte("sms_by_community")
)

// Buckets are all the outbox's buckets.
var Buckets = [][]byte{BucketMessages, BucketKeys, BucketDue, BucketByRetiree, BucketByCommunity}

// maxKeyLen bounds a caller's idempotency key.
const maxKeyLen = 128

// Reasons a message is SUPPRESSED.
const (
	ReasonOptedOut = "opted out of messages"
	ReasonNoPhone  = "no phone number on file"
)

// ErrNotFound reports a message id the outbox does not hold.
var ErrNotFound = errors.New("sms: no such message")

// Codec stores the outbox's messages. *servicedb.Base is one (its values
// are sealed with the service's data key); PlainCodec stores them as they
// are.
type Codec interface {
	PutProto(tx *bolt.Tx, bucket, key []byte, m proto.Message) error
	Decode(bucket, key, v []byte, m proto.Message) error
}

// PlainCodec stores messages as plain protobuf.
type PlainCodec struct{}

// PutProto implements Codec.
func (PlainCodec) PutProto(tx *bolt.Tx, bucket, key []byte, m proto.Message) error {
	v, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(key, v)
}

// Decode implements Codec.
func (PlainCodec) Decode(_, _, v []byte, m proto.Message) error { return proto.Unmarshal(v, m) }

// Options configures an Outbox.
type Options struct {
	// Renderer renders the texts; required.
	Renderer *Renderer
	// Quiet are the hours nothing goes out.
	Quiet QuietHours
	// Codec stores the messages; PlainCodec when nil.
	Codec Codec
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Outbox queues messages in its embedding service's transactions and
// keeps their state; a Sender sends them.
type Outbox struct {
	renderer *Renderer
	quiet    QuietHours
	codec    Codec
	now      func() time.Time
	queued   broadcast.Signal
}

// NewOutbox returns an Outbox.
func NewOutbox(o Options) (*Outbox, error) {
	if o.Renderer == nil {
		return nil, errors.New("sms: an outbox needs a renderer")
	}
	if o.Quiet.Loc == nil {
		o.Quiet.Loc = time.UTC
	}
	if o.Codec == nil {
		o.Codec = PlainCodec{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Outbox{renderer: o.Renderer, quiet: o.Quiet, codec: o.Codec, now: o.Now}, nil
}

// Message is what Enqueue is asked to send.
type Message struct {
	// IdempotencyKey names the message for good: enqueueing the same key
	// again queues nothing. Required, at most 128 characters; each
	// recipient's message gets the key with "/RETIREE" or
	// "/PRIMARY_CONTACT" appended, which the gateway sees.
	IdempotencyKey string
	RetireeID      string
	CommunityID    string
	Event          pb.MessageEvent
	Addressee      Addressee
	Particulars    Particulars
	// Preferences are the retiree's (nil: the defaults): opted out
	// suppresses every message, recipients says whom they go to.
	Preferences *pb.MessagePreferences
	// NoPhone are recipients the caller knows have no phone on file; their
	// messages are SUPPRESSED at once. The others' numbers are looked up
	// when the message is sent.
	NoPhone []pb.Recipient
}

// Recipients are whom a retiree's messages go to: the preferences', or
// the retiree alone.
func Recipients(p *pb.MessagePreferences) []pb.Recipient {
	var out []pb.Recipient
	for _, r := range p.GetRecipients() {
		if (r == pb.Recipient_RETIREE || r == pb.Recipient_PRIMARY_CONTACT) && !containsRecipient(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		out = []pb.Recipient{pb.Recipient_RETIREE}
	}
	return out
}

func containsRecipient(rs []pb.Recipient, r pb.Recipient) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// Enqueue records m in tx, the caller's transaction, one message per
// recipient: QUEUED to go out at the end of the quiet hours if now falls
// in them, or SUPPRESSED with the reason when the retiree opted out or the
// recipient has no phone. A message whose key is in the outbox already is
// not queued again. queued reports whether any message was QUEUED. A
// malformed m is a fault.Invalid and nothing is written.
func (o *Outbox) Enqueue(tx *bolt.Tx, m Message) (queued bool, err error) {
	if err := checkMessage(m); err != nil {
		return false, err
	}
	text, err := o.renderer.Render(m.Event, addressee(m), m.Particulars)
	if err != nil {
		return false, err
	}
	now := o.now()
	for _, r := range Recipients(m.Preferences) {
		msg := &pb.Message{
			RetireeId: m.RetireeID, CommunityId: m.CommunityID, Event: m.Event, Recipient: r,
			Text: text, State: pb.DeliveryState_QUEUED, IdempotencyKey: m.IdempotencyKey + "/" + r.String(),
			CreateTime: timestamppb.New(now), SendAfter: timestamppb.New(o.quiet.NextSendTime(now)),
		}
		switch {
		case m.Preferences.GetOptedOut():
			msg.State, msg.StateReason = pb.DeliveryState_SUPPRESSED, ReasonOptedOut
		case containsRecipient(m.NoPhone, r):
			msg.State, msg.StateReason = pb.DeliveryState_SUPPRESSED, ReasonNoPhone
		}
		added, err := o.add(tx, msg)
		if err != nil {
			return false, err
		}
		queued = queued || (added && msg.State == pb.DeliveryState_QUEUED)
	}
	if queued {
		tx.OnCommit(o.queued.Broadcast)
	}
	return queued, nil
}

// addressee is m's addressee with the preferred name applied.
func addressee(m Message) Addressee {
	a := m.Addressee
	if p := m.Preferences.GetPreferredName(); p != "" {
		a.Preferred = p
	}
	return a
}

func checkMessage(m Message) error {
	var v fault.Violations
	inputcheck.Text(&v, "idempotencyKey", m.IdempotencyKey, true, maxKeyLen)
	inputcheck.Text(&v, "retireeId", m.RetireeID, true, maxKeyLen)
	inputcheck.CommunityID(&v, "communityId", m.CommunityID)
	inputcheck.Text(&v, "preferences.preferredName", m.Preferences.GetPreferredName(), false, maxNameRunes)
	return v.Err()
}

// add stores msg under a new sequence with its indexes, unless its key is
// taken.
func (o *Outbox) add(tx *bolt.Tx, msg *pb.Message) (bool, error) {
	keys := tx.Bucket(BucketKeys)
	if keys.Get([]byte(msg.IdempotencyKey)) != nil {
		return false, nil
	}
	seq, err := tx.Bucket(BucketMessages).NextSequence()
	if err != nil {
		return false, err
	}
	msg.Id = MessageID(seq)
	k := boltstore.U64(seq)
	if err := o.codec.PutProto(tx, BucketMessages, k, msg); err != nil {
		return false, err
	}
	if err := keys.Put([]byte(msg.IdempotencyKey), k); err != nil {
		return false, err
	}
	if err := tx.Bucket(BucketByRetiree).Put(indexKey(msg.RetireeId, seq), nil); err != nil {
		return false, err
	}
	if err := tx.Bucket(BucketByCommunity).Put(indexKey(msg.CommunityId, seq), nil); err != nil {
		return false, err
	}
	if msg.State != pb.DeliveryState_QUEUED {
		return true, nil
	}
	return true, tx.Bucket(BucketDue).Put(dueKey(msg.SendAfter.AsTime(), seq), nil)
}

// MessageID is the id of the message stored under seq.
func MessageID(seq uint64) string { return fmt.Sprintf("%016x", seq) }

// parseMessageID reads an id written by MessageID.
func parseMessageID(id string) (uint64, bool) {
	if len(id) != 16 {
		return 0, false
	}
	seq, err := strconv.ParseUint(id, 16, 64)
	return seq, err == nil
}

func indexKey(owner string, seq uint64) []byte {
	return boltstore.AppendU64(append([]byte(owner), 0), seq)
}

func dueKey(at time.Time, seq uint64) []byte {
	return boltstore.AppendU64(boltstore.U64(uint64(max(at.UnixNano(), 0))), seq)
}

// Get returns the message with id.
func (o *Outbox) Get(tx *bolt.Tx, id string) (*pb.Message, error) {
	seq, ok := parseMessageID(id)
	if !ok {
		return nil, ErrNotFound
	}
	return o.get(tx, seq)
}

func (o *Outbox) get(tx *bolt.Tx, seq uint64) (*pb.Message, error) {
	k := boltstore.U64(seq)
	v := tx.Bucket(BucketMessages).Get(k)
	if v == nil {
		return nil, ErrNotFound
	}
	m := &pb.Message{}
	if err := o.codec.Decode(BucketMessages, k, v, m); err != nil {
		return nil, fmt.Errorf("sms: message %s: %w", MessageID(seq), err)
	}
	return m, nil
}

// ByRetiree and ByCommunity are the two lists of ListMessages.
const (
	ByRetiree   = iota
	ByCommunity = iota
)

// MaxList bounds a page of List.
const MaxList = 500

// List returns up to limit (at most MaxList) messages of a retiree (by ByRetiree) or of a
// community (ByCommunity), oldest first, from after the message with id
// after ("" from the start), and the id to continue after ("" at the
// end). The caller binds it into its page token.
func (o *Outbox) List(tx *bolt.Tx, by int, owner, after string, limit int) ([]*pb.Message, string, error) {
	bucket := BucketByRetiree
	if by == ByCommunity {
		bucket = BucketByCommunity
	}
	if limit <= 0 || limit > MaxList {
		limit = MaxList
	}
	prefix := append([]byte(owner), 0)
	c := tx.Bucket(bucket).Cursor()
	k, _ := c.Seek(prefix)
	if seq, ok := parseMessageID(after); ok {
		start := indexKey(owner, seq)
		if k, _ = c.Seek(start); bytes.Equal(k, start) {
			k, _ = c.Next()
		}
	}
	var out []*pb.Message
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(out) == limit {
			return out, out[len(out)-1].Id, nil
		}
		seq, err := boltstore.ParseU64(k[len(prefix):])
		if err != nil {
			return nil, "", err
		}
		m, err := o.get(tx, seq)
		if err != nil {
			return nil, "", err
		}
		out = append(out, m)
	}
	return out, "", nil
}

// ListNewest is List newest first: up to limit (at most MaxList)
// messages of a retiree or a community from before the message with id
// before ("" from the newest), and the id to continue before ("" at the
// end).
func (o *Outbox) ListNewest(tx *bolt.Tx, by int, owner, before string, limit int) ([]*pb.Message, string, error) {
	bucket := BucketByRetiree
	if by == ByCommunity {
		bucket = BucketByCommunity
	}
	if limit <= 0 || limit > MaxList {
		limit = MaxList
	}
	prefix := append([]byte(owner), 0)
	// The first key at or after start, then one back: the newest key
	// before it.
	start := append([]byte(owner), 1)
	if seq, ok := parseMessageID(before); ok {
		start = indexKey(owner, seq)
	}
	c := tx.Bucket(bucket).Cursor()
	k, _ := c.Seek(start)
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	var out []*pb.Message
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
		if len(out) == limit {
			return out, out[len(out)-1].Id, nil
		}
		seq, err := boltstore.ParseU64(k[len(prefix):])
		if err != nil {
			return nil, "", err
		}
		m, err := o.get(tx, seq)
		if err != nil {
			return nil, "", err
		}
		out = append(out, m)
	}
	return out, "", nil
}

// Queued returns a channel closed when messages are next queued.
func (o *Outbox) Queued() <-chan struct{} { return o.queued.Wait() }

// due returns up to limit QUEUED messages whose time has come, soonest
// first, and when the next one falls due (zero when none waits).
func (o *Outbox) due(tx *bolt.Tx, now time.Time, limit int) ([]*pb.Message, time.Time, error) {
	var out []*pb.Message
	c := tx.Bucket(BucketDue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) != 16 {
			return nil, time.Time{}, fmt.Errorf("sms: malformed due key %x", k)
		}
		nanos := binary.BigEndian.Uint64(k[:8])
		if nanos > math.MaxInt64 {
			return nil, time.Time{}, fmt.Errorf("sms: malformed due key %x", k)
		}
		at := time.Unix(0, int64(nanos))
		if at.After(now) || len(out) == limit {
			return out, at, nil
		}
		m, err := o.get(tx, binary.BigEndian.Uint64(k[8:]))
		if err != nil {
			return nil, time.Time{}, err
		}
		out = append(out, m)
	}
	return out, time.Time{}, nil
}
