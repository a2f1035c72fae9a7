package registry

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

var allStatuses = []pb.RetireeStatus{
	pb.RetireeStatus_LIVING, pb.RetireeStatus_DECEASED, pb.RetireeStatus_MOVED_OUT,
	pb.RetireeStatus_LOST_CONTACT, pb.RetireeStatus_IMPRISONED, pb.RetireeStatus_ABROAD,
}

// TestStatusTransitions is the state machine of ChangeRetireeStatus as a
// table: every status to every status a request may ask for.
func TestStatusTransitions(t *testing.T) {
	t.Parallel()
	const (
		ok        = ""
		deceased  = reasonDeceased
		movedOut  = reasonMovedOut
		unchanged = reasonStatusUnchanged
	)
	// Columns: to LIVING, LOST_CONTACT, IMPRISONED, ABROAD.
	to := []pb.RetireeStatus{pb.RetireeStatus_LIVING, pb.RetireeStatus_LOST_CONTACT, pb.RetireeStatus_IMPRISONED, pb.RetireeStatus_ABROAD}
	table := map[pb.RetireeStatus][4]string{
		pb.RetireeStatus_LIVING:       {unchanged, ok, ok, ok},
		pb.RetireeStatus_LOST_CONTACT: {ok, unchanged, ok, ok},
		pb.RetireeStatus_IMPRISONED:   {ok, ok, unchanged, ok},
		pb.RetireeStatus_ABROAD:       {ok, ok, ok, unchanged},
		pb.RetireeStatus_DECEASED:     {deceased, deceased, deceased, deceased},
		pb.RetireeStatus_MOVED_OUT:    {movedOut, movedOut, movedOut, movedOut},
	}
	for _, from := range allStatuses {
		for i, target := range to {
			t.Run(from.String()+"→"+target.String(), func(t *testing.T) {
				err := statusTransition(from, target)
				var re *fault.RuleError
				switch want := table[from][i]; {
				case want == ok && err != nil:
					t.Errorf("refused: %v", err)
				case want != ok && !errors.As(err, &re):
					t.Errorf("got %v, want the rule %s", err, want)
				case want != ok && re.Reason != want:
					t.Errorf("reason %s, want %s", re.Reason, want)
				}
			})
		}
	}
	// The statuses set elsewhere are never a target of the request.
	for _, s := range allStatuses {
		want := s != pb.RetireeStatus_DECEASED && s != pb.RetireeStatus_MOVED_OUT
		if settableStatus(s) != want {
			t.Errorf("settableStatus(%s) = %v", s, !want)
		}
	}
}

