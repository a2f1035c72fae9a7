package servicetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// Target is the object a call of an authorisation matrix names.
type Target int

const (
	// Own is in the caller's scope when it has one.
	Own Target = iota
	// Other is outside every caller's scope.
	Other
	// Missing does not exist.
	Missing
)

// Targets are the three targets in the order of Cells.
var Targets = [...]Target{Own, Other, Missing}

// String names the target in subtest names.
func (tg Target) String() string { return [...]string{"own", "other", "missing"}[tg] }

// NA marks a cell whose call names no object of that kind, such as a call
// that names none at all: the cell is not called.
const NA = codes.Code(1000)

// Cells are the codes a caller gets from one RPC on Own, Other and
// Missing, in that order.
type Cells [3]codes.Code

// Caller is one caller of a matrix: its name in the matrix and the
// context its calls carry, with its token or none.
type Caller struct {
	Name string
	Ctx  context.Context
}

// Matrix is a service's authorisation matrix: every RPC called by every
// caller on every target, with the code each call must get.
type Matrix struct {
	// Calls prepare a call of each RPC on a target, creating fresh
	// fixtures for the calls that change them, and return it.
	Calls map[string]func(Target) func(context.Context) error
	// Want holds, by RPC and by caller name, the codes of the calls.
	Want map[string]map[string]Cells
	// Callers are the callers, each of which Want must name.
	Callers []Caller
	// Secrets are personal data no status may carry.
	Secrets []string
	// Around, when set, is called before each call; the function it
	// returns is called after with the code the call got, for checks such
	// as that a refused call changed nothing.
	Around func(t *testing.T, rpc string, tg Target) func(got codes.Code)
}

// RunMatrix makes every call of m in a subtest of its own, named
// rpc/caller/target, and checks its code; a PermissionDenied must be the
// same bare answer everywhere, so that it says nothing of whether the
// object exists. Every RPC with a call must be in the matrix and the
// other way round.
func RunMatrix(t *testing.T, m Matrix) {
	t.Helper()
	for rpc := range m.Calls {
		if _, ok := m.Want[rpc]; !ok {
			t.Errorf("%s is not in the matrix", rpc)
		}
	}
	for _, rpc := range slices.Sorted(maps.Keys(m.Want)) {
		prepare, ok := m.Calls[rpc]
		if !ok {
			t.Fatalf("no call for %s", rpc)
		}
		for _, c := range m.Callers {
			cells, ok := m.Want[rpc][c.Name]
			if !ok {
				t.Errorf("no codes for %s as %s", rpc, c.Name)
			}
			for _, tg := range Targets {
				if want := cells[tg]; ok && want != NA {
					t.Run(fmt.Sprintf("%s/%s/%s", rpc, c.Name, tg), func(t *testing.T) {
						m.call(t, rpc, tg, prepare(tg), c.Ctx, want)
					})
				}
			}
		}
	}
}

// call makes one call of the matrix and checks it.
func (m Matrix) call(t *testing.T, rpc string, tg Target, call func(context.Context) error, ctx context.Context, want codes.Code) {
	t.Helper()
	after := func(codes.Code) {}
	if m.Around != nil {
		after = m.Around(t, rpc, tg)
	}
	st := WantCode(t, call(ctx), want, m.Secrets...)
	if want == codes.PermissionDenied && (st.Message() != "permission denied" || len(st.Details()) != 0) {
		t.Errorf("PermissionDenied %q with %d details; want the same bare answer everywhere", st.Message(), len(st.Details()))
	}
	after(st.Code())
}

// CallersOf returns a matrix's callers acting as principals with tokens
// signed by k, each named by its role.
func (k Keys) CallersOf(t testing.TB, principals ...authn.Principal) []Caller {
	t.Helper()
	out := make([]Caller, 0, len(principals))
	for _, p := range principals {
		out = append(out, Caller{Name: p.Role.String(), Ctx: k.As(t, p)})
	}
	return out
}

// OnTarget is the call of a matrix that needs no fixture of its own: it
// calls call on the target when the matrix makes the call.
func OnTarget(call func(ctx context.Context, tg Target) error) func(Target) func(context.Context) error {
	return func(tg Target) func(context.Context) error {
		return func(ctx context.Context) error { return call(ctx, tg) }
	}
}

// The names of the supervisors in a matrix (see Supervisors).
const (
	StreetCaller            = "street"
	DistrictCaller          = "district"
	StreetElsewhereCaller   = "street elsewhere"
	DistrictElsewhereCaller = "district elsewhere"
)

// Supervisors returns the street and district supervisors of a matrix:
// StreetCaller and DistrictCaller oversee the area of CommunityA and
// CommunityB, a matrix's own and other targets; StreetElsewhereCaller
// and DistrictElsewhereCaller oversee CommunityC's, which holds neither.
func (k Keys) Supervisors(t testing.TB) []Caller {
	t.Helper()
	return []Caller{
		{Name: StreetCaller, Ctx: k.As(t, Street("street-beishichang", StreetAB))},
		{Name: DistrictCaller, Ctx: k.As(t, District("district-heping", DistrictAB))},
		{Name: StreetElsewhereCaller, Ctx: k.As(t, Street("street-wulihe", StreetC))},
		{Name: DistrictElsewhereCaller, Ctx: k.As(t, District("district-shenhe", DistrictC))},
	}
}

// SupervisorCells are the codes of the four Supervisors for one RPC: the
// supervisors of the targets' area get inArea, the others elsewhere.
func SupervisorCells(inArea, elsewhere Cells) map[string]Cells {
	return map[string]Cells{
		StreetCaller: inArea, DistrictCaller: inArea,
		StreetElsewhereCaller: elsewhere, DistrictElsewhereCaller: elsewhere,
	}
}

// WithSupervisors adds the Supervisors' codes to every RPC of want:
// those of reads where reads names the RPC, and a bare PermissionDenied
// everywhere else, since a supervisor writes nothing (on the targets the
// admin's row calls: NA stays NA).
func WithSupervisors(t testing.TB, want, reads map[string]map[string]Cells) {
	t.Helper()
	for rpc := range reads {
		if _, ok := want[rpc]; !ok {
			t.Fatalf("supervisors' codes for %s, which the matrix does not have", rpc)
		}
	}
	for rpc, row := range want {
		// Rows may be shared between RPCs: each gets its own copy.
		row = maps.Clone(row)
		want[rpc] = row
		cells, ok := reads[rpc]
		if !ok {
			denied, ok := row[authn.RoleAdmin.String()]
			if !ok {
				t.Fatalf("%s has no admin row to follow", rpc)
			}
			for i, c := range denied {
				if c != NA {
					denied[i] = codes.PermissionDenied
				}
			}
			cells = SupervisorCells(denied, denied)
		}
		maps.Copy(row, cells)
	}
}
