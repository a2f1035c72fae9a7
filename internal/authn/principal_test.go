package authn

import (
	"context"
	"errors"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestParseRole(t *testing.T) {
	tests := []struct {
		in   string
		want Role
		err  bool
	}{
		{"admin", RoleAdmin, false},
		{"bureau", RoleBureau, false},
		{"clerk", RoleClerk, false},
		{"enterprise", RoleEnterprise, false},
		{"service", RoleService, false},
		{"street", RoleStreet, false},
		{"District", RoleDistrict, false},
		{"archivist", RoleArchivist, false},
		{"librarian", "", true},
		{" Clerk ", RoleClerk, false},
		{"", "", true},
		{"root", "", true},
		{"admins", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRole(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("ParseRole(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
			}
			if err != nil && !errors.Is(err, ErrUnknownRole) {
				t.Errorf("err = %v, want ErrUnknownRole", err)
			}
		})
	}
	for _, r := range Roles() {
		if got, err := ParseRole(r.String()); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
}

func TestPrincipalScope(t *testing.T) {
	var nilP *Principal
	tests := []struct {
		name      string
		p         *Principal
		community string
		inComm    bool
		code      string
		ownsEnt   bool
	}{
		{"clerk in scope", &clerkP, community2, true, creditCode, false},
		{"clerk out of scope", &clerkP, "110105001003", false, "", false},
		{"clerk empty id", &clerkP, "", false, "", false},
		{"admin is not in a community", &adminP, community1, false, creditCode, false},
		{"bureau is not in a community", &bureauP, community1, false, creditCode, false},
		{"enterprise own", &enterpriseP, community1, false, creditCode, true},
		{"enterprise other", &enterpriseP, community1, false, "91420100177683101W", false},
		{"enterprise empty code", &Principal{Subject: "e", Role: RoleEnterprise}, community1, false, "", false},
		{"non-clerk carrying communities", &Principal{Subject: "x", Role: RoleBureau, Communities: []string{community1}}, community1, false, "", false},
		{"nil", nilP, community1, false, creditCode, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.InCommunity(tc.community); got != tc.inComm {
				t.Errorf("InCommunity(%q) = %v, want %v", tc.community, got, tc.inComm)
			}
			if got := tc.p.OwnsEnterprise(tc.code); got != tc.ownsEnt {
				t.Errorf("OwnsEnterprise(%q) = %v, want %v", tc.code, got, tc.ownsEnt)
			}
		})
	}
}

func TestPrincipalInArea(t *testing.T) {
	var nilP *Principal
	otherStreet := "110105002001"   // same district, another street office
	otherDistrict := "110106001001" // same street number, another district
	tests := []struct {
		name      string
		p         *Principal
		community string
		want      bool
		area      string
	}{
		{"clerk, its community", &clerkP, community1, true, ""},
		{"clerk, a community of its street office", &clerkP, "110105001003", false, ""},
		{"street, a community of it", &streetP, community1, true, "110105001"},
		{"street, another community of it", &streetP, "110105001999", true, "110105001"},
		{"street, another street office", &streetP, otherStreet, false, "110105001"},
		{"street, another district", &streetP, otherDistrict, false, "110105001"},
		{"street, its own code", &streetP, "110105001", false, "110105001"},
		{"street, a longer id", &streetP, community1 + "0", false, "110105001"},
		{"street, empty", &streetP, "", false, "110105001"},
		{"district, a community of it", &districtP, community1, true, "110105"},
		{"district, another street office of it", &districtP, otherStreet, true, "110105"},
		{"district, another district", &districtP, otherDistrict, false, "110105"},
		{"street without a code", &Principal{Subject: "s", Role: RoleStreet}, community1, false, ""},
		{"district carrying a street code", &Principal{Subject: "d", Role: RoleDistrict, Street: "110105001"}, community1, false, ""},
		{"bureau carrying a district code", &Principal{Subject: "b", Role: RoleBureau, District: "110105"}, community1, false, ""},
		{"admin", &adminP, community1, false, ""},
		{"enterprise", &enterpriseP, community1, false, ""},
		{"nil", nilP, community1, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.InArea(tc.community); got != tc.want {
				t.Errorf("InArea(%q) = %v, want %v", tc.community, got, tc.want)
			}
			if got := tc.p.Area(); got != tc.area {
				t.Errorf("Area() = %q, want %q", got, tc.area)
			}
		})
	}
	for _, p := range []*Principal{&streetP, &districtP} {
		if !p.IsSupervisor() {
			t.Errorf("%s is not a supervisor", p.Role)
		}
	}
	for _, p := range []*Principal{&adminP, &bureauP, &clerkP, &enterpriseP, &serviceP, nilP} {
		if p.IsSupervisor() {
			t.Errorf("%v is a supervisor", p)
		}
	}
}

