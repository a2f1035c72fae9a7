package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
	"go.uber.org/zap"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

// rosterTestRows are a roster as a Chinese office keeps it: a title row,
// a Chinese header with a column the importer skips (序号), Chinese
// values and an address with a comma.
func rosterTestRows() [][]string {
	id := func(n int) string { return servicetest.IDNumber(n).Digits() }
	return [][]string{
		{"2026年 和平区退休人员花名册"},
		{"序号", "身份证号", "姓名", "退休日期", "统一社会信用代码", "社区代码", "管理方式", "联系电话", "居住地址", "特殊群体"},
		{"1", id(1), "张三", "2001-03-01", servicetest.EnterpriseX, servicetest.CommunityA, "企业管理", "13812345678", "和平区北市场街1号", "独居、困难"},
		{"2", id(2), "李四", "2002-04-01", "", servicetest.CommunityA, "社区管理", "", "和平区北市场街2号，3单元", ""},
		{"3", id(3), "王五", "", servicetest.EnterpriseY, servicetest.CommunityB, "COMMUNITY", "024-23456789", "", "MODEL_WORKER"},
		{"4", id(4), "赵六", "2004-06-01", "", servicetest.CommunityB, "经办机构管理", "", "", ""},
		{"5", id(5), "钱七", "2005-07-01", "", servicetest.CommunityA, "社区管理", "", "", "大病"},
	}
}

// startRegistry serves a real registry store with the fixture
// communities and enterprises on a loopback port, trusting a new signing
// key, and returns its address, the key's file and the store.
func startRegistry(t *testing.T) (addr, keyFile string, store *registry.Store) {
	t.Helper()
	keyer, err := idnumber.NewKeyer(servicetest.IDKey)
	if err != nil {
		t.Fatal(err)
	}
	store, err = registry.OpenStore(filepath.Join(t.TempDir(), "registry.db"), keyer, registry.StoreOptions{
		Logger: zap.NewNop(), DurableReads: true,
		Checkpoints: audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	servicetest.CreateFixtures(t, store)
	keyFile, pub := newKeyFile(t)
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "registry", Keys: servicetest.Keys{Public: pub}, TCP: true,
		Register: func(srv *grpcserver.Server) {
			registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.NewServer(store, registry.ServerOptions{Stopping: srv.Stopping()}))
		},
	})
	return srv.Addr(), keyFile, store
}

// storedRoster returns the retirees of the roster's ID numbers as stored,
// without what the store assigns.
func storedRoster(t *testing.T, store *registry.Store) []*registryv1.Retiree {
	t.Helper()
	var out []*registryv1.Retiree
	for n := 1; n <= 5; n++ {
		r, err := store.LookupRetiree(servicetest.IDNumber(n))
		if err != nil {
			t.Fatalf("retiree %d: %v", n, err)
		}
		r.Id, r.Etag, r.CreateTime, r.UpdateTime = "", "", nil, nil
		out = append(out, r)
	}
	return out
}