// TestStoreChangeRetireeStatus checks the dates a change may take effect
// on, what the record, the history and the change log keep, and that a
// death recorded later dates the status too.
func TestStoreChangeRetireeStatus(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)) // retired 2010-01-01
	admin := Actor{Subject: "admin-1", Role: "admin"}
	change := func(status pb.RetireeStatus, on string) error {
		_, err := s.ChangeRetireeStatus(r.Id, StatusChange{Status: status, EffectiveOn: on, Reason: "核实"}, admin, guard(&adminP))
		return err
	}
	for _, tc := range []struct {
		status pb.RetireeStatus
		on     string
		field  string // the refused field, "" when accepted
	}{
		{pb.RetireeStatus_LOST_CONTACT, "2009-12-31", "effectiveOn"}, // before retirement
		{pb.RetireeStatus_LOST_CONTACT, "2020-03-01", ""},
		{pb.RetireeStatus_ABROAD, "2020-02-29", "effectiveOn"}, // before the current status
		{pb.RetireeStatus_ABROAD, "2020-03-01", ""},            // the same day is in order
		{pb.RetireeStatus_LIVING, "2024-05-06", ""},
	} {
		err := change(tc.status, tc.on)
		var ve *fault.ValidationError
		switch {
		case tc.field == "" && err != nil:
			t.Fatalf("%s on %s: %v", tc.status, tc.on, err)
		case tc.field != "" && (!errors.As(err, &ve) || ve.Fields[0].Field != tc.field):
			t.Fatalf("%s on %s: %v, want a violation of %s", tc.status, tc.on, err, tc.field)
		}
	}
	got, err := s.GetRetiree(r.Id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != pb.RetireeStatus_LIVING || got.StatusEffectiveOn != "2024-05-06" || got.StatusReason != "核实" {
		t.Errorf("after the changes: status %s on %q because %q", got.Status, got.StatusEffectiveOn, got.StatusReason)
	}
	hist, _, err := s.ListHistory(r.Id, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := hist[len(hist)-1]
	want := []*pb.FieldChange{
		{Field: "status", OldValue: "ABROAD", NewValue: "LIVING"},
		{Field: "statusEffectiveOn", OldValue: "2020-03-01", NewValue: "2024-05-06"},
	}
	if last.Kind != pb.ChangeKind_STATUS_CHANGED || last.Reason != "核实" || !cmp.Equal(last.Changes, want, cmpProto) {
		t.Errorf("history entry %v", last)
	}
	changes, _, _, err := s.ReadChanges(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	feed := changes[len(changes)-1]
	if feed.Kind != pb.ChangeKind_STATUS_CHANGED || feed.Retiree.Status != pb.RetireeStatus_LIVING || feed.Retiree.StatusEffectiveOn != "2024-05-06" {
		t.Errorf("change log entry %v", feed)
	}

	if _, _, err := s.RecordDeath(r.Id, "2026-01-02", "", pb.DeathReportSource_BUREAU_MATCH, admin, guard(&adminP)); err != nil {
		t.Fatal(err)
	}
	var re *fault.RuleError
	if err := change(pb.RetireeStatus_LIVING, "2026-01-03"); !errors.As(err, &re) || re.Reason != reasonDeceased {
		t.Errorf("change of a deceased retiree: %v", err)
	}
	if got, _ := s.GetRetiree(r.Id); got.StatusEffectiveOn != "2026-01-02" || got.StatusReason != "" {
		t.Errorf("after the death: status on %q because %q", got.StatusEffectiveOn, got.StatusReason)
	}
}

// cmpProto compares protobuf messages in cmp.Equal.
var cmpProto = cmp.Comparer(proto.Equal)

// TestComputedFlags checks the age arithmetic of the computed flags,
// birthdays on 29 February included.
func TestComputedFlags(t *testing.T) {
	t.Parallel()
	day := func(s string) time.Time { return mustDate(t, s) }
	for _, tc := range []struct {
		birth, today string
		want         []pb.RetireeFlag
	}{
		{"1946-06-15", "2026-06-14", nil},
		{"1946-06-15", "2026-06-15", []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS}},
		{"1936-06-15", "2026-06-15", []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS, pb.RetireeFlag_AGED_90_PLUS}},
		// Born on 29 February: a year older on 1 March in other years.
		{"1944-02-29", "2024-02-28", nil},
		{"1944-02-29", "2024-02-29", []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS}},
		{"1944-02-29", "2025-02-28", []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS}},
		{"1945-02-28", "2025-02-28", []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS}},
		{"1945-03-01", "2025-02-28", nil},
		{"", "2025-02-28", nil},
	} {
		stored := []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS}
		got := withComputedFlags(stored, tc.birth, day(tc.today))
		want := append([]pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}, tc.want...)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("born %s, on %s: %v, want %v", tc.birth, tc.today, got, want)
		}
		if tc.birth != "" && ageOn(tc.birth, day(tc.today)) >= 80 != slices.Contains(got, pb.RetireeFlag_AGED_80_PLUS) {
			t.Errorf("born %s, on %s: the flags disagree with the age %d", tc.birth, tc.today, ageOn(tc.birth, day(tc.today)))
		}
	}
	var v fault.Violations
	checkFlags(&v, []pb.RetireeFlag{pb.RetireeFlag_HARDSHIP, pb.RetireeFlag_AGED_90_PLUS})
	var ve *fault.ValidationError
	if err := v.Err(); !errors.As(err, &ve) || ve.Fields[0].Field != "flags" {
		t.Errorf("setting AGED_90_PLUS: %v", err)
	}
}

// ageOn is the tests' own age in whole years, by the calendar rather than
// by comparing dates as text as the store does.
func ageOn(birth string, today time.Time) int {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return -1
	}
	age := today.Year() - b.Year()
	if today.Month() < b.Month() || today.Month() == b.Month() && today.Day() < b.Day() {
		age--
	}
	return age
}

