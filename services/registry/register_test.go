package registry

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

var updateGolden = flag.Bool("update", false, "rewrite services/registry/testdata/exports/*.csv from what the exports write")

// exported is a whole export as a client reads it.
type exported struct {
	header *pb.ExportRegisterResponse
	data   []byte
	chunks int
}

// exportOnce reads a whole export: its first message and the file's
// bytes, refusing a chunk over the bound.
func exportOnce(ctx context.Context, c pb.RegistryServiceClient, req *pb.ExportRegisterRequest, o ...grpc.CallOption) (*exported, error) {
	stream, err := c.ExportRegister(ctx, req, o...)
	if err != nil {
		return nil, err
	}
	first, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	out := &exported{header: first}
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if int64(len(out.data)) != first.Size {
				return nil, errors.New("the chunks do not add up to the size the first message gave")
			}
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m.Data) == 0 || len(m.Data) > exportChunkSize || m.FileName != "" {
			return nil, errors.New("a data chunk that is empty, over 64 KiB or carries a header")
		}
		out.data = append(out.data, m.Data...)
		out.chunks++
	}
}

// transferDirect moves retiree id to community to at once, as admin may.
func transferDirect(s *Store, id, to, reason string, actor Actor) (*pb.Retiree, error) {
	r, _, err := s.TransferRetiree(TransferRequest{RetireeID: id, To: to, Reason: reason, Direct: true}, actor, allow)
	return r, err
}

