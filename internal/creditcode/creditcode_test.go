package creditcode

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/reasontest"
)

func TestParse(t *testing.T) {
	// Vectors beyond DESIGN's were computed with a separate implementation.
	tests := []struct {
		name       string
		in         string
		want       Code
		wantReason string
	}{
		{name: "design M", in: "91350100M000100Y43", want: "91350100M000100Y43"},
		{name: "design W", in: "91420100177683101W", want: "91420100177683101W"},
		{name: "check J", in: "91110000100000008J", want: "91110000100000008J"},
		{name: "check T", in: "12440300MA5FXXXXXT", want: "12440300MA5FXXXXXT"},
		{name: "check 0", in: "Y16501000000000000", want: "Y16501000000000000"},
		{name: "check 9", in: "52310104AB12CD34X9", want: "52310104AB12CD34X9"},
		{name: "lower case", in: "91350100m000100y43", want: "91350100M000100Y43"},
		{name: "surrounding space", in: "  91420100177683101w\t", want: "91420100177683101W"},

		{name: "wrong check", in: "91350100M000100Y44", wantReason: ReasonCheck},
		{name: "swapped neighbours", in: "91350100M000010Y43", wantReason: ReasonCheck},
		{name: "check letter wrong", in: "91420100177683101X", wantReason: ReasonCheck},
		{name: "empty", in: "", wantReason: ReasonFormat},
		{name: "17 chars", in: "91350100M000100Y4", wantReason: ReasonFormat},
		{name: "19 chars", in: "91350100M000100Y430", wantReason: ReasonFormat},
		{name: "letter I", in: "9I350100M000100Y43", wantReason: ReasonFormat},
		{name: "letter O", in: "91350100O000100Y43", wantReason: ReasonFormat},
		{name: "letter S", in: "91350100M000100S43", wantReason: ReasonFormat},
		{name: "letter V", in: "V1350100M000100Y43", wantReason: ReasonFormat},
		{name: "letter Z", in: "91420100177683101Z", wantReason: ReasonFormat},
		{name: "letter in area", in: "913501A0M000100Y43", wantReason: ReasonFormat},
		{name: "inner space", in: "91350100 000100Y43", wantReason: ReasonFormat},
		{name: "hyphen", in: "91350100-000100Y43", wantReason: ReasonFormat},
		{name: "non-ASCII", in: "９1350100M000100Y4", wantReason: ReasonFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantReason != "" {
				wantReason(t, err, tc.wantReason)
				if got != "" {
					t.Errorf("Parse() = %q with an error, want empty", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got != tc.want || got.String() != string(tc.want) {
				t.Errorf("Parse() = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name                string
		prefix2, area, body string
		want                Code
		wantReason          string
	}{
		{name: "design M", prefix2: "91", area: "350100", body: "M000100Y", want: "91350100M000100Y43"},
		{name: "org check X", prefix2: "52", area: "310104", body: "AB12CD34", want: "52310104AB12CD34X9"},
		{name: "org check 8", prefix2: "91", area: "110000", body: "10000000", want: "91110000100000008J"},
		{name: "org check 0", prefix2: "Y1", area: "650100", body: "00000000", want: "Y16501000000000000"},
		{name: "org letters", prefix2: "12", area: "440300", body: "MA5FXXXX", want: "12440300MA5FXXXXXT"},
		{name: "prefix short", prefix2: "9", area: "350100", body: "M000100Y", wantReason: ReasonFormat},
		{name: "prefix I", prefix2: "I1", area: "350100", body: "M000100Y", wantReason: ReasonFormat},
		{name: "prefix lower", prefix2: "y1", area: "350100", body: "M000100Y", wantReason: ReasonFormat},
		{name: "area letter", prefix2: "91", area: "35010A", body: "M000100Y", wantReason: ReasonFormat},
		{name: "area long", prefix2: "91", area: "3501000", body: "M000100Y", wantReason: ReasonFormat},
		{name: "body short", prefix2: "91", area: "350100", body: "M000100", wantReason: ReasonFormat},
		{name: "body O", prefix2: "91", area: "350100", body: "O000100Y", wantReason: ReasonFormat},
		{name: "body lower", prefix2: "91", area: "350100", body: "m000100Y", wantReason: ReasonFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Build(tc.prefix2, tc.area, tc.body)
			if tc.wantReason != "" {
				wantReason(t, err, tc.wantReason)
				return
			}
			if err != nil {
				t.Fatalf("Build() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("Build() = %s, want %s", got, tc.want)
			}
			if parsed, err := Parse(string(got)); err != nil || parsed != got {
				t.Errorf("Parse(Build()) = %s, %v", parsed, err)
			}
		})
	}
}

// TestOrgCheckOfDesignVectors records why Parse does not enforce the
// GB 11714 check: one of DESIGN's valid codes fails it.
func TestOrgCheckOfDesignVectors(t *testing.T) {
	tests := []struct {
		code   string
		wantOK bool
	}{
		{"91350100M000100Y43", true},
		{"91420100177683101W", false},
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			ok := orgCheckChar(tc.code[8:16]) == tc.code[16]
			if ok != tc.wantOK {
				t.Errorf("organisation code check = %v, want %v", ok, tc.wantOK)
			}
			if _, err := Parse(tc.code); err != nil {
				t.Errorf("Parse() error = %v", err)
			}
		})
	}
}

// TestRandomCodes makes random valid codes, checks Parse accepts them, and
// that replacing any one character is rejected unless the replacement is a
// no-op after normalisation. A mod-31 check with weights prime to 31
// catches every single substitution, so there is no other exception.
func TestRandomCodes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	// Every byte a client might send, including lower case and space.
	var mutations []byte
	for c := 0x20; c < 0x7f; c++ {
		mutations = append(mutations, byte(c))
	}
	for range 5000 {
		var b [length]byte
		for i := range length - 1 {
			if 2 <= i && i < 8 {
				b[i] = byte('0' + r.IntN(10))
			} else {
				b[i] = charset[r.IntN(modulus)]
			}
		}
		b[length-1] = checkChar(b[:length-1])
		code := string(b[:])
		got, err := Parse(code)
		if err != nil || string(got) != code {
			t.Fatalf("Parse(%s) = %s, %v", code, got, err)
		}

		pos := r.IntN(length)
		c := mutations[r.IntN(len(mutations))]
		mutated := code[:pos] + string(c) + code[pos+1:]
		got, err = Parse(mutated)
		if strings.ToUpper(mutated) == code {
			if err != nil || string(got) != code {
				t.Errorf("Parse(%q) = %s, %v; want %s", mutated, got, err, code)
			}
			continue
		}
		if err == nil {
			t.Errorf("Parse(%q) accepted a mutation of %s at %d", mutated, code, pos)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"91350100M000100Y43", "91420100177683101W", "91350100m000100y43", " 91420100177683101W ",
		"91350100M000100Y44", "", "9I350100M000100Y43", "913501A0M000100Y43", "９1350100M000100Y4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not an *Error", s, err)
			}
			return
		}
		if len(c) != length {
			t.Fatalf("Parse(%q) = %q, want 18 characters", s, c)
		}
		for i := 0; i < length; i++ {
			if value(c[i]) < 0 {
				t.Fatalf("Parse(%q) = %q contains %q", s, c, c[i])
			}
		}
		if again, err := Parse(c.String()); err != nil || again != c {
			t.Fatalf("Parse(%q) = %q, %v; want round trip", c, again, err)
		}
		if !strings.EqualFold(strings.TrimSpace(s), string(c)) {
			t.Fatalf("Parse(%q) = %q is not the input", s, c)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"canonical", "91350100M000100Y43"},
		{"lowercase", "91350100m000100y43"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// wantReason fails t unless err is an *Error with the reason want that
// matches ErrInvalid.
func wantReason(t *testing.T, err error, want string) {
	t.Helper()
	reasontest.WantReason(t, err, func(e *Error) string { return e.Reason }, want, ErrInvalid)
}
