package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// The encodings a CSV file may be in. GB18030 includes GBK and GB2312,
// which is what Excel on a Chinese Windows writes for "CSV (逗号分隔)".
const (
	encodingAuto    = "auto"
	encodingUTF8    = "utf-8"
	encodingGB18030 = "gb18030"
)

const (
	// maxRowBytes bounds one row of a CSV file: an open quote would
	// otherwise read the rest of the file into one field.
	maxRowBytes = 64 << 10
	// maxXLSXUnzipped bounds what a workbook may unpack to; a sheet of a
	// million payment rows is a few hundred MB of XML.
	maxXLSXUnzipped = 4 << 30
	// xlsxInMemoryXML is the largest sheet kept in memory; larger ones are
	// unpacked to a temporary file and read from there row by row.
	xlsxInMemoryXML = 16 << 20
)

// errRowTooLong ends the reading of a CSV file with a row over maxRowBytes.
var errRowTooLong = fmt.Errorf("a row is longer than %d KiB: is a quote (\") left open?", maxRowBytes>>10)

// sheetRow is one row of a bureau file as read: where it starts, its
// cells, and a problem when it could not be read as text or CSV.
type sheetRow struct {
	// line is the row's line in a CSV file (where it starts), or its row
	// number in a sheet.
	line    int
	cells   []string
	problem *rejection
}

// rowSource reads the rows of a bureau file, header included.
type rowSource interface {
	// next returns the next row, or io.EOF after the last. A row that
	// cannot be read comes back with a problem; only an error that ends
	// the reading (I/O, a row over the bound) is an error.
	next() (sheetRow, error)
	close() error
	// strictWidth reports whether every row must have as many cells as
	// the header: CSV writes them all, a sheet leaves out empty ones at
	// the end.
	strictWidth() bool
}

// sourceOptions says how to read a bureau file.
type sourceOptions struct {
	// encoding of a CSV file: encodingAuto (detected), encodingUTF8 or
	// encodingGB18030.
	encoding string
	// detected is set when encoding was chosen by detectEncoding, for the
	// hint of an encoding rejection.
	detected bool
	// sheet of a workbook; the first when empty.
	sheet string
}

// parseEncoding reads an --encoding value.
func parseEncoding(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", encodingAuto:
		return encodingAuto, nil
	case encodingUTF8, "utf8":
		return encodingUTF8, nil
	case encodingGB18030, "gbk", "gb2312", "cp936":
		return encodingGB18030, nil
	}
	return "", fmt.Errorf("--encoding %q: want auto, utf-8 or gb18030 (gbk)", s)
}

// openInput opens a file the user named to import.
func openInput(path string) (*os.File, error) {
	return os.Open(path) //nolint:gosec // G304: the file the user named to import
}

// fileKind is what a file's first bytes say it is.
type fileKind int

const (
	fileCSV fileKind = iota
	fileXLSX
)

var (
	magicZip   = []byte("PK\x03\x04")
	magicOLE   = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16LE = []byte{0xFF, 0xFE}
	bomUTF16BE = []byte{0xFE, 0xFF}
)

// sniffFile tells a workbook from a CSV file by its content, not its
// name, and refuses the formats Excel also saves that are neither.
func sniffFile(path string) (fileKind, error) {
	f, err := openInput(path)
	if err != nil {
		return 0, err
	}
	defer f.Close() //nolint:errcheck // opened only for reading: nothing is lost
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, err
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, magicZip):
		return fileXLSX, nil
	case bytes.HasPrefix(head, magicOLE):
		return 0, fmt.Errorf("%s is an Excel 97-2003 workbook (.xls) or an encrypted one: save it as an Excel Workbook (.xlsx) without a password, or as CSV UTF-8", path)
	case bytes.HasPrefix(head, bomUTF16LE), bytes.HasPrefix(head, bomUTF16BE):
		return 0, fmt.Errorf("%s is UTF-16 text (Excel's \"Unicode Text\"): save it as CSV UTF-8 or as an Excel Workbook (.xlsx)", path)
	}
	return fileCSV, nil
}