// registerFixture fills a served store with the retirees the register
// tests export: in communityA three living (one aged over 80 with flags),
// one who died this month, one transferred in from communityB; one
// transferred out to communityC, one moved out of the city, one whose
// transfer to communityB is still proposed, one lost contact with; and
// one living in communityB. Numbers from 9000 on are men's.
func registerFixture(t *testing.T, s *Store) map[string]*pb.Retiree {
	t.Helper()
	actor := Actor{Subject: "clerk-a", Role: "clerk"}
	make := func(n int, name, community string, mode pb.ManagementMode, flags ...pb.RetireeFlag) *pb.Retiree {
		r := newRetiree(t, n, community, mode)
		r.Name = name
		r.Flags = flags
		return mustCreate(t, s, r)
	}
	out := map[string]*pb.Retiree{
		"wang":  make(1, "王秀英", communityA, pb.ManagementMode_COMMUNITY, pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_HARDSHIP),
		"li":    make(14000, "李建国", communityA, pb.ManagementMode_BUREAU, pb.RetireeFlag_MODEL_WORKER),
		"zhang": make(6000, "张桂兰", communityA, pb.ManagementMode_ENTERPRISE),
		"zhao":  make(16000, "赵德明", communityA, pb.ManagementMode_COMMUNITY),
		"sun":   make(7100, "孙立华", communityB, pb.ManagementMode_COMMUNITY, pb.RetireeFlag_SERIOUS_ILLNESS),
		"zhou":  make(7200, "周玉珍", communityA, pb.ManagementMode_COMMUNITY),
		"wu":    make(16300, "吴国庆", communityB, pb.ManagementMode_COMMUNITY),
		"zheng": make(16400, "郑海涛", communityA, pb.ManagementMode_COMMUNITY),
		"qian":  make(7400, "钱淑芬", communityA, pb.ManagementMode_COMMUNITY),
		"feng":  make(16500, "冯建军", communityA, pb.ManagementMode_COMMUNITY),
	}
	// Living elsewhere: the roster shows where.
	away := RetireePatch{Paths: []string{"residence"}, Values: &pb.Retiree{Residence: &pb.Residence{Kind: pb.Residence_OTHER_PROVINCE, Address: "海南省三亚市吉阳区", DivisionCode: "460204"}}}
	if _, err := s.UpdateRetiree(out["qian"].Id, away, actor, allow); err != nil {
		t.Fatal(err)
	}
	// A status change with its effective date and reason: still on the
	// roster, listed in the month's status changes.
	lost := StatusChange{Status: pb.RetireeStatus_LOST_CONTACT, EffectiveOn: "2026-06-01", Reason: "电话停机，上门无人"}
	if _, err := s.ChangeRetireeStatus(out["feng"].Id, lost, actor, allow); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RecordDeath(out["zhao"].Id, "2026-06-10", "", pb.DeathReportSource_BUREAU_MATCH, actor, allow); err != nil {
		t.Fatal(err)
	}
	if _, err := transferDirect(s, out["sun"].Id, communityA, "随子女居住", actor); err != nil {
		t.Fatal(err)
	}
	if _, err := transferDirect(s, out["zhou"].Id, communityC, "搬迁", actor); err != nil {
		t.Fatal(err)
	}
	// A move out of the city is listed with where the retiree went; a
	// proposal still pending moves no one and is listed nowhere.
	moveOut := TransferRequest{RetireeID: out["zheng"].Id, Reason: "随子女迁居", Destination: &pb.TransferDestination{Description: "北京市朝阳区", DivisionCode: "110105"}}
	if _, _, err := s.TransferRetiree(moveOut, actor, allow); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TransferRetiree(TransferRequest{RetireeID: out["qian"].Id, To: communityB, Reason: "投靠亲属"}, actor, allow); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExportRegisterGolden exports every register of communityA as CSV
// and as XLSX, compares the CSV with its golden file byte for byte, and
// reads the XLSX back with excelize to compare its cells with the CSV's.
func TestExportRegisterGolden(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	registerFixture(t, s)
	for _, register := range registers {
		t.Run(register, func(t *testing.T) {
			req := &pb.ExportRegisterRequest{Register: register, CommunityId: communityA}
			got, err := exportOnce(h.as(clerkP), h.client, req)
			if err != nil {
				t.Fatal(err)
			}
			if got.header.ContentType != contentTypeCSV || got.header.FileName != register+"-"+communityA+"-2026-06-15.csv" {
				t.Errorf("header %v", got.header)
			}
			if !bytes.HasPrefix(got.data, []byte(utf8BOM)) {
				t.Error("the CSV does not start with a byte-order mark")
			}
			golden := filepath.Join("testdata", "exports", register+".csv")
			if *updateGolden {
				if err := os.WriteFile(golden, got.data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got.data)); diff != "" {
				t.Errorf("CSV (-golden +got):\n%s", diff)
			}
			wantCells := readCSV(t, want)
			if int(got.header.Rows) != len(wantCells)-1 {
				t.Errorf("header says %d rows, the file has %d", got.header.Rows, len(wantCells)-1)
			}

			req.Format = formatXLSX
			x, err := exportOnce(h.as(clerkP), h.client, req)
			if err != nil {
				t.Fatal(err)
			}
			if x.header.ContentType != contentTypeXLSX || !strings.HasSuffix(x.header.FileName, ".xlsx") {
				t.Errorf("header %v", x.header)
			}
			if diff := cmp.Diff(wantCells, readXLSX(t, x.data, sheetNames[register], len(wantCells[0]))); diff != "" {
				t.Errorf("XLSX cells (-golden CSV +xlsx):\n%s", diff)
			}
		})
	}
}

func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte(utf8BOM)))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// readXLSX reads the cells of sheet as Excel shows them, every row
// padded to width (excelize leaves out trailing empty cells).
func readXLSX(t *testing.T, data []byte, sheet string, width int) [][]string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != sheet {
		t.Errorf("sheets %v, want [%s]", got, sheet)
	}
	rows, err := f.GetRows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		for len(rows[i]) < width {
			rows[i] = append(rows[i], "")
		}
	}
	return rows
}

