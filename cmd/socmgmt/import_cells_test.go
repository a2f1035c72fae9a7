package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

func TestIDNumberCell(t *testing.T) {
	valid := "11010519491231002X"
	for _, tc := range []struct {
		in, reason, says string
	}{
		{valid, "", ""},
		{"110105194912310", "", ""}, // a legacy 15-digit number is the service's to convert
		{"1.10105E+17", reasonIDNumberAsNumber, "scientific notation"},
		{"1.1010519491231E+17", reasonIDNumberAsNumber, "only 15 digits"},
		{"1E17", reasonIDNumberAsNumber, "scientific"},
		{"110105194912310000", reasonIDNumberAsNumber, "110105********0000 ends in 000"},
		{"abc", "", ""}, // the service says what is wrong
	} {
		rj := idNumberCell(tc.in)
		if tc.reason == "" {
			if rj != nil {
				t.Errorf("idNumberCell(%q) = %v, want nil", tc.in, rj)
			}
			continue
		}
		if rj == nil || rj.code != tc.reason || !strings.Contains(rj.message, tc.says) {
			t.Errorf("idNumberCell(%q) = %v, want %s saying %q", tc.in, rj, tc.reason, tc.says)
		}
	}
	// An 18-digit number ending in 000 that is valid stays: Excel did not
	// touch it (its check digit is 0 by chance).
	for n := range 200 {
		id := csvIDNumber(t, n)
		if strings.HasSuffix(id, "000") && idNumberCell(id) != nil {
			t.Errorf("valid ID number %d rejected", n)
		}
	}
}

func TestDateCell(t *testing.T) {
	for _, tc := range []struct {
		in, reason, says string
	}{
		{"2026-07-15", "", ""},
		{"", "", ""},
		{"2026-13-45", "", ""}, // shaped right: the service checks the date
		{"2026/7/15", reasonDateNotISO, "write 2026-07-15"},
		{"2026.07.15", reasonDateNotISO, "write 2026-07-15"},
		{"2026-7-5", reasonDateNotISO, "write 2026-07-05"},
		{"2026年7月15日", reasonDateNotISO, "write 2026-07-15"},
		{"2026/7/15 0:00", reasonDateNotISO, "write 2026-07-15"},
		{"2026-07-15 00:00:00", reasonDateNotISO, "write 2026-07-15"},
		{"7/15/2026", reasonDateNotISO, "order of day and month"},
		{"07-15-26", reasonDateNotISO, "order of day and month"},
		{"15-Jul-26", reasonDateNotISO, "order of day and month"},
		{"46218", reasonDateAsNumber, "Excel's day number for 2026-07-15"},
		{"46218.5", reasonDateAsNumber, "2026-07-15"},
		{"yesterday", "", ""},
	} {
		rj := dateCell("certified_on", tc.in)
		if tc.reason == "" {
			if rj != nil {
				t.Errorf("dateCell(%q) = %v, want nil", tc.in, rj)
			}
			continue
		}
		if rj == nil || rj.code != tc.reason || !strings.Contains(rj.message, tc.says) || !strings.HasPrefix(rj.message, "certified_on ") {
			t.Errorf("dateCell(%q) = %v, want %s saying %q", tc.in, rj, tc.reason, tc.says)
		}
	}
}

func TestMonthCell(t *testing.T) {
	for _, tc := range []struct {
		in, reason, says string
	}{
		{"2026-05", "", ""},
		{"2026/5", reasonDateNotISO, "write 2026-05"},
		{"2026年5月", reasonDateNotISO, "write 2026-05"},
		{"2026-5", reasonDateNotISO, "write 2026-05"},
		{"2026/5/1", reasonDateNotISO, "a date where a month is wanted"},
		{"May-26", reasonDateNotISO, "turned the month into a date"},
		{"46143", reasonDateAsNumber, "for 2026-05-01, not a month: write 2026-05"},
		{"2026/13", "", ""},
		{"202605", "", ""},
	} {
		rj := monthCell("month", tc.in)
		if tc.reason == "" {
			if rj != nil {
				t.Errorf("monthCell(%q) = %v, want nil", tc.in, rj)
			}
			continue
		}
		if rj == nil || rj.code != tc.reason || !strings.Contains(rj.message, tc.says) {
			t.Errorf("monthCell(%q) = %v, want %s saying %q", tc.in, rj, tc.reason, tc.says)
		}
	}
}

