// Package limits bounds what one caller may ask of a service, so that a
// stolen token cannot copy the roster or fill the disk with audit
// records: each caller (a subject of a role) has token buckets of its own
// for reads of personal data, other reads and writes, sized by its role,
// and a bound on the import records it has in flight. A call over budget
// is refused with RESOURCE_EXHAUSTED and a RetryInfo saying when to try
// again, which the gateway answers as 429 with Retry-After.
//
// The buckets live in memory, one set per caller and service; a caller's
// set is dropped once all its buckets are full again (dropping it then
// changes nothing), and their number is bounded.
package limits

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
)

// ReasonRateLimited is the ErrorInfo reason of a call refused for being
// over its caller's budget; the metadata's "budget" names the budget.
const ReasonRateLimited = "RATE_LIMITED"

const (
	// DefaultMaxCallers bounds the callers a Limiter keeps buckets for
	// when Options.MaxCallers is zero: a city's clerks, enterprises and
	// integrations are a few thousand.
	DefaultMaxCallers = 1 << 15
	// sweepEvery is how often the buckets are looked over for callers
	// whose buckets are all full again.
	sweepEvery = time.Minute
	// evictionSample is how many callers are looked at to choose one to
	// drop when there are MaxCallers already and none is idle.
	evictionSample = 8
	// pageEntries is how many entries of a list page one token of
	// PersonalRead pays for.
	pageEntries = 50
)

// budget indexes a caller's buckets.
type budget int

const (
	budgetPersonal budget = iota
	budgetRead
	budgetWrite
	budgets
)

var budgetNames = [budgets]string{namePersonal, nameRead, nameWrite}

// Options configure a Limiter.
type Options struct {
	// Config sizes each role's budgets; a role it does not name is not
	// limited.
	Config Config
	// Methods classes the methods; one it does not class costs a
	// personal-data read, the dearest.
	Methods Table
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// MaxCallers bounds the callers kept; DefaultMaxCallers when zero.
	MaxCallers int
	// Registerer receives the limiter's metrics; none when nil.
	Registerer prometheus.Registerer
}

// Limiter holds the buckets of a service's callers. Its interceptors
// (UnaryInterceptor, StreamInterceptor) run after authentication.
type Limiter struct {
	roles      map[authn.Role]RoleLimits
	methods    Table
	now        func() time.Time
	maxCallers int

	mu      sync.RWMutex
	callers map[callerKey]*caller
	// nextSweep is when the next sweep is due, in Unix nanoseconds.
	nextSweep atomic.Int64

	refused *prometheus.CounterVec
}

// callerKey names a caller: the same subject in two roles is two callers.
type callerKey struct {
	role    authn.Role
	subject string
}

// caller is one caller's buckets and records in flight.
type caller struct {
	buckets [budgets]*rate.Limiter
	// records holds a token for each import record in flight; its
	// capacity is the role's Records.
	records chan struct{}
	// streams counts the caller's open import streams: a caller with one
	// is not swept, so that its records are counted in one place.
	streams atomic.Int32
	// lastUsed is when the caller last called, in Unix nanoseconds.
	lastUsed atomic.Int64
}

// New returns a Limiter.
func New(o Options) *Limiter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxCallers <= 0 {
		o.MaxCallers = DefaultMaxCallers
	}
	l := &Limiter{
		roles: o.Config.Roles, methods: o.Methods, now: o.Now, maxCallers: o.MaxCallers,
		callers: make(map[callerKey]*caller),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socmgmt_rate_limited_total",
			Help: "Calls refused because their caller was over a budget, by budget.",
		}, []string{"budget"}),
	}
	l.nextSweep.Store(o.Now().Add(sweepEvery).UnixNano())
	if o.Registerer != nil {
		o.Registerer.MustRegister(l.refused,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "socmgmt_rate_limit_callers",
				Help: "Callers whose buckets are held in memory.",
			}, func() float64 { return float64(l.Len()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "socmgmt_import_records_in_flight",
				Help: "Import records received and not yet durable, of every caller.",
			}, func() float64 { return float64(l.RecordsInFlight()) }))
	}
	return l
}

// Len returns how many callers' buckets are held.
func (l *Limiter) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.callers)
}

// RecordsInFlight returns how many import records, of every caller, are
// received and not yet durable.
func (l *Limiter) RecordsInFlight() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	n := 0
	for _, c := range l.callers {
		n += len(c.records)
	}
	return n
}

