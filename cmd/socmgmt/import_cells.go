package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// The reasons of rows rejected here, before anything is sent. Each says
// what is wrong with the file; the server's own reasons (RecordRejection)
// are reused where the meaning is the same.
const (
	// reasonEncodingInvalid: the row holds bytes that are not text in the
	// file's encoding.
	reasonEncodingInvalid = "ENCODING_INVALID"
	// reasonCSVInvalid: the row is not CSV (an open quote, a stray quote)
	// or has another number of fields than the header.
	reasonCSVInvalid = "CSV_INVALID"
	// reasonFieldTooLong: a field is longer than its column allows.
	reasonFieldTooLong = "FIELD_TOO_LONG"
	// reasonIDNumberAsNumber: Excel stored the ID number as a number and
	// lost its last digits.
	reasonIDNumberAsNumber = "ID_NUMBER_AS_NUMBER"
	// reasonDateNotISO: a date or month not written YYYY-MM-DD or YYYY-MM,
	// such as the 2026/7/15 Excel shows for a date cell.
	reasonDateNotISO = "DATE_NOT_ISO"
	// reasonDateAsNumber: a date or month that is Excel's serial day
	// number, such as 46218 for 2026-07-15.
	reasonDateAsNumber = "DATE_AS_NUMBER"
	// reasonAmountThousands: an amount with a thousands separator.
	reasonAmountThousands = "AMOUNT_THOUSANDS_SEPARATOR"
	// reasonAmountInvalid: an amount that is not a whole number of fen.
	reasonAmountInvalid = "AMOUNT_INVALID"
)

// rejection is why a row is not sent: a stable code for the reason column
// of the rejected-rows file and a message for people. A message never
// holds a whole ID number.
type rejection struct {
	code, message string
}

func reject(code, format string, args ...any) *rejection {
	return &rejection{code: code, message: fmt.Sprintf(format, args...)}
}