func TestPrincipalIs(t *testing.T) {
	var nilP *Principal
	tests := []struct {
		name  string
		p     *Principal
		roles []Role
		want  bool
	}{
		{"one of", &clerkP, []Role{RoleBureau, RoleClerk}, true},
		{"not one of", &clerkP, []Role{RoleBureau, RoleEnterprise}, false},
		{"admin is literal", &adminP, []Role{RoleBureau}, false},
		{"no roles", &adminP, nil, false},
		{"nil principal", nilP, []Role{RoleAdmin}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Is(tc.roles...); got != tc.want {
				t.Errorf("Is(%v) = %v, want %v", tc.roles, got, tc.want)
			}
		})
	}
}

func TestContext(t *testing.T) {
	if _, ok := FromContext(context.Background()); ok {
		t.Error("FromContext found a principal in an empty context")
	}
	if _, ok := FromContext(NewContext(context.Background(), nil)); ok {
		t.Error("FromContext reported a nil principal as present")
	}
	p := &clerkP
	got, ok := FromContext(NewContext(context.Background(), p))
	if !ok || got != p {
		t.Errorf("FromContext = %v, %v; want the stored principal", got, ok)
	}
}

func TestRequire(t *testing.T) {
	tests := []struct {
		name  string
		p     *Principal // nil: no principal in the context
		roles []Role
		want  codes.Code
	}{
		{"no principal", nil, []Role{RoleClerk}, codes.Unauthenticated},
		{"allowed role", &clerkP, []Role{RoleBureau, RoleClerk}, codes.OK},
		{"other role", &enterpriseP, []Role{RoleBureau, RoleClerk}, codes.PermissionDenied},
		{"service not a user role", &serviceP, []Role{RoleBureau}, codes.PermissionDenied},
		{"admin always", &adminP, []Role{RoleService}, codes.OK},
		{"admin with no roles", &adminP, nil, codes.OK},
		{"others with no roles", &bureauP, nil, codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.p != nil {
				ctx = NewContext(ctx, tc.p)
			}
			got, err := Require(ctx, tc.roles...)
			if code := status.Code(err); code != tc.want {
				t.Fatalf("Require: code %v (%v), want %v", code, err, tc.want)
			}
			if tc.want == codes.OK && got != tc.p {
				t.Errorf("Require returned %v, want the context's principal", got)
			}
			if tc.want == codes.PermissionDenied && !errors.Is(err, ErrPermissionDenied) {
				t.Errorf("err = %v, want ErrPermissionDenied", err)
			}
		})
	}

	t.Run("authenticated", func(t *testing.T) {
		if _, err := Authenticated(context.Background()); status.Code(err) != codes.Unauthenticated {
			t.Errorf("Authenticated without principal: %v, want Unauthenticated", err)
		}
		if p, err := Authenticated(NewContext(context.Background(), &enterpriseP)); err != nil || p != &enterpriseP {
			t.Errorf("Authenticated = %v, %v", p, err)
		}
	})
}

// FuzzSupervisorClaims: whatever street and district codes a token
// carries, a principal that passes validation has an area of the right
// length, and InArea holds only for a 12-digit id that starts with it.
func FuzzSupervisorClaims(f *testing.F) {
	f.Add("street", "110105001", "", "110105001001")
	f.Add("district", "", "110105", "110105002001")
	f.Add("street", "110105", "", "110105001001")
	f.Add("district", "", "1101050010", "1101050010")
	f.Add("clerk", "", "", "110105001001")
	f.Add("street", "11010500\x00", "", "11010500\x00001")
	f.Fuzz(func(t *testing.T, role, street, district, community string) {
		p := &Principal{Subject: "s", Role: Role(role), Street: street, District: district}
		if p.Role == RoleClerk {
			p.Communities = []string{"110105001001"}
		}
		if p.validate() != nil {
			return
		}
		area := p.Area()
		switch p.Role {
		case RoleStreet:
			if len(area) != 9 {
				t.Fatalf("a valid street supervisor's area %q", area)
			}
		case RoleDistrict:
			if len(area) != 6 {
				t.Fatalf("a valid district supervisor's area %q", area)
			}
		default:
			if area != "" {
				t.Fatalf("a %s has the area %q", p.Role, area)
			}
		}
		if p.InArea(community) && p.Role != RoleClerk && (len(community) != 12 || !strings.HasPrefix(community, area) || area == "") {
			t.Fatalf("%q is in the area %q", community, area)
		}
	})
}