// detectEncoding tells UTF-8 from GB18030 by the lines of r that are not
// plain ASCII. A byte-order mark means UTF-8. Otherwise the file is
// GB18030 when most such lines are not UTF-8 (Chinese text in GBK almost
// never is) and fewer are bad as GB18030; it is UTF-8 when they are, so
// that one stray line of GBK in a UTF-8 file is that line's rejection and
// does not turn the rest into nonsense.
func detectEncoding(r io.Reader) (string, error) {
	br := bufio.NewReader(r)
	if head, _ := br.Peek(len(bomUTF8)); bytes.Equal(head, bomUTF8) {
		return encodingUTF8, nil
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxRowBytes)
	sc.Split(splitLines)
	var nonASCII, notUTF8, notGB int
	for sc.Scan() {
		line := sc.Bytes()
		if isASCII(line) {
			continue
		}
		nonASCII++
		if !utf8.Valid(line) {
			notUTF8++
		}
		if !validGB18030(line) {
			notGB++
		}
	}
	// A line over the bound stops the count; the reading proper reports it.
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return "", err
	}
	if notUTF8*2 > nonASCII && notGB < notUTF8 {
		return encodingGB18030, nil
	}
	return encodingUTF8, nil
}

// splitLines splits at CR, LF or CRLF (the LF of a CRLF gives an empty
// line, which is ASCII and so does not count).
func splitLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validGB18030 reports whether b decodes as GB18030 without a
// replacement character.
func validGB18030(b []byte) bool {
	out, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	return err == nil && !bytes.ContainsRune(out, utf8.RuneError)
}

// openSource opens path for reading rows: a workbook by excelize, a CSV
// file in opts.encoding (resolved, not auto).
func openSource(path string, kind fileKind, opts sourceOptions) (rowSource, error) {
	if kind == fileXLSX {
		return openXLSX(path, opts.sheet)
	}
	return openCSV(path, opts)
}

// csvSource reads a CSV file in UTF-8 or GB18030 with any line ends.
type csvSource struct {
	// closer closes the file; nil for a source over a reader.
	closer   io.Closer
	r        *csv.Reader
	lim      *rowLimit
	opts     sourceOptions
	lastLine int
}

func openCSV(path string, opts sourceOptions) (*csvSource, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	s, err := newCSVSource(f, opts)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", path, err), f.Close())
	}
	s.closer = f
	return s, nil
}

// newCSVSource reads CSV from in in opts.encoding (resolved, not auto).
func newCSVSource(in io.Reader, opts sourceOptions) (*csvSource, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(len(bomUTF8))
	hasBOM := bytes.Equal(head, bomUTF8)
	var dec transform.Transformer
	switch {
	case opts.encoding == encodingGB18030 && hasBOM:
		return nil, errors.New("the file starts with a UTF-8 byte-order mark, but --encoding gb18030 was given: it is UTF-8")
	case opts.encoding == encodingGB18030:
		dec = simplifiedchinese.GB18030.NewDecoder()
	default:
		// Invalid bytes become U+FFFD, which marks the row; the BOM goes.
		dec = unicode.UTF8BOM.NewDecoder()
	}
	lim := &rowLimit{r: transform.NewReader(br, transform.Chain(dec, lineEnds{}))}
	r := csv.NewReader(lim)
	r.FieldsPerRecord = -1 // the header decides, once it is found
	return &csvSource{r: r, lim: lim, opts: opts}, nil
}

func (s *csvSource) strictWidth() bool { return true }

func (s *csvSource) close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

func (s *csvSource) next() (sheetRow, error) {
	s.lim.start = s.r.InputOffset()
	fields, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return sheetRow{}, io.EOF
	}
	var perr *csv.ParseError
	var row sheetRow
	switch {
	case errors.As(err, &perr):
		row = sheetRow{line: perr.StartLine, cells: fields,
			problem: reject(reasonCSVInvalid, "line %d, column %d: %v", perr.Line, perr.Column, perr.Err)}
	case err != nil:
		return sheetRow{}, fmt.Errorf("after line %d: %w", s.lastLine, err)
	default:
		line, _ := s.r.FieldPos(0)
		row = sheetRow{line: line, cells: fields}
	}
	s.lastLine = row.line
	if p := s.encodingProblem(row); p != nil {
		row.problem = p
	}
	return row, nil
}

