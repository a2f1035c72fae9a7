package idnumber

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/reasontest"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	// Vectors were computed with a separate implementation, not with check().
	tests := []struct {
		name       string
		in         string
		want       string // normalised digits; "" means an error is expected
		wantReason string
	}{
		{name: "design valid X", in: "11010519491231002X", want: "11010519491231002X"},
		{name: "design valid digit", in: "500105195801012713", want: "500105195801012713"},
		{name: "design bad check", in: "110105194912310021", wantReason: ReasonCheck},
		{name: "design 30 February", in: "110105194902300020", wantReason: ReasonBirthDate},

		{name: "check 0", in: "110105198001010040", want: "110105198001010040"},
		{name: "check 1", in: "110105198001010091", want: "110105198001010091"},
		{name: "check 2", in: "110105198001010032", want: "110105198001010032"},
		{name: "check 3", in: "110105198001010083", want: "110105198001010083"},
		{name: "check 4", in: "110105198001010024", want: "110105198001010024"},
		{name: "check 5", in: "110105198001010075", want: "110105198001010075"},
		{name: "check 6", in: "110105198001010016", want: "110105198001010016"},
		{name: "check 7", in: "110105198001010067", want: "110105198001010067"},
		{name: "check 8", in: "110105198001010008", want: "110105198001010008"},
		{name: "check 9", in: "110105198001010059", want: "110105198001010059"},
		{name: "check X", in: "11010519800101018X", want: "11010519800101018X"},
		{name: "check X wrong digit", in: "110105198001010180", wantReason: ReasonCheck},
		{name: "check digit replaced by X", in: "11010519800101004X", wantReason: ReasonCheck},

		{name: "leap 2000-02-29", in: "110105200002290013", want: "110105200002290013"},
		{name: "leap 1996-02-29", in: "11010519960229002X", want: "11010519960229002X"},
		{name: "1900-02-28", in: "110105190002280011", want: "110105190002280011"},
		{name: "no 1900-02-29", in: "110105190002290017", wantReason: ReasonBirthDate},
		{name: "year 1800", in: "320102180001010010", want: "320102180001010010"},
		{name: "31 December", in: "44030419991231987X", want: "44030419991231987X"},

		{name: "lowercase x", in: "11010519491231002x", want: "11010519491231002X"},
		{name: "surrounding space", in: " \t11010519491231002X\n", want: "11010519491231002X"},
		{name: "legacy 15", in: "110105491231002", want: "11010519491231002X"},
		{name: "legacy 15 digit check", in: "500105580101271", want: "500105195801012713"},
		{name: "legacy 15 bad date", in: "110105490230002", wantReason: ReasonBirthDate},
		{name: "legacy 15 letter", in: "11010549123100X", wantReason: ReasonFormat},

		{name: "empty", in: "", wantReason: ReasonFormat},
		{name: "spaces only", in: "   ", wantReason: ReasonFormat},
		{name: "17 chars", in: "11010519491231002", wantReason: ReasonFormat},
		{name: "19 chars", in: "11010519491231002X0", wantReason: ReasonFormat},
		{name: "16 chars", in: "1101051949123100", wantReason: ReasonFormat},
		{name: "inner space", in: "110105 9491231002X", wantReason: ReasonFormat},
		{name: "letter inside", in: "1101051949123100AX", wantReason: ReasonFormat},
		{name: "X not last", in: "X10105194912310020", wantReason: ReasonFormat},
		{name: "other letter last", in: "11010519491231002Y", wantReason: ReasonFormat},
		{name: "full-width digits", in: "１１０１０５１９４９１２３１００２X", wantReason: ReasonFormat},
		{name: "area starts with 0", in: "010105194912310025", wantReason: ReasonFormat},
		{name: "month 00", in: "11010519490001002X", wantReason: ReasonBirthDate},
		{name: "month 13", in: "110105194913010029", wantReason: ReasonBirthDate},
		{name: "day 00", in: "110105194901000026", wantReason: ReasonBirthDate},
		{name: "31 April", in: "11010519490431002X", wantReason: ReasonBirthDate},
		{name: "year 1799", in: "110105179912310024", wantReason: ReasonBirthDate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Parse(tc.in)
			if tc.wantReason != "" {
				wantReason(t, err, tc.wantReason)
				if !id.IsZero() {
					t.Errorf("Parse() returned non-zero ID with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if got := id.Digits(); got != tc.want {
				t.Errorf("Digits() = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestErrorMessagesHaveNoDigits guards the rule that error text never
// carries any part of an ID number.
func TestErrorMessagesHaveNoDigits(t *testing.T) {
	inputs := []string{
		"", "1", "110105194912310021", "110105194902300020", "010105194912310025",
		"1101051949123100AX", "110105490230002", "110105179912310024", "11010549123100X",
		"110105194913010029", "abcdefghijklmnopqr", "11010519491231002X0",
	}
	id, err := Parse("11010519491231002X")
	if err != nil {
		t.Fatal(err)
	}
	errs := []error{id.CheckSex(SexMale)}
	for _, in := range inputs {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want an error", in)
		}
		errs = append(errs, err)
	}
	_, err = ParseAt("110105209912310029", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if e := (*Error)(nil); !errors.As(err, &e) || e.Reason != ReasonBirthDate {
		t.Fatalf("ParseAt(future) error = %v, want reason %s", err, ReasonBirthDate)
	}
	errs = append(errs, err)
	_, err = Build("01010X", time.Now(), 1)
	errs = append(errs, err)
	_, err = Build("110105", time.Now(), 1000)
	errs = append(errs, err)
	for _, err := range errs {
		if err == nil {
			t.Fatal("expected an error")
		}
		if strings.ContainsAny(err.Error(), "0123456789") {
			t.Errorf("error %q contains a digit", err)
		}
	}
}

func TestParseAt(t *testing.T) {
	today := time.Date(2024, 2, 29, 23, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		today   time.Time
		wantErr bool
	}{
		{name: "born today", in: "110105202402290011", today: today},
		{name: "born yesterday", in: "110105202402280016", today: today},
		{name: "born tomorrow", in: "110105202403010018", today: today, wantErr: true},
		{name: "born next year", in: "110105202501010011", today: today, wantErr: true},
		// Midnight UTC on 1 March is still 29 February in New York: the
		// comparison must use today's own calendar date.
		{name: "other zone same day", in: "110105202402290011", today: time.Date(2024, 2, 29, 19, 0, 0, 0, time.FixedZone("EST", -5*3600))},
		{name: "other zone next day", in: "110105202403010018", today: time.Date(2024, 2, 29, 19, 0, 0, 0, time.FixedZone("EST", -5*3600)), wantErr: true},
		{name: "old number", in: "11010519491231002X", today: today},
		{name: "bad check still checked", in: "110105194912310021", today: today, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAt(tc.in, tc.today)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseAt() error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
		})
	}
	// The future-date rule applies only through ParseAt.
	if _, err := Parse("110105202501010011"); err != nil {
		t.Errorf("Parse() of a future date: %v, want nil", err)
	}
}

func TestAccessors(t *testing.T) {
	tests := []struct {
		in     string
		birth  time.Time
		sex    Sex
		masked string
	}{
		{"11010519491231002X", time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), SexFemale, "110105********002X"},
		{"500105195801012713", time.Date(1958, 1, 1, 0, 0, 0, 0, time.UTC), SexMale, "500105********2713"},
		{"110105198001010091", time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), SexMale, "110105********0091"},
		{"110105200002290013", time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC), SexMale, "110105********0013"},
		{"110105491231002", time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), SexFemale, "110105********002X"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			id, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := id.BirthDate(); !got.Equal(tc.birth) || got.Location() != time.UTC {
				t.Errorf("BirthDate() = %v, want %v", got, tc.birth)
			}
			if got := id.Sex(); got != tc.sex {
				t.Errorf("Sex() = %v, want %v", got, tc.sex)
			}
			if got := id.Masked(); got != tc.masked {
				t.Errorf("Masked() = %s, want %s", got, tc.masked)
			}
			if got := id.String(); got != tc.masked {
				t.Errorf("String() = %s, want %s", got, tc.masked)
			}
			if id.IsZero() {
				t.Error("IsZero() = true for a parsed ID")
			}
		})
	}
}

