package activity

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Bounds of calendar subscriptions.
const (
	// maxSubscriptionsPerOwner bounds one owner's subscriptions to one
	// community's calendar: a phone, a tablet and a desk each need one,
	// and a token that leaked is to be revoked, not left beside a new one.
	maxSubscriptionsPerOwner = 20
	// maxLabelLen bounds a subscription's label, in characters.
	maxLabelLen = 64
	// feedTokenBytes is the randomness of a feed token: 256 bits, far
	// beyond guessing, as the token is all a feed asks for.
	feedTokenBytes = 32
	// ownerKeyLen is the length of an owner's part of an owner index key.
	ownerKeyLen = 16
	// feedPathPrefix and feedPathSuffix surround a feed token in the path
	// the gateway serves its feed at.
	feedPathPrefix, feedPathSuffix = "/v1/calendars/", "/calendar.ics"
)

// ReasonTooManySubscriptions (ResourceExhausted) refuses a subscription
// beyond maxSubscriptionsPerOwner of one owner to one calendar.
const ReasonTooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS"

var (
	errSubscriptionNotFound = fmt.Errorf("calendar subscription %w", fault.ErrNotFound)
	// errFeedNotFound answers a feed token that is unknown, revoked or
	// not shaped like one, all alike; it never repeats the token.
	errFeedNotFound = fmt.Errorf("calendar feed %w", fault.ErrNotFound)
)

// feedTokenEncoding writes feed tokens: URL-safe, unpadded, and strict,
// so that a token has exactly one spelling.
var feedTokenEncoding = base64.RawURLEncoding.Strict()

// feedTokenLen is the length of a feed token's text.
var feedTokenLen = feedTokenEncoding.EncodedLen(feedTokenBytes)

// feedHash is what the store keeps of a feed token.
type feedHash [sha256.Size]byte

