package registry

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Formats of an exported register.
const (
	formatCSV  = "csv"
	formatXLSX = "xlsx"
)

// Media types of the formats.
const (
	contentTypeCSV  = "text/csv; charset=utf-8"
	contentTypeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

// utf8BOM starts every CSV export: Excel reads a CSV file without it in
// the system's code page (GBK on a Chinese Windows) and garbles the text.
const utf8BOM = "\ufeff"

// sheetNames are the registers' titles, the worksheet's name in an XLSX
// export.
var sheetNames = map[string]string{
	registerRoster:            "花名册",
	registerSpecialGroups:     "特殊群体台账",
	registerStatusChanges:     "状态变更台账",
	registerTransfers:         "转移台账",
	registerAdditionsRemovals: "增减变动表",
}

// encodeTable writes t as a file of format, returning its bytes and media
// type.
func encodeTable(t *Table, register, format string) ([]byte, string, error) {
	if format == formatXLSX {
		b, err := encodeXLSX(t, sheetNames[register])
		return b, contentTypeXLSX, err
	}
	b, err := encodeCSV(t)
	return b, contentTypeCSV, err
}

// encodeCSV writes t as RFC 4180 CSV in UTF-8 with a byte-order mark.
func encodeCSV(t *Table) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(utf8BOM)
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	if err := w.Write(t.Headings); err != nil {
		return nil, err
	}
	for _, row := range t.Rows {
		if err := w.Write(csvRow(row)); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// csvRow is row as its CSV cells: line breaks as LF (Excel's line break
// inside a cell; a lone CR does not survive a CSV reader), and a cell that
// starts with one of the characters that begin a formula given a leading
// apostrophe, which Excel shows as text (OWASP's advice against CSV
// injection). An XLSX export needs neither: its cells are typed text.
func csvRow(row []string) []string {
	out := make([]string, len(row))
	for i, cell := range row {
		out[i] = csvCell(cell)
	}
	return out
}

func csvCell(cell string) string {
	cell = strings.ReplaceAll(strings.ReplaceAll(cell, "\r\n", "\n"), "\r", "\n")
	if cell != "" && strings.ContainsRune("=+-@\t", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// encodeXLSX writes t as a workbook of one worksheet named sheet, every
// cell text (so that ID numbers and dates stay as written), through
// excelize's stream writer.
func encodeXLSX(t *Table, sheet string) (_ []byte, err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	if err := writeXLSXRow(sw, 1, t.Headings); err != nil {
		return nil, err
	}
	for i, row := range t.Rows {
		if err := writeXLSXRow(sw, i+2, row); err != nil {
			return nil, err
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	buf, err := f.WriteToBuffer()
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeXLSXRow(sw *excelize.StreamWriter, n int, cells []string) error {
	values := make([]any, len(cells))
	for i, c := range cells {
		values[i] = excelize.Cell{Value: c}
	}
	cell, err := excelize.CoordinatesToCellName(1, n)
	if err != nil {
		return fmt.Errorf("row %d: %w", n, err)
	}
	return sw.SetRow(cell, values)
}