func TestCheckSex(t *testing.T) {
	male, err := Parse("500105195801012713")
	if err != nil {
		t.Fatal(err)
	}
	female, err := Parse("11010519491231002X")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      ID
		sex     Sex
		wantErr bool
	}{
		{"male ok", male, SexMale, false},
		{"male unknown", male, SexUnknown, false},
		{"male stated female", male, SexFemale, true},
		{"female ok", female, SexFemale, false},
		{"female unknown", female, SexUnknown, false},
		{"female stated male", female, SexMale, true},
		{"out of range sex", female, Sex(7), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.id.CheckSex(tc.sex)
			if (err != nil) != tc.wantErr {
				t.Fatalf("CheckSex() error = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil {
				return
			}
			wantReason(t, err, ReasonSexMismatch)
		})
	}
}

func TestZeroID(t *testing.T) {
	var id ID
	if !id.IsZero() {
		t.Error("IsZero() = false")
	}
	if id.Digits() != "" || id.Masked() != "" || id.String() != "" {
		t.Errorf("zero ID prints as %q/%q/%q, want empty", id.Digits(), id.Masked(), id.String())
	}
	if !id.BirthDate().IsZero() {
		t.Errorf("BirthDate() = %v, want zero", id.BirthDate())
	}
	if id.Sex() != SexUnknown {
		t.Errorf("Sex() = %v, want unknown", id.Sex())
	}
}