// rosterFixture creates n retirees with the birth dates, flags,
// communities and residences a seeded random source draws, and returns
// them as stored. One in nine has a romanised name in mixed case.
func rosterFixture(t *testing.T, s *Store, n int) []*pb.Retiree {
	t.Helper()
	rng := rand.New(rand.NewPCG(10, 10)) //nolint:gosec // G404: fixtures, not secrets
	settable := []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_EMPTY_NEST, pb.RetireeFlag_DEMENTIA, pb.RetireeFlag_VETERAN}
	kinds := []pb.Residence_Kind{pb.Residence_LOCAL, pb.Residence_OTHER_CITY, pb.Residence_OTHER_PROVINCE}
	in := make([]*pb.Retiree, n)
	for i := range in {
		birth := time.Date(1925, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(40*365))
		if i%7 == 0 {
			// Birthdays on the boundaries of the lists' ages.
			birth = time.Date(testNow.Year()-80-i%3, testNow.Month(), testNow.Day()-1+i%3, 0, 0, 0, 0, time.UTC)
		}
		id, err := idnumber.Build("210102", birth, i%1000)
		if err != nil {
			t.Fatal(err)
		}
		community := []string{communityA, communityB}[rng.IntN(2)]
		r := newRetiree(t, i, community, pb.ManagementMode_COMMUNITY)
		r.IdNumber, r.RetirementDate = id.Digits(), ""
		if i%9 == 4 {
			r.Name = fmt.Sprintf("Aygül Tursun %d", i)
		}
		for _, f := range settable {
			if rng.IntN(4) == 0 {
				r.Flags = append(r.Flags, f)
			}
		}
		if k := rng.IntN(4); k < len(kinds) {
			r.Residence = &pb.Residence{Kind: kinds[k], Address: r.ResidenceAddress}
		}
		in[i] = r
	}
	return createMany(t, s, in)
}

