package main

import (
	"bytes"
	"encoding/csv"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// The files in testdata/ are written by TestWriteImportTestdata with
// -update-testdata and committed, so that the importer is tested on the
// bytes a real file holds: a workbook as excelize writes it, GBK as Excel
// saves "CSV (逗号分隔)" on a Chinese Windows, and the cells Excel mangles.
var updateTestdata = flag.Bool("update-testdata", false, "rewrite the import files in testdata/")

const decisionsTitle = "2026年6月 待遇暂停、恢复、终止决定"

// decisionTestRows are the decisions of the testdata files: a header in
// Chinese with a name column the importer skips, Chinese and English
// values, a quoted comma and a note over two lines.
func decisionTestRows(t *testing.T) (header []string, rows [][]string) {
	t.Helper()
	header = []string{"身份证号", "姓名", "处理类型", "生效月份", "原因", "备注", "业务编号"}
	rows = [][]string{
		{csvIDNumber(t, 1), "张三", "暂停", "2026-03", "未认证", "连续两年未认证，暂停发放", "JD-2026-0001"},
		{csvIDNumber(t, 1), "张三", "恢复", "2026-06", "", "6月现场认证后恢复", "JD-2026-0002"},
		{csvIDNumber(t, 2), "李四", "终止", "2026-05", "死亡", "民政数据比对：2026年4月死亡", "JD-2026-0003"},
		{csvIDNumber(t, 3), "王五", "SUSPEND", "2026-04", "lost_contact", "多次联系未果, 暂停", ""},
		{csvIDNumber(t, 4), "赵六", "暂停", "2026-02", "服刑", "服刑期间暂停\n出狱后恢复", "JD-2026-0005"},
	}
	return header, rows
}

// decisionTestRecords are what decisionTestRows import as.
func decisionTestRecords(t *testing.T) []*pensionv1.DecisionRecord {
	t.Helper()
	_, rows := decisionTestRows(t)
	actions := []pensionv1.DecisionAction{pensionv1.DecisionAction_SUSPEND, pensionv1.DecisionAction_RESTORE, pensionv1.DecisionAction_STOP, pensionv1.DecisionAction_SUSPEND, pensionv1.DecisionAction_SUSPEND}
	reasons := []pensionv1.DecisionReason{pensionv1.DecisionReason_NOT_CERTIFIED, 0, pensionv1.DecisionReason_DECEASED, pensionv1.DecisionReason_LOST_CONTACT, pensionv1.DecisionReason_IMPRISONED}
	var out []*pensionv1.DecisionRecord
	for i, r := range rows {
		out = append(out, &pensionv1.DecisionRecord{Index: int64(i + 1), IdNumber: r[0], Action: actions[i], EffectiveMonth: r[3], Reason: reasons[i], Note: r[5], Reference: r[6]})
	}
	return out
}

// certificationTestRows are the certifications of the testdata files.
func certificationTestRows(t *testing.T) (header []string, rows [][]string) {
	t.Helper()
	header = []string{"id_number", "certified_on", "channel", "reference"}
	rows = [][]string{
		{csvIDNumber(t, 1), "2026-01-10", "DATA_MATCH", "DM-202601-0001"},
		{csvIDNumber(t, 2), "2026-02-03", "人脸识别", ""},
		{csvIDNumber(t, 3), "2026-03-15", "remote_face", ""},
		{csvIDNumber(t, 4), "2026-04-01", "现场认证", "XC-17"},
		{csvIDNumber(t, 5), "2026-05-20", "Consular", "CA-77"},
	}
	return header, rows
}

// certificationTestRecords are what certificationTestRows import as.
func certificationTestRecords(t *testing.T) []*pensionv1.CertificationRecord {
	t.Helper()
	_, rows := certificationTestRows(t)
	channels := []pensionv1.CertificationMethod{pensionv1.CertificationMethod_DATA_MATCH, pensionv1.CertificationMethod_FACE_APP, pensionv1.CertificationMethod_FACE_APP, pensionv1.CertificationMethod_IN_PERSON, pensionv1.CertificationMethod_CONSULAR}
	var out []*pensionv1.CertificationRecord
	for i, r := range rows {
		out = append(out, &pensionv1.CertificationRecord{Index: int64(i + 1), IdNumber: r[0], CertifiedOn: r[1], Channel: channels[i], Reference: r[3]})
	}
	return out
}

// paymentsExcelHeader is the header of the payment files Excel mangled.
var paymentsExcelHeader = []string{"序号", "身份证号", "姓名", "发放月份", "基础养老金(分)", "个人账户养老金(分)", "过渡性养老金(分)", "其他(分)", "发放日期", "银行账号", "发放类型"}

// paymentExcelRow is a row under paymentsExcelHeader.
func paymentExcelRow(no, id, name, month, basic, paidOn, kind string) []string {
	return []string{no, id, name, month, basic, "87500", "35000", "1000", paidOn, "6222************1234", kind}
}

// paymentsGBKRows are the rows of payments-excel-gbk.csv, as Excel saved
// them: rows 2 to 8 are rejected here, 1, 9 and 10 sent.
func paymentsGBKRows(t *testing.T) [][]string {
	t.Helper()
	zeroed := csvIDNumber(t, 7)[:15] + "000"
	return [][]string{
		paymentExcelRow("1", csvIDNumber(t, 1), "张三", "2026-05", "350000", "2026-05-15", "正常发放"),
		paymentExcelRow("2", "2.10102E+17", "李四", "2026-05", "350000", "2026-05-15", ""),
		paymentExcelRow("3", csvIDNumber(t, 3), "王五", "2026-05", "350000", "2026/5/15", ""),
		paymentExcelRow("4", csvIDNumber(t, 4), "赵六", "2026-05", "350,000", "2026-05-15", ""),
		paymentExcelRow("5", csvIDNumber(t, 5), "孙七", "2026-05", "350000", "46157", ""),
		paymentExcelRow("6", csvIDNumber(t, 6), "周八", "2026/5/1", "350000", "2026-05-15", ""),
		paymentExcelRow("7", zeroed, "吴九", "2026-05", "350000", "2026-05-15", ""),
		paymentExcelRow("8", csvIDNumber(t, 8), "<GBK-UNDECODABLE>", "2026-05", "350000", "2026-05-15", ""),
		paymentExcelRow("9", csvIDNumber(t, 9), "郑十", "2026-03", "350000", "2026-05-20", "补发"),
		paymentExcelRow("10", csvIDNumber(t, 10), "钱一", "2026-05", "350000", "2026-05-15", ""),
	}
}

// undecodableGBK is a name whose second character is not GB18030: the
// lead byte 0x81 followed by 0x7F.
var undecodableGBK = []byte{0xD5, 0xC5, 0x81, 0x7F}

func TestWriteImportTestdata(t *testing.T) {
	if !*updateTestdata {
		t.Skip("run with -update-testdata to rewrite the files in testdata/")
	}
	dh, drows := decisionTestRows(t)
	title := append([]string{decisionsTitle}, make([]string, len(dh)-1)...)
	decisions := append([][]string{title, dh}, drows...)
	writeTestdata(t, "decisions-utf8.csv", csvBytes(t, decisions, false))
	writeTestdata(t, "decisions-gbk.csv", gbk(t, csvBytes(t, decisions, true)))
	writeXLSX(t, "decisions.xlsx", "待遇决定", append([][]string{title, nil, dh}, drows...))

	ch, crows := certificationTestRows(t)
	cr := bytes.ReplaceAll(csvBytes(t, append([][]string{ch}, crows...), false), []byte("\n"), []byte("\r"))
	writeTestdata(t, "certifications-bom-cr.csv", append([]byte("\uFEFF"), cr...))
	writeXLSX(t, "certifications.xlsx", "Sheet1", append([][]string{ch}, crows...))

	pg := gbk(t, csvBytes(t, append([][]string{paymentsExcelHeader}, paymentsGBKRows(t)...), true))
	pg = bytes.Replace(pg, []byte("<GBK-UNDECODABLE>"), undecodableGBK, 1)
	writeTestdata(t, "payments-excel-gbk.csv", pg)
	writePaymentsXLSX(t)
	writeStrayGBK(t)
}

// writeStrayGBK writes a UTF-8 payment file with one row saved in GBK.
func writeStrayGBK(t *testing.T) {
	rows := [][]string{
		paymentExcelRow("1", csvIDNumber(t, 1), "张三", "2026-05", "350000", "2026-05-15", ""),
		paymentExcelRow("2", csvIDNumber(t, 2), "<GBK>", "2026-05", "350000", "2026-05-15", ""),
		paymentExcelRow("3", csvIDNumber(t, 3), "王五", "2026-05", "350000", "2026-05-15", ""),
	}
	b := csvBytes(t, append([][]string{paymentsExcelHeader}, rows...), false)
	b = bytes.Replace(b, []byte("<GBK>"), gbk(t, []byte("李四")), 1)
	writeTestdata(t, "payments-stray-gbk.csv", b)
}

// writePaymentsXLSX writes payments-excel.xlsx: cells as Excel keeps them
// when a clerk types into a sheet without formatting the columns as text.
// Rows 1 and 8 are sent; rows 2 to 7 are rejected here.
func writePaymentsXLSX(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	sh := "Sheet1"
	style := func(numFmt int, custom string) int {
		s := &excelize.Style{NumFmt: numFmt}
		if custom != "" {
			s.CustomNumFmt = &custom
		}
		id, err := f.NewStyle(s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	isoDate, isoMonth := style(0, "yyyy-mm-dd"), style(0, "yyyy-mm")
	// An ID number typed into a number cell: excelize shows a number of
	// more than 15 significant digits in scientific notation, as Excel's
	// General format does, and Excel keeps 15 digits of it, which the
	// format "0" shows with the last three as zeros.
	asNumber := func(n int, keep int) int64 {
		digits := csvIDNumber(t, n)
		v, err := strconv.ParseInt(digits[:keep]+strings.Repeat("0", 18-keep), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	excelDate, monthName, thousands, whole := style(14, ""), style(17, ""), style(3, ""), style(1, "")
	must(t, f.SetSheetRow(sh, "A1", &paymentsExcelHeader))
	// May 2026 is day 46143 of Excel's calendar, 15 May 2026 day 46157.
	const may, may15 = 46143, 46157
	type cell struct {
		v     any
		style int
	}
	rows := [][]cell{
		{{1, 0}, {csvIDNumber(t, 1), 0}, {"张三", 0}, {may, isoMonth}, {350000, 0}, {may15, isoDate}, {"", 0}},
		{{2, 0}, {asNumber(2, 18), 0}, {"李四", 0}, {may, isoMonth}, {350000, 0}, {may15, isoDate}, {"", 0}},
		{{3, 0}, {csvIDNumber(t, 3), 0}, {"王五", 0}, {may, isoMonth}, {350000, 0}, {may15, excelDate}, {"", 0}},
		{{4, 0}, {csvIDNumber(t, 4), 0}, {"赵六", 0}, {may, isoMonth}, {350000, thousands}, {may15, isoDate}, {"", 0}},
		{{5, 0}, {csvIDNumber(t, 5), 0}, {"孙七", 0}, {may, isoMonth}, {350000, 0}, {may15, 0}, {"", 0}},
		{{6, 0}, {csvIDNumber(t, 6), 0}, {"周八", 0}, {may, monthName}, {350000, 0}, {may15, isoDate}, {"", 0}},
		{{7, 0}, {asNumber(7, 15), whole}, {"吴九", 0}, {may, isoMonth}, {350000, 0}, {may15, isoDate}, {"", 0}},
		{{8, 0}, {csvIDNumber(t, 8), 0}, {"郑十", 0}, {46082, isoMonth}, {350000, 0}, {may15 + 5, isoDate}, {"ARREARS", 0}},
	}
	// Columns A, B, C, D, E, then paid_on in I and kind in K; F to H and
	// J are the same on every row.
	cols := []string{"A", "B", "C", "D", "E", "I", "K"}
	for i, r := range rows {
		n := i + 2
		for j, c := range r {
			ref := cols[j] + strconv.Itoa(n)
			must(t, f.SetCellValue(sh, ref, c.v))
			if c.style != 0 {
				must(t, f.SetCellStyle(sh, ref, ref, c.style))
			}
		}
		for col, v := range map[string]any{"F": 87500, "G": 35000, "H": 1000, "J": "6222************1234"} {
			must(t, f.SetCellValue(sh, col+strconv.Itoa(n), v))
		}
	}
	must(t, f.SaveAs(filepath.Join("testdata", "payments-excel.xlsx")))
}

// writeXLSX writes rows as text cells into sheet of a new workbook.
func writeXLSX(t *testing.T, name, sheet string, rows [][]string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if sheet != "Sheet1" {
		must(t, f.SetSheetName("Sheet1", sheet))
	}
	for i, r := range rows {
		if r == nil {
			continue
		}
		cells := make([]any, len(r))
		for j, c := range r {
			cells[j] = c
		}
		must(t, f.SetSheetRow(sheet, "A"+strconv.Itoa(i+1), &cells))
	}
	must(t, f.SaveAs(filepath.Join("testdata", name)))
}

func csvBytes(t *testing.T, rows [][]string, crlf bool) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.UseCRLF = crlf
	must(t, w.WriteAll(rows))
	return b.Bytes()
}

func gbk(t *testing.T, utf8 []byte) []byte {
	t.Helper()
	out, err := simplifiedchinese.GBK.NewEncoder().Bytes(utf8)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeTestdata(t *testing.T, name string, data []byte) {
	t.Helper()
	must(t, os.WriteFile(filepath.Join("testdata", name), data, 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