var (
	// scientificRE matches a number in Excel's scientific notation, as it
	// shows an ID number typed into a General cell: 1.10105E+17.
	scientificRE = regexp.MustCompile(`^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$`)
	// isoDateRE and isoMonthRE are the forms the service takes.
	isoDateRE  = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	isoMonthRE = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}$`)
	// ymdRE is a date written year first in another way: 2026/7/15,
	// 2026.7.15, 2026-7-15, 2026年7月15日, with or without a time of day.
	ymdRE = regexp.MustCompile(`^([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*[-/.月]\s*([0-9]{1,2})\s*日?(\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?$`)
	// ymRE is a month written year first in another way: 2026/5, 2026.5,
	// 2026-5, 2026年5月.
	ymRE = regexp.MustCompile(`^([0-9]{4})\s*[-/.年]\s*([0-9]{1,2})\s*月?$`)
	// otherDateRE is a date in a regional order (7/15/2026, 15-07-26) or
	// with an English month name (15-Jul-26, May-26, May 2026): what
	// Excel shows for a date cell under another locale.
	otherDateRE = regexp.MustCompile(`(?i)^([0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4}|([0-9]{1,2}[- ])?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?([- ][0-9]{2,4})?)(\s+[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)?$`)
	// serialRE is an Excel serial day number between 1927 and 2173, with
	// or without a fraction for the time of day.
	serialRE = regexp.MustCompile(`^[1-9][0-9]{4}(\.[0-9]+)?$`)
	// thousandsRE is an amount with thousands separators, ASCII or
	// full-width: 350,000 or 3,500.00.
	thousandsRE = regexp.MustCompile(`^[-+]?[0-9]{1,3}([,，][0-9]{3})+(\.[0-9]+)?$`)
	// decimalRE is an amount with a decimal part: yuan, not fen.
	decimalRE = regexp.MustCompile(`^[-+]?[0-9]*\.[0-9]+$`)
)

// excelEpoch is day 0 of Excel's serial dates (in the 1900 system, after
// its fictitious 29 February 1900).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// textColumnHint is how to keep Excel from converting a column.
const textColumnHint = `format the column as Text (设置单元格格式 → 文本) before typing or pasting the values, or export them from the bureau's system as text`

// idNumberCell checks the ID number column for what Excel does to an
// 18-digit number; the service checks the rest. Messages show at most the
// masked number.
func idNumberCell(v string) *rejection {
	if scientificRE.MatchString(v) {
		return reject(reasonIDNumberAsNumber, "the ID number is in scientific notation (such as 1.10105E+17): Excel stored it as a number, which keeps only 15 digits, so its last digits are lost; %s", textColumnHint)
	}
	if len(v) == 18 && strings.HasSuffix(v, "000") && isDigits(v) {
		if _, err := idnumber.Parse(v); err != nil {
			return reject(reasonIDNumberAsNumber, "the ID number %s ends in 000 and is not valid: Excel stored it as a number, which keeps only 15 digits, and replaced the last three by zeros; %s", idnumber.Mask(v), textColumnHint)
		}
	}
	return nil
}

// dateCell checks a YYYY-MM-DD column named col. A value in another shape
// that Excel is known to produce is rejected with the way to fix it;
// anything else goes to the service, which decides.
func dateCell(col, v string) *rejection {
	if v == "" || isoDateRE.MatchString(v) {
		return nil
	}
	if m := ymdRE.FindStringSubmatch(v); m != nil {
		if d, ok := civilDate(m[1], m[2], m[3]); ok {
			return reject(reasonDateNotISO, "%s %s is not written YYYY-MM-DD: write %s (Excel shows a date cell in the computer's regional format; format the column as Text, or with the custom format yyyy-mm-dd)", col, shown(v), d.Format(time.DateOnly))
		}
	}
	if serialRE.MatchString(v) {
		d := serialDate(v)
		return reject(reasonDateAsNumber, "%s %s is Excel's day number for %s, not a date: format the column with the custom format yyyy-mm-dd, or as Text with the dates typed as YYYY-MM-DD", col, shown(v), d.Format(time.DateOnly))
	}
	if otherDateRE.MatchString(v) {
		return reject(reasonDateNotISO, "%s %s is not written YYYY-MM-DD, and the order of day and month cannot be told: Excel shows a date cell in the computer's regional format; format the column with the custom format yyyy-mm-dd, or as Text", col, shown(v))
	}
	return nil
}

// monthCell checks a YYYY-MM column named col as dateCell does a date.
// Excel turns a typed 2026-05 into the date 2026/5/1, shown as May-26 or
// 2026/5/1, or into its day number.
func monthCell(col, v string) *rejection {
	if v == "" || isoMonthRE.MatchString(v) {
		return nil
	}
	hint := "format the column as Text (设置单元格格式 → 文本) and type the months as YYYY-MM, or give it the custom format yyyy-mm"
	if m := ymRE.FindStringSubmatch(v); m != nil {
		if d, ok := civilDate(m[1], m[2], "1"); ok {
			return reject(reasonDateNotISO, "%s %s is not written YYYY-MM: write %s (%s)", col, shown(v), d.Format("2006-01"), hint)
		}
	}
	if m := ymdRE.FindStringSubmatch(v); m != nil {
		if d, ok := civilDate(m[1], m[2], m[3]); ok {
			return reject(reasonDateNotISO, "%s %s is a date where a month is wanted: Excel turned the month into a date; write %s (%s)", col, shown(v), d.Format("2006-01"), hint)
		}
	}
	if serialRE.MatchString(v) {
		d := serialDate(v)
		return reject(reasonDateAsNumber, "%s %s is Excel's day number for %s, not a month: write %s (%s)", col, shown(v), d.Format(time.DateOnly), d.Format("2006-01"), hint)
	}
	if otherDateRE.MatchString(v) {
		return reject(reasonDateNotISO, "%s %s is not written YYYY-MM: Excel turned the month into a date and shows it in the computer's regional format; %s", col, shown(v), hint)
	}
	return nil
}

// fenCell parses an amount column named col: a whole number of fen,
// empty for 0.
func fenCell(col, v string) (int64, *rejection) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err == nil {
		return n, nil
	}
	switch {
	case thousandsRE.MatchString(v):
		return 0, reject(reasonAmountThousands, "%s has a thousands separator: the file must hold plain whole fen; format the column as Number with 0 decimals and without the 1000 separator (使用千位分隔符), or as General", col)
	case decimalRE.MatchString(v):
		return 0, reject(reasonAmountInvalid, "%s is not a whole number of fen: amounts are in fen (分), 3500.00 yuan is 350000; format the column with 0 decimals", col)
	default:
		return 0, reject(reasonAmountInvalid, "%s is not a whole number of fen", col)
	}
}

// civilDate is the date of the year, month and day digits, if it exists.
func civilDate(y, m, d string) (time.Time, bool) {
	yy, err1 := strconv.Atoi(y)
	mm, err2 := strconv.Atoi(m)
	dd, err3 := strconv.Atoi(d)
	if err1 != nil || err2 != nil || err3 != nil || mm < 1 || mm > 12 || dd < 1 || dd > 31 {
		return time.Time{}, false
	}
	t := time.Date(yy, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	return t, t.Day() == dd
}

// serialDate is the day of an Excel serial number that serialRE matched.
func serialDate(v string) time.Time {
	days, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return excelEpoch.AddDate(0, 0, days)
}

// checkLength rejects a value longer than max characters.
func checkLength(col, v string, maxLen int) *rejection {
	if utf8.RuneCountInString(v) > maxLen {
		return reject(reasonFieldTooLong, "%s is longer than %d characters", col, maxLen)
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// enumKey spells "Data match" or "data-match" as the proto name.
var enumKey = strings.NewReplacer(" ", "_", "-", "_")

// enumCell maps a value of column col to an enum number by the proto
// names (any case) or the Chinese labels, answering reason when it names
// nothing. Empty is 0 (unspecified): the service decides whether that is
// allowed.
func enumCell(col, v string, names map[string]int32, labels map[string]int32, reason string) (int32, *rejection) {
	if v == "" {
		return 0, nil
	}
	if n, ok := names[enumKey.Replace(strings.ToUpper(v))]; ok && n != 0 {
		return n, nil
	}
	if n, ok := labels[v]; ok {
		return n, nil
	}
	return 0, reject(reason, "%s %s is not one of %s", col, shown(v), enumChoices(names, labels))
}

// enumChoices lists the accepted names for a message.
func enumChoices(names, labels map[string]int32) string {
	byNum := map[int32][]string{}
	var nums []int32
	for name, n := range names {
		if n == 0 {
			continue
		}
		if _, seen := byNum[n]; !seen {
			nums = append(nums, n)
		}
		byNum[n] = append(byNum[n], name)
	}
	for label, n := range labels {
		byNum[n] = append(byNum[n], label)
	}
	slices.Sort(nums)
	var parts []string
	for _, n := range nums {
		slices.Sort(byNum[n])
		parts = append(parts, strings.Join(byNum[n], "/"))
	}
	return strings.Join(parts, ", ")
}

// longDigitsRE is a run of digits long enough to be part of an ID
// number, a phone or an account number.
var longDigitsRE = regexp.MustCompile(`[0-9]{7,}`)

// shown quotes a value for a message: at most 20 characters, with any
// run of 7 or more digits masked, since a value in the wrong column may
// be someone's ID number.
func shown(v string) string {
	if utf8.RuneCountInString(v) > 20 {
		v = string([]rune(v)[:20]) + "…"
	}
	v = longDigitsRE.ReplaceAllStringFunc(v, func(d string) string { return strings.Repeat("*", len(d)) })
	return strconv.Quote(v)
}