// TestImportRetireesFromEveryFormat imports the same roster from UTF-8 CSV
// with a BOM, GBK CSV with CRLF as Chinese Excel saves it, and a workbook
// into a real registry: the first import creates the five retirees, and
// each later one finds every record identical to what is stored.
func TestImportRetireesFromEveryFormat(t *testing.T) {
	t.Parallel()
	addr, keyFile, store := startRegistry(t)
	dir := t.TempDir()
	rows := rosterTestRows()
	files := map[string][]byte{
		"roster-utf8.csv": append([]byte("\uFEFF"), csvBytes(t, rows, false)...),
		"roster-gbk.csv":  gbk(t, csvBytes(t, rows, true)),
	}
	for name, data := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	writeRosterXLSX(t, filepath.Join(dir, "roster.xlsx"), rows)

	var first []*registryv1.Retiree
	for i, tc := range []struct{ file, read, summary string }{
		{"roster-utf8.csv", "CSV in utf-8 (detected", "new retirees 5"},
		{"roster-gbk.csv", "CSV in gb18030 (detected", "duplicates (unchanged) 5 updated 0"},
		{"roster.xlsx", "the first sheet of an Excel workbook, 5 records", "duplicates (unchanged) 5 updated 0"},
	} {
		cfg := importCfg(addr, keyFile, filepath.Join(dir, tc.file))
		var out, progress bytes.Buffer
		if err := runImport(t.Context(), retireesImport, cfg, &out, &progress); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", tc.file, err, out.String(), progress.String())
		}
		for _, want := range []string{tc.read, "not imported: the columns 序号"} {
			if !strings.Contains(progress.String(), want) {
				t.Errorf("%s: progress does not say %q:\n%s", tc.file, want, progress.String())
			}
		}
		if !strings.Contains(strings.Join(strings.Fields(out.String()), " "), tc.summary) {
			t.Errorf("%s: the summary does not say %q:\n%s", tc.file, tc.summary, out.String())
		}
		checkNoIDNumbers(t, out.String()+progress.String())
		got := storedRoster(t, store)
		if i == 0 {
			first = got
			continue
		}
		if diff := cmp.Diff(first, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s changed the roster (-first +now):\n%s", tc.file, diff)
		}
	}
	want := &registryv1.Retiree{
		IdNumber: servicetest.IDNumber(1).Digits(), Name: "张三", Sex: first[0].Sex, BirthDate: first[0].BirthDate,
		RetirementDate: "2001-03-01", EnterpriseCreditCode: servicetest.EnterpriseX, CommunityId: servicetest.CommunityA,
		ManagementMode: registryv1.ManagementMode_ENTERPRISE, Status: registryv1.RetireeStatus_LIVING, Phone: "13812345678",
		ResidenceAddress: "和平区北市场街1号", Residence: &registryv1.Residence{Address: "和平区北市场街1号"}, Flags: []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_HARDSHIP},
	}
	if diff := cmp.Diff(want, first[0], protocmp.Transform()); diff != "" {
		t.Errorf("first retiree (-want +got):\n%s", diff)
	}
	if first[1].ResidenceAddress != "和平区北市场街2号，3单元" || first[3].ManagementMode != registryv1.ManagementMode_BUREAU {
		t.Errorf("stored roster: %v", first)
	}
}

// TestImportRetireesRejectedRows: rows the importer cannot read and rows
// the registry refuses go to the rejected-rows file with their reasons;
// the others are imported, and the command exits with an error.
func TestImportRetireesRejectedRows(t *testing.T) {
	t.Parallel()
	addr, keyFile, store := startRegistry(t)
	id := func(n int) string { return servicetest.IDNumber(n).Digits() }
	rows := [][]string{
		{"idNumber", "name", "communityId", "managementMode", "retirementDate", "phone", "flags"},
		{id(1), "张三", servicetest.CommunityA, "社区管理", "2001-03-01", "", ""},
		{"2.10102E+17", "李四", servicetest.CommunityA, "社区管理", "", "", ""},
		{id(3), "王五", "2.10102E+11", "社区管理", "", "", ""},
		{id(4), "赵六", servicetest.CommunityA, "自管", "", "", ""},
		{id(5), "钱七", servicetest.CommunityA, "社区管理", "2001/3/1", "", ""},
		{id(6), "孙八", servicetest.CommunityA, "社区管理", "", "", "独居、长寿"},
		{id(7), "周九", "210199999999", "社区管理", "", "", ""},
		{id(8), "", servicetest.CommunityA, "社区管理", "", "", ""},
	}
	file := filepath.Join(t.TempDir(), "roster.csv")
	must(t, os.WriteFile(file, csvBytes(t, rows, false), 0o600))
	var out, progress bytes.Buffer
	err := runImport(t.Context(), retireesImport, importCfg(addr, keyFile, file), &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "7 of 8 rows") {
		t.Fatalf("runImport: %v, want 7 of 8 rows rejected\n%s", err, out.String())
	}
	want := []string{
		"2 3 ID_NUMBER_AS_NUMBER", "3 4 CODE_AS_NUMBER", "4 5 MANAGEMENT_MODE_INVALID", "5 6 DATE_NOT_ISO",
		"6 7 FLAGS_INVALID", "7 8 COMMUNITY_UNKNOWN", "8 9 NAME_INVALID",
	}
	if diff := cmp.Diff(want, rejectedSummary(t, rejectedFileName(file))); diff != "" {
		t.Errorf("rejected rows (-want +got):\n%s", diff)
	}
	if _, err := store.LookupRetiree(servicetest.IDNumber(1)); err != nil {
		t.Errorf("the good row was not imported: %v", err)
	}
}

