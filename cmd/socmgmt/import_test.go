package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// fakePension answers the three import streams like the pension service,
// with a group of ackEvery records per acknowledgement: it rejects a few
// records a real service would, and can drop a stream after dropAfter
// records.
type fakePension struct {
	pensionv1.UnimplementedPensionServiceServer

	ackEvery int
	// dropAfter, when positive, ends each of the first drops streams
	// with Unavailable after that many records, acknowledging all but the
	// last of them.
	dropAfter, drops int

	mu sync.Mutex
	// stored holds the records by stream ("payments", ...) and index.
	stored  map[string]map[int64]proto.Message
	starts  []int64 // first record index of each stream
	batches []string
	headers []*pensionv1.ImportHeader
	roles   []authn.Role
}

func newFakePension() *fakePension {
	return &fakePension{ackEvery: 3, stored: map[string]map[int64]proto.Message{}}
}

func (f *fakePension) ImportPayments(stream grpc.BidiStreamingServer[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse]) error {
	return serveFakeImport(f, "payments", stream,
		func(req *pensionv1.ImportPaymentsRequest) (*pensionv1.ImportHeader, *pensionv1.PaymentRecord) {
			return req.GetHeader(), req.GetRecord()
		},
		func(a *pensionv1.ImportAck, s *pensionv1.ImportSummary) *pensionv1.ImportPaymentsResponse {
			if a != nil {
				return &pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Ack{Ack: a}}
			}
			return &pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Summary{Summary: s}}
		},
		func(r *pensionv1.PaymentRecord) *pensionv1.RecordRejection {
			if len(r.Month) != 7 || r.Month[5:] > "12" {
				return &pensionv1.RecordRejection{Index: r.Index, Reason: "MONTH_INVALID", Message: "month must be YYYY-MM"}
			}
			return nil
		})
}

func (f *fakePension) ImportCertifications(stream grpc.BidiStreamingServer[pensionv1.ImportCertificationsRequest, pensionv1.ImportCertificationsResponse]) error {
	return serveFakeImport(f, "certifications", stream,
		func(req *pensionv1.ImportCertificationsRequest) (*pensionv1.ImportHeader, *pensionv1.CertificationRecord) {
			return req.GetHeader(), req.GetRecord()
		},
		func(a *pensionv1.ImportAck, s *pensionv1.ImportSummary) *pensionv1.ImportCertificationsResponse {
			if a != nil {
				return &pensionv1.ImportCertificationsResponse{Message: &pensionv1.ImportCertificationsResponse_Ack{Ack: a}}
			}
			return &pensionv1.ImportCertificationsResponse{Message: &pensionv1.ImportCertificationsResponse_Summary{Summary: s}}
		},
		func(r *pensionv1.CertificationRecord) *pensionv1.RecordRejection {
			if r.Channel == pensionv1.CertificationMethod_PENSION_START || r.Channel == 0 {
				return &pensionv1.RecordRejection{Index: r.Index, Reason: "CHANNEL_INVALID", Message: "not a channel that is recorded"}
			}
			return nil
		})
}

func (f *fakePension) ImportDecisions(stream grpc.BidiStreamingServer[pensionv1.ImportDecisionsRequest, pensionv1.ImportDecisionsResponse]) error {
	return serveFakeImport(f, "decisions", stream,
		func(req *pensionv1.ImportDecisionsRequest) (*pensionv1.ImportHeader, *pensionv1.DecisionRecord) {
			return req.GetHeader(), req.GetRecord()
		},
		func(a *pensionv1.ImportAck, s *pensionv1.ImportSummary) *pensionv1.ImportDecisionsResponse {
			if a != nil {
				return &pensionv1.ImportDecisionsResponse{Message: &pensionv1.ImportDecisionsResponse_Ack{Ack: a}}
			}
			return &pensionv1.ImportDecisionsResponse{Message: &pensionv1.ImportDecisionsResponse_Summary{Summary: s}}
		},
		func(r *pensionv1.DecisionRecord) *pensionv1.RecordRejection {
			if r.Action == 0 {
				return &pensionv1.RecordRejection{Index: r.Index, Reason: "ACTION_INVALID", Message: "action required"}
			}
			return nil
		})
}

