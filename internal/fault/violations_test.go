package fault

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestViolations(t *testing.T) {
	var v Violations
	if err := v.Err(); err != nil {
		t.Fatalf("empty Violations.Err() = %v, want nil", err)
	}
	v.Add("name", "required")
	v.Addf("households", "must be at most %d", 100000)
	err := v.Err()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Err() = %T, want *ValidationError", err)
	}
	want := []FieldViolation{
		{Field: "name", Description: "required"},
		{Field: "households", Description: "must be at most 100000"},
	}
	if diff := cmp.Diff(want, ve.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "invalid argument: name: required; households: must be at most 100000"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// Later additions must not change an error already returned.
	v.Add("street", "required")
	if len(ve.Fields) != 2 {
		t.Errorf("returned error changed to %d fields", len(ve.Fields))
	}
}

func TestViolationsBounded(t *testing.T) {
	var v Violations
	for range MaxViolations + 5 {
		v.Add("f", "bad")
	}
	var ve *ValidationError
	if !errors.As(v.Err(), &ve) {
		t.Fatal("no ValidationError")
	}
	if len(ve.Fields) != MaxViolations || ve.Omitted != 5 {
		t.Errorf("%d fields, %d omitted; want %d, 5", len(ve.Fields), ve.Omitted, MaxViolations)
	}
}

func TestRuleMetadata(t *testing.T) {
	for _, tc := range []struct {
		name string
		kv   []string
		want map[string]string
	}{
		{"none", nil, nil},
		{"pairs", []string{"a", "1", "b", "2"}, map[string]string{"a": "1", "b": "2"}},
		{"odd", []string{"a", "1", "b"}, map[string]string{"a": "1", "b": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var re *RuleError
			if !errors.As(Rule("R", "m", tc.kv...), &re) {
				t.Fatal("Rule did not return a *RuleError")
			}
			if diff := cmp.Diff(tc.want, re.Metadata); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}