// TestFormatNeverLeaks covers the verbs that would print struct fields of
// a type that only implements Stringer.
func TestFormatNeverLeaks(t *testing.T) {
	id, err := Parse("11010519491231002X")
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%X", "%10v"} {
		got := fmt.Sprintf(verb, id)
		if strings.Contains(got, "19491231") || strings.Contains(got, "3139343931323331") {
			t.Errorf("Sprintf(%q) = %q leaks the birth date", verb, got)
		}
		if !strings.Contains(got, "110105********002X") {
			t.Errorf("Sprintf(%q) = %q, want the masked form", verb, got)
		}
	}
	wrapped := fmt.Sprintf("%v", struct{ ID ID }{id})
	if strings.Contains(wrapped, "19491231") {
		t.Errorf("nested ID printed as %q", wrapped)
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"11010519491231002X", "110105********002X"},
		{"11010519491231002x", "110105********002X"},
		{" 110105194912310021 ", "110105********0021"}, // wrong check, still shaped like an ID
		{"110105491231002", "110105******002"},
		{"", ""},
		{"12345", "*****"},
		{"11010519491231002", "*****************"},
		{"1101051949123100AX", "******************"},
		{"11010549123100X", "***************"},
		{"１２３", "***"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Mask(tc.in)); diff != "" {
				t.Errorf("Mask() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIsTail: a tail is the last 4 characters a masked number shows, as
// Parse normalises them, and nothing else.
func TestIsTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"002X", true},
		{"0021", true},
		{"0000", true},
		{"002x", false},
		{"0X21", false},
		{"X", false},
		{"021", false},
		{"00210", false},
		{" 0021", false},
		{"0021 ", false},
		{"", false},
		{"００２１", false},
		{"11010519491231002X", false},
		{"12a4", false},
	} {
		if got := IsTail(tc.in); got != tc.want {
			t.Errorf("IsTail(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name       string
		area       string
		birth      time.Time
		seq        int
		want       string
		wantReason string
	}{
		{name: "design X", area: "110105", birth: time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), seq: 2, want: "11010519491231002X"},
		{name: "design digit", area: "500105", birth: time.Date(1958, 1, 1, 0, 0, 0, 0, time.UTC), seq: 271, want: "500105195801012713"},
		// The date is read in birth's own location, not converted to UTC.
		{name: "local date", area: "110105", birth: time.Date(1949, 12, 31, 23, 0, 0, 0, time.FixedZone("CST", 8*3600)), seq: 2, want: "11010519491231002X"},
		{name: "seq 0", area: "110105", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: 0, want: "110105198001010008"},
		{name: "seq 999", area: "110105", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: 999, want: "110105198001019993"},
		{name: "seq negative", area: "110105", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: -1, wantReason: ReasonFormat},
		{name: "seq 1000", area: "110105", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: 1000, wantReason: ReasonFormat},
		{name: "area short", area: "11010", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: 1, wantReason: ReasonFormat},
		{name: "area letter", area: "11010A", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: 1, wantReason: ReasonFormat},
		{name: "area zero", area: "010105", birth: time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC), seq: 1, wantReason: ReasonFormat},
		{name: "year 1799", area: "110105", birth: time.Date(1799, 1, 1, 0, 0, 0, 0, time.UTC), seq: 1, wantReason: ReasonBirthDate},
		{name: "year 10000", area: "110105", birth: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), seq: 1, wantReason: ReasonBirthDate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := Build(tc.area, tc.birth, tc.seq)
			if tc.wantReason != "" {
				wantReason(t, err, tc.wantReason)
				return
			}
			if err != nil {
				t.Fatalf("Build() error = %v", err)
			}
			if got := id.Digits(); got != tc.want {
				t.Errorf("Build() = %s, want %s", got, tc.want)
			}
			parsed, err := Parse(id.Digits())
			if err != nil {
				t.Fatalf("Parse(Build()) error = %v", err)
			}
			if parsed != id {
				t.Errorf("Parse(Build()) = %s, want %s", parsed.Digits(), id.Digits())
			}
		})
	}
}