// fakeRecord is what the fake needs of a record.
type fakeRecord interface {
	proto.Message
	GetIndex() int64
}

// serveFakeImport serves one import stream of kind: split takes a request
// apart, reply wraps an acknowledgement or the summary, check rejects a
// record.
func serveFakeImport[Req, Resp any, R fakeRecord](f *fakePension, kind string, stream grpc.BidiStreamingServer[Req, Resp],
	split func(*Req) (*pensionv1.ImportHeader, R), reply func(*pensionv1.ImportAck, *pensionv1.ImportSummary) *Resp, check func(R) *pensionv1.RecordRejection,
) error {
	p, _ := authn.FromContext(stream.Context())
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h, _ := split(first)
	if h == nil || h.BatchId == "" {
		return status.Error(codes.InvalidArgument, "header required")
	}
	f.mu.Lock()
	f.batches = append(f.batches, h.BatchId)
	f.headers = append(f.headers, h)
	f.roles = append(f.roles, p.Role)
	drop := f.dropAfter > 0 && f.drops > 0
	if drop {
		f.drops--
	}
	if f.stored[kind] == nil {
		f.stored[kind] = map[int64]proto.Message{}
	}
	stored := f.stored[kind]
	f.mu.Unlock()
	sum := &pensionv1.ImportSummary{BatchId: h.BatchId}
	var pending []*pensionv1.RecordRejection
	var prev, n int64
	ack := func() error {
		err := stream.Send(reply(&pensionv1.ImportAck{DurableThroughIndex: prev, Rejections: pending}, nil))
		pending = nil
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		_, r := split(req)
		if r.GetIndex() <= prev {
			return status.Errorf(codes.InvalidArgument, "index %d after %d", r.GetIndex(), prev)
		}
		n++
		f.mu.Lock()
		if n == 1 {
			f.starts = append(f.starts, r.GetIndex())
		}
		f.mu.Unlock()
		if drop && n == int64(f.dropAfter) {
			return status.Error(codes.Unavailable, "connection lost")
		}
		prev = r.GetIndex()
		sum.Received++
		if rj := check(r); rj != nil {
			pending = append(pending, rj)
			sum.Rejected++
		} else {
			f.mu.Lock()
			if _, ok := stored[r.GetIndex()]; ok {
				sum.Duplicates++
			} else {
				sum.Accepted++
			}
			stored[r.GetIndex()] = r
			f.mu.Unlock()
		}
		if n%int64(f.ackEvery) == 0 {
			if err := ack(); err != nil {
				return err
			}
		}
	}
	if err := ack(); err != nil {
		return err
	}
	sum.LastIndex = prev
	return stream.Send(reply(nil, sum))
}

// records returns the stored records of kind in index order.
func (f *fakePension) records(kind string) []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var idx []int64
	for i := range f.stored[kind] {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var out []proto.Message
	for _, i := range idx {
		out = append(out, f.stored[kind][i])
	}
	return out
}

// indexes returns the stored indexes of kind in order.
func (f *fakePension) indexes(kind string) []int64 {
	var out []int64
	for _, r := range f.records(kind) {
		out = append(out, r.(fakeRecord).GetIndex())
	}
	return out
}

// startFakePension serves f on a loopback port behind the authn
// interceptors, trusting a new signing key, and returns its address and
// the key's file.
func startFakePension(t *testing.T, f *fakePension) (addr, keyFile string) {
	t.Helper()
	keyFile, pub := newKeyFile(t)
	return servicetest.Serve(t, servicetest.Options{
		Name: "pension", Keys: servicetest.Keys{Public: pub}, TCP: true,
		Register: func(srv *grpcserver.Server) { pensionv1.RegisterPensionServiceServer(srv.GRPC(), f) },
	}).Addr(), keyFile
}

