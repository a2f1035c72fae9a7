package signalfeed

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/fault"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

func TestValidate(t *testing.T) {
	if err := Validate(signal("death-report/abc")); err != nil {
		t.Fatalf("a good signal: %v", err)
	}
	for name, tc := range map[string]struct {
		change func(*feedv1.WorkSignal)
		field  string
	}{
		"no key":          {func(s *feedv1.WorkSignal) { s.Key = "" }, "key"},
		"long key":        {func(s *feedv1.WorkSignal) { s.Key = strings.Repeat("k", 129) }, "key"},
		"key with space":  {func(s *feedv1.WorkSignal) { s.Key = "a b" }, "key"},
		"non-ASCII key":   {func(s *feedv1.WorkSignal) { s.Key = "死亡" }, "key"},
		"no kind":         {func(s *feedv1.WorkSignal) { s.Kind = 0 }, "kind"},
		"unknown kind":    {func(s *feedv1.WorkSignal) { s.Kind = 99 }, "kind"},
		"no subject kind": {func(s *feedv1.WorkSignal) { s.SubjectKind = 0 }, "subject_kind"},
		"no subject":      {func(s *feedv1.WorkSignal) { s.SubjectId = "" }, "subject_id"},
		"bad community":   {func(s *feedv1.WorkSignal) { s.CommunityId = "12345" }, "community_id"},
		"no summary":      {func(s *feedv1.WorkSignal) { s.Summary = "" }, "summary"},
		"ID in summary":   {func(s *feedv1.WorkSignal) { s.Summary = "核实 11010519491231002X" }, "summary"},
		"phone in detail": {func(s *feedv1.WorkSignal) { s.Details = map[string]string{"phone": "13800138000"} }, `details."phone"`},
		"control in text": {func(s *feedv1.WorkSignal) { s.Resolution = "a\x00b" }, "resolution"},
		"too many details": {func(s *feedv1.WorkSignal) {
			s.Details = map[string]string{"a": "", "b": "", "c": "", "d": "", "e": "", "f": "", "g": "", "h": "", "i": ""}
		}, "details"},
	} {
		s := signal("k")
		tc.change(s)
		err := Validate(s)
		var ve *fault.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want a violation of %s", name, err, tc.field)
		}
	}
	resolved := signal("k")
	resolved.Summary, resolved.Resolved = "", true
	if err := Validate(resolved); err != nil {
		t.Errorf("a resolved signal without a summary: %v", err)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add("death-report/x", int32(3), "核实死亡报告", "110101001001", "k", "v")
	f.Add("", int32(0), "", "", "", "")
	f.Add("a b", int32(99), "13800138000", "12345", "\x00", "\u202e")
	f.Fuzz(func(t *testing.T, key string, kind int32, summary, community, dk, dv string) {
		s := &feedv1.WorkSignal{
			Key: key, Kind: feedv1.SignalKind(kind), SubjectKind: feedv1.SubjectKind_RETIREE, SubjectId: "x",
			CommunityId: community, Summary: summary, Details: map[string]string{dk: dv},
		}
		err := Validate(s)
		if err == nil {
			if key == "" || len(key) > MaxKeyLen || !utf8.ValidString(summary) || personalNumber.MatchString(summary) || personalNumber.MatchString(dv) {
				t.Fatalf("accepted %v", s)
			}
			for i := 0; i < len(key); i++ {
				if key[i] <= ' ' || key[i] > '~' {
					t.Fatalf("accepted key %q", key)
				}
			}
			return
		}
		var ve *fault.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error not a validation error: %v", err)
		}
	})
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "太极拳班", "电话13812345678联系", "a\nb\u200bc\u2028", strings.Repeat("长", 300), " \xff 110101199001011234 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := Clean(s, MaxDetailLen)
		sig := &feedv1.WorkSignal{Key: "k", Kind: feedv1.SignalKind_ACTIVITY_CANCELLED, SubjectKind: feedv1.SubjectKind_ACTIVITY, SubjectId: "a", Summary: Clean("「"+s+"」", MaxSummaryLen), Details: map[string]string{"title": c}}
		if len([]rune(c)) > MaxDetailLen {
			t.Fatalf("Clean(%q) is %d characters", s, len([]rune(c)))
		}
		if err := Validate(sig); err != nil {
			t.Fatalf("Clean(%q) = %q: %v", s, c, err)
		}
	})
}
