package authn

import (
	"crypto/sha256"
	"sync"
	"time"
)

// evictionSample is how many entries put looks at to choose a victim when
// the cache is full: enough to usually find an expired or nearly expired
// entry, few enough to keep a put under the lock short.
const evictionSample = 8

// cacheEntry is one verified token: its principal and the window, in Unix
// nanoseconds with the leeway applied, in which the token is valid.
type cacheEntry struct {
	p           *Principal
	from, until int64
}

// verifiedCache remembers tokens that verified, keyed by the SHA-256 of the
// token so that raw tokens are not kept. Failures are never stored: a
// rejected token must be rejected by the real check every time.
type verifiedCache struct {
	max int

	mu sync.RWMutex
	m  map[[sha256.Size]byte]cacheEntry
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, m: make(map[[sha256.Size]byte]cacheEntry, min(max, 1024))}
}

// get returns the principal of a cached token that is valid at now. An
// entry outside its window is a miss, so the caller's full check reports
// why; one past its expiry is dropped on the way.
func (c *verifiedCache) get(key [sha256.Size]byte, now time.Time) (*Principal, bool) {
	c.mu.RLock()
	e, ok := c.m[key]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	t := now.UnixNano()
	if t >= e.until {
		c.mu.Lock()
		// Another goroutine may have replaced the entry meanwhile; only
		// drop the one we saw expire.
		if cur, ok := c.m[key]; ok && cur.until == e.until {
			delete(c.m, key)
		}
		c.mu.Unlock()
		return nil, false
	}
	if t < e.from {
		return nil, false
	}
	return e.p, true
}

// put stores e under key, first evicting an entry if the cache is full.
// The victim is the soonest to expire among a few entries picked by Go's
// randomised map iteration (so an expired one whenever one was picked):
// cheap, and it never lets the map grow past max.
func (c *verifiedCache) put(key [sha256.Size]byte, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		c.evictLocked()
	}
	c.m[key] = e
}

func (c *verifiedCache) evictLocked() {
	var (
		victim [sha256.Size]byte
		soon   int64
		seen   int
	)
	for k, e := range c.m {
		if seen == 0 || e.until < soon {
			victim, soon = k, e.until
		}
		seen++
		if seen == evictionSample {
			break
		}
	}
	if seen > 0 {
		delete(c.m, victim)
	}
}

// len returns the number of entries; for tests.
func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