// csvIDNumber returns the n-th valid ID number of these tests.
func csvIDNumber(t *testing.T, n int) string {
	t.Helper()
	id, err := idnumber.Build("210102", time.Date(1950, 1, 1+n, 0, 0, 0, 0, time.UTC), 10+n)
	if err != nil {
		t.Fatal(err)
	}
	return id.Digits()
}

// paymentHeader is the English header of a payment file.
const paymentHeader = "id_number,month,basic_fen,personal_account_fen,transitional_fen,other_fen,paid_on,bank_account_masked"

// writeCSV writes a payment file with the header and rows.
func writeCSV(t *testing.T, dir, name, prefix string, rows ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	body := prefix + paymentHeader + "\r\n" + strings.Join(rows, "\r\n") + "\r\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func importCfg(addr, keyFile, file string) importConfig {
	return importConfig{file: file, addr: addr, keyFile: keyFile, encoding: encodingAuto, retryBase: time.Millisecond, retryMax: 5 * time.Millisecond, reachTimeout: 3 * time.Second}
}

// copyTestdata copies a file of testdata/ into a temporary directory, so
// that its rejected-rows file is written there.
func copyTestdata(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkNoIDNumbers fails when text shows any of the ID numbers 0 to 20 of
// these tests.
func checkNoIDNumbers(t *testing.T, text string) {
	t.Helper()
	for n := range 21 {
		if id := csvIDNumber(t, n); strings.Contains(text, id) || strings.Contains(text, id[:15]) {
			t.Fatalf("the output shows ID number %d:\n%s", n, text)
		}
	}
}

func TestImportPaymentsFile(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	addr, keyFile := startFakePension(t, f)
	dir := t.TempDir()
	var ids []string
	var rows []string
	for n := range 10 {
		ids = append(ids, csvIDNumber(t, n))
		rows = append(rows, fmt.Sprintf("%s,2026-0%d,350000,87500,35000,1000,2026-0%d-15,6222********1234", ids[n], 1+n%5, 1+n%5))
	}
	rows[3] = ids[3] + ",2026-13,350000,0,0,0,2026-01-15,6222"         // the service rejects it
	rows[5] = ids[5] + ",2026-02,350000.50,0,0,0,2026-02-15,6222"      // not whole fen
	rows[7] = ids[7] + ",2026-02,350000,0,0,0,2026-02-15"              // a field short
	rows[8] = " " + ids[8] + " ,2026-03, 350000 ,,,,2026-03-15,6222**" // spaces and empty amounts are fine
	file := writeCSV(t, dir, "bureau 2026.csv", "\uFEFF", rows...)

	var out, progress bytes.Buffer
	err := runImport(t.Context(), paymentsImport, importCfg(addr, keyFile, file), &out, &progress)
	if !errors.Is(err, errRowsRejected) {
		t.Fatalf("runImport: %v, want rows rejected\n%s", err, out.String())
	}
	checkNoIDNumbers(t, out.String()+progress.String()+err.Error())
	if diff := cmp.Diff([]int64{1, 2, 3, 5, 7, 9, 10}, f.indexes("payments")); diff != "" {
		t.Errorf("stored indexes (-want +got):\n%s", diff)
	}
	f.mu.Lock()
	r9 := f.stored["payments"][9].(*pensionv1.PaymentRecord)
	roles, headers := f.roles, f.headers
	f.mu.Unlock()
	if r9.GetIdNumber() != ids[8] || r9.GetBasicFen() != 350000 || r9.GetOtherFen() != 0 || r9.GetKind() != 0 {
		t.Errorf("row 9 sent as %v", r9)
	}
	if len(roles) != 1 || roles[0] != authn.RoleBureau {
		t.Errorf("imported with roles %v, want one bureau stream", roles)
	}
	if want := defaultBatchIDOf(t, file); headers[0].GetBatchId() != want || headers[0].GetExpectedRecords() != 10 {
		t.Errorf("header %v, want batch id %q and 10 records expected", headers[0], want)
	}
	rejected := readCSV(t, rejectedFileName(file))
	var summary []string
	for _, r := range rejected[1:] {
		summary = append(summary, r[0]+" "+r[1]+" "+r[2])
		if r[3] == "" {
			t.Errorf("rejection %v has no message", r)
		}
	}
	slices.Sort(summary)
	if diff := cmp.Diff([]string{"4 5 MONTH_INVALID", "6 7 AMOUNT_INVALID", "8 9 CSV_INVALID"}, summary); diff != "" {
		t.Errorf("rejected rows (-want +got):\n%s", diff)
	}
	if rejected[1][4] == "" || !strings.HasPrefix(strings.Join(rejected[0], ","), "index,line,reason,message,id_number,month") {
		t.Errorf("rejected file does not keep the rows as given: %q", rejected)
	}
	summaryText := collapseSpaces(out.String())
	for _, want := range []string{"records  read  10  of  10", "rejected  by  the  service  1", "rejected  before  sending  2", "new  payments  7"} {
		if !strings.Contains(summaryText, want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	// The same file again is the same batch: nothing new.
	out.Reset()
	err = runImport(t.Context(), paymentsImport, importCfg(addr, keyFile, file), &out, &progress)
	if !errors.Is(err, errRowsRejected) || !strings.Contains(collapseSpaces(out.String()), "duplicates  (unchanged)  7") {
		t.Errorf("second import: %v\n%s", err, out.String())
	}
}

func defaultBatchIDOf(t *testing.T, file string) string {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return defaultBatchID(file, fi.Size(), fi.ModTime())
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestImportResumesAfterDrop runs each kind against a service that drops
// the first two streams: each stream resumes after the last acknowledged
// record, and every record is stored once.
func TestImportResumesAfterDrop(t *testing.T) {
	t.Parallel()
	var payments []string
	for n := range 12 {
		payments = append(payments, fmt.Sprintf("%s,2026-01,350000,0,0,0,2026-01-15,6222", csvIDNumber(t, n)))
	}
	var certs []string
	for n := range 12 {
		certs = append(certs, fmt.Sprintf("%s,2026-01-%02d,DATA_MATCH", csvIDNumber(t, n), n+1))
	}
	for _, tc := range []struct {
		kind string
		run  func(context.Context, importConfig, io.Writer, io.Writer) error
		body string
	}{
		{"payments", func(ctx context.Context, c importConfig, o, p io.Writer) error {
			return runImport(ctx, paymentsImport, c, o, p)
		},
			paymentHeader + "\n" + strings.Join(payments, "\n")},
		{"certifications", func(ctx context.Context, c importConfig, o, p io.Writer) error {
			return runImport(ctx, certificationsImport, c, o, p)
		}, "身份证号,认证日期,认证方式\n" + strings.Join(certs, "\n")},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			f := newFakePension()
			f.dropAfter, f.drops = 5, 2 // acks 3 of the first 4, then drops
			addr, keyFile := startFakePension(t, f)
			file := filepath.Join(t.TempDir(), tc.kind+".csv")
			if err := os.WriteFile(file, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, progress bytes.Buffer
			if err := tc.run(t.Context(), importCfg(addr, keyFile, file), &out, &progress); err != nil {
				t.Fatalf("runImport: %v\n%s", err, out.String())
			}
			f.mu.Lock()
			starts := f.starts
			f.mu.Unlock()
			// Each stream resumes after the last acknowledged index: 3, then 6.
			if diff := cmp.Diff([]int64{1, 4, 7}, starts); diff != "" {
				t.Errorf("streams started at (-want +got):\n%s", diff)
			}
			if got := f.indexes(tc.kind); len(got) != 12 {
				t.Errorf("%d records stored, want 12", len(got))
			}
			if _, err := os.Stat(rejectedFileName(file)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a rejected-rows file without rejections: %v", err)
			}
			if !strings.Contains(out.String(), "last of 3 connections") {
				t.Errorf("summary does not mention the reconnects:\n%s", out.String())
			}
		})
	}
}

func TestImportPaymentsGivesUp(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	f.dropAfter, f.drops = 1, 100 // never gets a record through
	addr, keyFile := startFakePension(t, f)
	file := writeCSV(t, t.TempDir(), "pay.csv", "", csvIDNumber(t, 1)+",2026-01,1,0,0,0,2026-01-15,6222")
	err := runImport(t.Context(), paymentsImport, importCfg(addr, keyFile, file), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Unavailable") {
		t.Fatalf("runImport: %v, want it to give up with Unavailable", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != importMaxAttempts {
		t.Errorf("%d attempts, want %d", len(f.batches), importMaxAttempts)
	}
}

func TestImportRefusals(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	addr, keyFile := startFakePension(t, f)
	dir := t.TempDir()
	good := writeCSV(t, dir, "good.csv", "", csvIDNumber(t, 1)+",2026-01,1,0,0,0,2026-01-15,6222")
	write := func(name string, body []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shortHeader := write("short.csv", []byte("身份证号,月份\n"+csvIDNumber(t, 1)+",2026-01\n"))
	noHeader := write("none.csv", []byte(csvIDNumber(t, 1)+",2026-01,1,0,0,0,2026-01-15,6222\n"))
	yuan := write("yuan.csv", []byte("身份证号,发放月份,基础养老金（元）,个人账户养老金(分),过渡性养老金(分),其他(分),发放日期,银行账号\n"))
	xls := write("old.xls", []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0})
	utf16 := write("unicode.txt", []byte{0xFF, 0xFE, 'i', 0, 'd', 0})
	notXLSX := write("broken.xlsx", []byte("PK\x03\x04 not really a zip"))
	otherKey, _ := newKeyFile(t)
	with := func(file string, change func(*importConfig)) importConfig {
		c := importCfg(addr, keyFile, file)
		change(&c)
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  importConfig
		want string
	}{
		{"header without the amounts", importCfg(addr, keyFile, shortHeader), "header row: no column basic_fen"},
		{"no header", importCfg(addr, keyFile, noHeader), "header row: none of the first 11 rows names the columns"},
		{"amounts in yuan", importCfg(addr, keyFile, yuan), "is in yuan"},
		{"old xls", importCfg(addr, keyFile, xls), "Excel 97-2003 workbook"},
		{"utf-16", importCfg(addr, keyFile, utf16), "UTF-16"},
		{"broken workbook", importCfg(addr, keyFile, notXLSX), "as an Excel workbook"},
		{"missing file", importCfg(addr, keyFile, filepath.Join(dir, "none.csv")+"x"), "no such file"},
		{"bad batch id", with(good, func(c *importConfig) { c.batchID = "a/b" }), "--batch-id"},
		{"bad encoding", with(good, func(c *importConfig) { c.encoding = "latin1" }), "--encoding"},
		{"unreachable", with(good, func(c *importConfig) {
			c.addr, c.reachTimeout = "127.0.0.1:1", 200*time.Millisecond
		}), "pension not reachable at 127.0.0.1:1"},
		{"wrong key", importCfg(addr, otherKey, good), "Unauthenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runImport(t.Context(), paymentsImport, tc.cfg, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runImport: %v, want an error about %q", err, tc.want)
			}
			checkNoIDNumbers(t, err.Error())
		})
	}
	if got := f.indexes("payments"); len(got) != 0 {
		t.Errorf("a refused import stored %d rows", len(got))
	}
}

// TestImportSameRecordsFromEveryFormat imports the same decisions and
// certifications from UTF-8 CSV, GBK CSV with CRLF, UTF-8 with a BOM and
// CR line ends, and workbooks: the service gets the same records.
func TestImportSameRecordsFromEveryFormat(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	addr, keyFile := startFakePension(t, f)
	var wantDecisions, wantCerts []proto.Message
	for _, r := range decisionTestRecords(t) {
		wantDecisions = append(wantDecisions, r)
	}
	for _, r := range certificationTestRecords(t) {
		wantCerts = append(wantCerts, r)
	}
	for _, tc := range []struct {
		file, kind, read string
		want             []proto.Message
	}{
		{"decisions-utf8.csv", "decisions", "CSV in utf-8 (detected", wantDecisions},
		{"decisions-gbk.csv", "decisions", "CSV in gb18030 (detected", wantDecisions},
		{"decisions.xlsx", "decisions", "the first sheet of an Excel workbook, 5 records", wantDecisions},
		{"certifications-bom-cr.csv", "certifications", "CSV in utf-8 (detected", wantCerts},
		{"certifications.xlsx", "certifications", "Excel workbook, 5 records", wantCerts},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f.mu.Lock()
			delete(f.stored, tc.kind)
			f.mu.Unlock()
			file := copyTestdata(t, tc.file)
			cfg := importCfg(addr, keyFile, file)
			var out, progress bytes.Buffer
			var err error
			if tc.kind == "decisions" {
				err = runImport(t.Context(), decisionsImport, cfg, &out, &progress)
			} else {
				err = runImport(t.Context(), certificationsImport, cfg, &out, &progress)
			}
			if err != nil {
				t.Fatalf("runImport: %v\n%s\n%s", err, out.String(), progress.String())
			}
			if diff := cmp.Diff(tc.want, f.records(tc.kind), protocmp.Transform()); diff != "" {
				t.Errorf("records on the service (-want +got):\n%s", diff)
			}
			if !strings.Contains(progress.String(), tc.read) {
				t.Errorf("progress does not say how the file was read (%q):\n%s", tc.read, progress.String())
			}
			if tc.kind == "decisions" && !strings.Contains(progress.String(), "not imported: the columns 姓名") {
				t.Errorf("progress does not name the skipped column:\n%s", progress.String())
			}
		})
	}
}

