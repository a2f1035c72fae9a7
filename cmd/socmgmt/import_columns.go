package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

const (
	// maxField bounds a value of most columns: none of the formats has a
	// longer one, and a huge value would only be rejected by the service.
	maxField = 64
	// maxNote bounds a decision's note, as the service does.
	maxNote = 500
	// maxTitleRows is how many rows above the header (a sheet's title,
	// blank rows) are skipped while looking for it.
	maxTitleRows = 10
)

// errBadHeader reports a file without a usable header row.
var errBadHeader = errors.New("header row")

// column is one column of a kind of bureau file.
type column struct {
	// name is the English header, as --help and the README give it.
	name string
	// zh are the headers a Chinese office's sheet carries for it.
	zh       []string
	optional bool
	// maxLen bounds the value in characters; maxField when 0.
	maxLen int
}

// headerKey normalises a header cell for matching: case, white space,
// '_' and '-', the '*' that templates put on required columns, a
// byte-order mark and full-width brackets do not matter.
func headerKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsSpace(r), r == '_', r == '-', r == '*', r == '\uFEFF':
		case r == '（':
			b.WriteRune('(')
		case r == '）':
			b.WriteRune(')')
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// names is how a header names the column, for messages.
func (c column) names() string {
	if len(c.zh) == 0 {
		return c.name
	}
	return c.name + " (" + strings.Join(c.zh, ", ") + ")"
}

// columnsHelp lists the columns for --help.
func columnsHelp(cols []column) string {
	var b strings.Builder
	for _, c := range cols {
		opt := ""
		if c.optional {
			opt = "  (optional)"
		}
		fmt.Fprintf(&b, "  %-22s %s%s\n", c.name, strings.Join(c.zh, ", "), opt)
	}
	return b.String()
}

// layout is where a kind's columns are in the rows of one file.
type layout struct {
	cols []column
	// pos is, for each column, the index of its cell, or -1 when an
	// optional column is absent.
	pos []int
	// header is the header row as given, for the rejected-rows file.
	header []string
	// ignored are the header cells that name no column.
	ignored []string
}

// newLayout matches a row against cols. It returns nil, nil for a row that
// names none of them (a title above the header), and an error for a
// header that lacks a required column, names one twice, or gives amounts
// in yuan.
func newLayout(cols []column, row []string) (*layout, error) {
	byKey := map[string]int{}
	for i, c := range cols {
		byKey[headerKey(c.name)] = i
		for _, z := range c.zh {
			byKey[headerKey(z)] = i
		}
	}
	l := &layout{cols: cols, pos: make([]int, len(cols)), header: row}
	for i := range l.pos {
		l.pos[i] = -1
	}
	found := 0
	for at, cell := range row {
		k := headerKey(cell)
		i, ok := byKey[k]
		if !ok {
			if _, yuan := byKey[strings.Replace(k, "(元)", "(分)", 1)]; yuan && strings.Contains(k, "(元)") {
				return nil, fmt.Errorf("%w: column %q is in yuan: the file must give whole fen (分), 3500.00 yuan as 350000, under %s", errBadHeader, cell, strings.Replace(strings.TrimSpace(cell), "元", "分", 1))
			}
			if k != "" {
				l.ignored = append(l.ignored, cell)
			}
			continue
		}
		if l.pos[i] >= 0 {
			return nil, fmt.Errorf("%w: two columns are %s (columns %d and %d)", errBadHeader, cols[i].name, l.pos[i]+1, at+1)
		}
		l.pos[i] = at
		found++
	}
	if found == 0 {
		return nil, nil
	}
	var missing []string
	for i, c := range cols {
		if l.pos[i] < 0 && !c.optional {
			missing = append(missing, c.names())
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no column %s", errBadHeader, strings.Join(missing, "; no column "))
	}
	return l, nil
}

// values picks the kind's columns out of a data row, trimmed, and
// rejects a row of another width (when strict) or with an oversized
// value. Messages name columns and never repeat a value.
func (l *layout) values(cells []string, strict bool) ([]string, *rejection) {
	if strict && len(cells) != len(l.header) {
		return nil, reject(reasonCSVInvalid, "%d fields where the header has %d: a value with a comma in it (such as an amount with a thousands separator) must be quoted", len(cells), len(l.header))
	}
	v := make([]string, len(l.cols))
	for i, c := range l.cols {
		at := l.pos[i]
		if at < 0 || at >= len(cells) {
			continue
		}
		v[i] = strings.TrimSpace(cells[at])
		maxLen := c.maxLen
		if maxLen == 0 {
			maxLen = maxField
		}
		if rj := checkLength(c.name, v[i], maxLen); rj != nil {
			return nil, rj
		}
	}
	return v, nil
}

func blankRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// fileRecord is one data row of a bureau file, numbered.
type fileRecord struct {
	// index is the row's position among the data rows after the header,
	// from 1, blank rows not counted: the record index sent for it,
	// stable when the file is read again.
	index int64
	// line is where the row is in the file, for people.
	line int
	// fields are the row as given, for the rejected-rows file.
	fields []string
	// values are the kind's columns in its order, trimmed; "" for an
	// absent optional column. Nil when problem is set.
	values []string
	// problem is why the row cannot be sent as it is.
	problem *rejection
}

// bureauFile is a file to import and how to read it.
type bureauFile struct {
	path string
	kind fileKind
	opts sourceOptions
	cols []column
}

// openBureauFile sniffs path and, for a CSV file without a given
// encoding, detects it.
func openBureauFile(path string, cols []column, opts sourceOptions) (bureauFile, error) {
	bf := bureauFile{path: path, opts: opts, cols: cols}
	kind, err := sniffFile(path)
	if err != nil {
		return bf, err
	}
	bf.kind = kind
	if kind == fileCSV && opts.encoding == encodingAuto {
		bf.opts.encoding, err = detectFileEncoding(path)
		bf.opts.detected = true
	}
	return bf, err
}

func detectFileEncoding(path string) (string, error) {
	f, err := openInput(path)
	if err != nil {
		return "", err
	}
	enc, err := detectEncoding(f)
	return enc, errors.Join(err, f.Close())
}

// recordReader reads the data rows of a bureau file after its header.
type recordReader struct {
	src   rowSource
	lay   *layout
	index int64
}

// open opens the file and reads up to its header.
func (bf bureauFile) open() (*recordReader, error) {
	src, err := openSource(bf.path, bf.kind, bf.opts)
	if err != nil {
		return nil, err
	}
	return bf.readerFrom(src)
}

// readerFrom reads src, a source of this file's rows, up to its header.
func (bf bureauFile) readerFrom(src rowSource) (*recordReader, error) {
	lay, err := bf.findHeader(src)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", bf.path, err), src.close())
	}
	return &recordReader{src: src, lay: lay}, nil
}