// TestExportRegisterMasking checks who gets full numbers: admin, bureau
// and the community's clerk do, unless they ask for a masked copy.
func TestExportRegisterMasking(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	fx := registerFixture(t, s)
	full := fx["wang"].IdNumber
	masked := idnumber.Mask(full)
	tests := []struct {
		name     string
		p        authn.Principal
		masked   bool
		wantFull bool
	}{
		{"admin", adminP, false, true},
		{"bureau", bureauP, false, true},
		{"the community's clerk", clerkP, false, true},
		{"the clerk's copy to hand on", clerkP, true, false},
		{"bureau's copy to hand on", bureauP, true, false},
		{"the street office", servicetest.Street("street-1", servicetest.StreetAB), false, false},
		{"the district", servicetest.District("district-1", servicetest.DistrictAB), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, register := range []string{registerRoster, registerSpecialGroups, registerAdditionsRemovals} {
				got, err := exportOnce(h.as(tc.p), h.client, &pb.ExportRegisterRequest{Register: register, CommunityId: communityA, Masked: tc.masked})
				if err != nil {
					t.Fatal(err)
				}
				text := string(got.data)
				hasFull, hasMasked := strings.Contains(text, full), strings.Contains(text, masked)
				if hasFull != tc.wantFull || hasMasked == tc.wantFull {
					t.Errorf("%s: full number %v, masked %v; want full %v", register, hasFull, hasMasked, tc.wantFull)
				}
				if register == registerRoster && strings.Contains(text, fx["wang"].Phone) != tc.wantFull {
					t.Errorf("roster: full phone shown %v, want %v", !tc.wantFull, tc.wantFull)
				}
			}
		})
	}
}

// TestExportRegisterAudit checks that an export is audited as one read of
// every retiree it lists, and of no other.
func TestExportRegisterAudit(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	fx := registerFixture(t, s)
	if _, err := exportOnce(h.as(clerkP), h.client, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityA}); err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{"wang": true, "li": true, "zhang": true, "sun": true, "qian": true, "feng": true}
	for key, r := range fx {
		entries, _, err := s.ListAudit(r.Id, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.Action == "ExportRegister" {
				n++
				if e.Subject != clerkP.Subject || e.Role != "clerk" {
					t.Errorf("%s: audit entry by %s/%s", key, e.Subject, e.Role)
				}
			}
		}
		if want := map[bool]int{true: 1, false: 0}[listed[key]]; n != want {
			t.Errorf("%s: %d export audit entries, want %d", key, n, want)
		}
	}
}

// TestExportRegisterRefusals checks the refusals of bad requests, which
// export nothing and audit nothing.
func TestExportRegisterRefusals(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	fx := registerFixture(t, s)
	tests := []struct {
		name  string
		p     authn.Principal
		req   *pb.ExportRegisterRequest
		code  codes.Code
		field string
	}{
		{"unknown register", clerkP, &pb.ExportRegisterRequest{Register: "payroll", CommunityId: communityA}, codes.InvalidArgument, "register"},
		{"no community", clerkP, &pb.ExportRegisterRequest{Register: registerRoster}, codes.InvalidArgument, "communityId"},
		{"bad format", clerkP, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityA, Format: "pdf"}, codes.InvalidArgument, "format"},
		{"asOf not a date", clerkP, &pb.ExportRegisterRequest{Register: registerTransfers, CommunityId: communityA, AsOf: "2026-06"}, codes.InvalidArgument, "asOf"},
		{"asOf in the future", clerkP, &pb.ExportRegisterRequest{Register: registerTransfers, CommunityId: communityA, AsOf: "2026-06-16"}, codes.InvalidArgument, "asOf"},
		{"another community's clerk", clerkP, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityB}, codes.PermissionDenied, ""},
		{"a community that does not exist, to a clerk", clerkP, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: unknownCommunity}, codes.PermissionDenied, ""},
		{"a community that does not exist, to the bureau", bureauP, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: unknownCommunity}, codes.NotFound, ""},
		{"an enterprise", enterpriseP, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityA}, codes.PermissionDenied, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := exportOnce(h.as(tc.p), h.client, tc.req)
			st := wantStatus(t, err, tc.code, fx["wang"].IdNumber)
			if tc.field != "" {
				if diff := cmp.Diff([]string{tc.field}, badFields(st)); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
			}
		})
	}
	entries, _, err := s.ListAudit(fx["wang"].Id, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == "ExportRegister" {
			t.Errorf("a refused export was audited: %v", e)
		}
	}
}

// TestExportRegisterTooLarge checks that a register over the row limit
// is refused whole, with a reason, rather than cut short.
func TestExportRegisterTooLarge(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	registerFixture(t, s)
	s.maxExportRows = 2
	for _, register := range []string{registerRoster, registerSpecialGroups, registerAdditionsRemovals} {
		_, err := exportOnce(h.as(clerkP), h.client, &pb.ExportRegisterRequest{Register: register, CommunityId: communityA})
		wantReason(t, err, codes.FailedPrecondition, ReasonExportTooLarge)
	}
	s.maxExportRows = 20
	if _, err := exportOnce(h.as(clerkP), h.client, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityA}); err != nil {
		t.Errorf("within the limit: %v", err)
	}
}

