package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func TestNormaliseMask(t *testing.T) {
	tests := []struct {
		name  string
		paths []string
		want  []string // nil: refused
	}{
		{"proto name", []string{"residence_address"}, []string{"residence_address"}},
		{"JSON name", []string{"residenceAddress"}, []string{"residence_address"}},
		{"both names once", []string{"residenceAddress", "residence_address", "phone"}, []string{"residence_address", "phone"}},
		{"every editable field", []string{"name", "phone", "residenceAddress", "flags", "retirementDate", "enterpriseCreditCode", "managementMode"},
			[]string{"name", "phone", "residence_address", "flags", "retirement_date", "enterprise_credit_code", "management_mode"}},
		{"id and etag ignored", []string{"id", "etag", "name"}, []string{"name"}},
		{"only id and etag", []string{"id", "etag"}, nil},
		{"nothing", nil, nil},
		{"community by proto name", []string{"community_id"}, nil},
		{"community by JSON name", []string{"communityId", "name"}, nil},
		{"status", []string{"status"}, nil},
		{"date of death", []string{"dateOfDeath"}, nil},
		{"ID number", []string{"id_number"}, nil},
		{"masked ID number", []string{"idNumberMasked"}, nil},
		{"birth date", []string{"birth_date"}, nil},
		{"sex", []string{"sex"}, nil},
		{"create time", []string{"createTime"}, nil},
		{"unknown field", []string{"name", "nickname"}, nil},
		{"wrong case", []string{"Name"}, nil},
		{"nested path", []string{"name.first"}, nil},
		{"empty path", []string{""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := normaliseMask(tc.paths)
			if tc.want == nil {
				var verr *fault.ValidationError
				if !errors.As(err, &verr) {
					t.Fatalf("normaliseMask(%q) = %q, %v; want a validation error", tc.paths, got, err)
				}
				for _, f := range verr.Fields {
					if f.Field != "updateMask" {
						t.Errorf("violation of %q, want updateMask", f.Field)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("normaliseMask(%q): %v", tc.paths, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("normaliseMask(%q) (-want +got):\n%s", tc.paths, diff)
			}
		})
	}
}

// TestNormaliseMaskDoesNotEchoInput: a mask path is client input; an
// unknown one must not come back in the error, since it may be a value
// (an ID number) put where a field name belongs.
func TestNormaliseMaskDoesNotEchoInput(t *testing.T) {
	for _, path := range []string{"11010519491231002X", "13812345678", strings.Repeat("x", 10_000)} {
		_, err := normaliseMask([]string{path})
		var verr *fault.ValidationError
		if !errors.As(err, &verr) {
			t.Fatalf("mask %s accepted", idnumber.Mask(path))
		}
		for _, f := range verr.Fields {
			if strings.Contains(f.Description, path) {
				t.Errorf("the violation repeats the path it refuses (%d characters)", len(path))
			}
		}
	}
}

// FuzzNormaliseMask: any paths give either proto names of editable fields,
// each once, or a validation error about updateMask.
func FuzzNormaliseMask(f *testing.F) {
	for _, s := range []string{"name", "phone,residenceAddress", "id,etag", "community_id", "flags,flags", "", ",", "名字", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		paths := strings.Split(joined, ",")
		got, err := normaliseMask(paths)
		if err != nil {
			var verr *fault.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 || verr.Fields[0].Field != "updateMask" {
				t.Fatalf("normaliseMask(%q): %v", paths, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("normaliseMask(%q) accepted no field", paths)
		}
		seen := map[string]bool{}
		for _, p := range got {
			if editableFields[p] == nil || seen[p] {
				t.Fatalf("normaliseMask(%q) = %q", paths, got)
			}
			seen[p] = true
		}
	})
}

// FuzzCheckNewRetiree: checkNewRetiree never panics, and what it accepts
// obeys the rules a stored retiree relies on.
func FuzzCheckNewRetiree(f *testing.F) {
	f.Add("11010519491231002X", "张三", int32(0), "", "2010-01-01", enterpriseX, communityA, int32(1), "13812345678", "和平区1号", []byte{1, 2, 2})
	f.Add("500105195801012713", "李四", int32(1), "1958-01-01", "", "", communityB, int32(2), "", "", []byte{})
	f.Add("110105491231002", "王五", int32(2), "", "2000-02-29", "91420100177683101w", communityC, int32(3), "+86 138-1234-5678", "", []byte{5})
	f.Add("110105194912310021", "", int32(7), "1949-12-31", "1940-01-01", "bad", "abc", int32(9), "x", "\x00", []byte{0, 99, 200})
	f.Add("110105194902300020", " 赵六", int32(-1), "2026-13-45", "2027-06-15", "91350100M000100Y44", "2101020010010", int32(-5), "123", "\xff\xfe", []byte{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, idNum, name string, sex int32, birth, retired, code, community string, mode int32, phone, address string, flags []byte) {
		fs := make([]pb.RetireeFlag, len(flags))
		for i, b := range flags {
			fs[i] = pb.RetireeFlag(int8(b))
		}
		r := &pb.Retiree{
			IdNumber: idNum, Name: name, Sex: pb.Sex(sex), BirthDate: birth, RetirementDate: retired,
			EnterpriseCreditCode: code, CommunityId: community, ManagementMode: pb.ManagementMode(mode),
			Phone: phone, ResidenceAddress: address, Flags: fs,
			Id: "forged", Etag: "r1", Status: pb.RetireeStatus_DECEASED, DateOfDeath: "2020-01-01",
		}
		id, err := checkNewRetiree(r, testNow)
		if err != nil {
			var verr *fault.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("error %v is not a validation error", err)
			}
			for _, v := range verr.Fields {
				if len(idNum) >= 15 && strings.Contains(v.Description, strings.TrimSpace(idNum)) {
					t.Fatalf("violation of %s repeats the ID number", v.Field)
				}
			}
			return
		}
		parsed, err := idnumber.ParseAt(r.IdNumber, testNow)
		if err != nil || parsed != id || r.IdNumber != id.Digits() {
			t.Fatalf("accepted ID number does not parse back: %v", err)
		}
		if r.BirthDate != dateOnly(id.BirthDate()) || r.Sex != pbSex(id.Sex()) {
			t.Fatalf("birth date %q, sex %v not derived from the ID number", r.BirthDate, r.Sex)
		}
		if r.Id != "" || r.Etag != "" || r.DateOfDeath != "" || r.Status != pb.RetireeStatus_LIVING {
			t.Fatalf("output-only fields kept: %v", r)
		}
		if !inputcheck.IsCommunityID(r.CommunityId) || r.Name == "" || !utf8.ValidString(r.Name) || utf8.RuneCountInString(r.Name) > maxNameLen {
			t.Fatalf("accepted community %q, name %q", r.CommunityId, r.Name)
		}
		if r.ManagementMode == pb.ManagementMode_MANAGEMENT_MODE_UNSPECIFIED || pb.ManagementMode_name[int32(r.ManagementMode)] == "" {
			t.Fatalf("accepted management mode %v", r.ManagementMode)
		}
		if r.ManagementMode == pb.ManagementMode_ENTERPRISE && r.EnterpriseCreditCode == "" {
			t.Fatal("accepted an enterprise-managed retiree without an enterprise")
		}
		if r.RetirementDate != "" && r.RetirementDate <= r.BirthDate {
			t.Fatalf("accepted retirement %q before birth %q", r.RetirementDate, r.BirthDate)
		}
		if r.BirthDate < "1900-01-01" || r.RetirementDate != "" && r.RetirementDate < fortieth(t, r.BirthDate) {
			t.Fatalf("accepted birth %q, retirement %q", r.BirthDate, r.RetirementDate)
		}
		if !slices.IsSorted(r.Flags) || len(slices.Compact(slices.Clone(r.Flags))) != len(r.Flags) || len(r.Flags) > maxFlags {
			t.Fatalf("flags %v not sorted and unique", r.Flags)
		}
		for _, fl := range r.Flags {
			if fl == pb.RetireeFlag_RETIREE_FLAG_UNSPECIFIED || pb.RetireeFlag_name[int32(fl)] == "" || isComputedFlag(fl) {
				t.Fatalf("accepted flag %v", fl)
			}
		}
	})
}

// TestUpdateKeepsCreateRules: an update may not leave a retiree in a state
// that CreateRetiree refuses.
func TestUpdateKeepsCreateRules(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	n := 0
	// fixtures make a fresh retiree for each case.
	fixtures := map[string]func() *pb.Retiree{
		"enterprise-managed": func() *pb.Retiree {
			n++
			return mustCreate(t, s, newRetiree(t, n, communityA, pb.ManagementMode_ENTERPRISE))
		},
		"without enterprise": func() *pb.Retiree {
			n++
			r := newRetiree(t, n, communityA, pb.ManagementMode_COMMUNITY)
			r.EnterpriseCreditCode = ""
			return mustCreate(t, s, r)
		},
	}
	tests := []struct {
		name    string
		fixture string
		paths   []string
		values  *pb.Retiree
		field   string
	}{
		{"enterprise-managed loses its enterprise", "enterprise-managed", []string{"enterpriseCreditCode"}, &pb.Retiree{}, "enterpriseCreditCode"},
		{"enterprise-managed without an enterprise", "without enterprise", []string{"managementMode"}, &pb.Retiree{ManagementMode: pb.ManagementMode_ENTERPRISE}, "enterpriseCreditCode"},
		{"retired before birth", "enterprise-managed", []string{"retirementDate"}, &pb.Retiree{RetirementDate: "1930-01-01"}, "retirementDate"},
		{"retired before forty", "enterprise-managed", []string{"retirementDate"}, &pb.Retiree{RetirementDate: "1975-01-01"}, "retirementDate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtures[tc.fixture]()
			tc.values.Id, tc.values.Etag = r.Id, r.Etag
			_, err := h.client.UpdateRetiree(h.as(adminP), &pb.UpdateRetireeRequest{Retiree: tc.values, UpdateMask: &fieldmaskpb.FieldMask{Paths: tc.paths}})
			if err == nil {
				got, _ := s.GetRetiree(r.Id)
				t.Fatalf("update accepted: now %v, enterprise %q, retired %q (born %q)", got.ManagementMode, got.EnterpriseCreditCode, got.RetirementDate, got.BirthDate)
			}
			wantFields(t, err, tc.field)
		})
	}
}

// fortieth returns the date of the fortieth birthday of someone born on
// birth.
func fortieth(t testing.TB, birth string) string {
	t.Helper()
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		t.Fatalf("birth date %q: %v", birth, err)
	}
	return b.AddDate(40, 0, 0).Format(time.DateOnly)
}

// TestRetireeDates: a birth date before 1900 and a retirement before the
// age of 40 are refused, naming the field; the days either side of each
// bound show where it lies.
func TestRetireeDates(t *testing.T) {
	born := func(y int, m time.Month, d int) string {
		id, err := idnumber.Build("210102", time.Date(y, m, d, 0, 0, 0, 0, time.UTC), 7)
		if err != nil {
			t.Fatal(err)
		}
		return id.Digits()
	}
	tests := []struct {
		name, idNumber, retired string
		want                    []fault.FieldViolation
	}{
		{"born on the first day of 1900", born(1900, 1, 1), "1960-01-01", nil},
		{"born on the last day of 1899", born(1899, 12, 31), "1959-12-31",
			[]fault.FieldViolation{{Field: "birthDate", Description: "before 1900 (as the ID number gives it)"}}},
		{"born in 1850", born(1850, 6, 1), "",
			[]fault.FieldViolation{{Field: "birthDate", Description: "before 1900 (as the ID number gives it)"}}},
		{"retired on the fortieth birthday", born(1960, 3, 15), "2000-03-15", nil},
		{"retired the day before the fortieth birthday", born(1960, 3, 15), "2000-03-14",
			[]fault.FieldViolation{{Field: "retirementDate", Description: "before the age of 40"}}},
		{"retired at twenty", born(1960, 3, 15), "1980-03-15",
			[]fault.FieldViolation{{Field: "retirementDate", Description: "before the age of 40"}}},
		{"retired before birth", born(1960, 3, 15), "1950-01-01",
			[]fault.FieldViolation{{Field: "retirementDate", Description: "must be after the birth date"}}},
		{"born on 29 February", born(1952, 2, 29), "1992-02-29", nil},
		{"born on 29 February, retired a day early", born(1952, 2, 29), "1992-02-28",
			[]fault.FieldViolation{{Field: "retirementDate", Description: "before the age of 40"}}},
		{"no retirement date", born(1960, 3, 15), "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &pb.Retiree{
				IdNumber: tc.idNumber, Name: "张三", CommunityId: communityA,
				ManagementMode: pb.ManagementMode_COMMUNITY, RetirementDate: tc.retired,
			}
			_, err := checkNewRetiree(r, testNow)
			var got []fault.FieldViolation
			var verr *fault.ValidationError
			if errors.As(err, &verr) {
				got = verr.Fields
			} else if err != nil {
				t.Fatalf("error %v is not a validation error", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
