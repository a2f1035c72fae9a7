package registry

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Rule-failure reasons the registry returns in ErrorInfo.
const (
	reasonRetireeExists   = "RETIREE_EXISTS"
	reasonNotLiving       = "RETIREE_NOT_LIVING"
	reasonSameCommunity   = "SAME_COMMUNITY"
	reasonUnknownRef      = "UNKNOWN_REFERENCE"
	reasonKeyReused       = "REQUEST_KEY_REUSED"
	reasonTooManyRetirees = "TOO_MANY_RETIREES"
)

func etagOf(rev uint64) string { return "r" + strconv.FormatUint(rev, 10) }

// RetireeExistsError is CreateRetiree's refusal of an ID number that is
// on file: the conflict the client is told, which wraps, and the id of
// the retiree on file, which the client is not told but the audit log
// records (the refusal disclosed that the number is on file).
type RetireeExistsError struct {
	// RetireeID is the id of the retiree with the ID number.
	RetireeID string
	err       error
}

// Error returns the conflict's text, without the retiree's id.
func (e *RetireeExistsError) Error() string { return e.err.Error() }

// Unwrap returns the *fault.RuleError of the conflict.
func (e *RetireeExistsError) Unwrap() error { return e.err }

// CreateRetiree stores a validated new retiree, assigning its id. The ID
// number must be unique: a second one is a *RetireeExistsError.
func (s *Store) CreateRetiree(r *pb.Retiree, id idnumber.ID, actor Actor) (*pb.Retiree, error) {
	r = proto.Clone(r).(*pb.Retiree)
	now := s.now()
	r.CreateTime = timestamppb.New(now)
	r.Status = pb.RetireeStatus_LIVING
	idKey := s.keyer.Key(id)
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		if on := tx.Bucket(bucketRetireeByIDKey).Get(idKey); on != nil {
			return &RetireeExistsError{
				RetireeID: string(on),
				err:       fault.Conflict(reasonRetireeExists, "a retiree with this ID number already exists"),
			}
		}
		if err := checkRefs(tx, r.CommunityId, r.EnterpriseCreditCode); err != nil {
			return err
		}
		for {
			r.Id = inputcheck.NewOpaqueID()
			if tx.Bucket(bucketRetirees).Get([]byte(r.Id)) == nil {
				break
			}
		}
		if err := tx.Bucket(bucketRetireeByIDKey).Put(idKey, []byte(r.Id)); err != nil {
			return err
		}
		return w.apply(nil, r, pb.ChangeKind_CREATED, actor, "CreateRetiree", "")
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// checkRefs verifies that the community and (when given) the enterprise a
// retiree names exist.
func checkRefs(tx *bolt.Tx, communityID, creditCode string) error {
	var v fault.Violations
	if tx.Bucket(bucketCommunities).Get([]byte(communityID)) == nil {
		v.Add("communityId", "no community with this id")
	}
	if creditCode != "" && tx.Bucket(bucketEnterprises).Get([]byte(creditCode)) == nil {
		v.Add("enterpriseCreditCode", "no enterprise with this credit code")
	}
	return v.Err()
}

// GetRetiree returns the stored retiree (with personal data) or ErrNotFound.
func (s *Store) GetRetiree(id string) (*pb.Retiree, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, errRetireeNotFound
	}
	r := new(pb.Retiree)
	err := s.DB().View(func(tx *bolt.Tx) error {
		return s.GetProto(tx, bucketRetirees, []byte(id), r, errRetireeNotFound)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// LookupRetiree finds a retiree by ID number.
func (s *Store) LookupRetiree(id idnumber.ID) (*pb.Retiree, error) {
	key := s.keyer.Key(id)
	r := new(pb.Retiree)
	err := s.DB().View(func(tx *bolt.Tx) error {
		rid := tx.Bucket(bucketRetireeByIDKey).Get(key)
		if rid == nil {
			return errRetireeNotFound
		}
		return s.GetProto(tx, bucketRetirees, rid, r, errRetireeNotFound)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// RetireeFilter selects retirees in ListRetirees; zero fields match all.
type RetireeFilter struct {
	CommunityID string
	// Area is a prefix of the community ids to list: a supervisor's
	// street office or district code.
	Area           string
	EnterpriseCode string
	Mode           pb.ManagementMode
	Status         pb.RetireeStatus
	// Flags must all hold, the computed ones on the day of the read.
	Flags         []pb.RetireeFlag
	ResidenceKind pb.Residence_Kind
	// MinAge and MaxAge bound the age in whole years on the day of the
	// read; 0 leaves a side open.
	MinAge, MaxAge int32
	// Name is text the name must contain, in foldName's form.
	Name string
	// IDNumberTail is what the ID number must end with: its last 4
	// characters (see idnumber.IsTail).
	IDNumberTail string
}

// matchOn reports whether r passes every condition of f on today.
func (f RetireeFilter) matchOn(r *pb.Retiree, today time.Time) bool {
	return (f.CommunityID == "" || r.CommunityId == f.CommunityID) &&
		strings.HasPrefix(r.CommunityId, f.Area) &&
		(f.EnterpriseCode == "" || r.EnterpriseCreditCode == f.EnterpriseCode) &&
		(f.Mode == pb.ManagementMode_MANAGEMENT_MODE_UNSPECIFIED || r.ManagementMode == f.Mode) &&
		(f.Status == pb.RetireeStatus_RETIREE_STATUS_UNSPECIFIED || r.Status == f.Status) &&
		(f.ResidenceKind == pb.Residence_KIND_UNSPECIFIED || r.GetResidence().GetKind() == f.ResidenceKind) &&
		f.birthRangeOn(today).holds(r.BirthDate) &&
		hasFlags(r.Flags, f.Flags) &&
		f.matchPerson(r)
}

// matchPerson reports whether r has the part of a name and the end of an
// ID number f asks for. r is the stored record, its number in full.
func (f RetireeFilter) matchPerson(r *pb.Retiree) bool {
	return strings.HasSuffix(r.IdNumber, f.IDNumberTail) &&
		(f.Name == "" || strings.Contains(foldName(r.Name), f.Name))
}

// foldName is a name as a name filter compares it: letters with case
// (Latin, as in a romanised name) in lower case. Chinese names have no
// case, and strings.ToLower returns them without copying.
func foldName(name string) string { return strings.ToLower(name) }

// hasFlags reports whether stored holds every stored flag of want; the
// computed ones are birth-date bounds (see birthRangeOn).
func hasFlags(stored, want []pb.RetireeFlag) bool {
	for _, f := range want {
		if !isComputedFlag(f) && !slices.Contains(stored, f) {
			return false
		}
	}
	return true
}

// scope binds a list's page tokens to its filter, and so to the index the
// filter makes the list walk. The scope goes into a token's HMAC only, so
// a token does not carry the name searched for.
func (f RetireeFilter) scope() string {
	parts := []string{f.CommunityID, f.Area, f.EnterpriseCode, f.Mode.String(), f.Status.String(), f.ResidenceKind.String(),
		strconv.Itoa(int(f.MinAge)), strconv.Itoa(int(f.MaxAge)), f.Name, f.IDNumberTail}
	for _, flag := range f.Flags {
		parts = append(parts, flag.String())
	}
	return boltstore.PageScope("ListRetirees", parts...)
}

// ListRetirees returns a page of retirees matching f on the store's
// today: through a dated index (see plan) when the filter asks for a
// flag or an age, else through the community index when it names a
// community or an area (the communities whose ids start with it), else
// through the enterprise index when it names one, else over all
// retirees. The name and the ID number's tail have no index: they are
// checked on each record the walk opens, within the same bound on the
// keys a page examines. after is the last key of the previous page.
func (s *Store) ListRetirees(f RetireeFilter, size int, after []byte) ([]*pb.Retiree, []byte, error) {
	var out []*pb.Retiree
	var next []byte
	today := s.now()
	indexes := []boltstore.Index{
		{Bucket: bucketRetireeByCommunity, Value: f.CommunityID},
		{Bucket: bucketRetireeByCommunity, Value: f.Area, Prefix: true},
		{Bucket: bucketRetireeByEnterprise, Value: f.EnterpriseCode},
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		if p, ok := f.plan(f.birthRangeOn(today)); ok {
			next, err = s.listDated(tx, p, f, today, size, after, &out)
			return err
		}
		match := func(r *pb.Retiree) bool { return f.matchOn(r, today) }
		next, err = boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}.Records(tx, bucketRetirees, indexes, servicedb.Collect(&s.Base, bucketRetirees, &out, match))
		return err
	})
	return out, next, err
}

// RetireePatch is a validated change to a retiree's editable fields.
type RetireePatch struct {
	// Paths are the proto field names to copy from Values.
	Paths  []string
	Values *pb.Retiree
	Etag   string
}

// UpdateRetiree applies patch under the etag check. allowed is called with
// the current record inside the transaction (for the caller's scope check).
func (s *Store) UpdateRetiree(id string, patch RetireePatch, actor Actor, allowed func(*pb.Retiree) error) (*pb.Retiree, error) {
	return s.mutate(id, patch.Etag, allowed, func(tx *bolt.Tx, old, r *pb.Retiree) (pb.ChangeKind, string, error) {
		for _, p := range patch.Paths {
			set := editableFields[p]
			if set == nil {
				return 0, "", fmt.Errorf("update of %q not handled", p)
			}
			set(r, patch.Values)
		}
		syncResidence(r)
		if err := checkRefs(tx, r.CommunityId, r.EnterpriseCreditCode); err != nil {
			return 0, "", err
		}
		// The merged record must still satisfy what creation requires.
		var v fault.Violations
		if r.ManagementMode == pb.ManagementMode_ENTERPRISE && r.EnterpriseCreditCode == "" {
			v.Add("enterpriseCreditCode", "required when managementMode is ENTERPRISE")
		}
		if problem := retirementProblem(r.RetirementDate, r.BirthDate); problem != "" {
			v.Add("retirementDate", problem)
		}
		if err := v.Err(); err != nil {
			return 0, "", err
		}
		return pb.ChangeKind_UPDATED, "", nil
	}, actor, "UpdateRetiree")
}

// mutate loads a retiree, checks the caller may change it and the etag
// (when given), applies change to a copy, and records the change — all in
// one transaction.
func (s *Store) mutate(id, etag string, allowed func(*pb.Retiree) error,
	change func(tx *bolt.Tx, old, r *pb.Retiree) (pb.ChangeKind, string, error),
	actor Actor, action string,
) (*pb.Retiree, error) {
	var out *pb.Retiree
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		read := func(r *pb.Retiree) error { return s.GetProto(tx, bucketRetirees, []byte(id), r, errRetireeNotFound) }
		old, err := boltstore.ReadForChange(read, inputcheck.IsOpaqueID(id), errRetireeNotFound, etag, allowed)
		if err != nil {
			return err
		}
		r := proto.Clone(old).(*pb.Retiree)
		kind, reason, err := change(tx, old, r)
		if err != nil {
			return err
		}
		if err := w.apply(old, r, kind, actor, action, reason); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// AssignRetirees sets community and management mode of the given retirees
// in one transaction, remembering the answer under key so that a repeated
// request changes nothing. Every retiree must exist and be living: when one
// does not, nothing changes, the key stays unused, and the error is an
// *AssignRefusedError naming every refused retiree.
func (s *Store) AssignRetirees(key string, ids []string, community string, mode pb.ManagementMode, reason string, actor Actor) (*pb.AssignRetireesResponse, error) {
	fingerprint := assignFingerprint(ids, community, mode)
	var resp *pb.AssignRetireesResponse
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		done := tx.Bucket(bucketAssignments)
		if v := done.Get([]byte(key)); v != nil {
			stored := new(pb.AssignRetireesResponse)
			fp, body := splitFingerprint(v)
			if !bytes.Equal(fp, fingerprint) {
				return fault.Rule(reasonKeyReused, "this request key was used for a different assignment")
			}
			if err := proto.Unmarshal(body, stored); err != nil {
				return err
			}
			stored.Replayed = true
			resp = stored
			return nil
		}
		if tx.Bucket(bucketCommunities).Get([]byte(community)) == nil {
			return fault.Invalid("community_id", "no community with this id")
		}
		records, err := s.assignable(tx, ids)
		if err != nil {
			return err
		}
		resp = &pb.AssignRetireesResponse{}
		for _, old := range records {
			if old.CommunityId == community && old.ManagementMode == mode {
				continue
			}
			r := proto.Clone(old).(*pb.Retiree)
			r.CommunityId = community
			r.ManagementMode = mode
			if err := w.apply(old, r, pb.ChangeKind_ASSIGNED, actor, "AssignRetirees", reason); err != nil {
				return err
			}
			resp.Assigned++
		}
		resp.Revision = apiRevision(w.head)
		body, err := proto.Marshal(resp)
		if err != nil {
			return err
		}
		return done.Put([]byte(key), append(append([]byte{byte(len(fingerprint))}, fingerprint...), body...)) //nolint:gosec // G115: a hash sum, 32 bytes
	})
	return resp, err
}

// AssignRefusedError reports the retirees an assignment refused for good;
// nothing was assigned.
type AssignRefusedError struct {
	// Refused lists them in the order of the request.
	Refused []RefusedRetiree
}

// RefusedRetiree is one retiree an assignment refused.
type RefusedRetiree struct {
	// Index is the retiree's place in the request.
	Index  int
	ID     string
	Reason pb.AssignRefusal
}

// Error says how many retirees were refused.
func (e *AssignRefusedError) Error() string {
	return fmt.Sprintf("assignment refused %d retirees", len(e.Refused))
}

// assignable reads the retirees of ids for an assignment, or returns an
// *AssignRefusedError naming each one that does not exist or is not living.
func (s *Store) assignable(tx *bolt.Tx, ids []string) ([]*pb.Retiree, error) {
	var refused []RefusedRetiree
	records := make([]*pb.Retiree, 0, len(ids))
	for i, id := range ids {
		r := new(pb.Retiree)
		if !inputcheck.IsOpaqueID(id) {
			refused = append(refused, RefusedRetiree{Index: i, ID: id, Reason: pb.AssignRefusal_RETIREE_NOT_FOUND})
			continue
		}
		if err := s.GetProto(tx, bucketRetirees, []byte(id), r, errRetireeNotFound); err != nil {
			if !isNotFound(err) {
				return nil, err
			}
			refused = append(refused, RefusedRetiree{Index: i, ID: id, Reason: pb.AssignRefusal_RETIREE_NOT_FOUND})
			continue
		}
		if r.Status != pb.RetireeStatus_LIVING {
			refused = append(refused, RefusedRetiree{Index: i, ID: id, Reason: pb.AssignRefusal_RETIREE_NOT_LIVING})
			continue
		}
		records = append(records, r)
	}
	if len(refused) > 0 {
		return nil, &AssignRefusedError{Refused: refused}
	}
	return records, nil
}

// RetireeFacts returns, for each id in order, what other services check a
// retiree against, read in one transaction; an id that no retiree has gets
// Found false.
func (s *Store) RetireeFacts(ids []string) ([]*pb.RetireeFacts, error) {
	out := make([]*pb.RetireeFacts, len(ids))
	err := s.DB().View(func(tx *bolt.Tx) error {
		for i, id := range ids {
			f := &pb.RetireeFacts{Id: id}
			out[i] = f
			if !inputcheck.IsOpaqueID(id) {
				continue
			}
			r := new(pb.Retiree)
			if err := s.GetProto(tx, bucketRetirees, []byte(id), r, errRetireeNotFound); err != nil {
				if isNotFound(err) {
					continue
				}
				return err
			}
			f.Found = true
			f.Status, f.ManagementMode = r.Status, r.ManagementMode
			f.EnterpriseCreditCode, f.CommunityId = r.EnterpriseCreditCode, r.CommunityId
		}
		return nil
	})
	return out, err
}

// assignFingerprint identifies an assignment's content, so that a request
// key reused for something else is refused instead of answered wrongly.
func assignFingerprint(ids []string, community string, mode pb.ManagementMode) []byte {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	h := newHash()
	h.Write([]byte(community + "\x00" + mode.String() + "\x00" + strings.Join(sorted, ",")))
	return h.Sum(nil)
}

func splitFingerprint(v []byte) (fp, body []byte) {
	if len(v) == 0 || int(v[0]) > len(v)-1 {
		return nil, nil
	}
	n := int(v[0])
	return v[1 : 1+n], v[1+n:]
}

// ListHistory returns a page of a retiree's history, oldest first.
func (s *Store) ListHistory(id string, size int, after []byte) ([]*pb.HistoryEntry, []byte, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, nil, nil
	}
	var out []*pb.HistoryEntry
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{Prefix: boltstore.Prefix(id), After: after, Size: size}.Page(tx.Bucket(bucketHistory).Cursor(), servicedb.Collect(&s.Base, bucketHistory, &out, nil))
		return err
	})
	return out, next, err
}

// Head returns the newest revision and the oldest one still in the change
// log.
func (s *Store) Head() (head, oldest uint64, err error) {
	err = s.DB().View(func(tx *bolt.Tx) error {
		head, oldest = readRevisions(tx)
		return nil
	})
	return head, oldest, err
}

func readRevisions(tx *bolt.Tx) (head, oldest uint64) {
	meta := tx.Bucket(bucketMeta)
	if v := meta.Get(metaHead); v != nil {
		head, _ = boltstore.ParseU64(v)
	}
	if v := meta.Get(metaOldest); v != nil {
		oldest, _ = boltstore.ParseU64(v)
	} else {
		oldest = 1
	}
	return head, oldest
}

// dateOnly formats t as YYYY-MM-DD.
func dateOnly(t time.Time) string { return t.Format(time.DateOnly) }
