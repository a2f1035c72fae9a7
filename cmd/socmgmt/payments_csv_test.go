package main

import (
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

const header = "id_number,month,basic_fen,personal_account_fen,transitional_fen,other_fen,paid_on,bank_account_masked\n"

func TestPaymentReader(t *testing.T) {
	in := "\uFEFF" + strings.ToUpper(header) +
		"11010519491231002X,2026-05,350000,87500,35000,1000,2026-05-15,6222****1234\n" +
		"\"500105195801012713\",2026-05,1,,,,2026-05-20,\n" +
		"11010519491231002X,2026-05,abc,0,0,0,2026-05-15,6222\n" +
		"11010519491231002X,2026-05\n" +
		"\"unterminated,2026-05,1,0,0,0,2026-05-15,6222\n"
	pr, err := newPaymentReader(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var rows []paymentRow
	for {
		row, err := pr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	if len(rows) != 5 {
		t.Fatalf("%d rows, want 5", len(rows))
	}
	want := &pensionv1.PaymentRecord{Index: 1, IdNumber: "11010519491231002X", Month: "2026-05", BasicFen: 350000, PersonalAccountFen: 87500,
		TransitionalFen: 35000, OtherFen: 1000, PaidOn: "2026-05-15", BankAccountMasked: "6222****1234"}
	if diff := cmp.Diff(want, rows[0].record, protocmp.Transform()); diff != "" {
		t.Errorf("row 1 (-want +got):\n%s", diff)
	}
	if rows[0].line != 2 || rows[1].line != 3 || rows[1].record.GetBasicFen() != 1 || rows[1].record.GetIndex() != 2 {
		t.Errorf("rows 1 and 2: %+v %+v", rows[0], rows[1])
	}
	for i, wantReason := range map[int]string{2: "basic_fen: not a whole number", 3: "wrong number of fields", 4: "extraneous or missing"} {
		if rows[i].record != nil || !strings.Contains(rows[i].reason, wantReason) || rows[i].index != int64(i+1) {
			t.Errorf("row %d: record %v reason %q, want rejected for %q", i+1, rows[i].record, rows[i].reason, wantReason)
		}
	}
	if rows[3].line != 5 || len(rows[3].fields) != 2 {
		t.Errorf("short row: line %d fields %d", rows[3].line, len(rows[3].fields))
	}
}

func TestPaymentReaderHeader(t *testing.T) {
	for _, in := range []string{"", "id_number,month\n", "month,id_number,basic_fen,personal_account_fen,transitional_fen,other_fen,paid_on,bank_account_masked\n"} {
		if _, err := newPaymentReader(strings.NewReader(in)); !errors.Is(err, errBadHeader) {
			t.Errorf("header %q: %v, want errBadHeader", in, err)
		}
	}
}

func TestCountDataRows(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "h\n": 0, "h\na\nb\n": 2, "h\na\nb": 2, "h": 0} {
		got, err := countDataRows(strings.NewReader(in))
		if err != nil || got != want {
			t.Errorf("countDataRows(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

var digitsRun = regexp.MustCompile(`[0-9]{6,}`)

// FuzzPaymentReader feeds arbitrary files to the reader: it must not
// panic, must number rows from 1 without gaps, and its reasons must never
// repeat a run of digits from the input (an ID number, an account).
func FuzzPaymentReader(f *testing.F) {
	f.Add([]byte(header + "11010519491231002X,2026-05,350000,87500,35000,1000,2026-05-15,6222****1234\n"))
	f.Add([]byte("\uFEFF" + header + "\"a\"\"b\",2026-05,1,2,3,4,2026-05-15,\n"))
	f.Add([]byte(header + "500105195801012713,2026-05,99999999999999999999,0,0,0,x,\n\"\n"))
	f.Add([]byte(header + "x\n,,,,,,,,\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pr, err := newPaymentReader(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, errBadHeader) {
				t.Fatalf("header error %v is not errBadHeader", err)
			}
			return
		}
		var want int64 = 1
		for range 10_000 {
			row, err := pr.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			if row.index != want {
				t.Fatalf("row index %d, want %d", row.index, want)
			}
			want++
			if (row.record == nil) == (row.reason == "") {
				t.Fatalf("row %d: record %v with reason %q", row.index, row.record, row.reason)
			}
			if row.record != nil && row.record.Index != row.index {
				t.Fatalf("record index %d on row %d", row.record.Index, row.index)
			}
			for _, m := range digitsRun.FindAllString(row.reason, -1) {
				if strings.Contains(string(data), m) && len(m) >= 8 {
					t.Fatalf("reason %q repeats input digits", row.reason)
				}
			}
		}
	})
}

// FuzzParsePaymentRow checks the row parser on its own: no panic, and an
// accepted row's amounts print back as the trimmed fields.
func FuzzParsePaymentRow(f *testing.F) {
	f.Add("11010519491231002X", "2026-05", "350000", "87500", "35000", "1000", "2026-05-15", "6222****1234")
	f.Add(" x ", "", "", "-1", "+5", "0x10", "", "")
	f.Add("a", "b", "9223372036854775808", "1", "1", "1", "c", "d")
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g, h, i string) {
		fields := []string{a, b, c, d, e, g, h, i}
		r, err := parsePaymentRow(fields)
		if err != nil {
			for _, fl := range fields {
				if len(fl) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(fl)) && strings.TrimSpace(fl) != "" {
					t.Fatalf("error %q repeats a field", err)
				}
			}
			return
		}
		if r.IdNumber != strings.TrimSpace(a) || r.Month != strings.TrimSpace(b) || r.PaidOn != strings.TrimSpace(h) {
			t.Fatalf("parsed %v from %q", r, fields)
		}
	})
}
