package handover

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/gatewaytest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// The districts of the custody matrix: own is district AB, the
// archivist's and the district supervisor's; other is a district no
// caller has.
const (
	matrixOtherDistrict  = "210104"
	matrixOtherCommunity = "210104001001"
	matrixMissingFile    = "F0000000000000000"
)

// custodyCall is one RPC of the custody matrix, made over gRPC or REST
// on an object: a file id, or a district for the calls of a district.
type custodyCall struct {
	grpc func(ctx context.Context, c pb.HandoverServiceClient, obj string) error
	// rest returns the method, path and JSON body of the REST call.
	rest func(obj string) (method, path, body string)
	// fixture makes the object of a target; nil for the calls of a
	// district.
	fixture func(tg servicetest.Target) string
}

// custodyFixtures makes files for the matrix through the store: in the
// receiving district (own) or another (other), in the state a call
// needs.
type custodyFixtures struct {
	t     *testing.T
	store *Store
	n     int
}

// file makes a new file of target, prepared by prep when not nil.
func (fx *custodyFixtures) file(tg servicetest.Target, prep func(*pb.ArchiveFile)) string {
	if tg == servicetest.Missing {
		return matrixMissingFile
	}
	fx.n++
	community := communityA
	if tg == servicetest.Other {
		community = matrixOtherCommunity
	}
	h := &pb.Handover{Id: fmt.Sprintf("H%016d", fx.n), CommunityId: community}
	d := &pb.Dossier{RetireeId: fmt.Sprintf("m%015d", fx.n), DossierNo: "D-M", Volumes: 1}
	actor := Actor{Subject: "fixture", Role: "admin"}
	if err := fx.store.update(func(w *txn) error { return w.takeIntoCustody(h, d, 1, actor) }); err != nil {
		fx.t.Fatal(err)
	}
	if prep != nil {
		_, err := fx.store.changeFile(d.ArchiveFileId, "", actor, func(*pb.ArchiveFile) error { return nil }, func(_ *txn, f *pb.ArchiveFile) (string, string, error) {
			prep(f)
			return custodyLoanRequested, "fixture", nil
		})
		if err != nil {
			fx.t.Fatal(err)
		}
	}
	return d.ArchiveFileId
}

// custodyCalls are the custody RPCs of the matrix; the loans are due
// back in a week of today.
func custodyCalls(fx *custodyFixtures, today time.Time) map[string]custodyCall {
	calls := custodyWrites(fx, today.AddDate(0, 0, 7).Format(time.DateOnly))
	maps.Copy(calls, custodyReads(fx))
	return calls
}

// custodyReads are the reading RPCs of the matrix, each on one file per
// target or on a district.
func custodyReads(fx *custodyFixtures) map[string]custodyCall {
	read := map[servicetest.Target]string{}
	for _, tg := range servicetest.Targets {
		read[tg] = fx.file(tg, nil)
	}
	reading := func(tg servicetest.Target) string { return read[tg] }
	return map[string]custodyCall{
		"GetArchiveFile": {fixture: reading,
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.GetArchiveFile(ctx, &pb.GetArchiveFileRequest{Id: id}))
			},
			rest: func(id string) (string, string, string) { return http.MethodGet, "/v1/archiveFiles/" + id, "" }},
		"ListArchiveFileEvents": {fixture: reading,
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.ListArchiveFileEvents(ctx, &pb.ListArchiveFileEventsRequest{Id: id}))
			},
			rest: func(id string) (string, string, string) {
				return http.MethodGet, "/v1/archiveFiles/" + id + "/events", ""
			}},
		"ListArchiveFiles": {
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, district string) error {
				return servicetest.ErrOf(c.ListArchiveFiles(ctx, &pb.ListArchiveFilesRequest{District: district}))
			},
			rest: func(district string) (string, string, string) {
				return http.MethodGet, "/v1/archiveFiles?district=" + url.QueryEscape(district), ""
			}},
		"GetArchiveStatistics": {
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, district string) error {
				return servicetest.ErrOf(c.GetArchiveStatistics(ctx, &pb.GetArchiveStatisticsRequest{District: district}))
			},
			rest: func(district string) (string, string, string) {
				return http.MethodGet, "/v1/archiveFiles:statistics?district=" + url.QueryEscape(district), ""
			}},
	}
}

