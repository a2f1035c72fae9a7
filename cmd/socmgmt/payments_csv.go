package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// paymentColumns is the header row a bureau's payment file must start
// with, in this order.
var paymentColumns = []string{
	"id_number", "month", "basic_fen", "personal_account_fen",
	"transitional_fen", "other_fen", "paid_on", "bank_account_masked",
}

// numPaymentColumns is len(paymentColumns).
const numPaymentColumns = 8

// maxCSVField bounds a field the reader passes on: no column of the format
// is longer, and a huge field would only be rejected by the server later.
const maxCSVField = 64

// reasonCSVInvalid is the reason written for rows the file's own format
// rejects, before anything is sent.
const reasonCSVInvalid = "CSV_INVALID"

// errBadHeader reports a file that does not start with paymentColumns.
var errBadHeader = errors.New("the first row must be the header " + strings.Join(paymentColumns, ","))

// paymentRow is one data row of a payment file.
type paymentRow struct {
	// index is the row's position among the data rows, from 1: the
	// record index sent for it, stable when the file is read again.
	index int64
	// line is where the row starts in the file, for people.
	line int
	// fields are the row as given (nil when the CSV could not be read).
	fields []string
	// record is what is sent, or nil when the row is rejected here with
	// reason.
	record *pensionv1.PaymentRecord
	reason string
}

// paymentReader reads the data rows of a payment file: UTF-8 CSV, with or
// without a byte-order mark, starting with the header row.
type paymentReader struct {
	r     *csv.Reader
	index int64
}

// newPaymentReader checks the header and returns a reader positioned at
// the first data row.
func newPaymentReader(in io.Reader) (*paymentReader, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = len(paymentColumns)
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the file is empty", errBadHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errBadHeader, describeCSVError(err))
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	for i, want := range paymentColumns {
		if !strings.EqualFold(strings.TrimSpace(header[i]), want) {
			return nil, fmt.Errorf("%w: column %d is not %s", errBadHeader, i+1, want)
		}
	}
	return &paymentReader{r: r}, nil
}

// next returns the next data row, or io.EOF after the last. A row the CSV
// format rejects comes back with a reason; only an I/O error ends the
// reading early.
func (p *paymentReader) next() (paymentRow, error) {
	fields, err := p.r.Read()
	if errors.Is(err, io.EOF) {
		return paymentRow{}, io.EOF
	}
	p.index++
	row := paymentRow{index: p.index}
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		row.line = perr.StartLine
		row.fields = fields // set for a wrong number of fields
		row.reason = reasonCSVInvalid + ": " + describeCSVError(err)
		return row, nil
	}
	if err != nil {
		return paymentRow{}, err
	}
	row.line, _ = p.r.FieldPos(0)
	row.fields = fields
	row.record, err = parsePaymentRow(fields)
	if err != nil {
		row.reason = reasonCSVInvalid + ": " + err.Error()
		row.record = nil
		return row, nil
	}
	row.record.Index = row.index
	return row, nil
}

// describeCSVError names a CSV error without quoting the input.
func describeCSVError(err error) string {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return fmt.Sprintf("line %d, column %d: %v", perr.Line, perr.Column, perr.Err)
	}
	return "unreadable row"
}

// parsePaymentRow turns the fields of a data row into a record (without
// its index). It checks only what the CSV form decides: the amounts must
// be whole numbers of fen, and no field may be oversized; the server
// validates the rest. Its errors name the column and never repeat a value.
func parsePaymentRow(fields []string) (*pensionv1.PaymentRecord, error) {
	if len(fields) != len(paymentColumns) {
		return nil, fmt.Errorf("want %d fields, got %d", len(paymentColumns), len(fields))
	}
	var v [numPaymentColumns]string
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if len(f) > maxCSVField {
			return nil, fmt.Errorf("%s: longer than %d characters", paymentColumns[i], maxCSVField)
		}
		v[i] = f
	}
	var amounts [4]int64
	for i := range amounts {
		col := 2 + i
		if v[col] == "" {
			continue
		}
		n, err := strconv.ParseInt(v[col], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: not a whole number of fen", paymentColumns[col])
		}
		amounts[i] = n
	}
	return &pensionv1.PaymentRecord{
		IdNumber:           v[0],
		Month:              v[1],
		BasicFen:           amounts[0],
		PersonalAccountFen: amounts[1],
		TransitionalFen:    amounts[2],
		OtherFen:           amounts[3],
		PaidOn:             v[6],
		BankAccountMasked:  v[7],
	}, nil
}

// countDataRows counts the lines after the first, for the progress bar.
// Quoted fields with line breaks make it an estimate.
func countDataRows(r io.Reader) (int64, error) {
	var n int64
	buf := make([]byte, 64<<10)
	last := byte('\n')
	for {
		k, err := r.Read(buf)
		chunk := buf[:k]
		n += int64(bytes.Count(chunk, []byte{'\n'}))
		if len(chunk) > 0 {
			last = chunk[len(chunk)-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if last != '\n' {
		n++ // a last line without a line break
	}
	return max(n-1, 0), nil
}