// TestRandomBuildAndMutate builds random valid numbers, checks that Parse
// accepts them with the right fields, and that changing any one character
// of the first 17 or the check character is rejected: MOD 11-2 catches
// every single substitution.
func TestRandomBuildAndMutate(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)
	days := int(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Sub(start).Hours() / 24)
	for range 2000 {
		area := fmt.Sprintf("%d%05d", 1+r.IntN(9), r.IntN(100000))
		birth := start.AddDate(0, 0, r.IntN(days))
		seq := r.IntN(1000)
		id, err := Build(area, birth, seq)
		if err != nil {
			t.Fatalf("Build(%s, %v, %d) error = %v", area, birth, seq, err)
		}
		digits := id.Digits()
		got, err := Parse(digits)
		if err != nil {
			t.Fatalf("Parse(%s) error = %v", digits, err)
		}
		if !got.BirthDate().Equal(birth) {
			t.Errorf("BirthDate() = %v, want %v", got.BirthDate(), birth)
		}
		wantSex := SexFemale
		if seq%2 == 1 {
			wantSex = SexMale
		}
		if got.Sex() != wantSex {
			t.Errorf("%s: Sex() = %v, want %v", digits, got.Sex(), wantSex)
		}

		pos := r.IntN(length)
		alphabet := "0123456789"
		if pos == length-1 {
			alphabet = "0123456789X"
		}
		c := alphabet[r.IntN(len(alphabet))]
		if c == digits[pos] {
			continue
		}
		mutated := digits[:pos] + string(c) + digits[pos+1:]
		if _, err := Parse(mutated); err == nil {
			t.Errorf("Parse(%s) accepted a mutation of %s at %d", mutated, digits, pos)
		}
	}
}

