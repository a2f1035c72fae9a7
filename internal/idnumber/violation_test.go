package idnumber

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/fault"
)

func TestCheckAt(t *testing.T) {
	t.Parallel()
	today := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		wantOK  bool
		wantMsg string // the violation's description; "" for none
	}{
		{name: "valid", in: "11010519491231002X", wantOK: true},
		{name: "bad check character", in: "110105194912310021", wantMsg: "check character does not match"},
		{name: "born after today", in: "110105202501010011", wantMsg: "birth date is in the future"},
		{name: "empty", in: "", wantMsg: "must be eighteen characters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v fault.Violations
			id, ok := CheckAt(&v, "idNumber", tc.in, today)
			if ok != tc.wantOK {
				t.Fatalf("CheckAt(%q) ok = %v, want %v", tc.in, ok, tc.wantOK)
			}
			err := v.Err()
			if tc.wantOK {
				if err != nil || id.Digits() != tc.in {
					t.Fatalf("CheckAt(%q) = %q, %v; want the number and no violation", tc.in, id.Digits(), err)
				}
				return
			}
			var ve *fault.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) != 1 {
				t.Fatalf("CheckAt(%q) violations = %v, want one", tc.in, err)
			}
			got := ve.Fields[0]
			if diff := cmp.Diff("idNumber", got.Field); diff != "" {
				t.Errorf("field (-want +got):\n%s", diff)
			}
			if !strings.Contains(got.Description, tc.wantMsg) {
				t.Errorf("description %q does not say %q", got.Description, tc.wantMsg)
			}
			if tc.in != "" && strings.Contains(got.Description, tc.in[:6]) {
				t.Errorf("description %q repeats the number", got.Description)
			}
			if id != (ID{}) {
				t.Errorf("CheckAt(%q) returned an ID for a rejected number", tc.in)
			}
		})
	}
}
