package pension

import (
	"testing"
	"time"
)

func TestParseMonth(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"2026-01", "2026-01", true},
		{"1950-12", "1950-12", true},
		{"1949-12", "", false},
		{"2026-00", "", false},
		{"2026-13", "", false},
		{"2026-1", "", false},
		{"2026/01", "", false},
		{"+202-01", "", false},
		{" 2026-01", "", false},
		{"", "", false},
	} {
		m, ok := parseMonth(tc.in)
		if ok != tc.ok || (ok && m.String() != tc.want) {
			t.Errorf("parseMonth(%q) = %v, %v; want %q, %v", tc.in, m, ok, tc.want, tc.ok)
		}
	}
}

func TestParseCivil(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2026-02-28", true},
		{"2024-02-29", true},
		{"2026-02-29", false},
		{"2000-02-29", true},
		{"2100-02-29", false},
		{"2026-04-31", false},
		{"2026-12-31", true},
		{"2026-1-01", false},
		{"2026-01-00", false},
		{"1949-12-31", false},
	} {
		if _, ok := parseCivil(tc.in); ok != tc.ok {
			t.Errorf("parseCivil(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
}

func TestMonthArithmetic(t *testing.T) {
	m := mustMonth(t, "2025-12")
	if got := (m + 1).String(); got != "2026-01" {
		t.Errorf("2025-12 + 1 = %s", got)
	}
	if got := formatDate(mustMonth(t, "2024-02").lastDay()); got != "2024-02-29" {
		t.Errorf("last day of 2024-02 = %s", got)
	}
	if got := monthEnd(mustMonth(t, "2026-04")); got != 20260430 {
		t.Errorf("monthEnd(2026-04) = %d", got)
	}
	if got := daysBetween(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)); got != 45 {
		t.Errorf("daysBetween = %d, want 45", got)
	}
}

// FuzzParseMonth checks parseMonth against time.Parse: whatever it
// accepts is a month time.Parse accepts too and prints back the same.
func FuzzParseMonth(f *testing.F) {
	for _, s := range []string{"2026-01", "1950-12", "2026-13", "2026-1", "", "０２６-01", "9999-12"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := parseMonth(s)
		tp, err := time.Parse("2006-01", s)
		if ok {
			if err != nil || m.String() != s || monthOf(tp) != m {
				t.Fatalf("parseMonth(%q) = %v but time.Parse: %v, %v", s, m, tp, err)
			}
		} else if err == nil && tp.Year() >= minYear && len(s) == 7 {
			t.Fatalf("parseMonth(%q) refused what time.Parse reads as %v", s, tp)
		}
	})
}

// FuzzParseCivil checks parseCivil against time.Parse.
func FuzzParseCivil(f *testing.F) {
	for _, s := range []string{"2026-02-28", "2024-02-29", "2026-02-29", "2026-04-31", "", "2026-01-0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := parseCivil(s)
		tp, err := time.Parse(time.DateOnly, s)
		if ok {
			if err != nil || civilOf(tp) != c || formatDate(tp) != s {
				t.Fatalf("parseCivil(%q) = %d but time.Parse: %v, %v", s, c, tp, err)
			}
		} else if err == nil && tp.Year() >= minYear && len(s) == 10 {
			t.Fatalf("parseCivil(%q) refused what time.Parse reads as %v", s, tp)
		}
	})
}
