package activity

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// communityLookupTimeout bounds the question to registry.
	communityLookupTimeout = 5 * time.Second
	// maxKnownCommunities bounds the communities remembered to exist; a
	// city has a few thousand.
	maxKnownCommunities = 100_000
)

var (
	errCommunityNotFound = fmt.Errorf("community %w", fault.ErrNotFound)
	// errRegistryUnavailable answers a request that needs to know whether
	// a community exists when registry cannot say.
	errRegistryUnavailable = status.Error(codes.Unavailable, "registry is unavailable: cannot tell whether the community exists; try again")
)

// communities tells whether a community exists. Registry is the source of
// truth of communities; the activity service knows one exists without
// asking when it has a venue there, or registry said so before
// (communities are never deleted).
type communities struct {
	registry registryv1.RegistryServiceClient
	store    *Store

	mu    sync.Mutex
	known map[string]bool
}

func newCommunities(registry registryv1.RegistryServiceClient, store *Store) *communities {
	return &communities{registry: registry, store: store, known: map[string]bool{}}
}

// check returns nil when the community id exists, errCommunityNotFound
// when registry says it does not, and errRegistryUnavailable when
// registry cannot be asked. Without a registry client every id exists.
func (c *communities) check(ctx context.Context, id string) error {
	c.mu.Lock()
	known := c.known[id]
	c.mu.Unlock()
	if known || c.registry == nil {
		return nil
	}
	hasVenue, err := c.store.hasVenue(id)
	if err != nil {
		return err
	}
	if !hasVenue {
		if err := c.ask(ctx, id); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if len(c.known) < maxKnownCommunities {
		c.known[id] = true
	}
	c.mu.Unlock()
	return nil
}

// ask asks registry whether the community id exists.
func (c *communities) ask(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, communityLookupTimeout)
	defer cancel()
	_, err := c.registry.GetCommunity(ctx, &registryv1.GetCommunityRequest{Id: id})
	switch code := status.Code(err); {
	case err == nil:
		return nil
	case code == codes.NotFound:
		return errCommunityNotFound
	case code == codes.Canceled && ctx.Err() != nil:
		return ctx.Err()
	default:
		grpcserver.Logger(ctx).Warn("registry did not answer whether a community exists",
			zap.String("code", code.String()))
		return errRegistryUnavailable
	}
}

// hasVenue reports whether the community has a venue.
func (s *Store) hasVenue(community string) (bool, error) {
	var found bool
	err := s.DB().View(func(tx *bolt.Tx) error {
		prefix := boltstore.Prefix(community)
		k, _ := tx.Bucket(bucketVenuesByCommunity).Cursor().Seek(prefix)
		found = k != nil && bytes.HasPrefix(k, prefix)
		return nil
	})
	return found, err
}