// encodingProblem rejects a row that held bytes the encoding could not
// decode (now U+FFFD), with a hint at the other encoding.
func (s *csvSource) encodingProblem(row sheetRow) *rejection {
	bad := slices.ContainsFunc(row.cells, func(c string) bool { return strings.ContainsRune(c, utf8.RuneError) })
	if !bad {
		return nil
	}
	how := "given by --encoding"
	if s.opts.detected {
		how = "detected"
	}
	if s.opts.encoding == encodingGB18030 {
		return reject(reasonEncodingInvalid, "line %d is not GB18030/GBK text (the file is read as GB18030, %s): save the file as CSV UTF-8 (CSV UTF-8 逗号分隔), or if it is UTF-8 run again with --encoding utf-8", row.line, how)
	}
	return reject(reasonEncodingInvalid, "line %d is not UTF-8 text (the file is read as UTF-8, %s): if the file was saved as \"CSV (逗号分隔)\" it is GBK, so run again with --encoding gb18030, or save it as \"CSV UTF-8 (逗号分隔)\"", row.line, how)
}

// rowLimit fails the reading of a row longer than maxRowBytes. start is
// the offset where the current row begins; the CSV reader buffers ahead,
// so the bound is checked with room for one buffer.
type rowLimit struct {
	r           io.Reader
	read, start int64
}

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.read-l.start > maxRowBytes+64<<10 {
		return 0, errRowTooLong
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	return n, err
}

// lineEnds turns CR and CRLF into LF: the CSV reader knows CRLF and LF,
// but a file saved with CR alone would be one long line.
type lineEnds struct{ transform.NopResetter }

func (lineEnds) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if nDst >= len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if c != '\r' {
			dst[nDst] = c
			nDst++
			nSrc++
			continue
		}
		if nSrc+1 == len(src) && !atEOF {
			return nDst, nSrc, transform.ErrShortSrc // a CRLF may be split
		}
		dst[nDst] = '\n'
		nDst++
		nSrc++
		if nSrc < len(src) && src[nSrc] == '\n' {
			nSrc++
		}
	}
	return nDst, nSrc, nil
}

// xlsxSource reads the rows of one sheet of a workbook as Excel shows
// them (with the cells' number formats applied), streaming the sheet.
type xlsxSource struct {
	f    *excelize.File
	rows *excelize.Rows
	line int
}

func openXLSX(path, sheet string) (*xlsxSource, error) {
	f, err := excelize.OpenFile(path, excelize.Options{UnzipSizeLimit: maxXLSXUnzipped, UnzipXMLSizeLimit: xlsxInMemoryXML})
	if err != nil {
		return nil, fmt.Errorf("read %s as an Excel workbook: %w", path, err)
	}
	sheets := f.GetSheetList()
	switch {
	case len(sheets) == 0:
		err = fmt.Errorf("%s has no sheet", path)
	case sheet == "":
		sheet = sheets[0]
	case !slices.Contains(sheets, sheet):
		err = fmt.Errorf("%s has no sheet %q; its sheets are %s", path, sheet, strings.Join(sheets, ", "))
	}
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	rows, err := f.Rows(sheet)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sheet %q of %s: %w", sheet, path, err), f.Close())
	}
	return &xlsxSource{f: f, rows: rows}, nil
}

func (s *xlsxSource) strictWidth() bool { return false }

func (s *xlsxSource) close() error { return errors.Join(s.rows.Close(), s.f.Close()) }

func (s *xlsxSource) next() (sheetRow, error) {
	if !s.rows.Next() {
		if err := s.rows.Error(); err != nil {
			return sheetRow{}, fmt.Errorf("after row %d: %w", s.line, err)
		}
		return sheetRow{}, io.EOF
	}
	// Next moves one row at a time, empty rows included: the count is the
	// row number Excel shows.
	s.line++
	cells, err := s.rows.Columns()
	if err != nil {
		return sheetRow{}, fmt.Errorf("row %d: %w", s.line, err)
	}
	return sheetRow{line: s.line, cells: cells}, nil
}