func TestKeyer(t *testing.T) {
	if _, err := NewKeyer(make([]byte, MinKeyLen-1)); !errors.Is(err, ErrShortKey) {
		t.Errorf("NewKeyer(short) error = %v, want ErrShortKey", err)
	}
	key := []byte(strings.Repeat("k", MinKeyLen))
	k, err := NewKeyer(key)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewKeyer([]byte(strings.Repeat("j", MinKeyLen)))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Parse("11010519491231002X")
	legacy, _ := Parse("110105491231002")
	b, _ := Parse("500105195801012713")

	ka := k.Key(a)
	if len(ka) != 32 {
		t.Fatalf("len(Key()) = %d, want 32", len(ka))
	}
	if diff := cmp.Diff(ka, k.Key(legacy)); diff != "" {
		t.Errorf("same number in 15 and 18 digits keyed differently:\n%s", diff)
	}
	if cmp.Equal(ka, k.Key(b)) {
		t.Error("different numbers have the same key")
	}
	if cmp.Equal(ka, other.Key(a)) {
		t.Error("different secrets give the same key")
	}
	// Mutating the caller's key must not change the Keyer.
	key[0] = 'z'
	if diff := cmp.Diff(ka, k.Key(a)); diff != "" {
		t.Errorf("Keyer kept a reference to the caller's key:\n%s", diff)
	}
	// Mutating a returned key must not affect later results.
	ka[0] ^= 0xff
	if cmp.Equal(ka, k.Key(a)) {
		t.Error("Key() returned a shared buffer")
	}
}

func TestKeyerConcurrent(t *testing.T) {
	k, err := NewKeyer(make([]byte, MinKeyLen))
	if err != nil {
		t.Fatal(err)
	}
	ids := []ID{}
	for _, s := range []string{"11010519491231002X", "500105195801012713", "110105200002290013"} {
		id, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	want := make([][]byte, len(ids))
	for i, id := range ids {
		want[i] = k.Key(id)
	}
	done := make(chan error)
	for g := range 8 {
		go func() {
			for n := range 500 {
				i := (g + n) % len(ids)
				if !cmp.Equal(k.Key(ids[i]), want[i]) {
					done <- fmt.Errorf("goroutine %d: key %d differs", g, i)
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "500105195801012713", "110105194912310021", "110105194902300020",
		"11010519491231002x", " 11010519491231002X ", "110105491231002", "", "X", "010105194912310025",
		"110105200002290013", "110105190002290017", "１１０１０５１９４９１２３１００２X",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		masked := Mask(s)
		switch {
		case strings.Trim(masked, "*") == "":
		case len(masked) == length && masked[6:14] == "********":
		case len(masked) == legacyLength && masked[6:12] == "******":
		default:
			t.Fatalf("Mask(%q) = %q does not hide the birth date", s, masked)
		}
		id, err := Parse(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q) error %v is not an *Error", s, err)
			}
			if strings.ContainsAny(err.Error(), "0123456789") {
				t.Fatalf("error %q contains digits", err)
			}
			return
		}
		digits := id.Digits()
		again, err := Parse(digits)
		if err != nil || again != id {
			t.Fatalf("Parse(%q) = %q, %v; want round trip of %q", digits, again.Digits(), err, s)
		}
		m := id.Masked()
		if len(m) != length || m[:6] != digits[:6] || m[6:14] != "********" || m[14:] != digits[14:] {
			t.Fatalf("Masked() = %q for %q", m, digits)
		}
		if Mask(digits) != m {
			t.Fatalf("Mask(%q) = %q, want %q", digits, Mask(digits), m)
		}
		if !IsTail(m[length-TailLen:]) {
			t.Fatalf("the visible end of %q is not a tail", m)
		}
		if id.Sex() == SexUnknown || id.BirthDate().Year() < minYear {
			t.Fatalf("Parse(%q) gave sex %v, birth %v", s, id.Sex(), id.BirthDate())
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"canonical", "11010519491231002X"},
		{"lowercase", "11010519491231002x"},
		{"legacy", "110105491231002"},
	} {
		s := bc.in
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkKey(b *testing.B) {
	k, err := NewKeyer(make([]byte, MinKeyLen))
	if err != nil {
		b.Fatal(err)
	}
	id, err := Parse("11010519491231002X")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = k.Key(id)
		}
	})
}

// wantReason fails t unless err is an *Error with the reason want that
// matches ErrInvalid.
func wantReason(t *testing.T, err error, want string) {
	t.Helper()
	reasontest.WantReason(t, err, func(e *Error) string { return e.Reason }, want, ErrInvalid)
}