// newFeedToken returns a new random feed token and its hash.
func newFeedToken() (string, feedHash) {
	var b [feedTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	token := feedTokenEncoding.EncodeToString(b[:])
	return token, sha256.Sum256([]byte(token))
}

// hashFeedToken returns the hash a feed token is stored under, or false
// for text that no feed token is spelt as.
func hashFeedToken(token string) (feedHash, bool) {
	if len(token) != feedTokenLen {
		return feedHash{}, false
	}
	if raw, err := feedTokenEncoding.DecodeString(token); err != nil || len(raw) != feedTokenBytes {
		return feedHash{}, false
	}
	return sha256.Sum256([]byte(token)), true
}

// feedPath is where the gateway serves the feed of token.
func feedPath(token string) string { return feedPathPrefix + token + feedPathSuffix }

// subscriber is who subscribes: the subject and role of a bearer token.
type subscriber struct {
	subject string
	role    string
}

// ownerOf returns the subscriber who made sub.
func ownerOf(sub *pb.CalendarSubscription) subscriber {
	return subscriber{subject: sub.Owner, role: sub.OwnerRole}
}

// key is the subscriber's fixed-width part of an owner index key: a
// subject may hold any byte, a hash of it none that could end it early.
func (o subscriber) key() []byte {
	h := sha256.Sum256([]byte(o.role + "\x00" + o.subject))
	return h[:ownerKeyLen]
}

// ownerPrefix is the prefix of the owner index keys of o's
// subscriptions to community's calendar.
func ownerPrefix(community string, o subscriber) []byte {
	return append(boltstore.Prefix(community), o.key()...)
}

// SubscriptionScope is the object check of a request about one
// subscription: called with the subscription, or with nil when there is
// none, it returns nil to go on or the error to answer.
type SubscriptionScope func(sub *pb.CalendarSubscription) error

// Subscribe stores a new subscription of o to community's calendar and
// returns it with its feed token, which is stored only as its hash.
func (s *Store) Subscribe(community string, o subscriber, label string) (*pb.CalendarSubscription, string, error) {
	token, hash := newFeedToken()
	sub := &pb.CalendarSubscription{
		CommunityId: community, Owner: o.subject, OwnerRole: o.role, Label: label,
		CreateTime: timestamppb.New(s.now()),
	}
	err := s.Update(func(tx *bolt.Tx) error {
		index := tx.Bucket(bucketCalendarSubscriptionsByOwner)
		prefix := ownerPrefix(community, o)
		n := 0
		c := index.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		if n >= maxSubscriptionsPerOwner {
			return fault.Limit(ReasonTooManySubscriptions,
				fmt.Sprintf("at most %d subscriptions to one calendar each; revoke one first", maxSubscriptionsPerOwner))
		}
		feeds := tx.Bucket(bucketCalendarFeeds)
		if feeds.Get(hash[:]) != nil {
			// 256 random bits do not repeat; a file that says so is damaged.
			return fmt.Errorf("%w: a new feed token's hash is already stored", boltstore.ErrBadKey)
		}
		subs := tx.Bucket(bucketCalendarSubscriptions)
		sub.Id = unusedID(subs)
		if err := boltstore.PutProto(subs, []byte(sub.Id), sub); err != nil {
			return err
		}
		if err := feeds.Put(hash[:], []byte(sub.Id)); err != nil {
			return err
		}
		return index.Put(append(prefix, sub.Id...), hash[:])
	})
	if err != nil {
		return nil, "", err
	}
	return sub, token, nil
}

// ListSubscriptions returns a page of the subscriptions to community's
// calendar, in the order of the owner index: o's, or everyone's when o
// is nil. after is the last key of the previous page.
func (s *Store) ListSubscriptions(community string, o *subscriber, size int, after []byte) ([]*pb.CalendarSubscription, []byte, error) {
	prefix := boltstore.Prefix(community)
	if o != nil {
		prefix = ownerPrefix(community, *o)
	}
	var out []*pb.CalendarSubscription
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		subs := tx.Bucket(bucketCalendarSubscriptions)
		var err error
		next, err = boltstore.Scan{Prefix: prefix, After: after, Size: size}.Page(tx.Bucket(bucketCalendarSubscriptionsByOwner).Cursor(), func(k, _ []byte) (bool, error) {
			if len(k) < idLen {
				return false, fmt.Errorf("%w: calendar subscription index entry", boltstore.ErrBadKey)
			}
			sub := new(pb.CalendarSubscription)
			if err := boltstore.GetProto(subs, k[len(k)-idLen:], sub, errSubscriptionNotFound); err != nil {
				// Not wrapped: corruption must not read as 404.
				return false, fmt.Errorf("calendar subscription index inconsistent: %v", err) //nolint:errorlint // see above
			}
			out = append(out, sub)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// Revoke deletes the subscription id to community's calendar that scope
// lets the caller see, with its feed token's hash: its feed is unknown
// from then on. It returns the subscription as it was.
func (s *Store) Revoke(community, id string, scope SubscriptionScope) (*pb.CalendarSubscription, error) {
	var sub *pb.CalendarSubscription
	err := s.Update(func(tx *bolt.Tx) error {
		var err error
		if sub, err = loadSubscription(tx, community, id, scope); err != nil {
			return err
		}
		index := tx.Bucket(bucketCalendarSubscriptionsByOwner)
		key := append(ownerPrefix(community, ownerOf(sub)), sub.Id...)
		hash := index.Get(key)
		if hash == nil {
			return fmt.Errorf("%w: calendar subscription %s is not indexed", boltstore.ErrBadKey, sub.Id)
		}
		if err := tx.Bucket(bucketCalendarFeeds).Delete(hash); err != nil {
			return err
		}
		if err := index.Delete(key); err != nil {
			return err
		}
		return tx.Bucket(bucketCalendarSubscriptions).Delete([]byte(sub.Id))
	})
	if err != nil {
		return nil, err
	}
	return sub, nil
}

// loadSubscription reads the subscription id to community's calendar and
// applies scope to it. An id that cannot be one, names nothing, or names
// a subscription to another community's calendar is absent: scope's
// refusal for a caller that may not learn so, else not found.
func loadSubscription(tx *bolt.Tx, community, id string, scope SubscriptionScope) (*pb.CalendarSubscription, error) {
	sub := new(pb.CalendarSubscription)
	absent := func() error {
		if err := scope(nil); err != nil {
			return err
		}
		return errSubscriptionNotFound
	}
	if !inputcheck.IsOpaqueID(id) {
		return nil, absent()
	}
	if err := boltstore.GetProto(tx.Bucket(bucketCalendarSubscriptions), []byte(id), sub, errSubscriptionNotFound); err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return nil, absent()
		}
		return nil, err
	}
	if sub.CommunityId != community {
		return nil, absent()
	}
	if err := scope(sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// feedCommunity returns the community whose calendar token was given
// for, or errFeedNotFound.
func (s *Store) feedCommunity(token string) (string, error) {
	hash, ok := hashFeedToken(token)
	if !ok {
		return "", errFeedNotFound
	}
	var community string
	err := s.DB().View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketCalendarFeeds).Get(hash[:])
		if id == nil {
			return errFeedNotFound
		}
		sub := new(pb.CalendarSubscription)
		if err := boltstore.GetProto(tx.Bucket(bucketCalendarSubscriptions), id, sub, errSubscriptionNotFound); err != nil {
			// Not wrapped: a feed without its subscription is damage, not 404.
			return fmt.Errorf("calendar feed index inconsistent: %v", err) //nolint:errorlint // see above
		}
		community = sub.CommunityId
		return nil
	})
	return community, err
}
