package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/transform"
)

func TestDetectEncoding(t *testing.T) {
	zh := "身份证号,姓名,备注\n"
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, encodingUTF8},
		{"ascii", []byte("id_number,month\n1,2\n"), encodingUTF8},
		{"utf-8", []byte(zh + "1,张三,暂停\n"), encodingUTF8},
		{"utf-8 with a BOM and GBK after it", append([]byte("\uFEFF"), gbkOf(t, zh)...), encodingUTF8},
		{"gbk", gbkOf(t, zh+"1,张三,暂停\n2,李四,恢复\n"), encodingGB18030},
		{"gbk with CR line ends", gbkOf(t, "身份证号,姓名\r1,张三\r2,李四\r"), encodingGB18030},
		{"utf-8 with one GBK line", append([]byte(zh+"1,张三,暂停\n2,李四,恢复\n"), gbkOf(t, "3,王五,终止\n")...), encodingUTF8},
		{"neither", []byte{0xFF, 0xFF, '\n', 0xFF, '\n'}, encodingUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := detectEncoding(bytes.NewReader(tc.in))
			if err != nil || got != tc.want {
				t.Errorf("detectEncoding = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func gbkOf(t *testing.T, s string) []byte { t.Helper(); return gbk(t, []byte(s)) }

func TestLineEnds(t *testing.T) {
	for in, want := range map[string]string{
		"a\rb\r":          "a\nb\n",
		"a\r\nb\r\n":      "a\nb\n",
		"a\nb":            "a\nb",
		"a\r\rb\n\r\nc\r": "a\n\nb\n\nc\n",
		"\r":              "\n",
	} {
		// One byte at a time splits every CRLF across reads.
		got, err := io.ReadAll(transform.NewReader(iotest.OneByteReader(strings.NewReader(in)), lineEnds{}))
		if err != nil || string(got) != want {
			t.Errorf("lineEnds(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// readRecords reads every record of a CSV body with cols.
func readRecords(t *testing.T, body []byte, cols []column, encoding string) ([]fileRecord, *layout, error) {
	t.Helper()
	bf := bureauFile{kind: fileCSV, cols: cols, opts: sourceOptions{encoding: encoding}}
	src, err := newCSVSource(bytes.NewReader(body), bf.opts)
	if err != nil {
		return nil, nil, err
	}
	rr, err := bf.readerFrom(src)
	if err != nil {
		return nil, nil, err
	}
	var out []fileRecord
	for {
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			return out, rr.lay, nil
		}
		if err != nil {
			return out, rr.lay, err
		}
		out = append(out, rec)
	}
}

// recordSummary is "index line values-or-reason" for each record.
func recordSummary(recs []fileRecord) []string {
	var out []string
	for _, r := range recs {
		s := strconv.FormatInt(r.index, 10) + " " + strconv.Itoa(r.line)
		if r.problem != nil {
			out = append(out, s+" "+r.problem.code)
			continue
		}
		out = append(out, s+" "+strings.Join(r.values, "|"))
	}
	return out
}

func TestReadRecords(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want []string
	}{
		{
			name: "title rows, Chinese header in another order, ignored and optional columns",
			body: "2026年认证数据,,,\n,,,\n认证方式,姓名,身份证号,认证日期\nDATA_MATCH,张三,1,2026-01-01\n",
			want: []string{"1 4 1|2026-01-01|DATA_MATCH|"},
		},
		{
			name: "blank rows are not records; a quoted line break is one record",
			body: "id_number,certified_on,channel,reference\n\n1,2026-01-01,A,\"x\ny\"\n,,,\n2,2026-01-02,B,\n",
			want: []string{"1 3 1|2026-01-01|A|x\ny", "2 6 2|2026-01-02|B|"},
		},
		{
			name: "header case, spaces, '*' and a BOM do not matter",
			body: "\uFEFF ID Number*,Certified_On,CHANNEL\n1,2026-01-01,A\n",
			want: []string{"1 2 1|2026-01-01|A|"},
		},
		{
			name: "a row of another width and broken quotes are rejections, not the end",
			body: "id_number,certified_on,channel\n1,2026-01-01\n2,\"2026\"x,A\n3,2026-01-03,\"350,000\",x\n4,2026-01-04,D\n",
			want: []string{"1 2 CSV_INVALID", "2 3 CSV_INVALID", "3 4 CSV_INVALID", "4 5 4|2026-01-04|D|"},
		},
		{
			name: "an oversized value",
			body: "id_number,certified_on,channel\n" + strings.Repeat("1", 65) + ",2026-01-01,A\n",
			want: []string{"1 2 FIELD_TOO_LONG"},
		},
		{
			name: "bytes that are not UTF-8",
			body: "id_number,certified_on,channel\n1,2026-01-01,\xff\n2,2026-01-02,B\n",
			want: []string{"1 2 ENCODING_INVALID", "2 3 2|2026-01-02|B|"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, err := readRecords(t, []byte(tc.body), certificationColumns, encodingUTF8)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, recordSummary(recs)); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadRecordsHeaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"empty", "", "none of the first 11 rows"},
		{"missing required", "id_number,channel\n", "no column certified_on (认证日期, 认证时间)"},
		{"twice", "id_number,certified_on,channel,身份证号\n", "two columns are id_number (columns 1 and 4)"},
		{"title rows only", strings.Repeat("title\n", 12) + "id_number,certified_on,channel\n", "none of the first 11 rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := readRecords(t, []byte(tc.body), certificationColumns, encodingUTF8)
			if !errors.Is(err, errBadHeader) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want errBadHeader saying %q", err, tc.want)
			}
		})
	}
	_, _, err := readRecords(t, []byte("身份证号,发放月份,基础养老金(元)\n"), paymentColumns, encodingUTF8)
	if err == nil || !strings.Contains(err.Error(), "基础养老金(分)") {
		t.Errorf("amounts in yuan: %v", err)
	}
}

func TestReadRecordsRowTooLong(t *testing.T) {
	body := "id_number,certified_on,channel\n1,2026-01-01,A\n\"" + strings.Repeat("x", 3*maxRowBytes)
	_, _, err := readRecords(t, []byte(body), certificationColumns, encodingUTF8)
	if !errors.Is(err, errRowTooLong) || !strings.Contains(err.Error(), "after line 2") {
		t.Errorf("err = %v, want errRowTooLong after line 2", err)
	}
}

func TestReadXLSX(t *testing.T) {
	bf, err := openBureauFile(filepath.Join("testdata", "payments-excel.xlsx"), paymentColumns, sourceOptions{encoding: encodingAuto})
	if err != nil {
		t.Fatal(err)
	}
	if bf.kind != fileXLSX || bf.opts.detected {
		t.Fatalf("sniffed %+v", bf)
	}
	var got [][]string
	err = bf.eachRecord(0, func(r fileRecord) error {
		if r.problem != nil {
			t.Errorf("record %d: %v", r.index, r.problem)
		}
		got = append(got, []string{r.values[payID], r.values[payMonth], r.values[payBasic], r.values[payPaidOn]})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cells as Excel shows them: the number formats applied.
	want := [][]string{
		{csvIDNumber(t, 1), "2026-05", "350000", "2026-05-15"},
		{"2.1010219500103E+17", "2026-05", "350000", "2026-05-15"},
		{csvIDNumber(t, 3), "2026-05", "350000", "05-15-26"},
		{csvIDNumber(t, 4), "2026-05", "350,000", "2026-05-15"},
		{csvIDNumber(t, 5), "2026-05", "350000", "46157"},
		{csvIDNumber(t, 6), "May-26", "350000", "2026-05-15"},
		{csvIDNumber(t, 7)[:15] + "000", "2026-05", "350000", "2026-05-15"},
		{csvIDNumber(t, 8), "2026-03", "350000", "2026-05-20"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
	bf.opts.sheet = "Sheet9"
	if _, err := bf.open(); err == nil || !strings.Contains(err.Error(), "its sheets are Sheet1") {
		t.Errorf("a missing sheet: %v", err)
	}
}

// TestTestdataFiles checks that the committed files are what their names
// say, so that the import tests test what they claim.
func TestTestdataFiles(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	gb := read("decisions-gbk.csv")
	if utf8.Valid(gb) || !bytes.Contains(gb, []byte("\r\n")) || !bytes.Contains(gb, gbkOf(t, "身份证号")) {
		t.Error("decisions-gbk.csv is not GBK with CRLF line ends")
	}
	cr := read("certifications-bom-cr.csv")
	if !bytes.HasPrefix(cr, bomUTF8) || bytes.Contains(cr, []byte("\n")) || !bytes.Contains(cr, []byte("\r")) {
		t.Error("certifications-bom-cr.csv does not have a BOM and CR line ends")
	}
	if p := read("payments-excel-gbk.csv"); !bytes.Contains(p, undecodableGBK) || !bytes.Contains(p, []byte("E+17")) {
		t.Error("payments-excel-gbk.csv lacks its undecodable row or its mangled ID number")
	}
	for _, name := range []string{"decisions.xlsx", "certifications.xlsx", "payments-excel.xlsx"} {
		if !bytes.HasPrefix(read(name), magicZip) {
			t.Errorf("%s is not a workbook", name)
		}
	}
}

// FuzzReadRecords feeds arbitrary bytes to the CSV reading of every kind,
// encoding detected: no panic, records numbered from 1 without gaps,
// each either parsed or rejected with a code and a message, and no
// message repeating a long run of the input's digits.
func FuzzReadRecords(f *testing.F) {
	for _, name := range []string{"decisions-utf8.csv", "decisions-gbk.csv", "certifications-bom-cr.csv", "payments-excel-gbk.csv", "payments-stray-gbk.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(paymentHeader + "\n11010519491231002X,2026-05,350000,87500,35000,1000,2026-05-15,6222****1234\n"))
	f.Add([]byte("id_number,certified_on,channel\r\"a\"\"b\",2026/7/15,数据比对\r\"\r"))
	f.Add([]byte("身份证号,处理类型,生效月份\n1.10105E+17,暂停,46143\n,,\n\xff\xfe,x,y\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		enc, err := detectEncoding(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		fuzzKind(t, data, enc, paymentsImport)
		fuzzKind(t, data, enc, certificationsImport)
		fuzzKind(t, data, enc, decisionsImport)
	})
}

func fuzzKind[R any](t *testing.T, data []byte, enc string, k *importKind[R]) {
	t.Helper()
	bf := bureauFile{kind: fileCSV, cols: k.columns, opts: sourceOptions{encoding: enc, detected: true}}
	src, err := newCSVSource(bytes.NewReader(data), bf.opts)
	if err != nil {
		return // a BOM with gb18030: not when detected
	}
	rr, err := bf.readerFrom(src)
	if err != nil {
		if !errors.Is(err, errBadHeader) && !errors.Is(err, errRowTooLong) {
			t.Fatalf("header: %v", err)
		}
		checkNoInputDigits(t, err.Error(), string(data))
		return
	}
	for want := int64(1); want < 10_000; want++ {
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			if !errors.Is(err, errRowTooLong) {
				t.Fatalf("next: %v", err)
			}
			return
		}
		if rec.index != want {
			t.Fatalf("record index %d, want %d", rec.index, want)
		}
		problem := rec.problem
		if problem == nil {
			if len(rec.values) != len(k.columns) {
				t.Fatalf("%d values for %d columns", len(rec.values), len(k.columns))
			}
			_, problem = k.parse(rec.index, rec.values)
		}
		if problem != nil {
			if problem.code == "" || problem.message == "" {
				t.Fatalf("rejection without code or message: %+v", problem)
			}
			checkNoInputDigits(t, problem.message, string(data))
		}
	}
}