// callerOf returns p's buckets, creating them, or nil when p's role is
// not limited.
func (l *Limiter) callerOf(p *authn.Principal, now time.Time) *caller {
	lim, ok := l.roles[p.Role]
	if !ok {
		return nil
	}
	l.maybeSweep(now)
	key := callerKey{role: p.Role, subject: p.Subject}
	l.mu.RLock()
	c := l.callers[key]
	l.mu.RUnlock()
	if c == nil {
		c = l.add(key, lim, now)
	}
	c.lastUsed.Store(now.UnixNano())
	return c
}

// add creates the buckets of key, unless another call just did, making
// room first when there are maxCallers already.
func (l *Limiter) add(key callerKey, lim RoleLimits, now time.Time) *caller {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.callers[key]; c != nil {
		return c
	}
	if len(l.callers) >= l.maxCallers {
		l.sweepLocked(now)
	}
	if len(l.callers) >= l.maxCallers {
		l.evictLocked()
	}
	c := &caller{records: make(chan struct{}, lim.Records)}
	for i, b := range [budgets]Budget{lim.PersonalRead, lim.Read, lim.Write} {
		c.buckets[i] = rate.NewLimiter(rate.Limit(b.Rate), b.Burst) // full
	}
	l.callers[key] = c
	return c
}

// maybeSweep sweeps when a sweep is due; of the calls that find it due,
// one does it.
func (l *Limiter) maybeSweep(now time.Time) {
	due := l.nextSweep.Load()
	if now.UnixNano() < due || !l.nextSweep.CompareAndSwap(due, now.Add(sweepEvery).UnixNano()) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweepLocked(now)
}

// sweepLocked drops the callers that are idle: every bucket full again
// and no import open. Dropping them is invisible to them: new buckets
// start full.
func (l *Limiter) sweepLocked(now time.Time) {
	for key, c := range l.callers {
		if c.idle(now) {
			delete(l.callers, key)
		}
	}
}

func (c *caller) idle(now time.Time) bool {
	if c.streams.Load() > 0 || len(c.records) > 0 {
		return false
	}
	for _, b := range c.buckets {
		if b.TokensAt(now) < float64(b.Burst()) {
			return false
		}
	}
	return true
}

// evictLocked drops the least recently used of a few callers picked by
// Go's randomised map iteration, one without an open import if it can:
// there are maxCallers, none idle. The dropped caller's next call finds
// full buckets, a burst it did not earn; that is the price of a bound.
func (l *Limiter) evictLocked() {
	var (
		victim callerKey
		oldest int64 = math.MaxInt64
		seen   int
	)
	for key, c := range l.callers {
		if t := c.lastUsed.Load(); c.streams.Load() == 0 && t < oldest {
			victim, oldest = key, t
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	if oldest != math.MaxInt64 {
		delete(l.callers, victim)
	}
}

// take spends cost tokens of c's bucket b, or says when they will be
// there. A cost above the bucket's burst is charged as the burst, so
// that any call can pass once the bucket is full.
func (l *Limiter) take(c *caller, b budget, cost int, now time.Time) error {
	bucket := c.buckets[b]
	cost = min(cost, bucket.Burst())
	if bucket.AllowN(now, cost) {
		return nil
	}
	return l.refuse(b, waitFor(bucket, cost, now))
}

// ready reports whether c's bucket b holds a token now, without taking
// it.
func (l *Limiter) ready(c *caller, b budget, now time.Time) error {
	bucket := c.buckets[b]
	if bucket.TokensAt(now) >= 1 {
		return nil
	}
	return l.refuse(b, waitFor(bucket, 1, now))
}

// charge spends a token of c's bucket b for something already done,
// going into debt if the bucket is empty: the next calls wait longer.
func charge(c *caller, b budget, now time.Time) {
	c.buckets[b].ReserveN(now, 1)
}

// waitFor is how long until bucket holds n tokens, at least a
// millisecond.
func waitFor(bucket *rate.Limiter, n int, now time.Time) time.Duration {
	missing := float64(n) - bucket.TokensAt(now)
	d := time.Duration(missing / float64(bucket.Limit()) * float64(time.Second))
	return max(d, time.Millisecond)
}

// refuse counts a refusal and returns the error the caller gets.
func (l *Limiter) refuse(b budget, after time.Duration) error {
	name := budgetNames[b]
	l.refused.WithLabelValues(name).Inc()
	return fault.LimitRetry(ReasonRateLimited,
		fmt.Sprintf("rate limit: this caller's %s budget is spent; retry after %v", name, after.Round(time.Millisecond)),
		after, "budget", name)
}
