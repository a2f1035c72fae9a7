package inputcheck

import (
	"regexp"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/fault"
)

func TestPersonalNumber(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s, want string
	}{
		{"老人反映11月养老金未到账", ""},
		{"身份证110101194503011234，请核实", FoundIDNumber},
		{"证号11010119450301123X", FoundIDNumber},
		{"证号11010119450301123x。", FoundIDNumber},
		{"证号１１０１０１１９４５０３０１１２３４", FoundIDNumber},
		{"110101 19450301 1234", FoundIDNumber},
		{"家属电话13812345678", FoundMobile},
		{"家属电话 138-1234-5678 晚上打", FoundMobile},
		{"电话+86 138 1234 5678", FoundMobile},
		{"8613812345678", FoundMobile},
		{"座机 010-12345678", ""},
		{"金额 12345678901 分", ""}, // 11 digits, not 1[3-9]
		{"2026-10-08 到 2026-10-15", ""},
		{"卡号 1234567890123456789", FoundIDNumber}, // 19 digits may hide one
		{"2026-10-08 2026-10-15 2026-10-20", ""},
		{"金额 1,234,567.89", ""},
		{"12345", ""},
		{"138 1234 567 8", FoundMobile},
		{"138  1234 5678", ""}, // two spaces part the groups
		{"2024-05-03 13812345678", FoundMobile},
		{"拨打 13812345678 3 次", FoundMobile},
		{"电话13812345678-2", FoundMobile},
		{"tel:+86-13812345678 1", FoundMobile},
		{"12 13812345678", FoundMobile},
		{"2026-10-08 13:30 会议", ""},
	} {
		if got := PersonalNumber(c.s); got != c.want {
			t.Errorf("PersonalNumber(%q) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestNoPersonalNumbersNamesOnlyTheField(t *testing.T) {
	t.Parallel()
	var v fault.Violations
	NoPersonalNumbers(&v, "ticket.description", "请联系13812345678")
	err := v.Err()
	if err == nil {
		t.Fatal("a mobile number passed")
	}
	if strings.Contains(err.Error(), "1381234") || !strings.Contains(err.Error(), "ticket.description") {
		t.Errorf("error %q: want the field and not the number", err)
	}
	var ok fault.Violations
	NoPersonalNumbers(&ok, "d", "养老金少发了300元")
	if ok.Err() != nil {
		t.Errorf("plain text refused: %v", ok.Err())
	}
}

// asciiID and asciiMobile restate the rule for plain ASCII numbers.
var (
	asciiID     = regexp.MustCompile(`[0-9]{17}[0-9Xx]`)
	asciiMobile = regexp.MustCompile(`(^|[^0-9 +-])1[3-9][0-9]{9}($|[^0-9 -])`)
)

// FuzzPersonalNumber: never panics, an ASCII ID or mobile number alone is
// always found, and so is anything shaped like an ID number.
func FuzzPersonalNumber(f *testing.F) {
	for _, s := range []string{"", "13812345678", "110101194503011234", "11010119450301123X", "a 138-1234-5678 b", "１３８１２３４５６７８", "+8613812345678"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := PersonalNumber(s)
		if asciiID.MatchString(s) && got == "" {
			t.Errorf("%q: an ID number not found", s)
		}
		if asciiMobile.MatchString(s) && got == "" {
			t.Errorf("%q: a mobile number not found", s)
		}
	})
}
