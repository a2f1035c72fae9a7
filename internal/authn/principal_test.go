package authn

import (
	"context"
	"errors"
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