// findHeader reads rows until one names the columns, skipping up to
// maxTitleRows above it.
func (bf bureauFile) findHeader(src rowSource) (*layout, error) {
	for range maxTitleRows + 1 {
		row, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if row.problem != nil {
			continue
		}
		lay, err := newLayout(bf.cols, row.cells)
		if lay != nil || err != nil {
			return lay, err
		}
	}
	hint := ""
	if bf.kind == fileCSV {
		hint = fmt.Sprintf(" (the file was read as %s: if its header is Chinese, check --encoding)", bf.opts.encoding)
	}
	return nil, fmt.Errorf("%w: none of the first %d rows names the columns; the header must name %s%s", errBadHeader, maxTitleRows+1, requiredNames(bf.cols), hint)
}

func requiredNames(cols []column) string {
	var names []string
	for _, c := range cols {
		if !c.optional {
			names = append(names, c.name)
		}
	}
	return strings.Join(names, ",")
}

// next returns the next data row, or io.EOF after the last.
func (r *recordReader) next() (fileRecord, error) {
	for {
		row, err := r.src.next()
		if err != nil {
			return fileRecord{}, err
		}
		if row.problem == nil && blankRow(row.cells) {
			continue
		}
		r.index++
		rec := fileRecord{index: r.index, line: row.line, fields: row.cells, problem: row.problem}
		if rec.problem == nil {
			rec.values, rec.problem = r.lay.values(row.cells, r.src.strictWidth())
		}
		return rec, nil
	}
}

func (r *recordReader) close() error { return r.src.close() }

// errStopRecords ends eachRecord early without an error of its own.
var errStopRecords = errors.New("stop reading records")

// eachRecord calls fn for each data row of the file after index from.
func (bf bureauFile) eachRecord(from int64, fn func(fileRecord) error) error {
	rr, err := bf.open()
	if err != nil {
		return err
	}
	defer rr.close() //nolint:errcheck // opened only for reading: nothing is lost
	for {
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", bf.path, err)
		}
		if rec.index <= from {
			continue
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// scan reads the whole file once before anything is dialled: a wrong file
// fails early, and the count of records sizes the progress bar. It
// returns the number of records and the file's layout.
func (bf bureauFile) scan() (int64, *layout, error) {
	rr, err := bf.open()
	if err != nil {
		return 0, nil, err
	}
	defer rr.close() //nolint:errcheck // opened only for reading: nothing is lost
	for {
		_, err := rr.next()
		if errors.Is(err, io.EOF) {
			return rr.index, rr.lay, nil
		}
		if err != nil {
			return 0, nil, fmt.Errorf("read %s: %w", bf.path, err)
		}
	}
}