// custodyWrites are the custody steps of the matrix, each on a fresh
// file per call in the state it needs; loans are due back on due.
func custodyWrites(fx *custodyFixtures, due string) map[string]custodyCall {
	requested := func(f *pb.ArchiveFile) {
		f.Loan = &pb.ArchiveLoan{Kind: pb.ArchiveLoan_LOAN, State: pb.ArchiveLoan_REQUESTED, Borrower: "b", Purpose: "p", DueOn: due, RequestedBy: "someone-else"}
	}
	lent := func(f *pb.ArchiveFile) {
		requested(f)
		f.State, f.Loan.State, f.Loan.ApprovedBy = pb.ArchiveFile_ON_LOAN, pb.ArchiveLoan_APPROVED, "approver"
	}
	fresh := func(prep func(*pb.ArchiveFile)) func(servicetest.Target) string {
		return func(tg servicetest.Target) string { return fx.file(tg, prep) }
	}
	return map[string]custodyCall{
		"ShelveArchiveFile": {fixture: fresh(nil),
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.ShelveArchiveFile(ctx, &pb.ShelveArchiveFileRequest{Id: id, ShelfLocation: "A-1"}))
			},
			rest: func(id string) (string, string, string) {
				return http.MethodPost, "/v1/archiveFiles/" + id + ":shelve", `{"shelfLocation":"A-1"}`
			}},
		"RequestArchiveLoan": {fixture: fresh(nil),
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.RequestArchiveLoan(ctx, &pb.RequestArchiveLoanRequest{Id: id, Kind: pb.ArchiveLoan_LOAN, Borrower: "b", Purpose: "p", DueOn: due}))
			},
			rest: func(id string) (string, string, string) {
				return http.MethodPost, "/v1/archiveFiles/" + id + ":requestLoan", `{"kind":"LOAN","borrower":"b","purpose":"p","dueOn":"` + due + `"}`
			}},
		"DecideArchiveLoan": {fixture: fresh(requested),
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.DecideArchiveLoan(ctx, &pb.DecideArchiveLoanRequest{Id: id, Approved: true}))
			},
			rest: func(id string) (string, string, string) {
				return http.MethodPost, "/v1/archiveFiles/" + id + ":decideLoan", `{"approved":true}`
			}},
		"ReturnArchiveFile": {fixture: fresh(lent),
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.ReturnArchiveFile(ctx, &pb.ReturnArchiveFileRequest{Id: id}))
			},
			rest: func(id string) (string, string, string) {
				return http.MethodPost, "/v1/archiveFiles/" + id + ":return", `{}`
			}},
		// No projection runs: registry's record of the retiree has not
		// reached handover, so whoever may send the file on is refused.
		"SendOnArchiveFile": {fixture: fresh(nil),
			grpc: func(ctx context.Context, c pb.HandoverServiceClient, id string) error {
				return servicetest.ErrOf(c.SendOnArchiveFile(ctx, &pb.SendOnArchiveFileRequest{Id: id, ToCustodian: "c"}))
			},
			rest: func(id string) (string, string, string) {
				return http.MethodPost, "/v1/archiveFiles/" + id + ":sendOn", `{"toCustodian":"c"}`
			}},
	}
}

