package casework

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// FuzzCheckVisit feeds arbitrary visits to RecordVisit's validation: it
// never panics, and what it accepts has a known method and outcome, a
// visit time within the last 90 days, a named visitor and bounded needs.
func FuzzCheckVisit(f *testing.F) {
	f.Add("aaaaaaaaaaaaaaaa", int32(1), int32(1), "王社工", int64(-3600), "MEALS", "", "k")
	f.Add("aaaaaaaaaaaaaaaa", int32(2), int32(3), "邻居", int64(-60), "电话13812345678", "", "")
	f.Add("x", int32(9), int32(0), "", int64(3600), strings.Repeat("需", 101), "\x00", strings.Repeat("k", 200))
	f.Fuzz(func(t *testing.T, retiree string, method, outcome int32, visitor string, at int64, need, note, key string) {
		req := &pb.RecordVisitRequest{RequestKey: key, Visit: &pb.Visit{
			RetireeId: retiree, Method: pb.VisitMethod(method), Outcome: pb.VisitOutcome(outcome), Visitor: visitor,
			VisitTime: timestamppb.New(testNow.Add(time.Duration(at) * time.Second)), Needs: []string{need}, Note: note,
		}}
		if err := checkVisit(req, testNow); err != nil {
			return
		}
		v := req.Visit
		vt := v.VisitTime.AsTime()
		if v.Method == 0 || v.Outcome == 0 || vt.After(testNow) || vt.Before(testNow.Add(-maxVisitsBack)) ||
			visitor == "" || utf8.RuneCountInString(need) > maxNeedLen || len(key) > maxKeyLen ||
			inputcheck.PersonalNumber(visitor+" "+need+" "+note) != "" {
			t.Fatalf("accepted %v", v)
		}
		if _, ok := pb.VisitMethod_name[method]; !ok {
			t.Fatalf("accepted method %d", method)
		}
	})
}