// TestParseRetireeRow checks how cells become a record.
func TestParseRetireeRow(t *testing.T) {
	t.Parallel()
	values := func(change func(v []string)) []string {
		v := []string{servicetest.IDNumber(1).Digits(), "张三", "女", "2001-03-01", "91210102ma0xxxxxx0", servicetest.CommunityA, "企业", "13812345678", "地址", "独居; hardship ,劳模"}
		if change != nil {
			change(v)
		}
		return v
	}
	r, rj := parseRetireeRow(7, values(nil))
	if rj != nil {
		t.Fatal(rj.message)
	}
	want := &registryv1.RetireeRecord{Index: 7, Retiree: &registryv1.Retiree{
		IdNumber: servicetest.IDNumber(1).Digits(), Name: "张三", Sex: registryv1.Sex_FEMALE, RetirementDate: "2001-03-01",
		EnterpriseCreditCode: "91210102MA0XXXXXX0", CommunityId: servicetest.CommunityA, ManagementMode: registryv1.ManagementMode_ENTERPRISE,
		Phone: "13812345678", ResidenceAddress: "地址",
		Flags: []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_HARDSHIP, registryv1.RetireeFlag_MODEL_WORKER},
	}}
	if diff := cmp.Diff(want, r, protocmp.Transform()); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name   string
		change func(v []string)
		code   string
	}{
		{"sex", func(v []string) { v[retSex] = "M" }, reasonSexInvalid},
		{"mode", func(v []string) { v[retMode] = "" }, ""},
		{"mode unknown", func(v []string) { v[retMode] = "自管" }, reasonModeInvalid},
		{"phone as number", func(v []string) { v[retPhone] = "1.38123E+10" }, reasonCodeAsNumber},
		{"retirement date as serial", func(v []string) { v[retRetired] = "36951" }, reasonDateAsNumber},
		{"flag unknown", func(v []string) { v[retFlags] = "独居 长寿" }, reasonFlagsInvalid},
		{"flag computed", func(v []string) { v[retFlags] = "AGED_80_PLUS" }, reasonFlagsInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rj := parseRetireeRow(1, values(tc.change))
			got := ""
			if rj != nil {
				got = rj.code
				if strings.Contains(rj.message, servicetest.IDNumber(1).Digits()) {
					t.Errorf("the message shows the ID number: %s", rj.message)
				}
			}
			if got != tc.code {
				t.Errorf("code %q, want %q", got, tc.code)
			}
		})
	}
}

// FuzzParseRetireeRow: any cells give a record or a rejection with a
// code and a message, never both, never a panic.
func FuzzParseRetireeRow(f *testing.F) {
	f.Add(servicetest.IDNumber(1).Digits(), "张三", "男", "2001-03-01", "", servicetest.CommunityA, "社区", "13812345678", "", "独居")
	f.Add("1.10105E+17", "", "X", "2001/3/1", "x", "2.1E+11", "?", "1E+10", "\n", ",,、;")
	f.Fuzz(func(t *testing.T, id, name, sex, retired, credit, community, mode, phone, address, flags string) {
		r, rj := parseRetireeRow(1, []string{id, name, sex, retired, credit, community, mode, phone, address, flags})
		if (r == nil) == (rj == nil) {
			t.Fatalf("record %v and rejection %v", r, rj)
		}
		if rj != nil && (rj.code == "" || rj.message == "") {
			t.Fatalf("rejection without code or message: %+v", rj)
		}
	})
}

// writeRosterXLSX writes rows as text cells into the first sheet of a new
// workbook, as a clerk's sheet with its columns formatted as Text is.
func writeRosterXLSX(t *testing.T, path string, rows [][]string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, c := range r {
			cells[j] = c
		}
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		must(t, err)
		must(t, f.SetSheetRow("Sheet1", cell, &cells))
	}
	must(t, f.SaveAs(path))
}