func TestFenCell(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   int64
		reason string
	}{
		{"350000", 350000, ""},
		{"", 0, ""},
		{"-5", -5, ""}, // the service refuses negative amounts
		{"350,000", 0, reasonAmountThousands},
		{"1,350,000", 0, reasonAmountThousands},
		{"3,500.00", 0, reasonAmountThousands},
		{"350，000", 0, reasonAmountThousands},
		{"3500.00", 0, reasonAmountInvalid},
		{"¥3500", 0, reasonAmountInvalid},
		{"99999999999999999999", 0, reasonAmountInvalid},
		{"35,00", 0, reasonAmountInvalid},
	} {
		got, rj := fenCell("basic_fen", tc.in)
		if rj == nil && tc.reason == "" && got == tc.want {
			continue
		}
		if rj == nil || rj.code != tc.reason || !strings.HasPrefix(rj.message, "basic_fen ") {
			t.Errorf("fenCell(%q) = %d, %v; want %d, %q", tc.in, got, rj, tc.want, tc.reason)
		}
	}
}

func TestEnumCell(t *testing.T) {
	names, labels := channelNames, channelLabels
	for in, want := range map[string]pensionv1.CertificationMethod{
		"DATA_MATCH":  pensionv1.CertificationMethod_DATA_MATCH,
		"data match":  pensionv1.CertificationMethod_DATA_MATCH,
		"Home-Visit":  pensionv1.CertificationMethod_HOME_VISIT,
		"REMOTE_FACE": pensionv1.CertificationMethod_FACE_APP,
		"数据比对":        pensionv1.CertificationMethod_DATA_MATCH,
		"上门认证":        pensionv1.CertificationMethod_HOME_VISIT,
		"":            0,
	} {
		got, rj := enumCell("channel", in, names, labels, "CHANNEL_INVALID")
		if rj != nil || pensionv1.CertificationMethod(got) != want {
			t.Errorf("enumCell(%q) = %v, %v; want %v", in, got, rj, want)
		}
	}
	for _, in := range []string{"CERTIFICATION_METHOD_UNSPECIFIED", "PENSION_START", "4"} {
		_, rj := enumCell("channel", in, names, labels, "CHANNEL_INVALID")
		if rj == nil || rj.code != "CHANNEL_INVALID" || strings.Contains(rj.message, "PENSION_START,") {
			t.Errorf("%s: %v, want CHANNEL_INVALID", in, rj)
		}
	}
	_, rj := enumCell("channel", "11010519491231002X", names, labels, "CHANNEL_INVALID")
	if rj == nil || strings.Contains(rj.message, "11010519491231002X") || !strings.Contains(rj.message, "DATA_MATCH/数据比对") {
		t.Errorf("an ID number in the channel column: %v", rj)
	}
}

var digitRun = regexp.MustCompile(`[0-9]{7,}`)

// checkNoInputDigits fails when msg repeats a run of 7 or more digits
// that is in input: part of an ID number, a phone or an account.
func checkNoInputDigits(t *testing.T, msg, input string) {
	t.Helper()
	for _, m := range digitRun.FindAllString(msg, -1) {
		if strings.Contains(input, m) {
			t.Fatalf("message %q repeats input digits %s", msg, m)
		}
	}
}

// FuzzCells runs every cell parser on one value: no panic; a rejection
// has a code and a message that repeats no long run of the value's
// digits; an amount accepted is the number written.
func FuzzCells(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "1.10105E+17", "110105194912310000", "2026/7/15", "46218", "May-26",
		"2026年5月", "350,000", "3500.00", "数据比对", "2026-07-15 00:00:00", "99999", "1,234,567,890,123", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		check := func(rj *rejection) {
			if rj == nil {
				return
			}
			if rj.code == "" || rj.message == "" {
				t.Fatalf("rejection without code or message: %+v", rj)
			}
			checkNoInputDigits(t, rj.message, v)
		}
		check(idNumberCell(v))
		check(dateCell("certified_on", v))
		check(monthCell("month", v))
		n, rj := fenCell("basic_fen", v)
		check(rj)
		if rj == nil && v != "" {
			if m, err := strconv.ParseInt(v, 10, 64); err != nil || m != n {
				t.Fatalf("fenCell(%q) = %d", v, n)
			}
		}
		_, rj = enumCell("action", v, pensionv1.DecisionAction_value, actionLabels, "ACTION_INVALID")
		check(rj)
	})
}