// rejectedSummary is the rejected-rows file as "index line reason" lines,
// checking that each has a message and none shows an ID number.
func rejectedSummary(t *testing.T, path string) []string {
	t.Helper()
	rows := readCSV(t, path)
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[0]+" "+r[1]+" "+r[2])
		if r[3] == "" {
			t.Errorf("rejection %v has no message", r[:3])
		}
		checkNoIDNumbers(t, r[3])
	}
	return out
}

// TestImportExcelMangledFiles imports payment files with the cells Excel
// changes and a row of bytes that are not text: each such row is a
// rejection with a code and a message, and the rows after it still go.
func TestImportExcelMangledFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file     string
		stored   []int64
		rejected []string
		messages []string
	}{
		{
			file: "payments-excel-gbk.csv", stored: []int64{1, 9, 10},
			rejected: []string{"2 3 ID_NUMBER_AS_NUMBER", "3 4 DATE_NOT_ISO", "4 5 AMOUNT_THOUSANDS_SEPARATOR", "5 6 DATE_AS_NUMBER", "6 7 DATE_NOT_ISO", "7 8 ID_NUMBER_AS_NUMBER", "8 9 ENCODING_INVALID"},
			messages: []string{"scientific notation", "write 2026-05-15", "thousands separator", "day number for 2026-05-15", "write 2026-05", "ends in 000", "line 9 is not GB18030/GBK text"},
		},
		{
			file: "payments-excel.xlsx", stored: []int64{1, 8},
			rejected: []string{"2 3 ID_NUMBER_AS_NUMBER", "3 4 DATE_NOT_ISO", "4 5 AMOUNT_THOUSANDS_SEPARATOR", "5 6 DATE_AS_NUMBER", "6 7 DATE_NOT_ISO", "7 8 ID_NUMBER_AS_NUMBER"},
			messages: []string{"scientific notation", "order of day and month", "thousands separator", "day number for 2026-05-15", "Excel turned the month into a date", "ends in 000"},
		},
		{
			file: "payments-stray-gbk.csv", stored: []int64{1, 3},
			rejected: []string{"2 3 ENCODING_INVALID"},
			messages: []string{"line 3 is not UTF-8 text (the file is read as UTF-8, detected)", "run again with --encoding gb18030"},
		},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			f := newFakePension()
			addr, keyFile := startFakePension(t, f)
			file := copyTestdata(t, tc.file)
			var out, progress bytes.Buffer
			err := runImport(t.Context(), paymentsImport, importCfg(addr, keyFile, file), &out, &progress)
			if !errors.Is(err, errRowsRejected) {
				t.Fatalf("runImport: %v, want rows rejected\n%s", err, out.String())
			}
			checkNoIDNumbers(t, out.String()+progress.String()+err.Error())
			if diff := cmp.Diff(tc.stored, f.indexes("payments")); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.rejected, rejectedSummary(t, rejectedFileName(file))); diff != "" {
				t.Errorf("rejected (-want +got):\n%s", diff)
			}
			rejected, err := os.ReadFile(rejectedFileName(file))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.messages {
				if !strings.Contains(string(rejected), m) {
					t.Errorf("no rejection message says %q:\n%s", m, rejected)
				}
			}
		})
	}
}

