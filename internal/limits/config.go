package limits

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// Budget is a token bucket: Rate calls a second on average, and up to
// Burst at once after a quiet spell.
type Budget struct {
	// Rate is how many tokens a second the bucket refills.
	Rate float64
	// Burst is how many tokens the bucket holds when full.
	Burst int
}

// RoleLimits are the budgets of every caller of one role. Each caller
// has buckets of its own; the role only decides their size.
type RoleLimits struct {
	// PersonalRead pays for reads of a retiree's personal data (see
	// PersonalRead), and for a create refused because the record exists.
	PersonalRead Budget
	// Read pays for every other read.
	Read Budget
	// Write pays for every change.
	Write Budget
	// Records bounds the import records the caller has in flight, over
	// all its import streams: received but not yet durable.
	Records int
}

// Config is the limits of each role. A role it does not name is not
// limited; DefaultConfig names every role.
type Config struct {
	Roles map[authn.Role]RoleLimits
}

// Bounds on what --rate-limits accepts: beyond them a budget would not
// limit anything a machine could send, or would never refill.
const (
	minRate    = 1.0 / 3600
	maxRate    = 1e6
	maxBurst   = 1_000_000
	maxRecords = 1_000_000
)

// DefaultConfig returns the limits a deployment starts with. A clerk at
// a desk opens a retiree every few seconds; five a second with a burst of
// fifty leaves room for a busy morning but not for copying the roster
// (14,600 a second were read with one clerk token before there was a
// limit). An enterprise registers and reads only its own retirees. The
// bureau and admin are integrations and operators' tools, the services
// each other: their budgets are higher by orders of magnitude, and bound
// a stolen token of theirs all the same. A street or district supervisor
// reads across its area at a desk, as a clerk does in its communities,
// and writes little; a district's archivist likewise works its
// district's archives at a desk.
func DefaultConfig() Config {
	return Config{Roles: map[authn.Role]RoleLimits{
		authn.RoleClerk: {
			PersonalRead: Budget{Rate: 5, Burst: 50}, Read: Budget{Rate: 20, Burst: 100},
			Write: Budget{Rate: 5, Burst: 50}, Records: 4096,
		},
		authn.RoleEnterprise: {
			PersonalRead: Budget{Rate: 2, Burst: 20}, Read: Budget{Rate: 10, Burst: 50},
			Write: Budget{Rate: 5, Burst: 50}, Records: 4096,
		},
		authn.RoleBureau: {
			PersonalRead: Budget{Rate: 200, Burst: 1000}, Read: Budget{Rate: 500, Burst: 2000},
			Write: Budget{Rate: 500, Burst: 2000}, Records: 16384,
		},
		authn.RoleAdmin: {
			PersonalRead: Budget{Rate: 200, Burst: 1000}, Read: Budget{Rate: 500, Burst: 2000},
			Write: Budget{Rate: 500, Burst: 2000}, Records: 16384,
		},
		authn.RoleService: {
			PersonalRead: Budget{Rate: 2000, Burst: 10000}, Read: Budget{Rate: 2000, Burst: 10000},
			Write: Budget{Rate: 2000, Burst: 10000}, Records: 16384,
		},
		authn.RoleStreet:   supervisorLimits,
		authn.RoleDistrict: supervisorLimits,
		// The archivist signs for dossiers and keeps their custody.
		authn.RoleArchivist: supervisorLimits,
	}}
}

// supervisorLimits are the budgets of a street or district supervisor,
// and of an archivist.
var supervisorLimits = RoleLimits{
	PersonalRead: Budget{Rate: 5, Burst: 50}, Read: Budget{Rate: 20, Burst: 100},
	Write: Budget{Rate: 5, Burst: 50}, Records: 4096,
}

// Names of the budgets in the --rate-limits syntax.
const (
	namePersonal = "personal"
	nameRead     = "read"
	nameWrite    = "write"
	nameRecords  = "records"
)

// String renders c in the syntax Set reads, roles in the order of
// authn.Roles: the default of --rate-limits in a program's help.
func (c *Config) String() string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, role := range authn.Roles() {
		l, ok := c.Roles[role]
		if !ok {
			continue
		}
		parts = append(parts,
			role.String()+"."+namePersonal+"="+l.PersonalRead.String(),
			role.String()+"."+nameRead+"="+l.Read.String(),
			role.String()+"."+nameWrite+"="+l.Write.String(),
			role.String()+"."+nameRecords+"="+strconv.Itoa(l.Records))
	}
	return strings.Join(parts, ",")
}

// String renders b as RATE/s:BURST.
func (b Budget) String() string {
	return strconv.FormatFloat(b.Rate, 'g', -1, 64) + "/s:" + strconv.Itoa(b.Burst)
}

