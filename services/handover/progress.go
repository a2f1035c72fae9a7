package handover

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// The bounds of one progress report call. The report is computed from
// the handovers as they are, rather than from counters kept by every
// step: the figures then follow each track's own rules without every
// step (and every later one) having to keep them, and the age of an open
// handover changes with the clock, not with a step. A call reads at most
// progressMaxHandovers counted handovers, progressMaxExamined keys or
// progressBudget bytes of them (a handover of 10,000 retirees is about a
// megabyte); a report that needs more goes on from a page token.
const (
	progressMaxHandovers = 2_000
	progressMaxExamined  = 5_000
	progressBudget       = 64 << 20
)

// groupByNames are the groupings a client may ask for.
var groupByNames = "ENTERPRISE, STREET or DISTRICT"

// ProgressQuery is a progress report to compute.
type ProgressQuery struct {
	GroupBy pb.GetHandoverProgressRequest_GroupBy
	// EnterpriseCode, when set, counts only that enterprise's handovers.
	EnterpriseCode string
	// Area, when set, counts only what is received in that street office
	// or district: the parts whose street (or district) code starts with
	// it. A supervisor's own area and its filter are both applied.
	Area, Within string
	// Today is the date (China) the ages of open handovers are counted to.
	Today string
}

// GetHandoverProgress implements pb.HandoverServiceServer. Admin and
// bureau see every row; a street or district supervisor what its area
// receives; an enterprise its own row.
func (s *Server) GetHandoverProgress(ctx context.Context, req *pb.GetHandoverProgressRequest) (*pb.GetHandoverProgressResponse, error) {
	p, err := authn.Require(ctx, authn.RoleBureau, authn.RoleEnterprise, authn.RoleStreet, authn.RoleDistrict)
	if err != nil {
		return nil, err
	}
	q := ProgressQuery{GroupBy: req.GroupBy, EnterpriseCode: req.EnterpriseCreditCode, Within: req.AreaCode, Today: s.today()}
	if err := checkProgressQuery(&q); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := narrowProgress(p, &q); err != nil {
		return nil, err
	}
	scope := boltstore.PageScope("GetHandoverProgress", q.GroupBy.String(), q.EnterpriseCode, q.Area, q.Within, q.Today)
	after, err := s.store.PageTokens().Decode(scope, req.PageToken)
	if err != nil {
		return nil, s.fail(ctx, fault.Invalid("pageToken", "invalid page token; start again without one"))
	}
	rows, last, err := s.store.Progress(q, after)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &pb.GetHandoverProgressResponse{Rows: rows}
	if last != nil {
		resp.NextPageToken = s.store.PageTokens().Encode(scope, last)
	}
	return resp, nil
}

// checkProgressQuery validates the request's fields.
func checkProgressQuery(q *ProgressQuery) error {
	var v fault.Violations
	switch q.GroupBy {
	case pb.GetHandoverProgressRequest_ENTERPRISE, pb.GetHandoverProgressRequest_STREET, pb.GetHandoverProgressRequest_DISTRICT:
	default:
		v.Add("groupBy", "must be one of "+groupByNames)
	}
	if q.EnterpriseCode != "" {
		checkCreditCode(&v, "enterpriseCreditCode", &q.EnterpriseCode)
	}
	if q.Within != "" && !inputcheck.IsStreetCode(q.Within) && !inputcheck.IsDistrictCode(q.Within) {
		v.Add("areaCode", "must be a street office's 9-digit or a district's 6-digit code")
	}
	return v.Err()
}

// narrowProgress confines a report to what p may see, or returns the
// permission error of a report that asks for more: an enterprise its own
// row of the report by enterprise; a street supervisor what its street
// receives, by street or by enterprise (a district's row would show only
// its own street's part of it); a district supervisor what its district
// receives.
func narrowProgress(p *authn.Principal, q *ProgressQuery) error {
	switch p.Role {
	case authn.RoleEnterprise:
		if q.GroupBy != pb.GetHandoverProgressRequest_ENTERPRISE || q.EnterpriseCode != "" && !p.OwnsEnterprise(q.EnterpriseCode) {
			return authn.ErrPermissionDenied
		}
		q.EnterpriseCode = p.Enterprise
	case authn.RoleStreet, authn.RoleDistrict:
		if p.Role == authn.RoleStreet && q.GroupBy == pb.GetHandoverProgressRequest_DISTRICT {
			return authn.ErrPermissionDenied
		}
		if q.Within != "" && !strings.HasPrefix(q.Within, p.Area()) {
			return authn.ErrPermissionDenied
		}
		q.Area = p.Area()
	}
	return nil
}