// TestExportRegisterChunks checks that a file over 64 KiB comes in
// chunks that put it back together.
func TestExportRegisterChunks(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	createMany(t, s, retirees(t, 100, 900, communityA, pb.ManagementMode_COMMUNITY))
	got, err := exportOnce(h.as(bureauP), h.client, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityA})
	if err != nil {
		t.Fatal(err)
	}
	if got.chunks < 2 || got.header.Rows != 800 || len(readCSV(t, got.data)) != 801 {
		t.Errorf("%d bytes in %d chunks, %d rows", len(got.data), got.chunks, got.header.Rows)
	}
}

// FuzzExportCSV checks that whatever text a register's cell holds, the
// CSV reads back as the same cells (line breaks as LF, a formula's first
// character defused).
func FuzzExportCSV(f *testing.F) {
	for _, seed := range []string{"王秀英", "", "=1+2", "a,b", "line\r\nbreak", "\"quoted\"", "-5", "@SUM(A1)", "\t"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, cell string) {
		if !utf8.ValidString(cell) {
			t.Skip("register cells are UTF-8 text")
		}
		data, err := encodeCSV(&Table{Headings: []string{"姓名", "原因"}, Rows: [][]string{{cell, "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte(utf8BOM)))).ReadAll()
		if err != nil {
			t.Fatalf("the CSV does not read back: %v", err)
		}
		want := csvCell(cell)
		if len(rows) != 2 || len(rows[1]) != 2 || rows[1][0] != want || rows[1][1] != "x" {
			t.Fatalf("cell %q read back as %q", cell, rows)
		}
		if got := rows[1][0]; got != "" && strings.ContainsRune("=+-@\t", rune(got[0])) {
			t.Errorf("cell %q reads back as %q, which a spreadsheet takes for a formula", cell, got)
		}
	})
}

// TestRegisterIndexBackfilled empties the monthly registers' index and
// marks it to be filled, as the migration of a file from an older build
// does, and checks that the filling, in small steps, gives the same
// registers as the index written with the changes; and that a store
// reopened on the file finds nothing more to do.
func TestRegisterIndexBackfilled(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	s := openStoreAt(t, path, 0)
	seedRefs(t, s)
	registerFixture(t, s)
	registersOf := func() map[string]*Table {
		out := map[string]*Table{}
		for _, register := range []string{registerStatusChanges, registerTransfers, registerAdditionsRemovals} {
			for _, community := range []string{communityA, communityB, communityC} {
				tb, err := s.Register(RegisterQuery{Register: register, Community: community, AsOf: testNow, Full: true})
				if err != nil {
					t.Fatal(err)
				}
				out[register+"/"+community] = tb
			}
		}
		return out
	}
	before := registersOf()
	if len(before[registerAdditionsRemovals+"/"+communityA].Rows) == 0 {
		t.Fatal("the fixture lists nothing")
	}
	err := s.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketRegisterEvents); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketRegisterEvents); err != nil {
			return err
		}
		return markRegisterBackfill(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.backfillBatch = 2
	if err := s.backfillRegisterEvents(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, registersOf(), cmp.AllowUnexported(Table{})); diff != "" {
		t.Errorf("registers from the filled index (-written +filled):\n%s", diff)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStoreAt(t, path, 0)
	defer s.Close()
	err = s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(metaRegisterBackfill) != nil {
			return errors.New("the filling is still marked to do")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestLinesOf checks what each kind of history entry means for the
// monthly registers of a community, read from the fields it changed.
func TestLinesOf(t *testing.T) {
	change := func(field, from, to string) *pb.FieldChange {
		return &pb.FieldChange{Field: field, OldValue: from, NewValue: to}
	}
	tests := []struct {
		name string
		h    *pb.HistoryEntry
		want []registerLine
	}{
		{"created", &pb.HistoryEntry{Kind: pb.ChangeKind_CREATED, Changes: []*pb.FieldChange{change("communityId", "", communityA)}},
			[]registerLine{{category: categoryAdded}}},
		{"first entry of another kind (a bulk import)", &pb.HistoryEntry{Kind: pb.ChangeKind(13), Changes: []*pb.FieldChange{change("name", "", "王"), change("communityId", "", communityA)}},
			[]registerLine{{category: categoryAdded}}},
		{"died", &pb.HistoryEntry{Kind: pb.ChangeKind_DIED, Changes: []*pb.FieldChange{change("status", "LIVING", "DECEASED"), change("dateOfDeath", "", "2026-06-01")}},
			[]registerLine{{category: categoryDied, from: "LIVING", to: "DECEASED", effective: "2026-06-01"}}},
		{"status changed", &pb.HistoryEntry{Kind: pb.ChangeKind_STATUS_CHANGED, Changes: []*pb.FieldChange{change("status", "LIVING", "ABROAD"), change("statusEffectiveOn", "", "2026-05-20")}},
			[]registerLine{{category: categoryStatus, from: "LIVING", to: "ABROAD", effective: "2026-05-20"}}},
		{"transferred out", &pb.HistoryEntry{Kind: pb.ChangeKind_TRANSFERRED, Changes: []*pb.FieldChange{change("communityId", communityA, communityB)}},
			[]registerLine{{category: categoryTransferOut, from: communityA, to: communityB}}},
		{"transferred in", &pb.HistoryEntry{Kind: pb.ChangeKind_TRANSFERRED, Changes: []*pb.FieldChange{change("communityId", communityC, communityA)}},
			[]registerLine{{category: categoryTransferIn, from: communityC, to: communityA}}},
		{"moved out of the city", &pb.HistoryEntry{Kind: pb.ChangeKind_MOVED_OUT_OF_CITY, Changes: []*pb.FieldChange{change("status", "LIVING", "MOVED_OUT"), change("movedOutTo", "", "北京市 (110000)"), change("movedOutDate", "", "2026-06-03")}},
			[]registerLine{{category: categoryMovedOut, from: "LIVING", to: "MOVED_OUT", effective: "2026-06-03", destination: "北京市 (110000)"}}},
		{"a proposal, which changes nothing", &pb.HistoryEntry{Kind: pb.ChangeKind_TRANSFER_PROPOSED}, nil},
		{"an update of the phone", &pb.HistoryEntry{Kind: pb.ChangeKind_UPDATED, Changes: []*pb.FieldChange{change("phone", "138****5678", "139****1111")}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, linesOf(tc.h, communityA), cmp.AllowUnexported(registerLine{})); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

// TestImportedRetireesInRegisters imports a roster and checks that its
// retirees are the month's additions, on the roster and counted in the
// socialisation report, as retirees created one by one are.
func TestImportedRetireesInRegisters(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	records := []*pb.RetireeRecord{
		{Index: 1, Retiree: newRetiree(t, 21, communityC, pb.ManagementMode_COMMUNITY)},
		{Index: 2, Retiree: newRetiree(t, 22, communityC, pb.ManagementMode_BUREAU)},
	}
	if res := importRoster(h.as(bureauP), h.client, "registers-1", records); res.err != nil || len(res.rejections()) != 0 {
		t.Fatalf("import: %v, rejections %v", res.err, res.rejections())
	}
	for register, want := range map[string]int{registerAdditionsRemovals: 2, registerRoster: 2} {
		got, err := exportOnce(h.as(bureauP), h.client, &pb.ExportRegisterRequest{Register: register, CommunityId: communityC})
		if err != nil {
			t.Fatal(err)
		}
		if got.header.Rows != int64(want) {
			t.Errorf("%s lists %d rows, want %d", register, got.header.Rows, want)
		}
	}
	resp, err := h.client.GetSocialisationReport(h.as(bureauP), &pb.GetSocialisationReportRequest{AsOf: "2026-06-15"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Total.Living != 2 || resp.Total.Rate != 1 || resp.Total.CommunityRate != 0.5 {
		t.Errorf("report total %v", resp.Total)
	}
}