// Set applies the settings in s to c, over what c holds (DefaultConfig,
// unless c is empty): --rate-limits. s is a list of ROLE.BUDGET=VALUE,
// separated by commas or spaces, where ROLE is a role or * for every
// role, BUDGET is personal, read or write with VALUE RATE/UNIT:BURST
// (UNIT s, m or h: "5/s:50", "300/m:20"), or records with VALUE a count.
// Every setting is checked; on any error c is left as it was.
func (c *Config) Set(s string) error {
	next := c.clone()
	entries := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(entries) == 0 {
		return errors.New("no settings: give ROLE.BUDGET=VALUE, e.g. clerk.personal=5/s:50")
	}
	var errs []error
	for _, e := range entries {
		if err := next.apply(e); err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", clip(e), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	*c = next
	return nil
}

// clone returns a copy of c whose map c does not share: the defaults
// when c has no roles yet.
func (c *Config) clone() Config {
	if len(c.Roles) == 0 {
		return DefaultConfig()
	}
	out := Config{Roles: make(map[authn.Role]RoleLimits, len(c.Roles))}
	for r, l := range c.Roles {
		out.Roles[r] = l
	}
	return out
}

// clip shortens an entry quoted in an error.
func clip(s string) string {
	const maxQuoted = 64
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "…"
	}
	return s
}

// apply sets one ROLE.BUDGET=VALUE entry.
func (c *Config) apply(entry string) error {
	key, value, ok := strings.Cut(entry, "=")
	if !ok {
		return errors.New("want ROLE.BUDGET=VALUE")
	}
	roleName, budget, ok := strings.Cut(key, ".")
	if !ok {
		return errors.New("want ROLE.BUDGET before the =, e.g. clerk.personal")
	}
	roles, err := rolesNamed(roleName)
	if err != nil {
		return err
	}
	set, err := setter(budget, value)
	if err != nil {
		return err
	}
	for _, r := range roles {
		l := c.Roles[r]
		set(&l)
		c.Roles[r] = l
	}
	return nil
}

// rolesNamed returns the role called name, or every role for "*".
func rolesNamed(name string) ([]authn.Role, error) {
	if name == "*" {
		return authn.Roles(), nil
	}
	r := authn.Role(name)
	if !r.Valid() {
		return nil, fmt.Errorf("unknown role: want one of %s, or *", roleList())
	}
	return []authn.Role{r}, nil
}

func roleList() string {
	var names []string
	for _, r := range authn.Roles() {
		names = append(names, r.String())
	}
	return strings.Join(names, ", ")
}

// setter parses value for the budget named name and returns what sets
// it on a role's limits.
func setter(name, value string) (func(*RoleLimits), error) {
	if name == nameRecords {
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > maxRecords {
			return nil, fmt.Errorf("records: want a count between 1 and %d", maxRecords)
		}
		return func(l *RoleLimits) { l.Records = n }, nil
	}
	var field func(*RoleLimits) *Budget
	switch name {
	case namePersonal:
		field = func(l *RoleLimits) *Budget { return &l.PersonalRead }
	case nameRead:
		field = func(l *RoleLimits) *Budget { return &l.Read }
	case nameWrite:
		field = func(l *RoleLimits) *Budget { return &l.Write }
	default:
		return nil, errors.New("unknown budget: want personal, read, write or records")
	}
	b, err := parseBudget(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return func(l *RoleLimits) { *field(l) = b }, nil
}

// perUnit are the time units a rate may be given in, in seconds.
var perUnit = map[string]float64{"s": 1, "m": 60, "h": 3600}

// parseBudget reads RATE/UNIT:BURST.
func parseBudget(s string) (Budget, error) {
	const want = "want RATE/UNIT:BURST, e.g. 5/s:50 (UNIT s, m or h)"
	rate, burst, ok := strings.Cut(s, ":")
	if !ok {
		return Budget{}, errors.New(want)
	}
	count, unit, ok := strings.Cut(rate, "/")
	seconds, known := perUnit[unit]
	if !ok || !known {
		return Budget{}, errors.New(want)
	}
	n, err := strconv.ParseFloat(count, 64)
	if err != nil || math.IsNaN(n) || n/seconds < minRate || n/seconds > maxRate {
		return Budget{}, fmt.Errorf("rate: want at least 1/h and at most %g/s", float64(maxRate))
	}
	b, err := strconv.Atoi(burst)
	if err != nil || b < 1 || b > maxBurst {
		return Budget{}, fmt.Errorf("burst: want a count between 1 and %d", maxBurst)
	}
	return Budget{Rate: n / seconds, Burst: b}, nil
}