// Progress computes one page of a progress report: the rows of the
// handovers after the key after (in id order), and the key to go on
// after when the call's bounds were reached first.
func (s *Store) Progress(q ProgressQuery, after []byte) ([]*pb.HandoverProgressRow, []byte, error) {
	rows := map[string]*pb.HandoverProgressRow{}
	var next []byte
	examined := progressMaxExamined
	if s.maxExamined > 0 {
		examined = s.maxExamined
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		used := 0
		scan := boltstore.Scan{After: after, Size: progressMaxHandovers, MaxExamined: examined, Full: func() bool { return used >= progressBudget }}
		indexes := []boltstore.Index{
			{Bucket: bucketByEnterprise, Value: q.EnterpriseCode},
			{Bucket: bucketByReceiver, Value: q.district(), Prefix: true},
		}
		var err error
		next, err = scan.Records(tx, bucketHandovers, indexes, func(_, v []byte) (bool, error) {
			h := new(pb.Handover)
			if err := proto.Unmarshal(v, h); err != nil {
				return false, err
			}
			if !inProgress(h) || q.EnterpriseCode != "" && h.EnterpriseCreditCode != q.EnterpriseCode {
				return false, nil
			}
			used += len(v)
			q.add(rows, h)
			return true, nil
		})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	out := make([]*pb.HandoverProgressRow, 0, len(rows))
	for _, k := range slices.Sorted(maps.Keys(rows)) {
		out = append(out, rows[k])
	}
	return out, next, nil
}

// district is the district whose receiving units the query's area lies
// in, or "" for every district: a street's part may come from its
// district's agreement, so a query of a street office walks the
// receivers of the whole district.
func (q *ProgressQuery) district() string {
	for _, a := range []string{q.Within, q.Area} {
		if len(a) >= inputcheck.DistrictCodeLen {
			return a[:inputcheck.DistrictCodeLen]
		}
	}
	return ""
}

// inProgress reports whether h counts in the progress report: submitted
// at least once and not withdrawn. A draft is the enterprise's own
// business.
func inProgress(h *pb.Handover) bool {
	return h.SubmitTime != nil && h.State != pb.Handover_WITHDRAWN && h.State != pb.Handover_DRAFT
}

// progressPart is what one handover brings to one place: a street office
// (9 digits) or, for what a district's agreement has not allocated to a
// street, the district (6 digits).
type progressPart struct {
	retirees, received, missing   int64
	party, partySettled, premises int64
}

// progressParts splits h by place: each retiree and dossier goes to the
// street of the community it is allocated to, or to the receiver while
// not allocated; the party transfers and premises go to the receiver.
func progressParts(h *pb.Handover) map[string]*progressPart {
	receiver := receiverOf(h)
	street := map[string]string{}
	for _, a := range h.Allocations {
		for _, id := range a.RetireeIds {
			street[id] = a.CommunityId[:min(9, len(a.CommunityId))]
		}
	}
	parts := map[string]*progressPart{receiver: {}}
	at := func(retiree string) *progressPart {
		loc, ok := street[retiree]
		if !ok {
			loc = receiver
		}
		if parts[loc] == nil {
			parts[loc] = &progressPart{}
		}
		return parts[loc]
	}
	if h.State == pb.Handover_COMPLETED {
		for _, id := range h.RetireeIds {
			at(id).retirees++
		}
	}
	for _, d := range h.Dossiers {
		switch d.State {
		case pb.Dossier_RECEIVED:
			at(d.RetireeId).received++
		case pb.Dossier_MISSING:
			at(d.RetireeId).missing++
		}
	}
	own := parts[receiver]
	for _, t := range h.Tracks {
		if t.Kind == pb.Track_PARTY && t.State != pb.Track_NOT_APPLICABLE {
			own.party, own.partySettled = t.Items, t.Settled
		}
	}
	for _, pr := range h.Premises {
		if pr.Inspection == pb.Premises_ACCEPTED {
			own.premises++
		}
	}
	return parts
}

// key is the row a part of h at loc counts in.
func (q *ProgressQuery) key(h *pb.Handover, loc string) string {
	switch q.GroupBy {
	case pb.GetHandoverProgressRequest_ENTERPRISE:
		return h.EnterpriseCreditCode
	case pb.GetHandoverProgressRequest_DISTRICT:
		return loc[:min(6, len(loc))]
	}
	return loc
}

// add counts h in rows: each of its parts the query may see in the row
// of its key, and the handover itself once in each of those rows.
func (q *ProgressQuery) add(rows map[string]*pb.HandoverProgressRow, h *pb.Handover) {
	touched := map[string]bool{}
	for loc, part := range progressParts(h) {
		if !strings.HasPrefix(loc, q.Area) || !strings.HasPrefix(loc, q.Within) {
			continue
		}
		k := q.key(h, loc)
		r := rows[k]
		if r == nil {
			r = &pb.HandoverProgressRow{Key: k, OpenByAge: &pb.OpenByAge{}}
			rows[k] = r
		}
		r.RetireesHandedOver += part.retirees
		r.DossiersReceived += part.received
		r.DossiersMissing += part.missing
		r.PartyTransfers += part.party
		r.PartyTransfersSettled += part.partySettled
		r.PremisesAccepted += part.premises
		if !touched[k] {
			touched[k] = true
			r.Handovers++
			q.countOpen(r, h)
		}
	}
}

// countOpen counts h in r's age buckets when it is open: submitted (or
// returned to the enterprise) and not completed.
func (q *ProgressQuery) countOpen(r *pb.HandoverProgressRow, h *pb.Handover) {
	if h.State != pb.Handover_SUBMITTED && h.State != pb.Handover_RETURNED {
		return
	}
	switch days := daysBetween(dateIn(h.SubmitTime.AsTime()), q.Today); {
	case days <= 30:
		r.OpenByAge.Within30Days++
	case days <= 90:
		r.OpenByAge.Within90Days++
	case days <= 180:
		r.OpenByAge.Within180Days++
	default:
		r.OpenByAge.Over180Days++
	}
}

// daysBetween is the number of days from one date (YYYY-MM-DD) to a
// later one.
func daysBetween(from, to string) int {
	a, errA := time.ParseInLocation(time.DateOnly, from, workdays.ChinaTime)
	b, errB := time.ParseInLocation(time.DateOnly, to, workdays.ChinaTime)
	if errA != nil || errB != nil {
		return 0
	}
	return int(b.Sub(a).Hours()+12) / 24
}