// TestStoreListRetireesByFlagsAndAge lists by flags, ages and residence
// through the indexes and checks each list, read page by page with a
// small bound on the keys a page examines, against the fixtures filtered
// by the tests' own arithmetic.
func TestStoreListRetireesByFlagsAndAge(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	all := rosterFixture(t, s, 400)
	s.maxExamined = 7
	flags := func(f ...pb.RetireeFlag) []pb.RetireeFlag { return f }
	for _, f := range []RetireeFilter{
		{Flags: flags(pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS), MinAge: 80, MaxAge: 95},
		{Flags: flags(pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_DEMENTIA)},
		{Flags: flags(pb.RetireeFlag_AGED_90_PLUS)},
		{Flags: flags(pb.RetireeFlag_AGED_80_PLUS), MaxAge: 80},
		{MinAge: 79, MaxAge: 81},
		{CommunityID: communityA, Flags: flags(pb.RetireeFlag_VETERAN, pb.RetireeFlag_EMPTY_NEST), MinAge: 85},
		{CommunityID: communityB, MaxAge: 70},
		{CommunityID: communityB, Flags: flags(pb.RetireeFlag_AGED_80_PLUS), ResidenceKind: pb.Residence_OTHER_CITY},
		{EnterpriseCode: enterpriseX, Flags: flags(pb.RetireeFlag_EMPTY_NEST), MinAge: 60, MaxAge: 90},
		{ResidenceKind: pb.Residence_OTHER_PROVINCE},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []string
			for _, r := range all {
				if oracleMatch(f, r) {
					want = append(want, r.Id)
				}
			}
			if len(want) == 0 {
				t.Fatal("the fixtures hold no retiree the filter selects: the test would prove nothing")
			}
			got := listAll(t, s, f)
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStoreListRetireesByNameAndTail lists by a part of the name and the
// last characters of the ID number, alone and with the filters that walk
// an index, page by page with a small bound on the keys a page examines,
// against the fixtures filtered by the tests' own reading. The filters
// are as the server passes them: the name folded.
func TestStoreListRetireesByNameAndTail(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	all := rosterFixture(t, s, 400)
	s.maxExamined = 7
	tail := func(r *pb.Retiree) string { return r.IdNumber[len(r.IdNumber)-4:] }
	var withX *pb.Retiree
	for _, r := range all {
		if strings.HasSuffix(r.IdNumber, "X") {
			withX = r
			break
		}
	}
	if withX == nil {
		t.Fatal("no fixture's ID number ends in X")
	}
	flags := func(f ...pb.RetireeFlag) []pb.RetireeFlag { return f }
	for _, f := range []RetireeFilter{
		{Name: "人员12"},
		{Name: "tursun 2"},
		{IDNumberTail: tail(withX)},
		{IDNumberTail: tail(all[7]), Name: "人员7"},
		{CommunityID: communityA, Name: "人员1"},
		{CommunityID: communityB, Name: "tursun", Flags: flags(pb.RetireeFlag_LIVING_ALONE)},
		{Name: "人员3", Flags: flags(pb.RetireeFlag_AGED_80_PLUS)},
		{Name: "人员", MinAge: 79, MaxAge: 81},
		{CommunityID: communityA, Name: "人员2", ResidenceKind: pb.Residence_LOCAL},
		{EnterpriseCode: enterpriseX, Name: "tursun", Flags: flags(pb.RetireeFlag_EMPTY_NEST)},
	} {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []string
			for _, r := range all {
				if oracleMatch(f, r) {
					want = append(want, r.Id)
				}
			}
			if len(want) == 0 {
				t.Fatal("the fixtures hold no retiree the filter selects: the test would prove nothing")
			}
			got := listAll(t, s, f)
			slices.Sort(want)
			slices.Sort(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}
	if got := listAll(t, s, RetireeFilter{Name: "tursun 9999"}); len(got) != 0 {
		t.Errorf("a name no one has listed %v", got)
	}
}

// oracleMatch is the tests' reading of a filter.
func oracleMatch(f RetireeFilter, r *pb.Retiree) bool {
	age := ageOn(r.BirthDate, testNow)
	for _, flag := range f.Flags {
		switch {
		case flag == pb.RetireeFlag_AGED_80_PLUS && age < 80, flag == pb.RetireeFlag_AGED_90_PLUS && age < 90:
			return false
		case !isComputedFlag(flag) && !slices.Contains(r.Flags, flag):
			return false
		}
	}
	return (f.CommunityID == "" || r.CommunityId == f.CommunityID) &&
		(f.Name == "" || strings.Contains(strings.ToLower(r.Name), f.Name)) &&
		(f.IDNumberTail == "" || r.IdNumber[len(r.IdNumber)-4:] == f.IDNumberTail) &&
		(f.EnterpriseCode == "" || r.EnterpriseCreditCode == f.EnterpriseCode) &&
		(f.ResidenceKind == 0 || r.GetResidence().GetKind() == f.ResidenceKind) &&
		(f.MinAge == 0 || age >= int(f.MinAge)) && (f.MaxAge == 0 || age <= int(f.MaxAge))
}

// listAll reads every page of a list and returns the ids; each page
// examines at most the store's bound of keys, so the pages continue until
// the store says the list ends.
func listAll(t *testing.T, s *Store, f RetireeFilter) []string {
	t.Helper()
	var ids []string
	var after []byte
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("the list does not end")
		}
		page, next, err := s.ListRetirees(f, 5, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			ids = append(ids, r.Id)
		}
		if next == nil {
			return ids
		}
		after = next
	}
}

// TestStoreIndexesFollowChanges checks that the dated indexes hold exactly
// what the records say after creates, updates, transfers and deaths.
func TestStoreIndexesFollowChanges(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	all := rosterFixture(t, s, 60)
	admin := Actor{Subject: "admin-1", Role: "admin"}
	for i, r := range all[:30] {
		var err error
		switch i % 3 {
		case 0:
			_, err = s.UpdateRetiree(r.Id, RetireePatch{Paths: []string{"flags"}, Values: &pb.Retiree{Flags: []pb.RetireeFlag{pb.RetireeFlag_DISABLED}}}, admin, guard(&adminP))
		case 1:
			_, _, err = s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityC, Reason: "搬家", Direct: true}, admin, guard(&adminP))
		case 2:
			_, _, err = s.RecordDeath(r.Id, "2026-01-01", "", pb.DeathReportSource_BUREAU_MATCH, admin, guard(&adminP))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wantIndexesMatchRecords(t, s)
}

// wantIndexesMatchRecords checks that the dated indexes hold the entries
// of the stored retirees and nothing else.
func wantIndexesMatchRecords(t *testing.T, s *Store) {
	t.Helper()
	want := map[indexEntry]bool{}
	got := map[indexEntry]bool{}
	err := s.DB().View(func(tx *bolt.Tx) error {
		var records []*pb.Retiree
		c := tx.Bucket(bucketRetirees).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r := new(pb.Retiree)
			if err := s.Decode(bucketRetirees, k, v, r); err != nil {
				return err
			}
			records = append(records, r)
		}
		for _, r := range records {
			for _, e := range datedEntries(r) {
				want[e] = true
			}
		}
		for _, b := range [][]byte{bucketRetireeByBirth, bucketRetireeByCommunityBirth, bucketRetireeByFlag, bucketRetireeByCommunityFlag} {
			if err := tx.Bucket(b).ForEach(func(k, _ []byte) error {
				got[indexEntry{string(b), string(k)}] = true
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index entries (-from the records +stored):\n%s", diff)
	}
}

// TestOpenStoreMigratesVersion4 opens a file of storage version 4, whose
// records may carry a stored AGED_80_PLUS and which has no dated indexes:
// the flag is dropped from the record, the indexes are built, and a list
// by flag and age finds the retiree.
func TestOpenStoreMigratesVersion4(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	id := idNumber(t, 1) // born 1940-01-02
	community := &pb.Community{Id: communityA, Name: "北市场社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK}
	retiree := &pb.Retiree{
		Id: "abcdefghijklmnop", IdNumber: id.Digits(), Name: "退休人员", CommunityId: communityA, BirthDate: dateOnly(id.BirthDate()),
		ManagementMode: pb.ManagementMode_COMMUNITY, Status: pb.RetireeStatus_LIVING, Etag: "r1",
		Flags: []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS, pb.RetireeFlag_LIVING_ALONE},
	}
	var v4 [][]byte
	for _, b := range allBuckets {
		if !slices.ContainsFunc([][]byte{bucketRetireeByBirth, bucketRetireeByCommunityBirth, bucketRetireeByFlag, bucketRetireeByCommunityFlag}, func(n []byte) bool { return string(n) == string(b) }) {
			v4 = append(v4, b)
		}
	}
	boltstoretest.WriteFile(t, path, v4, func(tx *bolt.Tx) error {
		return errors.Join(
			boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(4)),
			boltstoretest.PutProto(tx, "communities", community.Id, community),
			boltstoretest.PutProto(tx, "retirees", retiree.Id, retiree),
		)
	})
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(path, keyer, StoreOptions{Logger: zaptest.NewLogger(t), Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.GetRetiree(retiree.Id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Flags, []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}) || got.Etag != "r1" {
		t.Errorf("migrated record: flags %v, etag %s", got.Flags, got.Etag)
	}
	list, _, err := s.ListRetirees(RetireeFilter{Flags: []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS}, MinAge: 86}, 10, nil)
	if err != nil || len(list) != 1 {
		t.Errorf("list by flag and age after the migration: %d retirees, %v", len(list), err)
	}
	wantIndexesMatchRecords(t, s)
	err = s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(metaReindexRetirees) != nil {
			return errors.New("the reindex mark is still there")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// mustDate parses a YYYY-MM-DD date of a test.
func mustDate(t testing.TB, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FuzzAgeBounds: the store's ages, which compare birth dates as text with
// a day that may not exist, agree with ages counted on the calendar, and
// a list's birth-date range admits exactly the ages it asks for.
func FuzzAgeBounds(f *testing.F) {
	f.Add(uint16(1520), uint16(30000), uint8(80), uint8(80), uint8(95))
	f.Add(uint16(1520), uint16(29220), uint8(80), uint8(0), uint8(0)) // 29 February
	f.Add(uint16(0), uint16(65535), uint8(120), uint8(90), uint8(90))
	f.Fuzz(func(t *testing.T, bornDays, todayDays uint16, age, minAge, maxAgeAsked uint8) {
		start := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
		birth := dateOnly(start.AddDate(0, 0, int(bornDays)))
		today := start.AddDate(0, 0, int(todayDays))
		if birth > dateOnly(today) {
			return
		}
		years := ageOn(birth, today)
		if got := atLeast(birth, today, int(age)); got != (years >= int(age)) {
			t.Fatalf("born %s, on %s (age %d): atLeast %d = %v", birth, dateOnly(today), years, age, got)
		}
		filter := RetireeFilter{MinAge: int32(minAge), MaxAge: int32(maxAgeAsked)}
		want := (minAge == 0 || years >= int(minAge)) && (maxAgeAsked == 0 || years <= int(maxAgeAsked))
		if got := filter.birthRangeOn(today).holds(birth); got != want {
			t.Fatalf("born %s, on %s (age %d): ages %d to %d hold %v", birth, dateOnly(today), years, minAge, maxAgeAsked, got)
		}
	})
}

// FuzzCheckRoster: the residence and carers checks never panic, and what
// they accept obeys the rules the store and the masks rely on.
func FuzzCheckRoster(f *testing.F) {
	f.Add(int32(2), "大连市", "210202", "", "", false, "李明", int32(2), "13912345678", true, uint8(1))
	f.Add(int32(4), "Toronto", "", "CA", "Toronto", true, "", int32(0), "x", true, uint8(11))
	f.Add(int32(4), "", "210202", "CN", "", false, "\x00", int32(42), "+86 138", false, uint8(2))
	f.Add(int32(0), "a", "2101", "ca", "b", true, "王芳", int32(9), "", true, uint8(0))
	f.Fuzz(func(t *testing.T, kind int32, address, division, country, residenceAddress string, addressSent bool,
		carerName string, relation int32, phone string, emergency bool, carers uint8,
	) {
		r := &pb.Retiree{
			ResidenceAddress: residenceAddress,
			Residence:        &pb.Residence{Kind: pb.Residence_Kind(kind), Address: address, DivisionCode: division, Country: country},
		}
		for range carers % 16 {
			r.Carers = append(r.Carers, &pb.Carer{Name: carerName, Relation: pb.Carer_Relation(relation), Phone: phone, EmergencyContact: emergency, PhoneMasked: "forged"})
		}
		var v fault.Violations
		checkResidence(&v, r, addressSent)
		checkCarers(&v, r.Carers)
		if v.Err() != nil {
			return
		}
		res := r.Residence
		if res.Kind == pb.Residence_KIND_UNSPECIFIED || pb.Residence_Kind_name[int32(res.Kind)] == "" || r.ResidenceAddress != res.Address {
			t.Fatalf("accepted residence %v with address %q", res, r.ResidenceAddress)
		}
		if (res.Kind == pb.Residence_ABROAD) != (res.Country != "") || res.Country == homeCountry || res.Kind == pb.Residence_ABROAD && res.DivisionCode != "" {
			t.Fatalf("accepted residence %v", res)
		}
		emergencies := 0
		for _, c := range r.Carers {
			if c.Name == "" || c.Relation == pb.Carer_RELATION_UNSPECIFIED || pb.Carer_Relation_name[int32(c.Relation)] == "" || c.PhoneMasked != "" {
				t.Fatalf("accepted carer %v", c)
			}
			if c.EmergencyContact {
				emergencies++
			}
		}
		if len(r.Carers) > maxCarers || emergencies > 1 {
			t.Fatalf("accepted %d carers, %d emergency contacts", len(r.Carers), emergencies)
		}
	})
}

// FuzzCheckStatusChange: a status change the handler accepts names a
// status the request may set, a real day not after today, and a reason.
func FuzzCheckStatusChange(f *testing.F) {
	f.Add(int32(4), "2026-01-02", "失联")
	f.Add(int32(2), "2026-06-16", "")
	f.Add(int32(1), "2026-02-30", "\u202e")
	f.Fuzz(func(t *testing.T, status int32, on, reason string) {
		req := &pb.ChangeRetireeStatusRequest{Status: pb.RetireeStatus(status), EffectiveOn: on, Reason: reason}
		if checkStatusChange(req, testNow) != nil {
			return
		}
		d, err := time.Parse(time.DateOnly, on)
		if !settableStatus(req.Status) || err != nil || d.After(testNow) || strings.TrimSpace(reason) == "" {
			t.Fatalf("accepted %v", req)
		}
	})
}

// FuzzCheckNameFilter: a name filter the handler accepts was text of at
// most maxNameFilterLen characters once trimmed, shows as itself, and is
// in the folded form the store compares; an accepted tail is one.
func FuzzCheckNameFilter(f *testing.F) {
	f.Add(" 秀英 ", "002X")
	f.Add("Aygül TURSUN", "0021")
	f.Add("\u3000", "002x")
	f.Add("秀\u202e英", "11010519491231002X")
	f.Add(strings.Repeat("秀", maxNameFilterLen+1), "")
	f.Add(strings.Repeat("İ", maxNameFilterLen), "") // two characters in lower case
	f.Fuzz(func(t *testing.T, name, tail string) {
		flt := RetireeFilter{Name: name, IDNumberTail: tail}
		var v fault.Violations
		checkNameFilter(&v, &flt)
		if v.Err() != nil {
			return
		}
		if !utf8.ValidString(flt.Name) || utf8.RuneCountInString(strings.TrimSpace(name)) > maxNameFilterLen ||
			strings.TrimSpace(flt.Name) != flt.Name || foldName(flt.Name) != flt.Name ||
			inputcheck.TextProblem(flt.Name, false) != "" {
			t.Fatalf("accepted name %q as %q", name, flt.Name)
		}
		if tail != "" && !idnumber.IsTail(tail) || flt.IDNumberTail != tail {
			t.Fatalf("accepted tail %q as %q", tail, flt.IDNumberTail)
		}
	})
}
