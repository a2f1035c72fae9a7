package authn

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"
)

// revocationMargin is how long past its expiry a revocation is kept: a
// verifier accepts a token until exp plus its leeway, and the margin is
// longer than any sensible leeway.
const revocationMargin = 5 * time.Minute

// Revocation is one revoked token: its id (jti) and its expiry, after
// which no verifier accepts the token anyway and the entry can go.
type Revocation struct {
	TokenID string
	Expires time.Time
}

// Revocations is the list of revoked tokens a Verifier refuses. Reads are
// one atomic load and a map look-up, on every call; writes, which are
// rare, copy the map. It is safe for concurrent use.
type Revocations struct {
	now func() time.Time

	mu sync.Mutex // serialises writers
	m  atomic.Pointer[map[string]time.Time]
}

// NewRevocations returns an empty list.
func NewRevocations() *Revocations {
	r := &Revocations{now: time.Now}
	r.m.Store(&map[string]time.Time{})
	return r
}

// Revoked reports whether the token with id is on the list.
func (r *Revocations) Revoked(id string) bool {
	if id == "" {
		return false
	}
	_, ok := (*r.m.Load())[id]
	return ok
}

// Add puts rs on the list and drops the entries long expired; it returns
// how many of rs were not on the list yet. An entry already past its
// expiry is not added: no verifier accepts its token.
func (r *Revocations) Add(rs ...Revocation) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	cutoff := r.now().Add(-revocationMargin)
	old := *r.m.Load()
	next := make(map[string]time.Time, len(old)+len(rs))
	for id, exp := range old {
		if exp.After(cutoff) {
			next[id] = exp
		}
	}
	added := 0
	for _, rv := range rs {
		if rv.TokenID == "" || !rv.Expires.After(cutoff) {
			continue
		}
		if _, ok := next[rv.TokenID]; !ok {
			added++
		}
		next[rv.TokenID] = rv.Expires
	}
	if added == 0 && len(next) == len(old) {
		return 0
	}
	r.m.Store(&next)
	return added
}

// Len returns how many revocations the list holds.
func (r *Revocations) Len() int { return len(*r.m.Load()) }

// IDs returns the token ids on the list; for tests and diagnostics.
func (r *Revocations) IDs() []string {
	var ids []string
	for id := range maps.Keys(*r.m.Load()) {
		ids = append(ids, id)
	}
	return ids
}
