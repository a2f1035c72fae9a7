package limits

import (
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
)

func TestConfigSet(t *testing.T) {
	tests := []struct {
		name  string
		input string
		// change edits the defaults into what input should make of them.
		change func(c Config)
	}{
		{
			name:  "one budget of one role",
			input: "clerk.personal=3/s:30",
			change: func(c Config) {
				l := c.Roles[authn.RoleClerk]
				l.PersonalRead = Budget{Rate: 3, Burst: 30}
				c.Roles[authn.RoleClerk] = l
			},
		},
		{
			name:  "units, records, commas and spaces",
			input: "bureau.read=120/m:10, bureau.write=7200/h:5 bureau.records=100",
			change: func(c Config) {
				l := c.Roles[authn.RoleBureau]
				l.Read = Budget{Rate: 2, Burst: 10}
				l.Write = Budget{Rate: 2, Burst: 5}
				l.Records = 100
				c.Roles[authn.RoleBureau] = l
			},
		},
		{
			name:  "every role, then one of them again",
			input: "*.write=1/s:1,admin.write=9/s:9",
			change: func(c Config) {
				for r, l := range c.Roles {
					l.Write = Budget{Rate: 1, Burst: 1}
					if r == authn.RoleAdmin {
						l.Write = Budget{Rate: 9, Burst: 9}
					}
					c.Roles[r] = l
				}
			},
		},
		{
			name:  "a fraction of a call a second",
			input: "enterprise.personal=0.5/s:2",
			change: func(c Config) {
				l := c.Roles[authn.RoleEnterprise]
				l.PersonalRead = Budget{Rate: 0.5, Burst: 2}
				c.Roles[authn.RoleEnterprise] = l
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DefaultConfig()
			if err := got.Set(tc.input); err != nil {
				t.Fatalf("Set(%q): %v", tc.input, err)
			}
			want := DefaultConfig()
			tc.change(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Set(%q) (-want +got):\n%s", tc.input, diff)
			}
		})
	}
}

func TestConfigSetRefuses(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"empty", " , ", "no settings"},
		{"no value", "clerk.personal", "want ROLE.BUDGET=VALUE"},
		{"no budget", "clerk=5/s:50", "want ROLE.BUDGET"},
		{"unknown role", "janitor.read=5/s:50", "unknown role"},
		{"role in capitals", "Clerk.read=5/s:50", "unknown role"},
		{"unknown budget", "clerk.delete=5/s:50", "unknown budget"},
		{"no burst", "clerk.read=5/s", "want RATE/UNIT:BURST"},
		{"no unit", "clerk.read=5:50", "want RATE/UNIT:BURST"},
		{"unknown unit", "clerk.read=5/d:50", "want RATE/UNIT:BURST"},
		{"zero rate", "clerk.read=0/s:50", "rate: want at least 1/h"},
		{"negative rate", "clerk.read=-1/s:50", "rate: want at least 1/h"},
		{"rate not a number", "clerk.read=NaN/s:50", "rate: want at least 1/h"},
		{"rate too slow", "clerk.read=1/h:50,clerk.write=0.9/h:50", `"clerk.write=0.9/h:50": write: rate: want at least 1/h`},
		{"rate too high", "clerk.read=2000000/s:50", "rate: want at least 1/h and at most"},
		{"zero burst", "clerk.read=5/s:0", "burst: want a count between 1"},
		{"burst too high", "clerk.read=5/s:2000000", "burst: want a count between 1"},
		{"zero records", "clerk.records=0", "records: want a count between 1"},
		{"records with a rate", "clerk.records=5/s:50", "records: want a count"},
		{"one bad among good", "clerk.read=5/s:50,clerk.write=5/s", `"clerk.write=5/s"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			err := c.Set(tc.input)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Set(%q) = %v, want an error about %s", tc.input, err, tc.want)
			}
			if diff := cmp.Diff(DefaultConfig(), c); diff != "" {
				t.Errorf("a refused Set changed the config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigIsAFlag: an empty Config set from the command line starts
// from the defaults, and its text is what Set reads back.
func TestConfigIsAFlag(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.Var(&c, "rate-limits", "")
	if err := fs.Parse([]string{"--rate-limits", "clerk.read=1/s:1"}); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	l := want.Roles[authn.RoleClerk]
	l.Read = Budget{Rate: 1, Burst: 1}
	want.Roles[authn.RoleClerk] = l
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("after the flag (-want +got):\n%s", diff)
	}
	var again Config
	if err := again.Set(c.String()); err != nil {
		t.Fatalf("Set(String()): %v", err)
	}
	if diff := cmp.Diff(c, again); diff != "" {
		t.Errorf("Set(String()) (-want +got):\n%s", diff)
	}
}

// FuzzConfigSet: --rate-limits comes from an operator's command line or
// environment. Whatever it says, Set either refuses it and changes
// nothing, or yields budgets within bounds whose text reads back the same.
func FuzzConfigSet(f *testing.F) {
	f.Add("clerk.personal=5/s:50")
	f.Add("*.write=300/m:20 bureau.records=16384")
	f.Add("clerk.read=1e-300/s:1")
	f.Add("clerk.read=1/h:1")
	f.Add("admin.read=1e6/s:1000000,service.personal=3600/h:1")
	f.Add("clerk.read=5/s:50=")
	f.Add("..=/:")
	f.Fuzz(func(t *testing.T, s string) {
		c := DefaultConfig()
		if err := c.Set(s); err != nil {
			if diff := cmp.Diff(DefaultConfig(), c); diff != "" {
				t.Fatalf("a refused Set(%q) changed the config:\n%s", s, diff)
			}
			return
		}
		for role, l := range c.Roles {
			for _, b := range []Budget{l.PersonalRead, l.Read, l.Write} {
				if !(b.Rate >= minRate && b.Rate <= maxRate && b.Burst >= 1 && b.Burst <= maxBurst) {
					t.Fatalf("Set(%q) gave %s the budget %+v", s, role, b)
				}
			}
			if l.Records < 1 || l.Records > maxRecords {
				t.Fatalf("Set(%q) gave %s %d records", s, role, l.Records)
			}
		}
		var again Config
		if err := again.Set(c.String()); err != nil {
			t.Fatalf("Set(%q).String() = %q does not read back: %v", s, c.String(), err)
		}
		if diff := cmp.Diff(c, again); diff != "" {
			t.Fatalf("Set(%q) does not read back the same (-want +got):\n%s", s, diff)
		}
	})
}