// custodyWant is the custody matrix: the archivist of a file's district
// and admin do everything to it; bureau and the district's supervisor
// read its statistics; nobody else anything.
func custodyWant(t *testing.T) map[string]map[string]servicetest.Cells {
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		fp = codes.FailedPrecondition
		na = servicetest.NA
	)
	type cells = servicetest.Cells
	row := func(admin, bureau, archivist cells) map[string]servicetest.Cells {
		denied := cells{pd, pd, pd}
		noToken := cells{ua, ua, ua}
		if admin[2] == na {
			denied, noToken = cells{pd, pd, na}, cells{ua, ua, na}
		}
		return map[string]servicetest.Cells{
			"admin": admin, "bureau": bureau, "archivist": archivist, "archivist elsewhere": denied,
			"clerk": denied, "enterprise": denied, "service": denied, "no token": noToken,
		}
	}
	onFile := row(cells{ok, ok, nf}, cells{pd, pd, pd}, cells{ok, pd, pd})
	want := map[string]map[string]servicetest.Cells{
		"GetArchiveFile":        onFile,
		"ListArchiveFileEvents": onFile,
		"ShelveArchiveFile":     onFile,
		"RequestArchiveLoan":    onFile,
		"DecideArchiveLoan":     onFile,
		"ReturnArchiveFile":     onFile,
		"SendOnArchiveFile":     row(cells{fp, fp, nf}, cells{pd, pd, pd}, cells{fp, pd, pd}),
		"ListArchiveFiles":      row(cells{ok, ok, na}, cells{pd, pd, na}, cells{ok, pd, na}),
		"GetArchiveStatistics":  row(cells{ok, ok, na}, cells{ok, ok, na}, cells{ok, pd, na}),
	}
	servicetest.WithSupervisors(t, want, map[string]map[string]servicetest.Cells{
		"GetArchiveStatistics": {
			servicetest.StreetCaller: {pd, pd, na}, servicetest.DistrictCaller: {ok, pd, na},
			servicetest.StreetElsewhereCaller: {pd, pd, na}, servicetest.DistrictElsewhereCaller: {pd, pd, na},
		},
	})
	return want
}

// TestCustodyAuthorisationMatrix calls every custody RPC as every role
// on a file (or district) of the archivist's district (own), of another
// district (other) and on a file that does not exist (missing), over
// gRPC and through the gateway over REST.
func TestCustodyAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{tcp: true})
	fx := &custodyFixtures{t: t, store: w.store}
	calls := custodyCalls(fx, chinaDay(time.Now()))
	district := map[servicetest.Target]string{servicetest.Own: servicetest.DistrictAB, servicetest.Other: matrixOtherDistrict}
	callers := append(append(w.keys.CallersOf(t, adminP, bureauP, clerkAP, enterpriseXP, serviceP, archivistAP),
		servicetest.Caller{Name: "archivist elsewhere", Ctx: w.as(archivistCP)},
		servicetest.Caller{Name: "no token", Ctx: context.Background()}), w.keys.Supervisors(t)...)
	rest := restClient(t, w.addr)
	for _, transport := range []string{"gRPC", "REST"} {
		t.Run(transport, func(t *testing.T) {
			m := map[string]func(servicetest.Target) func(context.Context) error{}
			for rpc, c := range calls {
				m[rpc] = func(tg servicetest.Target) func(context.Context) error {
					obj := district[tg]
					if c.fixture != nil {
						obj = c.fixture(tg)
					}
					if transport == "gRPC" {
						return func(ctx context.Context) error { return c.grpc(ctx, w.client, obj) }
					}
					method, path, body := c.rest(obj)
					return func(ctx context.Context) error { return rest(ctx, method, path, body) }
				}
			}
			servicetest.RunMatrix(t, servicetest.Matrix{Calls: m, Want: custodyWant(t), Callers: callers})
		})
	}
}

// restClient returns a REST call through a real gateway in front of the
// handover service at addr (see gatewaytest.Client).
func restClient(t *testing.T, addr string) gatewaytest.Call {
	t.Helper()
	return gatewaytest.Client(t, func(c *gateway.Config) { c.HandoverAddr = addr })
}
