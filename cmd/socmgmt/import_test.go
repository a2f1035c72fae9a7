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

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// fakePension answers ImportPayments like the pension service, with a
// group of ackEvery records per acknowledgement: it rejects months it
// cannot read, and can drop a stream after dropAfter records.
type fakePension struct {
	pensionv1.UnimplementedPensionServiceServer

	ackEvery int
	// dropAfter, when positive, ends each of the first drops streams
	// with Unavailable after that many records, acknowledging all but the
	// last of them.
	dropAfter, drops int

	mu      sync.Mutex
	stored  map[int64]*pensionv1.PaymentRecord
	starts  []int64 // first record index of each stream
	batches []string
	roles   []authn.Role
}

func newFakePension() *fakePension {
	return &fakePension{ackEvery: 3, stored: map[int64]*pensionv1.PaymentRecord{}}
}

func (f *fakePension) ImportPayments(stream grpc.BidiStreamingServer[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse]) error {
	p, _ := authn.FromContext(stream.Context())
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil || h.BatchId == "" {
		return status.Error(codes.InvalidArgument, "header required")
	}
	f.mu.Lock()
	f.batches = append(f.batches, h.BatchId)
	f.roles = append(f.roles, p.Role)
	drop := f.dropAfter > 0 && f.drops > 0
	if drop {
		f.drops--
	}
	f.mu.Unlock()
	sum := &pensionv1.ImportSummary{BatchId: h.BatchId}
	var pending []*pensionv1.RecordRejection
	var prev, n int64
	ack := func() error {
		err := stream.Send(&pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Ack{Ack: &pensionv1.ImportAck{DurableThroughIndex: prev, Rejections: pending}}})
		pending = nil
		return err
	}
	err = eachRecord(stream, func(r *pensionv1.PaymentRecord) error {
		if r.Index <= prev {
			return status.Errorf(codes.InvalidArgument, "index %d after %d", r.Index, prev)
		}
		n++
		f.mu.Lock()
		if n == 1 {
			f.starts = append(f.starts, r.Index)
		}
		f.mu.Unlock()
		if drop && n == int64(f.dropAfter) {
			return status.Error(codes.Unavailable, "connection lost")
		}
		prev = r.Index
		sum.Received++
		if len(r.Month) != 7 || r.Month[5:] > "12" {
			pending = append(pending, &pensionv1.RecordRejection{Index: r.Index, Reason: "MONTH_INVALID", Message: "month must be YYYY-MM"})
			sum.Rejected++
		} else {
			f.mu.Lock()
			if _, ok := f.stored[r.Index]; ok {
				sum.Duplicates++
			} else {
				sum.Accepted++
			}
			f.stored[r.Index] = r
			f.mu.Unlock()
		}
		if n%int64(f.ackEvery) == 0 {
			return ack()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := ack(); err != nil {
		return err
	}
	sum.LastIndex = prev
	return stream.Send(&pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Summary{Summary: sum}})
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

// eachRecord calls fn with each record sent on stream, after the header
// the caller has read, until the client closes its side.
func eachRecord(stream grpc.BidiStreamingServer[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse], fn func(*pensionv1.PaymentRecord) error) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(req.GetRecord()); err != nil {
			return err
		}
	}
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

// writeCSV writes a payment file with the header and rows.
func writeCSV(t *testing.T, dir, name, prefix string, rows ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	body := prefix + strings.Join(paymentColumns, ",") + "\r\n" + strings.Join(rows, "\r\n") + "\r\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func importCfg(addr, keyFile, file string) importConfig {
	return importConfig{file: file, pensionAddr: addr, keyFile: keyFile, retryBase: time.Millisecond, retryMax: 5 * time.Millisecond, reachTimeout: 3 * time.Second}
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
	err := runImport(t.Context(), importCfg(addr, keyFile, file), &out, &progress)
	if !errors.Is(err, errRowsRejected) {
		t.Fatalf("runImport: %v, want rows rejected\n%s", err, out.String())
	}
	for _, id := range ids {
		if strings.Contains(out.String()+progress.String()+err.Error(), id) {
			t.Fatalf("the terminal output shows an ID number:\n%s\n%s", out.String(), progress.String())
		}
	}
	f.mu.Lock()
	var got []int64
	for i := range f.stored {
		got = append(got, i)
	}
	slices.Sort(got)
	r9 := f.stored[9]
	roles, batches := f.roles, f.batches
	f.mu.Unlock()
	if diff := cmp.Diff([]int64{1, 2, 3, 5, 7, 9, 10}, got); diff != "" {
		t.Errorf("stored indexes (-want +got):\n%s", diff)
	}
	if r9.GetIdNumber() != ids[8] || r9.GetBasicFen() != 350000 || r9.GetOtherFen() != 0 {
		t.Errorf("row 9 sent as %v", r9)
	}
	if len(roles) != 1 || roles[0] != authn.RoleBureau {
		t.Errorf("imported with roles %v, want one bureau stream", roles)
	}
	if want := defaultBatchIDOf(t, file); batches[0] != want {
		t.Errorf("batch id %q, want %q", batches[0], want)
	}
	rejected := readCSV(t, rejectedFileName(file))
	var summary []string
	for _, r := range rejected[1:] {
		summary = append(summary, r[0]+" "+r[1]+" "+strings.SplitN(r[2], ":", 2)[0])
	}
	slices.Sort(summary)
	if diff := cmp.Diff([]string{"4 5 MONTH_INVALID", "6 7 CSV_INVALID", "8 9 CSV_INVALID"}, summary); diff != "" {
		t.Errorf("rejected rows (-want +got):\n%s", diff)
	}
	if rejected[1][4] == "" || !strings.Contains(strings.Join(rejected[0], ","), "index,line,reason,message,id_number") {
		t.Errorf("rejected file does not keep the rows as given: %q", rejected)
	}
	if !strings.Contains(collapseSpaces(out.String()), "rejected  by  the  service  1") || !strings.Contains(collapseSpaces(out.String()), "unreadable  rows  2") {
		t.Errorf("summary:\n%s", out.String())
	}

	// The same file again is the same batch: nothing new.
	out.Reset()
	err = runImport(t.Context(), importCfg(addr, keyFile, file), &out, &progress)
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

func TestImportPaymentsResumesAfterDrop(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	f.dropAfter, f.drops = 5, 2 // acks 3 of the first 4, then drops
	addr, keyFile := startFakePension(t, f)
	var rows []string
	for n := range 12 {
		rows = append(rows, fmt.Sprintf("%s,2026-01,350000,0,0,0,2026-01-15,6222", csvIDNumber(t, n)))
	}
	file := writeCSV(t, t.TempDir(), "pay.csv", "", rows...)
	var out, progress bytes.Buffer
	if err := runImport(t.Context(), importCfg(addr, keyFile, file), &out, &progress); err != nil {
		t.Fatalf("runImport: %v\n%s", err, out.String())
	}
	f.mu.Lock()
	starts, stored := f.starts, len(f.stored)
	f.mu.Unlock()
	// Each stream resumes after the last acknowledged index: 3, then 6.
	if diff := cmp.Diff([]int64{1, 4, 7}, starts); diff != "" {
		t.Errorf("streams started at (-want +got):\n%s", diff)
	}
	if stored != 12 {
		t.Errorf("%d rows stored, want 12", stored)
	}
	if _, err := os.Stat(rejectedFileName(file)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected-rows file without rejections: %v", err)
	}
	if !strings.Contains(out.String(), "last of 3 connections") {
		t.Errorf("summary does not mention the reconnects:\n%s", out.String())
	}
}

func TestImportPaymentsGivesUp(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	f.dropAfter, f.drops = 1, 100 // never gets a record through
	addr, keyFile := startFakePension(t, f)
	file := writeCSV(t, t.TempDir(), "pay.csv", "", csvIDNumber(t, 1)+",2026-01,1,0,0,0,2026-01-15,6222")
	err := runImport(t.Context(), importCfg(addr, keyFile, file), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Unavailable") {
		t.Fatalf("runImport: %v, want it to give up with Unavailable", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) != importMaxAttempts {
		t.Errorf("%d attempts, want %d", len(f.batches), importMaxAttempts)
	}
}

func TestImportPaymentsRefusals(t *testing.T) {
	t.Parallel()
	f := newFakePension()
	addr, keyFile := startFakePension(t, f)
	dir := t.TempDir()
	good := writeCSV(t, dir, "good.csv", "", csvIDNumber(t, 1)+",2026-01,1,0,0,0,2026-01-15,6222")
	badHeader := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(badHeader, []byte("身份证号,月份\n"+csvIDNumber(t, 1)+",2026-01\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	otherKey, _ := newKeyFile(t)
	for _, tc := range []struct {
		name string
		cfg  importConfig
		want string
	}{
		{"bad header", importCfg(addr, keyFile, badHeader), "the first row must be the header"},
		{"missing file", importCfg(addr, keyFile, filepath.Join(dir, "none.csv")), "no such file"},
		{"bad batch id", func() importConfig { c := importCfg(addr, keyFile, good); c.batchID = "a/b"; return c }(), "--batch-id"},
		{"unreachable", func() importConfig {
			c := importCfg("127.0.0.1:1", keyFile, good)
			c.reachTimeout = 200 * time.Millisecond
			return c
		}(), "pension not reachable at 127.0.0.1:1"},
		{"wrong key", importCfg(addr, otherKey, good), "Unauthenticated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runImport(t.Context(), tc.cfg, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("runImport: %v, want an error about %q", err, tc.want)
			}
			if strings.Contains(err.Error(), csvIDNumber(t, 1)) {
				t.Errorf("error shows an ID number: %v", err)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.stored) != 0 {
		t.Errorf("a refused import stored %d rows", len(f.stored))
	}
}

func TestImportCommandLine(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"import", "payments"}, &out, &errOut, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "accepts 1 arg") {
		t.Errorf("import payments without a file: %v", err)
	}
	err = run(context.Background(), []string{"import", "payments", "--help"}, &out, &errOut, func(string) string { return "" })
	if err != nil || !strings.Contains(out.String(), strings.Join(paymentColumns, ",")) {
		t.Errorf("--help does not document the columns: %v\n%s", err, out.String())
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