// TestImportEncodingFlag reads a GBK file as --encoding says: as GB18030
// it imports, as UTF-8 its Chinese header names nothing and the error
// points at the flag.
func TestImportEncodingFlag(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	addr, keyFile := startFakePension(t, f)
	file := copyTestdata(t, "decisions-gbk.csv")
	cfg := importCfg(addr, keyFile, file)
	cfg.encoding = "gb18030"
	if err := runImport(t.Context(), decisionsImport, cfg, io.Discard, io.Discard); err != nil {
		t.Fatalf("forced gb18030: %v", err)
	}
	// The header is Chinese: read as UTF-8 it names nothing.
	cfg.encoding = "utf-8"
	err := runImport(t.Context(), decisionsImport, cfg, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "was read as utf-8: if its header is Chinese, check --encoding") {
		t.Errorf("GBK read as UTF-8: %v, want the encoding hint", err)
	}
}

func TestImportCommandLine(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want []string
	}{
		{"payments", []string{"id_number", "身份证号", "basic_fen", "基础养老金(分)", "kind", "发放类型", "(optional)", "--encoding", "--sheet", "GB18030"}},
		{"certifications", []string{"certified_on", "认证日期", "channel", "认证方式", "DATA_MATCH (数据比对)"}},
		{"decisions", []string{"effective_month", "生效月份", "action", "处理类型", "note", "备注", "RESTORE 恢复"}},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"import", tc.kind}, &out, &errOut, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "accepts 1 arg") {
			t.Errorf("import %s without a file: %v", tc.kind, err)
		}
		out.Reset()
		if err := run(context.Background(), []string{"import", tc.kind, "--help"}, &out, &errOut, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("import %s --help does not mention %q:\n%s", tc.kind, w, out.String())
			}
		}
	}
}

func TestDefaultBatchID(t *testing.T) {
	mtime := time.Date(2026, 5, 31, 8, 0, 0, 0, time.UTC)
	a := defaultBatchID("/data/沈阳 2026-05 养老金.csv", 1234, mtime)
	if err := checkBatchID(a); err != nil {
		t.Errorf("default batch id %q is not valid: %v", a, err)
	}
	if !strings.HasPrefix(a, "2026-05-") {
		t.Errorf("default batch id %q does not keep the name's safe characters", a)
	}
	if b := defaultBatchID("/data/沈阳 2026-05 养老金.csv", 1234, mtime); b != a {
		t.Errorf("same file, different batch ids: %q, %q", a, b)
	}
	if b := defaultBatchID("/data/沈阳 2026-05 养老金.csv", 1235, mtime); b == a {
		t.Error("a changed file keeps its batch id")
	}
	long := defaultBatchID(strings.Repeat("x", 200)+".csv", 1, mtime)
	if err := checkBatchID(long); err != nil {
		t.Errorf("long name: %q: %v", long, err)
	}
}
